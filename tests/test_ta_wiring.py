"""Terminal Authentication wired into the reader and the virtual chip (issue 14 item 3): with the inspection
system's chain the chip releases DG3 and its hash verifies (QA: "read and hash verified"); without credentials,
with a chain to another CVCA, an expired inspection system certificate or a CHAT without the DG3 right, the read
still gives DG1/DG2/DG13 and DG3 is "not read".  In process (PACE and BAC) and once through pcscd + vpcd."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
from cardtool.main import main
from cryptography.hazmat.primitives.asymmetric import ec
from test_qa import card_folders, make_batch, trust_args

from cardlib.batch.outcome import dg3_state
from cardlib.card.image import CardImage
from cardlib.card.perso import ChipProfile, personalize, prepare_finger
from cardlib.chip.chip import VirtualChip
from cardlib.chip.options import ChipOptions
from cardlib.chip.vpcd import VirtualChipQueue, vpcd_card
from cardlib.lds.dg3 import DG3, FingerPosition
from cardlib.pki.cvc.certificate import CertificateBody, CVCertificate
from cardlib.pki.cvc.chain import TrustPoint, validate_chain
from cardlib.pki.cvc.chat import CHAT, AccessRight, Role
from cardlib.pki.cvc.keys import CVPublicKey, cv_signer
from cardlib.pki.eac import ALL_RIGHTS, EACPKI, EACConfig
from cardlib.protocols.apdu import CommandAPDU
from cardlib.reader.pcsc import connect
from cardlib.reader.reader import AccessKey, EACCredentials, ReadResult, read_card
from cardlib.reader.transport import InProcessTransport, Transport
from cardlib.testing.cards import sample_resident
from cardlib.testing.faces import synthetic_portrait_jpeg
from cardlib.testing.fingers import synthetic_finger_wsq
from cardlib.testing.pcscd import PcscdInstance
from cardlib.testing.pki import sample_pki, sample_trust
from cardlib.verify.live import verify_read

TODAY = datetime.now(UTC).date()
BASIC = ("DG1", "DG2", "DG13")
ROOT = Path(__file__).resolve().parents[1]


@cache
def pki() -> EACPKI:
    return EACPKI.generate(today=TODAY - timedelta(days=1))


@cache
def other_pki() -> EACPKI:
    return EACPKI.generate(EACConfig(cvca_mnemonic="OTHERCA"), today=TODAY - timedelta(days=1))


@cache
def image() -> CardImage:
    fingers = [prepare_finger(synthetic_finger_wsq(1), FingerPosition.RIGHT_INDEX),
               prepare_finger(synthetic_finger_wsq(2), FingerPosition.LEFT_INDEX)]
    return personalize(sample_resident(14), synthetic_portrait_jpeg(14), sample_pki().document_signer,
                       profile=ChipProfile(trusted_cvca=pki().cvca), fingers=fingers)


def read(transport: Transport, eac: EACCredentials | None, *, key: str = "CAN") -> ReadResult:
    secrets = image().secrets
    assert secrets is not None
    access = AccessKey.can(secrets.can) if key == "CAN" else AccessKey.mrz(secrets.mrz_information)
    return read_card(transport, access, eac=eac)


def in_process(eac: EACCredentials | None, options: ChipOptions | None = None, *, key: str = "CAN") -> ReadResult:
    return read(InProcessTransport(VirtualChip(image(), options)), eac, key=key)


def assert_dg3_read(result: ReadResult) -> None:
    assert result.terminal_auth.passed, result.terminal_auth.reason
    assert result.terminal_auth.released == ("DG3",)
    assert result.dump.files["DG3"] == image().files["DG3"]
    assert "DG3" not in result.protected_files
    assert len(DG3.decode(result.dump.files["DG3"]).fingers) == 2
    report = verify_read(result, sample_trust())
    assert dg3_state(report) == "verified"  # the QA line's "read and hash verified"


def assert_dg3_not_read(result: ReadResult, *, ta_passed: bool = False) -> None:
    assert all(name in result.dump.files for name in BASIC)
    assert result.chip_auth.passed and result.active_auth.passed
    assert "DG3" not in result.dump.files and "DG3" in result.protected_files
    assert result.terminal_auth.passed is ta_passed
    assert dg3_state(verify_read(result, sample_trust())) == "not read"


@pytest.mark.parametrize("key", ["CAN", "MRZ"])
def test_inspection_system_reads_dg3_after_pace(key: str) -> None:
    assert_dg3_read(in_process(EACCredentials.of(pki()), key=key))


def test_inspection_system_reads_dg3_after_bac() -> None:
    result = in_process(EACCredentials.of(pki()), ChipOptions(pace=False), key="MRZ")
    assert result.access == "BAC"
    assert_dg3_read(result)


def test_without_credentials_dg3_is_not_read() -> None:
    result = in_process(None)
    assert_dg3_not_read(result)
    assert not result.terminal_auth.performed


def test_chain_to_another_cvca_is_not_presented() -> None:
    result = in_process(EACCredentials.of(other_pki()))
    assert_dg3_not_read(result)
    assert not result.terminal_auth.performed
    assert pki().cvca.chr in result.terminal_auth.reason and other_pki().cvca.chr in result.terminal_auth.reason


def test_chip_refuses_a_chain_to_another_cvca_when_ef_cvca_is_empty() -> None:
    result = in_process(EACCredentials.of(other_pki()), ChipOptions(empty_files=("EF.CVCA",)))
    assert_dg3_not_read(result)
    assert result.terminal_auth.performed
    assert "MSE:SET DST" in result.terminal_auth.reason and "6A88" in result.terminal_auth.reason


def issue(chr: str, role: Role, rights: AccessRight, effective: date, expiration: date, *,
          key: ec.EllipticCurvePrivateKey | None = None) -> tuple[CVCertificate, ec.EllipticCurvePrivateKey]:
    """A certificate under the genuine CVCA (a DV) or DV (an inspection system), and its private key."""
    issuer, issuer_key = (pki().cvca, pki().cvca_key) if role is Role.DV_DOMESTIC else (pki().dv, pki().dv_key)
    oid = issuer.body.public_key.oid
    key = key or ec.generate_private_key(ec.BrainpoolP256R1())
    body = CertificateBody(car=issuer.chr, chr=chr, public_key=CVPublicKey.for_key(key, oid),
                           chat=CHAT.inspection_system(role, rights), effective=effective, expiration=expiration)
    return CVCertificate.issue(body, cv_signer(issuer_key, oid)), key


def terminal(chr: str, rights: AccessRight, effective: date, expiration: date) -> EACCredentials:
    certificate, key = issue(chr, Role.INSPECTION_SYSTEM, rights, effective, expiration)
    return EACCredentials((pki().dv, certificate), cv_signer(key, certificate.body.public_key.oid))


def test_expired_inspection_system_certificate_is_refused() -> None:
    expired = terminal("VNEXPIRED00001", ALL_RIGHTS, TODAY - timedelta(days=40), TODAY - timedelta(days=10))
    result = in_process(expired)
    assert_dg3_not_read(result)
    assert result.terminal_auth.performed
    assert "PSO:VERIFY CERTIFICATE for VNEXPIRED00001" in result.terminal_auth.reason


def test_chat_without_dg3_right_passes_ta_but_dg3_stays_closed() -> None:
    iris_only = terminal("VNIRISONLY0001", AccessRight.READ_DG4, TODAY - timedelta(days=1), TODAY + timedelta(days=9))
    _, rights, _ = validate_chain(list(iris_only.chain), [TrustPoint.of(pki().cvca)], TODAY)
    assert AccessRight.READ_DG3 not in rights  # what the terminal can tell beforehand
    result = in_process(iris_only)
    assert_dg3_not_read(result, ta_passed=True)
    assert result.terminal_auth.performed and not result.terminal_auth.released
    assert "released: none of DG3" in result.terminal_auth.reason


def test_wrong_terminal_key_fails_external_authenticate() -> None:
    genuine = EACCredentials.of(pki())
    impostor = EACCredentials(genuine.chain, EACCredentials.of(other_pki()).signer)
    result = in_process(impostor)
    assert_dg3_not_read(result)
    assert "EXTERNAL AUTHENTICATE" in result.terminal_auth.reason and "6300" in result.terminal_auth.reason


def test_forged_certificate_signature_is_refused() -> None:
    genuine = EACCredentials.of(pki())
    inspection = genuine.chain[-1]
    forged = replace(inspection, signature=inspection.signature[:-1] + bytes([inspection.signature[-1] ^ 1]))
    result = in_process(EACCredentials((genuine.chain[0], forged), genuine.signer))
    assert_dg3_not_read(result)
    assert f"PSO:VERIFY CERTIFICATE for {inspection.chr}" in result.terminal_auth.reason
    assert "6A80" in result.terminal_auth.reason


def test_chip_trusting_no_cvca_refuses_ta_and_keeps_dg3() -> None:
    secrets = image().secrets
    assert secrets is not None
    no_eac = replace(image(), secrets=replace(secrets, trusted_cvca=(), eac_date=None))
    result = read(InProcessTransport(VirtualChip(no_eac)), EACCredentials.of(pki()))
    assert_dg3_not_read(result)
    assert result.terminal_auth.performed and "6985" in result.terminal_auth.reason


def test_chip_date_moves_forward_and_outlives_the_session() -> None:
    later = TODAY + timedelta(days=5)
    dv, dv_key = issue("VNLATERDV00001", Role.DV_DOMESTIC, ALL_RIGHTS, later, later + timedelta(days=90))
    is_key = ec.generate_private_key(ec.BrainpoolP256R1())
    oid = dv.body.public_key.oid
    body = CertificateBody(car=dv.chr, chr="VNLATERIS00001", public_key=CVPublicKey.for_key(is_key, oid),
                           chat=CHAT.inspection_system(Role.INSPECTION_SYSTEM, ALL_RIGHTS), effective=later,
                           expiration=later + timedelta(days=30))
    inspection = CVCertificate.issue(body, cv_signer(dv_key, oid))
    chip = VirtualChip(image())
    assert chip.eac_current_date == TODAY
    assert_dg3_read(read(InProcessTransport(chip), EACCredentials((dv, inspection), cv_signer(is_key, oid))))
    assert chip.eac_current_date == later
    chip.power_on()
    # A terminal certificate still valid by the calendar but expired by the chip's date is now refused.
    stale = terminal("VNSTALEIS00001", ALL_RIGHTS, TODAY - timedelta(days=1), TODAY + timedelta(days=2))
    assert_dg3_not_read(read(InProcessTransport(chip), stale))
    assert chip.eac_current_date == later


def test_ef_cvca_is_read_but_no_part_of_the_dump() -> None:
    result = in_process(EACCredentials.of(pki()))
    assert "EF.CVCA" not in result.dump.files
    assert_dg3_read(result)


def test_image_keeps_the_trusted_cvca_and_date(tmp_path: Path) -> None:
    image().save(tmp_path / "card")
    loaded, original = CardImage.load(tmp_path / "card").secrets, image().secrets
    assert loaded is not None and original is not None
    assert loaded.trusted_cvca == original.trusted_cvca == (pki().cvca,)
    assert loaded.eac_date == original.eac_date == TODAY
    assert_dg3_read(read(InProcessTransport(VirtualChip(CardImage.load(tmp_path / "card"))), EACCredentials.of(pki())))


def test_credentials_load_from_the_eac_pki_folder(tmp_path: Path) -> None:
    pki().save(tmp_path / "eac")
    loaded = EACCredentials.load(tmp_path / "eac")
    assert [c.chr for c in loaded.chain] == [pki().dv.chr, pki().inspection_system.chr]
    assert "key" not in repr(loaded).lower()
    assert_dg3_read(in_process(loaded))


def test_ta_commands_need_a_session_and_chip_authentication() -> None:
    chip = VirtualChip(image())
    mse = CommandAPDU(0x00, 0x22, 0x81, 0xB6, bytes([0x83, len(pki().cvca.chr)]) + pki().cvca.chr.encode())
    assert chip.process(mse.encode())[-2:] == bytes.fromhex("6982")  # no session at all
    secrets = image().secrets
    assert secrets is not None
    result = read_card(InProcessTransport(chip), AccessKey.can(secrets.can), chip_auth=False,
                       eac=EACCredentials.of(pki()))
    assert not result.terminal_auth.performed and "Chip Authentication" in result.terminal_auth.reason
    assert "DG3" in result.protected_files and all(name in result.dump.files for name in BASIC)


def test_through_pcscd(pcscd: PcscdInstance) -> None:
    for eac, passed in ((EACCredentials.of(pki()), True), (EACCredentials.of(other_pki()), False)):
        with vpcd_card(VirtualChip(image()), port=pcscd.port), connect(pcscd.reader_name, timeout=5) as transport:
            result = read(transport, eac)
        (assert_dg3_read if passed else assert_dg3_not_read)(result)


def with_cvca(image: CardImage) -> CardImage:
    """``image`` on a chip that trusts :func:`pki`'s CVCA (as perso with ``ChipProfile(trusted_cvca=...)`` makes)."""
    assert image.secrets is not None
    return replace(image, secrets=replace(image.secrets, trusted_cvca=(pki().cvca,), eac_date=TODAY))


def test_cardtool_read_with_eac(pcscd: PcscdInstance, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pki().save(tmp_path / "eac")
    secrets = image().secrets
    assert secrets is not None
    with vpcd_card(VirtualChip(image()), port=pcscd.port):
        assert main(["read", "--reader", pcscd.reader_name, "--can", secrets.can, "--eac", str(tmp_path / "eac"),
                     "--out", str(tmp_path / "dump")]) == 0
    out = capsys.readouterr().out
    assert f"terminal authentication: the chip accepted {pki().inspection_system.chr}; released: DG3" in out
    assert CardImage.load(tmp_path / "dump").files["DG3"] == image().files["DG3"]
    with pytest.raises(SystemExit) as exited:  # told before any card is waited for
        main(["read", "--reader", pcscd.reader_name, "--can", secrets.can, "--eac", str(tmp_path / "none"),
              "--out", str(tmp_path / "dump2")])
    assert exited.value.code == 2
    assert "--eac" in capsys.readouterr().err and not (tmp_path / "dump2").exists()


def test_cardtool_qa_with_eac(pcscd: PcscdInstance, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trust_pki, perso = make_batch(tmp_path)
    pki().save(tmp_path / "eac")
    line = [with_cvca(CardImage.load(folder)) for folder in card_folders(perso)[:2]]
    report = tmp_path / "report"
    with vpcd_card(VirtualChipQueue(VirtualChip(image) for image in line), pcscd.port):
        main(["qa", str(perso), *trust_args(trust_pki), "--report", str(report), "--readers", "all",
              "--idle-timeout", "2", "--eac", str(tmp_path / "eac")])
    assert "cards=2 valid=2 " in capsys.readouterr().out
    assert "Fingerprints (DG3): 2 read and hash verified" in (report / "report.html").read_text(encoding="utf-8")


def test_bench_pace_times_each_protocol_on_both_sides() -> None:
    done = subprocess.run([sys.executable, "-m", "benchmarks.bench_pace", "--runs", "2"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()[1:]
    assert [line.split()[0] for line in lines] == ["PACE-GM", "PACE-IM", "PACE-CAM", "CA", "CA-ecdsa", "TA"]
    assert all(float(line.split("terminal")[1].split("ms")[0]) > 0 and "chip" in line for line in lines)
