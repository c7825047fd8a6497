"""The test PKI follows the ICAO 9303-12 certificate and CRL profile and survives save/load."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ObjectIdentifier

from cardlib.errors import PKIError
from cardlib.pki.certificates import Certificate, RevocationList
from cardlib.pki.profile import DocumentTypeListSyntax, KeySpec, PKIConfig
from cardlib.pki.signatures import Scheme, verify_signature
from cardlib.testing.pki import TestPKI

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pki() -> TestPKI:
    return TestPKI.generate(now=NOW)


def _extension(cert: x509.Certificate, oid: str) -> x509.Extension[x509.ExtensionType]:
    return cert.extensions.get_extension_for_oid(ObjectIdentifier(oid))


def test_default_algorithms_match_the_real_card(pki: TestPKI) -> None:
    csca_key, ds_key = pki.csca_key, pki.ds_key
    assert isinstance(csca_key, ec.EllipticCurvePrivateKey) and csca_key.curve.name == "brainpoolP512r1"
    assert isinstance(ds_key, ec.EllipticCurvePrivateKey) and ds_key.curve.name == "brainpoolP384r1"
    assert pki.csca_certificate.signature_algorithm_oid.dotted_string == "1.2.840.10045.4.3.4"  # ecdsa-with-SHA512
    assert pki.document_signer.algorithm.hash_name == "sha384"


def test_csca_profile(pki: TestPKI) -> None:
    csca = pki.csca_certificate
    usage = csca.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign and not usage.value.digital_signature
    constraints = csca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    assert csca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert csca.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    assert _extension(csca, "2.5.29.16")
    years = (csca.not_valid_after_utc - csca.not_valid_before_utc).days / 365.25
    assert 13 <= years <= 15
    assert csca.subject == csca.issuer


def test_document_signer_profile(pki: TestPKI) -> None:
    ds = pki.ds_certificate
    usage = ds.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    aki = ds.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    csca_ski = pki.csca_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == csca_ski.digest
    with pytest.raises(x509.ExtensionNotFound):
        ds.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    period = asn1_x509.PrivateKeyUsagePeriod.load(_extension(ds, "2.5.29.16").value.public_bytes())
    assert period["not_after"].native - period["not_before"].native <= timedelta(days=92)
    types = DocumentTypeListSyntax.load(_extension(ds, "2.23.136.1.1.6.2").value.public_bytes())
    assert types["version"].native == 0 and types["doc_type_list"].native == ["ID"]
    assert 9.9 <= (ds.not_valid_after_utc - ds.not_valid_before_utc).days / 365.25 <= 10.1
    assert ds.issuer == pki.csca_certificate.subject


def test_country_is_printable_string_and_equal(pki: TestPKI) -> None:
    for cert in (pki.csca_certificate, pki.ds_certificate):
        parsed = asn1_x509.Certificate.load(Certificate.from_cryptography(cert).der)
        for name in (parsed.subject, parsed.issuer):
            countries = [a["value"] for rdn in name.chosen for a in rdn if a["type"].native == "country_name"]
            assert [(c.native, c.name) for c in countries] == [("VN", "printable_string")]


def test_crl_profile_and_signature(pki: TestPKI) -> None:
    crl = pki.crl
    assert crl.next_update_utc is not None and crl.next_update_utc - crl.last_update_utc <= timedelta(days=90)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 1
    assert crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    assert RevocationList.from_cryptography(crl).verify_issued_by(Certificate.from_cryptography(pki.csca_certificate))


def test_chain_signatures_verify(pki: TestPKI) -> None:
    csca = Certificate.from_cryptography(pki.csca_certificate)
    ds = Certificate.from_cryptography(pki.ds_certificate)
    assert csca.verify_issued_by(csca) and ds.verify_issued_by(csca)
    assert not csca.verify_issued_by(ds)


def test_document_signer_signs_verifiably(pki: TestPKI) -> None:
    signer = pki.document_signer
    signature = signer.sign(b"signed attributes")
    ds = Certificate.from_cryptography(signer.certificate)
    identifier = signer.algorithm.identifier()
    assert verify_signature(ds.public_key, signature, b"signed attributes", identifier)
    assert not verify_signature(ds.public_key, signature, b"signed attributeS", identifier)
    assert "PRIVATE" not in repr(signer) and "private_key" not in repr(signer)


def test_rotation_issues_a_new_signer(pki: TestPKI) -> None:
    rotated = pki.rotate_document_signer(now=NOW + timedelta(days=90))
    assert rotated.ds_certificate.serial_number != pki.ds_certificate.serial_number
    assert rotated.ds_certificate.public_key() != pki.ds_certificate.public_key()
    assert rotated.csca_certificate is pki.csca_certificate
    assert Certificate.from_cryptography(rotated.ds_certificate).verify_issued_by(
        Certificate.from_cryptography(pki.csca_certificate))


def test_revocation_accumulates_with_increasing_crl_number(pki: TestPKI) -> None:
    first = pki.revoke(pki.ds_certificate, now=NOW + timedelta(days=1))
    rotated = first.rotate_document_signer(now=NOW + timedelta(days=2))
    second = rotated.revoke(rotated.ds_certificate, now=NOW + timedelta(days=3))
    crl = RevocationList.from_cryptography(second.crl)
    assert crl.crl_number == 3
    assert crl.revoked_serials == {pki.ds_certificate.serial_number, rotated.ds_certificate.serial_number}


@pytest.mark.parametrize("spec", [
    KeySpec.ec("secp256r1", "sha256"),
    KeySpec.rsa(2048, "sha256", pss=True),
    KeySpec.rsa(2048, "sha384", pss=False),
])
def test_selectable_algorithms(spec: KeySpec) -> None:
    pki = TestPKI.generate(PKIConfig(csca_key=spec, ds_key=spec), now=NOW)
    csca = Certificate.from_cryptography(pki.csca_certificate)
    ds = Certificate.from_cryptography(pki.ds_certificate)
    assert ds.verify_issued_by(csca)
    assert RevocationList.from_cryptography(pki.crl).verify_issued_by(csca)
    expected = {Scheme.ECDSA: "1.2.840.10045.4.3.2", Scheme.RSA_PSS: "1.2.840.113549.1.1.10",
                Scheme.RSA_PKCS1V15: "1.2.840.113549.1.1.12"}[spec.scheme]
    assert csca.signature_algorithm["algorithm"].dotted == expected
    assert isinstance(pki.csca_key, rsa.RSAPrivateKey) == (spec.scheme is not Scheme.ECDSA)


def test_config_rejects_profile_violations() -> None:
    with pytest.raises(PKIError):
        PKIConfig(csca_validity_years=20)
    with pytest.raises(PKIError):
        PKIConfig(ds_key_usage_days=365)
    with pytest.raises(PKIError):
        PKIConfig(country="vn")
    with pytest.raises(PKIError):
        KeySpec.rsa(1024, "sha256")
    with pytest.raises(PKIError):
        KeySpec.ec("brainpoolP224r1", "sha224")  # cryptography cannot generate keys on it


def test_save_and_load_round_trip(pki: TestPKI, tmp_path: Path) -> None:
    pki.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crl.pem", "csca.key.pem", "csca.pem", "ds.key.pem", "ds.pem"]
    for key_file in ("csca.key.pem", "ds.key.pem"):
        assert stat.S_IMODE((tmp_path / key_file).stat().st_mode) == 0o600
        assert (tmp_path / key_file).read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = TestPKI.load(tmp_path)
    assert loaded.csca_certificate == pki.csca_certificate and loaded.ds_certificate == pki.ds_certificate
    assert loaded.crl == pki.crl
    assert loaded.ds_key.public_key() == pki.ds_key.public_key()
    assert loaded.csca_key.public_key() == pki.csca_key.public_key()


def test_load_reports_missing_and_corrupt_files(pki: TestPKI, tmp_path: Path) -> None:
    pki.save(tmp_path)
    (tmp_path / "ds.key.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(PKIError, match=r"ds\.key\.pem"):
        TestPKI.load(tmp_path)
    (tmp_path / "crl.pem").unlink()
    with pytest.raises(PKIError, match=r"crl\.pem"):
        TestPKI.load(tmp_path)


def test_repr_hides_keys(pki: TestPKI) -> None:
    text = repr(pki)
    assert text.startswith("TestPKI(csca='CN=Test CSCA Vietnam") and "PrivateKey" not in text and "key" not in text
