"""The field-behaviour switches of the virtual chip (:class:`ChipOptions`) and its answer to reset.

:class:`ChipOptions` switches on the behaviours of chips met in the field (the catalogue of
``tests/test_field_chips.py``), each independent of the others so that they combine: an unreachable
EF.CardAccess, no short file identifiers, SELECT without P2=0C, extended length refused by the runtime in
plain, response caps, odd end-of-file answers, T=0-style 61xx/6Cxx, slow answers, plain error status words
inside a session, Active Authentication variants, MSE:Set AT with or without DO84, internal errors.
Runtime behaviours (61xx, 6Cxx, extended length refused in plain) sit in :mod:`cardlib.chip.runtime`, outside
secure messaging, as on a Java Card whose runtime answers before the applet sees the command.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cardlib.card.targets import JMRTD_APPLET
from cardlib.protocols.status import SW_AUTH_FAILED, SW_CONDITIONS, SW_NO_CURRENT_EF, SW_WRONG_LENGTH


def _atr(historical: bytes) -> bytes:
    """A PC/SC contactless ATR (PC/SC Part 3 §3.1.3.2.3): 3B 8n 80 01, historical bytes, TCK."""
    body = bytes([0x80 | len(historical), 0x80, 0x01]) + historical
    tck = 0
    for byte in body:
        tck ^= byte
    return b"\x3b" + body + bytes([tck])


DEFAULT_ATR = _atr(b"\x80\x31\x80\x65\xb0\x85\x04\x01")


PastEnd = Literal["6282", "9000", "6B00", "6700", "6Cxx"]
DO84Rule = Literal["optional", "required", "refused"]


@dataclass(frozen=True)
class ChipOptions:
    """How the virtual chip behaves, so that readers' fallbacks can be exercised; every switch combines.

    ``max_le`` is the largest Ne the chip honours; a bigger Le gets 6700, or, with ``truncate_le``, at
    most ``max_le`` bytes.  ``extended_length=False`` answers any extended-length APDU with ``extended_sw``:
    from the applet (``extended_refusal="applet"``, protected inside a session) or from the runtime
    (``"runtime"``: in plain, before secure messaging, which then counts nothing).
    ``pace=False`` makes a BAC-only chip (no EF.CardAccess); ``bac=False`` a PACE-only chip (6A88).
    ``oversized`` makes a hostile chip: each (file name, length) pair replaces that file by one whose outer
    TLV header declares a value of ``length`` bytes, the genuine value followed by zero filler (with
    ``max_le=16, truncate_le=True`` it keeps a reader without budgets busy for hours).

    Field behaviours: ``card_access_sw`` answers SELECT and READ BINARY of EF.CardAccess (an applet-only
    chip); ``select_mf_sw`` SELECT MF; ``sfi_sw`` every READ BINARY by short file identifier;
    ``select_p2_0c_sw`` every SELECT asking for no answer data (P2 0C; 00 and 04 still work).
    ``past_end`` is the answer to a READ BINARY (B0) whose Le reaches past the end of the file: the data and
    6282 (ISO 7816-4), the data and 9000 (fewer bytes, no warning), or no data and 6B00, 6700, 6Cxx.
    ``chaining`` cuts answers longer than that many bytes into 61xx pieces fetched with GET RESPONSE;
    ``exact_le`` answers a short Le larger than the answer with 6Cxx and gives it on the resend (T=0).
    ``latency`` seconds pass before each answer.  ``plain_errors`` answers error status words inside a
    session in plain, keeping the session, the SSC advanced by that many steps (1: the command counted,
    2: the unsent response too).  ``aa_short_le_only`` refuses INTERNAL AUTHENTICATE with an Le above 256
    (6700); ``aa_hash`` is the Active Authentication hash, ``aa_ecdsa_der`` sends ECDSA signatures in DER.
    ``mse_do84`` says whether MSE:Set AT of PACE may, must or must not carry the parameter ID (DO84).
    ``internal_errors`` pairs an INS with the status word (6Fxx, 6Axx) every such command outside a session
    (access control: BAC, PACE) gets.  ``mac_only_9000`` protects answers as vsmartcard's ePass emulator
    does: never a DO99, a DO8E MAC only on 9000; any other answer carries its data (6282) in a DO87 with no
    MAC, the chip counting the command only.  ``bac_wrong_key_sw`` answers a MUTUAL AUTHENTICATE whose
    cryptogram does not verify (a wrong MRZ; the ePass emulator answers 6988).  ``malformed_com`` writes
    EF.COM's tag list as the ePass emulator does: the tags as hex text in a DO5C declaring one byte per tag,
    so the file does not decode.  ``empty_files`` names files the chip holds with no content (0 bytes).
    """

    extended_length: bool = True
    extended_refusal: Literal["applet", "runtime"] = "applet"
    extended_sw: int = SW_WRONG_LENGTH
    max_le: int = 65536
    truncate_le: bool = False
    pace: bool = True
    bac: bool = True
    atr: bytes = DEFAULT_ATR
    oversized: tuple[tuple[str, int], ...] = ()
    card_access_sw: int | None = None
    select_mf_sw: int | None = None
    sfi_sw: int | None = None
    select_p2_0c_sw: int | None = None
    past_end: PastEnd = "6282"
    chaining: int | None = None
    exact_le: bool = False
    latency: float = 0.0
    plain_errors: int | None = None
    aa_short_le_only: bool = False
    aa_hash: str = "sha256"
    aa_ecdsa_der: bool = False
    mse_do84: DO84Rule = "optional"
    internal_errors: tuple[tuple[int, int], ...] = ()
    mac_only_9000: bool = False
    bac_wrong_key_sw: int = SW_AUTH_FAILED
    malformed_com: bool = False
    empty_files: tuple[str, ...] = ()


JMRTD_APPLET_OPTIONS = ChipOptions(card_access_sw=SW_NO_CURRENT_EF, sfi_sw=SW_CONDITIONS, extended_length=False,
                                   extended_refusal="runtime", pace=False, aa_hash=JMRTD_APPLET.aa_hash)
"""How a locked JMRTD applet answers: the three behaviours measured on it (issue 11: EF.CardAccess 6986, READ
BINARY by short file identifier 6985, extended length refused by the Java Card runtime), BAC only, and Active
Authentication with ISO 9796-2 over SHA-1."""


__all__ = ["DEFAULT_ATR", "JMRTD_APPLET_OPTIONS", "ChipOptions", "DO84Rule", "PastEnd"]
