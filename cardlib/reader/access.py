"""Access control: the key (CAN or MRZ), EF.CardAccess, PACE with cardlib's mapping preference, and BAC.

PACE runs when EF.CardAccess lists a PACEInfo cardlib can run (CAM, then IM, then GM; ECDH before DH;
AES-128 first); a mapping the chip refuses at MSE:Set AT as not supported is noted and the next one tried.
BAC follows only when the chip has no (readable) EF.CardAccess or refuses PACE as not supported, never after
a PACE that failed otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Literal

from cardlib.errors import CardlibError, DecodeError, ValidationError
from cardlib.lds.files import EF_CARD_ACCESS
from cardlib.lds.securityinfo import CardAccess, PACEInfo
from cardlib.model.mrz import FILLER, MRZ, MRZ_INFORMATION_TAIL, MRZFormat, check_digit
from cardlib.protocols.apdu import SHORT_MAX_LE, CommandAPDU
from cardlib.protocols.bac import MUTUAL_AUTHENTICATE_LENGTH, RND_LENGTH, BACTerminal
from cardlib.protocols.instructions import MSE, Ins
from cardlib.protocols.pace import PACEParameters, PACETerminal, offered_parameters
from cardlib.protocols.sm import SecureMessaging
from cardlib.protocols.status import (
    SW_AUTH_FAILED,
    SW_FUNCTION_NOT_SUPPORTED,
    SW_INS_NOT_SUPPORTED,
    SW_NOT_FOUND,
    SW_REFERENCE_NOT_FOUND,
    SW_SECURITY_STATUS,
    SW_SM_WRONG,
    SW_WRONG_DATA,
    sw_meaning,
)
from cardlib.reader.channel import Channel
from cardlib.reader.errors import (
    HINT_CHIP_ERROR,
    ChipRefusedError,
    UnsupportedAccessError,
    WrongAccessKeyError,
    describe_command,
    refused,
)
from cardlib.reader.files import MF_FID, FileAbsentError, FileProtectedError, FileReader, select, select_application

AccessKind = Literal["CAN", "MRZ"]
AccessMethod = Literal["PACE-CAN", "PACE-MRZ", "BAC"]
# PACE preferences (ICAO 9303-11 §4.4): the mapping that also authenticates the chip, then the integrated
# mapping, then the generic one; ECDH before DH; AES-128 first, 3DES last.  A PACEInfo ranks by these in turn.
PACE_MAPPING_PREFERENCE = ("CAM", "IM", "GM")
_KEY_AGREEMENT_PREFERENCE = ("ECDH", "DH")
_CIPHER_PREFERENCE = ("AES-128", "AES-192", "AES-256", "3DES")
# MSE:Set AT refused this way means the chip does not do PACE at all (BAC follows, with a note).
_PACE_UNSUPPORTED = (SW_INS_NOT_SUPPORTED, SW_FUNCTION_NOT_SUPPORTED)
# MSE:Set AT refused this way may be about DO84 (parameter ID): the other form is tried once.
_SET_AT_DATA_REFUSALS = (SW_WRONG_DATA, SW_REFERENCE_NOT_FOUND)
# The answers to the final access-control step that mean the key itself is wrong.
_WRONG_KEY_SWS = (SW_AUTH_FAILED,)
# BAC's MUTUAL AUTHENTICATE is sent in plain, so its only "secure messaging data object" is the MAC'd
# cryptogram: 6988 there (vsmartcard's ePass emulator) says the cryptogram's MAC did not verify, which is what
# a key derived from another MRZ gives, exactly as 6300 does.  Inside a session 6988 stays an SM error.
_BAC_WRONG_KEY_SWS = (SW_AUTH_FAILED, SW_SECURITY_STATUS, SW_SM_WRONG)


class AccessKey:
    """The secret that opens the chip: the 6-digit CAN, or the MRZ information (document number, birth, expiry).

    Its ``repr`` and ``str`` show only the kind, so a key can sit in logs and tracebacks safely.
    """

    __slots__ = ("_secret", "kind")

    def __init__(self, kind: AccessKind, secret: str) -> None:
        if kind == "CAN" and not (len(secret) == 6 and secret.isascii() and secret.isdigit()):
            raise ValidationError("a CAN is exactly 6 digits", field="CAN")
        if kind == "MRZ" and len(secret) < 24:
            raise ValidationError("document number, birth date and expiry, each with its check digit, expected",
                                  field="MRZ information")
        self.kind: AccessKind = kind
        self._secret = secret

    @classmethod
    def can(cls, can: str) -> AccessKey:
        """A card access number (on the CCCD: the last 6 digits of the 12-digit personal ID number)."""
        return cls("CAN", can)

    @classmethod
    def mrz(cls, mrz: str) -> AccessKey:
        """An MRZ key from the MRZ as printed or from the MRZ information (ICAO 9303-11 §9.7.1.1).

        ``mrz`` is the printed MRZ (TD1: three lines of 30 or the first two; TD2; TD3: two lines of 44 or
        line 2 alone; line breaks and blanks ignored) or the MRZ information (document number, birth date,
        expiry, each followed by its check digit).  Every check digit must verify: a typo would otherwise
        show as "the MRZ does not match this card".  ValidationError names the wrong check digit, never the
        characters.
        """
        text = "".join(str(mrz).split()).upper()
        printed = _printed_mrz(text)
        information = printed.mrz_information if printed is not None else text
        wrong = printed.check_digit_errors() if printed is not None else _information_check_errors(text)
        if wrong:
            raise ValidationError(f"wrong check digit: {', '.join(wrong)} (retype the MRZ; for a "
                                  "single line give line 2 of a passport, the one with the document number)",
                                  field="MRZ")
        return cls("MRZ", information)

    @classmethod
    def from_document(cls, document_number: str, date_of_birth: str, date_of_expiry: str) -> AccessKey:
        """An MRZ key built from the document number and the YYMMDD birth and expiry dates; adds check digits."""
        number = document_number.upper().ljust(9, "<")
        fields = (number, date_of_birth, date_of_expiry)
        try:
            return cls("MRZ", "".join(value + check_digit(value) for value in fields))
        except CardlibError:
            raise ValidationError("document number and dates must use MRZ characters (A-Z, 0-9, <)",
                                  field="MRZ information") from None

    @property
    def secret(self) -> str:
        """The key itself, for the protocol code; never print it."""
        return self._secret

    def __repr__(self) -> str:
        return f"AccessKey({self.kind})"

    __str__ = __repr__


# Printed MRZs AccessKey.mrz takes, by length: the format and the lines no check digit covers, as fillers.
_PRINTED_MRZ = {90: (MRZFormat.TD1, "", ""), 60: (MRZFormat.TD1, "", FILLER * 30), 72: (MRZFormat.TD2, "", ""),
                88: (MRZFormat.TD3, "", ""), 44: (MRZFormat.TD3, "P" + FILLER * 43, "")}


def _printed_mrz(text: str) -> MRZ | None:
    """``text`` as a printed MRZ (:data:`_PRINTED_MRZ`); None when its length is none of theirs."""
    if len(text) not in _PRINTED_MRZ:
        return None
    mrz_format, before, after = _PRINTED_MRZ[len(text)]
    try:
        return MRZ(mrz_format, before + text + after)
    except DecodeError as exc:
        raise ValidationError(exc.reason, field="MRZ") from None


def _information_check_errors(information: str) -> list[str]:
    """The names of the wrong check digits of MRZ information (too short: the AccessKey refuses it anyway)."""
    if len(information) <= MRZ_INFORMATION_TAIL:
        return []
    fields = (("document number", information[:-MRZ_INFORMATION_TAIL], information[-MRZ_INFORMATION_TAIL]),
              ("date of birth", information[-14:-8], information[-8]),
              ("date of expiry", information[-7:-1], information[-1]))
    return [name for name, covered, digit in fields if not _check_digit_is(covered, digit)]


def _check_digit_is(covered: str, digit: str) -> bool:
    try:
        return check_digit(covered) == digit
    except CardlibError:  # characters outside the MRZ alphabet
        return False


def read_card_access(channel: Channel, reader: FileReader) -> tuple[bytes | None, int | None]:
    """EF.CardAccess from the master file, in the clear, with short APDUs; None when the chip has none or
    will not give it (no master file, an applet-only chip): BAC follows, and unless the file is simply
    absent a note says why.
    """
    select(channel, 0x00, MF_FID)  # chips without a master file refuse this; EF.CardAccess tells
    try:  # short reads: the file is small, and the session is where extended length matters
        return reader.read_file(EF_CARD_ACCESS, learn_sfi=False, short=True), None
    except FileAbsentError:
        return None, SW_NOT_FOUND
    except FileProtectedError:
        sw = SW_SECURITY_STATUS
    except ChipRefusedError as exc:
        sw = exc.sw if exc.sw is not None else 0
    finally:
        channel.file = None
    channel.notes.append(f"EF.CardAccess could not be read ({sw_meaning(sw)}, SW {sw:04X}): the chip was "
                         "opened with BAC")
    return None, sw


def _pace_rank(params: PACEParameters) -> tuple[int, int, int]:
    """Where ``params`` stands in cardlib's preference: mapping, then key agreement, then cipher."""
    algorithm = params.algorithm
    return (PACE_MAPPING_PREFERENCE.index(params.mapping),
            _KEY_AGREEMENT_PREFERENCE.index(algorithm.key_agreement or ""),
            _CIPHER_PREFERENCE.index(algorithm.cipher or ""))


def pace_candidates(infos: Sequence[PACEInfo]) -> list[PACEParameters]:
    """The PACE variants ``infos`` offer that cardlib can run (:func:`~cardlib.protocols.pace.offered_parameters`),
    best first (CAM > IM > GM, ECDH > DH, AES-128 first).  UnsupportedAccessError when none is left.
    """
    candidates = offered_parameters(infos)
    if not candidates:
        listed = ", ".join(f"{info.protocol} (parameter ID {info.parameter_id})" for info in infos)
        raise UnsupportedAccessError(f"EF.CardAccess lists no PACE protocol cardlib supports: {listed}")
    return sorted(candidates, key=_pace_rank)


def _pace(channel: Channel, key: AccessKey, infos: Sequence[PACEInfo]) -> SecureMessaging | None:
    """PACE with the preferred PACEInfo the chip takes; None (and a note) when MSE:Set AT shows the chip does
    not do PACE.

    MSE:Set AT carries the parameter ID (DO84) when EF.CardAccess lists several PACEInfos; a chip refusing
    that form's data gets the other form once.  A chip that still refuses the data (6A80, 6A88: this protocol
    is not supported) gets the next PACEInfo, and the notes say which was refused: that is the only fallback.
    """
    several = len(infos) > 1
    candidates = pace_candidates(infos)
    for params in candidates:
        terminal = PACETerminal(key.secret, key.kind, params)
        command = _pace_set_at(terminal.set_at_data(include_parameter_id=several))
        response = channel.exchange(command)
        if response.sw in _SET_AT_DATA_REFUSALS:
            command = _pace_set_at(terminal.set_at_data(include_parameter_id=not several))
            response = channel.exchange(command)
        if response.sw in _PACE_UNSUPPORTED:
            channel.notes.append(f"EF.CardAccess offers PACE but the chip refused {describe_command(command)} "
                                 f"({sw_meaning(response.sw)}, SW {response.sw:04X}): the chip was opened with BAC")
            return None
        if response.sw not in _SET_AT_DATA_REFUSALS or params is candidates[-1]:
            break
        channel.notes.append(f"the chip refused {params.algorithm.name} (parameter ID {params.parameter_id}) at "
                             f"MSE:Set AT ({sw_meaning(response.sw)}, SW {response.sw:04X}) though EF.CardAccess "
                             "offers it: the next PACEInfo was tried")
    if not response.ok:
        raise refused("PACE step 0", command, response.sw, HINT_CHIP_ERROR)
    channel.pace_terminal = terminal
    steps: tuple[Callable[[bytes], bytes], ...] = (terminal.general_authenticate_2,
                                                   terminal.general_authenticate_3)
    data = _general_authenticate(channel, 1, terminal.general_authenticate_1())
    for number, step in enumerate(steps, start=2):
        data = _general_authenticate(channel, number, step(data))
    command = CommandAPDU(0x00, Ins.GENERAL_AUTHENTICATE, 0x00, 0x00, terminal.general_authenticate_4(data),
                          le=SHORT_MAX_LE)
    final = channel.exchange(command)
    if final.sw in _WRONG_KEY_SWS or final.sw >> 4 == 0x63C:
        raise WrongAccessKeyError(f"the {key.kind} does not match this card", sw=final.sw)
    if not final.ok:
        raise refused("PACE step 4", command, final.sw, HINT_CHIP_ERROR)
    return terminal.complete(final.data)


def _pace_set_at(data: bytes) -> CommandAPDU:
    """MSE:Set AT for PACE carrying ``data``."""
    return CommandAPDU(0x00, Ins.MANAGE_SECURITY_ENVIRONMENT, MSE.SET_AT_PACE.p1, MSE.SET_AT_PACE.p2, data)


def _general_authenticate(channel: Channel, number: int, data: bytes) -> bytes:
    """One chained GENERAL AUTHENTICATE of PACE steps 1-3 (CLA 10: more commands follow)."""
    command = CommandAPDU(0x10, Ins.GENERAL_AUTHENTICATE, 0x00, 0x00, data, le=SHORT_MAX_LE)
    return channel.require_ok(command, f"PACE step {number}").data


def _bac(channel: Channel, key: AccessKey) -> SecureMessaging:
    if key.kind != "MRZ":
        why = f" ({'; '.join(channel.notes)})" if channel.notes else ""
        raise UnsupportedAccessError(f"this chip offers only BAC, which needs the MRZ: a CAN cannot open it{why}")
    terminal = BACTerminal(key.secret)
    challenge = channel.require_ok(CommandAPDU(0x00, Ins.GET_CHALLENGE, 0x00, 0x00, le=RND_LENGTH), "BAC step 1").data
    command = CommandAPDU(0x00, Ins.EXTERNAL_AUTHENTICATE, 0x00, 0x00, terminal.mutual_authenticate_data(challenge),
                          le=MUTUAL_AUTHENTICATE_LENGTH)
    response = channel.exchange(command)
    if response.sw in _BAC_WRONG_KEY_SWS:
        raise WrongAccessKeyError("the MRZ does not match this card", sw=response.sw)
    if not response.ok:
        raise refused("BAC step 2", command, response.sw, HINT_CHIP_ERROR)
    return terminal.complete(response.data)


def _open_pace(channel: Channel, key: AccessKey, infos: Sequence[PACEInfo]) -> SecureMessaging | None:
    """A PACE session with the eMRTD application selected; None when the chip does not do PACE."""
    channel.sm = _pace(channel, key, infos)
    if channel.sm is not None:
        select_application(channel)
    return channel.sm


def _reopen_pace(channel: Channel, key: AccessKey, infos: Sequence[PACEInfo]) -> SecureMessaging:
    session = _open_pace(channel, key, infos)
    if session is None:
        raise UnsupportedAccessError("the chip refused PACE when the session had to be opened again")
    return session


def _open_bac(channel: Channel, key: AccessKey) -> SecureMessaging:
    """A BAC session, opened in the eMRTD application."""
    select_application(channel)
    channel.sm = _bac(channel, key)
    return channel.sm


def open_session(channel: Channel, reader: FileReader, key: AccessKey,
                 recognise: Callable[[bytes | None, int | None], None]) -> tuple[AccessMethod, bytes | None]:
    """Access control: PACE when EF.CardAccess offers it, else BAC; leaves the eMRTD application selected.

    ``recognise`` is told EF.CardAccess (or the status word refusing it) before the session opens, so a read
    path remembered for the chip model is adopted.  Returns the method used and EF.CardAccess (None when the
    chip has none or will not give it).
    """
    card_access, refusal = read_card_access(channel, reader)
    recognise(card_access, refusal)
    pace_infos = CardAccess.decode(card_access).pace_infos if card_access else ()
    method: AccessMethod = "BAC"
    if pace_infos and _open_pace(channel, key, pace_infos) is not None:
        method = "PACE-CAN" if key.kind == "CAN" else "PACE-MRZ"
        channel.reopen = partial(_reopen_pace, channel, key, pace_infos)
    else:
        _open_bac(channel, key)
        channel.reopen = partial(_open_bac, channel, key)
    reader.session_changed()
    return method, card_access
