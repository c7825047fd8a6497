"""MRZ: the CCCD TD1 example, TD3 from real specimen passports, check digits, names, tolerant parsing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardlib.errors import CardlibError, DecodeError, EncodeError
from cardlib.model.mrz import MRZ, MRZFormat, check_digit, name_field, transliterate
from cardlib.model.resident import Resident, Sex

# Real CCCD MRZ shown in a public reader's manual (shared docs cccd-chip.md, "Card and MRZ").
CCCD_LINES = (
    "IDVNM0440092711001044009271<<2",
    "4407021M9912315VNM<<<<<<<<<<<4",
    "THANH<<QUANG<BAO<<<<<<<<<<<<<<",
)
# ICAO 9303-5 (TD1) example of a document number longer than 9 characters (D23145890734, check digit 9).
ICAO_LONG_NUMBER = ("I<UTOD23145890<7349<<<<<<<<<<<", "3407127M9507122UTO<<<<<<<<<<<2",
                    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<")


def cccd_resident() -> Resident:
    return Resident(
        id_number="001044009271", full_name="Thanh Quang Bảo", date_of_birth=date(1944, 7, 2), sex=Sex.MALE,
        place_of_origin="Hà Nội", place_of_residence="Hà Nội", date_of_issue=date(2021, 4, 12), date_of_expiry=None,
    )


def test_compose_reproduces_the_real_cccd_example() -> None:
    mrz = MRZ.from_resident(cccd_resident())
    assert mrz.lines == CCCD_LINES
    assert str(mrz) == "\n".join(CCCD_LINES)
    assert mrz.check_digit_errors() == []


def test_parse_real_cccd_example_fields() -> None:
    mrz = MRZ.parse("\n".join(CCCD_LINES))
    assert mrz.format is MRZFormat.TD1
    assert (mrz.document_code, mrz.issuing_state, mrz.nationality) == ("ID", "VNM", "VNM")
    assert mrz.document_number == "044009271"
    assert mrz.id_number == "001044009271"
    assert (mrz.date_of_birth, mrz.date_of_expiry, mrz.sex) == ("440702", "991231", "M")
    assert (mrz.primary_identifier, mrz.secondary_identifier) == ("THANH", "QUANG BAO")
    assert mrz.optional_data == "001044009271<<2"
    assert mrz.optional_data_2 == ""
    assert mrz.mrz_information == "044009271144070219912315"


def test_check_digits_of_the_example_cover_what_the_docs_say() -> None:
    assert check_digit("044009271") == "1"
    assert check_digit("440702") == "1"
    assert check_digit("991231") == "5"
    assert check_digit("001044009271<<") == "2"  # line 1 position 30 covers positions 16-29
    assert check_digit("0440092711001044009271<<2" "4407021" "9912315" "<<<<<<<<<<<") == "4"


def test_check_digit_icao_examples() -> None:
    # ICAO 9303-11 App. D.2: MRZ_information L898902C<369080619406236.
    assert check_digit("L898902C<") == "3"
    assert check_digit("690806") == "1"
    assert check_digit("940623") == "6"
    # ICAO 9303-11 App. G.1: T22000129 (3), 640812 (5), 101031 (8).
    assert [check_digit(x) for x in ("T22000129", "640812", "101031")] == ["3", "5", "8"]


def test_check_digit_rejects_non_mrz_characters() -> None:
    with pytest.raises(EncodeError):
        check_digit("abc")


@pytest.mark.parametrize(
    ("position", "name"),
    [(14, "document number"), (36, "date of birth"), (44, "date of expiry"), (29, "optional data (line 1 position 30)"),
     (59, "composite")],
)
def test_each_wrong_check_digit_is_named(position: int, name: str) -> None:
    text = "".join(CCCD_LINES)
    wrong = "7" if text[position] != "7" else "8"
    mrz = MRZ.parse(text[:position] + wrong + text[position + 1 :])
    assert name in mrz.check_digit_errors()


def test_check_digits_lists_every_digit_of_the_format_with_its_outcome() -> None:
    text = "".join(CCCD_LINES)
    assert MRZ.parse(text).check_digits() == [
        ("document number", True), ("date of birth", True), ("date of expiry", True),
        ("optional data (line 1 position 30)", True), ("composite", True)]
    broken = MRZ.parse(text[:36] + ("7" if text[36] != "7" else "8") + text[37:])
    assert dict(broken.check_digits())["date of birth"] is False
    td3 = MRZ.parse("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F1204159ZE184226B<<<<<10")
    assert [name for name, _ in td3.check_digits()] == [
        "document number", "date of birth", "date of expiry", "optional data", "composite"]


def test_parse_concatenated_and_with_blank_lines() -> None:
    assert MRZ.parse("".join(CCCD_LINES)) == MRZ.parse("\r\n" + "\n\n".join(CCCD_LINES) + "\n  ")


@pytest.mark.parametrize(("path", "mrz_information", "name"), [
    ("bsi2008/Datagroup1.bin", "C11T002JM496081221310317", "MUSTERMANN ERIKA"),
    ("loes2006/ef0101.bin", "XX0001328671101951110012", "MEULENDIJK LOES ALBERTINE"),
])
def test_td3_from_specimen_passports(shared_data: Path, path: str, mrz_information: str, name: str) -> None:
    text = (shared_data / path).read_bytes()[5:].decode("ascii")
    mrz = MRZ.parse(text)
    assert mrz.format is MRZFormat.TD3
    assert mrz.text == text
    assert mrz.check_digit_errors() == []
    assert mrz.mrz_information == mrz_information
    assert mrz.name == name


def test_td3_fields_of_bsi_specimen(shared_data: Path) -> None:
    mrz = MRZ.parse((shared_data / "bsi2008/Datagroup1.bin").read_bytes()[5:].decode("ascii"))
    assert (mrz.document_code, mrz.issuing_state, mrz.nationality, mrz.sex) == ("P", "D", "D", "F")
    assert (mrz.date_of_birth, mrz.date_of_expiry, mrz.optional_data) == ("960812", "131031", "")


def test_td2_parse() -> None:
    # ICAO 9303-6 TD2 specimen layout (Anna Maria Eriksson, D23145890, UTO).
    text = "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<" "D231458907UTO7408122F1204159<<<<<<<6"
    mrz = MRZ.parse(text)
    assert mrz.format is MRZFormat.TD2
    assert mrz.document_number == "D23145890"
    assert mrz.check_digit_errors() == []
    assert mrz.mrz_information == "D23145890774081221204159"


def test_long_document_number_continues_in_optional_data() -> None:
    mrz = MRZ.parse("".join(ICAO_LONG_NUMBER))
    assert mrz.document_number == "D23145890734"
    assert mrz.document_number_check_digit == "9"
    assert mrz.check_digit_errors() == []
    assert mrz.mrz_information == "D23145890734934071279507122"


@pytest.mark.parametrize("text", ["", "ID", "x" * 90, "IDVNM" + "é" * 85, "<" * 89])
def test_parse_rejects_malformed(text: str) -> None:
    with pytest.raises(DecodeError):
        MRZ.parse(text)


@pytest.mark.parametrize(("name", "expected"), [
    ("Thân Quang Bảo", "THAN QUANG BAO"),
    ("Đặng Thị Đào", "DANG THI DAO"),
    ("Nguyễn  Văn-Ánh", "NGUYEN VAN ANH"),
    ("Lê O'Brien", "LE OBRIEN"),
    ("Ưng Hoàng Phúc", "UNG HOANG PHUC"),
])
def test_transliterate(name: str, expected: str) -> None:
    assert transliterate(name) == expected


def test_name_truncation_shortens_given_names_from_the_last() -> None:
    field = name_field("Nguyễn Hoàng Phương Thảo Nguyên Khánh", 30)
    assert len(field) == 30
    assert field == "NGUYEN<<HOANG<PHUONG<THAO<NG<K"
    assert name_field("Tôn Nữ Thị Xuân Hương Quỳnh Anh Bảo Ngọc Đức", 30) == "TON<<NU<THI<XUAN<HUO<Q<A<B<N<D"


def test_name_truncation_cuts_overlong_surname() -> None:
    field = name_field("Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa Bình", 30)
    assert field == "A" * 27 + "<<B"
    assert name_field("A" * 40, 30) == "A" * 30


def test_name_without_mrz_letters_is_an_error() -> None:
    with pytest.raises(EncodeError):
        name_field("ー", 30)


@settings(max_examples=100)
@given(
    birth=st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)),
    female=st.booleans(),
    serial=st.integers(min_value=0, max_value=999_999),
    expiry_years=st.one_of(st.none(), st.integers(min_value=1, max_value=40)),
    name=st.lists(st.sampled_from(["Nguyễn", "Đỗ", "Thị", "Văn", "Hoàng", "Phương", "Ánh", "Ưng"]), min_size=1,
                  max_size=8),
)
def test_compose_then_parse(birth: date, female: bool, serial: int, expiry_years: int | None, name: list[str]) -> None:
    digit = (0 if birth.year < 2000 else 2) + int(female)
    expiry = None if expiry_years is None else date(birth.year + expiry_years, birth.month, min(birth.day, 28))
    resident = Resident(
        id_number=f"001{digit}{birth.year % 100:02d}{serial:06d}", full_name=" ".join(name), date_of_birth=birth,
        sex=Sex.FEMALE if female else Sex.MALE, place_of_origin="Huế", place_of_residence="Huế",
        date_of_issue=birth, date_of_expiry=expiry,
    )
    mrz = MRZ.from_resident(resident)
    parsed = MRZ.parse(str(mrz))
    assert parsed == mrz
    assert parsed.check_digit_errors() == []
    assert parsed.id_number == resident.id_number
    assert parsed.document_number == resident.id_number[-9:]
    assert parsed.date_of_birth == birth.strftime("%y%m%d")
    assert parsed.sex == ("F" if female else "M")
    if len(transliterate(resident.full_name)) <= 28:
        assert parsed.name == transliterate(resident.full_name)


@settings(max_examples=200)
@given(st.one_of(st.text(max_size=100), st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<\n", min_size=60,
                                                    max_size=95)))
def test_garbage_into_parse_raises_only_cardlib_errors(text: str) -> None:
    try:
        mrz = MRZ.parse(text)
    except CardlibError:
        return
    mrz.check_digit_errors()
    assert len(mrz.mrz_information) >= 24
    assert mrz.name is not None


def test_repr_hides_the_key_seed() -> None:
    mrz = MRZ.from_resident(cccd_resident())
    assert mrz.document_number not in repr(mrz)
    assert mrz.date_of_birth not in repr(mrz)


def test_matches_name_for_the_dg13_cross_check() -> None:
    mrz = MRZ.parse("".join(CCCD_LINES))
    assert mrz.matches_name("Thanh Quang Bảo")
    assert not mrz.matches_name("Thân Quang Bảo")
    assert not mrz.matches_name("ー")
    long_name = "Nguyễn Hoàng Phương Thảo Nguyên Khánh"
    resident = Resident(
        id_number="079303000777", full_name=long_name, date_of_birth=date(2003, 1, 2), sex=Sex.FEMALE,
        place_of_origin="Huế", place_of_residence="Huế", date_of_issue=date(2021, 1, 2), date_of_expiry=None,
    )
    assert MRZ.from_resident(resident).matches_name(long_name)
