"""Personalization input: residents to put on cards, read from CSV or JSON Lines, one record at a time.

Both formats carry the same fields (:data:`COLUMNS`; other columns are ignored).  Dates are ``dd/mm/yyyy``
or ``yyyy-mm-dd``; ``date_of_expiry`` may be ``Không thời hạn``; ``sex`` is ``Nam``/``Nữ``; ``portrait``
is an image path relative to the input file.  Optional fields (identification marks, parents, spouse,
old ID) are ``""``.  JSON Lines is UTF-8, one object of strings per line.

Two optional columns (:data:`FINGER_COLUMNS`), ``right_index_finger`` and ``left_index_finger``, give the
index-finger images that go to DG3 (paths relative to the input file, like ``portrait``; WSQ, PNG, JPEG or
JPEG 2000); a file may leave the columns out, a row may leave either empty.

A record for the 2024 *Căn cước* card (issued from 1 July 2024, :mod:`cardlib.lds.dg13`) uses that card's
names (:data:`CAN_CUOC_COLUMNS`): ``place_of_birth_registration`` instead of ``place_of_origin``, no
``identification_marks``, and optionally ``card_kind`` (a :class:`~cardlib.lds.dg13.CardKind` value,
``cccd`` or ``can_cuoc``), which must agree with the kind the date of issue makes the card.  A record
giving a field its card kind does not print (a place of origin or identification marks on a Căn cước, a
place of birth registration on a CCCD) is rejected naming that field: the two are different facts.

CSV comes as Excel saves it on the operator's PC, so its layout is detected (:func:`csv_layout`):

* encoding: a byte order mark says UTF-8 or UTF-16 (Excel's "Unicode Text" and "CSV UTF-8"); without
  one the file is UTF-8 when it decodes so.  A file with no valid UTF-8 letter but whose bytes decode
  in Windows-1258 to Vietnamese letters (đ, ă, ơ, ư or a combining tone mark) is Windows-1258, the ANSI
  code page Excel's plain "CSV" uses on a Vietnamese-locale PC: there are no other Vietnamese legacy
  encodings Excel writes, and such text cannot be UTF-8.  Any other line that is not UTF-8 is a row
  error saying how to save the file as "CSV UTF-8".  Windows-1258 writes tone marks as combining
  characters: every value is normalised to NFC, as DG13 and the MRZ expect.
* separator: ``,``, ``;`` (Excel where the decimal mark is a comma, as in Vietnam) or tab, whichever the
  header row holds most of.  The header names are known and contain none of them, so this is exact
  where :class:`csv.Sniffer` guesses from the data (addresses are full of commas).

A CSV carrying ``row``, ``field`` and ``reason`` columns is a correction file (the ``rejected.csv`` of
``cardtool perso``, fixed and fed back): its records keep the batch row numbers of its ``row`` column.

:func:`read_records` streams: 10,000-row files never sit in memory.  Every record yields exactly one
:class:`InputRecord` or one :class:`RejectedRow` naming the field at fault; only problems with the file as a
whole (unreadable, unknown format, a header column missing) raise :class:`InputError`.  ``row`` is the
1-based line number in the file where the record ends (the CSV header is line 1).  Each record carries a
:func:`fingerprint` of its values, so a resumed batch can tell a changed row from the one it already did.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date
from pathlib import Path
from typing import TextIO

from cardlib.errors import EncodeError, InputError, ValidationError
from cardlib.lds.dg3 import FingerPosition
from cardlib.lds.dg13 import CAN_CUOC_SINCE, CardKind, card_kind, format_date, renamed_fields
from cardlib.model.mrz import MRZ
from cardlib.model.resident import NO_EXPIRY_TEXT, Resident, Sex

COLUMNS: tuple[str, ...] = (
    "id_number", "full_name", "date_of_birth", "sex", "nationality", "ethnicity", "religion", "place_of_origin",
    "place_of_residence", "identification_marks", "date_of_issue", "date_of_expiry", "father_name",
    "mother_name", "spouse_name", "old_id_number", "portrait",
)
CAN_CUOC_COLUMNS: tuple[str, ...] = ("place_of_birth_registration", "card_kind")
"""The 2024 Căn cước record's own field names, beside :data:`COLUMNS`."""
FINGER_COLUMNS: Mapping[str, FingerPosition] = {
    "right_index_finger": FingerPosition.RIGHT_INDEX, "left_index_finger": FingerPosition.LEFT_INDEX}
"""The optional finger image columns and the finger each one is (the CCCD's DG3 holds the two index fingers)."""
_NOT_ON_CAN_CUOC = ("place_of_origin", "identification_marks")
"""Columns a 2024-style file may leave out: the Căn cước prints neither."""
_KIND_NAMES = {**{kind.value: kind for kind in CardKind}, "cccd": CardKind.CCCD_2021,
               "can_cuoc": CardKind.CAN_CUOC_2024}
_TEXT_COLUMNS = (
    "full_name", "nationality", "ethnicity", "religion", "place_of_origin", "place_of_residence",
    "identification_marks", "father_name", "mother_name", "spouse_name", "old_id_number",
)
_DMY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_JSON_SUFFIXES = frozenset({".jsonl", ".ndjson"})
CORRECTION_COLUMNS = ("row", "field", "reason")
"""The columns ``rejected.csv`` adds to the input's: a CSV with all three is a correction file."""
SEPARATORS = (",", ";", "\t")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig", "UTF-8 with a byte order mark"),
         (codecs.BOM_UTF16_LE, "utf-16", "UTF-16 (little-endian, with a byte order mark)"),
         (codecs.BOM_UTF16_BE, "utf-16", "UTF-16 (big-endian, with a byte order mark)"))
_VIETNAMESE_1258 = frozenset("đĐăĂơƠưƯ\u0300\u0301\u0303\u0309\u0323")
"""Characters only Vietnamese text decodes to in Windows-1258 (the letters and tone marks cp1252 lacks)."""
SAVE_AS_UTF8 = 'save it as "CSV UTF-8" (Excel: File > Save As > CSV UTF-8 (Comma delimited) (*.csv))'


@dataclass(frozen=True)
class InputRecord:
    """A valid input record: the resident to personalize, the path of their portrait image, and of each finger
    image given (in :data:`FINGER_COLUMNS` order).

    ``values`` are the record's cells as read (should the card step still reject it).
    """

    row: int
    resident: Resident
    portrait: Path
    fingerprint: str = ""
    values: Mapping[str, str] = dataclass_field(default_factory=dict)
    fingers: tuple[FingerFile, ...] = ()


@dataclass(frozen=True)
class FingerFile:
    """A finger image file of a record: the column that names it, the finger it is, its path."""

    column: str
    position: FingerPosition
    path: Path


@dataclass(frozen=True)
class RejectedRow:
    """A record that cannot be personalized, with the reason, the field at fault (if one) and its ID number.

    ``values`` are the record's cells as read (every column, for the operator to fix and feed back).
    """

    row: int
    reason: str
    field: str | None
    id_number: str | None
    values: Mapping[str, str] = dataclass_field(default_factory=dict)
    fingerprint: str = ""


@dataclass(frozen=True)
class CSVLayout:
    """How a CSV file is written: its Python codec, that encoding in words, and its separator."""

    encoding: str
    description: str
    separator: str

    def describe(self) -> str:
        """The layout in words, for messages about the file."""
        names = {",": "comma", ";": "semicolon", "\t": "tab"}
        return f"read as {self.description}, {names[self.separator]}-separated"


def fingerprint(values: Mapping[str, object]) -> str:
    """A SHA-256 over a record's :data:`COLUMNS` values and the optional columns it has (other columns, e.g. a
    correction file's, do not count)."""
    names = [*COLUMNS, *(name for name in (*CAN_CUOC_COLUMNS, *FINGER_COLUMNS) if name in values)]
    canonical = json.dumps([values.get(name) for name in names], ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def read_records(path: Path | str, *, check_portraits: bool = True,
                 cell: Callable[[str], str] | None = None) -> Iterator[InputRecord | RejectedRow]:
    """Stream the records of a ``.csv`` or ``.jsonl``/``.ndjson`` file.

    ``check_portraits=False`` skips the check that each portrait and finger image file exists (for validating
    data before the images are ready).  ``cell``, when given, is applied to every CSV cell first (e.g. to drop the quote
    a spreadsheet-safe CSV writer put before formula-like text).
    """
    source = Path(path)
    if source.suffix.lower() == ".csv":
        rows = _csv_rows(source, cell)
    elif source.suffix.lower() in _JSON_SUFFIXES:
        rows = _jsonl_rows(source)
    else:
        raise InputError("unknown input format: expected .csv, .jsonl or .ndjson", source=str(source))
    for row, values in rows:
        yield values if isinstance(values, RejectedRow) else _record(row, values, source.parent, check_portraits)


def is_correction_file(path: Path | str) -> bool:
    """True when ``path`` is a CSV whose header has the :data:`CORRECTION_COLUMNS` (a fixed ``rejected.csv``)."""
    source = Path(path)
    if source.suffix.lower() != ".csv":
        return False
    layout = csv_layout(source)
    with _open_text(source, layout) as handle:
        header = next(csv.reader(handle, delimiter=layout.separator), [])
    return set(CORRECTION_COLUMNS) <= {name.strip() for name in header}


_Row = tuple[int, "Mapping[str, object] | RejectedRow"]


def _open_error(source: Path, exc: OSError) -> InputError:
    return InputError(f"cannot read the file ({exc.strerror or type(exc).__name__})", source=str(source))


def csv_layout(path: Path | str) -> CSVLayout:
    """The encoding and separator of a CSV file (see the module docstring); InputError when unreadable."""
    source = Path(path)
    try:
        with source.open("rb") as handle:
            start = handle.read(4)
            marked = [(encoding, description) for bom, encoding, description in _BOMS if start.startswith(bom)]
            handle.seek(0)
            encoding, description = marked[0] if marked else _guess_encoding(handle, source)
    except OSError as exc:
        raise _open_error(source, exc) from None
    layout = CSVLayout(encoding, description, ",")
    with _open_text(source, layout) as handle:
        header = handle.readline()
    separator = max(SEPARATORS, key=header.count)
    return CSVLayout(encoding, description, separator if header.count(separator) else ",")


def _guess_encoding(handle: Iterator[bytes], source: Path) -> tuple[str, str]:
    """UTF-8, or Windows-1258 when the file clearly is that (no UTF-8 letter, Vietnamese in Windows-1258)."""
    utf8_letters = vietnamese_1258 = False
    all_1258 = True
    for number, line in enumerate(handle, start=1):
        if number == 1 and b"\0" in line:  # a NUL further down is only that row's error
            raise InputError(f"the header holds NUL bytes: the file looks like UTF-16 without a byte order "
                             f"mark; {SAVE_AS_UTF8}", source=str(source), row=number)
        try:
            utf8_letters |= not line.decode("utf-8").isascii()
        except UnicodeDecodeError:
            try:
                vietnamese_1258 |= not _VIETNAMESE_1258.isdisjoint(line.decode("cp1258"))
            except UnicodeDecodeError:
                all_1258 = False
    if vietnamese_1258 and all_1258 and not utf8_letters:
        return "cp1258", "Windows-1258 (Excel's Vietnamese \"CSV\")"
    return "utf-8", "UTF-8"


def _open_text(source: Path, layout: CSVLayout) -> TextIO:
    try:
        return source.open(encoding=layout.encoding, errors="surrogateescape", newline="")
    except OSError as exc:
        raise _open_error(source, exc) from None


def _csv_rows(source: Path, cell: Callable[[str], str] | None) -> Iterator[_Row]:
    layout = csv_layout(source)
    with _open_text(source, layout) as handle:
        reader = csv.reader(handle, delimiter=layout.separator)
        header = _csv_header(reader, source, layout)
        correction = set(CORRECTION_COLUMNS) <= set(header)
        while True:
            try:
                raw = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield reader.line_num, RejectedRow(reader.line_num, f"malformed CSV ({exc})", None, None)
                continue
            except UnicodeDecodeError as exc:  # only in UTF-16, where a torn byte pair cannot be escaped
                raise InputError(f"not {layout.description} ({exc.reason}); {SAVE_AS_UTF8}", source=str(source),
                                 row=reader.line_num + 1) from None
            if not any(value.strip() for value in raw):
                continue
            yield _csv_row(reader.line_num, header, [_cell(value, cell) for value in raw], correction)


def _cell(value: str, cell: Callable[[str], str] | None) -> str:
    value = unicodedata.normalize("NFC", value)
    return cell(value) if cell is not None else value


def _csv_row(line: int, header: list[str], raw: list[str], correction: bool) -> _Row:
    """One CSV record as a mapping, or a row error (wrong value count, bytes that are not UTF-8)."""
    values = dict(zip(header, raw, strict=False))
    row = _batch_row(values.get("row", "")) if correction else None
    row = row if row is not None else line
    for name, value in values.items():
        bad = next((char for char in value if "\udc80" <= char <= "\udcff"), None)
        if bad is not None:
            return row, _row_error(row, f"the line is not UTF-8 (byte 0x{ord(bad) - 0xDC00:02X} in column {name}): "
                                        f"{SAVE_AS_UTF8}", values)
    if len(raw) != len(header):
        return row, _row_error(row, f"{len(raw)} values but the header has {len(header)} columns", values)
    return row, values


def _batch_row(text: str) -> int | None:
    """The batch row number a correction file's ``row`` cell gives, if it is one."""
    return int(text) if text.strip().isdigit() else None


def _row_error(row: int, reason: str, values: Mapping[str, str]) -> RejectedRow:
    shown = {name: value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
             for name, value in values.items() if name not in CORRECTION_COLUMNS}
    raw_id = shown.get("id_number", "").strip()
    return RejectedRow(row, reason, None, raw_id if raw_id.isprintable() and raw_id else None, shown,
                       fingerprint(values))


def _csv_header(reader: Iterator[list[str]], source: Path, layout: CSVLayout) -> list[str]:
    try:
        header = [unicodedata.normalize("NFC", name).strip() for name in next(reader)]
    except StopIteration:
        raise InputError("empty file: a header row is expected", source=str(source), row=1) from None
    except csv.Error as exc:
        raise InputError(f"malformed header ({exc})", source=str(source), row=1) from None
    can_cuoc = CAN_CUOC_COLUMNS[0] in header
    missing = [name for name in COLUMNS if name not in header and not (can_cuoc and name in _NOT_ON_CAN_CUOC)]
    if len(missing) == len(COLUMNS):
        raise InputError(f"the first line is not the header row ({layout.describe()}, it reads "
                         f"{_preview(header)}): expected the columns {', '.join(COLUMNS)}, separated by "
                         "commas, semicolons or tabs", source=str(source), row=1, field=missing[0])
    if missing:
        raise InputError(f"header lacks column(s) {', '.join(missing)} ({layout.describe()})", source=str(source),
                         row=1, field=missing[0])
    return header


def _preview(header: list[str]) -> str:
    """The header cells joined by ``|``, cut to 60 characters, for a message."""
    text = "|".join(header)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _jsonl_rows(source: Path) -> Iterator[_Row]:
    try:
        handle = source.open("rb")
    except OSError as exc:
        raise _open_error(source, exc) from None
    with handle:
        for row, raw in enumerate(handle, start=1):
            if row == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            yield row, _json_object(row, raw)


def _json_object(row: int, raw: bytes) -> Mapping[str, object] | RejectedRow:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return RejectedRow(row, f"not UTF-8 (byte {exc.start})", None, None)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return RejectedRow(row, f"malformed JSON ({exc.msg} at column {exc.colno})", None, None)
    if not isinstance(value, dict):
        return RejectedRow(row, "a JSON object is expected", None, None)
    return value


def _record(row: int, values: Mapping[str, object], folder: Path, check_portraits: bool) -> InputRecord | RejectedRow:
    raw_id = values.get("id_number")
    id_number = raw_id.strip() if isinstance(raw_id, str) and raw_id.isprintable() else None
    digest = fingerprint(values)
    shown = {name: value if isinstance(value, str) else json.dumps(value) for name, value in values.items()
             if name not in CORRECTION_COLUMNS}
    try:
        text = {name: _text(values, name, optional=name in _NOT_ON_CAN_CUOC or name in CAN_CUOC_COLUMNS)
                for name in (*COLUMNS, *CAN_CUOC_COLUMNS)}
        resident = _resident(text)
        _check_mrz_name(resident)
        portrait = _portrait(text["portrait"], folder, check_portraits)
        fingers = _fingers(values, folder, check_portraits)
    except ValidationError as exc:
        return RejectedRow(row, exc.reason, exc.field, id_number, shown, digest)
    return InputRecord(row, resident, portrait, digest, shown, fingers)


def _check_mrz_name(resident: Resident) -> None:
    """Reject now, not at the card, a name the MRZ cannot represent (no Latin letters at all)."""
    try:
        MRZ.from_resident(resident)
    except EncodeError as exc:
        raise ValidationError(str(exc), field="full_name") from None


def _text(values: Mapping[str, object], name: str, *, optional: bool = False) -> str:
    if name not in values:
        if optional:
            return ""
        raise ValidationError("missing", field=name)
    value = values[name]
    if not isinstance(value, str):
        raise ValidationError(f"expected a string, got {type(value).__name__}", field=name)
    return unicodedata.normalize("NFC", value).strip()


def _resident(text: Mapping[str, str]) -> Resident:
    born = parse_input_date(text["date_of_birth"], "date_of_birth")
    issued = parse_input_date(text["date_of_issue"], "date_of_issue")
    kind = _card_kind(text["card_kind"], issued, born)
    fields = {name: text[name] for name in _TEXT_COLUMNS}
    fields["place_of_origin"] = _place_of_birth_field(text, kind)
    try:
        return Resident(id_number=text["id_number"], sex=Sex.parse(text["sex"]), date_of_birth=born,
                        date_of_issue=issued, date_of_expiry=_expiry(text["date_of_expiry"]), **fields)
    except ValidationError as exc:  # named as the record's card kind names the field
        raise ValidationError(exc.reason, field=renamed_fields(kind).get(exc.field or "", exc.field)) from None


def _card_kind(given: str, issued: date, born: date) -> CardKind:
    """The kind the date of issue (and the holder's age then) makes the card; ``given`` must agree with it."""
    kind = card_kind(issued, born)
    if not given:
        return kind
    named = _KIND_NAMES.get(given.casefold())
    if named is None:
        raise ValidationError(f"{given!r} is not a card kind: expected one of {', '.join(_KIND_NAMES)}",
                              field="card_kind")
    if named is not kind and not (named is CardKind.CAN_CUOC_2024 and kind is CardKind.CAN_CUOC_2024_UNDER_6):
        raise ValidationError(f"{given} disagrees with the date of issue {format_date(issued)}, which makes the card "
                              f"a {kind.value} (Căn cước cards are issued from {format_date(CAN_CUOC_SINCE)})",
                              field="card_kind")
    return kind


def _place_of_birth_field(text: Mapping[str, str], kind: CardKind) -> str:
    """DG13 field 8: the place of origin of a CCCD or the place of birth registration of a Căn cước."""
    registration = text[CAN_CUOC_COLUMNS[0]]
    if kind is CardKind.CCCD_2021:
        if registration:
            raise ValidationError("a CCCD (issued before 01/07/2024) prints the place of origin (place_of_origin), "
                                  "not a place of birth registration", field=CAN_CUOC_COLUMNS[0])
        return text["place_of_origin"]
    for name in _NOT_ON_CAN_CUOC:
        if text[name]:
            raise ValidationError(f"a Căn cước card (issued from 01/07/2024) has no {name}"
                                  + ("; give place_of_birth_registration" if name == "place_of_origin" else ""),
                                  field=name)
    return registration


def _expiry(value: str) -> date | None:
    if value.casefold() == NO_EXPIRY_TEXT.casefold():
        return None
    return parse_input_date(value, "date_of_expiry")


def parse_input_date(value: str, field: str) -> date:
    """A date written ``dd/mm/yyyy`` or ``yyyy-mm-dd``; ValidationError(field=...) when malformed or impossible."""
    dmy, iso = _DMY.fullmatch(value), _ISO.fullmatch(value)
    if dmy:
        day, month, year = (int(part) for part in dmy.groups())
    elif iso:
        year, month, day = (int(part) for part in iso.groups())
    else:
        raise ValidationError(f"{value!r} is not dd/mm/yyyy or yyyy-mm-dd", field=field)
    try:
        return date(year, month, day)
    except ValueError:
        raise ValidationError(f"{value!r} is not a real date", field=field) from None


def _portrait(value: str, folder: Path, check: bool) -> Path:
    if not value:
        raise ValidationError("no portrait image given", field="portrait")
    portrait = folder / value
    if check and not portrait.is_file():
        raise ValidationError(f"portrait file {value!r} not found", field="portrait")
    return portrait


def _fingers(values: Mapping[str, object], folder: Path, check: bool) -> tuple[FingerFile, ...]:
    """The finger image files the record names (an empty or absent column gives none)."""
    fingers = []
    for column, position in FINGER_COLUMNS.items():
        value = _text(values, column, optional=True)
        if not value:
            continue
        path = folder / value
        if check and not path.is_file():
            raise ValidationError(f"finger image file {value!r} not found", field=column)
        fingers.append(FingerFile(column, position, path))
    return tuple(fingers)
