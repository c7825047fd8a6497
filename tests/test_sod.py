"""EF.SOD: the BSI 2008 and LOES 2006 specimens, signing (ECDSA, RSA-PSS, RSA PKCS#1 v1.5), properties."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import ecdsa
import pytest
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from cardlib.errors import DecodeError, EncodeError, ValidationError
from cardlib.lds.asn1 import ECPublicKeyInfo, decode_public_key_info
from cardlib.lds.signeddata import SignerIdentifier
from cardlib.lds.sod import SOD, LDSSecurityObject
from cardlib.lds.tlv import encode_tlv, read_tlv
from cardlib.pki.signatures import DocumentSigner, Scheme, SignatureAlgorithm

EC_KEY = ec.generate_private_key(ec.BrainpoolP256R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def self_signed(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> x509.Certificate:
    """A throwaway Document Signer certificate (the real test PKI lives in cardlib.pki)."""
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"), x509.NameAttribute(NameOID.COMMON_NAME, "DS")])
    now = datetime.now(UTC)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(0x1234).not_valid_before(now).not_valid_after(now + timedelta(days=1))
            .sign(key, hashes.SHA256()))


EC_CERT = self_signed(EC_KEY)
RSA_CERT = self_signed(RSA_KEY)
EC_SIGNER = DocumentSigner(EC_CERT, EC_KEY, SignatureAlgorithm(Scheme.ECDSA, "sha256"))
RSA_PSS_SIGNER = DocumentSigner(RSA_CERT, RSA_KEY, SignatureAlgorithm(Scheme.RSA_PSS, "sha256"))
RSA_PKCS1_SIGNER = DocumentSigner(RSA_CERT, RSA_KEY, SignatureAlgorithm(Scheme.RSA_PKCS1V15, "sha384"))
CCCD_HASHES = {n: hashlib.sha256(bytes([n])).digest() for n in (1, 2, 3, 13, 14, 15)}
SIGNED_SOD = SOD.sign(LDSSecurityObject("sha256", CCCD_HASHES), EC_SIGNER).encode()


@pytest.mark.parametrize(("path", "algorithm", "files"), [
    ("bsi2008/EF_SOD.bin", "sha1", {1: "bsi2008/Datagroup1.bin", 2: "bsi2008/Datagroup2.bin",
                                    3: "bsi2008/Datagroup3.bin", 14: "bsi2008/Datagroup14.bin"}),
    ("loes2006/ef011D.bin", "sha256", {1: "loes2006/ef0101.bin", 2: "loes2006/ef0102.bin",
                                       15: "loes2006/ef010F.bin"}),
])
def test_specimen_hashes_match_data_groups(shared_data: Path, path: str, algorithm: str, files: dict[int, str]) -> None:
    raw = (shared_data / path).read_bytes()
    sod = SOD.decode(raw)
    assert sod.encode() == raw
    lso = sod.lds_security_object
    assert lso.hash_algorithm == algorithm
    assert lso.dg_hashes == {n: hashlib.new(algorithm, (shared_data / f).read_bytes()).digest()
                             for n, f in files.items()}
    assert sod.econtent_type == "2.23.136.1.1.1"
    assert not sod.uses_legacy_content_type
    assert sod.message_digest == hashlib.new(algorithm, sod.econtent).digest()
    assert sod.content_type_attribute == "2.23.136.1.1.1"
    assert (sod.version, sod.signer_version, sod.crl_count) == (3, 1, 0)
    assert sod.digest_algorithms == (algorithm,)
    assert sod.digest_algorithm == algorithm
    assert sod.sid.matches(sod.signer_certificates[0])


def test_bsi_signature_covers_signed_attributes(shared_data: Path) -> None:
    sod = SOD.decode((shared_data / "bsi2008/EF_SOD.bin").read_bytes())
    assert sod.signature_algorithm.name == "sha1_ecdsa"
    assert (sod.signature_algorithm.scheme, sod.signature_algorithm.hash_algorithm) == ("ecdsa", "sha1")
    assert sod.sid.serial_number == 4711
    assert sod.sid.issuer_text == "Common Name: CSCA BDR TEST 19.09.07"
    (certificate,) = sod.signer_certificates
    assert certificate.certificate is not None  # loads, but its explicit brainpoolP224r1 key is beyond cryptography
    key = _certificate_key(certificate.der)
    assert key.curve.name == "brainpoolP224r1"
    verifier = ecdsa.VerifyingKey.from_string(key.point, curve=ecdsa.curves.BRAINPOOLP224r1)
    assert sod.signed_attributes is not None
    assert verifier.verify(sod.signature, sod.signed_attributes, hashfunc=hashlib.sha1,
                           sigdecode=ecdsa.util.sigdecode_der)


def _certificate_key(der: bytes) -> ECPublicKeyInfo:
    key = decode_public_key_info(asn1_x509.Certificate.load(der).public_key.dump(), file="DS certificate")
    assert isinstance(key, ECPublicKeyInfo)
    return key


def test_loes_signature_covers_signed_attributes(shared_data: Path) -> None:
    sod = SOD.decode((shared_data / "loes2006/ef011D.bin").read_bytes())
    assert sod.signature_algorithm.scheme == "rsa-pkcs1"
    assert sod.signature_algorithm.parameters == b"\x05\x00"
    certificate = sod.signer_certificates[0].certificate
    assert certificate is not None
    public_key = certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    assert sod.signed_attributes is not None
    public_key.verify(sod.signature, sod.signed_attributes, padding.PKCS1v15(), hashes.SHA256())


def test_sign_ecdsa_follows_icao_profile() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    lso = LDSSecurityObject("sha256", CCCD_HASHES)
    sod = SOD.sign(lso, EC_SIGNER, signing_time=when)
    assert sod.lds_security_object == lso
    assert (sod.version, sod.signer_version, sod.crl_count, sod.signing_time) == (3, 1, 0, when)
    assert sod.message_digest == hashlib.sha256(sod.econtent).digest()
    assert sod.signature_algorithm.name == "sha256_ecdsa" and sod.signature_algorithm.parameters is None
    assert [c.der for c in sod.signer_certificates] == [EC_CERT.public_bytes(serialization.Encoding.DER)]
    assert sod.sid.serial_number == 0x1234 and sod.sid.matches(sod.signer_certificates[0])
    signed = cms.ContentInfo.load(read_tlv(sod.raw).value)["content"]
    sha256_without_null = bytes.fromhex("300B0609608648016503040201")
    assert signed["digest_algorithms"][0].dump() == sha256_without_null
    assert signed["signer_infos"][0]["digest_algorithm"].dump() == sha256_without_null
    assert read_tlv(sod.econtent).value.find(sha256_without_null) > 0
    assert sod.signed_attributes is not None
    EC_KEY.public_key().verify(sod.signature, sod.signed_attributes, ec.ECDSA(hashes.SHA256()))


def test_sign_rsa_pss_and_pkcs1() -> None:
    lso = LDSSecurityObject("sha256", CCCD_HASHES)
    pss = SOD.sign(lso, RSA_PSS_SIGNER)
    algorithm = pss.signature_algorithm
    assert (algorithm.scheme, algorithm.hash_algorithm, algorithm.mgf_hash_algorithm, algorithm.salt_length) == (
        "rsa-pss", "sha256", "sha256", 32)
    assert pss.signed_attributes is not None
    RSA_KEY.public_key().verify(pss.signature, pss.signed_attributes,
                                padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    pkcs1 = SOD.sign(lso, RSA_PKCS1_SIGNER)
    assert pkcs1.signature_algorithm.name == "sha384_rsa"
    assert pkcs1.signature_algorithm.parameters == b"\x05\x00"  # RSA signature AlgorithmIdentifiers keep NULL
    assert pkcs1.signed_attributes is not None
    RSA_KEY.public_key().verify(pkcs1.signature, pkcs1.signed_attributes, padding.PKCS1v15(), hashes.SHA384())


def test_sign_rejects_naive_signing_time() -> None:
    lso = LDSSecurityObject("sha256", CCCD_HASHES)
    with pytest.raises(EncodeError):
        SOD.sign(lso, EC_SIGNER, signing_time=datetime(2026, 1, 1))


def test_lds_security_object_v1_with_version_info() -> None:
    lso = LDSSecurityObject("sha256", CCCD_HASHES, 1, "0108", "040000")
    assert LDSSecurityObject.decode(lso.encode()) == lso
    files = {1: b"\x61\x00", 2: b"\x75\x00"}
    assert LDSSecurityObject.for_files("sha256", files).dg_hashes[2] == hashlib.sha256(b"\x75\x00").digest()


@pytest.mark.parametrize(("args", "field"), [
    (("sha256", {1: b"\x00" * 20}), "dataGroupHashValue"),
    (("sha256", {17: b"\x00" * 32}), "dataGroupNumber"),
    (("md5", {1: b"\x00" * 16}), "hashAlgorithm"),
    (("sha256", {1: b"\x00" * 32}, 1), "version"),
])
def test_lds_security_object_validation(args: tuple[object, ...], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        LDSSecurityObject(*args)  # type: ignore[arg-type]
    assert info.value.field == field


def test_legacy_content_type_is_accepted(shared_data: Path) -> None:
    info = cms.ContentInfo.load(read_tlv((shared_data / "loes2006/ef011D.bin").read_bytes()).value)
    info["content"]["encap_content_info"]["content_type"] = "1.3.27.1.1.1"
    sod = SOD.decode(encode_tlv(0x77, info.dump(force=True)))
    assert sod.uses_legacy_content_type
    assert sod.econtent_type == "1.3.27.1.1.1"


def test_wrong_content_names_file() -> None:
    with pytest.raises(DecodeError) as info:
        SOD.decode(encode_tlv(0x77, bytes.fromhex("300d06092a864886f70d010701a0000400")[:-3] + b"\x00"))
    assert info.value.file == "EF.SOD"
    with pytest.raises(DecodeError, match="outer tag 30"):
        SOD.decode(bytes.fromhex("3000"))


hash_sets = st.dictionaries(st.integers(1, 16), st.binary(min_size=32, max_size=32), min_size=1, max_size=16)


@settings(max_examples=40, deadline=None)
@given(hash_sets)
def test_sign_decode_round_trip(dg_hashes: dict[int, bytes]) -> None:
    lso = LDSSecurityObject("sha256", dg_hashes)
    sod = SOD.sign(lso, EC_SIGNER)
    again = SOD.decode(sod.encode())
    assert again == sod
    assert again.lds_security_object.dg_hashes == dg_hashes


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_garbage_raises_only_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        SOD.decode(data)
    with contextlib.suppress(DecodeError):
        SOD.decode(encode_tlv(0x77, data))
    with contextlib.suppress(DecodeError):
        LDSSecurityObject.decode(data)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_truncated_or_corrupted_sod_raises_only_decode_error(data: st.DataObject) -> None:
    raw = SIGNED_SOD
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(DecodeError):
        SOD.decode(raw[:cut])
    flipped = bytearray(raw)
    flipped[cut] ^= data.draw(st.integers(1, 255))
    with contextlib.suppress(DecodeError):
        SOD.decode(bytes(flipped))


def test_sid_names_its_certificate_equivalently_across_order_case_and_string_type() -> None:
    # RFC 5280 §7.1 name matching, in any attribute order: what MY's real SOD needs (testvectors/genuine).
    sod = SOD.decode(SIGNED_SOD)
    (certificate,) = sod.signer_certificates
    issuer = asn1_x509.Name.load(sod.sid.issuer or b"")
    reordered = asn1_x509.Name.build({"common_name": "ds", "country_name": "vn"}, use_printable=True)
    assert reordered.dump() != issuer.dump()
    loose = dataclasses.replace(sod.sid, issuer=reordered.dump())
    assert not loose.matches(certificate)
    assert loose.names_equivalently(certificate)
    assert not dataclasses.replace(loose, serial_number=0x1235).names_equivalently(certificate)
    other = asn1_x509.Name.build({"common_name": "DS2", "country_name": "VN"}).dump()
    assert not dataclasses.replace(sod.sid, issuer=other).names_equivalently(certificate)
    assert not SignerIdentifier(subject_key_identifier=b"\x01" * 20).names_equivalently(certificate)
