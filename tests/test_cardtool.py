"""cardtool end to end: pki init, perso (with rejected rows and resumption), verify exit codes, the demo."""

from __future__ import annotations

import csv
import json
import shutil
import socket
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pytest
from cardtool.demo import MARKER, fresh_output_folder
from cardtool.main import BROKEN_PIPE_STATUS, COMMANDS, main
from cryptography import x509

SAMPLES = Path(__file__).resolve().parents[1] / "tools" / "cardtool" / "samples"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pki") / "pki"
    assert main(["pki", "init", str(folder), "--ds-key", "secp256r1:sha256"]) == 0
    return folder


def _input_with_bad_rows(folder: Path) -> Path:
    shutil.copytree(SAMPLES / "portraits", folder / "portraits")
    shutil.copytree(SAMPLES / "fingers", folder / "fingers")
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


# -- every command: no traceback for a user's mistake, a version, examples, a fast --help (issue 16)

CARDTOOL = Path(sys.executable).parent / "cardtool"
HELP_SECONDS = 0.3


def test_help_imports_no_command_module_and_answers_in_under_0_3_s() -> None:
    probe = ("import sys\nfrom cardtool.main import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
             "heavy = [m for m in ('cryptography', 'PIL', 'smartcard', 'cardtool.perso_command') if m in sys.modules]\n"
             "print(heavy, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stderr.strip() == "[]", "cardtool --help must not import the commands' libraries"
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([str(CARDTOOL), "--help"], capture_output=True, check=True)
        timings.append(time.perf_counter() - started)
    assert min(timings) < HELP_SECONDS, timings


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"cardtool (cardlib) {version('cardlib')}\n"


@pytest.mark.parametrize("command", [[name] for name in COMMANDS] + [
    ["pki", "init"], ["pki", "ds", "rotate"], ["pki", "crl", "issue"], ["pki", "lint"], ["pki", "trust"]])
def test_every_help_ends_with_an_example(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    lines = capsys.readouterr().out.rstrip().splitlines()
    assert lines[-2] == "example:" and "cardtool " + " ".join(command) in lines[-1]


def test_a_closed_pipe_ends_quietly(pki: Path) -> None:
    process = subprocess.Popen([str(CARDTOOL), "pki", "lint", str(pki / "csca.pem"), str(pki / "ds.pem")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # as `| head` does once it has read enough
    error = process.stderr.read().decode()
    assert process.wait(timeout=60) == BROKEN_PIPE_STATUS
    assert error == "", error


def test_a_counter_on_a_taken_port_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert main(["counter", "--port", str(taken.getsockname()[1])]) == 2
    error = capsys.readouterr().err
    assert "cardtool counter: the port is already in use" in error and "Traceback" not in error


def test_report_and_pki_folders_that_cannot_be_made_are_one_line(pki: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x", encoding="utf-8")
    assert main(["qa", str(tmp_path), "--trust", str(pki), "--report", str(a_file)]) == 2
    assert capsys.readouterr().err == f"cardtool qa: --report {a_file} is a file: give a folder (it is created, " \
                                      "or reused)\n"
    assert main(["pki", "init", str(a_file / "pki")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"cardtool pki: cannot make the folder {a_file / 'pki'}: ") and "Traceback" not in error


def test_pki_init_takes_the_names_and_crl_address_of_a_deployment(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "pki"
    assert main(["pki", "init", str(folder), "--ds-key", "secp256r1:sha256", "--org", "Bộ Công an",
                 "--csca-name", "CSCA Vietnam", "--ds-name", "Document Signer CCCD 07",
                 "--crl-url", "http://pki.bocongan.example/csca-vn.crl"]) == 0
    csca = x509.load_pem_x509_certificate((folder / "csca.pem").read_bytes())
    ds = x509.load_pem_x509_certificate((folder / "ds.pem").read_bytes())
    assert csca.subject.rfc4514_string() == "CN=CSCA Vietnam,O=Bộ Công an,C=VN"
    assert ds.subject.rfc4514_string() == "CN=Document Signer CCCD 07,O=Bộ Công an,C=VN"
    points = csca.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [name.value for point in points for name in point.full_name or []] == [
        "http://pki.bocongan.example/csca-vn.crl"]
    with pytest.raises(SystemExit):
        main(["pki", "init", str(tmp_path / "other"), "--crl-url", "pki.bocongan.example/csca.crl"])
    assert "is not an http://, https:// or ldap:// address" in capsys.readouterr().err


def test_demo_never_deletes_a_folder_it_did_not_make(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.odt").write_text("years of work", encoding="utf-8")
    assert main(["demo", "--out", str(precious)]) == 2
    assert "the demo did not make and it is not empty: nothing was deleted" in capsys.readouterr().err
    assert (precious / "thesis.odt").read_text(encoding="utf-8") == "years of work"
    earlier = tmp_path / "demo"
    fresh_output_folder(earlier)
    (earlier / "old-report.html").write_text("old", encoding="utf-8")
    fresh_output_folder(earlier)  # a folder an earlier demo made is replaced
    assert sorted(path.name for path in earlier.iterdir()) == [MARKER]
