"""cardtool end to end: pki init, perso (with rejected rows and resumption), verify exit codes, the demo."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from cardtool.main import main

SAMPLES = Path(__file__).resolve().parents[1] / "tools" / "cardtool" / "samples"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pki") / "pki"
    assert main(["pki", "init", str(folder), "--ds-key", "secp256r1:sha256"]) == 0
    return folder


def _input_with_bad_rows(folder: Path) -> Path:
    shutil.copytree(SAMPLES / "portraits", folder / "portraits")
    rows = list(csv.DictReader((SAMPLES / "residents.csv").open(encoding="utf-8")))[:3]
    bad_date = dict(rows[1], date_of_birth="31/02/1990")
    number = rows[2]["id_number"]
    bad_id = dict(rows[2], id_number=number[:4] + ("11" if number[4:6] != "11" else "22") + number[6:])  # year digits
    with (folder / "in.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows([rows[0], bad_date, bad_id, rows[1]])
    return folder / "in.csv"


def test_perso_accounts_for_every_row_and_resumes(pki: Path, tmp_path: Path) -> None:
    source = _input_with_bad_rows(tmp_path)
    out = tmp_path / "out"
    assert main(["perso", str(source), "--pki", str(pki), "--out", str(out)]) == 1  # some rows rejected
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(entry["row"], entry["status"]) for entry in manifest] == [
        (2, "personalized"), (3, "rejected"), (4, "rejected"), (5, "personalized")]
    rejected = list(csv.DictReader((out / "rejected.csv").open(encoding="utf-8")))
    assert [(r["row"], r["field"]) for r in rejected] == [("3", "date_of_birth"), ("4", "id_number")]
    assert main(["perso", str(source), "--pki", str(pki), "--out", str(out)]) == 1
    again = (out / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(again) == 4, "a second run must not personalize or count any row twice"


def test_verify_exit_codes_and_json(pki: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _input_with_bad_rows(tmp_path)
    main(["perso", str(source), "--pki", str(pki), "--out", str(tmp_path / "out")])
    card = next((tmp_path / "out" / "cards").iterdir())
    capsys.readouterr()
    assert main(["verify", str(card), "--trust", str(pki), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "valid"
    other = tmp_path / "other-pki"
    assert main(["pki", "init", str(other), "--country", "LA"]) == 0
    assert main(["verify", str(card), "--trust", str(other / "csca.pem")]) == 2  # CSCA unknown: cannot tell
    impostor = tmp_path / "impostor-pki"  # same CSCA name as the real one, another key
    assert main(["pki", "init", str(impostor)]) == 0
    assert main(["verify", str(card), "--trust", str(impostor / "csca.pem")]) == 2  # no CSCA with its key: cannot tell
    dg13 = card / "DG13.bin"
    tampered = tmp_path / "tampered"
    shutil.copytree(card, tampered, ignore=shutil.ignore_patterns("card.json", "secrets"))
    (tampered / "DG13.bin").write_bytes(dg13.read_bytes()[:-1] + bytes([dg13.read_bytes()[-1] ^ 1]))
    capsys.readouterr()
    assert main(["verify", str(tampered), "--trust", str(pki)]) == 1
    assert "hash.DG13" in capsys.readouterr().out


def test_errors_are_one_plain_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(tmp_path / "missing"), "--trust", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cardtool verify: ") and "Traceback" not in err
    assert main(["pki", "init", str(tmp_path / "p"), "--csca-key", "rsa1000:sha256"]) == 2


def test_demo_runs_the_whole_pipeline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "demo passed" in out and "forged-dg13  INVALID" in out
    results = [json.loads(line) for line in (tmp_path / "demo" / "report" / "results.jsonl").read_text().splitlines()]
    assert [r["verdict"] for r in results].count("valid") == 8
    assert all(r["access"] == "PACE-CAN" for r in results)
    assert (tmp_path / "demo" / "report" / "report.html").read_text().count("forged-dg13") >= 1
