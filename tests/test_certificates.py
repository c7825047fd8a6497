"""Certificate loading (explicit EC parameters included) and the single signature verifier."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asn1crypto import algos, cms, pem
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st

from cardlib.curves import by_name
from cardlib.errors import PKIError
from cardlib.lds.tlv import read_single
from cardlib.pki.certificates import Certificate, load_certificates
from cardlib.pki.signatures import (
    HASHES,
    ECPublicPoint,
    Scheme,
    SignatureAlgorithm,
    resolve_algorithm,
    sign,
    verify_signature,
    verify_signer_info,
)

DATA = b"to be signed"


@pytest.fixture(scope="module")
def vietnam(shared_data: Path) -> Certificate:
    return Certificate.from_der((shared_data / "csca" / "VN_CSCA_ePassport.cer").read_bytes())


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.BrainpoolP256R1())


def _signed_data(path: Path, wrapped: bool) -> cms.SignedData:
    data = path.read_bytes()
    return cms.ContentInfo.load(read_single(data, 0x77, file="EF.SOD").value if wrapped else data)["content"]


# Vietnam CSCA facts from shared/data/README.md (extracted from the ICAO master list).
def test_vietnam_csca_fields(vietnam: Certificate) -> None:
    assert vietnam.subject == "C=VN, O=Vietnam Government Information Security Commission, CN=CSCA ePassport Vietnam"
    assert vietnam.issuer == vietnam.subject and vietnam.is_self_issued and vietnam.country == "VN"
    assert vietnam.not_before.date().isoformat() == "2022-06-29"
    assert vietnam.not_after.date().isoformat() == "2037-10-01"
    assert vietnam.fingerprint.startswith("6b5fa6fe") and vietnam.fingerprint.endswith("91bd")
    assert vietnam.key_usage == {"key_cert_sign", "crl_sign"} and vietnam.is_ca and vietnam.path_length == 0
    assert vietnam.subject_key_identifier == vietnam.authority_key_identifier is not None
    assert vietnam.signature_algorithm["algorithm"].native == "sha512_ecdsa"
    assert vietnam.valid_at(datetime(2030, 1, 1, tzinfo=UTC)) and not vietnam.valid_at(datetime(2040, 1, 1, tzinfo=UTC))


def test_vietnam_explicit_parameters_map_to_brainpool_p512(vietnam: Certificate) -> None:
    assert vietnam.curve is by_name("brainpoolP512r1")
    assert isinstance(vietnam.public_key, ec.EllipticCurvePublicKey)
    assert vietnam.public_key.curve.name == "brainpoolP512r1"
    assert vietnam.verify_issued_by(vietnam)


def test_explicit_parameters_of_no_named_curve_are_refused(vietnam: Certificate) -> None:
    b = by_name("brainpoolP512r1").b.to_bytes(64, "big")
    assert vietnam.der.count(b) == 1
    forged = Certificate.from_der(vietnam.der.replace(b, b[:-1] + bytes([b[-1] ^ 1])))
    with pytest.raises(PKIError, match="equal no named curve"):
        forged.public_key  # noqa: B018
    with pytest.raises(PKIError):
        forged.verify_issued_by(forged)


def test_bsi_specimen_signer_on_brainpool_p224_verifies_through_python_ecdsa(shared_data: Path) -> None:
    """README: BSI 2008 EF.SOD, explicit brainpoolP224r1 DS key (cryptography lacks the curve), SHA-1."""
    signed = _signed_data(shared_data / "bsi2008" / "EF_SOD.bin", wrapped=True)
    ds = Certificate.from_der(signed["certificates"][0].chosen.dump())
    assert isinstance(ds.public_key, ECPublicPoint) and ds.public_key.curve.name == "brainpoolP224r1"
    content = signed["encap_content_info"]["content"].native
    assert verify_signer_info(signed["signer_infos"][0], ds.public_key, content)
    assert not verify_signer_info(signed["signer_infos"][0], ds.public_key, content + b"\x00")


def test_loes_specimen_rsa_signer_verifies(shared_data: Path) -> None:
    signed = _signed_data(shared_data / "loes2006" / "ef011D.bin", wrapped=True)
    ds = Certificate.from_der(signed["certificates"][0].chosen.dump())
    assert ds.subject == "CN=DS Test, OU=DS Test, O=Sdu Identification bv, C=NL"
    assert verify_signer_info(signed["signer_infos"][0], ds.public_key, signed["encap_content_info"]["content"].native)


def test_card_security_without_signed_attributes_verifies(shared_data: Path) -> None:
    signed = _signed_data(shared_data / "cardsecurity" / "efcardsecurity.dump", wrapped=False)
    ds = Certificate.from_der(signed["certificates"][0].chosen.dump())
    content = signed["encap_content_info"]["content"].native
    assert verify_signer_info(signed["signer_infos"][0], ds.public_key, content)
    assert not verify_signer_info(signed["signer_infos"][0], ds.public_key, content[:-1])


def test_pem_bundle_and_der_load(vietnam: Certificate, shared_data: Path) -> None:
    loes = Certificate.from_der(
        _signed_data(shared_data / "loes2006" / "ef011D.bin", wrapped=True)["certificates"][0].chosen.dump())
    bundle = pem.armor("CERTIFICATE", vietnam.der) + pem.armor("PRIVATE KEY", b"\x30\x00") + pem.armor(
        "CERTIFICATE", loes.der)
    assert load_certificates(bundle) == [vietnam, loes]
    assert load_certificates(vietnam.der) == [vietnam]
    with pytest.raises(PKIError, match="no certificate"):
        load_certificates(pem.armor("PRIVATE KEY", b"\x30\x00"))
    with pytest.raises(PKIError):
        load_certificates(b"\x30\x03\x02\x01\x00")


@settings(max_examples=50, deadline=None)
@given(choices=st.lists(st.sampled_from([0, 1]), max_size=4))
def test_pem_round_trip(vietnam: Certificate, shared_data: Path, choices: list[int]) -> None:
    loes = Certificate.from_der(
        _signed_data(shared_data / "loes2006" / "ef011D.bin", wrapped=True)["certificates"][0].chosen.dump())
    chosen = [[vietnam, loes][i] for i in choices] or [vietnam]
    loaded = load_certificates(b"".join(pem.armor("CERTIFICATE", c.der) for c in chosen))
    assert [c.der for c in loaded] == [c.der for c in chosen]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_damaged_certificate_raises_pki_error_or_no_longer_verifies(vietnam: Certificate, data: st.DataObject) -> None:
    der = bytearray(vietnam.der)
    if data.draw(st.booleans()):
        der = der[: data.draw(st.integers(0, len(der) - 1))]
    else:
        der[data.draw(st.integers(0, len(der) - 1))] ^= data.draw(st.integers(1, 255))
    try:
        damaged = Certificate.from_der(bytes(der))
        still_valid = damaged.verify_issued_by(vietnam)
    except PKIError:
        return
    assert not still_valid or (damaged.tbs_bytes == vietnam.tbs_bytes and damaged.signature == vietnam.signature)


@pytest.mark.parametrize("hash_name", sorted(HASHES))
@pytest.mark.parametrize("scheme", list(Scheme))
def test_sign_verify_round_trip(
    scheme: Scheme, hash_name: str, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    key = ec_key if scheme is Scheme.ECDSA else rsa_key
    algorithm = SignatureAlgorithm(scheme, hash_name)
    signature = sign(key, DATA, scheme, hash_name)
    identifier = algos.SignedDigestAlgorithm.load(algorithm.identifier().dump())
    assert verify_signature(key.public_key(), signature, DATA, identifier)
    assert not verify_signature(key.public_key(), signature, DATA + b"!", identifier)
    assert resolve_algorithm(identifier) == (scheme, hash_name)


def test_identifiers_follow_icao_null_rules() -> None:
    pkcs1 = SignatureAlgorithm(Scheme.RSA_PKCS1V15, "sha256")
    assert pkcs1.identifier().dump() == bytes.fromhex("300d06092a864886f70d01010b0500")  # sha256WithRSAEncryption, NULL
    assert pkcs1.digest_identifier().dump() == bytes.fromhex("300b0609608648016503040201")  # sha256, no NULL
    assert SignatureAlgorithm(Scheme.ECDSA, "sha384").identifier().dump() == bytes.fromhex("300a06082a8648ce3d040303")


def test_plain_ecdsa_signature(ec_key: ec.EllipticCurvePrivateKey) -> None:
    """BSI TR-03111 ecdsa-plain-SHA256 (0.4.0.127.0.7.1.1.4.1.3): r‖s, 32 bytes each on brainpoolP256r1."""
    r, s = decode_dss_signature(ec_key.sign(DATA, ec.ECDSA(hashes.SHA256())))
    plain = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert verify_signature(ec_key.public_key(), plain, DATA, "0.4.0.127.0.7.1.1.4.1.3")
    assert not verify_signature(ec_key.public_key(), plain[:-1], DATA, "0.4.0.127.0.7.1.1.4.1.3")
    assert not verify_signature(ec_key.public_key(), plain, DATA, "1.2.840.10045.4.3.2")  # DER expected there


def test_pss_parameters_are_read_from_the_identifier(rsa_key: rsa.RSAPrivateKey) -> None:
    signature = rsa_key.sign(DATA, padding.PSS(mgf=padding.MGF1(hashes.SHA1()), salt_length=20), hashes.SHA256())

    def identifier(salt: int) -> algos.SignedDigestAlgorithm:
        return algos.SignedDigestAlgorithm({"algorithm": "rsassa_pss", "parameters": algos.RSASSAPSSParams({
            "hash_algorithm": {"algorithm": "sha256"},
            "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha1"}},
            "salt_length": salt})})

    assert verify_signature(rsa_key.public_key(), signature, DATA, identifier(20))
    assert not verify_signature(rsa_key.public_key(), signature, DATA, identifier(32))


def test_pss_defaults_apply_when_parameters_are_absent(rsa_key: rsa.RSAPrivateKey) -> None:
    """RFC 4055 §3.1 defaults: SHA-1, MGF1 with SHA-1, salt length 20."""
    signature = rsa_key.sign(DATA, padding.PSS(mgf=padding.MGF1(hashes.SHA1()), salt_length=20), hashes.SHA1())
    assert verify_signature(rsa_key.public_key(), signature, DATA, "1.2.840.113549.1.1.10")


def test_key_only_oid_takes_hash_from_digest_algorithm(ec_key: ec.EllipticCurvePrivateKey) -> None:
    signature = sign(ec_key, DATA, Scheme.ECDSA, "sha224")
    assert verify_signature(ec_key.public_key(), signature, DATA, "1.2.840.10045.2.1", digest_algorithm="sha224")
    with pytest.raises(PKIError):
        verify_signature(ec_key.public_key(), signature, DATA, "1.2.840.10045.2.1")


@pytest.mark.parametrize("oid", ["1.3.101.112", "1.2.840.113549.1.1.4", "2.16.840.1.101.3.4.3.10", "1.2.3.4"])
def test_unsupported_algorithms_raise(oid: str, rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(PKIError, match="unsupported"):
        verify_signature(rsa_key.public_key(), b"\x00" * 256, DATA, oid)


def test_key_of_the_wrong_type_raises(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(PKIError):
        verify_signature(rsa_key.public_key(), b"\x00" * 64, DATA, "1.2.840.10045.4.3.2")
    with pytest.raises(PKIError):
        verify_signature(ec_key.public_key(), b"\x00" * 64, DATA, "1.2.840.113549.1.1.11")
    with pytest.raises(PKIError):
        sign(rsa_key, DATA, Scheme.ECDSA, "sha256")
    with pytest.raises(PKIError):
        sign(ec_key, DATA, Scheme.RSA_PSS, "sha256")
    with pytest.raises(PKIError):
        SignatureAlgorithm(Scheme.ECDSA, "md5")


def test_point_off_the_curve_is_refused() -> None:
    curve = by_name("brainpoolP224r1")
    with pytest.raises(PKIError, match="not a point"):
        verify_signature(ECPublicPoint(curve, curve.gx, curve.gy + 1), b"\x30\x00", DATA, "1.2.840.10045.4.1")


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=600), st.sampled_from(["1.2.840.10045.4.3.2", "0.4.0.127.0.7.1.1.4.1.3"]))
def test_random_ecdsa_signatures_never_verify(signature: bytes, oid: str) -> None:
    key = ec.derive_private_key(7, ec.BrainpoolP256R1()).public_key()
    curve = by_name("brainpoolP224r1")
    point = ECPublicPoint(curve, curve.gx, curve.gy)
    assert verify_signature(key, signature, DATA, oid) is False
    assert verify_signature(point, signature, DATA, oid) is False


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["1.2.840.113549.1.1.11", "1.2.840.113549.1.1.10"]))
def test_random_rsa_signatures_never_verify(signature: bytes, oid: str) -> None:
    key = rsa.RSAPublicNumbers(65537, int.from_bytes(hashlib.sha512(b"modulus").digest() * 4, "big") | 1).public_key()
    assert verify_signature(key, signature, DATA, oid) is False
