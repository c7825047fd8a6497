"""BER-TLV codec: ICAO examples, bounds checking, property tests."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardlib.errors import DecodeError
from cardlib.lds.tlv import (
    TLV,
    TruncatedError,
    children,
    encode_length,
    encode_tlv,
    iter_tlvs,
    read_header,
    read_single,
    read_tlv,
)

# EF.COM from ICAO 9303-11 App. D.4 (shared/docs/icao-vectors.md §2.2).
EF_COM = bytes.fromhex("60145F0104303130365F36063034303030305C026175")


def test_icao_ef_com_structure() -> None:
    outer = read_single(EF_COM, 0x60, file="EF.COM")
    inner = children(outer)
    assert [(obj.tag, obj.value, obj.offset) for obj in inner] == [
        (0x5F01, b"0106", 2), (0x5F36, b"040000", 9), (0x5C, b"\x61\x75", 18)]
    assert outer.constructed and not inner[0].constructed
    assert outer.encode() == EF_COM


@pytest.mark.parametrize(("length", "octets"), [(0, "00"), (127, "7f"), (128, "8180"), (255, "81ff"),
                                                (256, "820100"), (65536, "83010000")])
def test_length_forms(length: int, octets: str) -> None:
    assert encode_length(length).hex() == octets
    obj = read_tlv(encode_tlv(0x04, bytes(length)))
    assert len(obj.value) == length


def test_length_that_lies_names_offset() -> None:
    with pytest.raises(DecodeError, match=r"EF\.COM, offset 0: tag 60 claims 20 bytes but only 19 remain"):
        read_single(EF_COM[:-1], 0x60, file="EF.COM")


def test_nested_error_offset_points_into_the_file() -> None:
    broken = bytes.fromhex("6006") + bytes.fromhex("5F0104303130")  # inner claims 4 bytes, 3 remain
    outer = read_tlv(broken)
    with pytest.raises(DecodeError) as info:
        children(outer, file="EF.COM")
    assert info.value.offset == 2


@pytest.mark.parametrize("data", ["", "5f", "5f1f", "0180", "0185000000000000", "028101", "6003"])
def test_malformed_inputs(data: str) -> None:
    with pytest.raises(DecodeError):
        read_tlv(bytes.fromhex(data))


def test_trailing_bytes_and_wrong_tag() -> None:
    with pytest.raises(DecodeError, match="trailing"):
        read_single(EF_COM + b"\x00", 0x60, file="EF.COM")
    with pytest.raises(DecodeError, match="expected 61"):
        read_single(EF_COM, 0x61, file="DG1")


@settings(max_examples=200)
@given(st.lists(st.tuples(st.sampled_from([0x02, 0x30, 0x5F1F, 0x7F61, 0x5C, 0xA1]), st.binary(max_size=300)),
                max_size=5))
def test_round_trip(objects: list[tuple[int, bytes]]) -> None:
    data = b"".join(encode_tlv(tag, value) for tag, value in objects)
    assert [(obj.tag, obj.value) for obj in iter_tlvs(data)] == objects


@settings(max_examples=300)
@given(st.binary(max_size=64))
def test_garbage_raises_only_decode_errors(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        list(iter_tlvs(data))


@pytest.mark.parametrize(("data", "header"), [
    ("6014", (0x60, 20, 2)), ("5F1F8201F4", (0x5F1F, 500, 5)), ("7F618400010000AA", (0x7F61, 65536, 7)),
    ("04", None), ("5F", None), ("5F9F", None), ("7F6182", None), ("7F618201", None), ("", None),
])
def test_header_alone(data: str, header: tuple[int, int, int] | None) -> None:
    """The header is read without its value; data ending inside it is a TruncatedError, a DecodeError too."""
    if header is not None:
        assert read_header(bytes.fromhex(data)) == header
        return
    with pytest.raises(TruncatedError):
        read_header(bytes.fromhex(data))
    with pytest.raises(DecodeError, match="truncated"):
        read_tlv(bytes.fromhex(data))


@pytest.mark.parametrize(("data", "offset"), [("0480", 1), ("048500000000", 1), ("5F9F80808001", 5)])
def test_malformed_header_is_not_truncated(data: str, offset: int) -> None:
    """Indefinite or over-long lengths and tags over 4 bytes are errors no further bytes could mend."""
    with pytest.raises(DecodeError) as info:
        read_header(bytes.fromhex(data))
    assert not isinstance(info.value, TruncatedError)
    assert info.value.offset == offset


@settings(max_examples=300)
@given(st.binary(max_size=12), st.integers(0, 12), st.integers(0, 12))
def test_read_tlv_is_its_header_and_value(data: bytes, offset: int, end: int) -> None:
    """read_tlv (with its one-byte-tag, short-length shortcut) agrees with read_header plus the bounds check."""
    if offset > len(data) or end > len(data):
        return
    try:
        tag, length, header_length = read_header(data, offset, end)
    except DecodeError as error:
        with pytest.raises(DecodeError) as info:
            read_tlv(data, offset, end)
        assert str(info.value) == str(error)
        return
    if offset + header_length + length > end:
        with pytest.raises(DecodeError, match="claims"):
            read_tlv(data, offset, end)
        return
    start = offset + header_length
    assert read_tlv(data, offset, end) == TLV(tag, data[start : start + length], offset, header_length)
