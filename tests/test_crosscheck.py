"""DG1 ↔ DG13 cross-checks on synthetic residents (no real person's data)."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardlib.card.perso import personalize
from cardlib.lds.dg1 import DG1
from cardlib.lds.dg13 import DG13, DG13Field, DG13Text
from cardlib.lds.dg13_fields import StringType
from cardlib.model.mrz import MRZ
from cardlib.model.resident import Resident, Sex
from cardlib.pki.trust import TrustStore
from cardlib.testing.faces import synthetic_portrait_jpeg
from cardlib.testing.pki import TestPKI
from cardlib.verify.crosscheck import CROSS_CHECK_IDS, cross_checks
from cardlib.verify.decoded import DecodedLDS
from cardlib.verify.report import Status, Verdict
from cardlib.verify.verifier import verify


def resident(**changes: object) -> Resident:
    base: dict[str, object] = {
        "id_number": "079303004821", "full_name": "Trần Thị Lan Anh", "date_of_birth": date(2003, 5, 14),
        "sex": Sex.FEMALE, "place_of_origin": "Tiền Giang", "place_of_residence": "Quận 1, Hồ Chí Minh",
        "date_of_issue": date(2021, 6, 1), "date_of_expiry": date(2028, 5, 14),
    }
    return Resident(**{**base, **changes})  # type: ignore[arg-type]


def statuses(dg1_of: Resident, dg13_of: Resident | DG13) -> dict[str, Status]:
    dg13 = dg13_of if isinstance(dg13_of, DG13) else DG13.from_resident(dg13_of)
    lds = DecodedLDS(dg1=DG1(MRZ.from_resident(dg1_of)), dg13=dg13)
    return {check.id: check.status for check in cross_checks(lds)}


def with_field(person: Resident, number: int, text: str, kind: StringType = StringType.UTF8) -> DG13:
    entries = DG13.from_resident(person).entries
    return DG13(tuple(DG13Field(number, (DG13Text(text, kind),)) if e.number == number else e for e in entries))


def test_agreeing_groups_pass_every_cross_check() -> None:
    assert statuses(resident(), resident()) == dict.fromkeys(CROSS_CHECK_IDS, Status.PASS)


def test_no_expiry_maps_to_991231() -> None:
    # Born 1944 (century digit 0 for a man in the 1900s, year digits 44): cards of the elderly never expire.
    old = resident(id_number="079044001234", date_of_birth=date(1944, 7, 2), sex=Sex.MALE, date_of_expiry=None,
                   full_name="Thân Văn Phúc")
    assert MRZ.from_resident(old).date_of_expiry == "991231"
    assert statuses(old, old)["cross.date_of_expiry"] is Status.PASS
    assert statuses(old, resident())["cross.date_of_expiry"] is Status.FAIL


def test_long_name_is_compared_through_the_mrz_truncation() -> None:
    long_name = resident(full_name="Nguyễn Hoàng Phương Thảo Khánh Linh Bảo Ngọc")
    assert len(MRZ.from_resident(long_name).lines[2].rstrip("<")) == 30
    assert statuses(long_name, long_name)["cross.name"] is Status.PASS


@pytest.mark.parametrize(("dg13_change", "check_id"), [
    ({"full_name": "Trần Thị Lan Hương"}, "cross.name"),
    ({"id_number": "079303004822"}, "cross.id_number"),
    ({"date_of_birth": date(2003, 5, 15)}, "cross.date_of_birth"),
    ({"date_of_expiry": date(2028, 5, 15)}, "cross.date_of_expiry"),
])
def test_each_disagreement_fails_exactly_its_check(dg13_change: dict[str, object], check_id: str) -> None:
    result = statuses(resident(), resident(**dg13_change))
    assert {name for name, status in result.items() if status is Status.FAIL} == {check_id}


def test_sex_disagreement_fails_sex_and_resident() -> None:
    result = statuses(resident(), with_field(resident(), 4, "Nam"))
    assert {name for name, status in result.items() if status is Status.FAIL} == {"cross.sex", "cross.resident"}


def test_id_number_with_wrong_century_digit_fails_resident_validation() -> None:
    dg13 = with_field(resident(), 1, "079203004821", StringType.PRINTABLE)  # 2 = a man born in the 2000s
    result = statuses(resident(), dg13)
    assert result["cross.resident"] is Status.FAIL
    assert result["cross.id_number"] is Status.FAIL


def test_unparseable_dg13_date_fails_the_comparison() -> None:
    result = statuses(resident(), with_field(resident(), 3, "14-05-2003", StringType.PRINTABLE))
    assert result["cross.date_of_birth"] is Status.FAIL


def test_missing_groups_are_not_applicable() -> None:
    only_dg1 = cross_checks(DecodedLDS(dg1=DG1(MRZ.from_resident(resident()))))
    assert {check.status for check in only_dg1} == {Status.NOT_APPLICABLE}
    assert only_dg1[0].reason == "DG13 is not in the dump: nothing to cross-check"
    only_dg13 = {c.id: c.status for c in cross_checks(DecodedLDS(dg13=DG13.from_resident(resident())))}
    assert only_dg13["cross.name"] is Status.NOT_APPLICABLE
    assert only_dg13["cross.resident"] is Status.PASS


@settings(max_examples=100, deadline=None)
@given(number=st.integers(1, 16), text=st.text(max_size=40))
def test_any_dg13_value_gives_results_not_exceptions(number: int, text: str) -> None:
    result = statuses(resident(), with_field(resident(), number, text))
    assert set(result) == set(CROSS_CHECK_IDS)


def test_birth_registered_abroad_warns_and_fails_nothing() -> None:
    # Decree 137/2015/NĐ-CP Art. 13: 840 is no province, so it is the (unpublished) code of the country of
    # registration: the resident is valid and cross.resident says it cannot check the code.
    abroad = resident(id_number="840303004821", place_of_origin="Hà Nội", place_of_residence="Quận 1, Hồ Chí Minh")
    checks = {check.id: check for check in cross_checks(DecodedLDS(dg1=DG1(MRZ.from_resident(abroad)),
                                                                   dg13=DG13.from_resident(abroad)))}
    assert {check_id for check_id, check in checks.items() if check.status is not Status.PASS} == {"cross.resident"}
    assert checks["cross.resident"].status is Status.WARN
    assert "country code 840" in checks["cross.resident"].reason


def test_addresses_naming_provinces_merged_in_2025_pass() -> None:
    # Resolution 202/2025/QH15 merged Hà Giang into Tuyên Quang and Bình Dương into Hồ Chí Minh: cards issued
    # before keep those names in DG13 and stay valid.
    old = resident(id_number="002303004821", place_of_origin="Xã Lũng Cú, Huyện Đồng Văn, Hà Giang",
                   place_of_residence="Phường Phú Cường, Thành phố Thủ Dầu Một, Bình Dương")
    assert statuses(old, old) == dict.fromkeys(CROSS_CHECK_IDS, Status.PASS)


@pytest.mark.parametrize(("name", "named"), [
    ("Trần Thị Lan Anhы", "U+044B CYRILLIC SMALL LETTER YERU"),
    ("Trần Thị Lan Anh Иван", "U+0418 CYRILLIC CAPITAL LETTER I"),
    ("Trần Thị L\u0336an Anh", "U+0336 COMBINING LONG STROKE OVERLAY"),
])
def test_a_name_with_foreign_characters_no_longer_matches(name: str, named: str) -> None:
    checks = {check.id: check for check in cross_checks(DecodedLDS(
        dg1=DG1(MRZ.from_resident(resident())), dg13=with_field(resident(), 2, name)))}
    assert checks["cross.name"].status is Status.FAIL and named in checks["cross.name"].reason
    assert checks["cross.resident"].status is Status.FAIL and named in checks["cross.resident"].reason


def test_a_name_stored_in_nfd_matches() -> None:
    nfd = unicodedata.normalize("NFD", resident().full_name)
    assert statuses(resident(), with_field(resident(), 2, nfd)) == dict.fromkeys(CROSS_CHECK_IDS, Status.PASS)


@pytest.mark.parametrize(("number", "check_id", "values"), [
    (2, "cross.name", ("Trần Thị Lan Anh", "Nguyễn Văn Bình")),
    (2, "cross.name", ("Trần Thị Lan Anh", "Trần Thị Lan Anh")),  # even the same value twice is ambiguous
    (12, "cross.date_of_expiry", ("14/05/2028", "Không thời hạn")),
    (1, "cross.id_number", ("079303004821", "079303004822")),
])
def test_a_repeated_field_fails_the_check_comparing_it(number: int, check_id: str, values: tuple[str, ...]) -> None:
    entries = DG13.from_resident(resident()).entries
    dg13 = DG13(tuple(DG13Field(number, tuple(DG13Text(v) for v in values)) if e.number == number else e
                      for e in entries))
    checks = {check.id: check for check in cross_checks(DecodedLDS(dg1=DG1(MRZ.from_resident(resident())),
                                                                   dg13=dg13))}
    assert checks[check_id].status is Status.FAIL
    assert f"DG13 field {number} holds 2 values" in checks[check_id].reason
    assert all(repr(value) in checks[check_id].reason for value in values)


def test_genuine_card_of_a_citizen_born_abroad_is_valid(test_pki: TestPKI, trust: TrustStore) -> None:
    # perso accepts the citizen and verify calls the signed card genuine: the country code is only a warning.
    abroad = resident(id_number="840303004821")
    card = personalize(abroad, synthetic_portrait_jpeg(1), test_pki.document_signer)
    report = verify(card, trust)
    assert report.verdict is Verdict.VALID, report.to_text()
    assert report.check("cross.resident").status is Status.WARN
