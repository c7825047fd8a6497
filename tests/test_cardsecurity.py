"""EF.CardSecurity: the codec (JMRTD's real sample, files signed here), its verification (signature, chain,
agreement with EF.CardAccess and DG14, the PACE-CAM key), hostile bytes, and personalization writing it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from cardlib.card.image import CardImage
from cardlib.card.perso import ChipKeys, ChipProfile, card_security, personalize
from cardlib.errors import CardlibError, DecodeError, ValidationError
from cardlib.lds.asn1 import ECPublicKeyInfo
from cardlib.lds.cardsecurity import CardSecurity
from cardlib.lds.oids import ID_LDS_SECURITY_OBJECT, ID_SECURITY_OBJECT, protocol_oid
from cardlib.lds.securityinfo import (
    DG14,
    CardAccess,
    ChipAuthenticationInfo,
    ChipAuthenticationPublicKeyInfo,
    PACEInfo,
    SecurityInfos,
    TerminalAuthenticationInfo,
)
from cardlib.lds.signeddata import encode_content_info
from cardlib.limits import MAX_FILE_BYTES, LimitExceeded
from cardlib.pki.certificates import Certificate
from cardlib.pki.trust import TrustStore
from cardlib.testing.cards import sample_card_image, sample_resident
from cardlib.testing.faces import synthetic_portrait_jpeg
from cardlib.testing.pki import TestPKI, sample_pki, sample_trust
from cardlib.verify.cardsecurity import cardsecurity_checks
from cardlib.verify.report import CheckResult, Status, Verdict
from cardlib.verify.verifier import verify

CAM = protocol_oid("id-PACE-ECDH-CAM-AES-CBC-CMAC-128")
GM = protocol_oid("id-PACE-ECDH-GM-AES-CBC-CMAC-128")
CAM_PROFILE = ChipProfile(pace_protocol=CAM)
# The TerminalAuthenticationInfo of JMRTD's sample (id-TA, version 2), whose version byte is altered below.
JMRTD_TA_INFO = bytes.fromhex("300d060804007f00070202020201") + b"\x02"


@pytest.fixture(scope="module")
def jmrtd(shared_data: Path) -> bytes:
    return (shared_data / "cardsecurity" / "efcardsecurity.dump").read_bytes()


@cache
def cam_card() -> CardImage:
    return sample_card_image(2, profile=CAM_PROFILE)


def now() -> datetime:
    """The time of verification: after the sample PKI (made on first use, valid from then) was made."""
    sample_pki()
    return datetime.now(UTC)


def point_of(key: ec.EllipticCurvePublicKey) -> bytes:
    """The uncompressed point of ``key`` as a ChipAuthenticationPublicKeyInfo writes it."""
    info = ChipAuthenticationPublicKeyInfo.for_key(key).public_key
    assert isinstance(info, ECPublicKeyInfo)
    return info.point


def by_id(checks: list[CheckResult]) -> dict[str, CheckResult]:
    return {check.id: check for check in checks}


def statuses(checks: list[CheckResult]) -> dict[str, Status]:
    return {check.id: check.status for check in checks}


# --- the codec -------------------------------------------------------------------------------------------------


def test_jmrtd_sample_decodes(jmrtd: bytes) -> None:
    decoded = CardSecurity.decode(jmrtd)
    assert decoded.encode() == jmrtd
    assert decoded.econtent_type == ID_SECURITY_OBJECT
    assert decoded.signed_attributes is None and decoded.message_digest is None
    assert decoded.digest_algorithm == "sha256" and decoded.signature_algorithm.scheme == "ecdsa"
    assert [type(info).__name__ for info in decoded.security_infos] == [
        "TerminalAuthenticationInfo", "ChipAuthenticationInfo", "ChipAuthenticationDomainParameterInfo",
        "ChipAuthenticationPublicKeyInfo"]
    (key,) = decoded.chip_authentication_keys
    assert isinstance(key.public_key, ECPublicKeyInfo)
    assert key.public_key.curve.name == "brainpoolP256r1"
    assert key.public_key.point.hex().startswith("049db9f00ecbf440")
    assert Certificate.from_der(decoded.signer_certificates[0].der).subject == "C=UT, CN=DS-1"


def test_jmrtd_signature_verifies_and_its_untrusted_csca_is_cannot_tell(jmrtd: bytes) -> None:
    checks = by_id(cardsecurity_checks({"EF.CardSecurity": jmrtd}, TrustStore(), at=datetime(2016, 3, 20, tzinfo=UTC)))
    assert checks["cardsecurity.signature"].status is Status.PASS
    assert "no signed attributes" in checks["cardsecurity.signature"].reason
    assert checks["cardsecurity.signer"].status is Status.PASS
    assert checks["cardsecurity.content_type"].status is Status.PASS
    assert checks["cardsecurity.chain.csca_found"].status is Status.UNKNOWN
    assert Status.FAIL not in {check.status for check in checks.values()}


def test_jmrtd_sample_altered_fails_its_signature(jmrtd: bytes) -> None:
    assert jmrtd.count(JMRTD_TA_INFO) == 1
    altered = jmrtd.replace(JMRTD_TA_INFO, JMRTD_TA_INFO[:-1] + b"\x01")
    checks = by_id(cardsecurity_checks({"EF.CardSecurity": altered}, TrustStore(), at=now()))
    assert checks["cardsecurity.decode"].status is Status.PASS
    assert checks["cardsecurity.signature"].status is Status.FAIL


def _infos(key: ec.EllipticCurvePublicKey, *pace: PACEInfo) -> SecurityInfos:
    return SecurityInfos((*pace, ChipAuthenticationInfo(protocol_oid("id-CA-ECDH-AES-CBC-CMAC-128"), 1),
                          ChipAuthenticationPublicKeyInfo.for_key(key), TerminalAuthenticationInfo(1)))


def test_signed_here_round_trips_with_signed_attributes_and_verifies() -> None:
    key = ec.generate_private_key(ec.BrainpoolP256R1()).public_key()
    infos = _infos(key, PACEInfo(CAM, 2, 13))
    signed = CardSecurity.sign(infos, sample_pki().document_signer, signing_time=now())
    assert CardSecurity.decode(signed.encode()) == signed
    assert signed.security_infos.infos == infos.infos
    assert signed.content_type_attribute == ID_SECURITY_OBJECT and signed.signing_time is not None
    checks = cardsecurity_checks({"EF.CardSecurity": signed.encode()}, sample_trust(), at=now())
    assert {check.status for check in checks} <= {Status.PASS, Status.WARN, Status.NOT_APPLICABLE}
    assert by_id(checks)["cardsecurity.chain.csca_found"].status is Status.PASS
    assert "signed attributes" in by_id(checks)["cardsecurity.signature"].reason


def test_altered_security_infos_fail_the_message_digest() -> None:
    key = ec.generate_private_key(ec.BrainpoolP256R1()).public_key()
    raw = CardSecurity.sign(_infos(key, PACEInfo(CAM, 2, 13)), sample_pki().document_signer).encode()
    other = ec.generate_private_key(ec.BrainpoolP256R1()).public_key()
    swapped = raw.replace(point_of(key), point_of(other))
    check = by_id(cardsecurity_checks({"EF.CardSecurity": swapped}, sample_trust(), at=now()))["cardsecurity.signature"]
    assert check.status is Status.FAIL
    assert "messageDigest" in check.reason


def test_a_document_signer_of_another_csca_is_cannot_tell_not_invalid() -> None:
    stranger = TestPKI.generate()
    key = ec.generate_private_key(ec.BrainpoolP256R1()).public_key()
    raw = CardSecurity.sign(_infos(key), stranger.document_signer).encode()
    checks = by_id(cardsecurity_checks({"EF.CardSecurity": raw}, sample_trust(), at=now()))
    assert checks["cardsecurity.signature"].status is Status.PASS
    assert checks["cardsecurity.chain.csca_found"].status is Status.UNKNOWN
    assert Status.FAIL not in {check.status for check in checks.values()}


def test_another_content_type_fails() -> None:
    key = ec.generate_private_key(ec.BrainpoolP256R1()).public_key()
    raw = encode_content_info(_infos(key).encode(), ID_LDS_SECURITY_OBJECT, sample_pki().document_signer)
    check = by_id(cardsecurity_checks({"EF.CardSecurity": raw}, sample_trust(), at=now()))["cardsecurity.content_type"]
    assert check.status is Status.FAIL
    assert ID_LDS_SECURITY_OBJECT in check.reason


def test_no_card_security_is_one_not_applicable() -> None:
    checks = cardsecurity_checks({}, sample_trust(), at=now())
    assert statuses(checks) == {"cardsecurity.decode": Status.NOT_APPLICABLE}


def _hostile(jmrtd: bytes) -> dict[str, bytes]:
    sod = sample_card_image(2).files["EF.SOD"]
    return {
        "empty": b"", "a SET": b"\x31\x00", "truncated": jmrtd[:-10], "trailing bytes": jmrtd + b"\x00",
        "EF.SOD (tag 77)": sod, "id-data ContentInfo": bytes.fromhex("300f06092a864886f70d010701a0020400"),
        "SignedData without eContent": _without_econtent(jmrtd),
        "SecurityInfos not a SET": jmrtd.replace(bytes.fromhex("04819d31819a"), bytes.fromhex("04819d30819a")),
    }


def _without_econtent(jmrtd: bytes) -> bytes:
    """JMRTD's file with eContent [0] renamed to [1]: strict DER decoding refuses it."""
    return jmrtd.replace(bytes.fromhex("a081a004819d"), bytes.fromhex("a181a004819d"))


@pytest.mark.parametrize("case", ["empty", "a SET", "truncated", "trailing bytes", "EF.SOD (tag 77)",
                                  "id-data ContentInfo", "SignedData without eContent",
                                  "SecurityInfos not a SET"])
def test_hostile_bytes_give_a_decode_error_naming_the_file(jmrtd: bytes, case: str) -> None:
    data = _hostile(jmrtd)[case]
    assert data != jmrtd
    with pytest.raises(DecodeError) as raised:
        CardSecurity.decode(data)
    assert "EF.CardSecurity" in str(raised.value)
    checks = cardsecurity_checks({"EF.CardSecurity": data}, sample_trust(), at=now())
    assert statuses(checks) == {"cardsecurity.decode": Status.FAIL}


def test_an_oversized_file_is_refused_before_parsing() -> None:
    with pytest.raises(LimitExceeded, match="MAX_FILE_BYTES"):
        CardSecurity.decode(b"\x30" + bytes(MAX_FILE_BYTES + 1))


# --- agreement with EF.CardAccess and DG14 ------------------------------------------------------------------------


def _with(image: CardImage, **files: bytes) -> dict[str, bytes]:
    return {**image.files, **{name.replace("_", "."): data for name, data in files.items()}}


def test_a_cam_card_agrees_with_its_card_access_and_dg14() -> None:
    checks = by_id(cardsecurity_checks(cam_card().files, sample_trust(), at=now()))
    for check_id in ("cardsecurity.card_access", "cardsecurity.cam_key", "cardsecurity.dg14"):
        assert checks[check_id].status is Status.PASS, checks[check_id].reason


def test_card_access_offering_an_unsigned_weaker_protocol_is_warned_about() -> None:
    infos = CardAccess.decode(cam_card().files["EF.CardAccess"]).infos
    extra = CardAccess((*infos, PACEInfo(GM, 2, 13))).encode()
    check = by_id(cardsecurity_checks(_with(cam_card(), EF_CardAccess=extra), sample_trust(), at=now()))
    assert check["cardsecurity.card_access"].status is Status.WARN
    assert "offered in EF.CardAccess but not signed" in check["cardsecurity.card_access"].reason


def test_a_signed_weaker_protocol_missing_from_card_access_is_warned_about() -> None:
    image = cam_card()
    assert image.secrets is not None and image.secrets.ca_private_key is not None
    signed = CardSecurity.sign(_infos(image.secrets.ca_private_key.public_key(), PACEInfo(CAM, 2, 13),
                                      PACEInfo(GM, 2, 13)), sample_pki().document_signer).encode()
    check = by_id(cardsecurity_checks(_with(image, EF_CardSecurity=signed), sample_trust(), at=now()))
    assert check["cardsecurity.card_access"].status is Status.WARN
    assert "signed but not offered" in check["cardsecurity.card_access"].reason


def test_card_access_stripped_of_cam_is_a_downgrade() -> None:
    downgraded = CardAccess((PACEInfo(GM, 2, 13),)).encode()
    check = by_id(cardsecurity_checks(_with(cam_card(), EF_CardAccess=downgraded), sample_trust(), at=now()))
    assert check["cardsecurity.card_access"].status is Status.FAIL
    assert "a downgrade" in check["cardsecurity.card_access"].reason
    assert check["cardsecurity.cam_key"].status is Status.PASS  # EF.CardSecurity itself still offers CAM


def test_a_dg14_key_other_than_the_signed_one_fails() -> None:
    other = DG14((ChipAuthenticationPublicKeyInfo.for_key(ec.generate_private_key(ec.BrainpoolP256R1()).public_key(),
                                                          explicit_parameters=True),)).encode()
    check = by_id(cardsecurity_checks(_with(cam_card(), DG14=other), sample_trust(), at=now()))["cardsecurity.dg14"]
    assert check.status is Status.FAIL


def test_cam_offered_without_a_signed_key_fails() -> None:
    infos = SecurityInfos((PACEInfo(CAM, 2, 13), TerminalAuthenticationInfo(1)))
    raw = CardSecurity.sign(infos, sample_pki().document_signer).encode()
    checks = by_id(cardsecurity_checks(_with(cam_card(), EF_CardSecurity=raw), sample_trust(), at=now()))
    assert checks["cardsecurity.cam_key"].status is Status.FAIL
    assert checks["cardsecurity.dg14"].status is Status.WARN  # no key to compare


def test_jmrtd_sample_signs_no_paceinfo_so_card_access_is_only_warned(jmrtd: bytes) -> None:
    files = {"EF.CardSecurity": jmrtd, "EF.CardAccess": CardAccess((PACEInfo(GM, 2, 13),)).encode()}
    check = by_id(cardsecurity_checks(files, TrustStore(), at=now()))["cardsecurity.card_access"]
    assert check.status is Status.WARN


# --- in the whole verification ----------------------------------------------------------------------------------


def test_a_cam_card_dump_verifies_valid_with_its_card_security() -> None:
    report = verify(cam_card(), sample_trust())
    assert report.verdict is Verdict.VALID, report.to_text()
    assert report.check("cardsecurity.signature").status is Status.PASS


def test_another_chips_card_security_makes_the_card_invalid(jmrtd: bytes) -> None:
    report = verify(replace(cam_card(), files=_with(cam_card(), EF_CardSecurity=jmrtd)), sample_trust())
    assert report.verdict is Verdict.INVALID
    assert report.check("cardsecurity.dg14").status is Status.FAIL


# --- personalization -----------------------------------------------------------------------------------------------


def test_perso_writes_card_security_only_for_cam() -> None:
    assert "EF.CardSecurity" not in sample_card_image(2).files
    decoded = CardSecurity.decode(cam_card().files["EF.CardSecurity"])
    assert [(info.protocol, info.parameter_id) for info in decoded.security_infos.pace_infos] == [(CAM, 13)]
    secrets = cam_card().secrets
    assert secrets is not None and secrets.ca_private_key is not None
    (key,) = decoded.chip_authentication_keys
    assert isinstance(key.public_key, ECPublicKeyInfo)
    assert key.public_key.point == point_of(secrets.ca_private_key.public_key())


def test_card_security_is_signed_by_the_document_signer() -> None:
    raw = card_security(ChipKeys.generate(CAM_PROFILE), sample_pki().document_signer, CAM_PROFILE)
    signer = CardSecurity.decode(raw).signer_certificates[0].der
    assert Certificate.from_der(signer) == Certificate.from_cryptography(sample_pki().ds_certificate)


@pytest.mark.parametrize(("profile", "field"), [
    (ChipProfile(pace_protocol=CAM, pace_parameter_id=12), "ca_curve"),  # CAM on P-256, CA key on brainpool
    (ChipProfile(pace_protocol=protocol_oid("id-PACE-ECDH-IM-AES-CBC-CMAC-128"), pace_parameter_id=10),
     "pace_protocol"),  # no integrated mapping on NIST P-224
    (ChipProfile(pace_protocol=protocol_oid("id-PACE-DH-GM-AES-CBC-CMAC-128"), pace_parameter_id=13),
     "pace_protocol"),  # DH on a curve's parameter ID
])
def test_perso_refuses_a_pace_protocol_the_chip_could_not_run(profile: ChipProfile, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        personalize(sample_resident(2), synthetic_portrait_jpeg(2), sample_pki().document_signer, profile=profile)
    assert raised.value.field == field
    assert isinstance(raised.value, CardlibError)
