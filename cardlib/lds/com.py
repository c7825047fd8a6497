"""EF.COM: the LDS version, the Unicode version and the list of data groups present (ICAO 9303-10 §4.6.1).

::

    60 L
      5F01 04 "0107"       -- LDS version aabb (LDS 1.7)
      5F36 06 "040000"     -- Unicode version aabbcc
      5C   n  61 75 ...    -- tag list: the outer tag of every data group present
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from cardlib.errors import DecodeError, EncodeError
from cardlib.lds.files import EF_COM, dg_number_for_tag, dg_tag
from cardlib.lds.tlv import TLV, children, encode_tlv, read_single

TAG_EF_COM = 0x60
TAG_LDS_VERSION = 0x5F01
TAG_UNICODE_VERSION = 0x5F36
TAG_TAG_LIST = 0x5C
_FILE = EF_COM.name
_VERSION_DIGITS = {TAG_LDS_VERSION: 4, TAG_UNICODE_VERSION: 6}
_FIELD_NAMES = {TAG_LDS_VERSION: "LDS version", TAG_UNICODE_VERSION: "Unicode version", TAG_TAG_LIST: "tag list"}
# Distinct EF.COM files whose decoding is kept: every card of a batch carries the same one.
_DECODED_CACHE_SIZE = 16


@dataclass(frozen=True)
class EFCOM:
    """The decoded EF.COM; ``data_groups`` keeps the order of the tag list so re-encoding is byte-identical."""

    lds_version: str = "0107"
    unicode_version: str = "040000"
    data_groups: tuple[int, ...] = ()

    def encode(self) -> bytes:
        """The whole file, outer tag 60 included."""
        _check_digits(self.lds_version, 4, "LDS version")
        _check_digits(self.unicode_version, 6, "Unicode version")
        try:
            tag_list = bytes(dg_tag(number) for number in self.data_groups)
        except KeyError as exc:
            raise EncodeError(f"EF.COM: no data group {exc.args[0]} in LDS (1-16)") from None
        body = (
            encode_tlv(TAG_LDS_VERSION, self.lds_version.encode("ascii"))
            + encode_tlv(TAG_UNICODE_VERSION, self.unicode_version.encode("ascii"))
            + encode_tlv(TAG_TAG_LIST, tag_list)
        )
        return encode_tlv(TAG_EF_COM, body)

    @classmethod
    def decode(cls, data: bytes) -> EFCOM:
        """Parse EF.COM; DecodeError names the field and offset of anything malformed or missing.

        A batch's cards all carry the same EF.COM, so each distinct file (by its exact bytes) is decoded once;
        the result is immutable.
        """
        return _decode(bytes(data))

    @property
    def lds_version_text(self) -> str:
        """The LDS version as people write it (``"0107"`` → ``"1.7"``)."""
        return f"{int(self.lds_version[:2])}.{int(self.lds_version[2:])}"

    @property
    def unicode_version_text(self) -> str:
        """The Unicode version as people write it (``"040000"`` → ``"4.0.0"``)."""
        parts = (self.unicode_version[i : i + 2] for i in (0, 2, 4))
        return ".".join(str(int(part)) for part in parts)


@lru_cache(maxsize=_DECODED_CACHE_SIZE)
def _decode(data: bytes) -> EFCOM:
    outer = read_single(data, TAG_EF_COM, file=_FILE)
    objects = children(outer, file=_FILE)
    tags = [obj.tag for obj in objects]
    if tags != [TAG_LDS_VERSION, TAG_UNICODE_VERSION, TAG_TAG_LIST]:
        found = " ".join(f"{tag:X}" for tag in tags)
        raise DecodeError(f"expected data objects 5F01 5F36 5C, found {found or 'none'}", file=_FILE,
                          offset=outer.header_length)
    lds_version, unicode_version, tag_list = objects
    return EFCOM(
        _decode_version(lds_version),
        _decode_version(unicode_version),
        tuple(_decode_tag(tag, tag_list.offset + tag_list.header_length + index)
              for index, tag in enumerate(tag_list.value)),
    )


def _check_digits(value: str, digits: int, field: str) -> None:
    if len(value) != digits or not value.isascii() or not value.isdigit():
        raise EncodeError(f"EF.COM {field} must be {digits} ASCII digits, got {value!r}")


def _decode_version(obj: TLV) -> str:
    field = _FIELD_NAMES[obj.tag]
    digits = _VERSION_DIGITS[obj.tag]
    text = obj.value.decode("ascii", errors="replace")
    if len(obj.value) != digits or not text.isdigit() or not text.isascii():
        raise DecodeError(f"must be {digits} ASCII digits, got {obj.value.hex().upper()}", file=_FILE,
                          field=field, offset=obj.offset)
    return text


def _decode_tag(tag: int, offset: int) -> int:
    try:
        return dg_number_for_tag(tag, file=_FILE)
    except DecodeError as exc:
        raise DecodeError(exc.reason, file=_FILE, field="tag list", offset=offset) from None
