"""ICAO 9303-12 profile lint: our own PKI conforms, each deviation is named with severity and clause,
and the real master lists and Vietnam's CSCA are linted without crashing."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cardlib.pki.certificates import Certificate, RevocationList
from cardlib.pki.lint import Finding, Role, Severity, lint_certificate, lint_crl
from cardlib.pki.masterlist import MasterList
from cardlib.testing.pki import sample_pki

NOW = datetime(2026, 1, 15, tzinfo=UTC)
KEY = ec.generate_private_key(ec.SECP256R1())


def _name(country: str, common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, country),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: x509.Name, extensions: list[tuple[x509.ExtensionType, bool]],
                 issuer: x509.Name | None = None) -> Certificate:
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer or subject)
               .public_key(KEY.public_key()).serial_number(12345).not_valid_before(NOW)
               .not_valid_after(NOW + timedelta(days=3650)))
    for value, critical in extensions:
        builder = builder.add_extension(value, critical=critical)
    return Certificate.from_cryptography(builder.sign(KEY, hashes.SHA256()))


def _usage(*, sign: bool, certify: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=certify, crl_sign=certify,
                         encipher_only=False, decipher_only=False)


def _checks(findings: Iterable[Finding]) -> dict[str, Severity]:
    return {finding.check: finding.severity for finding in findings}


def test_test_pki_conforms_but_for_named_curves() -> None:
    pki = sample_pki()
    csca = Certificate.from_cryptography(pki.csca_certificate)
    for certificate, role in ((csca, Role.CSCA), (Certificate.from_cryptography(pki.ds_certificate),
                                                  Role.DOCUMENT_SIGNER)):
        report = lint_certificate(certificate)
        assert report.role == role.value and report.conforms
        assert _checks(report.findings) == {"EC domain parameters": Severity.WARNING}
    assert lint_crl(RevocationList.from_cryptography(pki.crl), csca).findings == ()


def test_vietnam_csca_conforms(shared_data: Path) -> None:
    report = lint_certificate(Certificate.from_der((shared_data / "csca" / "VN_CSCA_ePassport.cer").read_bytes()))
    assert report.role == "CSCA" and report.findings == ()


def test_document_signer_deviations_are_named() -> None:
    ski = x509.SubjectKeyIdentifier.from_public_key(KEY.public_key())
    certificate = _certificate(_name("VN", "DS"), [(_usage(sign=True, certify=False), False), (ski, False)],
                               issuer=_name("VN", "CSCA"))
    findings = {f.check: f for f in lint_certificate(certificate, Role.DOCUMENT_SIGNER).findings}
    assert findings["key usage"].severity is Severity.ERROR and "critical" in findings["key usage"].message
    assert findings["authority key identifier"].severity is Severity.ERROR
    assert findings["document type list"].severity is Severity.WARNING
    assert findings["document type list"].clause == "9303-12 §7.1.1.3"
    assert findings["private key usage period"].severity is Severity.WARNING


def test_csca_without_basic_constraints_and_with_bad_country() -> None:
    ski = x509.SubjectKeyIdentifier.from_public_key(KEY.public_key())
    certificate = _certificate(_name("vn", "CSCA"), [(_usage(sign=False, certify=True), True), (ski, False)])
    report = lint_certificate(certificate, Role.CSCA)
    checks = _checks(report.findings)
    assert not report.conforms
    assert checks["basic constraints"] is Severity.ERROR
    assert checks["subject country"] is Severity.ERROR and checks["issuer country"] is Severity.ERROR
    assert "self-signature" not in checks  # it does verify
    assert "DEVIATES" in report.to_text()


def test_master_list_signer_needs_its_eku() -> None:
    aki = x509.AuthorityKeyIdentifier(b"\x01" * 20, None, None)
    certificate = _certificate(_name("VN", "ML signer"), [(_usage(sign=True, certify=False), True), (aki, False)],
                               issuer=_name("VN", "CSCA"))
    findings = {f.check: f for f in lint_certificate(certificate, Role.MASTER_LIST_SIGNER).findings}
    assert findings["extended key usage"].severity is Severity.ERROR
    assert findings["extended key usage"].clause == "9303-12 §9"


def test_crl_deviations() -> None:
    pki = sample_pki()
    crl = (x509.CertificateRevocationListBuilder().issuer_name(pki.csca_certificate.subject).last_update(NOW)
           .next_update(NOW + timedelta(days=365)).sign(KEY, hashes.SHA256()))
    report = lint_crl(RevocationList.from_cryptography(crl), Certificate.from_cryptography(pki.csca_certificate))
    checks = _checks(report.findings)
    assert checks == {"authority key identifier": Severity.ERROR, "CRL number": Severity.ERROR,
                      "next update": Severity.WARNING, "signature": Severity.ERROR}


@pytest.mark.parametrize(("name", "count"), [("DE_ML_2026-05-28-08-28-45.ml", 588), ("NL_ML_2026-07-22.ml", 411)])
def test_real_master_lists_lint(shared_data: Path, name: str, count: int) -> None:
    master_list = MasterList.parse((shared_data / "masterlists" / name).read_bytes(), name)
    reports = [lint_certificate(certificate) for certificate in master_list.certificates]
    assert len(reports) == count
    deviating = [report for report in reports if not report.conforms]
    assert 0 < len(deviating) < count // 4
    for report in deviating:
        assert all(f.clause.startswith(("9303-12", "RFC 5280")) for f in report.findings)
    assert master_list.signer is not None
    signer = lint_certificate(master_list.signer)
    assert signer.role == "Master List Signer" and signer.conforms
