"""DG1: the MRZ on the chip (ICAO 9303-10 §4.7.1): ``61 L 5F1F L <MRZ characters>``.

The MRZ is stored as its lines concatenated, without separators, in ASCII.
"""

from __future__ import annotations

from dataclasses import dataclass

from cardlib.errors import DecodeError
from cardlib.lds.files import dg_tag
from cardlib.lds.tlv import encode_tlv, read_single, read_tlv
from cardlib.model.mrz import MRZ

FILE = "DG1"
TAG = dg_tag(1)
MRZ_TAG = 0x5F1F


@dataclass(frozen=True)
class DG1:
    """Data group 1: the holder's machine readable zone."""

    mrz: MRZ

    def encode(self) -> bytes:
        """The whole DG1 file, outer tag included."""
        return encode_tlv(TAG, encode_tlv(MRZ_TAG, self.mrz.text.encode("ascii")))

    @classmethod
    def decode(cls, data: bytes) -> DG1:
        """Parse a DG1 file; malformed TLV, a wrong inner tag or non-MRZ text raise DecodeError naming DG1."""
        outer = read_single(data, TAG, file=FILE)
        start = outer.offset + outer.header_length
        inner = read_tlv(data, start, outer.end, file=FILE)
        if inner.tag != MRZ_TAG:
            raise DecodeError(f"tag {inner.tag:X}, expected 5F1F", file=FILE, field="MRZ", offset=start)
        if inner.end != outer.end:
            raise DecodeError("trailing bytes after the MRZ", file=FILE, offset=inner.end)
        value_offset = inner.offset + inner.header_length
        try:
            text = inner.value.decode("ascii")
        except UnicodeDecodeError as exc:
            raise DecodeError("MRZ is not ASCII", file=FILE, field="MRZ", offset=value_offset + exc.start) from None
        if text != "".join(text.split()):
            raise DecodeError("MRZ contains white space", file=FILE, field="MRZ", offset=value_offset)
        try:
            return cls(MRZ.parse(text))
        except DecodeError as exc:
            offset = value_offset + (exc.offset or 0)
            raise DecodeError(exc.reason, file=FILE, field="MRZ", offset=offset) from None
