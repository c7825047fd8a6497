"""The canonical-DER reading of DG13 against the general BER-TLV one: on the DG13 of every sample resident and
on hostile mutations of them, the very same DG13 (fields, texts, string types, exact encodings) or a decline,
after which the general reading decides and names the offset of what is wrong."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from mutations import mutated

from cardlib.errors import DecodeError
from cardlib.lds import der
from cardlib.lds.dg13 import DG13, _decode_canonical
from cardlib.lds.tlv import encode_tlv
from cardlib.testing.cards import sample_resident

BASES = [DG13.from_resident(sample_resident(index)).encode() for index in range(6)]


def general(data: bytes) -> DG13 | str:
    """The general reading alone: the DG13, or its DecodeError's text."""
    try:
        return DG13._decode_general(data)
    except DecodeError as error:
        return str(error)


def assert_agrees(data: bytes) -> DG13 | None:
    """The canonical reading declines, or gives what the general one gives, encodings included."""
    try:
        fast = _decode_canonical(data)
    except der.Unusual:
        return None
    slow = general(data)
    assert not isinstance(slow, str), slow
    assert fast == slow
    assert fast.encode() == slow.encode() == data
    assert [entry.encode() for entry in fast.entries] == [entry.encode() for entry in slow.entries]
    assert DG13.decode(data) == fast
    return fast


@pytest.mark.parametrize("index", range(len(BASES)))
def test_cardlib_dg13_takes_the_canonical_reading(index: int) -> None:
    assert assert_agrees(BASES[index]) is not None


def test_non_canonical_lengths_take_the_general_reading() -> None:
    body = bytes.fromhex("020101 060628D316010008") + encode_tlv(0x31, bytes.fromhex("3005 020101 0C00"))
    long_form = bytes.fromhex("6D81") + bytes([len(body) + 2]) + bytes.fromhex("30") + bytes([len(body)]) + body
    assert assert_agrees(long_form) is None
    decoded = DG13.decode(long_form)
    assert decoded.text(1) == ""
    assert decoded.encode() == long_form


def test_bad_utf8_is_declined_and_named_by_the_general_reading() -> None:
    raw = bytearray(BASES[0])
    raw[raw.index(b"\x0c") + 2] = 0xFF
    assert assert_agrees(bytes(raw)) is None
    with pytest.raises(DecodeError, match="not valid UTF-8"):
        DG13.decode(bytes(raw))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated(BASES))
def test_mutated_dg13_agrees_or_declines(data: bytes) -> None:
    assert_agrees(data)
