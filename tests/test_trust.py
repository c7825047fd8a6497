"""Trust store loading and Document Signer chain validation, with each named check asserted."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cardlib.errors import PKIError
from cardlib.pki import trust
from cardlib.pki.certificates import Certificate, RevocationList
from cardlib.pki.testpki import TestPKI
from cardlib.pki.trust import TrustStore

NOW = datetime(2026, 3, 1, tzinfo=UTC)
SOON = NOW + timedelta(days=1)


@pytest.fixture(scope="module")
def pki() -> TestPKI:
    return TestPKI.generate(now=NOW)


@pytest.fixture(scope="module")
def other() -> TestPKI:
    """A second PKI with the same names but other keys: an impostor CSCA."""
    return TestPKI.generate(now=NOW)


def _cert(certificate: x509.Certificate) -> Certificate:
    return Certificate.from_cryptography(certificate)


def _store(*pkis: TestPKI, crls: bool = True) -> TrustStore:
    return TrustStore([_cert(p.csca_certificate) for p in pkis],
                      [RevocationList.from_cryptography(p.crl) for p in pkis] if crls else [])


def _outcomes(result: trust.ChainValidation) -> dict[str, bool | None]:
    return {check.name: check.passed for check in result.checks}


def test_test_pki_chain_passes(pki: TestPKI) -> None:
    result = _store(pki).validate_document_signer(_cert(pki.ds_certificate), SOON)
    assert result.valid, result.failures
    assert result.csca == _cert(pki.csca_certificate)
    assert set(_outcomes(result)) == {
        trust.ISSUER_FOUND, trust.DS_SIGNATURE, trust.DS_VALIDITY, trust.CSCA_VALIDITY, trust.DS_KEY_USAGE,
        trust.COUNTRY, trust.CSCA_CHAIN, trust.CRL_PRESENT, trust.CRL_SIGNATURE, trust.CRL_CURRENT,
        trust.NOT_REVOKED,
    }


def test_impostor_csca_with_same_name_fails_signature(pki: TestPKI, other: TestPKI) -> None:
    result = _store(other).validate_document_signer(_cert(pki.ds_certificate), SOON)
    assert not result.valid
    assert result.check(trust.ISSUER_FOUND).passed is True  # found by issuer name, AKI differs
    assert result.check(trust.DS_SIGNATURE).passed is False


def test_unknown_issuer_cannot_tell(pki: TestPKI, shared_data: Path) -> None:
    store = TrustStore.load(shared_data / "csca" / "VN_CSCA_ePassport.cer")
    result = store.validate_document_signer(_cert(pki.ds_certificate), SOON)
    assert not result.valid and result.csca is None
    assert result.check(trust.ISSUER_FOUND).passed is None
    assert result.check(trust.NOT_REVOKED).passed is None
    assert result.check(trust.DS_VALIDITY).passed is True


def test_expired_document_signer_fails_later(pki: TestPKI) -> None:
    later = NOW + timedelta(days=365 * 11)
    result = _store(pki).validate_document_signer(_cert(pki.ds_certificate), later)
    assert result.check(trust.DS_VALIDITY).passed is False
    assert result.check(trust.CSCA_VALIDITY).passed is True
    assert result.check(trust.CRL_CURRENT).passed is False
    assert not result.valid


def test_not_yet_valid_document_signer_fails(pki: TestPKI) -> None:
    result = _store(pki).validate_document_signer(_cert(pki.ds_certificate), NOW - timedelta(days=1))
    assert result.check(trust.DS_VALIDITY).passed is False


def test_revoked_document_signer_fails(pki: TestPKI) -> None:
    revoked = pki.revoke(pki.ds_certificate, now=SOON)
    result = _store(revoked).validate_document_signer(_cert(pki.ds_certificate), SOON + timedelta(hours=1))
    assert result.check(trust.NOT_REVOKED).passed is False
    assert result.check(trust.CRL_SIGNATURE).passed is True
    assert result.failures == (result.check(trust.NOT_REVOKED),)


def test_rotated_signer_stays_valid_when_old_one_is_revoked(pki: TestPKI) -> None:
    rotated = pki.rotate_document_signer(now=SOON).revoke(pki.ds_certificate, now=SOON)
    result = _store(rotated).validate_document_signer(_cert(rotated.ds_certificate), SOON + timedelta(hours=1))
    assert result.valid, result.failures


def test_missing_crl_cannot_tell(pki: TestPKI) -> None:
    result = _store(pki, crls=False).validate_document_signer(_cert(pki.ds_certificate), SOON)
    assert result.check(trust.CRL_PRESENT).passed is None
    assert result.check(trust.NOT_REVOKED).passed is None
    assert not result.valid and not result.failures


def test_crl_forged_by_impostor_is_not_believed(pki: TestPKI, other: TestPKI) -> None:
    forged = RevocationList.from_cryptography(
        replace(other, csca_certificate=pki.csca_certificate).revoke(pki.ds_certificate, now=SOON).crl)
    store = TrustStore([_cert(pki.csca_certificate)], [forged])
    result = store.validate_document_signer(_cert(pki.ds_certificate), SOON + timedelta(hours=1))
    assert result.check(trust.CRL_SIGNATURE).passed is False
    assert result.check(trust.NOT_REVOKED).passed is None
    assert not result.valid


def _link_certificate(old: TestPKI, new: TestPKI) -> x509.Certificate:
    """The new CSCA key certified by the old CSCA key (ICAO 9303-12 link certificate)."""
    new_csca = new.csca_certificate
    old_ski = old.csca_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder().subject_name(new_csca.subject).issuer_name(old.csca_certificate.subject)
        .public_key(new.csca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(new_csca.not_valid_before_utc).not_valid_after(new_csca.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(new_csca.extensions.get_extension_for_class(x509.KeyUsage).value, critical=True)
        .add_extension(new_csca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(old_ski), critical=False)
    )
    return builder.sign(old.csca_key, hashes.SHA512())


def test_link_certificate_is_followed_to_the_old_csca(pki: TestPKI, other: TestPKI) -> None:
    link = _cert(_link_certificate(pki, other))
    store = TrustStore([_cert(pki.csca_certificate), link], [RevocationList.from_cryptography(other.crl)])
    result = store.validate_document_signer(_cert(other.ds_certificate), SOON)
    assert result.csca == link
    assert result.valid, result.failures
    assert result.check(trust.CSCA_CHAIN).reason.count("<-") == 1


def test_link_certificate_without_its_issuer_fails_chain(pki: TestPKI, other: TestPKI) -> None:
    store = TrustStore([_cert(_link_certificate(pki, other))], [RevocationList.from_cryptography(other.crl)])
    result = store.validate_document_signer(_cert(other.ds_certificate), SOON)
    assert result.check(trust.DS_SIGNATURE).passed is True
    assert result.check(trust.CSCA_CHAIN).passed is False


def test_naive_time_is_refused(pki: TestPKI) -> None:
    with pytest.raises(PKIError):
        _store(pki).validate_document_signer(_cert(pki.ds_certificate), datetime(2026, 3, 2))


def test_load_saved_test_pki_folder(pki: TestPKI, tmp_path: Path) -> None:
    pki.save(tmp_path)
    store = TrustStore.load(tmp_path)
    assert store.cscas == (_cert(pki.csca_certificate),)
    assert store.crls == (RevocationList.from_cryptography(pki.crl),)
    reasons = sorted(issue.reason for issue in store.load_report)
    assert reasons == ["PEM block 'PRIVATE KEY' ignored"] * 2 + ["not a CA certificate, not a trust anchor"]
    assert store.validate_document_signer(_cert(pki.ds_certificate), SOON).valid


def test_load_der_files(pki: TestPKI, tmp_path: Path) -> None:
    (tmp_path / "csca.cer").write_bytes(pki.csca_certificate.public_bytes(serialization.Encoding.DER))
    (tmp_path / "csca.crl").write_bytes(pki.crl.public_bytes(serialization.Encoding.DER))
    (tmp_path / "notes.txt").write_bytes(b"not trust material")
    store = TrustStore.load(tmp_path / "csca.cer", tmp_path / "csca.crl", tmp_path / "notes.txt")
    assert len(store.cscas) == 1 and len(store.crls) == 1
    assert [issue.source for issue in store.load_report] == [str(tmp_path / "notes.txt")]


def test_load_real_master_lists_and_vietnam_csca(shared_data: Path) -> None:
    store = TrustStore.load(shared_data / "masterlists", shared_data / "csca" / "VN_CSCA_ePassport.cer")
    counts = sorted(len(master_list.certificates) for master_list in store.master_lists)
    assert counts == [411, 520, 588]  # shared/data/README.md
    assert all(master_list.trusted for master_list in store.master_lists)
    assert store.load_report == ()
    vietnam = Certificate.from_der((shared_data / "csca" / "VN_CSCA_ePassport.cer").read_bytes())
    assert vietnam in store.cscas
    assert len(store.cscas) == len({c.der for ml in store.master_lists for c in ml.certificates} | {vietnam.der})


def test_damaged_master_lists_are_reported_not_trusted(shared_data: Path, tmp_path: Path) -> None:
    data = (shared_data / "masterlists" / "NL_ML_2026-07-22.ml").read_bytes()
    flipped = bytearray(data)
    flipped[-1] ^= 0x01
    (tmp_path / "flipped.ml").write_bytes(bytes(flipped))
    (tmp_path / "truncated.ml").write_bytes(data[: len(data) // 3])
    store = TrustStore.load(tmp_path)
    assert store.cscas == ()
    report = {Path(issue.source).name: issue.reason for issue in store.load_report}
    assert "does not verify" in report["flipped.ml"]
    assert "malformed" in report["truncated.ml"]


def test_missing_path_raises(tmp_path: Path) -> None:
    with pytest.raises(PKIError, match="no such file"):
        TrustStore.load(tmp_path / "absent")


def _ds_with_key_usage(pki: TestPKI, usage: x509.KeyUsage | None) -> Certificate:
    """The test DS re-issued by its CSCA with ``usage`` as key usage (None: no extension at all)."""
    real = pki.ds_certificate
    builder = x509.CertificateBuilder().subject_name(real.subject).issuer_name(real.issuer)
    builder = builder.public_key(real.public_key()).serial_number(x509.random_serial_number())
    builder = builder.not_valid_before(real.not_valid_before_utc).not_valid_after(real.not_valid_after_utc)
    for extension in real.extensions:
        if not isinstance(extension.value, x509.KeyUsage):
            builder = builder.add_extension(extension.value, extension.critical)
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)
    assert isinstance(pki.csca_key, ec.EllipticCurvePrivateKey)
    return _cert(builder.sign(pki.csca_key, hashes.SHA512()))


def test_missing_key_usage_is_told_apart_from_one_without_digital_signature(pki: TestPKI) -> None:
    signing_only = x509.KeyUsage(False, True, False, False, False, False, False, False, False)  # nonRepudiation
    missing = _store(pki).validate_document_signer(_ds_with_key_usage(pki, None), SOON).check(trust.DS_KEY_USAGE)
    wrong = _store(pki).validate_document_signer(_ds_with_key_usage(pki, signing_only), SOON).check(trust.DS_KEY_USAGE)
    assert missing.passed is None and "no key usage extension" in missing.reason
    assert wrong.passed is False and "non_repudiation" in wrong.reason
    assert not trust.has_key_usage_extension(_ds_with_key_usage(pki, None))
    assert trust.has_key_usage_extension(_ds_with_key_usage(pki, signing_only))
