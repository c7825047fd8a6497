"""A resident as the CCCD records them: every field of DG13, validated when the object is made.

Constructing a :class:`Resident` is the only way to get one, and construction checks everything the state's
own rules let us check offline: the 12-digit ID number (century/sex digit and birth year; its first three
digits are a province code, or a country code for a birth registered abroad, see
:mod:`cardlib.model.provinces`), real and ordered dates, and text that is NFC-normalised Unicode of sane
length.  An invalid resident therefore cannot exist: encoders (DG1, DG13) may trust what they are given.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from datetime import date
from enum import Enum
from functools import cache

from cardlib.errors import ValidationError
from cardlib.model.provinces import birth_registration_place, century_sex_digit, province_name
from cardlib.model.vietnamese import LETTERS, NAME_PUNCTUATION, foreign_characters, foreign_summary

ID_LENGTH = 12
CAN_LENGTH = 6
MAX_NAME_LENGTH = 100
MAX_PLACE_LENGTH = 300
MAX_SERIAL_LENGTH = 32
NO_EXPIRY_TEXT = "Không thời hạn"

# Punctuation seen in Vietnamese addresses and identification marks ("Tổ 5, P. Láng Hạ, Q. Đống Đa; 12/3A").
_PLACE_PUNCTUATION = frozenset(" ,.-/()'&:;#\"")


class Sex(Enum):
    """Sex as DG13 writes it (``Nam``/``Nữ``), with the one-letter MRZ code."""

    MALE = "Nam"
    FEMALE = "Nữ"

    @property
    def mrz_code(self) -> str:
        """``M`` or ``F`` as in ICAO 9303-3 §4.2."""
        return "M" if self is Sex.MALE else "F"

    @property
    def word(self) -> str:
        """``male`` or ``female``: the form plain data (JSON) carries."""
        return self.name.lower()

    @classmethod
    def parse(cls, text: str, *, field: str = "sex") -> Sex:
        """The sex written as ``Nam``/``Nữ`` (any case, any Unicode normal form), ``M``/``F`` or ``male``/``female``."""
        key = unicodedata.normalize("NFC", text.strip()).casefold()
        for sex in cls:
            if key in (sex.value.casefold(), sex.mrz_code.casefold(), sex.word):
                return sex
        raise ValidationError(f"expected Nam or Nữ, got {text!r}", field=field)


def nfc(text: str) -> str:
    """``text`` in Unicode Normalization Form C with surrounding whitespace removed: the stored form."""
    return unicodedata.normalize("NFC", text).strip()


def _check_text(value: str, field: str, *, allowed: frozenset[str], max_length: int, required: bool) -> None:
    """Letters (any script, with marks) plus ``allowed``; digits only where ``allowed`` is place punctuation."""
    if required and not value:
        raise ValidationError("must not be empty", field=field)
    if len(value) > max_length:
        raise ValidationError(f"{len(value)} characters, at most {max_length} allowed", field=field)
    always = _PLACE_CHARACTERS if allowed is _PLACE_PUNCTUATION else _letters_and(allowed)
    if not always.issuperset(value):  # Vietnamese letters, ``allowed`` (and digits in places) alone all pass
        _check_characters(value, field, allowed)
    if "  " in value:
        raise ValidationError("contains consecutive spaces", field=field)


def _check_characters(value: str, field: str, allowed: frozenset[str]) -> None:
    digits_ok = allowed is _PLACE_PUNCTUATION
    for index, char in enumerate(value):
        category = unicodedata.category(char)
        if not (category[0] in "LM" or (digits_ok and category == "Nd") or char in allowed):
            raise ValidationError(f"character {char!r} at position {index} is not allowed", field=field)


_PLACE_CHARACTERS = LETTERS | _PLACE_PUNCTUATION | frozenset("0123456789")


@cache
def _letters_and(allowed: frozenset[str]) -> frozenset[str]:
    """The Vietnamese letters (all of category L) and ``allowed``: characters :func:`_check_text` always accepts."""
    return LETTERS | allowed


def _check_name_alphabet(value: str, field: str) -> None:
    """A name is Vietnamese Latin: the MRZ can only carry those letters, and a look-alike is not the same name."""
    foreign = foreign_characters(value)
    if foreign:
        raise ValidationError(f"not Vietnamese Latin: {foreign_summary(foreign)}", field=field)


def _check_digits(value: str, field: str, lengths: tuple[int, ...]) -> None:
    if not (value.isascii() and value.isdigit() and len(value) in lengths):
        wanted = " or ".join(str(n) for n in lengths)
        raise ValidationError(f"must be {wanted} digits", field=field)


def check_id_number(id_number: str, date_of_birth: date, sex: Sex) -> None:
    """Check a 12-digit CCCD number against its holder's birth date and sex (Circular 07/2016/TT-BCA).

    Digits 1–3 are the code of the province or of the country where the birth was registered (Decree
    137/2015/NĐ-CP Art. 13): any three digits, since the country codes are not published (see
    :mod:`cardlib.model.provinces`); digit 4 the century/sex code, digits 5–6 the last two digits of the
    birth year; the last six are a random serial.  Raises ValidationError(field="id_number").
    """
    _check_digits(id_number, "id_number", (ID_LENGTH,))
    expected = century_sex_digit(date_of_birth.year, sex is Sex.FEMALE)
    if expected is None:
        raise ValidationError(f"birth year {date_of_birth.year} has no century code", field="date_of_birth")
    if int(id_number[3]) != expected:
        raise ValidationError(
            f"century/sex digit {id_number[3]} disagrees with birth year and sex (expected {expected})",
            field="id_number",
        )
    if id_number[4:6] != f"{date_of_birth.year % 100:02d}":
        raise ValidationError(f"year digits {id_number[4:6]} disagree with the birth year", field="id_number")


@dataclass(frozen=True)
class Resident:
    """The personal data DG13 carries for one citizen, valid by construction.

    Text fields are stored NFC-normalised; ``date_of_expiry`` None means "Không thời hạn" (no expiry);
    ``old_id_number`` is the previous 9-digit CMND (or a 12-digit number), empty when none;
    ``card_serial`` is DG13 field 16, empty when unknown.  ``id_number`` is left out of ``repr`` because its
    last six digits are the CAN, a PACE secret.
    """

    id_number: str = field(repr=False)
    full_name: str
    date_of_birth: date
    sex: Sex
    place_of_origin: str
    place_of_residence: str
    date_of_issue: date
    date_of_expiry: date | None
    identification_marks: str = ""
    nationality: str = "Việt Nam"
    ethnicity: str = "Kinh"
    religion: str = "Không"
    father_name: str = ""
    mother_name: str = ""
    spouse_name: str = ""
    old_id_number: str = ""
    card_serial: str = ""

    def __post_init__(self) -> None:
        for name in _TEXT_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, str):
                raise ValidationError(f"expected text, got {type(value).__name__}", field=name)
            object.__setattr__(self, name, nfc(value))
        self._validate()

    def _validate(self) -> None:
        self._validate_types()
        check_id_number(self.id_number, self.date_of_birth, self.sex)
        self._validate_dates()
        for name in ("full_name", "father_name", "mother_name", "spouse_name"):
            _check_name_alphabet(getattr(self, name), name)
            _check_text(getattr(self, name), name, allowed=NAME_PUNCTUATION, max_length=MAX_NAME_LENGTH,
                        required=name == "full_name")
        for name in ("nationality", "ethnicity", "religion", "place_of_origin", "place_of_residence"):
            _check_text(getattr(self, name), name, allowed=_PLACE_PUNCTUATION, max_length=MAX_PLACE_LENGTH,
                        required=True)
        _check_text(self.identification_marks, "identification_marks", allowed=_PLACE_PUNCTUATION,
                    max_length=MAX_PLACE_LENGTH, required=False)
        if self.old_id_number:
            _check_digits(self.old_id_number, "old_id_number", (9, ID_LENGTH))
        if self.card_serial and not (self.card_serial.isascii() and self.card_serial.isalnum()
                                     and len(self.card_serial) <= MAX_SERIAL_LENGTH):
            raise ValidationError(f"must be at most {MAX_SERIAL_LENGTH} ASCII letters/digits", field="card_serial")

    def _validate_types(self) -> None:
        if not isinstance(self.sex, Sex):
            raise ValidationError("expected Sex.MALE or Sex.FEMALE", field="sex")
        for name in ("date_of_birth", "date_of_issue", "date_of_expiry"):
            value = getattr(self, name)
            if value is None and name == "date_of_expiry":
                continue
            if not isinstance(value, date):
                raise ValidationError(f"expected a date, got {type(value).__name__}", field=name)

    def _validate_dates(self) -> None:
        if self.date_of_issue < self.date_of_birth:
            raise ValidationError("issued before the holder was born", field="date_of_issue")
        if self.date_of_expiry is not None and self.date_of_expiry <= self.date_of_issue:
            raise ValidationError("expires on or before the date of issue", field="date_of_expiry")

    def to_dict(self) -> dict[str, str | None]:
        """Plain data for JSON: every field by name, dates ISO 8601, sex ``male``/``female``.

        ``date_of_expiry`` is None for a card without expiry.  :meth:`from_dict` reads it back.  The ID number
        is in it, and its last six digits are the CAN: treat the dict as personal data.
        """
        return {item.name: _plain(getattr(self, item.name)) for item in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Resident:
        """The resident :meth:`to_dict` gave (dates ISO 8601, sex as a word, ``Nam``/``Nữ`` or ``M``/``F``).

        ValidationError(field=...) for a missing or unknown field, a value of the wrong type, or invalid data.
        """
        if not isinstance(data, Mapping):
            raise ValidationError(f"expected a mapping of field names, got {type(data).__name__}", field="resident")
        names = {item.name for item in fields(cls)}
        unknown = sorted(str(key) for key in data if key not in names)
        if unknown:
            raise ValidationError(f"unknown fields {unknown}", field=unknown[0])
        values = dict(data)
        for name in _DATE_FIELDS:
            if name in values:
                values[name] = _iso_date(values[name], name)
        if "sex" in values:
            sex = values["sex"]
            if not isinstance(sex, str | Sex):
                raise ValidationError(f"expected text, got {type(sex).__name__}", field="sex")
            values["sex"] = sex if isinstance(sex, Sex) else Sex.parse(sex)
        missing = [item.name for item in fields(cls) if item.name not in values and item.default is MISSING]
        if missing:
            raise ValidationError("missing", field=missing[0])
        return cls(**values)  # type: ignore[arg-type]

    @property
    def can(self) -> str:
        """The Card Access Number for PACE: the last six digits of the ID number (no CAN is printed)."""
        return self.id_number[-CAN_LENGTH:]

    @property
    def province(self) -> str | None:
        """The province or city where the birth was registered, from the first three ID digits.

        None when those digits are not a province code: the birth was registered abroad (a country code).
        """
        return province_name(self.id_number[:3])

    @property
    def birth_registration(self) -> str:
        """Where the birth was registered, as a person reads it: the province, or the unverifiable country code."""
        return birth_registration_place(self.id_number[:3])


def _plain(value: str | date | Sex | None) -> str | None:
    if isinstance(value, date):
        return value.isoformat()
    return value.word if isinstance(value, Sex) else value


def _iso_date(value: object, field: str) -> date | None:
    """An ISO 8601 date (text or a date) for ``field``; None only for ``date_of_expiry`` (no expiry)."""
    if value is None and field == "date_of_expiry":
        return None
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValidationError(f"expected an ISO date, got {type(value).__name__}", field=field)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{value!r} is not an ISO date (yyyy-mm-dd)", field=field) from None


_DATE_FIELDS = ("date_of_birth", "date_of_issue", "date_of_expiry")
_TEXT_FIELDS = (
    "id_number", "full_name", "nationality", "ethnicity", "religion", "place_of_origin", "place_of_residence",
    "identification_marks", "father_name", "mother_name", "spouse_name", "old_id_number", "card_serial",
)
