"""Personalization input: the shipped samples, both formats, and every kind of bad row rejected with its field."""

from __future__ import annotations

import codecs
import csv
import json
import re
import unicodedata
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from cardlib.card.input_csv import csv_layout, is_correction_file
from cardlib.card.input_records import (
    COLUMNS,
    FINGER_COLUMNS,
    FingerFile,
    InputRecord,
    RejectedRow,
    fingerprint,
    parse_input_date,
)
from cardlib.card.inputs import read_records
from cardlib.errors import InputError, ValidationError
from cardlib.lds.dg3 import FingerPosition
from cardlib.lds.dg13 import DG13
from cardlib.model.mrz import MRZ, transliterate

SAMPLES = Path(__file__).resolve().parents[1] / "tools" / "cardtool" / "samples"

GOOD = {
    "id_number": "001085031742", "full_name": "Nguyễn Văn An", "date_of_birth": "12/04/1985", "sex": "Nam",
    "nationality": "Việt Nam", "ethnicity": "Kinh", "religion": "Không", "place_of_origin": "Đông Ngạc, Hà Nội",
    "place_of_residence": "Số 18, Phố Láng Hạ, Hà Nội", "identification_marks": "", "date_of_issue": "2021-03-10",
    "date_of_expiry": "12/04/2025", "father_name": "", "mother_name": "", "spouse_name": "", "old_id_number": "",
    "portrait": "r01.jpg",
}


def records(path: Path, *, check_portraits: bool = True,
            cell: Callable[[str], str] | None = None) -> list[InputRecord | RejectedRow]:
    return list(read_records(path, check_portraits=check_portraits, cell=cell))


def accepted(items: list[InputRecord | RejectedRow]) -> list[InputRecord]:
    return [item for item in items if isinstance(item, InputRecord)]


def write_csv(tmp_path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = COLUMNS) -> Path:
    path = tmp_path / "in.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    (tmp_path / "r01.jpg").write_bytes(b"\xff\xd8\xff")
    return path


@pytest.mark.parametrize("name", ["residents.csv", "residents.jsonl"])
def test_samples_are_eight_valid_synthetic_residents(name: str) -> None:
    items = records(SAMPLES / name, check_portraits=False)
    assert len(items) == 8
    good = accepted(items)
    assert len(good) == 8
    assert [item.portrait for item in good] == [SAMPLES / f"portraits/r0{n}.jpg" for n in range(1, 9)]
    residents = [item.resident for item in good]
    assert {r.sex.value for r in residents} == {"Nam", "Nữ"}
    assert len({r.id_number[:3] for r in residents}) == 8
    assert any(r.date_of_birth.year < 1960 and r.date_of_expiry is None for r in residents)
    assert any(len(r.place_of_residence.encode()) > 127 for r in residents)
    assert any(r.spouse_name for r in residents)
    assert any(r.old_id_number for r in residents)
    assert any("Đ" in r.full_name for r in residents)
    for r in residents:
        mrz = MRZ.from_resident(r)
        assert mrz.check_digit_errors() == []
        assert mrz.name == transliterate(r.full_name)
        assert DG13.decode(DG13.from_resident(r).encode()).to_resident() == r


def test_csv_and_jsonl_samples_agree() -> None:
    csv_residents = [item.resident for item in accepted(records(SAMPLES / "residents.csv", check_portraits=False))]
    json_residents = [item.resident for item in accepted(records(SAMPLES / "residents.jsonl", check_portraits=False))]
    assert csv_residents == json_residents


@pytest.mark.parametrize("name", ["residents.csv", "residents.jsonl"])
def test_sample_residents_have_both_index_fingers(name: str) -> None:
    good = accepted(records(SAMPLES / name))  # the files exist
    assert [[(f.column, f.position, f.path) for f in item.fingers] for item in good] == [
        [("right_index_finger", FingerPosition.RIGHT_INDEX, SAMPLES / f"fingers/r0{n}-right-index.wsq"),
         ("left_index_finger", FingerPosition.LEFT_INDEX, SAMPLES / f"fingers/r0{n}-left-index.wsq")]
        for n in range(1, 9)]


def test_finger_columns_are_optional_and_checked_when_given(tmp_path: Path) -> None:
    (tmp_path / "right.wsq").write_bytes(b"\xff\xa0")
    columns = (*COLUMNS, *FINGER_COLUMNS)
    rows = [GOOD, {**GOOD, "right_index_finger": "right.wsq"}, {**GOOD, "left_index_finger": "gone.png"}]
    items = records(write_csv(tmp_path, rows, columns))
    assert isinstance(items[0], InputRecord) and items[0].fingers == ()
    assert isinstance(items[1], InputRecord)
    assert items[1].fingers == (FingerFile("right_index_finger", FingerPosition.RIGHT_INDEX, tmp_path / "right.wsq"),)
    assert isinstance(items[2], RejectedRow)
    assert (items[2].field, items[2].reason) == ("left_index_finger", "finger image file 'gone.png' not found")
    unchecked = records(write_csv(tmp_path, rows, columns), check_portraits=False)
    assert isinstance(unchecked[2], InputRecord) and unchecked[2].fingers[0].path == tmp_path / "gone.png"
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text(json.dumps({**GOOD, "left_index_finger": 7}) + "\n", encoding="utf-8")
    [wrong_type] = records(jsonl)
    assert isinstance(wrong_type, RejectedRow) and wrong_type.field == "left_index_finger"


def test_finger_columns_count_in_the_fingerprint_only_when_present() -> None:
    assert fingerprint(GOOD) == fingerprint({**GOOD, "other": "x"})
    assert fingerprint({**GOOD, "right_index_finger": ""}) != fingerprint(GOOD)
    assert fingerprint({**GOOD, "right_index_finger": "a.wsq"}) != fingerprint({**GOOD, "right_index_finger": "b.wsq"})


def test_missing_portraits_are_rejected_when_checked(tmp_path: Path) -> None:
    path = write_csv(tmp_path, [GOOD, {**GOOD, "portrait": "absent.jpg"}])
    items = records(path)
    assert isinstance(items[0], InputRecord)
    assert items[0].portrait == tmp_path / "r01.jpg"
    assert isinstance(items[1], RejectedRow)
    assert (items[1].row, items[1].field, items[1].id_number) == (3, "portrait", "001085031742")


BAD_ROWS = [
    ({"id_number": "001185031742"}, "id_number"),  # digit 4 says female
    ({"id_number": "001095031742"}, "id_number"),  # year digits say 1995 (999 would be a country code: valid)
    ({"date_of_birth": "31/02/1985"}, "date_of_birth"),  # impossible date
    ({"date_of_birth": "1985/04/12"}, "date_of_birth"),
    ({"date_of_issue": "01/01/1980"}, "date_of_issue"),  # before birth
    ({"date_of_expiry": "vĩnh viễn"}, "date_of_expiry"),
    ({"sex": "X"}, "sex"),
    ({"full_name": ""}, "full_name"),
    ({"full_name": "山田 太郎"}, "full_name"),  # letters, but none the MRZ can write
    ({"old_id_number": "12AB"}, "old_id_number"),
    ({"portrait": ""}, "portrait"),
]


@pytest.mark.parametrize(("change", "field"), BAD_ROWS)
def test_bad_csv_row_is_rejected_with_its_field(tmp_path: Path, change: dict[str, str], field: str) -> None:
    items = records(write_csv(tmp_path, [GOOD, {**GOOD, **change}, GOOD]))
    assert [type(item) for item in items] == [InputRecord, RejectedRow, InputRecord]
    rejected = items[1]
    assert isinstance(rejected, RejectedRow)
    assert (rejected.row, rejected.field) == (3, field)


def test_no_expiry_and_both_date_forms(tmp_path: Path) -> None:
    items = records(write_csv(tmp_path, [{**GOOD, "date_of_birth": "1985-04-12", "date_of_expiry": "không thời hạn"}]))
    (record,) = accepted(items)
    assert record.resident.date_of_birth == date(1985, 4, 12)
    assert record.resident.date_of_expiry is None


def test_csv_with_bom_and_wrong_value_count(tmp_path: Path) -> None:
    path = write_csv(tmp_path, [GOOD])
    text = path.read_text(encoding="utf-8")
    path.write_bytes(b"\xef\xbb\xbf" + text.encode() + b"1,2,3\n")
    items = records(path)
    assert isinstance(items[0], InputRecord)
    assert isinstance(items[1], RejectedRow) and items[1].row == 3 and items[1].field is None


def test_csv_undecodable_utf8_value(tmp_path: Path) -> None:
    path = write_csv(tmp_path, [{**GOOD, "full_name": "NAMEPLACEHOLDER"}, GOOD])
    path.write_bytes(path.read_bytes().replace(b"NAMEPLACEHOLDER", b"Nguy\xe1n"))
    items = records(path)
    assert isinstance(items[0], RejectedRow)
    assert items[0].field is None, "a line that is not UTF-8 is a row error, not a full_name error"
    assert "not UTF-8 (byte 0xE1 in column full_name)" in items[0].reason and "CSV UTF-8" in items[0].reason
    assert items[0].values["full_name"] == "Nguy\ufffdn" and items[0].id_number == GOOD["id_number"]
    assert isinstance(items[1], InputRecord)


def test_missing_header_column_is_a_file_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path, [GOOD], columns=tuple(c for c in COLUMNS if c != "religion"))
    with pytest.raises(InputError) as info:
        records(path)
    assert info.value.field == "religion"


@pytest.mark.parametrize("name", ["empty.csv", "data.txt", "absent.jsonl"])
def test_file_level_errors(tmp_path: Path, name: str) -> None:
    if name != "absent.jsonl":
        (tmp_path / name).write_text("")
    with pytest.raises(InputError):
        records(tmp_path / name)


def test_jsonl_bad_lines_each_rejected(tmp_path: Path) -> None:
    (tmp_path / "r01.jpg").write_bytes(b"\xff\xd8\xff")
    lines = [
        json.dumps(GOOD, ensure_ascii=False).encode(),
        b"{not json",
        b"[1, 2]",
        json.dumps({**GOOD, "full_name": "Nguy\u1ec5n"}).encode().replace(b"\\u1ec5", b"\xe1\xbb"),
        json.dumps({k: v for k, v in GOOD.items() if k != "mother_name"}).encode(),
        json.dumps({**GOOD, "old_id_number": 123456789}).encode(),
        b"",
        json.dumps({**GOOD, "date_of_expiry": "2025-02-30"}).encode(),
    ]
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    items = records(path)
    summary = [(item.row, type(item).__name__, getattr(item, "field", None)) for item in items]
    assert summary == [
        (1, "InputRecord", None), (2, "RejectedRow", None), (3, "RejectedRow", None), (4, "RejectedRow", None),
        (5, "RejectedRow", "mother_name"), (6, "RejectedRow", "old_id_number"), (8, "RejectedRow", "date_of_expiry"),
    ]


def test_streaming_large_file(tmp_path: Path) -> None:
    rows = [{**GOOD, "id_number": f"001085{n:06d}"} for n in range(2000)]
    iterator = read_records(write_csv(tmp_path, rows))
    first = next(iterator)
    assert isinstance(first, InputRecord) and first.resident.can == "000000"
    assert sum(1 for _ in iterator) == 1999


def test_parse_input_date() -> None:
    assert parse_input_date("1/2/2003", "x") == date(2003, 2, 1)
    assert parse_input_date("2003-02-01", "x") == date(2003, 2, 1)
    with pytest.raises(ValidationError):
        parse_input_date("2003-2-1", "x")


def _cp1258(text: str) -> bytes:
    """``text`` as Windows-1258 writes it: base letters precomposed where the code page has them, tone marks
    as combining characters."""
    return b"".join(_cp1258_char(char) for char in text)


def _cp1258_char(char: str) -> bytes:
    try:
        return char.encode("cp1258")
    except UnicodeEncodeError:
        base, marks = unicodedata.normalize("NFD", char)[0], unicodedata.normalize("NFD", char)[1:]
        for index, tone in enumerate(marks):
            letter = unicodedata.normalize("NFC", base + marks[:index] + marks[index + 1:])
            try:
                return letter.encode("cp1258") + tone.encode("cp1258")
            except UnicodeEncodeError:
                continue
        raise


def _excel_text(rows: list[dict[str, str]], separator: str) -> str:
    lines = [separator.join(COLUMNS)] + [separator.join(row[name] for name in COLUMNS) for row in rows]
    return "\r\n".join(lines) + "\r\n"


SECOND = {**GOOD, "id_number": "079185000123", "full_name": "Trần Thị Ngọc Hường", "sex": "Nữ",
          "place_of_residence": "Phường Bến Nghé; Quận 1, TP. Hồ Chí Minh"}


@pytest.mark.parametrize(("encoded", "separator", "description"), [
    (lambda text: _cp1258(text), ";", "Windows-1258"),
    (lambda text: text.encode("utf-16"), "\t", "UTF-16 (little-endian"),
    (lambda text: text.encode("utf-16-be").join([b"\xfe\xff", b""]), ";", "UTF-16 (big-endian"),
    (lambda text: text.encode("utf-8-sig"), ";", "UTF-8 with a byte order mark"),
    (lambda text: text.encode("utf-8"), "\t", "UTF-8"),
])
def test_excel_exports_of_a_vietnamese_pc_are_read(tmp_path: Path, encoded: Callable[[str], bytes], separator: str,
                                                   description: str) -> None:
    (tmp_path / "r01.jpg").write_bytes(b"\xff\xd8\xff")
    rows = [GOOD, SECOND] if separator == "\t" else [GOOD, {**SECOND, "place_of_residence": "Quận 1, TP. HCM"}]
    path = tmp_path / "excel.csv"
    path.write_bytes(encoded(_excel_text(rows, separator)))
    layout = csv_layout(path)
    assert layout.separator == separator and layout.description.startswith(description)
    items = records(path)
    assert all(isinstance(item, InputRecord) for item in items), items
    names = [item.resident.full_name for item in accepted(items)]
    assert names == [GOOD["full_name"], SECOND["full_name"]]
    assert all(unicodedata.is_normalized("NFC", name) for name in names)


def test_cp1258_file_has_combining_tone_marks_normalised(tmp_path: Path) -> None:
    raw = _cp1258("Hường")
    assert raw == b"H\xfd\xf5\xccng", "Windows-1258 writes the tone mark (0xCC, a combining grave) apart"
    path = tmp_path / "in.csv"
    (tmp_path / "r01.jpg").write_bytes(b"\xff\xd8\xff")
    path.write_bytes(_cp1258(_excel_text([{**SECOND, "place_of_residence": "Quận 1"}], ";")))
    (item,) = accepted(records(path))
    assert item.resident.full_name == "Trần Thị Ngọc Hường"
    assert item.resident.full_name.encode("utf-8") == "Trần Thị Ngọc Hường".encode()


def test_a_latin_file_that_is_not_vietnamese_is_not_guessed(tmp_path: Path) -> None:
    plain = {name: "".join(char for char in unicodedata.normalize("NFD", value) if char.isascii())
             for name, value in GOOD.items()}
    path = tmp_path / "in.csv"
    path.write_bytes(_excel_text([{**plain, "full_name": "José Nguyen"}, plain], ";").encode("cp1252"))
    assert csv_layout(path).description == "UTF-8"
    first, second = records(path, check_portraits=False)
    assert isinstance(first, RejectedRow) and first.field is None and "byte 0xE9" in first.reason
    assert isinstance(second, InputRecord)


def test_utf16_without_bom_and_a_one_column_header_say_what_the_file_looks_like(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(_excel_text([GOOD], ",").encode("utf-16-le"))
    with pytest.raises(InputError, match=r"UTF-16 without a byte order mark.*CSV UTF-8"):
        records(path)
    path.write_text(_excel_text([GOOD], "|"), encoding="utf-8")
    with pytest.raises(InputError, match=re.escape("read as UTF-8, comma-separated, it reads 'id_number|full_name")):
        records(path)


def test_utf16_torn_in_its_header_is_an_input_error_on_row_1(tmp_path: Path) -> None:
    """Found by fuzzing (tests/fuzz/corpus/input_csv): a UTF-16 byte order mark and an odd byte in the first line
    escaped as a bare UnicodeDecodeError while the layout was being detected."""
    path = tmp_path / "in.csv"
    path.write_bytes(codecs.BOM_UTF16_BE + b"\xff\x00\x00\x00\x00\x9a\xff\x00\x00\x00\x00")
    with pytest.raises(InputError, match=r"row 1.*not UTF-16 \(big-endian.*truncated data.*CSV UTF-8"):
        records(path)
    path.write_bytes(_excel_text([GOOD], ",").encode("utf-16")[:-1])  # a whole file, its last byte cut
    with pytest.raises(InputError, match=r"not UTF-16 \(little-endian.*CSV UTF-8"):
        records(path)


def test_a_correction_file_keeps_batch_rows_and_fingerprints(tmp_path: Path) -> None:
    path = write_csv(tmp_path, [GOOD, {**GOOD, "id_number": "001085031743", "sex": "X"}])
    original = records(path)
    assert not is_correction_file(path)
    fixed = tmp_path / "fixed.csv"
    columns = ("row", *COLUMNS, "field", "reason")
    with fixed.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerow({**GOOD, "row": "2", "field": "", "reason": "whatever"})
        writer.writerow({**GOOD, "id_number": "001085031743", "row": "3", "field": "sex", "reason": "bad sex"})
    corrected = records(fixed)
    assert is_correction_file(fixed)
    assert [item.row for item in corrected] == [2, 3]
    assert corrected[0].fingerprint == original[0].fingerprint, "extra columns do not change a row's fingerprint"
    assert corrected[1].fingerprint != original[1].fingerprint
    assert isinstance(original[1], RejectedRow) and original[1].values["sex"] == "X"


def test_the_cell_hook_sees_every_value(tmp_path: Path) -> None:
    path = write_csv(tmp_path, [{**GOOD, "identification_marks": "'-Sẹo chấm"}])
    (item,) = records(path, cell=lambda value: value.removeprefix("'"))
    assert isinstance(item, InputRecord) and item.resident.identification_marks == "-Sẹo chấm"


def test_a_nul_byte_in_a_row_is_that_row_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path, [{**GOOD, "full_name": "Nguyễn\0Văn An"}, GOOD])
    first, second = records(path)
    assert isinstance(first, RejectedRow) and first.field == "full_name" and "U+0000" in first.reason
    assert isinstance(second, InputRecord), "a NUL byte below the header does not make the file UTF-16"
