"""``cardtool perso --pace PROTOCOL --eac DIR|--eac-cvca FILE`` and ``personalize_batch(profile=...)`` (Z, item 1):
cards that offer a chosen PACE protocol and trust a CVCA, read back by the reader with that mapping and with
Terminal Authentication releasing DG3."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
from cardtool.main import main
from cardtool.perso_command import MANIFEST, PACE_PROTOCOLS, chip_profile
from test_perso_command import _input

from cardlib.batch.perso import personalize_batch
from cardlib.card.image import CardImage
from cardlib.card.perso import ChipProfile
from cardlib.chip.chip import VirtualChip
from cardlib.errors import CardlibError, PKIError, ValidationError
from cardlib.lds.oids import protocol_oid
from cardlib.lds.securityinfo import CardAccess
from cardlib.pki.eac import EACPKI, load_cvca
from cardlib.reader.reader import AccessKey, EACCredentials, ReadResult, read_card
from cardlib.reader.transport import InProcessTransport
from cardlib.testing.pki import sample_pki

CAM = "id-PACE-ECDH-CAM-AES-CBC-CMAC-128"
DH_IM = "id-PACE-DH-IM-AES-CBC-CMAC-128"


@cache
def eac_pki() -> EACPKI:
    return EACPKI.generate(today=datetime.now(UTC).date() - timedelta(days=1))


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("perso-profile")
    sample_pki().save(base / "pki")
    eac_pki().save(base / "eac")
    return base / "pki", base / "eac"


def _cards(out: Path) -> list[CardImage]:
    entries = [json.loads(line) for line in (out / MANIFEST).read_text(encoding="utf-8").splitlines()]
    return [CardImage.load(out / entry["card"]) for entry in entries if entry["status"] == "personalized"]


def _read(image: CardImage, eac: EACCredentials | None) -> ReadResult:
    assert image.secrets is not None
    return read_card(InProcessTransport(VirtualChip(image)), AccessKey.can(image.secrets.can), eac=eac)


def test_cam_cards_trusting_the_cvca_are_read_with_cam_and_release_dg3(
        folders: tuple[Path, Path], tmp_path: Path) -> None:
    pki, eac = folders
    out = tmp_path / "out"
    status = main(["perso", str(_input(tmp_path, copies=1)), "--pki", str(pki), "--out", str(out),
                   "--workers", "2", "--pace", CAM, "--eac", str(eac)])
    assert status == 1  # the two broken rows of the sample input
    cards = _cards(out)
    assert len(cards) >= 2
    for image in cards:
        (info,) = CardAccess.decode(image.files["EF.CardAccess"]).pace_infos
        assert info.protocol == protocol_oid(CAM)
        assert "EF.CardSecurity" in image.files
        assert image.secrets is not None and image.secrets.trusted_cvca == (eac_pki().cvca,)
    result = _read(cards[0], EACCredentials.of(eac_pki()))
    assert result.pace_mapping == "CAM" and result.pace_cam.passed, result.pace_cam.reason
    assert result.terminal_auth.passed and result.terminal_auth.released == ("DG3",)
    assert result.dump.files["DG3"] == cards[0].files["DG3"]


def test_dh_integrated_mapping_with_the_cvca_file(folders: tuple[Path, Path], tmp_path: Path) -> None:
    pki, eac = folders
    out = tmp_path / "out"
    main(["perso", str(_input(tmp_path, copies=1)), "--pki", str(pki), "--out", str(out), "--workers", "1",
          "--pace", DH_IM, "--eac-cvca", str(eac / "cvca.cvcert")])
    image = _cards(out)[0]
    (info,) = CardAccess.decode(image.files["EF.CardAccess"]).pace_infos
    assert (info.protocol, info.parameter_id) == (protocol_oid(DH_IM), 2)  # the 2048-bit MODP group by default
    result = _read(image, None)
    assert result.pace_protocol == DH_IM and result.pace_mapping == "IM"
    assert "DG3" in result.protected_files  # trusted CVCA, but no terminal credentials: DG3 kept


def test_default_perso_is_the_cccd_profile() -> None:
    profile = chip_profile()
    assert profile == ChipProfile() and profile.trusted_cvca is None


@pytest.mark.parametrize(("arguments", "message"), [
    (["--pace", CAM, "--pace-parameter-id", "0"], f"--pace {CAM} --pace-parameter-id 0"),
    (["--pace", "id-PACE-ECDH-GM-AES-CBC-CMAC-999"], "invalid choice"),
    (["--eac-cvca", "is.cvcert"], "not a CVCA certificate"),
    (["--eac", "missing"], "cvca.cvcert: cannot read"),
    (["--pace", CAM, "--target", "jmrtd-applet"], "--pace: the target jmrtd-applet offers no PACE"),
])
def test_a_profile_cardlib_cannot_make_stops_before_any_row(
        folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str],
        message: str) -> None:
    pki, eac = folders
    arguments = [str(eac / argument) if argument.endswith(("cvcert", "missing")) else argument
                 for argument in arguments]
    out = tmp_path / "out"
    try:
        status = main(["perso", str(_input(tmp_path, copies=1)), "--pki", str(pki), "--out", str(out), *arguments])
    except SystemExit as exc:  # argparse refuses an unknown protocol name
        status = int(exc.code or 0)
    assert status == 2
    assert message in capsys.readouterr().err
    assert not (out / MANIFEST).exists()


def test_help_lists_every_pace_protocol(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["perso", "--help"])
    text = re.sub(r"-\s+", "-", " ".join(capsys.readouterr().out.split()))  # argparse wraps at hyphens
    assert len(PACE_PROTOCOLS) == 19
    assert all(name in text for name in PACE_PROTOCOLS)


def test_personalize_batch_checks_its_profile_before_any_row(tmp_path: Path) -> None:
    source = _input(tmp_path, copies=1)
    with pytest.raises(TypeError, match="profile must be a ChipProfile"):
        personalize_batch(source, sample_pki().document_signer, tmp_path / "a", profile="CAM")  # type: ignore[arg-type]
    bad = ChipProfile(pace_protocol=protocol_oid(CAM), ca_curve="secp256r1")
    with pytest.raises(ValidationError, match="PACE-CAM on brainpoolP256r1"):
        personalize_batch(source, sample_pki().document_signer, tmp_path / "b", profile=bad)
    assert not (tmp_path / "b" / MANIFEST).exists()


def test_load_cvca_refuses_what_is_not_a_cvca(folders: tuple[Path, Path], tmp_path: Path) -> None:
    _, eac = folders
    assert load_cvca(eac) == load_cvca(eac / "cvca.cvcert") == eac_pki().cvca
    with pytest.raises(PKIError, match=r"dv\.cvcert: not a CVCA certificate"):
        load_cvca(eac / "dv.cvcert")
    (tmp_path / "junk.cvcert").write_bytes(b"\x7f\x21\x01")
    with pytest.raises(CardlibError, match=r"junk\.cvcert"):
        load_cvca(tmp_path / "junk.cvcert")
