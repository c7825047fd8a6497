"""DG13: the Vietnamese resident data of the CCCD (shared docs cccd-chip.md, "DG13").

Layout, as decoded from real cards by several independent readers::

    6D L
      30 L
        02 01 01                      -- version 1
        06 06 28 D3 16 01 00 08       -- 1.0.10646.1.0.8 (ISO/IEC 10646, UTF-8)
        31 L                          -- SET of fields
          30 L { 02 01 n, value }     -- one SEQUENCE per field n (1–16)

Fields 13 (parents) and 14 (spouse) hold a nested SEQUENCE of names.  The encoder writes exactly that
majority layout, every field 1–16 present, with the string types of the table (PrintableString for 1, 3,
11, 15, 16; UTF8String for the rest).  The SET is ordered by field number as on the real cards, not by the
DER rule for SET OF (which would sort by encoded length first): readers in the field index by number, and
a card-identical order matters more here than canonical DER.

The decoder is tolerant: unknown field numbers, missing fields, empty values, either string type in any
field and long-form lengths are accepted.  A field carrying more values than the layout gives it keeps them
all (:attr:`DG13Field.repeated`, :meth:`DG13.shown`); a field number appearing twice is refused, since no
reading of such a SET is the card's.  Every field keeps the bytes it arrived in, so a decoded DG13
re-encodes byte-identically.  Text is decoded as UTF-8 whatever the tag (PrintableString is a subset).

Which field holds what on each kind of card (CCCD 2021, Căn cước 2024) is the field table of
:mod:`cardlib.lds.dg13_fields`; :meth:`DG13.from_resident` writes, and :meth:`DG13.to_resident` reads, by it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from asn1crypto import core

from cardlib.errors import DecodeError, EncodeError, ValidationError
from cardlib.lds import der
from cardlib.lds.asn1 import load_strict, oid_der
from cardlib.lds.dg13_fields import (
    FIELD_TABLES,
    NESTED_NAMES,
    CardKind,
    FieldNumber,
    FieldSpec,
    StringType,
    card_kind,
    format_date,
    is_no_expiry,
    parse_date,
)
from cardlib.lds.files import dg_tag
from cardlib.lds.oids import ID_ISO10646_UTF8
from cardlib.lds.tlv import TLV, children, encode_tlv, read_single
from cardlib.model.resident import NO_EXPIRY_TEXT, Resident, Sex

FILE = "DG13"
TAG = dg_tag(13)
VERSION = 1
_SEQUENCE, _SET, _INTEGER, _OID = 0x30, 0x31, 0x02, 0x06
_PRINTABLE = re.compile(r"[A-Za-z0-9 '()+,\-./:=?]*")
AMBIGUOUS_SEPARATOR = " | "


@dataclass(frozen=True)
class DG13Text:
    """One string value and the ASN.1 type it is (or will be) encoded as."""

    text: str
    string_type: StringType = StringType.UTF8

    def encode(self) -> bytes:
        """DER of the string; PrintableString refuses characters outside its alphabet."""
        if self.string_type is StringType.PRINTABLE and not _PRINTABLE.fullmatch(self.text):
            raise EncodeError(f"{self.text!r} is not a PrintableString")
        return encode_tlv(self.string_type, self.text.encode("utf-8"))


DG13Value = DG13Text | tuple[DG13Text, ...]


@dataclass(frozen=True)
class DG13Field:
    """Field ``number``: its values (strings, or a nested SEQUENCE of strings for 13 and 14).

    ``encoded`` holds the field's SEQUENCE exactly as it was read (set by :meth:`DG13.decode` only, and not
    carried over by ``dataclasses.replace``); fields built in code leave it empty and are encoded in DER.
    """

    number: int
    values: tuple[DG13Value, ...]
    encoded: bytes = field(default=b"", init=False, compare=False, repr=False)

    @property
    def texts(self) -> tuple[str, ...]:
        """Every string in the field, nested ones flattened, in order."""
        return self._derived[0]

    @property
    def text(self) -> str:
        """The first string of the field ("" when it has none): the value of every non-nested field."""
        return self._derived[1]

    @property
    def repeated(self) -> bool:
        """More values than the layout gives the field: a repeated element, or surplus names in 13 or 14.

        Every field of the layout carries one value (13 and 14 one nested SEQUENCE); a reader taking the first
        of several would show one of two contradicting answers, so the decoder keeps them all and says so here.
        """
        return self._derived[2]

    @property
    def _derived(self) -> tuple[tuple[str, ...], str, bool]:
        """(texts, text, repeated), worked out on first use and kept: the field is immutable and a verification
        asks each several times.  (A plain dictionary entry: functools.cached_property takes a lock each time.)"""
        known: tuple[tuple[str, ...], str, bool] | None = self.__dict__.get("_known")
        if known is None:
            flat: list[str] = []
            for value in self.values:
                flat.extend(item.text for item in (value if isinstance(value, tuple) else (value,)))
            capacity = NESTED_NAMES.get(self.number)
            known = (tuple(flat), flat[0] if flat else "",
                     len(self.values) > 1 or (capacity is not None and len(flat) > capacity))
            self.__dict__["_known"] = known
        return known

    def encode(self) -> bytes:
        """The field's SEQUENCE: as read when decoded, DER otherwise."""
        if self.encoded:
            return self.encoded
        body = b"".join(_encode_value(value) for value in self.values)
        return encode_tlv(_SEQUENCE, _encode_integer(self.number) + body)


def _encode_value(value: DG13Value) -> bytes:
    if isinstance(value, tuple):
        return encode_tlv(_SEQUENCE, b"".join(item.encode() for item in value))
    return value.encode()


def _encode_integer(number: int) -> bytes:
    if number < 0:
        raise EncodeError(f"DG13 field number {number} is negative")
    return encode_tlv(_INTEGER, number.to_bytes(number.bit_length() // 8 + 1, "big"))


@dataclass(frozen=True)
class DG13:
    """Data group 13 of the CCCD: versioned, OID-tagged SET of numbered fields.

    ``encoded`` is the file exactly as :meth:`decode` read it (a decoded DG13 is immutable, so encoding it
    gives those bytes back, whatever length forms they used); a DG13 built in code encodes to DER.
    """

    entries: tuple[DG13Field, ...]
    version: int = VERSION
    oid: str = ID_ISO10646_UTF8
    encoded: bytes = field(default=b"", init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        numbers = [entry.number for entry in self.entries]
        duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
        if duplicates:
            raise ValidationError(f"field numbers appear twice: {duplicates}", field="DG13")

    @property
    def fields(self) -> dict[int, DG13Field]:
        """The fields by number (worked out once, as the DG13 is immutable and the checks ask it often: do not
        modify it)."""
        known: dict[int, DG13Field] | None = self.__dict__.get("_fields")
        if known is None:
            known = {entry.number: entry for entry in self.entries}
            self.__dict__["_fields"] = known
        return known

    def text(self, number: int) -> str | None:
        """The string of field ``number``, or None when the field is absent."""
        entry = self.fields.get(number)
        return None if entry is None else entry.text

    @property
    def repeated(self) -> tuple[DG13Field, ...]:
        """The fields carrying more values than the layout gives them (see :attr:`DG13Field.repeated`)."""
        return tuple(entry for entry in self.entries if entry.repeated)

    def shown(self, number: int) -> str | None:
        """Field ``number`` as a person should read it: its value, or, when repeated, every value and a warning.

        ``"A | B (ambiguous: DG13 field 2 holds 2 values)"`` rather than ``"A"``: which one the card means is
        not for a display to decide.  None when the field is absent.
        """
        entry = self.fields.get(number)
        if entry is None:
            return None
        if not entry.repeated:
            return entry.text
        texts = entry.texts
        return f"{AMBIGUOUS_SEPARATOR.join(texts)} (ambiguous: DG13 field {number} holds {len(texts)} values)"

    @property
    def parents(self) -> tuple[str, str]:
        """(father's name, mother's name) from field 13; "" for what is missing."""
        entry = self.fields.get(FieldNumber.PARENTS)
        texts = entry.texts if entry else ()
        return (texts[0] if texts else "", texts[1] if len(texts) > 1 else "")

    @property
    def spouse(self) -> str:
        """Spouse's name from field 14, "" when single or absent."""
        return self.text(FieldNumber.SPOUSE) or ""

    # -- encoding -------------------------------------------------------------------------------------

    @classmethod
    def from_resident(cls, resident: Resident) -> DG13:
        """The DG13 of ``resident`` in the layout of its card kind (:func:`card_kind`): every field, by number."""
        layout = FIELD_TABLES[card_kind(resident.date_of_issue, resident.date_of_birth)]
        return cls(tuple(_resident_field(spec, resident) for spec in layout))

    @property
    def kind(self) -> CardKind:
        """The card kind by the date of issue and of birth; the 2021 kind when either is not a date."""
        try:
            issued = parse_date(self.text(FieldNumber.DATE_OF_ISSUE) or "", "date_of_issue")
            born = parse_date(self.text(FieldNumber.DATE_OF_BIRTH) or "", "date_of_birth")
        except ValidationError:
            return CardKind.CCCD_2021
        return card_kind(issued, born)

    def encode(self) -> bytes:
        """The whole DG13 file, outer tag 6D included."""
        if self.encoded:
            return self.encoded
        body = _encode_integer(self.version) + oid_der(self.oid)
        body += encode_tlv(_SET, b"".join(entry.encode() for entry in self.entries))
        return encode_tlv(TAG, encode_tlv(_SEQUENCE, body))

    # -- decoding -------------------------------------------------------------------------------------

    @classmethod
    def decode(cls, data: bytes) -> DG13:
        """Parse a DG13 file tolerantly; malformed structure or non-UTF-8 text raise DecodeError with offsets.

        A file in canonical DER (every card cardlib makes) is read by :func:`_decode_canonical`; any other, and
        any that is wrong, by the general BER-TLV reading below, which names the offset of what is wrong.
        """
        try:
            return _decode_canonical(bytes(data))
        except der.Unusual:
            pass
        return cls._decode_general(data)

    @classmethod
    def _decode_general(cls, data: bytes) -> DG13:
        """The BER-TLV reading of :meth:`decode`, for any file."""
        outer = read_single(data, TAG, file=FILE)
        top = children(outer, file=FILE)
        if len(top) != 1 or top[0].tag != _SEQUENCE:
            raise DecodeError("expected one SEQUENCE inside tag 6D", file=FILE, offset=outer.header_length)
        parts = children(top[0], file=FILE)
        if [part.tag for part in parts] != [_INTEGER, _OID, _SET]:
            raise DecodeError("expected version INTEGER, OID and SET of fields", file=FILE, offset=top[0].offset)
        version = _decode_integer(parts[0], "version")
        oid = _decode_oid(data, parts[1])
        entries = tuple(_decode_field(data, obj) for obj in children(parts[2], file=FILE))
        try:
            decoded = cls(entries, version, oid)
        except ValidationError as exc:
            raise DecodeError(exc.reason, file=FILE, offset=parts[2].offset) from None
        object.__setattr__(decoded, "encoded", bytes(data))
        return decoded

    def to_resident(self) -> Resident:
        """The resident this DG13 describes; ValidationError(field=...) when a field is missing or invalid."""
        for spec in FIELD_TABLES[self.kind]:
            if spec.required and spec.number not in self.fields:
                raise ValidationError(f"DG13 field {spec.number} is missing", field=spec.name)
        father, mother = self.parents
        expiry_text = self.text(12) or ""
        return Resident(
            id_number=self._text(1), full_name=self._text(2), date_of_birth=parse_date(self._text(3), "date_of_birth"),
            sex=Sex.parse(self._text(4)), nationality=self._text(5), ethnicity=self._text(6), religion=self._text(7),
            place_of_origin=self._text(8), place_of_residence=self._text(9), identification_marks=self._text(10),
            date_of_issue=parse_date(self._text(11), "date_of_issue"),
            date_of_expiry=None if is_no_expiry(expiry_text) else parse_date(expiry_text, "date_of_expiry"),
            father_name=father, mother_name=mother, spouse_name=self.spouse, old_id_number=self._text(15),
            card_serial=self._text(16),
        )

    def _text(self, number: int) -> str:
        return self.text(number) or ""


def _resident_field(spec: FieldSpec, resident: Resident) -> DG13Field:
    """Field ``spec`` filled from ``resident``: one string, or the nested names of the parents or spouse."""
    texts = [_resident_text(resident, attribute) for attribute in spec.attributes]
    if spec.number in NESTED_NAMES:
        if texts == [""]:
            texts = []  # no spouse: an empty SEQUENCE, as on the cards; parents keep both places
        return DG13Field(spec.number, (tuple(DG13Text(text, spec.string_type) for text in texts),))
    return DG13Field(spec.number, (DG13Text(texts[0], spec.string_type),))


def _resident_text(resident: Resident, attribute: str) -> str:
    """An attribute of ``resident`` as DG13 writes it: dates dd/mm/yyyy, no expiry as its text, sex as Nam/Nữ."""
    value = getattr(resident, attribute)
    if isinstance(value, date):
        return format_date(value)
    if value is None:
        return NO_EXPIRY_TEXT
    return value.value if isinstance(value, Sex) else str(value)


def _decode_integer(obj: TLV, what: str) -> int:
    if not obj.value or obj.tag != _INTEGER:
        raise DecodeError("expected a non-empty INTEGER", file=FILE, field=what, offset=obj.offset)
    return int.from_bytes(obj.value, "big", signed=True)


def _decode_oid(data: bytes, obj: TLV) -> str:
    if not obj.value or obj.value[-1] & 0x80:
        raise DecodeError("OBJECT IDENTIFIER is empty or its last arc is unterminated", file=FILE, field="OID",
                          offset=obj.offset)
    dotted: str = load_strict(core.ObjectIdentifier, data[obj.offset : obj.end], file=FILE, field="OID").dotted
    return dotted


def _decode_field(data: bytes, obj: TLV) -> DG13Field:
    if obj.tag != _SEQUENCE:
        raise DecodeError(f"tag {obj.tag:X} in the SET, expected a field SEQUENCE", file=FILE, offset=obj.offset)
    items = children(obj, file=FILE)
    if not items:
        raise DecodeError("empty field SEQUENCE", file=FILE, offset=obj.offset)
    number = _decode_integer(items[0], "field number")
    name = f"field {number}"
    values: list[DG13Value] = []
    for item in items[1:]:
        if item.tag == _SEQUENCE:
            values.append(tuple(_decode_text(inner, name) for inner in children(item, file=FILE)))
        else:
            values.append(_decode_text(item, name))
    decoded = DG13Field(number, tuple(values))
    object.__setattr__(decoded, "encoded", bytes(data[obj.offset : obj.end]))
    return decoded


def _decode_text(obj: TLV, name: str) -> DG13Text:
    if obj.tag not in (StringType.UTF8, StringType.PRINTABLE):
        raise DecodeError(f"tag {obj.tag:X}, expected UTF8String or PrintableString", file=FILE, field=name,
                          offset=obj.offset)
    try:
        text = obj.value.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = obj.offset + obj.header_length + exc.start
        raise DecodeError("text is not valid UTF-8", file=FILE, field=name, offset=offset) from None
    return DG13Text(text, StringType(obj.tag))


_STRING_TYPES = {int(kind): kind for kind in StringType}


def _decode_canonical(data: bytes) -> DG13:
    """:meth:`DG13.decode` of a file in canonical DER whose every part decodes; :class:`der.Unusual` otherwise."""
    begin, stop = der.element(data, 0, len(data), TAG)
    if stop != len(data):
        raise der.Unusual
    body = der.single(data, (TAG, 0, begin, stop), _SEQUENCE)
    version, oid, fields = der.shaped(data, body[2], body[3], _INTEGER, _OID, _SET)
    if oid[2] == oid[3] or data[oid[3] - 1] & 0x80:
        raise der.Unusual
    entries = tuple(_canonical_field(data, item) for item in der.elements(data, fields[2], fields[3]))
    try:
        decoded = DG13(entries, der.integer(data, version), der.dotted(data, oid))
    except ValidationError as exc:
        raise der.Unusual from exc
    object.__setattr__(decoded, "encoded", data)
    return decoded


def _canonical_field(data: bytes, item: der.Element) -> DG13Field:
    if item[0] != _SEQUENCE:
        raise der.Unusual
    parts = der.elements(data, item[2], item[3])
    if not parts:
        raise der.Unusual
    values: list[DG13Value] = []
    for part in parts[1:]:
        if part[0] == _SEQUENCE:
            values.append(tuple(_canonical_text(data, inner) for inner in der.elements(data, part[2], part[3])))
        else:
            values.append(_canonical_text(data, part))
    decoded = DG13Field(der.integer(data, parts[0]), tuple(values))
    object.__setattr__(decoded, "encoded", data[item[1] : item[3]])
    return decoded


def _canonical_text(data: bytes, item: der.Element) -> DG13Text:
    kind = _STRING_TYPES.get(item[0])
    if kind is None:
        raise der.Unusual
    try:
        return DG13Text(data[item[2] : item[3]].decode("utf-8"), kind)
    except UnicodeDecodeError as exc:
        raise der.Unusual from exc
