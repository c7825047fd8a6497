"""Every status word cardlib names (ISO/IEC 7816-4 §5.6), with its meaning: one table for reader and chip.

The terminal side (:mod:`cardlib.reader`, :mod:`cardlib.protocols.ca`, :mod:`cardlib.protocols.ta`) reads these
to decide what a refusal means; the chip side (:mod:`cardlib.chip`) answers with them.  :data:`SW_MEANINGS`
gives each the words an error message shows, and :func:`sw_meaning` also reads the two families that carry a
number (6Cxx: the exact Le; 63Cx: tries left).
"""

from __future__ import annotations

__all__ = [
    "SW_AUTH_BLOCKED",
    "SW_AUTH_FAILED",
    "SW_CLA_NOT_SUPPORTED",
    "SW_CONDITIONS",
    "SW_END_OF_FILE",
    "SW_FILE_EXISTS",
    "SW_FUNCTION_NOT_SUPPORTED",
    "SW_INS_NOT_SUPPORTED",
    "SW_LC_INCONSISTENT",
    "SW_MEANINGS",
    "SW_NOT_FOUND",
    "SW_NO_CURRENT_EF",
    "SW_NO_SPACE",
    "SW_OK",
    "SW_REFERENCE_NOT_FOUND",
    "SW_SECURITY_STATUS",
    "SW_SM_MISSING",
    "SW_SM_WRONG",
    "SW_UNKNOWN",
    "SW_WRONG_DATA",
    "SW_WRONG_LENGTH",
    "SW_WRONG_OFFSET",
    "SW_WRONG_P1P2",
    "sw_meaning",
]

SW_OK = 0x9000
SW_END_OF_FILE = 0x6282
SW_AUTH_FAILED = 0x6300
SW_WRONG_LENGTH = 0x6700
SW_SECURITY_STATUS = 0x6982
SW_AUTH_BLOCKED = 0x6983
SW_CONDITIONS = 0x6985
SW_NO_CURRENT_EF = 0x6986
SW_SM_MISSING = 0x6987
SW_SM_WRONG = 0x6988
SW_WRONG_DATA = 0x6A80
SW_FUNCTION_NOT_SUPPORTED = 0x6A81
SW_NOT_FOUND = 0x6A82
SW_NO_SPACE = 0x6A84
SW_WRONG_P1P2 = 0x6A86
SW_LC_INCONSISTENT = 0x6A87
SW_REFERENCE_NOT_FOUND = 0x6A88
SW_FILE_EXISTS = 0x6A89
SW_WRONG_OFFSET = 0x6B00
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00
SW_UNKNOWN = 0x6F00

# Each status word above, in words a person can act on.
SW_MEANINGS: dict[int, str] = {
    SW_OK: "success",
    SW_END_OF_FILE: "end of file reached before Le bytes",
    SW_AUTH_FAILED: "verification failed",
    SW_WRONG_LENGTH: "wrong length",
    SW_SECURITY_STATUS: "security status not satisfied",
    SW_AUTH_BLOCKED: "authentication method blocked",
    SW_CONDITIONS: "conditions of use not satisfied",
    SW_NO_CURRENT_EF: "command not allowed",
    SW_SM_MISSING: "expected secure messaging data objects missing",
    SW_SM_WRONG: "secure messaging data objects incorrect",
    SW_WRONG_DATA: "incorrect data",
    SW_FUNCTION_NOT_SUPPORTED: "function not supported",
    SW_NOT_FOUND: "file or application not found",
    SW_NO_SPACE: "not enough memory space in the file",
    SW_WRONG_P1P2: "incorrect parameters P1-P2",
    SW_LC_INCONSISTENT: "Nc inconsistent with parameters P1-P2",
    SW_REFERENCE_NOT_FOUND: "referenced data not found",
    SW_FILE_EXISTS: "file already exists",
    SW_WRONG_OFFSET: "wrong parameters (offset outside the file)",
    SW_INS_NOT_SUPPORTED: "instruction not supported",
    SW_CLA_NOT_SUPPORTED: "class not supported",
    SW_UNKNOWN: "no precise diagnosis",
}


def sw_meaning(sw: int) -> str:
    """A short description of status word ``sw`` (ISO/IEC 7816-4)."""
    if sw >> 8 == 0x6C:
        return f"wrong Le, {sw & 0xFF or 256} bytes available"
    if sw >> 8 == 0x63 and sw & 0xF0 == 0xC0:
        return f"verification failed, {sw & 0x0F} tries left"
    return SW_MEANINGS.get(sw, "unknown status")
