"""PKI operations in files and in a SoftHSM2 token: create, sign SODs that verify, rotate the Document
Signer within its private key usage period, issue CRLs that revoke."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cardlib.card.perso import personalize
from cardlib.errors import PKIError
from cardlib.pki.certificates import Certificate, RevocationList
from cardlib.pki.hsm import PinSource, TokenConfig, TokenSigner, init_token, softhsm_environment
from cardlib.pki.operations import IssuingAuthority
from cardlib.pki.profile import KeySpec, PKIConfig
from cardlib.pki.signatures import DocumentSigner
from cardlib.pki.trust import NOT_REVOKED, TrustStore
from cardlib.testing.cards import sample_resident
from cardlib.testing.faces import synthetic_portrait_jpeg
from cardlib.testing.pki import TestPKI
from cardlib.verify.report import Verdict
from cardlib.verify.verifier import verify

START = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
FAST = PKIConfig(csca_key=KeySpec.ec("secp384r1", "sha384"), ds_key=KeySpec.ec("brainpoolP256r1", "sha256"))


@pytest.fixture
def token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TokenConfig:
    monkeypatch.setenv("SOFTHSM2_CONF", "")
    softhsm_environment(tmp_path / "hsm")
    init_token("csca-vn", "so-secret-1", "user-secret-1")
    monkeypatch.setenv("PKI_PIN", "user-secret-1")
    return TokenConfig("csca-vn", PinSource(env="PKI_PIN"))


def _verdict(authority: IssuingAuthority, at: datetime) -> Verdict:
    signer = authority.document_signer(now=at)
    image = personalize(sample_resident(1), synthetic_portrait_jpeg(1), signer)
    trust = TrustStore([Certificate.from_cryptography(authority.csca_certificate)],
                       [RevocationList.from_cryptography(authority.crl)])
    return verify(image, trust, at=at).verdict


def test_file_pki_signs_and_stays_readable_by_testpki(tmp_path: Path) -> None:
    authority = IssuingAuthority.create(tmp_path / "pki", FAST, now=START)
    assert isinstance(authority.document_signer(now=START), DocumentSigner)
    assert _verdict(IssuingAuthority.open(tmp_path / "pki"), START + timedelta(days=1)) is Verdict.VALID
    assert TestPKI.load(tmp_path / "pki").ds_certificate == authority.ds_certificate


def test_token_pki_keeps_no_key_file_and_verifies(tmp_path: Path, token: TokenConfig) -> None:
    with IssuingAuthority.create(tmp_path / "pki", FAST, token=token, now=START) as authority:
        assert not list((tmp_path / "pki").glob("*.key.pem"))
        settings = (tmp_path / "pki" / "pki.json").read_text()
        assert "user-secret-1" not in settings and "csca-vn" in settings
    with IssuingAuthority.open(tmp_path / "pki", PinSource(env="PKI_PIN")) as authority:
        assert isinstance(authority.document_signer(now=START), TokenSigner)
        assert _verdict(authority, START + timedelta(days=2)) is Verdict.VALID


def test_token_pki_needs_a_pin_source(tmp_path: Path, token: TokenConfig) -> None:
    IssuingAuthority.create(tmp_path / "pki", FAST, token=token, now=START).close()
    with pytest.raises(PKIError, match="keys are in token 'csca-vn'"):
        IssuingAuthority.open(tmp_path / "pki")


def test_expired_usage_period_refuses_to_sign_until_rotation(tmp_path: Path, token: TokenConfig) -> None:
    later = START + timedelta(days=FAST.ds_key_usage_days + 1)
    with IssuingAuthority.create(tmp_path / "pki", FAST, token=token, now=START) as authority:
        old = authority.ds_certificate
        with pytest.raises(PKIError, match=r"private key usage period ended .*rotate it"):
            authority.document_signer(now=later)
        new = authority.rotate_document_signer(now=later)
        assert new.serial_number != old.serial_number
        assert (tmp_path / "pki" / "archive" / f"ds-{old.serial_number:040x}.pem").is_file()
        authority.issue_crl(now=later)  # the first CRL expired after 90 days: an expired CRL cannot tell
        assert _verdict(authority, later) is Verdict.VALID
    with IssuingAuthority.open(tmp_path / "pki", PinSource(env="PKI_PIN")) as reopened:
        assert reopened.ds_certificate == new
        assert [c.serial_number for c in reopened.issued_certificates()] == [old.serial_number, new.serial_number]


def test_rotation_in_files_replaces_the_key(tmp_path: Path) -> None:
    authority = IssuingAuthority.create(tmp_path / "pki", FAST, now=START)
    old_key = (tmp_path / "pki" / "ds.key.pem").read_bytes()
    authority.rotate_document_signer(now=START + timedelta(days=30))
    assert (tmp_path / "pki" / "ds.key.pem").read_bytes() != old_key
    assert _verdict(IssuingAuthority.open(tmp_path / "pki"), START + timedelta(days=31)) is Verdict.VALID


def test_no_rotation_after_the_csca_usage_period(tmp_path: Path) -> None:
    authority = IssuingAuthority.create(tmp_path / "pki", FAST, now=START)
    with pytest.raises(PKIError, match=r"CSCA .*private key usage period ended"):
        authority.rotate_document_signer(now=START + timedelta(days=366 * FAST.csca_key_usage_years + 1))


def test_crl_revokes_the_document_signer(tmp_path: Path, token: TokenConfig) -> None:
    with IssuingAuthority.create(tmp_path / "pki", FAST, token=token, now=START) as authority:
        serial = authority.ds_certificate.serial_number
        with pytest.raises(PKIError, match="no certificate with serial 0x7 was issued here"):
            authority.issue_crl([7], now=START)
        crl = authority.issue_crl([serial], now=START + timedelta(hours=1))
        assert crl.get_revoked_certificate_by_serial_number(serial) is not None
        assert RevocationList.from_cryptography(crl).crl_number == 2
        trust = TrustStore([Certificate.from_cryptography(authority.csca_certificate)],
                           [RevocationList.from_cryptography(authority.crl)])
        validation = trust.validate_document_signer(Certificate.from_cryptography(authority.ds_certificate),
                                                    START + timedelta(hours=2))
        assert validation.check(NOT_REVOKED).passed is False
        again = authority.issue_crl(now=START + timedelta(days=1))
        assert RevocationList.from_cryptography(again).revoked_serials == {serial}


def test_existing_pki_is_never_replaced(tmp_path: Path) -> None:
    IssuingAuthority.create(tmp_path / "pki", FAST, now=START)
    with pytest.raises(PKIError, match="already holds a PKI"):
        IssuingAuthority.create(tmp_path / "pki", FAST, now=START)


def test_corrupt_settings_are_a_plain_error(tmp_path: Path) -> None:
    IssuingAuthority.create(tmp_path / "pki", FAST, now=START)
    (tmp_path / "pki" / "pki.json").write_text("{not json")
    with pytest.raises(PKIError, match=r"pki\.json: not valid JSON"):
        IssuingAuthority.open(tmp_path / "pki")
