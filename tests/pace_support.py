"""Helpers shared by the PACE tests: worked-example vectors, injected randomness, a full PACE run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vectors import vector_json

from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU
from cardlib.protocols.pace import PACEChip, PACETerminal
from cardlib.protocols.sm import SecureMessaging


class Vector:
    """One worked example of ``testvectors/``: hex values by name, APDUs by name."""

    def __init__(self, name: str) -> None:
        self.data: dict[str, Any] = vector_json(name)

    def __getitem__(self, name: str) -> bytes:
        return bytes.fromhex(self.data[name])

    def int(self, name: str) -> int:
        return int(self.data[name], 16)

    def text(self, name: str) -> Any:
        return self.data[name]

    def apdu(self, name: str) -> bytes:
        return bytes.fromhex(self.data["apdus"][name])

    def response_data(self, name: str) -> bytes:
        return ResponseAPDU.parse(self.apdu(name)).data

    def command_data(self, name: str) -> bytes:
        return CommandAPDU.parse(self.apdu(name)).data


def fixed(*values: bytes) -> Callable[[int], bytes]:
    """A random source returning ``values`` in order, checking each has the length asked for."""
    queue = list(values)

    def draw(length: int) -> bytes:
        value = queue.pop(0)
        assert len(value) == length, f"asked {length} bytes, injecting {len(value)}"
        return value
    return draw


def scalar(value: int, order: int) -> bytes:
    """``value mod order`` as the bytes a private-key draw of ``order`` reads."""
    return (value % order).to_bytes((order.bit_length() + 7) // 8, "big")


def ga(data: bytes, last: bool = False) -> bytes:
    """A GENERAL AUTHENTICATE APDU as PACE sends it (CLA 10 while chaining, Le 00)."""
    return CommandAPDU(0x00 if last else 0x10, 0x86, 0, 0, data, 256).encode()


def run(terminal: PACETerminal, chip: PACEChip) -> SecureMessaging:
    """A whole PACE between a terminal and a chip; the terminal's session."""
    chip.set_at(terminal.set_at_data())
    response = chip.general_authenticate(terminal.general_authenticate_1())
    response = chip.general_authenticate(terminal.general_authenticate_2(response))
    response = chip.general_authenticate(terminal.general_authenticate_3(response))
    response = chip.general_authenticate(terminal.general_authenticate_4(response))
    return terminal.complete(response)


def assert_same_session(terminal_sm: SecureMessaging, chip: PACEChip) -> None:
    """Both ends hold the same keys: a protected READ BINARY and its answer pass across."""
    chip_sm = chip.secure_messaging
    assert chip_sm is not None and chip_sm.cipher == terminal_sm.cipher and terminal_sm.ssc == 0
    command = chip_sm.unprotect_command(terminal_sm.protect_command(CommandAPDU(0, 0xB0, 0, 0, le=5)))
    assert command.le == 5
    assert terminal_sm.unprotect_response(chip_sm.protect_response(ResponseAPDU(b"DG13", 0x9000))).data == b"DG13"


def assert_session_keys(sm: SecureMessaging | None, ks_enc: bytes, ks_mac: bytes) -> None:
    """``sm`` protects a command exactly as a session keyed with KSenc/KSmac and SSC 0 does."""
    assert sm is not None and sm.ssc == 0
    reference = SecureMessaging(ks_enc, ks_mac, 0, "AES" if sm.cipher == "AES" else "3DES")
    select = CommandAPDU.parse(bytes.fromhex("00A4020C02011E"))
    assert sm.protect_command(select) == reference.protect_command(select)
