"""``cardtool pki eac init DIR``: the test EAC PKI on disk, loaded back and usable for Terminal Authentication."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cardtool.main import main

from cardlib.errors import PKIError
from cardlib.pki.cvc.chain import validate_chain
from cardlib.pki.cvc.chat import AccessRight, Role
from cardlib.pki.eac import EACPKI


def test_eac_init_writes_a_chain_granting_dg3_and_dg4(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "eac"
    assert main(["pki", "eac", "init", str(folder)]) == 0
    assert "reads DG3 DG4" in capsys.readouterr().out
    assert sorted(path.name for path in folder.iterdir()) == [
        "cvca.cvcert", "cvca.key.pem", "dv.cvcert", "dv.key.pem", "is.cvcert", "is.key.pem"]
    assert all(stat.S_IMODE((folder / f"{name}.key.pem").stat().st_mode) == 0o600 for name in ("cvca", "dv", "is"))
    pki = EACPKI.load(folder)
    assert [c.role for c in (pki.cvca, pki.dv, pki.inspection_system)] == [
        Role.CVCA, Role.DV_DOMESTIC, Role.INSPECTION_SYSTEM]
    key, rights, _ = validate_chain(pki.chain, [pki.trust_point], datetime.now(UTC).date())
    assert rights == AccessRight.READ_DG3 | AccessRight.READ_DG4
    signature = pki.terminal_signer()(b"challenge")
    assert key.public_key.verify(signature, b"challenge")


def test_eac_init_never_overwrites_a_pki(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "eac"
    assert main(["pki", "eac", "init", str(folder)]) == 0
    before = (folder / "cvca.key.pem").read_bytes()
    assert main(["pki", "eac", "init", str(folder)]) == 2
    assert "already holds an EAC PKI" in capsys.readouterr().err
    assert (folder / "cvca.key.pem").read_bytes() == before


def test_load_names_the_corrupt_file(tmp_path: Path) -> None:
    EACPKI.generate().save(tmp_path)
    (tmp_path / "dv.cvcert").write_bytes(b"\x7f\x21\x01")
    with pytest.raises(PKIError, match=r"dv\.cvcert"):
        EACPKI.load(tmp_path)
    (tmp_path / "dv.cvcert").unlink()
    with pytest.raises(PKIError, match=r"dv\.cvcert: cannot read"):
        EACPKI.load(tmp_path)
