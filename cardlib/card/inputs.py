"""Personalization input: residents to put on cards, read from CSV or JSON Lines, one record at a time.

Both formats carry the same fields (:data:`COLUMNS`): CSV as a UTF-8 header row (a byte order mark is
tolerated) and JSON Lines as one object of strings per line.  Dates are ``dd/mm/yyyy`` or ``yyyy-mm-dd``;
``date_of_expiry`` may be ``Không thời hạn``; ``sex`` is ``Nam``/``Nữ``; ``portrait`` is an image path
relative to the input file.  Optional fields (identification marks, parents, spouse, old ID) are ``""``.

:func:`read_records` streams: 10,000-row files never sit in memory.  Every record yields exactly one
:class:`InputRecord` or one :class:`RejectedRow` naming the field at fault; only problems with the file as a
whole (unreadable, unknown format, a header column missing) raise :class:`InputError`.  ``row`` is the
1-based line number in the file where the record ends (the CSV header is line 1).
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from cardlib.errors import EncodeError, InputError, ValidationError
from cardlib.model.mrz import MRZ
from cardlib.model.resident import NO_EXPIRY_TEXT, Resident, Sex

COLUMNS: tuple[str, ...] = (
    "id_number", "full_name", "date_of_birth", "sex", "nationality", "ethnicity", "religion", "place_of_origin",
    "place_of_residence", "identification_marks", "date_of_issue", "date_of_expiry", "father_name",
    "mother_name", "spouse_name", "old_id_number", "portrait",
)
_TEXT_COLUMNS = (
    "full_name", "nationality", "ethnicity", "religion", "place_of_origin", "place_of_residence",
    "identification_marks", "father_name", "mother_name", "spouse_name", "old_id_number",
)
_DMY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_JSON_SUFFIXES = frozenset({".jsonl", ".ndjson"})


@dataclass(frozen=True)
class InputRecord:
    """A valid input record: the resident to personalize and the path of their portrait image."""

    row: int
    resident: Resident
    portrait: Path


@dataclass(frozen=True)
class RejectedRow:
    """A record that cannot be personalized, with the reason, the field at fault (if one) and its ID number."""

    row: int
    reason: str
    field: str | None
    id_number: str | None


def read_records(path: Path | str, *, check_portraits: bool = True) -> Iterator[InputRecord | RejectedRow]:
    """Stream the records of a ``.csv`` or ``.jsonl``/``.ndjson`` file.

    ``check_portraits=False`` skips the check that each portrait file exists (for validating data before
    the images are ready).
    """
    source = Path(path)
    if source.suffix.lower() == ".csv":
        rows = _csv_rows(source)
    elif source.suffix.lower() in _JSON_SUFFIXES:
        rows = _jsonl_rows(source)
    else:
        raise InputError("unknown input format: expected .csv, .jsonl or .ndjson", source=str(source))
    for row, values in rows:
        yield values if isinstance(values, RejectedRow) else _record(row, values, source.parent, check_portraits)


_Row = tuple[int, "Mapping[str, object] | RejectedRow"]


def _open_error(source: Path, exc: OSError) -> InputError:
    return InputError(f"cannot read the file ({exc.strerror or type(exc).__name__})", source=str(source))


def _csv_rows(source: Path) -> Iterator[_Row]:
    try:
        handle = source.open(encoding="utf-8-sig", errors="surrogateescape", newline="")
    except OSError as exc:
        raise _open_error(source, exc) from None
    with handle:
        reader = csv.reader(handle)
        header = _csv_header(reader, source)
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield reader.line_num, RejectedRow(reader.line_num, f"malformed CSV ({exc})", None, None)
                continue
            if not any(value.strip() for value in values):
                continue
            if len(values) != len(header):
                yield reader.line_num, RejectedRow(
                    reader.line_num, f"{len(values)} values but the header has {len(header)} columns", None, None
                )
                continue
            yield reader.line_num, dict(zip(header, values, strict=True))


def _csv_header(reader: Iterator[list[str]], source: Path) -> list[str]:
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise InputError("empty file: a header row is expected", source=str(source), row=1) from None
    except csv.Error as exc:
        raise InputError(f"malformed header ({exc})", source=str(source), row=1) from None
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise InputError(f"header lacks column(s) {', '.join(missing)}", source=str(source), row=1,
                         field=missing[0])
    return header


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
    try:
        text = {name: _text(values, name) for name in COLUMNS}
        resident = _resident(text)
        _check_mrz_name(resident)
        portrait = _portrait(text["portrait"], folder, check_portraits)
    except ValidationError as exc:
        return RejectedRow(row, exc.reason, exc.field, id_number)
    return InputRecord(row, resident, portrait)


def _check_mrz_name(resident: Resident) -> None:
    """Reject now, not at the card, a name the MRZ cannot represent (no Latin letters at all)."""
    try:
        MRZ.from_resident(resident)
    except EncodeError as exc:
        raise ValidationError(str(exc), field="full_name") from None


def _text(values: Mapping[str, object], name: str) -> str:
    if name not in values:
        raise ValidationError("missing", field=name)
    value = values[name]
    if not isinstance(value, str):
        raise ValidationError(f"expected a string, got {type(value).__name__}", field=name)
    if any("\udc80" <= char <= "\udcff" for char in value):
        raise ValidationError("not UTF-8", field=name)
    return unicodedata.normalize("NFC", value).strip()


def _resident(text: Mapping[str, str]) -> Resident:
    fields = {name: text[name] for name in _TEXT_COLUMNS}
    return Resident(
        id_number=text["id_number"],
        sex=Sex.parse(text["sex"]),
        date_of_birth=parse_input_date(text["date_of_birth"], "date_of_birth"),
        date_of_issue=parse_input_date(text["date_of_issue"], "date_of_issue"),
        date_of_expiry=_expiry(text["date_of_expiry"]),
        **fields,
    )


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
