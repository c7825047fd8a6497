"""cardtool perso as a batch tool: every row accounted for, in input order, on every core, resumable, reported.

The library-level cases (the batch called directly) are in test_batch_perso.py."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from cardtool.main import main
from cardtool.perso_command import MANIFEST, PAGE, REJECTED
from PIL import Image

from cardlib.card.image import CardImage

SAMPLES = Path(__file__).resolve().parents[1] / "tools" / "cardtool" / "samples"


def _input(folder: Path, copies: int = 2) -> Path:
    """The sample residents ``copies`` times over (new ID numbers), with two broken rows in the middle."""
    shutil.copytree(SAMPLES / "portraits", folder / "portraits", dirs_exist_ok=True)
    shutil.copytree(SAMPLES / "fingers", folder / "fingers", dirs_exist_ok=True)
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


def test_parallel_perso_writes_every_row_in_input_order(test_pki_folder: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    source = _input(tmp_path)
    out = tmp_path / "out"
    assert main(["perso", str(source), "--pki", str(test_pki_folder), "--out", str(out), "--workers", "2"]) == 1
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


def test_a_broken_pki_folder_stops_before_any_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _input(tmp_path, copies=1)
    status = main(["perso", str(source), "--pki", str(tmp_path / "no-pki"), "--out", str(tmp_path / "out")])
    assert status == 2
    assert capsys.readouterr().err.startswith("cardtool perso: ")
    assert not (tmp_path / "out").exists()


# -- batches that notice changes (issue 16)


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open(encoding="utf-8")))


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _perso(source: Path, pki: Path, out: Path, *options: str) -> int:
    return main(["perso", str(source), "--pki", str(pki), "--out", str(out), "--workers", "1", *options])


def test_a_corrected_rejected_row_is_redone_and_nothing_else(test_pki_folder: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    source = _input(tmp_path, copies=1)
    out = tmp_path / "out"
    assert _perso(source, test_pki_folder, out) == 1
    rows = _rows(source)
    rows[3]["date_of_birth"] = "28/02/1992"  # the operator's correction (the ID number says born in 1992)
    _write(source, rows)
    capsys.readouterr()
    assert _perso(source, test_pki_folder, out) == 1  # row 9's portrait is still missing
    assert "1 personalized, 0 rejected, 9 already done" in capsys.readouterr().out
    latest = {int(str(entry["row"])): entry for entry in _manifest(out)}
    assert latest[5]["status"] == "personalized" and latest[9]["status"] == "rejected"
    assert [row["row"] for row in _rows(out / REJECTED)] == ["9"]
    assert "9 personalized, 1 rejected" in (out / PAGE).read_text(encoding="utf-8")


def test_a_changed_personalized_row_is_named_not_redone(test_pki_folder: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    source = _input(tmp_path, copies=1)
    out = tmp_path / "out"
    _perso(source, test_pki_folder, out)
    lines = len(_manifest(out))
    rows = _rows(source)
    rows[0]["full_name"] = "Nguyễn Văn Anh"
    _write(source, rows)
    capsys.readouterr()
    assert _perso(source, test_pki_folder, out) == 1
    printed = capsys.readouterr().out
    assert "row 2: changed since it was personalized into cards/00002-" in printed
    assert "1 refused (named above)" in printed
    assert len(_manifest(out)) == lines


def test_another_input_file_is_refused_unless_asked_and_the_title_stays(test_pki_folder: Path, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    source = _input(tmp_path, copies=1)
    out = tmp_path / "out"
    _perso(source, test_pki_folder, out)
    other = _write(tmp_path / "tomorrow.csv", _rows(source)[:2])
    capsys.readouterr()
    assert _perso(other, test_pki_folder, out) == 2
    error = capsys.readouterr().err
    assert "is another file" in error and "--new-input" in error and "Traceback" not in error
    assert _perso(other, test_pki_folder, out, "--new-input") == 1
    assert "0 personalized, 0 rejected, 2 already done" in capsys.readouterr().out
    page = (out / PAGE).read_text(encoding="utf-8")
    assert "<title>Personalization of in.csv</title>" in page and f"Input {other.resolve()} (SHA-256 " in page
    assert json.loads((out / "batch.json").read_text(encoding="utf-8"))["input"] == str(other.resolve())


def test_only_rejected_redoes_the_rejected_rows(test_pki_folder: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    source = _input(tmp_path, copies=1)
    out = tmp_path / "out"
    _perso(source, test_pki_folder, out)
    shutil.copy(SAMPLES / "portraits" / "r03.jpg", tmp_path / "portraits" / "nobody.jpg")  # the missing photo
    capsys.readouterr()
    assert _perso(source, test_pki_folder, out, "--only-rejected") == 1  # row 5's date is still impossible
    assert "1 personalized, 1 rejected, 8 already done" in capsys.readouterr().out
    assert [row["row"] for row in _rows(out / REJECTED)] == ["5"]


def test_rejected_csv_keeps_every_column_and_can_be_fed_back(test_pki_folder: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    source = _input(tmp_path, copies=1)
    out = tmp_path / "out"
    _perso(source, test_pki_folder, out)
    rejected = _rows(out / REJECTED)
    assert list(rejected[0]) == ["row", *_rows(source)[0], "field", "reason"]
    assert rejected[0]["full_name"] == _rows(source)[3]["full_name"] and rejected[0]["field"] == "date_of_birth"
    rejected[0]["date_of_birth"] = "28/02/1992"
    rejected[0]["identification_marks"] = "'-" + "Sẹo chấm"  # as rejected.csv protects text starting with '-'
    fixed = _write(tmp_path / "fixed.csv", [*rejected, dict(rejected[1], row="99")])
    capsys.readouterr()
    assert _perso(fixed, test_pki_folder, out) == 1
    printed = capsys.readouterr().out
    assert "1 personalized, 0 rejected, 1 already done in an earlier run, 1 refused" in printed
    assert "row 99: not a row of this batch (not done)" in printed
    latest = {int(str(entry["row"])): entry for entry in _manifest(out)}
    assert latest[5]["status"] == "personalized"
    card = CardImage.load(out / str(latest[5]["card"]))
    assert "-Sẹo chấm".encode() in card.files["DG13"] and b"'-" not in card.files["DG13"]


def test_the_same_id_number_twice_is_refused_naming_both_rows(test_pki_folder: Path, tmp_path: Path) -> None:
    source = _input(tmp_path, copies=1)
    rows = _rows(source)
    _write(source, [*rows, dict(rows[0], portrait="portraits/r05.jpg")])
    out = tmp_path / "out"
    _perso(source, test_pki_folder, out)
    latest = {int(str(entry["row"])): entry for entry in _manifest(out)}
    assert latest[12]["status"] == "rejected" and latest[12]["field"] == "id_number"
    assert f"ID number {rows[0]['id_number']} is already on row 2" in str(latest[12]["reason"])
    _write(source, [*rows, dict(rows[0], portrait="portraits/r05.jpg"), dict(rows[1], portrait="portraits/r06.jpg")])
    _perso(source, test_pki_folder, out)  # a row added later with an ID personalized in the first run
    latest = {int(str(entry["row"])): entry for entry in _manifest(out)}
    assert latest[13]["status"] == "rejected" and "is already on row 3" in str(latest[13]["reason"])
    assert sum(entry["status"] == "personalized" and entry["id_number"] == rows[0]["id_number"]
               for entry in latest.values()) == 1


def test_portraits_that_are_not_images_are_filed_under_portrait_and_huge_ones_warned(
        test_pki_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _input(tmp_path, copies=1)
    rows = _rows(source)[:3]
    (tmp_path / "portraits" / "notes.jpg").write_text("not an image at all", encoding="utf-8")
    Image.linear_gradient("L").resize((4200, 5600)).convert("RGB").save(tmp_path / "portraits" / "huge.jpg")
    _write(source, [dict(rows[0], portrait="portraits/notes.jpg"), dict(rows[1], portrait="portraits/huge.jpg"),
                    rows[2]])
    out = tmp_path / "out"
    capsys.readouterr()
    assert _perso(source, test_pki_folder, out) == 1
    printed = capsys.readouterr().out
    first, huge, plain = _manifest(out)
    assert first["status"] == "rejected" and first["field"] == "portrait"
    assert huge["status"] == "personalized"
    assert str(huge["portrait"]["warning"]).startswith("portrait huge.jpg is 4200×5600 pixels")  # type: ignore[index]
    assert str(huge["portrait"]["done"]).startswith("resized from 4200×5600")  # type: ignore[index]
    assert "re-encoded as a 360×480 JPEG" in str(huge["portrait"]["done"])  # type: ignore[index]
    size = (SAMPLES / "portraits" / "r03.jpg").stat().st_size
    assert plain["portrait"] == {"done": f"used as it is (360×480 JPEG of {size:,} bytes)", "warning": None}
    assert "row 3: portrait huge.jpg is 4200×5600" in printed and "1 portrait warning(s)" in printed
    page = (out / PAGE).read_text(encoding="utf-8")
    assert "Portrait warnings" in page and "resized from 4200×5600" in page


def test_an_output_that_is_a_file_or_cannot_be_made_is_one_plain_line(test_pki_folder: Path, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    source = _input(tmp_path, copies=1)
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    assert _perso(source, test_pki_folder, tmp_path / "a-file") == 2
    assert "is a file: give a folder" in capsys.readouterr().err
    assert _perso(source, test_pki_folder, tmp_path / "a-file" / "out") == 2
    error = capsys.readouterr().err
    assert error.startswith("cardtool perso: cannot make the folder") and "Traceback" not in error
