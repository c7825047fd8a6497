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
from cardlib.pki.anchoring import ListTrust
from cardlib.pki.certificates import Certificate, RevocationList
from cardlib.pki.masterlist import MasterList, encode_master_list
from cardlib.pki.profile import PKIConfig
from cardlib.pki.trust import TrustStore
from cardlib.testing.pki import TestPKI

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


def test_same_name_csca_with_another_key_is_not_the_issuer(pki: TestPKI, other: TestPKI) -> None:
    """Issue 12: a store holding only the CSCA's other key (a rollover) cannot tell; it does not fail."""
    result = _store(other).validate_document_signer(_cert(pki.ds_certificate), SOON)
    assert not result.valid and not result.failures and result.csca is None
    found = result.check(trust.ISSUER_FOUND)
    assert found.passed is None and "with other keys" in found.reason and "rollover" in found.reason
    assert result.check(trust.DS_SIGNATURE).passed is None


def test_rollover_store_with_both_keys_picks_the_named_one(pki: TestPKI, other: TestPKI) -> None:
    for store in (_store(other, pki), _store(pki, other)):
        assert store.validate_document_signer(_cert(pki.ds_certificate), SOON).valid
        assert store.validate_document_signer(_cert(other.ds_certificate), SOON).valid


def _reissued(pki: TestPKI, signer: TestPKI, *, with_aki: bool) -> Certificate:
    """The DS of ``pki`` (its issuer name, and its AKI unless ``with_aki`` is False) signed by ``signer``'s CSCA key."""
    real = pki.ds_certificate
    builder = x509.CertificateBuilder().subject_name(real.subject).issuer_name(real.issuer)
    builder = builder.public_key(real.public_key()).serial_number(x509.random_serial_number())
    builder = builder.not_valid_before(real.not_valid_before_utc).not_valid_after(real.not_valid_after_utc)
    for extension in real.extensions:
        if with_aki or not isinstance(extension.value, x509.AuthorityKeyIdentifier):
            builder = builder.add_extension(extension.value, extension.critical)
    assert isinstance(signer.csca_key, ec.EllipticCurvePrivateKey)
    return _cert(builder.sign(signer.csca_key, hashes.SHA512()))


def test_named_key_in_store_that_does_not_verify_fails(pki: TestPKI, other: TestPKI) -> None:
    """INVALID only when the key the DS names is trusted and its signature fails: by AKI, or by name without AKI."""
    by_aki = _store(pki).validate_document_signer(_reissued(pki, other, with_aki=True), SOON)
    assert by_aki.failures == (by_aki.check(trust.DS_SIGNATURE),)
    assert "AKI names" in by_aki.check(trust.DS_SIGNATURE).reason
    by_name = _store(pki).validate_document_signer(_reissued(pki, other, with_aki=False), SOON)
    assert by_name.failures == (by_name.check(trust.DS_SIGNATURE),)
    assert "issuer name names" in by_name.check(trust.DS_SIGNATURE).reason
    genuine_without_aki = _store(other, pki).validate_document_signer(_reissued(pki, pki, with_aki=False), SOON)
    assert genuine_without_aki.valid, genuine_without_aki.failures


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
    assert result.check(trust.CRL_CURRENT).passed is None  # an expired CRL cannot tell; it proves nothing wrong
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
    assert result.check(trust.CRL_SIGNATURE).passed is None
    assert result.check(trust.NOT_REVOKED).passed is None
    assert not result.valid and not result.failures
    reasons = [issue.reason for issue in store.load_report]
    assert reasons == ["signature does not verify under the CSCA it names: ignored"]


def test_forged_newer_crl_does_not_supersede_a_verifying_one(pki: TestPKI, other: TestPKI) -> None:
    genuine = RevocationList.from_cryptography(pki.crl)
    forged = RevocationList.from_cryptography(
        replace(other, csca_certificate=pki.csca_certificate).revoke(pki.ds_certificate, now=SOON).crl)
    assert forged.this_update > genuine.this_update
    store = TrustStore([_cert(pki.csca_certificate)], [forged, genuine])
    result = store.validate_document_signer(_cert(pki.ds_certificate), SOON + timedelta(hours=1))
    assert result.valid, result.failures
    assert "1 CRL(s) naming this CSCA do not verify under its key, ignored" in result.check(trust.CRL_PRESENT).reason


def test_newest_verifying_crl_wins(pki: TestPKI) -> None:
    first = RevocationList.from_cryptography(pki.crl)
    revoking = RevocationList.from_cryptography(pki.revoke(pki.ds_certificate, now=SOON).crl)
    store = TrustStore([_cert(pki.csca_certificate)], [first, revoking])
    result = store.validate_document_signer(_cert(pki.ds_certificate), SOON + timedelta(hours=1))
    assert result.failures == (result.check(trust.NOT_REVOKED),)
    assert "CRL number 2" in result.check(trust.NOT_REVOKED).reason
    before = store.validate_document_signer(_cert(pki.ds_certificate), NOW + timedelta(hours=1))
    assert before.valid, before.failures  # judged as of before the revoking CRL was issued


def test_expired_crl_cannot_tell_but_a_listed_revocation_stays_proven(pki: TestPKI) -> None:
    late = NOW + timedelta(days=200)  # the CRLs are valid 90 days
    expired = _store(pki).validate_document_signer(_cert(pki.ds_certificate), late)
    assert expired.check(trust.CRL_CURRENT).passed is None and "not current" in expired.check(trust.CRL_CURRENT).reason
    assert expired.check(trust.NOT_REVOKED).passed is None and not expired.failures
    revoked = _store(pki.revoke(pki.ds_certificate, now=SOON)).validate_document_signer(_cert(pki.ds_certificate), late)
    assert revoked.check(trust.NOT_REVOKED).passed is False


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


def test_link_certificate_without_its_issuer_cannot_tell(pki: TestPKI, other: TestPKI) -> None:
    store = TrustStore([_cert(_link_certificate(pki, other))], [RevocationList.from_cryptography(other.crl)])
    result = store.validate_document_signer(_cert(other.ds_certificate), SOON)
    assert result.check(trust.DS_SIGNATURE).passed is True
    chain = result.check(trust.CSCA_CHAIN)
    assert chain.passed is None and "chains to no self-signed trusted CSCA" in chain.reason
    assert not result.valid and not result.failures


def test_link_certificate_in_an_unanchored_list_counts_when_it_chains_to_an_anchor(pki: TestPKI,
                                                                                    other: TestPKI) -> None:
    """The new CSCA key travels as a link certificate in a list nobody anchored: the old key's signature vouches
    for it, and for the new key's own self-signed certificate; the list's other CSCAs stay untrusted.  (Had the
    list's signer chained through the link to the anchor, the whole list would be anchored.)"""
    link = _link_certificate(pki, other)
    stranger = TestPKI.generate(PKIConfig(country="NL", csca_common_name="Carrier CSCA"), now=NOW)
    carrier = _signed_list([link, other.csca_certificate, stranger.csca_certificate], stranger)
    store = TrustStore([_cert(pki.csca_certificate)], [RevocationList.from_cryptography(other.crl)], [carrier])
    assert store.status_of(carrier).trust is ListTrust.UNANCHORED
    assert "its 3 CSCAs are not trusted (but 2 of them chain to an anchor" in store.status_of(carrier).reason
    assert set(store.cscas) == {_cert(pki.csca_certificate), _cert(link), _cert(other.csca_certificate)}
    result = store.validate_document_signer(_cert(other.ds_certificate), SOON)
    assert result.valid, result.failures
    assert not store.validate_document_signer(_cert(stranger.ds_certificate), SOON).check(trust.ISSUER_FOUND).passed


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


def test_real_master_lists_load_unanchored_without_their_csca(shared_data: Path) -> None:
    """Each real list is intact, but its signer chains only to a CSCA inside it: nothing from it is trusted
    until the operator gives that CSCA (the Vietnam CSCA in the ICAO list is trusted only as its own file)."""
    store = TrustStore.load(shared_data / "masterlists", shared_data / "csca" / "VN_CSCA_ePassport.cer")
    counts = sorted(len(master_list.certificates) for master_list in store.master_lists)
    assert counts == [411, 520, 588]  # shared/data/README.md
    assert all(master_list.intact for master_list in store.master_lists)
    assert {status.trust for status in store.master_list_statuses} == {ListTrust.UNANCHORED}
    assert sorted(issue.reason for issue in store.load_report) == sorted(
        f"master list signer chains to no CSCA given as an anchor (only to a CSCA inside the list itself): "
        f"loaded unanchored, its {count} CSCAs are not trusted" for count in counts)
    vietnam = Certificate.from_der((shared_data / "csca" / "VN_CSCA_ePassport.cer").read_bytes())
    assert store.cscas == (vietnam,)


def test_real_master_lists_are_anchored_by_their_signers_csca(shared_data: Path, tmp_path: Path) -> None:
    lists = sorted((shared_data / "masterlists").glob("*.ml"))
    for master_list in (MasterList.parse(path.read_bytes()) for path in lists):
        assert master_list.signer_issuer is not None
        (tmp_path / f"{master_list.signer_issuer.fingerprint}.cer").write_bytes(master_list.signer_issuer.der)
    store = TrustStore.load(shared_data / "masterlists", tmp_path)
    assert {status.trust for status in store.master_list_statuses} == {ListTrust.ANCHORED}
    assert store.load_report == ()
    assert len(store.cscas) == len({c.der for ml in store.master_lists for c in ml.certificates})


def _signed_list(certificates: list[x509.Certificate], signer: TestPKI, crls: tuple[RevocationList, ...] = ()
                 ) -> MasterList:
    """A master list of ``certificates`` signed by ``signer``'s Document Signer (standing in for its ML signer)."""
    data = encode_master_list([_cert(c) for c in certificates], _cert(signer.ds_certificate), signer.ds_key,
                              signer.config.ds_key.algorithm, NOW, crls)
    return MasterList.parse(data, f"list signed under {signer.config.csca_common_name}")


def test_list_anchored_through_another_anchored_list(pki: TestPKI, other: TestPKI) -> None:
    """Fixed point: B's signer chains to a CSCA of A, A's signer to the anchor; the order of lists is irrelevant."""
    third = TestPKI.generate(PKIConfig(country="NL", csca_common_name="CSCA NL"), now=NOW)
    list_a = _signed_list([other.csca_certificate], pki)
    list_b = _signed_list([third.csca_certificate], other)
    store = TrustStore([_cert(pki.csca_certificate)], master_lists=[list_b, list_a])
    assert [store.status_of(ml).trust for ml in (list_a, list_b)] == [ListTrust.ANCHORED] * 2
    assert set(store.cscas) == {_cert(c.csca_certificate) for c in (pki, other, third)}
    assert store.validate_document_signer(_cert(third.ds_certificate), SOON).check(trust.ISSUER_FOUND).passed
    alone = TrustStore(master_lists=[list_b, list_a])
    assert {status.trust for status in alone.master_list_statuses} == {ListTrust.UNANCHORED}
    assert alone.cscas == ()


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
