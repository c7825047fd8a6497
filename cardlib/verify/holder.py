"""Who a card says it belongs to, as plain typed data: :class:`Holder` and its :class:`Portrait`.

An integrator stores or forwards this record (a bank's eKYC backend, a hotel check-in); a person reads
:meth:`Holder.display`.  The personal data comes from DG13 when it decodes, else from the MRZ of DG1
(capitals without diacritics, YYMMDD dates placed in a century); the document fields (code, issuing state,
document number) always come from DG1; the portrait is the first face of DG2, as stored.

Typed fields hold only values that read as exactly one well-formed value.  A DG13 field carrying several
values (a forger hoping a reader shows the first) or a date that is not a date is left empty and kept, as
the card carries it, in :attr:`Holder.unparsed`: nothing is silently chosen or lost.

:data:`LABELS` gives the English field labels people read (text report, QA summaries), from the DG13 field table.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from functools import partial
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from cardlib.errors import CardlibError, ValidationError
from cardlib.lds.dg1 import DG1
from cardlib.lds.dg2 import DG2
from cardlib.lds.dg13 import DG13
from cardlib.lds.dg13_fields import CardKind, FieldNumber, card_kind, field_labels, format_date, parse_date
from cardlib.lds.images import decode_image
from cardlib.model.mrz import NO_EXPIRY
from cardlib.model.resident import NO_EXPIRY_TEXT, Sex, nfc

if TYPE_CHECKING:
    from PIL import Image

# The fields of the one-paragraph summary, which also lead the display order.
SUMMARY_FIELDS = ("full_name", "id_number", "date_of_birth", "sex", "date_of_expiry")
# Labels of the fields DG1 gives that DG13 has not (their one home; the DG13 ones are the field table's).
_DOCUMENT_LABELS = {"document_number": "document number"}
# The English DG13 labels of the 2021 CCCD, whose field names are the Holder's own attribute names.
_DG13_LABELS = {name: label.en for name, label in field_labels(CardKind.CCCD_2021).items()}
LABELS: Mapping[str, str] = MappingProxyType({
    **{name: _DG13_LABELS[name] for name in SUMMARY_FIELDS}, **_DG13_LABELS, **_DOCUMENT_LABELS})
"""Field name → the English label a person reads, in display order: the summary's fields, the rest of DG13 in
field order (labels from :func:`cardlib.lds.dg13_fields.field_labels`), then the document number."""

# DG13 text fields by Holder field name (parents and spouse come from the nested fields 13 and 14).
_DG13_TEXT = {
    "full_name": FieldNumber.FULL_NAME, "id_number": FieldNumber.ID_NUMBER,
    "nationality": FieldNumber.NATIONALITY, "ethnicity": FieldNumber.ETHNICITY, "religion": FieldNumber.RELIGION,
    "place_of_origin": FieldNumber.PLACE_OF_ORIGIN, "place_of_residence": FieldNumber.PLACE_OF_RESIDENCE,
    "identification_marks": FieldNumber.IDENTIFICATION_MARKS, "old_id_number": FieldNumber.OLD_ID_NUMBER,
    "card_serial": FieldNumber.CARD_SERIAL,
}
_DG13_DATES = {"date_of_birth": FieldNumber.DATE_OF_BIRTH, "date_of_issue": FieldNumber.DATE_OF_ISSUE}
_MRZ_SEX = {"M": Sex.MALE, "F": Sex.FEMALE}
_T = TypeVar("_T")


@dataclass(frozen=True, repr=False)
class Portrait:
    """The holder's face as the chip stores it: JPEG or JPEG 2000 bytes and their media type."""

    data: bytes
    mime_type: str

    def to_pil(self) -> Image.Image:
        """The image decoded by pillow within the DG2 decoding budgets (DecodeError, LimitExceeded)."""
        return decode_image(self.data)

    @property
    def extension(self) -> str:
        """A file name extension for :attr:`data`: ``.jpg`` or ``.jp2``."""
        return ".jpg" if self.mime_type == "image/jpeg" else ".jp2"

    def to_dict(self, *, include_data: bool = False) -> dict[str, Any]:
        """JSON-ready form: media type and size, and the bytes in base64 when ``include_data``."""
        shown: dict[str, Any] = {"mime_type": self.mime_type, "size": len(self.data)}
        if include_data:
            shown["base64"] = base64.b64encode(self.data).decode("ascii")
        return shown

    def __repr__(self) -> str:
        return f"Portrait({self.mime_type}, {len(self.data)} bytes)"


@dataclass(frozen=True, repr=False)
class Holder:
    """The holder's data as one typed, immutable record (empty when neither DG13 nor DG1 decodes).

    ``source`` is ``"DG13"``, ``"DG1"`` or ``""`` (nothing but perhaps a portrait).  Dates are
    :class:`datetime.date`; ``date_of_expiry`` None with ``never_expires`` True is a card "Không thời hạn".
    ``sex`` None is unspecified or unreadable.  ``unparsed`` maps a field name to the card's text for it when
    that text is not one well-formed value (see the module docstring).  ``place_of_origin`` is DG13 field 8:
    Quê quán on a 2021 CCCD, the place of birth registration on a 2024 Căn cước (:attr:`card_kind`; the names
    each kind gives its fields are :func:`cardlib.lds.dg13_fields.renamed_fields`).  Its ``repr`` shows nothing
    personal (the ID number ends with the CAN).
    """

    source: str = ""
    full_name: str = ""
    id_number: str = ""
    date_of_birth: date | None = None
    sex: Sex | None = None
    date_of_expiry: date | None = None
    never_expires: bool = False
    nationality: str = ""
    ethnicity: str = ""
    religion: str = ""
    place_of_origin: str = ""
    place_of_residence: str = ""
    identification_marks: str = ""
    date_of_issue: date | None = None
    father_name: str = ""
    mother_name: str = ""
    spouse_name: str = ""
    old_id_number: str = ""
    card_serial: str = ""
    document_code: str = ""
    issuing_state: str = ""
    document_number: str = ""
    portrait: Portrait | None = None
    unparsed: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "unparsed", MappingProxyType(dict(self.unparsed)))

    def __bool__(self) -> bool:
        """True when anything of the holder was read: DG13 or DG1, or only a portrait."""
        return bool(self.source or self.portrait)

    def __repr__(self) -> str:
        return f"Holder(from {self.source or 'nothing'})"

    def to_dict(self, *, include_portrait: bool = False) -> dict[str, Any]:
        """JSON-ready form: ISO dates, sex as ``male``/``female``, the portrait's type and size (its bytes too).

        ``card_kind`` is added (:class:`~cardlib.lds.dg13_fields.CardKind` value, or None).
        """
        data: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, Sex):
                value = value.word
            elif isinstance(value, Portrait):
                value = value.to_dict(include_data=include_portrait)
            elif isinstance(value, Mapping):
                value = dict(value)
            data[item.name] = value
        kind = self.card_kind
        data["card_kind"] = kind.value if kind else None
        return data

    @property
    def card_kind(self) -> CardKind | None:
        """The kind of card (2021 CCCD, 2024 Căn cước) by the DG13 dates of issue and birth; None without both."""
        if self.source != "DG13" or self.date_of_issue is None or self.date_of_birth is None:
            return None
        return card_kind(self.date_of_issue, self.date_of_birth)

    def texts(self) -> dict[str, str]:
        """Every field the card gave, as a person reads it (dd/mm/yyyy, Nam/Nữ), keyed by field name in order."""
        shown = {name: self.text(name) for name in LABELS}
        return {name: text for name, text in shown.items() if text}

    def display(self, names: tuple[str, ...] = SUMMARY_FIELDS) -> dict[str, str]:
        """The fields ``names`` (default: the summary) under their :data:`LABELS`, as a person reads them."""
        if not self.source:
            return {}
        return {LABELS[name]: self.text(name) for name in names}

    def text(self, name: str) -> str:
        """Field ``name`` as a person reads it; the card's own text for an unparsed field; "" when absent."""
        if name in self.unparsed:
            return self.unparsed[name]
        if name == "id_number" and not self.id_number:
            return self.document_number
        if name == "date_of_expiry" and self.never_expires:
            return NO_EXPIRY_TEXT
        value = getattr(self, name)
        if isinstance(value, date):
            return format_date(value)
        if isinstance(value, Sex):
            return value.value
        return str(value or "")


def read_holder(files: Mapping[str, bytes], *, today: date | None = None) -> Holder:
    """The holder of a card's files (name → bytes), decoding DG1, DG2 and DG13; what does not decode is skipped.

    For a card being verified, :attr:`VerificationReport.holder` is the same record without decoding twice.
    """
    return holder_of(_decoded(DG1.decode, files.get("DG1")), _decoded(DG13.decode, files.get("DG13")),
                     _decoded(DG2.decode, files.get("DG2")), today=today or date.today())


def _decoded(decode: Callable[[bytes], _T], data: bytes | None) -> _T | None:
    if data is None:
        return None
    try:
        return decode(data)
    except CardlibError:
        return None


def holder_of(dg1: DG1 | None, dg13: DG13 | None, dg2: DG2 | None, *, today: date) -> Holder:
    """The holder of a card whose files decoded as given (None: absent or not decoding).

    ``today`` places the MRZ's two-digit years: a birth is never in the future, an expiry at most 50 years ahead.
    """
    document: dict[str, Any] = {}
    if dg1 is not None:
        mrz = dg1.mrz
        document = {"document_code": mrz.document_code, "issuing_state": mrz.issuing_state,
                    "document_number": mrz.document_number}
    portrait = _portrait(dg2)
    if dg13 is not None:
        return Holder(source="DG13", **_from_dg13(dg13), **document, portrait=portrait)
    if dg1 is not None:
        return Holder(source="DG1", **_from_mrz(dg1, today), **document, portrait=portrait)
    return Holder(portrait=portrait)


def _from_dg13(dg13: DG13) -> dict[str, Any]:
    values: dict[str, Any] = {}
    unparsed: dict[str, str] = {}
    repeated = {entry.number for entry in dg13.repeated}
    for name, number in _DG13_TEXT.items():
        _take(values, unparsed, name, dg13.shown(number), nfc, number in repeated)
    for name, number in _DG13_DATES.items():
        _take(values, unparsed, name, dg13.shown(number), partial(parse_date, field=name), number in repeated)
    _take(values, unparsed, "sex", dg13.shown(FieldNumber.SEX), Sex.parse, FieldNumber.SEX in repeated)
    expiry = dg13.shown(FieldNumber.DATE_OF_EXPIRY)
    if expiry is not None and FieldNumber.DATE_OF_EXPIRY not in repeated and nfc(expiry) == NO_EXPIRY_TEXT:
        values["never_expires"] = True
    else:
        _take(values, unparsed, "date_of_expiry", expiry, partial(parse_date, field="date_of_expiry"),
              FieldNumber.DATE_OF_EXPIRY in repeated)
    _names(values, unparsed, dg13)
    return {**values, "unparsed": unparsed}


def _names(values: dict[str, Any], unparsed: dict[str, str], dg13: DG13) -> None:
    """Parents from field 13 and the spouse from field 14, or their shown text when they carry surplus names."""
    father, mother = dg13.parents
    parents = dg13.fields.get(FieldNumber.PARENTS)
    if parents is not None and parents.repeated:
        unparsed["father_name"] = unparsed["mother_name"] = dg13.shown(FieldNumber.PARENTS) or ""
    else:
        values["father_name"], values["mother_name"] = nfc(father), nfc(mother)
    spouse = dg13.fields.get(FieldNumber.SPOUSE)
    if spouse is not None and spouse.repeated:
        unparsed["spouse_name"] = dg13.shown(FieldNumber.SPOUSE) or ""
    else:
        values["spouse_name"] = nfc(dg13.spouse)


def _take(values: dict[str, Any], unparsed: dict[str, str], name: str, text: str | None,
          parse: Callable[[str], object], repeated: bool) -> None:
    """Store ``parse(text)`` as field ``name``, or ``text`` in ``unparsed`` when repeated or not parsing."""
    if text is None:
        return
    if repeated:
        unparsed[name] = text
        return
    try:
        values[name] = parse(text)
    except ValidationError:
        unparsed[name] = text


def _from_mrz(dg1: DG1, today: date) -> dict[str, Any]:
    mrz = dg1.mrz
    values: dict[str, Any] = {"full_name": mrz.name, "id_number": mrz.id_number, "nationality": mrz.nationality,
                              "sex": _MRZ_SEX.get(mrz.sex)}
    unparsed: dict[str, str] = {}
    birth = mrz_date(mrz.date_of_birth, today, future_years=0)
    if birth is None:
        unparsed["date_of_birth"] = mrz.date_of_birth
    values["date_of_birth"] = birth
    if mrz.date_of_expiry == NO_EXPIRY:
        values["never_expires"] = True
    else:
        values["date_of_expiry"] = expiry = mrz_date(mrz.date_of_expiry, today, future_years=50)
        if expiry is None:
            unparsed["date_of_expiry"] = mrz.date_of_expiry
    return {**values, "unparsed": unparsed}


def mrz_date(printed: str, today: date, *, future_years: int) -> date | None:
    """An MRZ YYMMDD date in the century that puts it at most ``future_years`` after ``today`` (ICAO 9303-3).

    Births use 0 (never in the future), expiry dates 50.  None when ``printed`` is not a real date.
    """
    if not (len(printed) == 6 and printed.isascii() and printed.isdigit()):
        return None
    year = today.year // 100 * 100 + int(printed[:2])
    if year > today.year + future_years:
        year -= 100
    try:
        day = date(year, int(printed[2:4]), int(printed[4:6]))
    except ValueError:
        return None
    if future_years == 0 and day > today:
        return _hundred_years_earlier(day)
    return day


def _hundred_years_earlier(day: date) -> date | None:
    try:
        return day.replace(year=day.year - 100)
    except ValueError:  # 29 February of a year whose century year is not a leap year
        return None


def _portrait(dg2: DG2 | None) -> Portrait | None:
    if dg2 is None or not dg2.faces:
        return None
    face = dg2.faces[0]
    return Portrait(face.image, face.mime_type)
