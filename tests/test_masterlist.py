"""CSCA master lists: the real DE / NL / ICAO lists load and verify; damaged lists are never intact; budgets."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardlib.errors import PKIError
from cardlib.limits import MAX_MASTER_LIST_BYTES, MAX_MASTER_LIST_CERTIFICATES, LimitExceeded
from cardlib.pki.certificates import Certificate, RevocationList
from cardlib.pki.masterlist import MasterList, encode_master_list
from cardlib.testing.pki import TestPKI

# Counts and signers from shared/data/README.md (files from gmrtd/gmrtd and zenopie/csca-trust-store).
REAL_LISTS = [
    ("DE_ML_2026-05-28-08-28-45.ml", 588, "csca-germany", datetime(2026, 5, 28, 6, 28, 45, tzinfo=UTC)),
    ("NL_ML_2026-07-22.ml", 411, "CSCA NL", datetime(2026, 7, 23, 9, 35, 43, tzinfo=UTC)),
    ("ICAO_allowlist.ml", 520, "United Nations CSCA", datetime(2025, 7, 23, 14, 13, 21, tzinfo=UTC)),
]
SIGNED_AT = datetime(2026, 2, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def pki() -> TestPKI:
    return TestPKI.generate(now=datetime(2026, 1, 1, tzinfo=UTC))


@pytest.fixture(scope="module")
def synthetic(pki: TestPKI) -> bytes:
    signer = pki.document_signer
    return encode_master_list([Certificate.from_cryptography(pki.csca_certificate)],
                              Certificate.from_cryptography(signer.certificate), signer.private_key,
                              signer.algorithm, SIGNED_AT)


@pytest.mark.parametrize(("name", "count", "signer_csca", "signing_time"), REAL_LISTS)
def test_real_master_lists_load_and_verify(
    shared_data: Path, name: str, count: int, signer_csca: str, signing_time: datetime
) -> None:
    master_list = MasterList.parse((shared_data / "masterlists" / name).read_bytes(), name)
    assert len(master_list.certificates) + len(master_list.issues) == count
    assert len(master_list.certificates) == count
    assert all(certificate.public_key for certificate in master_list.certificates)  # every curve one cardlib knows
    assert master_list.version == 0
    assert master_list.signature_valid and master_list.intact
    assert master_list.signer_issuer is not None and f"CN={signer_csca}" in master_list.signer_issuer.subject
    assert master_list.signer_has_master_list_eku
    assert master_list.signing_time == signing_time


def test_vietnam_csca_is_in_the_icao_list(shared_data: Path) -> None:
    master_list = MasterList.parse((shared_data / "masterlists" / "ICAO_allowlist.ml").read_bytes())
    vietnam = Certificate.from_der((shared_data / "csca" / "VN_CSCA_ePassport.cer").read_bytes())
    assert [c for c in master_list.certificates if c.country == "VN"] == [vietnam]


def test_flipped_signature_bit_is_not_intact(shared_data: Path) -> None:
    data = bytearray((shared_data / "masterlists" / "NL_ML_2026-07-22.ml").read_bytes())
    data[-1] ^= 0x01  # the last byte of the SignerInfo's signature OCTET STRING
    master_list = MasterList.parse(bytes(data))
    assert not master_list.signature_valid and not master_list.intact


def test_changed_content_is_not_intact(shared_data: Path) -> None:
    data = bytearray((shared_data / "masterlists" / "DE_ML_2026-05-28-08-28-45.ml").read_bytes())
    data[len(data) // 2] ^= 0x80  # inside some certificate's signature or key: messageDigest no longer matches
    try:
        master_list = MasterList.parse(bytes(data))
    except PKIError:
        return
    assert not master_list.intact


@pytest.mark.parametrize("keep", [0, 10, 1000, -1])
def test_truncated_master_list_raises(shared_data: Path, keep: int) -> None:
    data = (shared_data / "masterlists" / "ICAO_allowlist.ml").read_bytes()
    with pytest.raises(PKIError):
        MasterList.parse(data[:keep])


def test_other_cms_content_is_rejected(shared_data: Path) -> None:
    card_security = (shared_data / "cardsecurity" / "efcardsecurity.dump").read_bytes()
    with pytest.raises(PKIError, match="cscaMasterList"):
        MasterList.parse(card_security)


def test_encode_parse_round_trip(pki: TestPKI, synthetic: bytes) -> None:
    master_list = MasterList.parse(synthetic)
    assert master_list.certificates == (Certificate.from_cryptography(pki.csca_certificate),)
    assert master_list.signing_time == SIGNED_AT
    assert master_list.signature_valid and master_list.intact
    assert master_list.signer == Certificate.from_cryptography(pki.ds_certificate)
    sha384 = bytes.fromhex("0609608648016503040202")
    assert b"\x30\x0b" + sha384 in synthetic and sha384 + b"\x05\x00" not in synthetic  # ICAO: digest ids omit NULL


def test_crls_carried_in_the_signed_data_are_kept(pki: TestPKI) -> None:
    revoked = pki.revoke(pki.ds_certificate)
    crl = RevocationList.from_cryptography(revoked.crl)
    signer = pki.document_signer
    data = encode_master_list([Certificate.from_cryptography(pki.csca_certificate)],
                              Certificate.from_cryptography(signer.certificate), signer.private_key,
                              signer.algorithm, SIGNED_AT, crls=[crl])
    master_list = MasterList.parse(data)
    assert master_list.crls == (crl,) and master_list.intact
    assert pki.ds_certificate.serial_number in master_list.crls[0].revoked_serials


def test_list_over_the_byte_budget_is_refused_unparsed() -> None:
    started = time.perf_counter()
    with pytest.raises(LimitExceeded, match="MAX_MASTER_LIST_BYTES") as refused:
        MasterList.parse(bytes(MAX_MASTER_LIST_BYTES + 1), "huge.ml")
    assert refused.value.what == "huge.ml" and refused.value.found == MAX_MASTER_LIST_BYTES + 1
    assert time.perf_counter() - started < 1.0


def test_list_over_the_certificate_budget_is_refused_before_parsing_them(pki: TestPKI) -> None:
    """MAX_MASTER_LIST_CERTIFICATES + 1 listed certificates: refused after counting, before any is parsed."""
    signer = pki.document_signer
    csca = Certificate.from_cryptography(pki.csca_certificate)
    data = encode_master_list([csca] * (MAX_MASTER_LIST_CERTIFICATES + 1),
                              Certificate.from_cryptography(signer.certificate), signer.private_key, signer.algorithm,
                              SIGNED_AT)
    started = time.perf_counter()
    with pytest.raises(LimitExceeded, match="MAX_MASTER_LIST_CERTIFICATES") as refused:
        MasterList.parse(data, "crowded.ml")
    assert refused.value.found == MAX_MASTER_LIST_CERTIFICATES + 1 and refused.value.what == "crowded.ml certList"
    assert time.perf_counter() - started < 3.0


def test_signer_not_issued_by_a_listed_csca_is_not_intact(pki: TestPKI) -> None:
    other = TestPKI.generate(now=datetime(2026, 1, 1, tzinfo=UTC))
    signer = pki.document_signer
    data = encode_master_list([Certificate.from_cryptography(other.csca_certificate)],
                              Certificate.from_cryptography(signer.certificate), signer.private_key,
                              signer.algorithm, SIGNED_AT)
    master_list = MasterList.parse(data)
    assert master_list.signature_valid and not master_list.signer_chains_to_list and not master_list.intact


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_damaged_synthetic_list_never_yields_altered_trust(synthetic: bytes, data: st.DataObject) -> None:
    """A flipped byte either breaks the list or leaves the intact content exactly as signed.

    Some bytes are outside the signature (SignedData.version, digestAlgorithms) and may change harmlessly.
    """
    original = MasterList.parse(synthetic)
    position = data.draw(st.integers(0, len(synthetic) - 1))
    damaged = bytearray(synthetic)
    damaged[position] ^= data.draw(st.integers(1, 255))
    try:
        master_list = MasterList.parse(bytes(damaged))
    except PKIError:
        return
    if master_list.intact:
        assert master_list.certificates == original.certificates
        assert master_list.signing_time == original.signing_time


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_raises_only_pki_errors(garbage: bytes) -> None:
    with pytest.raises(PKIError):
        MasterList.parse(garbage)
