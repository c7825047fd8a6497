"""One personalization input record: its fields (:data:`COLUMNS` and the optional columns), and the check that
turns the values read from a row into the resident to personalize (:class:`InputRecord`) or the reason it cannot
be (:class:`RejectedRow`, naming the field at fault).

Dates are ``dd/mm/yyyy`` or ``yyyy-mm-dd``; ``date_of_expiry`` may be ``Không thời hạn``; ``sex`` is
``Nam``/``Nữ``; ``portrait`` and the finger columns are image paths relative to the input file.  The rules for
the 2024 *Căn cước* card's own columns are in :mod:`cardlib.card.inputs`.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date
from pathlib import Path

from cardlib.errors import EncodeError, InputError, ValidationError
from cardlib.lds.dg3 import FingerPosition
from cardlib.lds.dg13_fields import CAN_CUOC_SINCE, CardKind, card_kind, format_date, renamed_fields
from cardlib.model.mrz import MRZ
from cardlib.model.resident import NO_EXPIRY_TEXT, Resident, Sex

__all__ = [
    "CAN_CUOC_COLUMNS",
    "COLUMNS",
    "CORRECTION_COLUMNS",
    "FINGER_COLUMNS",
    "NOT_ON_CAN_CUOC",
    "FingerFile",
    "InputRecord",
    "RejectedRow",
    "Row",
    "fingerprint",
    "open_error",
    "parse_input_date",
    "record",
]

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
NOT_ON_CAN_CUOC = ("place_of_origin", "identification_marks")
"""Columns a 2024-style file may leave out: the Căn cước prints neither."""
_KIND_NAMES = {**{kind.value: kind for kind in CardKind}, "cccd": CardKind.CCCD_2021,
               "can_cuoc": CardKind.CAN_CUOC_2024}
_TEXT_COLUMNS = (
    "full_name", "nationality", "ethnicity", "religion", "place_of_origin", "place_of_residence",
    "identification_marks", "father_name", "mother_name", "spouse_name", "old_id_number",
)
_DMY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
CORRECTION_COLUMNS = ("row", "field", "reason")
"""The columns ``rejected.csv`` adds to the input's: a CSV with all three is a correction file."""


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



def fingerprint(values: Mapping[str, object]) -> str:
    """A SHA-256 over a record's :data:`COLUMNS` values and the optional columns it has (other columns, e.g. a
    correction file's, do not count)."""
    names = [*COLUMNS, *(name for name in (*CAN_CUOC_COLUMNS, *FINGER_COLUMNS) if name in values)]
    canonical = json.dumps([values.get(name) for name in names], ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()



Row = tuple[int, "Mapping[str, object] | RejectedRow"]
"""One record as a file gave it: its row number and its values, or why the row cannot be read."""


def open_error(source: Path, exc: OSError) -> InputError:
    """The InputError of an input file that cannot be opened or read."""
    return InputError(f"cannot read the file ({exc.strerror or type(exc).__name__})", source=str(source))


def record(row: int, values: Mapping[str, object], folder: Path, check_portraits: bool) -> InputRecord | RejectedRow:
    """The record of one row's ``values`` (images relative to ``folder``, checked to exist when ``check_portraits``),
    or the row rejected naming the field at fault."""
    raw_id = values.get("id_number")
    id_number = raw_id.strip() if isinstance(raw_id, str) and raw_id.isprintable() else None
    digest = fingerprint(values)
    shown = {name: value if isinstance(value, str) else json.dumps(value) for name, value in values.items()
             if name not in CORRECTION_COLUMNS}
    try:
        text = {name: _text(values, name, optional=name in NOT_ON_CAN_CUOC or name in CAN_CUOC_COLUMNS)
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
    for name in NOT_ON_CAN_CUOC:
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
