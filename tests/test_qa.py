"""Batch QA (cardlib.batch and cardtool qa, offline): sources, journal, accounting, engine, reports, resume."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cardtool.charts import Series
from cardtool.main import main
from cardtool.perso_command import personalize_batch
from cardtool.progress import Progress
from cardtool.qa_summary import FailureGroup

from cardlib.batch.accounting import DATA, DUPLICATE, UNEXPECTED, BatchAccounting, differing_files
from cardlib.batch.checking import CheckedCard, check_item
from cardlib.batch.engine import bounded_map, check_offline
from cardlib.batch.journal import Journal, drop_torn_tail, read_journal
from cardlib.batch.outcome import CardOutcome
from cardlib.batch.sources import BatchItem, ExpectedCards, count_items, iter_items, manifest_entries
from cardlib.card.image import CardImage
from cardlib.errors import InputError
from cardlib.pki.trust import TrustStore
from cardlib.testing.pki import sample_pki

SAMPLES = Path(__file__).resolve().parents[1] / "tools" / "cardtool" / "samples" / "residents.csv"


def make_batch(root: Path) -> tuple[Path, Path]:
    """A test PKI in ``root/pki`` and the sample residents personalized into ``root/perso``."""
    pki = sample_pki()
    pki.save(root / "pki")
    personalize_batch(SAMPLES, pki.document_signer, root / "perso")
    return root / "pki", root / "perso"


def trust_args(pki: Path) -> list[str]:
    """``--trust`` arguments for the test PKI."""
    return ["--trust", str(pki / "csca.pem"), str(pki / "crl.pem")]


def card_folders(perso: Path) -> list[Path]:
    """The card image folders of a perso output folder, in row order."""
    return sorted((perso / "cards").iterdir())


def alter_file(card: Path, name: str) -> None:
    """Flip one bit near the end of ``name`` in a card folder, keeping its ``card.json`` hash consistent
    (a forger who rewrote the file, not a torn copy)."""
    data = bytearray((card / f"{name}.bin").read_bytes())
    data[-3] ^= 0x01
    (card / f"{name}.bin").write_bytes(bytes(data))
    manifest = json.loads((card / "card.json").read_text(encoding="utf-8"))
    manifest["files"][name] = hashlib.sha256(bytes(data)).hexdigest()
    (card / "card.json").write_text(json.dumps(manifest), encoding="utf-8")


def copy_as_dumps(cards: list[Path], folder: Path) -> list[Path]:
    """Copies of ``cards`` under ``folder`` without their secrets (what a reader would have saved)."""
    copies = []
    for card in cards:
        target = folder / card.name
        CardImage.load(card).dump().save(target)
        copies.append(target)
    return copies


def outcomes(report: Path) -> list[CardOutcome]:
    """Every outcome in a report folder's journal."""
    return list(read_journal(report / "results.jsonl"))


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The PKI and perso folders of the sample batch (8 residents), made once for this module."""
    return make_batch(tmp_path_factory.mktemp("batch"))


def _outcome(label: str, id_number: str = "", verdict: str = "valid") -> CardOutcome:
    holder = {"ID number": id_number} if id_number else {}
    return CardOutcome(label, verdict, verdict.upper(), (), (), holder, key=f"/cards/{label}")


# -- journal


def test_journal_drops_a_torn_last_line_and_resumes(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    with Journal(path) as journal:
        journal.append(_outcome("a"))
        journal.append(_outcome("b"))
    with path.open("a", encoding="utf-8") as handle:
        handle.write(_outcome("c").to_json()[:40])  # killed in the middle of the third line
    journal = Journal(path)
    assert journal.resumed == 2
    assert journal.holds("/cards/a") and journal.holds("/cards/b") and not journal.holds("/cards/c")
    journal.append(_outcome("c"))
    journal.close()
    assert [o.label for o in read_journal(path)] == ["a", "b", "c"]
    assert path.read_text(encoding="utf-8").count("\n") == 3


def test_drop_torn_tail_longer_than_a_block(tmp_path: Path) -> None:
    path = tmp_path / "j"
    path.write_bytes(b'{"a":1}\n' + b"x" * 200_000)
    drop_torn_tail(path)
    assert path.read_bytes() == b'{"a":1}\n'
    path.write_bytes(b"no newline at all")
    drop_torn_tail(path)
    assert path.read_bytes() == b""


def test_journal_skips_lines_that_are_not_outcomes(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text("not json\n" + _outcome("a").to_json() + "\n[1, 2]\n", encoding="utf-8")
    assert [o.label for o in read_journal(path)] == ["a"]


def test_outcome_round_trips_and_findings_make_it_invalid() -> None:
    outcome = _outcome("a", "001190000001")
    again = CardOutcome.from_dict(json.loads(outcome.to_json()))
    assert again == outcome
    found = outcome.with_findings({"batch.duplicate": "seen twice"})
    assert found.verdict == "invalid" and found.failed_checks == ("batch.duplicate",)
    assert found.summary == "INVALID: seen twice"
    error = CardOutcome.error("b", "EF.SOD torn").with_findings({"batch.unexpected": "not in the batch"})
    assert error.verdict == "error" and error.summary == "unreadable: EF.SOD torn"


# -- sources and accounting


def test_sources_stream_manifests_folders_and_single_cards(batch: tuple[Path, Path], tmp_path: Path) -> None:
    _, perso = batch
    cards = card_folders(perso)
    assert [item.label for item in iter_items(perso)] == [card.name for card in cards]
    assert count_items(perso / "manifest.jsonl") == len(cards) == 8
    assert [item.path for item in iter_items(cards[0])] == [str(cards[0])]
    assert {item.label for item in iter_items(perso / "cards")} == {card.name for card in cards}
    (tmp_path / ".staging").mkdir()
    (tmp_path / "garbage").mkdir()
    assert [item.label for item in iter_items(tmp_path)] == ["garbage"]
    with pytest.raises(InputError, match="not a card folder"):
        list(iter_items(tmp_path / "nowhere"))


def test_a_broken_manifest_line_names_the_line(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text('{"row": 2, "status": "personalized", "id_number": "1", "card": "c"}\n{"row": 3}\n"x"\n')
    with pytest.raises(InputError, match="row 3"):
        list(manifest_entries(manifest))


def test_accounting_finds_duplicates_unexpected_mismatched_and_missing(batch: tuple[Path, Path],
                                                                       tmp_path: Path) -> None:
    pki, perso = batch
    cards = card_folders(perso)
    dumps = copy_as_dumps(cards[:3], tmp_path)
    alter_file(dumps[1], "DG13")
    trust = TrustStore.load(pki / "csca.pem", pki / "crl.pem")
    accounting = BatchAccounting(ExpectedCards.from_manifest(perso))
    at = datetime.now(UTC)
    settled = [accounting.settle(check_item(item, trust, at)) for item in iter_items(tmp_path)]
    by_label = {outcome.label: outcome for outcome in settled}
    assert by_label[cards[0].name].verdict == "valid"
    assert by_label[cards[1].name].failed_checks == ("hash.DG13", DATA)
    assert "DG13" in by_label[cards[1].name].reasons[DATA]
    again = accounting.settle(check_item(BatchItem("again", "again", str(dumps[0])), trust, at))
    assert again.failed_checks == (DUPLICATE,)
    assert {entry.card.name for entry in accounting.missing()} == {card.name for card in cards[3:]}
    stranger = CheckedCard(_outcome("x", "999999999999"))
    assert accounting.settle(stranger).failed_checks == (UNEXPECTED,)


def test_differing_files_name_missing_and_extra_files(batch: tuple[Path, Path]) -> None:
    _, perso = batch
    entry = next(iter(ExpectedCards.from_manifest(perso)))
    meant = json.loads((entry.card / "card.json").read_text(encoding="utf-8"))["files"]
    assert "DG3" in meant  # personalized with its (protected) fingerprint file
    read = {name: digest for name, digest in meant.items() if name not in ("DG3", "DG15")} | {"DG11": "ab"}
    assert differing_files(read, entry, frozenset({"DG3"})) == ["DG11 (not meant)", "DG15 (not read)"]
    assert differing_files(read, entry, frozenset()) == ["DG11 (not meant)", "DG15 (not read)", "DG3 (not read)"]
    assert differing_files(read | {"DG3": "00"}, entry, frozenset({"DG3"})) == ["DG11 (not meant)", "DG15 (not read)",
                                                                               "DG3"]
    assert differing_files(dict(meant), entry, frozenset()) == []


# -- engine


def test_every_core_gives_the_same_results_as_one(batch: tuple[Path, Path]) -> None:
    pki, perso = batch
    paths = (str(pki / "csca.pem"), str(pki / "crl.pem"))
    at = datetime.now(UTC)
    items = list(iter_items(perso)) * 3
    one = [checked.outcome for checked in check_offline(items, paths, at, workers=1)]
    two = [checked.outcome for checked in check_offline(iter(items), paths, at, workers=2, chunk=2)]
    assert sorted(_comparable(o) for o in one) == sorted(_comparable(o) for o in two)
    assert len(two) == 24 and all(o.verdict == "valid" for o in two)


def test_bounded_map_takes_items_only_as_slots_free() -> None:
    taken: list[int] = []

    def source() -> Iterator[int]:
        for number in range(100):
            taken.append(number)
            yield number

    with ThreadPoolExecutor(2) as pool:
        results = bounded_map(pool, lambda n: n * n, source(), 4)
        first = next(results)
        assert len(taken) <= 6
        assert sorted([first, *results]) == [n * n for n in range(100)]


def _comparable(outcome: CardOutcome) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
    return outcome.key, outcome.verdict, outcome.failed_checks, outcome.undecided_checks


# -- report pieces


def test_series_keeps_a_bounded_number_of_buckets() -> None:
    series = Series(4, width=1.0)
    for second in range(1000):
        series.add(float(second), 2.0)
    assert len(series.sums) <= 8 and series.width == 128.0
    assert sum(series.sums) == 2000.0
    assert series.rates()[0] == 2.0 and series.means()[0] == 2.0


def test_failure_group_keeps_the_smallest_labels_whatever_the_order() -> None:
    labels = [f"card-{n:03d}" for n in range(60)]
    forward, backward = FailureGroup("x"), FailureGroup("x")
    for label in labels:
        forward.add(label, "r")
    for label in reversed(labels):
        backward.add(label, "r")
    assert forward.examples == backward.examples == labels[:20]
    assert forward.count == 60


def test_progress_line_shows_rate_and_eta() -> None:
    stream = io.StringIO()
    progress = Progress(100, done=40, stream=stream, enabled=True)
    progress._started -= 2.0
    progress.advance(10)
    line = progress.line()
    assert line.startswith("50/100  50.0% [############............]")
    assert "5.0 cards/s" in line and "ETA 0:00:10" in line
    progress.close()
    assert stream.getvalue().endswith("\n")
    quiet = io.StringIO()
    Progress(5, stream=quiet).advance()
    assert quiet.getvalue() == ""


# -- cardtool qa offline


def test_qa_of_a_folder_reports_every_kind_of_finding(batch: tuple[Path, Path], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    pki, perso = batch
    cards = card_folders(perso)
    dumps = copy_as_dumps(cards[:6], tmp_path / "dumps")
    alter_file(dumps[2], "DG13")
    shutil.copytree(dumps[0], tmp_path / "dumps" / "zz-second-copy")
    (tmp_path / "dumps" / "garbage").mkdir()
    report = tmp_path / "report"
    status = main(["qa", str(tmp_path / "dumps"), "--expected", str(perso), *trust_args(pki),
                   "--report", str(report), "--workers", "2"])
    assert status == 1
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line == "cards=8 valid=5 invalid=2 cannot_tell=0 error=1 missing=2 pass_rate=50.00 passed=no"
    summary = list(csv.reader((report / "summary.csv").open(encoding="utf-8")))
    checks = {row[1]: row for row in summary if row[0] == "failed check"}
    assert set(checks) == {"hash.DG13", "batch.data", "batch.duplicate", "read"}
    assert checks["hash.DG13"][5] == cards[2].name
    assert {row[5] for row in summary if row[0] == "missing card"} == {cards[6].name, cards[7].name}
    page = (report / "report.html").read_text(encoding="utf-8")
    assert "batch FAILED: 50.0% valid" in page and "<svg" in page
    assert page.count("data:image/jpeg;base64,/9j/") == 2  # the altered card and the duplicate
    _assert_no_secrets(perso, report)


def test_qa_summary_csv_neutralises_spreadsheet_formulas(batch: tuple[Path, Path], tmp_path: Path) -> None:
    pki, perso = batch
    dump = copy_as_dumps(card_folders(perso)[:1], tmp_path / "dumps")[0]
    hostile = dump.rename(tmp_path / "dumps" / "=cmd|'calc'!A0")
    alter_file(hostile, "DG13")
    report = tmp_path / "report"
    assert main(["qa", str(tmp_path / "dumps"), *trust_args(pki), "--report", str(report), "--workers", "1"]) == 1
    summary = list(csv.reader((report / "summary.csv").open(encoding="utf-8")))
    assert summary[-1][:3] == ["failed check", "hash.DG13", "1"] and summary[-1][5] == "'=cmd|'calc'!A0"
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in summary for cell in row)


def test_qa_of_a_good_manifest_passes_and_a_rerun_adds_nothing(batch: tuple[Path, Path], tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    pki, perso = batch
    report = tmp_path / "report"
    arguments = ["qa", str(perso / "manifest.jsonl"), *trust_args(pki), "--report", str(report), "--workers", "1"]
    assert main(arguments) == 0
    assert main(arguments) == 0
    assert len(outcomes(report)) == 8
    assert capsys.readouterr().out.splitlines()[-1].startswith("cards=8 valid=8 ")


def test_qa_redoes_the_card_whose_line_was_torn(batch: tuple[Path, Path], tmp_path: Path) -> None:
    pki, perso = batch
    report = tmp_path / "report"
    arguments = ["qa", str(perso), *trust_args(pki), "--report", str(report), "--workers", "1"]
    main(arguments)
    results = report / "results.jsonl"
    lines = results.read_text(encoding="utf-8").splitlines(keepends=True)
    results.write_text("".join(lines[:5]) + lines[5][:30], encoding="utf-8")
    assert main(arguments) == 0
    keys = [outcome.key for outcome in outcomes(report)]
    assert len(keys) == len(set(keys)) == 8


def test_qa_without_the_csca_cannot_tell(batch: tuple[Path, Path], tmp_path: Path) -> None:
    pki, perso = batch
    status = main(["qa", str(perso), "--trust", str(pki / "crl.pem"), "--report", str(tmp_path / "r"),
                   "--workers", "1"])
    assert status == 2
    assert {outcome.verdict for outcome in outcomes(tmp_path / "r")} == {"cannot tell"}


def test_qa_refuses_a_source_that_is_no_batch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "trust.pem").write_text("")
    status = main(["qa", str(tmp_path / "nothing"), "--trust", str(tmp_path / "trust.pem"),
                   "--report", str(tmp_path / "r")])
    assert status == 2
    assert "not a card folder" in capsys.readouterr().err


@pytest.mark.slow  # over 5 s here
def test_qa_killed_with_sigkill_resumes_without_loss_or_double_count(batch: tuple[Path, Path],
                                                                     tmp_path: Path) -> None:
    pki, perso = batch
    dumps = tmp_path / "dumps"
    originals = copy_as_dumps(card_folders(perso)[:2], tmp_path / "originals")
    for number in range(600):
        shutil.copytree(originals[number % 2], dumps / f"card-{number:04d}")
    report = tmp_path / "report"
    command = [sys.executable, "-m", "cardtool.main", "qa", str(dumps), *trust_args(pki), "--report", str(report),
               "--workers", "2"]
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL)
    results = report / "results.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not results.exists() or results.stat().st_size < 40_000):
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    before = len(outcomes(report))
    assert 0 < before < 600, "the run must be killed mid-batch"
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120)
    keys = [outcome.key for outcome in outcomes(report)]
    assert len(keys) == len(set(keys)) == 600
    assert set(keys) == {str(dumps / f"card-{number:04d}") for number in range(600)}
    assert finished.stdout.splitlines()[-1].startswith("cards=600 ")


def _assert_no_secrets(perso: Path, report: Path) -> None:
    access = [json.loads((card / "secrets" / "access.json").read_text()) for card in card_folders(perso)]
    secrets = [value for entry in access for value in (entry["can"], entry["mrz_information"])]
    texts = [path.read_text(encoding="utf-8") for path in report.iterdir()]
    assert not any(f'"{secret}"' in text or f">{secret}<" in text for secret in secrets for text in texts)
    assert not any("PRIVATE KEY" in text for text in texts)
