"""EF.COM codec: ICAO worked example, the BSI 2008 and LOES 2006 specimens, properties."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardlib.errors import DecodeError, EncodeError
from cardlib.lds.com import EFCOM

# ICAO 9303-11 App. D.4: the EF.COM read over secure messaging in the worked example.
ICAO_EF_COM = bytes.fromhex("60145F0104303130365F36063034303030305C026175")


def test_icao_worked_example_lists_dg1_and_dg2() -> None:
    com = EFCOM.decode(ICAO_EF_COM)
    assert com == EFCOM("0106", "040000", (1, 2))
    assert com.lds_version_text == "1.6"
    assert com.unicode_version_text == "4.0.0"
    assert com.encode() == ICAO_EF_COM


@pytest.mark.parametrize(("path", "groups"), [
    ("bsi2008/EF_COM.bin", (1, 2, 3, 14)),
    ("loes2006/ef011E.bin", (1, 2, 15)),
])
def test_specimens_decode_and_reencode_byte_identically(shared_data: Path, path: str, groups: tuple[int, ...]) -> None:
    raw = (shared_data / path).read_bytes()
    com = EFCOM.decode(raw)
    assert com.lds_version == "0107"
    assert com.data_groups == groups
    assert com.encode() == raw


def test_cccd_default_versions() -> None:
    com = EFCOM(data_groups=(1, 2, 3, 13, 14, 15))
    assert com.encode() == bytes.fromhex("60185F0104303130375F36063034303030305C06617563 6D6E6F".replace(" ", ""))


@pytest.mark.parametrize(("data", "field", "offset"), [
    (bytes.fromhex("60145F0104303130365F36063034303030305C026177"), "tag list", 21),   # 77 is EF.SOD, no DG
    (bytes.fromhex("60145F01043031304A5F36063034303030305C026175"), "LDS version", 2),  # non-digit
    (bytes.fromhex("600B5F0104303130365C026175"), None, 2),                          # 5F36 missing
])
def test_bad_content_names_field_and_offset(data: bytes, field: str | None, offset: int) -> None:
    with pytest.raises(DecodeError) as info:
        EFCOM.decode(data)
    assert info.value.file == "EF.COM"
    assert info.value.field == field
    assert info.value.offset == offset


def test_wrong_outer_tag_and_truncation() -> None:
    with pytest.raises(DecodeError, match="outer tag 61"):
        EFCOM.decode(b"\x61" + ICAO_EF_COM[1:])
    with pytest.raises(DecodeError, match="claims"):
        EFCOM.decode(ICAO_EF_COM[:-1])


@pytest.mark.parametrize("com", [EFCOM("107"), EFCOM(unicode_version="4.0.0"), EFCOM(data_groups=(17,))])
def test_encode_rejects_bad_values(com: EFCOM) -> None:
    with pytest.raises(EncodeError):
        com.encode()


versions = st.text(alphabet="0123456789", min_size=4, max_size=4)
unicode_versions = st.text(alphabet="0123456789", min_size=6, max_size=6)


@settings(max_examples=100)
@given(versions, unicode_versions, st.lists(st.integers(1, 16), max_size=16))
def test_round_trip(lds: str, uni: str, groups: list[int]) -> None:
    com = EFCOM(lds, uni, tuple(groups))
    assert EFCOM.decode(com.encode()) == com


@settings(max_examples=200)
@given(st.binary(max_size=64))
def test_garbage_raises_only_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        EFCOM.decode(data)


@settings(max_examples=50)
@given(st.integers(0, len(ICAO_EF_COM) - 1))
def test_every_truncation_is_a_decode_error(cut: int) -> None:
    with pytest.raises(DecodeError):
        EFCOM.decode(ICAO_EF_COM[:cut])


def test_a_batch_decodes_its_ef_com_once() -> None:
    """Every card of a batch carries the same EF.COM: its decoding is kept by exact bytes (the result is
    immutable), a different file is decoded on its own, and a malformed one raises every time."""
    first = EFCOM.decode(ICAO_EF_COM)
    assert EFCOM.decode(bytearray(ICAO_EF_COM)) is first
    other = EFCOM("0108", "040000", (1, 2)).encode()
    assert EFCOM.decode(other) == EFCOM("0108", "040000", (1, 2))
    for _ in range(2):
        with pytest.raises(DecodeError, match="5F01 5F36 5C"):
            EFCOM.decode(bytes.fromhex("6003 5C0161"))
