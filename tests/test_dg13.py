"""DG13: the majority layout byte by byte, tolerant decoding, round trips, errors with field and offset."""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardlib.errors import CardlibError, DecodeError, EncodeError, ValidationError
from cardlib.lds.dg13 import DG13, DG13Field, DG13Text
from cardlib.lds.dg13_fields import FIELD_TABLES, CardKind, StringType, card_kind, field_table, format_date, parse_date
from cardlib.lds.tlv import encode_tlv
from cardlib.model.resident import Resident, Sex

# Header of the majority layout (shared docs cccd-chip.md, "DG13"): version 1, OID 1.0.10646.1.0.8.
HEADER = bytes.fromhex("020101" "060628D316010008")


def resident(**changes: object) -> Resident:
    base: dict[str, object] = {
        "id_number": "001044009271", "full_name": "Thân Quang Bảo", "date_of_birth": date(1944, 7, 2),
        "sex": Sex.MALE, "place_of_origin": "Xã Đông Ngạc, Từ Liêm, Hà Nội",
        "place_of_residence": "Số 5, Ngõ 12, Phố Huế, Hai Bà Trưng, Hà Nội", "date_of_issue": date(2021, 4, 12),
        "date_of_expiry": None, "identification_marks": "Sẹo chấm C 2cm trên đuôi mày trái",
        "father_name": "Thân Văn Lộc", "mother_name": "Đỗ Thị Hoa", "old_id_number": "012345678",
    }
    return Resident(**{**base, **changes})  # type: ignore[arg-type]


def field(number: int, value: bytes) -> bytes:
    return encode_tlv(0x30, bytes([0x02, 0x01, number]) + value)


def utf8(text: str) -> bytes:
    return encode_tlv(0x0C, text.encode("utf-8"))


def printable(text: str) -> bytes:
    return encode_tlv(0x13, text.encode("ascii"))


def wrap(fields: bytes, header: bytes = HEADER) -> bytes:
    return encode_tlv(0x6D, encode_tlv(0x30, header + encode_tlv(0x31, fields)))


def test_encoder_writes_exactly_the_majority_layout() -> None:
    r = resident()
    expected_fields = b"".join([
        field(1, printable("001044009271")), field(2, utf8("Thân Quang Bảo")), field(3, printable("02/07/1944")),
        field(4, utf8("Nam")), field(5, utf8("Việt Nam")), field(6, utf8("Kinh")), field(7, utf8("Không")),
        field(8, utf8(r.place_of_origin)), field(9, utf8(r.place_of_residence)),
        field(10, utf8(r.identification_marks)),
        field(11, printable("12/04/2021")), field(12, utf8("Không thời hạn")),
        field(13, encode_tlv(0x30, utf8("Thân Văn Lộc") + utf8("Đỗ Thị Hoa"))),
        field(14, bytes.fromhex("3000")), field(15, printable("012345678")), field(16, printable("")),
    ])
    encoded = DG13.from_resident(r).encode()
    assert encoded == wrap(expected_fields)
    assert encoded[:2] == bytes.fromhex("6D82")  # more than 255 bytes: two length octets
    assert encoded[4:6] == bytes.fromhex("3082")


def test_spouse_and_sex_bytes() -> None:
    encoded = DG13.from_resident(resident(spouse_name="Lê Thị Mai")).encode()
    assert bytes.fromhex("3008020104" "0C034E616D") in encoded  # field 4 "Nam"
    assert field(14, encode_tlv(0x30, utf8("Lê Thị Mai"))) in encoded


def test_long_address_uses_long_form_length() -> None:
    address = "Số 1234, Đường Nguyễn Văn Linh, Khu phố 7, Phường Tân Thuận Tây, Quận 7, Thành phố Hồ Chí Minh, Việt Nam"
    assert len(address.encode()) > 127
    dg13 = DG13.from_resident(resident(place_of_residence=address))
    encoded = dg13.encode()
    assert bytes([0x0C, 0x81, len(address.encode())]) + address.encode() in encoded
    assert DG13.decode(encoded).to_resident().place_of_residence == address


def test_fields_are_ordered_by_number() -> None:
    numbers = [entry.number for entry in DG13.from_resident(resident()).entries]
    assert numbers == list(range(1, 17))


def test_round_trip_resident() -> None:
    r = resident(date_of_expiry=date(2031, 4, 12), spouse_name="Lê Thị Mai", card_serial="AB12CD34EF56GH78")
    decoded = DG13.decode(DG13.from_resident(r).encode())
    assert decoded.to_resident() == r
    assert decoded.text(12) == "12/04/2031"
    assert decoded.parents == ("Thân Văn Lộc", "Đỗ Thị Hoa")
    assert decoded.spouse == "Lê Thị Mai"
    assert decoded.fields[1].values == (DG13Text("001044009271", StringType.PRINTABLE),)


def test_tolerant_decode_keeps_unknown_missing_empty_and_long_forms() -> None:
    fields = b"".join([
        field(1, utf8("001044009271")),  # UTF8String where Printable is usual
        bytes.fromhex("3082000E" "020102" "0C8108") + "Bảo Vy".encode(),  # non-minimal long-form lengths
        field(3, printable("02/07/1944")),
        field(10, utf8("")),  # empty value
        field(14, b""),  # no value at all
        field(17, printable("UNKNOWN")),  # unknown field number
    ])
    data = wrap(fields)
    dg13 = DG13.decode(data)
    assert dg13.encode() == data
    assert [entry.number for entry in dg13.entries] == [1, 2, 3, 10, 14, 17]
    assert dg13.text(2) == "Bảo Vy"
    assert dg13.text(10) == ""
    assert dg13.spouse == ""
    assert dg13.text(17) == "UNKNOWN"
    assert dg13.text(4) is None
    rebuilt = DG13(dg13.entries)
    assert rebuilt.encode() == data  # each field keeps the bytes it arrived in


def test_replaced_field_is_reencoded_in_der() -> None:
    dg13 = DG13.decode(DG13.from_resident(resident()).encode())
    changed = dataclasses.replace(dg13.fields[4], values=(DG13Text("Nữ"),))
    assert changed.encode() == bytes.fromhex("3009020104" "0C044EE1BBAF")


def test_to_resident_reports_missing_field() -> None:
    dg13 = DG13.decode(wrap(field(1, printable("001044009271"))))
    with pytest.raises(ValidationError) as info:
        dg13.to_resident()
    assert info.value.field == "full_name"


def test_to_resident_rejects_invalid_values() -> None:
    entries = tuple(e if e.number != 3 else DG13Field(3, (DG13Text("31/02/1944"),))
                    for e in DG13.from_resident(resident()).entries)
    with pytest.raises(ValidationError) as info:
        DG13(entries).to_resident()
    assert info.value.field == "date_of_birth"


def test_non_utf8_names_field_and_offset() -> None:
    bad = field(2, bytes.fromhex("0C03") + b"A\xff\xfe")
    data = wrap(field(1, printable("001044009271")) + bad)
    with pytest.raises(DecodeError) as info:
        DG13.decode(data)
    assert info.value.file == "DG13"
    assert info.value.field == "field 2"
    assert info.value.offset == data.index(b"\xff")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        bytes.fromhex("6E00"),
        bytes.fromhex("6D00"),
        wrap(b"", header=bytes.fromhex("020101")),  # no OID
        wrap(b"", header=bytes.fromhex("0201010603FFFFFF")),  # OID whose last arc never ends
        wrap(bytes.fromhex("0400")),  # not a SEQUENCE in the SET
        wrap(bytes.fromhex("3000")),  # empty field
        wrap(bytes.fromhex("30030C0141")),  # no field number
        wrap(field(2, bytes.fromhex("0401AA"))),  # OCTET STRING value
        wrap(field(13, encode_tlv(0x30, bytes.fromhex("020100")))),  # INTEGER inside parents
        wrap(field(1, printable("1")) + field(1, printable("2"))),  # duplicate field number
        wrap(field(1, printable("1")))[:-1],  # truncated
    ],
)
def test_malformed_raises_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        DG13.decode(data)
    assert info.value.file == "DG13"


def test_printable_field_refuses_vietnamese_text() -> None:
    with pytest.raises(EncodeError):
        DG13Text("Đ", StringType.PRINTABLE).encode()


def test_dates() -> None:
    assert format_date(date(2003, 1, 9)) == "09/01/2003"
    assert parse_date("09/01/2003", "x") == date(2003, 1, 9)
    for text in ("2003-01-09", "9/1/2003", "30/02/2003"):
        with pytest.raises(ValidationError):
            parse_date(text, "x")


names = st.lists(st.sampled_from(["Nguyễn", "Đặng", "Thị", "Văn", "Hoàng", "Phương", "Ánh", "Ưng", "Lò"]),
                 min_size=1, max_size=5).map(" ".join)
places = st.text(alphabet="abcđêôơưạảấầẩẫậ ,/-0123456789ĐÂ", min_size=1, max_size=200).map(
    lambda s: " ".join(s.split()) or "Huế")


@settings(max_examples=100)
@given(
    birth=st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)),
    female=st.booleans(), serial=st.integers(0, 999_999), name=names, father=st.one_of(st.just(""), names),
    spouse=st.one_of(st.just(""), names), residence=places, no_expiry=st.booleans(),
    old_id=st.sampled_from(["", "123456789", "001090999999"]),
)
def test_resident_dg13_resident(birth: date, female: bool, serial: int, name: str, father: str, spouse: str,
                                residence: str, no_expiry: bool, old_id: str) -> None:
    digit = (0 if birth.year < 2000 else 2) + int(female)
    r = Resident(
        id_number=f"092{digit}{birth.year % 100:02d}{serial:06d}", full_name=name, date_of_birth=birth,
        sex=Sex.FEMALE if female else Sex.MALE, place_of_origin="Cần Thơ", place_of_residence=residence,
        date_of_issue=birth, date_of_expiry=None if no_expiry else date(birth.year + 20, 12, 31),
        father_name=father, spouse_name=spouse, old_id_number=old_id,
    )
    encoded = DG13.from_resident(r).encode()
    decoded = DG13.decode(encoded)
    assert decoded.to_resident() == r
    assert decoded.encode() == encoded
    assert DG13(decoded.entries).encode() == encoded


@settings(max_examples=200)
@given(st.one_of(st.binary(max_size=200), st.binary(max_size=120).map(lambda b: wrap(b))))
def test_garbage_into_decode_raises_only_cardlib_errors(data: bytes) -> None:
    try:
        dg13 = DG13.decode(data)
    except CardlibError:
        return
    assert dg13.encode() == data
    with contextlib.suppress(CardlibError):
        dg13.to_resident()


def test_repeated_values_are_all_kept_and_shown_as_ambiguous() -> None:
    data = wrap(b"".join([
        field(1, printable("001044009271")),
        field(2, utf8("Thân Quang Bảo") + utf8("Trần Văn Bình")),  # one field, two values
        field(13, encode_tlv(0x30, utf8("Thân Văn Lộc") + utf8("Đỗ Thị Hoa") + utf8("Lê Thị Hằng"))),  # 3 parents
        field(14, encode_tlv(0x30, b"")),  # single: no spouse
        field(20, printable("A") + printable("B")),  # outside the layout
    ]))
    dg13 = DG13.decode(data)
    assert dg13.encode() == data
    assert dg13.fields[2].texts == ("Thân Quang Bảo", "Trần Văn Bình")
    assert [entry.number for entry in dg13.repeated] == [2, 13, 20]
    assert not dg13.fields[1].repeated and not dg13.fields[14].repeated
    assert dg13.shown(2) == "Thân Quang Bảo | Trần Văn Bình (ambiguous: DG13 field 2 holds 2 values)"
    assert dg13.shown(1) == "001044009271"
    assert dg13.shown(4) is None


def test_two_spouses_or_two_parent_sequences_are_repeated() -> None:
    spouses = DG13.decode(wrap(field(14, encode_tlv(0x30, utf8("Lê Văn An") + utf8("Phạm Văn Bé")))))
    parents = DG13.decode(wrap(field(13, encode_tlv(0x30, utf8("A") + utf8("B")) + encode_tlv(0x30, utf8("C")))))
    assert spouses.fields[14].repeated and parents.fields[13].repeated
    assert not DG13.from_resident(resident(spouse_name="Lê Thị Hằng")).repeated


def test_a_field_number_appearing_twice_is_refused() -> None:
    with pytest.raises(DecodeError, match=r"field numbers appear twice: \[2\]"):
        DG13.decode(wrap(field(2, utf8("Thân Quang Bảo")) + field(2, utf8("Trần Văn Bình"))))


# -- card kinds: the 2021 CCCD and the 2024 Căn cước (Circular 16/2024/TT-BCA) --------------------------------


@pytest.mark.parametrize(("issued", "born", "kind"), [
    (date(2024, 6, 30), date(1990, 1, 1), CardKind.CCCD_2021),
    (date(2024, 7, 1), date(1990, 1, 1), CardKind.CAN_CUOC_2024),
    (date(2025, 7, 1), date(2019, 7, 2), CardKind.CAN_CUOC_2024_UNDER_6),  # one day short of 6
    (date(2025, 7, 1), date(2019, 7, 1), CardKind.CAN_CUOC_2024),  # 6 that day
    (date(2026, 2, 28), date(2020, 2, 29), CardKind.CAN_CUOC_2024_UNDER_6),  # a 29 February birthday: 1 March
    (date(2026, 3, 1), date(2020, 2, 29), CardKind.CAN_CUOC_2024),
])
def test_the_card_kind_follows_the_date_of_issue_and_the_age_on_that_day(issued: date, born: date,
                                                                          kind: CardKind) -> None:
    assert card_kind(issued, born) is kind


def _resident_2024(**changes: object) -> Resident:
    return resident(date_of_issue=date(2024, 9, 2), date_of_expiry=date(2029, 7, 2), identification_marks="",
                    place_of_origin="Phường Hàng Bạc, Quận Hoàn Kiếm, Hà Nội", **changes)


def test_a_2024_card_keeps_the_2021_layout_with_its_own_field_names() -> None:
    old, new = resident(), _resident_2024()
    dg13 = DG13.decode(DG13.from_resident(new).encode())
    assert dg13.kind is CardKind.CAN_CUOC_2024 and DG13.from_resident(old).kind is CardKind.CCCD_2021
    assert [entry.number for entry in dg13.entries] == list(range(1, 17))
    assert dg13.text(8) == "Phường Hàng Bạc, Quận Hoàn Kiếm, Hà Nội" and dg13.text(10) == ""
    assert dg13.to_resident() == new
    names_2021, names_2024 = field_table(CardKind.CCCD_2021), field_table(CardKind.CAN_CUOC_2024)
    assert (names_2021[8].name, names_2024[8].name) == ("place_of_origin", "place_of_birth_registration")
    assert names_2024[8].attributes == ("place_of_origin",)
    # every placement the 2024 table makes on its own says so; the 2021 table assumes nothing
    assumed = {spec.number for spec in FIELD_TABLES[CardKind.CAN_CUOC_2024] if spec.assumption}
    assert assumed == {8, 9, 10} and not any(spec.assumption for spec in FIELD_TABLES[CardKind.CCCD_2021])
    assert FIELD_TABLES[CardKind.CAN_CUOC_2024_UNDER_6] == FIELD_TABLES[CardKind.CAN_CUOC_2024]
    layout = [(spec.number, spec.string_type, spec.attributes) for spec in FIELD_TABLES[CardKind.CCCD_2021]]
    assert [(spec.number, spec.string_type, spec.attributes) for spec in FIELD_TABLES[CardKind.CAN_CUOC_2024]] == layout


def test_changing_the_2024_layout_is_a_table_edit(monkeypatch: pytest.MonkeyPatch) -> None:
    moved = tuple(dataclasses.replace(spec, number=17) if spec.number == 8 else spec
                  for spec in FIELD_TABLES[CardKind.CAN_CUOC_2024])
    monkeypatch.setitem(FIELD_TABLES, CardKind.CAN_CUOC_2024, moved)
    dg13 = DG13.from_resident(_resident_2024())
    assert 8 not in dg13.fields and dg13.text(17) == "Phường Hàng Bạc, Quận Hoàn Kiếm, Hà Nội"
    assert DG13.from_resident(resident()).text(8) == "Xã Đông Ngạc, Từ Liêm, Hà Nội"  # the 2021 card unchanged


def test_a_missing_required_field_is_named_as_the_card_kind_names_it() -> None:
    encoded = DG13.from_resident(_resident_2024())
    without_8 = DG13(tuple(entry for entry in encoded.entries if entry.number != 8))
    with pytest.raises(ValidationError) as caught:
        without_8.to_resident()
    assert caught.value.field == "place_of_birth_registration"


def test_a_dg13_whose_dates_do_not_parse_is_read_with_the_2021_table() -> None:
    broken = DG13((DG13Field(11, (DG13Text("2024-09-02"),)), DG13Field(3, (DG13Text("02/07/1944"),))))
    assert broken.kind is CardKind.CCCD_2021
