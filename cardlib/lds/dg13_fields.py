"""The DG13 field table: which field holds what, on each kind of card, and how DG13 writes a date.

The one home of the facts about DG13's fields (shared docs cccd-chip.md, "DG13"): their numbers
(:class:`FieldNumber`), the :class:`~cardlib.model.resident.Resident` attributes they carry, their string types,
whether a card must have them (:attr:`FieldSpec.required`), the nested names of fields 13 and 14, and the
labels a person reads for them in Vietnamese and English (:class:`FieldLabel`, :func:`field_labels`).  The codec,
:mod:`cardlib.lds.dg13`, the checks, the holder record and the counter page read them from here.

Card kinds.  Two kinds of card are in circulation: the *Căn cước công dân* (CCCD, Circular 06/2021/TT-BCA),
issued until 30 June 2024, and the *Căn cước* (Law on Identification 2023, Circular 16/2024/TT-BCA), issued
from 1 July 2024 (:data:`CAN_CUOC_SINCE`), with a variant for children under 6 (no face printed: the Law's
Art. 23(2) has no biometrics taken under 6, so whether such a chip holds DG2 at all is not known).  The
2024 face prints "Nơi đăng ký khai sinh" (place of birth registration) and "Nơi cư trú" (place of residence)
instead of "Quê quán" and "Nơi thường trú", no identification marks, and "Bộ Công an" as issuer.  Which
kind a card is follows from its date of issue (and, for the variant, the holder's age on that day), so
:func:`card_kind` needs nothing the 2021 layout lacks.

The chip layout of the 2024 card is not public.  We do not invent one: :data:`FIELD_TABLES` gives each kind
its own declarative table over the 2021 numbering, and the 2024 table is an *assumption*, each assumed
placement saying so in :attr:`FieldSpec.assumption`: the place of birth registration in field 8 (the slot of
"Quê quán"), the place of residence in field 9, field 10 (identification marks) present and empty.
When the real layout is published, changing it is an edit of that table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import Enum, IntEnum
from functools import lru_cache

from cardlib.errors import ValidationError
from cardlib.model.resident import NO_EXPIRY_TEXT, nfc

_DATE = re.compile(r"(\d{2})/(\d{2})/(\d{4})")
# Distinct date texts parse_date remembers: the card at hand's (each is read several times) and a few a batch
# shares (its dates of issue), never a batch's worth, so verifying a card again finds nothing of it left.
_DATE_CACHE_SIZE = 16


class StringType(IntEnum):
    """The two string types DG13 uses, by their universal tag."""

    UTF8 = 0x0C
    PRINTABLE = 0x13


class FieldNumber(IntEnum):
    """DG13 field numbers, as the majority of readers decode real cards (one puts spouse at 15, old ID at 16)."""

    ID_NUMBER = 1
    FULL_NAME = 2
    DATE_OF_BIRTH = 3
    SEX = 4
    NATIONALITY = 5
    ETHNICITY = 6
    RELIGION = 7
    PLACE_OF_ORIGIN = 8
    PLACE_OF_RESIDENCE = 9
    IDENTIFICATION_MARKS = 10
    DATE_OF_ISSUE = 11
    DATE_OF_EXPIRY = 12
    PARENTS = 13
    SPOUSE = 14
    OLD_ID_NUMBER = 15
    CARD_SERIAL = 16


CAN_CUOC_SINCE = date(2024, 7, 1)
"""The Law on Identification 2023 takes effect: cards issued from this day are Căn cước cards."""
UNDER_6_YEARS = 6
"""Holders younger than this on the day of issue get the Căn cước variant without a printed face."""


class CardKind(Enum):
    """The kind of card a DG13 belongs to; the value is the name input files and the counter page use."""

    CCCD_2021 = "cccd_2021"
    CAN_CUOC_2024 = "can_cuoc_2024"
    CAN_CUOC_2024_UNDER_6 = "can_cuoc_2024_under_6"


def card_kind(date_of_issue: date, date_of_birth: date) -> CardKind:
    """The kind of a card issued on ``date_of_issue`` to a holder born on ``date_of_birth``."""
    if date_of_issue < CAN_CUOC_SINCE:
        return CardKind.CCCD_2021
    sixth = _birthday(date_of_birth, date_of_birth.year + UNDER_6_YEARS)
    return CardKind.CAN_CUOC_2024_UNDER_6 if date_of_issue < sixth else CardKind.CAN_CUOC_2024


def _birthday(born: date, year: int) -> date:
    """The birthday in ``year`` (29 February counts from 1 March in other years)."""
    try:
        return born.replace(year=year)
    except ValueError:
        return date(year, 3, 1)


@dataclass(frozen=True)
class FieldLabel:
    """What a person reads as a field's name: Vietnamese, as the card kind's face prints it, and English.

    ``en`` is written as prose uses it (the text report says "date of birth: …"); a heading capitalises its
    first letter.
    """

    vi: str
    en: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form: ``{"vi": …, "en": …}``."""
        return {"vi": self.vi, "en": self.en}


@dataclass(frozen=True)
class FieldSpec:
    """One DG13 field of a card kind's layout.

    ``name`` is what the kind calls the field (input files, the counter page); ``attributes`` the
    :class:`~cardlib.model.resident.Resident` attributes it carries (two for the nested parents) and
    ``labels`` their names as a person reads them, one per attribute; ``assumption`` is non-empty where the
    placement is ours, not published.
    """

    number: int
    name: str
    attributes: tuple[str, ...]
    labels: tuple[FieldLabel, ...]
    string_type: StringType = StringType.UTF8
    required: bool = True
    assumption: str = ""

    def __post_init__(self) -> None:
        if len(self.labels) != len(self.attributes):
            raise ValueError(f"DG13 field {self.number}: one label per attribute")


def _spec(number: int, name: str, vi: str, en: str, *, attribute: str = "", printable: bool = False,
          required: bool = True, assumption: str = "") -> FieldSpec:
    string_type = StringType.PRINTABLE if printable else StringType.UTF8
    return FieldSpec(number, name, (attribute or name,), (FieldLabel(vi, en),), string_type, required, assumption)


# Labels.  Vietnamese: the names the counter page has shown, after each kind's face: the 2021 CCCD (the card
# model of Circular 06/2021/TT-BCA) and the 2024 Căn cước (Circular 16/2024/TT-BCA), whose face prints "Họ, chữ
# đệm và tên khai sinh", "Số định danh cá nhân", "Ngày, tháng, năm sinh/cấp/hết hạn", "Nơi đăng ký khai sinh"
# and "Nơi cư trú" instead of the 2021 names.  Fields no face prints (parents, spouse, old ID number, card
# serial; identification marks on a 2024 card) carry a plain description of ours.  English: the names the text report
# and QA summaries have always used, and the 2024 face's own English where it differs ("personal
# identification number", "place of birth").
_PARENTS = FieldSpec(13, "parents", ("father_name", "mother_name"),
                     (FieldLabel("Họ tên cha", "father's name"), FieldLabel("Họ tên mẹ", "mother's name")),
                     required=False)
_CHIP_ONLY = (
    _PARENTS,
    _spec(14, "spouse_name", "Họ tên vợ hoặc chồng", "spouse's name", required=False),
    _spec(15, "old_id_number", "Số chứng minh nhân dân cũ", "old ID number", printable=True, required=False),
    _spec(16, "card_serial", "Số sê-ri thẻ", "card serial", printable=True, required=False),
)
_CCCD_2021 = (
    _spec(1, "id_number", "Số định danh", "ID number", printable=True),
    _spec(2, "full_name", "Họ và tên", "full name"),
    _spec(3, "date_of_birth", "Ngày sinh", "date of birth", printable=True),
    _spec(4, "sex", "Giới tính", "sex"),
    _spec(5, "nationality", "Quốc tịch", "nationality"),
    _spec(6, "ethnicity", "Dân tộc", "ethnicity"),
    _spec(7, "religion", "Tôn giáo", "religion"),
    _spec(8, "place_of_origin", "Quê quán", "place of origin"),
    _spec(9, "place_of_residence", "Nơi thường trú", "place of residence"),
    _spec(10, "identification_marks", "Đặc điểm nhân dạng", "identification marks", required=False),
    _spec(11, "date_of_issue", "Ngày cấp", "date of issue", printable=True),
    _spec(12, "date_of_expiry", "Có giá trị đến", "date of expiry"),
    *_CHIP_ONLY,
)
_ASSUMED = "the 2024 chip layout is not public: kept in the 2021 slot"
_CAN_CUOC_2024 = (
    _spec(1, "id_number", "Số định danh cá nhân", "personal identification number", printable=True),
    _spec(2, "full_name", "Họ, chữ đệm và tên khai sinh", "full name"),
    _spec(3, "date_of_birth", "Ngày, tháng, năm sinh", "date of birth", printable=True),
    _spec(4, "sex", "Giới tính", "sex"),
    _spec(5, "nationality", "Quốc tịch", "nationality"),
    _spec(6, "ethnicity", "Dân tộc", "ethnicity"),
    _spec(7, "religion", "Tôn giáo", "religion"),
    _spec(8, "place_of_birth_registration", "Nơi đăng ký khai sinh", "place of birth", attribute="place_of_origin",
          assumption=f"{_ASSUMED} of Quê quán (place of origin)"),
    _spec(9, "place_of_residence", "Nơi cư trú", "place of residence",
          assumption=f"{_ASSUMED} of Nơi thường trú (permanent residence)"),
    _spec(10, "identification_marks", "Đặc điểm nhân dạng", "identification marks", required=False,
          assumption=f"{_ASSUMED}, present and empty: the 2024 card has no identification marks"),
    _spec(11, "date_of_issue", "Ngày, tháng, năm cấp", "date of issue", printable=True),
    _spec(12, "date_of_expiry", "Ngày, tháng, năm hết hạn", "date of expiry"),
    *_CHIP_ONLY,
)
FIELD_TABLES: Mapping[CardKind, tuple[FieldSpec, ...]] = {
    CardKind.CCCD_2021: _CCCD_2021, CardKind.CAN_CUOC_2024: _CAN_CUOC_2024,
    CardKind.CAN_CUOC_2024_UNDER_6: _CAN_CUOC_2024,
}
"""Each card kind's DG13 layout, by field number order: the one place that says which field holds what."""


def field_table(kind: CardKind) -> Mapping[int, FieldSpec]:
    """The layout of ``kind`` by field number."""
    return {spec.number: spec for spec in FIELD_TABLES[kind]}


def renamed_fields(kind: CardKind) -> dict[str, str]:
    """Resident attribute → the name ``kind`` gives its field, where the two differ (2024: place of origin)."""
    return {spec.attributes[0]: spec.name for spec in FIELD_TABLES[kind]
            if len(spec.attributes) == 1 and spec.name != spec.attributes[0]}


def field_labels(kind: CardKind) -> dict[str, FieldLabel]:
    """The labels a person reads on a card of ``kind``, in field order: by the name the kind gives a field
    (:attr:`FieldSpec.name`), by attribute for the names nested in field 13 (``father_name``, ``mother_name``)."""
    labels: dict[str, FieldLabel] = {}
    for spec in FIELD_TABLES[kind]:
        names = spec.attributes if len(spec.attributes) > 1 else (spec.name,)
        labels.update(zip(names, spec.labels, strict=True))
    return labels


# How many names a nested field holds in the layout: father and mother in 13, one spouse in 14.
NESTED_NAMES = {13: 2, 14: 1}


def format_date(day: date) -> str:
    """A date as DG13 writes it: dd/mm/yyyy."""
    return f"{day.day:02d}/{day.month:02d}/{day.year:04d}"


def parse_date(text: str, field: str) -> date:
    """A DG13 dd/mm/yyyy date; ValidationError(field=...) when malformed or impossible."""
    parsed = _parsed_date(text)
    if isinstance(parsed, str):
        raise ValidationError(parsed, field=field)
    return parsed


@lru_cache(maxsize=_DATE_CACHE_SIZE)
def _parsed_date(text: str) -> date | str:
    """The date ``text`` writes, or why it is none (remembered: a verification reads each DG13 date several
    times, in its conformance, cross and holder checks)."""
    match = _DATE.fullmatch(text.strip())
    if not match:
        return f"{text!r} is not a dd/mm/yyyy date"
    day, month, year = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return f"{text!r} is not a real date"


def is_no_expiry(text: str) -> bool:
    """Whether a date of expiry field says the card never expires (:data:`~cardlib.model.resident.NO_EXPIRY_TEXT`)."""
    return nfc(text).casefold() == NO_EXPIRY_TEXT.casefold()
