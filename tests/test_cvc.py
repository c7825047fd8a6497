"""CV certificates (BSI TR-03110-3 App. C): a real BSI test CVCA, round trips, malformed input, chain checks."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from vectors import TESTVECTORS

from cardlib.curves import by_name
from cardlib.errors import DecodeError, EncodeError
from cardlib.lds.oids import ID_IS, ID_TA_ECDSA, ID_TA_RSA
from cardlib.lds.tlv import children, encode_tlv, read_tlv
from cardlib.pki.cvc.certificate import CertificateBody, CVCertificate
from cardlib.pki.cvc.chain import ChainFailure, CVCChainError, TrustPoint, validate_chain
from cardlib.pki.cvc.chat import CHAT, AccessRight, Role
from cardlib.pki.cvc.keys import CVPublicKey, cv_signer
from cardlib.pki.eac import EACPKI, EACConfig

BSI_CVCA = TESTVECTORS / "eac" / "DETESTeID00005.cvcert"
TODAY = date(2030, 6, 1)


@pytest.fixture(scope="module")
def pki() -> EACPKI:
    return EACPKI.generate(today=TODAY)


def test_bsi_test_cvca_decodes_reencodes_and_verifies() -> None:
    data = BSI_CVCA.read_bytes()
    certificate = CVCertificate.decode(data)
    assert (certificate.car, certificate.chr, certificate.role) == ("DETESTeID00005", "DETESTeID00005", Role.CVCA)
    assert certificate.body.public_key.curve == by_name("brainpoolP256r1")
    assert certificate.body.public_key.oid == ID_TA_ECDSA + ".3"
    assert certificate.body.chat == CHAT("0.4.0.127.0.7.3.1.2.2", bytes.fromhex("FC0F13FFFF"))
    assert certificate.body.chat.rights == AccessRight.NONE  # an authentication terminal CHAT, not id-IS
    assert (certificate.body.effective, certificate.body.expiration) == (date(2015, 5, 4), date(2018, 5, 4))
    assert certificate.encode() == data
    assert certificate.verify_signature(certificate.body.public_key)
    tampered = bytearray(data)
    tampered[-1] ^= 1
    assert not CVCertificate.decode(bytes(tampered)).verify_signature(certificate.body.public_key)


def test_generated_chain_round_trips_and_validates(pki: EACPKI) -> None:
    for certificate in (pki.cvca, pki.dv, pki.inspection_system):
        assert CVCertificate.decode(certificate.encode()).encode() == certificate.encode()
    assert pki.cvca.body.public_key.curve is not None  # the CVCA writes its domain parameters
    assert CVCertificate.decode(pki.dv.encode()).body.public_key.curve is None  # a DV inherits them
    key, rights, today = validate_chain(pki.chain, [pki.trust_point], TODAY)
    assert key.chr == pki.inspection_system.chr and key.role is Role.INSPECTION_SYSTEM
    assert rights == AccessRight.READ_DG3 | AccessRight.READ_DG4
    assert today == TODAY


def test_current_date_moves_forward_from_domestic_certificates(pki: EACPKI) -> None:
    *_, today = validate_chain(pki.chain, [pki.trust_point], TODAY - timedelta(days=10))
    assert today == TODAY  # the DV's effective date


def _reissue(pki: EACPKI, certificate: CVCertificate, issuer_key: ec.EllipticCurvePrivateKey,
             **changes: object) -> CVCertificate:
    body = replace(certificate.body, **changes)  # type: ignore[arg-type]
    return CVCertificate.issue(body, cv_signer(issuer_key, pki.cvca.body.public_key.oid))


def test_chain_to_another_cvca_is_refused(pki: EACPKI) -> None:
    other = EACPKI.generate(EACConfig(cvca_mnemonic="OTHERCA"), today=TODAY)
    with pytest.raises(CVCChainError) as caught:
        validate_chain(other.chain, [pki.trust_point], TODAY)
    assert caught.value.failure is ChainFailure.UNKNOWN_AUTHORITY
    same_name = EACPKI.generate(today=TODAY)  # same CAR, another key: the signature fails
    with pytest.raises(CVCChainError) as caught:
        validate_chain(same_name.chain, [pki.trust_point], TODAY)
    assert caught.value.failure is ChainFailure.BAD_SIGNATURE and caught.value.chr == same_name.dv.chr


def test_expired_terminal_certificate_is_refused(pki: EACPKI) -> None:
    expired = _reissue(pki, pki.inspection_system, pki.dv_key, effective=TODAY - timedelta(days=40),
                       expiration=TODAY - timedelta(days=1))
    with pytest.raises(CVCChainError) as caught:
        validate_chain([pki.dv, expired], [pki.trust_point], TODAY)
    assert caught.value.failure is ChainFailure.EXPIRED and "expired" in str(caught.value)


def test_rights_are_the_and_of_the_chain(pki: EACPKI) -> None:
    narrow_dv = _reissue(pki, pki.dv, pki.cvca_key, chat=CHAT.inspection_system(Role.DV_DOMESTIC,
                                                                                AccessRight.READ_DG4))
    _, rights, _ = validate_chain([narrow_dv, pki.inspection_system], [pki.trust_point], TODAY)
    assert rights == AccessRight.READ_DG4


def test_role_order_is_enforced(pki: EACPKI) -> None:
    # an inspection system certificate signed directly by the CVCA
    direct = _reissue(pki, pki.inspection_system, pki.cvca_key, car=pki.cvca.chr)
    with pytest.raises(CVCChainError) as caught:
        validate_chain([direct], [pki.trust_point], TODAY)
    assert caught.value.failure is ChainFailure.ROLE


def test_rsa_keys_sign_and_verify() -> None:
    key = rsa.generate_private_key(65537, 2048)
    for oid in (ID_TA_RSA + ".2", ID_TA_RSA + ".4"):
        public = CVPublicKey.for_key(key, oid)
        body = CertificateBody("VNRSACVCA00001", public, "VNRSACVCA00001",
                               CHAT.inspection_system(Role.CVCA, AccessRight.READ_DG3), TODAY, TODAY)
        certificate = CVCertificate.decode(CVCertificate.issue(body, cv_signer(key, oid)).encode())
        assert certificate.body.public_key == public
        assert certificate.verify_signature(public)


def test_chat_decodes_role_and_rights() -> None:
    chat = CHAT.inspection_system(Role.DV_FOREIGN, AccessRight.READ_DG3)
    assert chat.data == bytes([0x41]) and chat.oid == ID_IS
    assert (chat.role, chat.rights) == (Role.DV_FOREIGN, AccessRight.READ_DG3)
    assert AccessRight(3).names() == ["DG3", "DG4"]


def _with_element(certificate: CVCertificate, tag: int, value: bytes) -> bytes:
    """``certificate`` with the value of body element ``tag`` replaced (lengths redone, signature kept)."""
    body = read_tlv(certificate.body_bytes)
    elements = [encode_tlv(obj.tag, value if obj.tag == tag else obj.value) for obj in children(body)]
    return encode_tlv(0x7F21, encode_tlv(0x7F4E, b"".join(elements)) + encode_tlv(0x5F37, certificate.signature))


@pytest.mark.parametrize(("tag", "value", "field"), [
    (0x5F24, bytes([3, 0, 1, 3, 0, 1]), "certificate expiration date"),  # a digit over 9
    (0x5F25, bytes([3, 0, 0, 2, 3, 1]), "certificate effective date"),  # 31 February
    (0x5F25, bytes([3, 0, 0, 6, 0]), "certificate effective date"),  # five digits
    (0x5F24, bytes([2, 9, 0, 1, 0, 1]), "certificate expiration date"),  # before the effective date
    (0x5F29, b"\x01", "certificate profile identifier"),
    (0x42, b"VNX", "certification authority reference"),
    (0x5F20, "VNTESTIS\u00ff0001".encode("latin-1"), "certificate holder reference"),  # not ASCII
    (0x7F4C, encode_tlv(0x06, bytes.fromhex("04007F000703010201")), "CHAT"),  # no discretionary data
    (0x7F4C, encode_tlv(0x06, b"\x2a\x86") + encode_tlv(0x53, b"\x01"), "CHAT terminal type"),  # truncated OID
    (0x7F49, encode_tlv(0x06, bytes.fromhex("04007F00070202020203")), "public key"),  # no point
    (0x7F49, encode_tlv(0x06, bytes.fromhex("2A864886F70D01010B")) + encode_tlv(0x86, b"\x04"),
     "public key algorithm"),  # an X.509 OID
])
def test_malformed_fields_are_named(pki: EACPKI, tag: int, value: bytes, field: str) -> None:
    with pytest.raises(DecodeError) as caught:
        CVCertificate.decode(_with_element(pki.inspection_system, tag, value))
    assert caught.value.field == field
    assert caught.value.file == "CV certificate" and caught.value.offset is not None


def test_structural_damage_is_a_decode_error(pki: EACPKI) -> None:
    data = pki.dv.encode()
    for broken in (data[:-5], data + b"\x00", b"\x7f\x21\x00", encode_tlv(0x7F21, data[4:40]),
                   data.replace(bytes.fromhex("5F20"), bytes.fromhex("5F21"), 1)):
        with pytest.raises(DecodeError):
            CVCertificate.decode(broken)


def test_explicit_parameters_must_be_a_named_curve(pki: EACPKI) -> None:
    curve = by_name("brainpoolP256r1")
    wrong_b = (curve.b ^ 1).to_bytes(32, "big")
    data = pki.cvca.encode().replace(encode_tlv(0x83, curve.b.to_bytes(32, "big")), encode_tlv(0x83, wrong_b), 1)
    with pytest.raises(DecodeError, match="equal no named curve"):
        CVCertificate.decode(data)


def test_off_curve_point_is_refused(pki: EACPKI) -> None:
    point = pki.cvca.body.public_key.point
    data = pki.cvca.encode().replace(point, point[:-1] + bytes([point[-1] ^ 1]), 1)
    with pytest.raises(DecodeError, match="not an uncompressed point on brainpoolP256r1"):
        CVCertificate.decode(data)


def test_dates_outside_the_century_cannot_be_encoded(pki: EACPKI) -> None:
    body = replace(pki.dv.body, expiration=date(2100, 1, 1))
    with pytest.raises(EncodeError):
        body.encode()


def test_trust_point_of_a_dv_takes_the_cvca_curve(pki: EACPKI) -> None:
    point = TrustPoint.of(CVCertificate.decode(pki.dv.encode()), pki.cvca.body.public_key.curve)
    assert point.public_key.curve == by_name("brainpoolP256r1")
