"""The instruction bytes (INS) and MSE parameters of the commands an eMRTD takes: one home for both sides.

The reader builds its commands with these, the virtual chip dispatches on them and the errors name them, so an
instruction's byte and its name are written once (ISO/IEC 7816-4; ICAO 9303-11 for BAC, PACE and Chip
Authentication; BSI TR-03110-3 for Terminal Authentication).
"""

from __future__ import annotations

from enum import IntEnum, unique


@unique
class Ins(IntEnum):
    """ISO/IEC 7816-4 instruction bytes, named as the standard names them."""

    SELECT = 0xA4
    READ_BINARY = 0xB0
    READ_BINARY_ODD = 0xB1
    """READ BINARY with an offset data object (odd INS), for offsets above 32767."""
    UPDATE_BINARY = 0xD6
    CREATE_FILE = 0xE0
    PUT_DATA = 0xDA
    GET_DATA = 0xCA
    GET_CHALLENGE = 0x84
    EXTERNAL_AUTHENTICATE = 0x82
    """EXTERNAL AUTHENTICATE, which BAC uses as MUTUAL AUTHENTICATE."""
    INTERNAL_AUTHENTICATE = 0x88
    MANAGE_SECURITY_ENVIRONMENT = 0x22
    GENERAL_AUTHENTICATE = 0x86
    PERFORM_SECURITY_OPERATION = 0x2A
    GET_RESPONSE = 0xC0

    @property
    def label(self) -> str:
        """The command as a person reads it in a message: ``READ BINARY``, ``MSE``, ``MUTUAL AUTHENTICATE``."""
        return _LABELS.get(self, self.name.replace("_", " "))


_LABELS = {Ins.READ_BINARY_ODD: "READ BINARY", Ins.EXTERNAL_AUTHENTICATE: "MUTUAL AUTHENTICATE",
           Ins.MANAGE_SECURITY_ENVIRONMENT: "MSE", Ins.PERFORM_SECURITY_OPERATION: "PSO"}


def instruction_label(ins: int) -> str | None:
    """:attr:`Ins.label` of the instruction byte ``ins``; None for a byte no command here uses."""
    try:
        return Ins(ins).label
    except ValueError:
        return None


@unique
class MSE(IntEnum):
    """P1-P2 of MANAGE SECURITY ENVIRONMENT (and of PSO) as one 16-bit value, by what it sets up."""

    SET_AT_PACE = 0xC1A4
    """Set AT for PACE (ICAO 9303-11)."""
    SET_AT_CA = 0x41A4
    """Set AT for Chip Authentication version 2 and CA-with-key-id (ICAO 9303-11)."""
    SET_KAT_CA = 0x41A6
    """Set KAT for Chip Authentication version 1 (ICAO 9303-11)."""
    SET_DST_TA = 0x81B6
    """Set DST for Terminal Authentication's certificate chain (BSI TR-03110-3)."""
    SET_AT_TA = 0x81A4
    """Set AT for Terminal Authentication (BSI TR-03110-3)."""
    PSO_VERIFY_CERTIFICATE = 0x00BE
    """P1-P2 of PERFORM SECURITY OPERATION: Verify Certificate (BSI TR-03110-3)."""

    @property
    def p1(self) -> int:
        """The P1 byte."""
        return self >> 8

    @property
    def p2(self) -> int:
        """The P2 byte."""
        return self & 0xFF


def p1p2(p1: int, p2: int) -> int:
    """P1 and P2 as the one 16-bit value :class:`MSE` names them by."""
    return p1 << 8 | p2


__all__ = ["MSE", "Ins", "instruction_label", "p1p2"]
