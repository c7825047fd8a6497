"""BER-TLV as used by ICAO 9303 LDS files and ISO 7816-4 APDU data objects.

Tags are kept as the integer of their raw bytes (``0x5F1F``, ``0x7F61``), as the standard writes
them.  Lengths use the definite forms only (short, ``81``, ``82``, ``83``, ``84``).  Every bound is
checked: a length that runs past the end of its container raises :class:`DecodeError` with the offset
of the offending header, never an ``IndexError``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from cardlib.errors import DecodeError, EncodeError

MAX_LENGTH_OCTETS = 4


class TruncatedError(DecodeError):
    """The data ends inside a tag or a length: more bytes could complete the header (a reader that has read only a
    file's first bytes then asks for more, where any other malformed header is an error)."""


@dataclass(frozen=True, slots=True)
class TLV:
    """One decoded data object: its tag, value, and where it sat in the buffer it came from."""

    tag: int
    value: bytes
    offset: int
    header_length: int

    @property
    def end(self) -> int:
        """Offset just past this object in the enclosing buffer."""
        return self.offset + self.header_length + len(self.value)

    @property
    def constructed(self) -> bool:
        """True when bit 6 of the first tag byte marks the value as nested data objects."""
        return bool(tag_bytes(self.tag)[0] & 0x20)

    def encode(self) -> bytes:
        """The object's bytes again, in minimal definite-length form."""
        return encode_tlv(self.tag, self.value)


def tag_bytes(tag: int) -> bytes:
    """The raw bytes of an integer tag (``0x5F1F`` → ``b'\\x5f\\x1f'``)."""
    if tag < 0:
        raise EncodeError(f"negative tag {tag}")
    return tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")


def encode_length(length: int) -> bytes:
    """DER/BER definite length octets for ``length``."""
    if length < 0:
        raise EncodeError(f"negative length {length}")
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    if len(raw) > MAX_LENGTH_OCTETS:
        raise EncodeError(f"length {length} does not fit in {MAX_LENGTH_OCTETS} length octets")
    return bytes([0x80 | len(raw)]) + raw


def encode_tlv(tag: int, value: bytes) -> bytes:
    """Tag, length and value as one data object."""
    return tag_bytes(tag) + encode_length(len(value)) + value


def _read_tag(data: bytes, pos: int, end: int, file: str | None) -> tuple[int, int]:
    if pos >= end:
        raise TruncatedError("truncated: tag expected", file=file, offset=pos)
    first = data[pos]
    tag = first
    pos += 1
    if first & 0x1F == 0x1F:
        while True:
            if pos >= end:
                raise TruncatedError("truncated inside a multi-byte tag", file=file, offset=pos)
            byte = data[pos]
            tag = (tag << 8) | byte
            pos += 1
            if not byte & 0x80:
                break
            if tag > 0xFFFFFFFF:
                raise DecodeError("tag longer than 4 bytes", file=file, offset=pos)
    return tag, pos


def _read_length(data: bytes, pos: int, end: int, file: str | None) -> tuple[int, int]:
    if pos >= end:
        raise TruncatedError("truncated: length expected", file=file, offset=pos)
    first = data[pos]
    pos += 1
    if first < 0x80:
        return first, pos
    count = first & 0x7F
    if count == 0:
        raise DecodeError("indefinite length is not allowed", file=file, offset=pos - 1)
    if count > MAX_LENGTH_OCTETS:
        raise DecodeError(f"length uses {count} octets (at most {MAX_LENGTH_OCTETS})", file=file, offset=pos - 1)
    if pos + count > end:
        raise TruncatedError("truncated inside a length", file=file, offset=pos - 1)
    return int.from_bytes(data[pos : pos + count], "big"), pos + count


def read_header(
    data: bytes, offset: int = 0, end: int | None = None, *, file: str | None = None
) -> tuple[int, int, int]:
    """(tag, length, header length) of the data object starting at ``offset``, whose header must end by ``end``
    (default: buffer end); its value is not looked at.  :class:`TruncatedError` when the data ends inside the
    header."""
    limit = len(data) if end is None else end
    tag, pos = _read_tag(data, offset, limit, file)
    length, pos = _read_length(data, pos, limit, file)
    return tag, length, pos - offset


def read_tlv(data: bytes, offset: int = 0, end: int | None = None, *, file: str | None = None) -> TLV:
    """Decode the data object starting at ``offset``; the object must end by ``end`` (default: buffer end)."""
    start, stop, tag = _extent(data, offset, len(data) if end is None else end, file)
    return TLV(tag, bytes(data[start:stop]), offset, start - offset)


def _extent(data: bytes, offset: int, limit: int, file: str | None) -> tuple[int, int, int]:
    """(value start, value end, tag) of the data object at ``offset``, which must end by ``limit``."""
    if offset + 2 <= limit and data[offset] & 0x1F != 0x1F and data[offset + 1] < 0x80:
        tag, length, header = data[offset], data[offset + 1], 2  # one-byte tag, short length: most objects
    else:
        tag, length, header = read_header(data, offset, limit, file=file)
    pos = offset + header
    if pos + length > limit:
        raise DecodeError(
            f"tag {tag:X} claims {length} bytes but only {limit - pos} remain", file=file, offset=offset
        )
    return pos, pos + length, tag


def iter_tlvs(data: bytes, *, file: str | None = None, base: int = 0) -> Iterator[TLV]:
    """Decode consecutive data objects filling ``data`` exactly.

    ``base`` is added to reported offsets, so errors inside a nested value point into the whole file.
    """
    pos, limit = 0, len(data)
    while pos < limit:
        try:
            start, stop, tag = _extent(data, pos, limit, file)
        except DecodeError as exc:
            raise exc.within(base=base) from None
        yield TLV(tag, bytes(data[start:stop]), pos + base, start - pos)
        pos = stop


def read_single(data: bytes, expected_tag: int, *, file: str) -> TLV:
    """Decode a whole file that must be exactly one data object with ``expected_tag``."""
    obj = read_tlv(data, 0, file=file)
    if obj.tag != expected_tag:
        raise DecodeError(f"outer tag {obj.tag:X}, expected {expected_tag:X}", file=file, offset=0)
    if obj.end != len(data):
        raise DecodeError(f"{len(data) - obj.end} trailing bytes after the data object", file=file, offset=obj.end)
    return obj


def children(parent: TLV, *, file: str | None = None) -> list[TLV]:
    """The nested data objects of a constructed object, offsets relative to the enclosing buffer."""
    return list(iter_tlvs(parent.value, file=file, base=parent.offset + parent.header_length))


def find(objects: list[TLV], tag: int) -> TLV | None:
    """The first object with ``tag`` in ``objects``, or None."""
    return next((obj for obj in objects if obj.tag == tag), None)
