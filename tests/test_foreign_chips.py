"""A chip cardlib did not make (issue 11): vsmartcard's ePass emulator (``vicc -t ePass``, Debian
``python3-virtualsmartcard``, installed by ``make setup``) read over a private pcscd + vpcd.

The emulator's passport is BAC-only, its files carry no short file identifiers (READ BINARY by SFI: 6A82),
its answers under secure messaging never hold DO99 and carry a MAC only on 9000, it counts a plain error
answer as one SSC step, and it answers a wrong MRZ's MUTUAL AUTHENTICATE with 6988.  Its generated files are
not those of a genuine passport: EF.COM is malformed (DO5C declares 2 bytes and holds 4, "6175" as text),
DG2 is empty (no portrait given), and its EF.SOD is an empty file at 010D, which is DG13's file identifier
(EF.SOD's, 011D, is absent).  cardlib reads it to the end: EF.COM kept as read and noted, DG1-DG16 probed
as no EF.SOD lists them, empty files read as empty.  Each behaviour is reproduced with the virtual chip in
tests/test_field_chips.py (rows sfi-6A82, sm-mac-only-9000*, malformed-com*, empty-*, epass-emulator).

The verdict is CANNOT TELL: with no EF.SOD nothing proves the data, and the chip proves nothing live.  Nothing
fails: its EF.COM does not decode, but EF.COM is unsigned, so that is a warning (``lds.com``) like its empty
files, never proof against a card.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import vicc_epass

from cardlib.lds.tlv import encode_tlv
from cardlib.reader.pcsc import connect
from cardlib.reader.reader import AccessKey, ReadResult, WrongAccessKeyError, read_card
from cardlib.reader.trace import APDUTrace
from cardlib.testing.pcscd import PcscdInstance, end_process, private_pcscd
from cardlib.testing.pki import sample_trust
from cardlib.verify.live import verify_read
from cardlib.verify.report import Status, Verdict

pytestmark = pytest.mark.pcsc  # the epass emulator runs behind a private pcscd

# ICAO 9303-3's specimen passport (TD3), as the emulator is asked for it
MRZ = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F1204159ZE184226B<<<<<10"
KEY = AccessKey.mrz(MRZ[44:])  # line 2, as an officer types it
DG1 = encode_tlv(0x61, encode_tlv(0x5F1F, MRZ.encode()))  # the emulator's: the MRZ, nothing else
# The emulator's EF.COM: LDS 0107, Unicode 040000, DO5C of length 2 holding the 4 characters "6175"
EMULATOR_COM = "60165F0104303130375F36063034303030305C0236313735"


@pytest.fixture
def epass(tmp_path: Path) -> Iterator[PcscdInstance]:
    """A private pcscd with the ePass emulator on its vpcd reader; both stopped afterwards."""
    env = {"PYTHONPATH": vicc_epass.vicc_path(tmp_path), "PATH": "/usr/bin:/bin"}
    with private_pcscd() as pcscd:
        log = (tmp_path / "vicc.log").open("wb")
        process = subprocess.Popen([sys.executable, vicc_epass.__file__, MRZ, str(pcscd.port)], env=env,
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        try:
            time.sleep(0.5)
            assert process.poll() is None, (tmp_path / "vicc.log").read_text()[-2000:]
            yield pcscd
        finally:
            end_process(process)
            log.close()


def _trace_lines(trace: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in trace.getvalue().splitlines()]


def _read(pcscd: PcscdInstance, key: AccessKey) -> tuple[ReadResult, list[dict[str, object]]]:
    trace = io.StringIO()
    with connect(pcscd.reader_name, timeout=10) as transport:
        result = read_card(transport, key, trace=APDUTrace(trace))
    return result, _trace_lines(trace)


def test_epass_emulator_reads_to_the_end(epass: PcscdInstance) -> None:
    result, lines = _read(epass, KEY)
    assert result.access == "BAC"
    assert dict(result.dump.files) == {"EF.COM": bytes.fromhex(EMULATOR_COM), "DG1": DG1, "DG2": b"", "DG13": b""}
    assert result.notes == (
        "the chip counts a plain answer inside secure messaging as 1 step(s) of the send sequence counter: the "
        "session was opened again",
        "the chip has no EF.SOD (file not found, SW 6A82): nothing signed was read",
        "EF.COM does not decode (EF.COM, offset 22: tag 37 claims 53 bytes but only 0 remain) and EF.SOD is "
        "absent: DG1-DG16 were probed",
        "DG2 is empty (0 bytes)", "DG13 is empty (0 bytes)")
    assert not result.chip_auth.performed and not result.active_auth.performed  # no DG14, no DG15
    assert result.apdu_count <= 45  # the trace lacks the one answer that broke secure messaging (then re-opened)
    steps = [(line["step"], line["ins"], line["sw"], line["sm"]) for line in lines]
    # no EF.CardAccess (SFI read and SELECT both 6A82): BAC, which the chip accepts
    assert steps[1:3] == [("EF.CardAccess", "B0", "6A82", False), ("EF.CardAccess", "A4", "6A82", False)]
    assert ("access control", "82", "9000", False) in steps
    # EF.COM: the SFI read answered 6A82 under SM, then SELECT and READ BINARY under SM in the re-opened session
    assert ("EF.COM", "B0", "6A82", True) in steps
    assert ("EF.COM", "A4", "9000", True) in steps
    # EF.SOD (011D) absent; DG2 and DG13 (the emulator's "EF.SOD" at 010D) empty: 6282 with no data, even for one byte
    assert ("EF.SOD", "A4", "6A82", True) in steps
    for name in ("DG2", "DG13"):
        assert [line["le"] for line in lines if line["step"] == name and line["ins"] == "B0"][-2:] == [8, 1]
    assert all(step[2] == "6A82" for step in steps if step[0] in {f"DG{n}" for n in (3, *range(4, 13), 14, 15, 16)})

    report = verify_read(result, sample_trust(), source="vsmartcard ePass emulator")
    assert report.verdict is Verdict.CANNOT_TELL
    judged = {check.id: check.status for check in report.checks if check.status is not Status.NOT_APPLICABLE}
    assert {check_id for check_id, status in judged.items() if status is Status.FAIL} == set()
    assert {check_id for check_id, status in judged.items() if status is Status.UNKNOWN} == {
        "sod.decode", "hash.DG1", "hash.DG2", "hash.DG13", "live.chip_proven"}
    assert {check_id for check_id, status in judged.items() if status is Status.WARN} == {
        "lds.com", "lds.dg1.document_type", "lds.dg1.expiry", "lds.dg2", "lds.dg13"}
    assert {check_id for check_id, status in judged.items() if status is Status.PASS} == {
        "lds.dg1", *(f"lds.dg1.check_digit.{name}" for name in (
            "document_number", "date_of_birth", "date_of_expiry", "optional_data", "composite"))}
    assert report.summary().startswith("CANNOT TELL: ") and "EF.SOD" in report.summary()
    assert "offset 22: tag 37 claims 53 bytes but only 0 remain" in report.check("lds.com").reason


def test_epass_emulator_wrong_mrz_is_a_wrong_key(epass: PcscdInstance) -> None:
    trace = io.StringIO()
    with connect(epass.reader_name, timeout=10) as transport, pytest.raises(WrongAccessKeyError) as caught:
        read_card(transport, AccessKey.from_document("L898902C3", "740812", "130415"), trace=APDUTrace(trace))
    assert caught.value.sw == 0x6988 and str(caught.value) == "the MRZ does not match this card (SW 6988)"
    lines = _trace_lines(trace)
    assert lines[-1]["ins"] == "82" and all(not line["sm"] for line in lines)
