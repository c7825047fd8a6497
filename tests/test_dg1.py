"""DG1: byte-identical round trips of real specimen files, the CCCD layout, malformed input."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardlib.errors import CardlibError, DecodeError
from cardlib.lds.dg1 import DG1
from cardlib.model.mrz import MRZ

# Real CCCD MRZ from the shared docs (cccd-chip.md, "Card and MRZ").
CCCD_TEXT = "IDVNM0440092711001044009271<<2" "4407021M9912315VNM<<<<<<<<<<<4" "THANH<<QUANG<BAO<<<<<<<<<<<<<<"


@pytest.mark.parametrize("path", ["bsi2008/Datagroup1.bin", "loes2006/ef0101.bin"])
def test_specimen_dg1_reencodes_byte_identically(shared_data: Path, path: str) -> None:
    data = (shared_data / path).read_bytes()
    dg1 = DG1.decode(data)
    assert dg1.mrz.check_digit_errors() == []
    assert dg1.encode() == data


def test_bsi_specimen_holder(shared_data: Path) -> None:
    dg1 = DG1.decode((shared_data / "bsi2008/Datagroup1.bin").read_bytes())
    assert (dg1.mrz.primary_identifier, dg1.mrz.secondary_identifier) == ("MUSTERMANN", "ERIKA")


def test_cccd_td1_encoding() -> None:
    encoded = DG1(MRZ.parse(CCCD_TEXT)).encode()
    assert encoded[:5] == bytes.fromhex("615D5F1F5A")  # 90 MRZ characters, 93 bytes inside tag 61
    assert encoded[5:] == CCCD_TEXT.encode("ascii")
    assert DG1.decode(encoded).mrz.text == CCCD_TEXT


@pytest.mark.parametrize(
    ("data", "offset"),
    [
        (b"", 0),
        (bytes.fromhex("625D"), 0),  # wrong outer tag
        (bytes.fromhex("615D5F1F5A") + CCCD_TEXT.encode()[:-1], 0),  # outer length lies
        (bytes.fromhex("615D5F1E5A") + CCCD_TEXT.encode(), 2),  # wrong inner tag
        (bytes.fromhex("615D5F1F5A") + CCCD_TEXT.encode() + b"\x00", 95),  # trailing byte after file
        (bytes.fromhex("615E5F1F5A") + CCCD_TEXT.encode() + b"\x00", 95),  # trailing byte inside 61
        (bytes.fromhex("615D5F1F5A") + b"\xff" + CCCD_TEXT.encode()[1:], 5),  # not ASCII
        (bytes.fromhex("615D5F1F5A") + b"a" + CCCD_TEXT.encode()[1:], 5),  # not an MRZ character
        (bytes.fromhex("61065F1F03") + b"ABC", 5),  # no MRZ format has 3 characters
    ],
)
def test_malformed_dg1_raises_decode_error_naming_dg1(data: bytes, offset: int | None) -> None:
    with pytest.raises(DecodeError) as info:
        DG1.decode(data)
    assert info.value.file == "DG1"
    assert info.value.offset == offset


@settings(max_examples=200)
@given(st.one_of(st.binary(max_size=120), st.binary(max_size=100).map(lambda b: bytes.fromhex("615D5F1F5A") + b)))
def test_garbage_into_decode_raises_only_cardlib_errors(data: bytes) -> None:
    try:
        dg1 = DG1.decode(data)
    except CardlibError:
        return
    assert dg1.encode() == data
