"""BAC (ICAO 9303-11 App. D) reproduced by the terminal and by the chip, plus round trips and failures."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vectors import vector_json

from cardlib.errors import CardlibError, ProtocolError, ValidationError
from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU
from cardlib.protocols.bac import BACChip, BACTerminal, derive_bac_keys, key_seed
from cardlib.protocols.sm import SecureMessaging

V: dict[str, Any] = vector_json("bac_icao_9303_11_app_d.json")


def _h(name: str) -> bytes:
    return bytes.fromhex(V[name])


def _fixed(*values: bytes) -> Callable[[int], bytes]:
    """A random source that returns the given values in order (the vector's RND and K)."""
    queue = list(values)

    def rng(length: int) -> bytes:
        value = queue.pop(0)
        assert len(value) == length
        return value

    return rng


def _assert_session(sm: SecureMessaging) -> None:
    """The session equals App. D's KSenc/KSmac/SSC: it protects a command exactly as a reference session."""
    reference = SecureMessaging(_h("ks_enc"), _h("ks_mac"), int(V["ssc"], 16), "3DES")
    assert sm.ssc == reference.ssc and sm.cipher == "3DES"
    select = CommandAPDU.parse(bytes.fromhex("00A4020C02011E"))
    assert sm.protect_command(select) == reference.protect_command(select)


def test_document_keys() -> None:
    assert key_seed(V["mrz_information"]) == _h("k_seed")
    assert derive_bac_keys(V["mrz_information"]) == (_h("k_enc"), _h("k_mac"))


def test_terminal_reproduces_app_d() -> None:
    terminal = BACTerminal(V["mrz_information"], rng=_fixed(_h("rnd_ifd"), _h("k_ifd")))
    rnd_ic = ResponseAPDU.parse(bytes.fromhex(V["get_challenge_response"])).data
    data = terminal.mutual_authenticate_data(rnd_ic)
    assert data == _h("e_ifd") + _h("m_ifd")
    assert CommandAPDU(0, 0x82, 0, 0, data, 0x28).encode() == _h("mutual_authenticate_command")
    sm = terminal.complete(ResponseAPDU.parse(_h("mutual_authenticate_response")).data)
    _assert_session(sm)


def test_chip_reproduces_app_d() -> None:
    chip = BACChip(V["mrz_information"], rng=_fixed(_h("rnd_ic"), _h("k_ic")))
    challenge = chip.challenge()
    assert ResponseAPDU(challenge, 0x9000).encode() == _h("get_challenge_response")
    command = CommandAPDU.parse(_h("mutual_authenticate_command"))
    response, sm = chip.mutual_authenticate(command.data)
    assert ResponseAPDU(response, 0x9000).encode() == _h("mutual_authenticate_response")
    _assert_session(sm)


def test_round_trip_sessions_talk() -> None:
    chip = BACChip(V["mrz_information"])
    terminal = BACTerminal(V["mrz_information"])
    response, chip_sm = chip.mutual_authenticate(terminal.mutual_authenticate_data(chip.challenge()))
    terminal_sm = terminal.complete(response)
    command = chip_sm.unprotect_command(terminal_sm.protect_command(CommandAPDU(0, 0xB0, 0, 0, le=4)))
    assert command.le == 4
    assert terminal_sm.unprotect_response(chip_sm.protect_response(ResponseAPDU(b"EF", 0x9000))).data == b"EF"


def test_wrong_mrz_rejected_by_chip() -> None:
    chip = BACChip(V["mrz_information"])
    terminal = BACTerminal("L898902C<369080619406237")
    with pytest.raises(ProtocolError):
        chip.mutual_authenticate(terminal.mutual_authenticate_data(chip.challenge()))


def test_tampered_chip_cryptogram_rejected() -> None:
    terminal = BACTerminal(V["mrz_information"], rng=_fixed(_h("rnd_ifd"), _h("k_ifd")))
    terminal.mutual_authenticate_data(_h("rnd_ic"))
    response = bytearray(ResponseAPDU.parse(_h("mutual_authenticate_response")).data)
    response[3] ^= 1
    with pytest.raises(ProtocolError):
        terminal.complete(bytes(response))


def test_replayed_terminal_data_needs_fresh_challenge() -> None:
    chip = BACChip(V["mrz_information"], rng=_fixed(_h("rnd_ic"), _h("k_ic"), os.urandom(8)))
    chip.challenge()
    data = CommandAPDU.parse(_h("mutual_authenticate_command")).data
    chip.mutual_authenticate(data)
    with pytest.raises(ProtocolError):
        chip.mutual_authenticate(data)
    chip.challenge()
    with pytest.raises(ProtocolError):  # a new RND.IC: the old cryptogram does not echo it
        chip.mutual_authenticate(data)


def test_error_messages_do_not_leak_mrz() -> None:
    with pytest.raises(ValidationError) as info:
        key_seed("L898902C<36908061940623é")
    assert "L898902C" not in str(info.value)
    assert "L898902C" not in repr(BACTerminal(V["mrz_information"]))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=60))
def test_garbage_mutual_authenticate_raises_only_protocol_errors(data: bytes) -> None:
    chip = BACChip(V["mrz_information"])
    chip.challenge()
    with pytest.raises(CardlibError):
        chip.mutual_authenticate(data)
