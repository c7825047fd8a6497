"""The biometric information group template that DG2 (faces) and DG3 (fingers) share: ICAO 9303-10 §4.7.2-4.7.3.

Layout, the outer tag being the data group's (``75`` for DG2, ``63`` for DG3)::

    tag { 7F61 { 02 count,
                 7F60 { A1 { 80 version, 81 type, 82 subtype, 83 date, 85 validity, 86 creator,
                             87 format owner, 88 format type },
                        5F2E biometric data block (or 7F2E, constructed) } ... } }

This module walks that structure once for both data groups: :func:`encode_group` builds it from headers and
record bytes, :func:`decode_group` checks the count against the templates present (and a budget, before any
record is decoded) and hands back each template's header and data block; :func:`decode_block` runs a record
decoder over a block, its errors placed in the whole file.  The records themselves (ISO/IEC 19794-5 faces,
19794-4 fingers) belong to :mod:`cardlib.lds.dg2` and :mod:`cardlib.lds.dg3`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from cardlib.errors import DecodeError, EncodeError
from cardlib.lds.tlv import TLV, children, encode_tlv, find, read_single

TAG_BIT_GROUP = 0x7F61
TAG_BIT = 0x7F60
TAG_BHT = 0xA1
TAG_BDB = 0x5F2E
TAG_BDB_CONSTRUCTED = 0x7F2E
TAG_BIT_COUNT = 0x02

FORMAT_OWNER_ISO_SC37 = 0x0101
BIOMETRIC_TYPE_FACE = 0x02
FORMAT_TYPE_19794_5 = 0x0008
"""CBEFF biometric type "facial features" (ISO/IEC 19785-3) and its ICAO 9303-10 format type: a header's defaults."""

_R = TypeVar("_R")


@dataclass(frozen=True)
class BiometricHeader:
    """The biometric header template (ICAO 9303-10 Table 39) in front of each biometric record.

    Values other than the format owner/type are kept as raw bytes so that a decoded file re-encodes exactly.
    The defaults are those of a DG2 face (biometric type 02, ISO/IEC 19794-5, format type 0008).
    """

    format_owner: int = FORMAT_OWNER_ISO_SC37
    format_type: int = FORMAT_TYPE_19794_5
    version: bytes | None = None
    biometric_type: bytes | None = bytes([BIOMETRIC_TYPE_FACE])
    subtype: bytes | None = b"\x00"
    creation_date: bytes | None = None
    validity_period: bytes | None = None
    creator: bytes | None = None

    def encode(self) -> bytes:
        """The ``A1`` template, elements in tag order as ICAO 9303-10 lists them."""
        optional = ((0x80, self.version), (0x81, self.biometric_type), (0x82, self.subtype),
                    (0x83, self.creation_date), (0x85, self.validity_period), (0x86, self.creator))
        body = b"".join(encode_tlv(tag, value) for tag, value in optional if value is not None)
        body += encode_tlv(0x87, self.format_owner.to_bytes(2, "big"))
        body += encode_tlv(0x88, self.format_type.to_bytes(2, "big"))
        return encode_tlv(TAG_BHT, body)

    @classmethod
    def decode(cls, template: TLV, *, file: str = "DG2") -> BiometricHeader:
        """Read a decoded ``A1`` template of data group ``file``; format owner and type (87, 88) are mandatory."""
        elements = children(template, file=file)
        values = {obj.tag: obj.value for obj in elements}
        owner, kind = find(elements, 0x87), find(elements, 0x88)
        if owner is None or kind is None:
            raise DecodeError("format owner (87) and format type (88) are mandatory", file=file,
                              field="biometric header template", offset=template.offset)
        return cls(
            format_owner=int.from_bytes(owner.value, "big"),
            format_type=int.from_bytes(kind.value, "big"),
            version=values.get(0x80),
            biometric_type=values.get(0x81),
            subtype=values.get(0x82),
            creation_date=values.get(0x83),
            validity_period=values.get(0x85),
            creator=values.get(0x86),
        )


@dataclass(frozen=True)
class Template:
    """One biometric information template (7F60) as read: its header and its data block (5F2E or 7F2E)."""

    header: BiometricHeader
    block: TLV


def encode_group(tag: int, templates: Sequence[tuple[BiometricHeader, bytes]]) -> bytes:
    """The whole data group ``tag``: one 7F60 template per (header, record) pair, each record in a 5F2E block."""
    if len(templates) > 0xFF:
        raise EncodeError(f"{len(templates)} biometric templates do not fit a one-byte count")
    body = b"".join(encode_tlv(TAG_BIT, header.encode() + encode_tlv(TAG_BDB, record))
                    for header, record in templates)
    return encode_tlv(tag, encode_tlv(TAG_BIT_GROUP, encode_tlv(TAG_BIT_COUNT, bytes([len(templates)])) + body))


def decode_group(data: bytes, tag: int, *, file: str, check_count: Callable[[int], None],
                 block_tags: tuple[int, ...] = (TAG_BDB,)) -> list[Template]:
    """The templates of data group ``file`` (outer tag ``tag``): exactly one 7F61 whose one-byte count matches
    the 7F60 templates present, each with an A1 header and a data block of one of ``block_tags``.

    ``check_count`` is called with the number of templates before any is decoded (it raises LimitExceeded
    over the data group's budget).  Errors name the field and the offset within the file.
    """
    outer = read_single(data, tag, file=file)
    elements = children(outer, file=file)
    if len(elements) != 1 or elements[0].tag != TAG_BIT_GROUP:
        raise DecodeError(f"exactly one {TAG_BIT_GROUP:X} expected", file=file,
                          field="biometric information group template", offset=outer.offset)
    group = children(elements[0], file=file)
    count = find(group, TAG_BIT_COUNT)
    if count is None or len(count.value) != 1:
        raise DecodeError("one-byte template count (02) expected", file=file, field="count",
                          offset=elements[0].offset)
    found = [obj for obj in group if obj.tag == TAG_BIT]
    if count.value[0] != len(found):
        raise DecodeError(f"count says {count.value[0]} templates, {len(found)} present", file=file,
                          field="count", offset=count.offset)
    check_count(len(found))
    return [_template(obj, file, block_tags) for obj in found]


def _template(template: TLV, file: str, block_tags: tuple[int, ...]) -> Template:
    elements = children(template, file=file)
    bht = find(elements, TAG_BHT)
    if bht is None:
        raise DecodeError("biometric header template (A1) missing", file=file, offset=template.offset)
    header = BiometricHeader.decode(bht, file=file)
    block = next((found for tag in block_tags if (found := find(elements, tag)) is not None), None)
    if block is None:
        names = " or ".join(f"{tag:X}" for tag in block_tags)
        raise DecodeError(f"biometric data block ({names}) missing", file=file, offset=template.offset)
    return Template(header, block)


def decode_block(template: Template, decode: Callable[[bytes], list[_R]], *, file: str) -> list[_R]:
    """``decode`` over the template's data block; its DecodeError placed in ``file`` at the offset in the file."""
    try:
        return decode(template.block.value)
    except DecodeError as error:
        raise error.within(file=file, field="biometric data block",
                           base=template.block.offset + template.block.header_length) from None


__all__ = [
    "BIOMETRIC_TYPE_FACE",
    "FORMAT_OWNER_ISO_SC37",
    "FORMAT_TYPE_19794_5",
    "TAG_BDB",
    "TAG_BDB_CONSTRUCTED",
    "TAG_BHT",
    "TAG_BIT",
    "TAG_BIT_COUNT",
    "TAG_BIT_GROUP",
    "BiometricHeader",
    "Template",
    "decode_block",
    "decode_group",
    "encode_group",
]
