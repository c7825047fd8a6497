"""The size a file declares in its first bytes (reader.files.declared_size), read by the one TLV header parser."""

from __future__ import annotations

import pytest

from cardlib.errors import DecodeError
from cardlib.lds.tlv import encode_tlv
from cardlib.reader.files import declared_size

# (file, header length): a DG14 of 396 bytes, a 300-byte object with a two-byte tag, EF.COM (ICAO 9303-11 D.4).
FILES = [(encode_tlv(0x6E, bytes(392)), 4), (encode_tlv(0x7F61, bytes(300)), 5),
         (bytes.fromhex("60145F0104303130365F36063034303030305C026175"), 2)]


@pytest.mark.parametrize(("data", "header"), FILES)
def test_size_once_the_header_is_there(data: bytes, header: int) -> None:
    for cut in range(9):
        assert declared_size(data[:cut]) == (len(data) if cut >= header else None)


@pytest.mark.parametrize(("head", "offset"), [
    ("6E80", 1),                # indefinite length
    ("6E850000000100", 1),      # five length octets
    ("5F9F8080800105", 5),      # a tag running past four bytes: no chip file, an error at once
])
def test_header_no_bytes_can_mend_is_an_error(head: str, offset: int) -> None:
    with pytest.raises(DecodeError) as info:
        declared_size(bytes.fromhex(head))
    assert info.value.offset == offset
