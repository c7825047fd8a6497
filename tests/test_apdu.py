"""CommandAPDU / ResponseAPDU: every ISO 7816-3 case in short and extended form, and garbage input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardlib.errors import CardlibError, DecodeError, EncodeError
from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("00A40000", CommandAPDU(0, 0xA4, 0, 0)),  # case 1
        ("0084000008", CommandAPDU(0, 0x84, 0, 0, le=8)),  # case 2S (ICAO 9303-11 App. D GET CHALLENGE)
        ("00B0000000", CommandAPDU(0, 0xB0, 0, 0, le=256)),  # case 2S, Le 00 = 256
        ("00A4020C02011E", CommandAPDU(0, 0xA4, 2, 0x0C, b"\x01\x1e")),  # case 3S (App. D.4 SELECT EF.COM)
        ("00A4020C02011E00", CommandAPDU(0, 0xA4, 2, 0x0C, b"\x01\x1e", 256)),  # case 4S
        ("00B0000000FFFF", CommandAPDU(0, 0xB0, 0, 0, le=65535, extended=True)),  # case 2E
        ("00B00000000000", CommandAPDU(0, 0xB0, 0, 0, le=65536, extended=True)),  # case 2E, 0000 = 65536
        ("00DA000000000201FF", CommandAPDU(0, 0xDA, 0, 0, b"\x01\xff", extended=True)),  # case 3E
        ("00DA000000000201FF0100", CommandAPDU(0, 0xDA, 0, 0, b"\x01\xff", 256, extended=True)),  # case 4E
    ],
)
def test_parse_and_encode_every_case(raw: str, expected: CommandAPDU) -> None:
    parsed = CommandAPDU.parse(bytes.fromhex(raw))
    assert parsed == expected
    assert parsed.encode() == bytes.fromhex(raw)


def test_encode_chooses_extended_only_when_needed() -> None:
    assert CommandAPDU(0, 0xB0, 0, 0, le=256).encode() == bytes.fromhex("00B0000000")
    assert CommandAPDU(0, 0xB0, 0, 0, le=257).encode() == bytes.fromhex("00B00000000101")
    long = CommandAPDU(0, 0xD6, 0, 0, bytes(300), le=1)
    assert long.encode()[4:7] == bytes.fromhex("00012C") and long.encode()[-2:] == b"\x00\x01"
    assert CommandAPDU(0, 0xB0, 0, 0, le=4).encode(extended=True) == bytes.fromhex("00B00000000004")


def test_short_form_refused_for_large_fields() -> None:
    with pytest.raises(EncodeError):
        CommandAPDU(0, 0xB0, 0, 0, le=1000).encode(extended=False)


@pytest.mark.parametrize("fields", [{"cla": 256}, {"le": 0}, {"le": 65537}, {"data": bytes(65536)}])
def test_invalid_fields_raise_encode_error(fields: dict[str, object]) -> None:
    base: dict[str, object] = {"cla": 0, "ins": 0xB0, "p1": 0, "p2": 0}
    with pytest.raises(EncodeError):
        CommandAPDU(**(base | fields))  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", ["00A400", "00A4020C03011E", "00A4020C02011E0000", "00B000000000",
                                 "00DA00000000000102", "00DA000000000201"])
def test_lengths_that_lie_are_decode_errors(raw: str) -> None:
    with pytest.raises(DecodeError):
        CommandAPDU.parse(bytes.fromhex(raw))


def test_response_apdu() -> None:
    rsp = ResponseAPDU.parse(bytes.fromhex("4608F919887022129000"))
    assert rsp.data == bytes.fromhex("4608F91988702212") and rsp.ok and rsp.sw1 == 0x90 and rsp.sw2 == 0
    assert rsp.encode() == bytes.fromhex("4608F919887022129000")
    assert not ResponseAPDU(b"", 0x6982).ok
    with pytest.raises(DecodeError):
        ResponseAPDU.parse(b"\x90")


commands = st.builds(
    CommandAPDU, st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.integers(0, 255),
    st.binary(max_size=600), st.none() | st.integers(1, 65536), st.booleans(),
)


@settings(max_examples=150)
@given(commands)
def test_command_round_trip(cmd: CommandAPDU) -> None:
    parsed = CommandAPDU.parse(cmd.encode())
    assert (parsed.header, parsed.data, parsed.le, parsed.is_extended) == (cmd.header, cmd.data, cmd.le,
                                                                            cmd.is_extended)


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_parse_garbage_raises_only_cardlib_errors(raw: bytes) -> None:
    try:
        cmd = CommandAPDU.parse(raw)
    except CardlibError:
        return
    assert cmd.encode() == raw


@settings(max_examples=100)
@given(st.binary(max_size=300), st.integers(0, 0xFFFF))
def test_response_round_trip(data: bytes, sw: int) -> None:
    assert ResponseAPDU.parse(ResponseAPDU(data, sw).encode()) == ResponseAPDU(data, sw)
