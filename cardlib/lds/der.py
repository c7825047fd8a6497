"""A walker over canonical DER, for the fast paths of the LDS codecs that a batch runs on every card.

asn1crypto builds an object per element and is the general decoder (BER lengths, every CHOICE, every
optional field); on a Document Security Object that is most of the cost of passive authentication beyond the
cryptography.  A fast path reads the common, canonical shape of a file with these index-based helpers and
*declines* (:class:`Unusual`) at anything else — a long or indefinite length, a tag it does not expect, an
element too many — so that the general decoder then decides, with its own results and error messages.  A fast
path therefore never accepts bytes the general decoder refuses, nor reads them differently: the tests compare
both on genuine files and on mutations of them.
"""

from __future__ import annotations

from functools import lru_cache

from asn1crypto import core

# Identifier octets of the universal types the fast paths read.
BOOLEAN, INTEGER, OCTET_STRING, NULL, OID = 0x01, 0x02, 0x04, 0x05, 0x06
PRINTABLE_STRING, UTC_TIME, GENERALIZED_TIME = 0x13, 0x17, 0x18
SEQUENCE, SET = 0x30, 0x31
# Lengths up to 2^24 - 1: far beyond any LDS file (cardlib.limits.MAX_FILE_BYTES).
_MAX_LENGTH_OCTETS = 3
# Distinct OIDs whose dotted form is kept: a handful per file kind.
_OID_CACHE_SIZE = 256

Element = tuple[int, int, int, int]
"""One element: (identifier octet, offset of its first byte, offset of its contents, offset past its end)."""


class Unusual(Exception):
    """Raised by a fast path at anything outside the canonical shape it reads."""


def element(data: bytes, pos: int, end: int, identifier: int) -> tuple[int, int]:
    """(contents start, contents end) of the element at ``pos`` with identifier octet ``identifier``, which
    must end by ``end`` and have a minimal definite length."""
    if pos >= end or data[pos] != identifier:
        raise Unusual
    return _extent(data, pos, end)


def _extent(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """(contents start, contents end) of the element whose identifier octet is at ``pos``."""
    if pos + 2 > end:
        raise Unusual
    length = data[pos + 1]
    pos += 2
    if length >= 0x80:
        count = length - 0x80
        if not 0 < count <= _MAX_LENGTH_OCTETS or pos + count > end or data[pos] == 0:
            raise Unusual
        length = int.from_bytes(data[pos : pos + count], "big")
        if length < 0x80:
            raise Unusual
        pos += count
    stop = pos + length
    if stop > end:
        raise Unusual
    return pos, stop


def elements(data: bytes, start: int, stop: int) -> list[Element]:
    """Every element filling ``data[start:stop]`` exactly, each with a one-octet tag."""
    found = []
    while start < stop:
        identifier = data[start]
        if identifier & 0x1F == 0x1F or start + 2 > stop:
            raise Unusual
        if data[start + 1] < 0x80:  # the short form, most elements: read here, without a call
            begin = start + 2
            end = begin + data[start + 1]
            if end > stop:
                raise Unusual
        else:
            begin, end = _extent(data, start, stop)
        found.append((identifier, start, begin, end))
        start = end
    return found


def shaped(data: bytes, start: int, stop: int, *identifiers: int) -> list[Element]:
    """The elements filling ``data[start:stop]``, which must have exactly ``identifiers``, in order."""
    found = elements(data, start, stop)
    if tuple(item[0] for item in found) != identifiers:
        raise Unusual
    return found


def single(data: bytes, parent: Element, identifier: int | None = None) -> Element:
    """The one element inside constructed ``parent`` (with identifier octet ``identifier`` when given)."""
    found = elements(data, parent[2], parent[3])
    if len(found) != 1 or (identifier is not None and found[0][0] != identifier):
        raise Unusual
    return found[0]


def contents(data: bytes, item: Element) -> bytes:
    """The contents octets of ``item``."""
    return data[item[2] : item[3]]


def integer(data: bytes, item: Element) -> int:
    """An INTEGER's value, read as asn1crypto reads it (two's complement); an empty one is unusual."""
    if item[0] != INTEGER or item[2] == item[3]:
        raise Unusual
    return int.from_bytes(data[item[2] : item[3]], "big", signed=True)


def dotted(data: bytes, item: Element) -> str:
    """An OBJECT IDENTIFIER in dotted form, as asn1crypto reads it (cached by its exact bytes)."""
    if item[0] != OID:
        raise Unusual
    return dotted_oid(data[item[1] : item[3]])


@lru_cache(maxsize=_OID_CACHE_SIZE)
def dotted_oid(der: bytes) -> str:
    """A whole OBJECT IDENTIFIER (tag, length, contents) in dotted form, cached by its exact bytes;
    :class:`Unusual` when asn1crypto cannot read it."""
    try:
        value: str = core.ObjectIdentifier.load(der).dotted
    except (ValueError, TypeError) as exc:
        raise Unusual from exc
    return value
