"""``cardtool pki``: init in files and in a token, rotate, CRL issue, lint and trust, with plain errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from cardtool.main import main
from cryptography import x509

from cardlib.pki.hsm import init_token, softhsm_environment
from cardlib.pki.masterlist import MasterList
from cardlib.pki.operations import IssuingAuthority

FAST_KEYS = ["--csca-key", "secp384r1:sha384", "--ds-key", "brainpoolP256r1:sha256"]


@pytest.fixture
def token_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SOFTHSM2_CONF", "")
    softhsm_environment(tmp_path / "hsm")
    init_token("factory", "so-secret-9", "user-secret-9")
    monkeypatch.setenv("FACTORY_PIN", "user-secret-9")
    return "FACTORY_PIN"


def test_token_pki_lifecycle(tmp_path: Path, token_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    pki = tmp_path / "pki"
    pin = ["--pin-env", token_env]
    assert main(["pki", "init", str(pki), *FAST_KEYS, "--token", "factory", *pin]) == 0
    assert "private keys in token 'factory'" in capsys.readouterr().out
    first = x509.load_pem_x509_certificate((pki / "ds.pem").read_bytes())
    assert main(["pki", "ds", "rotate", str(pki), *pin]) == 0
    assert f"retired Document Signer serial {first.serial_number:#x}" in capsys.readouterr().out
    assert main(["pki", "crl", "issue", str(pki), "--revoke", f"{first.serial_number:#x}", *pin]) == 0
    out = capsys.readouterr().out
    assert "CRL number 2" in out and "1 revoked certificate" in out
    crl = x509.load_pem_x509_crl((pki / "crl.pem").read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(first.serial_number) is not None
    assert "user-secret-9" not in (pki / "pki.json").read_text()


def test_token_errors_are_one_line(tmp_path: Path, token_env: str, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    pki = tmp_path / "pki"
    assert main(["pki", "init", str(pki), *FAST_KEYS, "--token", "factory"]) == 2
    assert "--token needs --pin-env VAR or --pin-file PATH" in capsys.readouterr().err
    monkeypatch.setenv(token_env, "guess")
    assert main(["pki", "init", str(pki), *FAST_KEYS, "--token", "factory", "--pin-env", token_env]) == 2
    error = capsys.readouterr().err
    assert error.strip() == "cardtool pki: wrong PIN for token 'factory'"
    assert main(["pki", "ds", "rotate", str(tmp_path / "nothing")]) == 2
    assert "pki.json: cannot read" in capsys.readouterr().err


def test_file_pki_and_lint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pki = tmp_path / "pki"
    assert main(["pki", "init", str(pki), *FAST_KEYS]) == 0
    assert (pki / "ds.key.pem").is_file()
    capsys.readouterr()
    assert main(["pki", "crl", "issue", str(pki), "--revoke", "12"]) == 2
    assert "no certificate with serial 0xc was issued here" in capsys.readouterr().err
    assert main(["pki", "lint", str(pki / "csca.pem"), str(pki / "ds.pem"), str(pki / "crl.pem")]) == 0
    out = capsys.readouterr().out
    assert "3 checked, 0 deviate" in out and "WARNING EC domain parameters" in out
    with IssuingAuthority.open(pki) as authority:
        assert authority.placement is None


def test_lint_reports_deviations_with_exit_1(tmp_path: Path, shared_data: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    bad_pem = tmp_path / "bad.pem"
    bad_pem.write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    assert main(["pki", "lint", str(bad_pem)]) == 2
    assert str(bad_pem) in capsys.readouterr().err
    assert main(["pki", "lint", str(shared_data / "csca" / "VN_CSCA_ePassport.cer")]) == 0
    assert "CSCA ePassport Vietnam: conforms" in capsys.readouterr().out


def test_trust_reports_counts_and_findings(shared_data: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """The NL list beside the Vietnam CSCA is unanchored; with the NL CSCA given as a file it is anchored."""
    masterlists = shared_data / "masterlists"
    assert main(["pki", "trust", str(masterlists / "NL_ML_2026-07-22.ml"), str(shared_data / "csca")]) == 0
    out = capsys.readouterr().out
    assert "NL_ML_2026-07-22.ml: 411 certificates" in out and ": UNANCHORED, NOT trusted" in out
    assert "anchored, its CSCAs trusted" not in out
    assert "1 anchor certificates given; 1 CSCA certificates trusted from 1 countries" in out
    signer_csca = MasterList.parse((masterlists / "NL_ML_2026-07-22.ml").read_bytes()).signer_issuer
    assert signer_csca is not None
    (tmp_path / "csca-nl.cer").write_bytes(signer_csca.der)
    assert main(["pki", "trust", str(masterlists / "NL_ML_2026-07-22.ml"), str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert ": anchored, its CSCAs trusted (signer chains to an anchor: " in out
    assert "1 anchor certificates given; 411 CSCA certificates trusted" in out
    summary = [line for line in out.splitlines() if line.startswith("profile: ")]
    assert len(summary) == 1 and " of 411 CSCA certificates deviate" in summary[0]
    assert "DEVIATES" in out


def test_trust_reports_a_forged_master_list(tmp_path: Path, shared_data: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    data = bytearray((shared_data / "masterlists" / "NL_ML_2026-07-22.ml").read_bytes())
    data[-10] ^= 0x01  # inside the signature
    forged = tmp_path / "forged.ml"
    forged.write_bytes(bytes(data))
    assert main(["pki", "trust", str(forged)]) == 0
    out = capsys.readouterr().out
    assert "NOT trusted" in out and "0 CSCA certificates" in out
    (tmp_path / "corrupt.ml").write_bytes(b"\x30\x03\x02\x01")
    assert main(["pki", "trust", str(tmp_path / "corrupt.ml")]) == 0
    assert "not loaded: " in capsys.readouterr().out
