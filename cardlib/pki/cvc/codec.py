"""The elements of a CV certificate below the structure (BSI TR-03110-3 Appendix C, D.2): tags, dates,
certification authority and holder references, OIDs, and the checks every element reader shares.

Each reader raises a :class:`~cardlib.errors.DecodeError` naming the element and its offset.
"""

from __future__ import annotations

from datetime import date

from asn1crypto.core import ObjectIdentifier

from cardlib.errors import DecodeError, EncodeError
from cardlib.lds.tlv import TLV, children, encode_tlv

FILE = "CV certificate"  # the file every DecodeError of this package names

TAG_CV_CERTIFICATE = 0x7F21
TAG_BODY = 0x7F4E
TAG_PROFILE_ID = 0x5F29
TAG_CAR = 0x42
TAG_PUBLIC_KEY = 0x7F49
TAG_CHR = 0x5F20
TAG_CHAT = 0x7F4C
TAG_EFFECTIVE_DATE = 0x5F25
TAG_EXPIRATION_DATE = 0x5F24
TAG_EXTENSIONS = 0x65
TAG_SIGNATURE = 0x5F37
TAG_OID = 0x06
TAG_DISCRETIONARY_DATA = 0x53
TAG_DISCRETIONARY_TEMPLATE = 0x73

PROFILE_VERSION_1 = 0x00
REFERENCE_MIN, REFERENCE_MAX = 8, 16  # country (2) + mnemonic (up to 9) + sequence number (5); CHR up to 16


def encode_date(day: date) -> bytes:
    """YYMMDD as six unpacked BCD digits (TR-03110-3 D.2.1.3), years 2000-2099."""
    if not 2000 <= day.year <= 2099:
        raise EncodeError(f"CV certificate dates are 2000-2099, got {day.isoformat()}")
    return bytes(int(digit) for digit in day.strftime("%y%m%d"))


def decode_date(obj: TLV, name: str) -> date:
    """A six-digit unpacked BCD date; DecodeError for other lengths, non-digits or impossible dates."""
    if len(obj.value) != 6 or any(digit > 9 for digit in obj.value):
        raise DecodeError("a date is six unpacked BCD digits YYMMDD", file=FILE, field=name, offset=obj.offset)
    digits = obj.value
    year, month, day = (10 * digits[i] + digits[i + 1] for i in (0, 2, 4))
    try:
        return date(2000 + year, month, day)
    except ValueError:
        raise DecodeError(f"20{year:02d}-{month:02d}-{day:02d} is not a date", file=FILE, field=name,
                          offset=obj.offset) from None


def encode_reference(reference: str, name: str) -> bytes:
    """The bytes of a CAR/CHR, after :func:`check_reference`."""
    check_reference(reference, name)
    return reference.encode("latin-1")


def check_reference(reference: str, name: str) -> None:
    """A CAR/CHR: 8 to 16 printable ISO 8859-1 characters, starting with an upper-case country code."""
    if not REFERENCE_MIN <= len(reference) <= REFERENCE_MAX or not reference.isprintable() \
            or not reference[:2].isalpha() or not reference[:2].isupper() or not reference.isascii():
        raise EncodeError(f"{name} {reference!r}: 8 to 16 printable characters starting with a country code")


def decode_reference(obj: TLV, name: str) -> str:
    """A CAR/CHR element as text; DecodeError when it is not a valid reference."""
    text = obj.value.decode("latin-1")
    try:
        check_reference(text, name)
    except EncodeError as error:
        raise DecodeError(str(error), file=FILE, field=name, offset=obj.offset) from None
    return text


def encode_oid(oid: str) -> bytes:
    """The content octets of the OBJECT IDENTIFIER ``oid``."""
    return bytes(ObjectIdentifier(oid).contents)


def decode_oid(obj: TLV, name: str) -> str:
    """An OBJECT IDENTIFIER element in dotted form; DecodeError when empty, truncated or malformed."""
    try:
        if not obj.value or obj.value[-1] & 0x80:
            raise ValueError("truncated")
        return str(ObjectIdentifier.load(encode_tlv(TAG_OID, obj.value)).dotted)
    except (ValueError, TypeError, OverflowError):
        raise DecodeError("malformed OBJECT IDENTIFIER", file=FILE, field=name, offset=obj.offset) from None


def unsigned_bytes(value: int) -> bytes:
    """``value`` big-endian in as few bytes as hold it (at least one): an unsigned integer element."""
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def unique_elements(elements: list[TLV], name: str) -> dict[int, TLV]:
    """``elements`` by tag; DecodeError when a tag is given twice."""
    values: dict[int, TLV] = {}
    for obj in elements:
        if obj.tag in values:
            raise DecodeError(f"element {obj.tag:X} given twice", file=FILE, field=name, offset=obj.offset)
        values[obj.tag] = obj
    return values


def exactly(parent: TLV, tags: tuple[int, ...], name: str) -> list[TLV]:
    """The children of ``parent``, which must be exactly ``tags`` in that order."""
    elements = children(parent, file=FILE)
    if tuple(obj.tag for obj in elements) != tags:
        raise DecodeError(f"expected elements {' '.join(f'{tag:X}' for tag in tags)}", file=FILE, field=name,
                          offset=parent.offset)
    return elements




__all__ = [
    "FILE",
    "PROFILE_VERSION_1",
    "REFERENCE_MAX",
    "REFERENCE_MIN",
    "TAG_BODY",
    "TAG_CAR",
    "TAG_CHAT",
    "TAG_CHR",
    "TAG_CV_CERTIFICATE",
    "TAG_DISCRETIONARY_DATA",
    "TAG_DISCRETIONARY_TEMPLATE",
    "TAG_EFFECTIVE_DATE",
    "TAG_EXPIRATION_DATE",
    "TAG_EXTENSIONS",
    "TAG_OID",
    "TAG_PROFILE_ID",
    "TAG_PUBLIC_KEY",
    "TAG_SIGNATURE",
    "check_reference",
    "decode_date",
    "decode_oid",
    "decode_reference",
    "encode_date",
    "encode_oid",
    "encode_reference",
    "exactly",
    "unique_elements",
    "unsigned_bytes",
]
