"""Secure messaging: ICAO 9303-11 App. D.4 reproduced on both sides, negative vectors, random round trips."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vectors import vector_json

from cardlib.errors import CardlibError, ProtocolError
from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU
from cardlib.protocols.sm import SecureMessaging, pad, retail_mac, unpad

VECTORS: dict[str, Any] = vector_json("sm_3des_icao_9303_11_app_d4.json")


def _session() -> SecureMessaging:
    return SecureMessaging(bytes.fromhex(VECTORS["ks_enc"]), bytes.fromhex(VECTORS["ks_mac"]),
                           int(VECTORS["ssc"], 16), "3DES")


def _hex(value: str) -> bytes:
    return bytes.fromhex(value)


def test_terminal_side_reproduces_app_d4() -> None:
    terminal = _session()
    for step in VECTORS["exchanges"]:
        protected = terminal.protect_command(CommandAPDU.parse(_hex(step["plain_command"])))
        assert protected.encode() == _hex(step["protected_command"]), step["name"]
        assert terminal.ssc == int(step["ssc_after_command"], 16)
        plain = terminal.unprotect_response(ResponseAPDU.parse(_hex(step["protected_response"])))
        assert plain.encode() == _hex(step["plain_response"]), step["name"]
        assert terminal.ssc == int(step["ssc_after_response"], 16)


def test_chip_side_reproduces_app_d4() -> None:
    chip = _session()
    for step in VECTORS["exchanges"]:
        command = chip.unprotect_command(CommandAPDU.parse(_hex(step["protected_command"])))
        assert command.encode() == _hex(step["plain_command"]), step["name"]
        response = chip.protect_response(ResponseAPDU.parse(_hex(step["plain_response"])))
        assert response.encode() == _hex(step["protected_response"]), step["name"]
    assert chip.ssc == int(VECTORS["exchanges"][-1]["ssc_after_response"], 16)


def test_ef_com_reassembled_from_both_reads() -> None:
    terminal = _session()
    content = b""
    for step in VECTORS["exchanges"]:
        terminal.protect_command(CommandAPDU.parse(_hex(step["plain_command"])))
        content += terminal.unprotect_response(ResponseAPDU.parse(_hex(step["protected_response"]))).data
    assert content == _hex(VECTORS["ef_com"])


@pytest.mark.parametrize("name", ["mac_mismatch", "status_mismatch", "naked_9000"])
def test_negative_responses_rejected(name: str) -> None:
    terminal = _session()
    terminal.protect_command(CommandAPDU.parse(_hex(VECTORS["exchanges"][0]["plain_command"])))
    with pytest.raises(ProtocolError):
        terminal.unprotect_response(ResponseAPDU.parse(_hex(VECTORS["negative_responses_after_select"][name])))


def test_naked_9000_rejected_on_aes_channel() -> None:
    with pytest.raises(ProtocolError):
        SecureMessaging(bytes(16), bytes(16), 0, "AES").unprotect_response(ResponseAPDU(b"", 0x9000))


def test_plain_error_status_passes_through() -> None:
    assert _session().unprotect_response(ResponseAPDU(b"", 0x6988)) == ResponseAPDU(b"", 0x6988)


def test_missing_mac_and_replayed_command_rejected() -> None:
    chip = _session()
    protected = _hex(VECTORS["exchanges"][0]["protected_command"])
    with pytest.raises(ProtocolError):
        without_mac = CommandAPDU.parse(protected)
        chip.unprotect_command(CommandAPDU(0x0C, 0xA4, 2, 0x0C, without_mac.data[:-10], 256))
    replay = _session()
    replay.unprotect_command(CommandAPDU.parse(protected))
    with pytest.raises(ProtocolError):  # same command again: SSC moved on, MAC no longer verifies
        replay.unprotect_command(CommandAPDU.parse(protected))


def test_plain_cla_rejected_by_chip() -> None:
    with pytest.raises(ProtocolError):
        _session().unprotect_command(CommandAPDU(0x00, 0xB0, 0, 0, le=4))


def test_max_plain_read() -> None:
    assert _session().max_plain_read == 231
    assert SecureMessaging(bytes(16), bytes(16), 0, "AES").max_plain_read == 223


def test_repr_hides_keys() -> None:
    assert VECTORS["ks_enc"].lower() not in repr(_session()).lower()


def test_retail_mac_iso_9797_1_alg3_single_block() -> None:
    # ICAO 9303-11 App. D.3: M.IFD = MAC(K_MAC, pad(E.IFD)).
    key = _hex("7962D9ECE03D1ACD4C76089DCE131543")
    e_ifd = _hex("72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2")
    assert retail_mac(key, pad(e_ifd, 8)) == _hex("5F1448EEA8AD90A7")


def test_unpad_rejects_missing_padding() -> None:
    with pytest.raises(ProtocolError):
        unpad(bytes(8))


sessions = st.tuples(st.sampled_from(["3DES", "AES"]), st.sampled_from([16, 24, 32]), st.integers(0, 2**64))
commands = st.builds(CommandAPDU, st.integers(0, 0xF3).map(lambda c: c & 0xF3), st.integers(0, 255),
                     st.integers(0, 255), st.integers(0, 255), st.binary(max_size=300),
                     st.none() | st.integers(1, 65536))


@settings(max_examples=60, deadline=None)
@given(sessions, commands, st.binary(max_size=300), st.integers(0x6000, 0x9FFF))
def test_random_round_trip(session: tuple[str, int, int], cmd: CommandAPDU, data: bytes, sw: int) -> None:
    cipher, key_length, ssc = session
    key_length = 16 if cipher == "3DES" else key_length
    keys = (bytes(range(key_length)), bytes(range(1, key_length + 1)))
    terminal = SecureMessaging(*keys, ssc, cipher)  # type: ignore[arg-type]
    chip = SecureMessaging(*keys, ssc, cipher)  # type: ignore[arg-type]
    received = chip.unprotect_command(CommandAPDU.parse(terminal.protect_command(cmd).encode()))
    assert (received.header, received.data, received.le) == (cmd.header, cmd.data, cmd.le)
    answer = ResponseAPDU(data, sw)
    assert terminal.unprotect_response(ResponseAPDU.parse(chip.protect_response(answer).encode())) == answer
    assert terminal.ssc == chip.ssc


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=80), st.integers(0, 0xFFFF))
def test_garbage_responses_raise_only_cardlib_errors(data: bytes, sw: int) -> None:
    try:
        _session().unprotect_response(ResponseAPDU(data, sw))
    except CardlibError:
        return
    assert not data and sw != 0x9000


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=80))
def test_garbage_commands_raise_only_cardlib_errors(data: bytes) -> None:
    with pytest.raises(CardlibError):
        _session().unprotect_command(CommandAPDU(0x0C, 0xB0, 0, 0, data))
