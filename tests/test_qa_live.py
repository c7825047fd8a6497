"""cardtool qa --readers: cards read live through a private pcscd + vpcd as they arrive on the line."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from pathlib import Path

import pytest
from cardtool.main import main
from test_qa import card_folders, make_batch, outcomes, trust_args

from cardlib.card.image import CardImage
from cardlib.chip.chip import VirtualChip
from cardlib.chip.vpcd import VirtualChipQueue, vpcd_card
from cardlib.pki.trust import TrustStore
from cardlib.testing.pcscd import private_pcscd
from cardlib.verify.report import Status
from cardlib.verify.verifier import verify

pytestmark = pytest.mark.pcsc  # a production line through a private pcscd


def _forged(image: CardImage) -> CardImage:
    """A clone of ``image`` with DG13 edited after signing and its own CAN (it is not a card of the batch)."""
    assert image.secrets is not None
    dg13 = bytearray(image.files["DG13"])
    dg13[-3] ^= 0x01
    return replace(image, files={**image.files, "DG13": bytes(dg13)},
                   secrets=replace(image.secrets, can="424242"))


def test_a_production_line_is_checked_card_by_card(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pki, perso = make_batch(tmp_path)
    images = [CardImage.load(folder) for folder in card_folders(perso)]
    line = [images[1], images[0], *images[2:7], _forged(images[0])]  # two out of turn, the 8th card never comes
    report = tmp_path / "report"
    with private_pcscd() as pcscd, vpcd_card(VirtualChipQueue(VirtualChip(image) for image in line), pcscd.port):
        status = main(["qa", str(perso), *trust_args(pki), "--report", str(report), "--readers", "all",
                       "--idle-timeout", "3"])
    assert status == 1
    results = outcomes(report)
    valid = [outcome for outcome in results if outcome.verdict == "valid"]
    assert sorted(outcome.label for outcome in valid) == [folder.name for folder in card_folders(perso)[:7]]
    assert all(outcome.access == "PACE-CAN" and outcome.apdus > 0 and outcome.read_ms > 0 for outcome in valid)
    trust = TrustStore.load(pki / "csca.pem", pki / "crl.pem")
    for outcome in valid:  # every check of the dump passed, and Chip and Active Authentication (the chip proven) on top
        image = CardImage.load(perso / "cards" / outcome.label)
        offline = verify(CardImage({name: data for name, data in image.files.items() if name != "DG3"}), trust)
        passed_offline = sum(check.status is Status.PASS for check in offline.checks)
        assert outcome.summary == f"VALID: {passed_offline + 3} checks passed"
    errors = [outcome for outcome in results if outcome.verdict == "error"]
    assert len(errors) == 1 and "no CAN of the next 8 expected cards opens this card" in errors[0].summary
    summary = capsys.readouterr().out.splitlines()[-1]
    assert summary == "cards=8 valid=7 invalid=0 cannot_tell=0 error=1 missing=1 pass_rate=77.78 passed=no"
    assert card_folders(perso)[7].name in (report / "summary.csv").read_text(encoding="utf-8")
    readers = {outcome.reader for outcome in results}
    assert len(readers) == 1 and "" not in readers  # every card says which reader read it
    page = (report / "report.html").read_text(encoding="utf-8")
    reader_row = re.search(rf"<tr><td>{re.escape(html.escape(readers.pop()))}</td>(.*?)</tr>", page)
    assert reader_row is not None  # the per-reader statistics: cards, valid, invalid, cannot tell, unreadable
    assert re.findall(r"<td class='num'>([^<]*)</td>", reader_row.group(1))[:5] == ["8", "7", "0", "0", "1"]
