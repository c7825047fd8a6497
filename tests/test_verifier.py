"""verify(): whole cards, genuine and tampered, judged by the exact check that must catch each attack.

Cards are built here from a synthetic resident with the LDS codecs and signed with :meth:`SOD.sign` under a
generated test PKI (ICAO 9303-12 profile), so each scenario changes exactly one thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardlib.card.image import CardImage
from cardlib.card.perso import personalize
from cardlib.lds.asn1 import ECPublicKeyInfo, public_key_info_from_cryptography
from cardlib.lds.com import EFCOM
from cardlib.lds.dg1 import DG1
from cardlib.lds.dg2 import DG2
from cardlib.lds.dg13 import DG13
from cardlib.lds.dg15 import DG15
from cardlib.lds.face import FaceImage
from cardlib.lds.securityinfo import DG14, ChipAuthenticationInfo, ChipAuthenticationPublicKeyInfo
from cardlib.lds.sod import SOD, LDSSecurityObject
from cardlib.model.mrz import MRZ, check_digit
from cardlib.model.resident import Resident, Sex
from cardlib.pki.certificates import Certificate, RevocationList
from cardlib.pki.trust import TrustStore
from cardlib.testing.faces import synthetic_portrait_jpeg
from cardlib.testing.pki import TestPKI
from cardlib.verify.report import Status, Verdict, VerificationReport
from cardlib.verify.verifier import LiveResults, verify

ID_PK_ECDH = "0.4.0.127.0.7.2.2.1.2"
ID_CA_ECDH_AES_128 = "0.4.0.127.0.7.2.2.3.2.2"


def resident(**changes: object) -> Resident:
    """A synthetic resident (no real person): born 2003 in Hồ Chí Minh City, female → ID 079 3 03 ..."""
    base: dict[str, object] = {
        "id_number": "079303004821", "full_name": "Trần Thị Lan Anh", "date_of_birth": date(2003, 5, 14),
        "sex": Sex.FEMALE, "place_of_origin": "Xã Tân Phú, Huyện Cai Lậy, Tiền Giang",
        "place_of_residence": "Số 18, Đường Lê Lợi, Phường Bến Nghé, Quận 1, Hồ Chí Minh",
        "date_of_issue": date(2021, 6, 1), "date_of_expiry": date(2028, 5, 14),
        "father_name": "Trần Văn Hùng", "mother_name": "Lê Thị Mai", "old_id_number": "",
    }
    return Resident(**{**base, **changes})  # type: ignore[arg-type]


def data_groups(person: Resident) -> dict[int, bytes]:
    """DG1, DG2, DG13, DG14, DG15 of a CCCD for ``person`` (DG3 is protected and never in a dump)."""
    chip_key = ec.generate_private_key(ec.BrainpoolP256R1())
    aa_key = ec.generate_private_key(ec.BrainpoolP256R1())
    ca_key = public_key_info_from_cryptography(chip_key.public_key())
    assert isinstance(ca_key, ECPublicKeyInfo)
    dg14 = DG14((ChipAuthenticationPublicKeyInfo(ID_PK_ECDH, ca_key), ChipAuthenticationInfo(ID_CA_ECDH_AES_128, 1)))
    return {
        1: DG1(MRZ.from_resident(person)).encode(),
        2: DG2((FaceImage.from_image(synthetic_portrait_jpeg(3)),)).encode(),
        13: DG13.from_resident(person).encode(),
        14: dg14.encode(),
        15: DG15.from_cryptography(aa_key.public_key()).encode(),
    }


def sign(groups: dict[int, bytes], pki: TestPKI, signing_time: datetime | None = None) -> bytes:
    lso = LDSSecurityObject.for_files("sha256", groups)
    return SOD.sign(lso, pki.document_signer, signing_time=signing_time).encode()


def card(groups: dict[int, bytes], sod: bytes, listed: tuple[int, ...] | None = None) -> CardImage:
    """A dump: EF.COM listing ``listed`` (default: the signed groups plus the protected DG3)."""
    com = EFCOM(data_groups=listed if listed is not None else tuple(sorted({*groups, 3})))
    files = {"EF.COM": com.encode(), "EF.SOD": sod, **{f"DG{n}": data for n, data in groups.items()}}
    return CardImage(files, label="synthetic")


def trust_of(pki: TestPKI) -> TrustStore:
    return TrustStore([Certificate.from_cryptography(pki.csca_certificate)],
                      [RevocationList.from_cryptography(pki.crl)])


@dataclass
class Issuer:
    """A test country: its PKI, a genuine card's data groups (with DG3 listed in the SOD) and its trust store."""

    pki: TestPKI
    groups: dict[int, bytes]

    @property
    def trust(self) -> TrustStore:
        return trust_of(self.pki)

    def signed(self) -> dict[int, bytes]:
        """What the SOD covers: the data groups read plus DG3, which the chip holds but refuses to give."""
        return {**self.groups, 3: b"\x63\x03\x02\x01\x00"}

    def genuine(self) -> CardImage:
        return card(self.groups, sign(self.signed(), self.pki))


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer(TestPKI.generate(), data_groups(resident()))


def failing(report: VerificationReport) -> set[str]:
    return {check.id for check in report.failures()}


def test_genuine_card_is_valid_and_fails_nothing(issuer: Issuer) -> None:
    report = verify(issuer.genuine(), issuer.trust)
    assert report.verdict is Verdict.VALID, report.to_text()
    assert not report.failures() and not report.undecided()
    assert report.check("hash.DG3").status is Status.NOT_APPLICABLE
    assert report.check("chain.crl").status is Status.PASS
    assert report.check("live.chip_authentication").status is Status.NOT_APPLICABLE
    holder = report.holder
    assert (holder.source, holder.full_name, holder.id_number, holder.sex) == ("DG13", "Trần Thị Lan Anh",
                                                                               "079303004821", Sex.FEMALE)
    assert (holder.date_of_birth, holder.date_of_expiry) == (date(2003, 5, 14), date(2028, 5, 14))
    assert holder.document_number == "303004821" and holder.issuing_state == "VNM" and not holder.unparsed
    assert holder.display() == {"full name": "Trần Thị Lan Anh", "ID number": "079303004821",
                                "date of birth": "14/05/2003", "sex": "Nữ", "date of expiry": "14/05/2028"}


def _flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1 :]


def test_altered_mrz_name_is_caught_by_the_dg1_hash(issuer: Issuer) -> None:
    dg1 = issuer.groups[1]
    groups = {**issuer.groups, 1: dg1.replace(b"TRAN<<THI", b"TRAN<<THU")}
    report = verify(card(groups, sign(issuer.signed(), issuer.pki)), issuer.trust)
    assert failing(report) == {"hash.DG1", "cross.name"}
    assert "the MRZ was altered after signing" in report.check("hash.DG1").reason


def test_altered_portrait_byte_is_caught_by_the_dg2_hash(issuer: Issuer) -> None:
    dg2 = issuer.groups[2]
    groups = {**issuer.groups, 2: _flip(dg2, len(dg2) - 200)}
    report = verify(card(groups, sign(issuer.signed(), issuer.pki)), issuer.trust)
    assert failing(report) == {"hash.DG2"}
    assert report.check("hash.DG2").reason == "DG2 hash does not match the SOD: the portrait was altered after signing"


def test_altered_address_is_caught_by_the_dg13_hash(issuer: Issuer) -> None:
    dg13 = issuer.groups[13]
    groups = {**issuer.groups, 13: dg13.replace("Số 18".encode(), "Số 19".encode())}
    report = verify(card(groups, sign(issuer.signed(), issuer.pki)), issuer.trust)
    assert failing(report) == {"hash.DG13"}


def test_data_group_missing_from_ef_com_breaks_consistency(issuer: Issuer) -> None:
    report = verify(card(issuer.groups, sign(issuer.signed(), issuer.pki), listed=(1, 2, 3, 13, 14)), issuer.trust)
    assert failing(report) == {"com.sod_consistency"}
    assert "DG15 only in the SOD" in report.check("com.sod_consistency").reason


def test_unsigned_data_group_listed_in_ef_com_fails(issuer: Issuer) -> None:
    signed = {n: data for n, data in issuer.signed().items() if n != 15}
    report = verify(card(issuer.groups, sign(signed, issuer.pki)), issuer.trust)
    assert failing(report) == {"hash.DG15", "com.sod_consistency"}
    assert "unsigned data" in report.check("hash.DG15").reason


def _forged_ds(issuer: Issuer) -> TestPKI:
    """A self-made DS certificate claiming the genuine CSCA as issuer (name and key id), signed by its own key."""
    key = ec.generate_private_key(ec.BrainpoolP384R1())
    real = issuer.pki.ds_certificate
    builder = x509.CertificateBuilder().subject_name(real.subject).issuer_name(real.issuer).public_key(key.public_key())
    builder = builder.serial_number(x509.random_serial_number()).not_valid_before(real.not_valid_before_utc)
    builder = builder.not_valid_after(real.not_valid_after_utc)
    for extension in real.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    certificate = builder.sign(key, hashes.SHA384())
    genuine = issuer.pki
    return TestPKI(genuine.config, genuine.csca_certificate, genuine.csca_key, certificate, key, genuine.crl)


def test_sod_resigned_with_a_self_made_dsc_fails_the_chain(issuer: Issuer) -> None:
    report = verify(card(issuer.groups, sign(issuer.signed(), _forged_ds(issuer))), issuer.trust)
    assert failing(report) == {"chain.ds_signature"}
    assert report.check("sod.signature").status is Status.PASS


def test_dsc_from_another_csca_with_the_same_name_cannot_tell(issuer: Issuer) -> None:
    """Its AKI names a key the store does not hold: a same-named CSCA with another key is not its issuer (a key
    rollover looks the same), so the card cannot be told genuine, nor forged (issue 12)."""
    rogue = TestPKI.generate()
    report = verify(card(issuer.groups, sign(issuer.signed(), rogue)), issuer.trust)
    assert report.verdict is Verdict.CANNOT_TELL and not failing(report)
    assert [check.id for check in report.undecided()] == ["chain.csca_found"]


def test_dsc_of_an_unknown_csca_cannot_tell(issuer: Issuer) -> None:
    report = verify(issuer.genuine(), TrustStore())
    assert report.verdict is Verdict.CANNOT_TELL
    assert [check.id for check in report.undecided()] == ["chain.csca_found"]


def test_expired_dsc_fails_validity(issuer: Issuer) -> None:
    old = TestPKI.generate(now=datetime.now(UTC) - timedelta(days=365 * 11))
    report = verify(card(issuer.groups, sign(issuer.signed(), old)), trust_of(old))
    assert failing(report) == {"chain.ds_validity"}
    assert report.check("chain.crl").status is Status.UNKNOWN  # the CRL of 11 years ago is stale: cannot tell


def test_dsc_valid_at_signing_time_passes_after_it_expired(issuer: Issuer) -> None:
    start = datetime.now(UTC) - timedelta(days=365 * 11)
    old = TestPKI.generate(now=start)
    sod = sign(issuer.signed(), old, signing_time=start + timedelta(days=10))
    report = verify(card(issuer.groups, sod), trust_of(old))
    assert report.check("chain.ds_validity").status is Status.PASS
    assert "valid at the signing time" in report.check("chain.ds_validity").reason


def test_revoked_dsc_fails(issuer: Issuer) -> None:
    revoked = issuer.pki.revoke(issuer.pki.ds_certificate)
    report = verify(issuer.genuine(), trust_of(revoked))
    assert failing(report) == {"chain.ds_not_revoked"}
    assert "revoked" in report.check("chain.ds_not_revoked").reason


def test_missing_crl_only_warns(issuer: Issuer) -> None:
    report = verify(issuer.genuine(), TrustStore([Certificate.from_cryptography(issuer.pki.csca_certificate)]))
    assert report.verdict is Verdict.VALID
    assert report.check("chain.crl").status is Status.WARN
    assert report.check("chain.ds_not_revoked").status is Status.WARN


def test_dg1_and_dg13_disagreeing_are_caught_by_the_cross_check(issuer: Issuer) -> None:
    groups = {**issuer.groups, 13: DG13.from_resident(resident(full_name="Trần Thị Lan Hương")).encode()}
    report = verify(card(groups, sign({**groups, 3: issuer.signed()[3]}, issuer.pki)), issuer.trust)
    assert failing(report) == {"cross.name"}


def test_wrong_birth_date_check_digit_is_a_conformance_failure(issuer: Issuer) -> None:
    text = MRZ.from_resident(resident()).text
    wrong = str((int(text[36]) + 1) % 10)
    broken = text[:36] + wrong + text[37:59]
    composite = check_digit(broken[5:30] + broken[30:37] + broken[38:45] + broken[48:59])
    mrz = MRZ.parse(broken + composite + text[60:])
    groups = {**issuer.groups, 1: DG1(mrz).encode()}
    report = verify(card(groups, sign({**groups, 3: issuer.signed()[3]}, issuer.pki)), issuer.trust)
    assert failing(report) == {"lds.dg1.check_digit.date_of_birth"}


def test_live_results_replace_the_dump_placeholders(issuer: Issuer) -> None:
    live = LiveResults(chip_authentication=(False, "MAC over the ephemeral key wrong"),
                       active_authentication=(True, "ECDSA signature verifies"), protected_files=frozenset({"DG3"}))
    report = verify(issuer.genuine(), issuer.trust, live=live)
    assert failing(report) == {"live.chip_authentication"}
    assert report.check("live.active_authentication").status is Status.PASS


def test_dg_listed_in_sod_but_not_read_cannot_tell(issuer: Issuer) -> None:
    groups = {n: data for n, data in issuer.groups.items() if n != 15}
    report = verify(card(groups, sign(issuer.signed(), issuer.pki), listed=(1, 2, 3, 13, 14, 15)), issuer.trust)
    assert report.verdict is Verdict.CANNOT_TELL
    assert report.check("hash.DG15").reason == "DG15 listed in SOD but not in the dump"


@pytest.mark.parametrize(("folder", "checked"), [("bsi2008", (1, 2, 3, 14)), ("loes2006", (1, 2, 15))])
def test_public_specimens_verify_but_their_csca_is_unknown(shared_data: Path, folder: str,
                                                           checked: tuple[int, ...]) -> None:
    at = datetime(2008, 6, 1, tzinfo=UTC)  # inside both Document Signers' validity
    report = verify(CardImage.load(shared_data / folder), TrustStore.load(shared_data / "csca"), at=at)
    assert report.verdict is Verdict.CANNOT_TELL, report.to_text()
    assert [check.id for check in report.undecided()] == ["chain.csca_found"]
    for check_id in ("sod.decode", "sod.signature", "sod.message_digest", "sod.signer", "com.sod_consistency",
                     *(f"hash.DG{n}" for n in checked)):
        assert report.check(check_id).status is Status.PASS, check_id


_TAMPERABLE = ("DG1", "DG2", "DG13", "DG14", "DG15")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(_TAMPERABLE), position=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_any_flipped_bit_in_a_signed_group_is_never_valid(issuer: Issuer, name: str, position: float,
                                                          bit: int) -> None:
    image = issuer.genuine()
    data = image.files[name]
    offset = int(position * len(data))
    tampered = data[:offset] + bytes([data[offset] ^ (1 << bit)]) + data[offset + 1 :]
    report = verify(CardImage({**image.files, name: tampered}), issuer.trust)
    assert f"hash.{name}" in failing(report)


_NAMES = st.sampled_from(("EF.COM", "EF.SOD", "DG1", "DG2", "DG13", "DG14", "DG15"))


@settings(max_examples=60, deadline=None)
@given(files=st.dictionaries(_NAMES, st.binary(max_size=64), max_size=7))
def test_garbage_files_give_a_report_never_an_exception(files: dict[str, bytes]) -> None:
    report = verify(CardImage(files), TrustStore())
    assert report.verdict is not Verdict.VALID


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, 4000), extra=st.binary(max_size=8))
def test_truncated_sod_is_a_failure_not_an_exception(issuer: Issuer, cut: int, extra: bytes) -> None:
    image = issuer.genuine()
    sod = image.files["EF.SOD"]
    damaged = sod[: cut % len(sod)] + extra
    report = verify(CardImage({**image.files, "EF.SOD": damaged}), issuer.trust)
    assert report.verdict is not Verdict.VALID


def test_personalized_card_verifies_and_its_tampering_is_caught(issuer: Issuer) -> None:
    image = personalize(resident(), synthetic_portrait_jpeg(4), issuer.pki.document_signer)
    report = verify(image.dump(), issuer.trust)
    assert report.verdict is Verdict.VALID, report.to_text()
    assert report.check("hash.DG3").status is Status.PASS  # the image holds DG3; a chip would refuse it
    dg13 = image.files["DG13"]
    tampered = CardImage({**image.files, "DG13": dg13.replace("Số 18".encode(), "Số 19".encode())})
    assert failing(verify(tampered, issuer.trust)) == {"hash.DG13"}
