"""Resident: validation of the 12-digit ID number against Circular 07/2016/TT-BCA, dates and text."""

from __future__ import annotations

import dataclasses
import unicodedata
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardlib.errors import ValidationError
from cardlib.model.provinces import PROVINCE_SINCE_2025, PROVINCES, century_sex_digit, province_since_2025
from cardlib.model.resident import Resident, Sex

# Synthetic resident: Hà Nội (001), born 1990 male -> digit 4 = 0, year digits 90.
BASE: dict[str, Any] = {
    "id_number": "001090123456",
    "full_name": "Nguyễn Văn Đức",
    "date_of_birth": date(1990, 3, 15),
    "sex": Sex.MALE,
    "place_of_origin": "Xã Tân Lập, Huyện Đan Phượng, Hà Nội",
    "place_of_residence": "Số 12, Phố Láng Hạ, Quận Đống Đa, Hà Nội",
    "date_of_issue": date(2021, 6, 1),
    "date_of_expiry": date(2030, 3, 15),
}


def make(**changes: Any) -> Resident:
    return Resident(**{**BASE, **changes})


def test_valid_resident_defaults_and_can() -> None:
    resident = make()
    assert resident.nationality == "Việt Nam"
    assert resident.ethnicity == "Kinh"
    assert resident.religion == "Không"
    assert resident.can == "123456"
    assert resident.province == "Hà Nội"


def test_province_table_has_the_63_units_of_the_circular() -> None:
    assert len(PROVINCES) == 63
    assert PROVINCES["001"] == "Hà Nội"
    assert PROVINCES["079"] == "Hồ Chí Minh"
    assert PROVINCES["096"] == "Cà Mau"


@pytest.mark.parametrize(
    ("year", "female", "digit"),
    [(1900, False, 0), (1999, True, 1), (2000, False, 2), (2005, True, 3), (2100, False, 4), (2250, True, 7),
     (2399, False, 8), (1899, False, None), (2400, True, None)],
)
def test_century_sex_digit(year: int, female: bool, digit: int | None) -> None:
    assert century_sex_digit(year, female) == digit


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id_number": "001190123456"}, "id_number"),  # digit 4 says female
        ({"id_number": "001290123456"}, "id_number"),  # digit 4 says 2000s
        ({"id_number": "001091123456"}, "id_number"),  # year digits 91
        ({"id_number": "00109012345"}, "id_number"),  # 11 digits
        ({"id_number": "00109012345A"}, "id_number"),
        ({"id_number": "００１090123456"}, "id_number"),  # full-width digits are not ASCII
        ({"sex": Sex.FEMALE}, "id_number"),
        ({"date_of_birth": date(1890, 1, 1), "id_number": "001090123456"}, "date_of_birth"),
        ({"date_of_issue": date(1989, 1, 1)}, "date_of_issue"),
        ({"date_of_expiry": date(2021, 6, 1)}, "date_of_expiry"),
        ({"full_name": ""}, "full_name"),
        ({"full_name": "Nguyễn Văn 3"}, "full_name"),
        ({"full_name": "A" * 101}, "full_name"),
        ({"full_name": "Nguyễn\x00Văn"}, "full_name"),
        ({"place_of_residence": "x" * 301}, "place_of_residence"),
        ({"place_of_origin": ""}, "place_of_origin"),
        ({"father_name": "Bad<Name"}, "father_name"),
        ({"old_id_number": "12345678"}, "old_id_number"),
        ({"card_serial": "ABC-123"}, "card_serial"),
        ({"date_of_birth": "1990-03-15"}, "date_of_birth"),
        ({"sex": "Nam"}, "sex"),
        ({"full_name": 42}, "full_name"),
    ],
)
def test_invalid_resident_is_not_constructible(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        make(**changes)
    assert info.value.field == field


def test_female_born_2003_in_ho_chi_minh() -> None:
    resident = make(id_number="079303000777", date_of_birth=date(2003, 1, 2), sex=Sex.FEMALE,
                    date_of_issue=date(2021, 1, 2))
    assert resident.province == "Hồ Chí Minh"


def test_text_is_nfc_normalised_and_trimmed() -> None:
    decomposed = unicodedata.normalize("NFD", "  Trần Thị Đào ")
    resident = make(full_name=decomposed)
    assert resident.full_name == "Trần Thị Đào"
    assert unicodedata.is_normalized("NFC", resident.full_name)


def test_old_id_may_be_nine_or_twelve_digits_or_empty() -> None:
    assert make(old_id_number="012345678").old_id_number == "012345678"
    assert make(old_id_number="001090999999").old_id_number == "001090999999"
    assert make(old_id_number="").old_id_number == ""


def test_no_expiry_is_none() -> None:
    assert make(date_of_expiry=None).date_of_expiry is None


def test_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        make().full_name = "x"  # type: ignore[misc]


@pytest.mark.parametrize(("text", "sex"), [("Nam", Sex.MALE), ("nữ", Sex.FEMALE), ("M", Sex.MALE), ("F", Sex.FEMALE),
                                           (unicodedata.normalize("NFD", "Nữ"), Sex.FEMALE)])
def test_sex_parse(text: str, sex: Sex) -> None:
    assert Sex.parse(text) is sex


def test_sex_parse_rejects_other_text() -> None:
    with pytest.raises(ValidationError) as info:
        Sex.parse("X", field="gioi_tinh")
    assert info.value.field == "gioi_tinh"


@settings(max_examples=100)
@given(
    province=st.sampled_from(sorted(PROVINCES)),
    birth=st.dates(min_value=date(1900, 1, 1), max_value=date(2399, 12, 31)),
    female=st.booleans(),
    serial=st.integers(min_value=0, max_value=999_999),
)
def test_id_number_built_by_the_rule_is_accepted(province: str, birth: date, female: bool, serial: int) -> None:
    digit = century_sex_digit(birth.year, female)
    id_number = f"{province}{digit}{birth.year % 100:02d}{serial:06d}"
    sex = Sex.FEMALE if female else Sex.MALE
    resident = make(id_number=id_number, date_of_birth=birth, sex=sex, date_of_issue=birth, date_of_expiry=None)
    assert resident.can == f"{serial:06d}"


def test_repr_hides_the_can() -> None:
    resident = make()
    assert resident.can not in repr(resident)
    assert "Nguyễn Văn Đức" in repr(resident)


@pytest.mark.parametrize("code", ["003", "097", "840", "999"])
def test_birth_registered_abroad_opens_with_a_country_code(code: str) -> None:
    # Decree 137/2015/NĐ-CP Art. 13: the first three digits are a province OR a country code; the country table
    # is not published, so any code that is no province is accepted as an unverifiable country code.
    resident = make(id_number=f"{code}090123456")
    assert resident.province is None
    assert resident.birth_registration == (f"abroad, country code {code} "
                                           "(no published table: not verifiable here)")
    assert make().birth_registration == "Hà Nội"


def test_country_code_does_not_relax_the_other_digits() -> None:
    for id_number in ("840190123456", "840091123456"):  # digit 4 says female; year digits 91
        with pytest.raises(ValidationError) as info:
            make(id_number=id_number)
        assert info.value.field == "id_number"


def test_2025_merger_keeps_every_old_province_code() -> None:
    # Resolution 202/2025/QH15: 63 provinces become 34 on 1 July 2025; ID numbers keep the code of the province
    # of registration at the time, so all 63 stay valid and map to a current province for display.
    assert set(PROVINCE_SINCE_2025) == set(PROVINCES)
    assert len(set(PROVINCE_SINCE_2025.values())) == 34
    assert province_since_2025("002") == "Tuyên Quang"  # Hà Giang
    assert province_since_2025("074") == province_since_2025("077") == "Hồ Chí Minh"  # Bình Dương, BR-VT
    assert province_since_2025("003") is None
    for code, name in PROVINCES.items():
        assert make(id_number=f"{code}090123456", place_of_origin=name, place_of_residence=name).province == name
