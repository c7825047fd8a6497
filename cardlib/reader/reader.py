"""Reading a CCCD chip: access control, secure file reads, Chip and Active Authentication.

:func:`read_card` runs the inspection procedure of ICAO 9303-11 over any :class:`Transport`:

1. EF.CardAccess is read in the clear from the master file.  When it lists a PACEInfo the chip is opened
   with PACE (CAN or MRZ); otherwise with BAC (MRZ only).  A failed PACE is reported, never retried as BAC.
   Among the PACEInfos the reader prefers the chip authentication mapping, then the integrated, then the
   generic (ECDH before DH, AES-128 first); a mapping the chip refuses at MSE:Set AT as not supported is
   noted and the next is tried, any other failure stops the read.  :attr:`ReadResult.pace_protocol` names the
   protocol used.  After PACE-CAM, EF.CardSecurity is read from the master file and the chip's authentication
   data is checked against the static key it holds (:attr:`ReadResult.pace_cam`, a live check like CA/AA).
2. The eMRTD application is selected and EF.COM, the data groups it lists and EF.SOD are read under
   secure messaging with an adaptive read size (:class:`_FileReader`), so a ~25 KB card takes a handful of
   APDUs when the chip takes extended length, and still reads when it does not.
3. Chip Authentication (DG14) switches the session keys; Active Authentication (DG15) signs a fresh
   challenge.  Both are *live checks*: their outcome is a result object, not an exception.
4. With EAC terminal credentials (``eac``, :class:`EACCredentials`) and a chip that refused DG3 or DG4,
   Terminal Authentication follows a passed Chip Authentication (BSI TR-03110 v1, :mod:`cardlib.protocols.ta`):
   the chip's EF.CVCA is read to see whether it trusts the chain's CVCA, the chain is presented and the
   chip's challenge signed; then the refused data groups are read again.  Its outcome is
   :attr:`ReadResult.terminal_auth`; a missing or refused TA never stops the read of the other files.

A chip is hostile input: every read runs under a :class:`ReadBudget` (a deadline and an APDU count for the
whole read, checked before each command; a byte cap per file, checked on its TLV header before its body is
read, and per card), so a chip that declares a huge file or dribbles a few bytes per answer is stopped with
:class:`~cardlib.limits.LimitExceeded` in bounded time.

Everything that stops a read raises a typed :class:`~cardlib.errors.CardlibError` a person can act on:
it names the step (EF.CardAccess, BAC, PACE step n, SELECT, READ BINARY of a file at an offset, CA, AA),
the command (INS, P1-P2), the status word in hex, and what to try next.  A half-read card is never
returned as a result.

Chips in the field differ (the catalogue of ``tests/test_field_chips.py``); the reader adapts without
being told: an EF.CardAccess that cannot be read means BAC (noted in :attr:`ReadResult.notes`; when PACE
was offered and failed for any reason but "not supported" the read stops rather than downgrade); READ
BINARY by short file identifier refused with any of :data:`_SFI_REFUSALS` means SELECT by file identifier;
SELECT with P2=0C refused means P2=04; extended length refused (6700, 6D00, 6F00, or the reader's own
SCardTransmit failure) means short reads; 61xx and a plain 6Cxx are followed in :class:`_Channel`
(GET RESPONSE, resend with the exact Le), each counted and under the budget.  A malformed EF.COM is kept
as read and the data groups come from EF.SOD (or, without a usable one, DG1-DG16 are probed); a file that
gives nothing at offset 0, even for one byte, is an empty file; a chip without EF.SOD is read to the end.
Each of these is noted: the verifier, not the reader, judges such a card.

Keeping the send sequence counter in step (ICAO 9303-11 §9.8): a response that is only a status word
inside a session carries no MAC, and peers differ on whether they counted it.  cardlib's rule: a plain
answer means the chip did not count the exchange at all (its runtime refused the command before secure
messaging saw it, as a Java Card runtime does for an extended APDU the applet does not take), so the
terminal goes back to the SSC it had before the command.  A chip that did count (it unwrapped the command,
and maybe its unsent response, then answered an error in plain) is found out at the next protected
exchange, which it rejects; the reader then opens the session again (BAC/PACE) and from then on counts
one step more for each plain answer of that chip (at most twice), and says so in the notes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric import rsa

from cardlib.card.image import CardImage
from cardlib.errors import CardError, CardlibError, DecodeError, ProtocolError, ValidationError
from cardlib.lds.asn1 import ECPublicKeyInfo
from cardlib.lds.cardsecurity import CardSecurity
from cardlib.lds.com import EFCOM
from cardlib.lds.dg15 import DG15
from cardlib.lds.files import (
    DATA_GROUPS,
    EF_CARD_ACCESS,
    EF_CARD_SECURITY,
    EF_COM,
    EF_CVCA,
    EF_SOD,
    EMRTD_AID,
    FileSpec,
    by_name,
)
from cardlib.lds.oids import PROTOCOL_OIDS, PROTOCOLS
from cardlib.lds.securityinfo import DG14, CardAccess, PACEInfo
from cardlib.lds.sod import SOD
from cardlib.lds.tlv import encode_length, read_tlv
from cardlib.limits import MAX_CARD_BYTES, MAX_FILE_BYTES, MAX_READ_APDUS, READ_DEADLINE_SECONDS, LimitExceeded
from cardlib.model.mrz import FILLER, MRZ, MRZFormat, check_digit
from cardlib.pki.cvc import CVCertificate
from cardlib.pki.eac import EACPKI
from cardlib.protocols.aa import PublicKey, aa_verify
from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU
from cardlib.protocols.bac import BACTerminal
from cardlib.protocols.ca import CATerminal, CATranscript, ProtectedResponse
from cardlib.protocols.pace import PACEParameters, PACETerminal
from cardlib.protocols.sm import SecureMessaging, carries_mac
from cardlib.protocols.ta import TAError, TATerminal, decode_ef_cvca, id_picc_after_bac, id_picc_after_pace
from cardlib.reader.models import ChipModels, ReadPath, model_id
from cardlib.reader.progress import ProgressCallback, ProgressReporter, ReadEvent, ReadPhase, ReadStage
from cardlib.reader.trace import APDUTrace
from cardlib.reader.transport import CardRemovedError, ReaderGoneError, RecordingTransport, Transport, transport_atr

AccessKind = Literal["CAN", "MRZ"]
AccessMethod = Literal["PACE-CAN", "PACE-MRZ", "BAC"]

SW_OK = 0x9000
SW_END_OF_FILE = 0x6282
SW_WRONG_LENGTH = 0x6700
SW_SECURITY_STATUS = 0x6982
SW_FILE_NOT_FOUND = 0x6A82
SW_WRONG_OFFSET = 0x6B00
SW_SM_MISSING = 0x6987
SW_SM_INCORRECT = 0x6988
SW_VERIFICATION_FAILED = 0x6300
INS_GET_RESPONSE = 0xC0

# ISO/IEC 7816-4 §5.6 status words a reader meets, in words a person can act on.
SW_MEANINGS: dict[int, str] = {
    0x6282: "end of file reached before Le bytes",
    0x6300: "verification failed",
    0x6700: "wrong length",
    0x6982: "security status not satisfied",
    0x6983: "authentication method blocked",
    0x6985: "conditions of use not satisfied",
    0x6986: "command not allowed",
    0x6987: "expected secure messaging data objects missing",
    0x6988: "secure messaging data objects incorrect",
    0x6A80: "incorrect data",
    0x6A82: "file or application not found",
    0x6A86: "incorrect parameters P1-P2",
    0x6A88: "referenced data not found",
    0x6B00: "wrong parameters (offset outside the file)",
    0x6D00: "instruction not supported",
    0x6E00: "class not supported",
    0x6F00: "no precise diagnosis",
}

# Plaintext bytes asked for per extended READ BINARY: the protected response (DO87 + DO99 + DO8E + SW)
# stays below the 65535-byte messages of PC/SC drivers such as vpcd.
EXTENDED_READ_SIZE = 0xFF00
SHORT_READ_SIZE = 256
MAX_ADDRESSABLE_FILE_SIZE = 0xFFFFFF  # odd-INS READ BINARY offsets (DO54) have three bytes at most
_SMALLER_READS = (192, 160, 128, 112, 96, 80, 64, 48, 32, 16)
_MIN_READ_SIZE = _SMALLER_READS[-1]
# How chips that do not take READ BINARY by short file identifier answer it (seen in the field).
_SFI_REFUSALS = (0x6985, 0x6986, 0x6A81, 0x6A86, 0x6B00, 0x6D00, 0x6E00, 0x6F00)
# A chip whose files carry no SFI answers 6A82 (file not found) too: SELECT then tells whether it is there.
# How a card's runtime (or applet) refuses an extended-length APDU it does not take.
_EXTENDED_REFUSALS = (0x6700, 0x6D00, 0x6F00)
# How a chip that wants SELECT to return file control information refuses P2=0C.
_SELECT_P2_REFUSALS = (0x6700, 0x6A81, 0x6A86, 0x6A87, 0x6B00)
# MSE:Set AT refused this way means the chip does not do PACE at all (BAC follows, with a note).
_PACE_UNSUPPORTED = (0x6D00, 0x6A81)
# MSE:Set AT refused this way may be about DO84 (parameter ID): the other form is tried once.
_SET_AT_DATA_REFUSALS = (0x6A80, 0x6A88)
# The answers to the final access-control step that mean the key itself is wrong.
_WRONG_KEY_SWS = (SW_VERIFICATION_FAILED,)
# BAC's MUTUAL AUTHENTICATE is sent in plain, so its only "secure messaging data object" is the MAC'd
# cryptogram: 6988 there (vsmartcard's ePass emulator) says the cryptogram's MAC did not verify, which is what
# a key derived from another MRZ gives, exactly as 6300 does.  Inside a session 6988 stays an SM error.
_BAC_WRONG_KEY_SWS = (SW_VERIFICATION_FAILED, SW_SECURITY_STATUS, SW_SM_INCORRECT)
_MAX_PLAIN_SSC_STEPS = 2  # a chip counts a plain answer 0, 1 (the command) or 2 (and its response) times
_COMMAND_NAMES = {0xA4: "SELECT", 0xB0: "READ BINARY", 0xB1: "READ BINARY", 0x84: "GET CHALLENGE",
                  0x82: "MUTUAL AUTHENTICATE", 0x88: "INTERNAL AUTHENTICATE", 0x22: "MSE",
                  0x86: "GENERAL AUTHENTICATE", INS_GET_RESPONSE: "GET RESPONSE"}
_HINT_CHIP_ERROR = ("the chip reported an internal error: lift the card off the reader, put it back and read "
                    "again; if it repeats, try another reader, then report the chip as faulty")
_HINT_SM = ("the session is lost: put the card back on the reader and read again; if it repeats, try another "
            "reader or --no-extended-length (read_card: extended_length=False)")
_HINT_READ = ("read again with --no-extended-length or a smaller --max-read, e.g. 223 (read_card: "
              "extended_length=False, max_read=223); if it repeats, this reader cannot read the file")
_MAX_SFI_OFFSET = 0xFF
_MAX_B0_OFFSET = 0x7FFF
_MF_FID = b"\x3f\x00"
_TAG_OFFSET_DO = 0x54
_TAG_DISCRETIONARY_DO = 0x53
_CHALLENGE_LENGTH = 8
_DER_SIGNATURE_OVERHEAD = 8  # SEQUENCE and two INTEGER headers, each with a possible leading zero
_HEADER_PROBE = 8

# PACE preferences (ICAO 9303-11 §4.4): the mapping that also authenticates the chip, then the integrated
# mapping, then the generic one; ECDH before DH; AES-128 first, 3DES last.  A PACEInfo ranks by these in turn.
PACE_MAPPING_PREFERENCE = ("CAM", "IM", "GM")
_KEY_AGREEMENT_PREFERENCE = ("ECDH", "DH")
_CIPHER_PREFERENCE = ("AES-128", "AES-192", "AES-256", "3DES")
_CA_ECDH_3DES = "0.4.0.127.0.7.2.2.3.2.1"  # id-CA-ECDH-3DES-CBC-CBC, implied when DG14 has no ChipAuthenticationInfo


class WrongAccessKeyError(CardError):
    """The chip rejected the access key: the CAN or MRZ typed does not belong to this card."""


class ChipRefusedError(CardError):
    """The chip answered a command with an error status word.

    The message names the step and the command, gives the SW and its meaning, then ``hint``: what to try.
    """

    def __init__(self, reason: str, *, sw: int | None = None, hint: str = "") -> None:
        super().__init__(reason, sw=sw)
        self.hint = hint
        if hint:
            self.args = (f"{self.args[0]}: {hint}",)


def describe_command(command: CommandAPDU) -> str:
    """The command as a person reads it in an error: its name, INS and P1-P2 in hex."""
    name = _COMMAND_NAMES.get(command.ins, "command")
    return f"{name} (INS {command.ins:02X}, P1P2 {command.p1:02X}{command.p2:02X})"


def refused(step: str, command: CommandAPDU, sw: int, hint: str) -> ChipRefusedError:
    """The error for ``step`` stopped by status word ``sw`` to ``command``, with what to try next."""
    return ChipRefusedError(f"{step}: the chip refused {describe_command(command)}: {sw_meaning(sw)}", sw=sw,
                            hint=hint)


class SecureMessagingError(ProtocolError):
    """Secure messaging broke: the chip's MAC does not verify, or it reported an SM error (6987/6988)."""


class UnsupportedAccessError(ProtocolError):
    """The chip offers no access method the key can open (a CAN for a BAC-only chip, an unknown PACE)."""


def sw_meaning(sw: int) -> str:
    """A short description of status word ``sw`` (ISO/IEC 7816-4)."""
    if sw >> 8 == 0x6C:
        return f"wrong Le, {sw & 0xFF or 256} bytes available"
    if sw >> 8 == 0x63 and sw & 0xF0 == 0xC0:
        return f"verification failed, {sw & 0x0F} tries left"
    return SW_MEANINGS.get(sw, "unknown status")


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
_MRZ_INFORMATION_TAIL = 15  # document number check digit, birth date + check digit, expiry + check digit


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
    if len(information) <= _MRZ_INFORMATION_TAIL:
        return []
    fields = (("document number", information[:-_MRZ_INFORMATION_TAIL], information[-_MRZ_INFORMATION_TAIL]),
              ("date of birth", information[-14:-8], information[-8]),
              ("date of expiry", information[-7:-1], information[-1]))
    return [name for name, covered, digit in fields if not _check_digit_is(covered, digit)]


def _check_digit_is(covered: str, digit: str) -> bool:
    try:
        return check_digit(covered) == digit
    except CardlibError:  # characters outside the MRZ alphabet
        return False


@dataclass(frozen=True)
class ReadBudget:
    """What one read may cost before it stops with LimitExceeded; each default is the :mod:`cardlib.limits` budget.

    An integrator can give a shorter deadline (a counter) or a longer one (a slow reader); tests give small
    budgets to stop a hostile chip quickly.
    """

    deadline_seconds: float = READ_DEADLINE_SECONDS
    max_apdus: int = MAX_READ_APDUS
    max_file_bytes: int = MAX_FILE_BYTES
    max_card_bytes: int = MAX_CARD_BYTES


@dataclass(frozen=True)
class ChipAuthResult:
    """Outcome of Chip Authentication: whether it ran, whether the chip proved its DG14 key, and why.

    ``transcript`` (when it passed) lets a verifier elsewhere re-check it (:mod:`cardlib.evidence`); it reveals
    the finished session's ephemeral key, so it is left out of ``repr``.
    """

    performed: bool
    passed: bool
    reason: str
    transcript: CATranscript | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ActiveAuthResult:
    """Outcome of Active Authentication: whether it ran, whether the DG15 key verified the signature, and why;
    the challenge sent and the chip's signature (empty when none came), for evidence (:mod:`cardlib.evidence`)."""

    performed: bool
    passed: bool
    reason: str
    challenge: bytes = b""
    signature: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class TerminalAuthResult:
    """Outcome of Terminal Authentication: whether it ran, whether the chip accepted the terminal, why, and
    the EAC-protected files (DG3, DG4) the chip then released."""

    performed: bool
    passed: bool
    reason: str
    released: tuple[str, ...] = ()


NO_EAC = TerminalAuthResult(False, False, "no EAC terminal credentials given")
"""The Terminal Authentication result of a read without EAC credentials."""


@dataclass(frozen=True, repr=False)
class EACCredentials:
    """What a terminal needs for Terminal Authentication: its CV certificate chain (link certificates, DV,
    inspection system, from the chip's CVCA down) and a signer with the inspection system's private key (a
    file's key or a token's, in the CV signature form of :func:`cardlib.pki.cvc.cv_signer`)."""

    chain: tuple[CVCertificate, ...]
    signer: Callable[[bytes], bytes]

    @classmethod
    def of(cls, pki: EACPKI) -> EACCredentials:
        """The inspection system of a (test) EAC PKI."""
        return cls(tuple(pki.chain), pki.terminal_signer())

    @classmethod
    def load(cls, directory: Path) -> EACCredentials:
        """The inspection system of the EAC PKI folder ``cardtool pki eac init`` wrote; PKIError naming the
        missing or corrupt file."""
        return cls.of(EACPKI.load(Path(directory)))

    def __repr__(self) -> str:
        return f"EACCredentials(chain={[certificate.chr for certificate in self.chain]})"


@dataclass(frozen=True)
class PhaseTimings:
    """Seconds spent in each phase of the read."""

    access: float = 0.0
    read: float = 0.0
    chip_auth: float = 0.0
    active_auth: float = 0.0
    terminal_auth: float = 0.0

    @property
    def total(self) -> float:
        """All phases together."""
        return self.access + self.read + self.chip_auth + self.active_auth + self.terminal_auth


@dataclass(frozen=True)
class ReadResult:
    """A complete read of a chip: the dump, how it was opened, the live checks and the cost of the read."""

    dump: CardImage
    access: AccessMethod
    cipher: str
    chip_auth: ChipAuthResult
    active_auth: ActiveAuthResult
    protected_files: tuple[str, ...]
    timings: PhaseTimings
    apdu_count: int
    bytes_read: int
    read_size: int
    read_size_fallbacks: int
    notes: tuple[str, ...] = ()
    chip_model: str = ""
    pace_protocol: str = ""
    pace_cam: ChipAuthResult = ChipAuthResult(False, False, "not opened with PACE-CAM")
    terminal_auth: TerminalAuthResult = NO_EAC

    @property
    def pace_mapping(self) -> str:
        """The PACE mapping used, ``"GM"``, ``"IM"`` or ``"CAM"``; empty after BAC."""
        protocol = PROTOCOLS.get(self.pace_protocol_oid)
        return (protocol.mapping or "") if protocol is not None else ""

    @property
    def pace_protocol_oid(self) -> str:
        """The OID of :attr:`pace_protocol` (the TR-03110 name), empty after BAC."""
        return PROTOCOL_OIDS.get(self.pace_protocol, "")

    @property
    def bytes_per_apdu(self) -> float:
        """File bytes obtained per APDU exchanged (the whole session, access and checks included)."""
        return self.bytes_read / self.apdu_count if self.apdu_count else 0.0


class _FileProtectedError(Exception):
    """Internal signal: the chip refused a file with 6982 (e.g. DG3 without Terminal Authentication)."""


class _FileAbsentError(Exception):
    """Internal signal: the chip has no such file (6A82)."""


class _EmptyFileError(Exception):
    """Internal signal: the file holds no bytes (nothing at offset 0, even for a one-byte read)."""


class _SFIRefusedError(Exception):
    """Internal signal: the chip does not take READ BINARY with a short file identifier."""


class _ExtendedUnsupportedError(Exception):
    """Internal signal: the reader (PC/SC driver) failed to carry an extended-length APDU."""


class _Channel:
    """APDU exchange with or without secure messaging, under the read's deadline and APDU budget.

    Every APDU of the read goes through :meth:`exchange` (GET RESPONSE and resends included), so each is
    counted.  Turns card removal into an error naming the file; the budget is spent from the moment it is
    made.  Keeps the SSC in step on plain answers (module docstring) and re-opens the session with
    ``reopen`` when a chip counted them differently.
    """

    def __init__(self, transport: RecordingTransport, budget: ReadBudget) -> None:
        self.transport = transport
        self.budget = budget
        self.deadline = time.monotonic() + budget.deadline_seconds
        self.sm: SecureMessaging | None = None
        self.file: str | None = None
        self.offset: int | None = None
        self.select_p2 = 0x0C
        self.plain_ssc_steps = 0
        self.after_plain = False
        self.reopen: Callable[[], SecureMessaging] | None = None
        self.notes: list[str] = []
        self.trace: APDUTrace | None = None
        self.phase = "access control"
        self.progress = ProgressReporter(None)
        self.ca_terminal: CATerminal | None = None
        self.pace_terminal: PACETerminal | None = None  # of the PACE that opened the session, once it succeeded
        self.after_switch: list[ProtectedResponse] | None = None  # responses under the CA session, kept

    def exchange(self, command: CommandAPDU) -> ResponseAPDU:
        """Send ``command`` (protected when a session is open) and return the plain response (traced)."""
        start, protected = time.perf_counter(), self.sm is not None
        response = self._exchange(command)
        if self.trace is not None:
            self.trace.record(self.file or self.phase, command, response, protected=protected,
                              seconds=time.perf_counter() - start)
        return response

    def _exchange(self, command: CommandAPDU) -> ResponseAPDU:
        sent = self.sm.protect_command(command) if self.sm is not None else command
        response = self._transmit(sent)
        if self.sm is None:
            return response
        if response.sw in (SW_SM_MISSING, SW_SM_INCORRECT):
            raise SecureMessagingError(f"{self.where()}: the chip answered {describe_command(command)} with "
                                       f"{sw_meaning(response.sw)} (SW {response.sw:04X}): {_HINT_SM}")
        if not response.ok and not carries_mac(response.data):  # its data, if any, is unauthenticated: dropped
            self.sm.advance(self.plain_ssc_steps - 1)  # protect_command counted one step already
            self.after_plain = True
            return ResponseAPDU(b"", response.sw)
        try:
            plain = self.sm.unprotect_response(response)
        except ProtocolError as exc:
            raise SecureMessagingError(f"{self.where()}: the answer to {describe_command(command)} breaks secure "
                                       f"messaging ({exc}, SW {response.sw:04X}): {_HINT_SM}") from None
        if self.after_switch is not None:
            self.after_switch.append(ProtectedResponse(self.sm.ssc, response.data, response.sw))
        self.after_plain = False
        return plain

    def _transmit(self, command: CommandAPDU) -> ResponseAPDU:
        """One command and what its transport-level answers ask for: 61xx GET RESPONSE, a plain 6Cxx resend."""
        response = self._send(command)
        if response.sw1 == 0x6C and not response.data and command.le is not None:
            command = CommandAPDU(command.cla, command.ins, command.p1, command.p2, command.data,
                                  response.sw2 or 256)
            response = self._send(command)
        data = bytearray()
        while response.sw1 == 0x61:
            data += response.data
            response = self._send(CommandAPDU(command.cla & 0x03, INS_GET_RESPONSE, 0, 0, le=response.sw2 or 256))
        return ResponseAPDU(bytes(data) + response.data, response.sw) if data else response

    def _send(self, command: CommandAPDU) -> ResponseAPDU:
        self._check_budget()
        try:
            raw = self.transport.transmit(command.encode())
        except CardRemovedError as exc:
            raise CardRemovedError(exc.reason, file=self.file, offset=self.offset) from None
        except ReaderGoneError:
            raise
        except CardError:
            if command.is_extended:  # the card is still there (PCSCTransport checks): the reader failed
                raise self._extended_failed() from None
            raise
        return ResponseAPDU.parse(raw)

    def _extended_failed(self) -> _ExtendedUnsupportedError:
        """The reader could not carry an extended APDU: the chip never saw it, so the SSC goes back."""
        if self.sm is not None:
            self.sm.advance(-1)
        return _ExtendedUnsupportedError()

    def resync(self) -> bool:
        """After a plain answer the chip broke the session: it counts plain answers one step more than
        assumed.  Re-open the session with that count; False when there is nothing left to try."""
        if not self.after_plain or self.reopen is None or self.plain_ssc_steps >= _MAX_PLAIN_SSC_STEPS:
            return False
        self.plain_ssc_steps += 1
        self.after_plain = False
        self.notes.append(f"the chip counts a plain answer inside secure messaging as {self.plain_ssc_steps} "
                          "step(s) of the send sequence counter: the session was opened again")
        self.sm = None
        self.sm = self.reopen()
        return True

    def _check_budget(self) -> None:
        """LimitExceeded when the read is past its deadline or has sent all the APDUs it may."""
        overdue = time.monotonic() - self.deadline
        if overdue >= 0:
            raise LimitExceeded("READ_DEADLINE_SECONDS", self.where(), self.budget.deadline_seconds,
                                round(self.budget.deadline_seconds + overdue, 1))
        if self.transport.statistics.apdus >= self.budget.max_apdus:
            raise LimitExceeded("MAX_READ_APDUS", self.where(), self.budget.max_apdus)

    def where(self) -> str:
        """The read and, while a file is being read, which file and offset (for errors)."""
        return "the chip read" if self.file is None else f"the chip read, at {self.file} offset {self.offset}"

    def require_ok(self, command: CommandAPDU, step: str, hint: str = _HINT_CHIP_ERROR) -> ResponseAPDU:
        """Exchange and insist on 9000; ChipRefusedError naming ``step``, the command and the SW otherwise."""
        response = self.exchange(command)
        if not response.ok:
            raise refused(step, command, response.sw, hint)
        return response


def _read_binary(offset: int, le: int, sfi: int | None) -> CommandAPDU:
    """READ BINARY: by short file identifier (offset ≤ 255), even INS B0 (≤ 32767), odd INS B1 above.

    ``le`` is Ne; for B1 it counts the DO53 wrapper around the data too.
    """
    if sfi is not None:
        return CommandAPDU(0x00, 0xB0, 0x80 | sfi, offset, le=le)
    if offset <= _MAX_B0_OFFSET:
        return CommandAPDU(0x00, 0xB0, offset >> 8, offset & 0xFF, le=le)
    return CommandAPDU(0x00, 0xB1, 0x00, 0x00, bytes([_TAG_OFFSET_DO, 3]) + offset.to_bytes(3, "big"), le=le)


def _wrapper_length(size: int) -> int:
    """Bytes the DO53 header adds around ``size`` bytes of data in an odd-INS READ BINARY answer."""
    return 1 + len(encode_length(size))


def _declared_size(head: bytes) -> int | None:
    """Total file size announced by the outer TLV header at the start of ``head``; None if it is not all there."""
    if not head:
        return None
    pos = 1
    if head[0] & 0x1F == 0x1F:
        while pos < len(head) and head[pos] & 0x80:
            pos += 1
        pos += 1
    if pos >= len(head):
        return None
    first = head[pos]
    if first < 0x80:
        return pos + 1 + first
    count = first & 0x7F
    if count == 0 or count > 4:
        raise DecodeError("outer length is indefinite or longer than 4 octets", offset=pos)
    if pos + 1 + count > len(head):
        return None
    return pos + 1 + count + int.from_bytes(head[pos + 1 : pos + 1 + count], "big")


class _FileReader:
    """Reads whole files with as few READ BINARY commands as the chip allows, and remembers what works.

    Starts with extended length (one APDU per file) when ``extended`` is allowed, else with the largest
    short read (256 in the clear, 223/231 under secure messaging), never above ``max_read``.  Stops using
    extended length when it is refused (6700/6D00/6F00) or the reader cannot carry it; when the first read
    of a file is refused (6700, 6B00, an empty 6282: maybe only because it reaches past the end) reads the
    8-byte header to learn the size;
    falls back on 6700, 6B00 and an empty 6282 to a smaller size, follows 6Cxx to the exact length, and
    shrinks to what a chip silently delivers.
    """

    def __init__(self, channel: _Channel, *, extended: bool, max_read: int | None = None) -> None:
        self.channel = channel
        self.extended = extended
        self.max_read = max_read
        self.cap: int | None = None  # the largest Ne this chip answers, once learnt
        self.size = self._largest()
        self.fallbacks = 0
        self.use_sfi = True
        self.sfi_refusal: int | None = None
        self.card_bytes = 0
        self.ceiling: int | None = None

    def _limit(self, size: int) -> int:
        return min(size, self.max_read or size, self.cap or size)

    def _short_limit(self) -> int:
        sm = self.channel.sm
        return self._limit(sm.max_plain_read if sm is not None else SHORT_READ_SIZE)

    def _largest(self) -> int:
        return self._limit(EXTENDED_READ_SIZE) if self.extended else self._short_limit()

    def adopt(self, path: ReadPath) -> None:
        """Start from the read path a chip model is known to take (never beyond what the caller allows)."""
        self.extended = self.extended and path.extended
        self.cap = path.read_size if path.read_size < EXTENDED_READ_SIZE else None
        self.size = self._largest()
        self.use_sfi = path.sfi
        self.channel.select_p2 = path.select_p2
        self.channel.plain_ssc_steps = path.plain_ssc_steps

    def path(self) -> ReadPath:
        """The read path that worked, to remember for the chip model."""
        return ReadPath(self.extended, self.cap or EXTENDED_READ_SIZE, self.use_sfi, self.channel.select_p2,
                        self.channel.plain_ssc_steps)

    def session_changed(self) -> None:
        """Secure messaging started or changed: the short read limit may now be lower; what was learnt stays."""
        self.size = min(self._largest(), self.size)

    def read_file(self, spec: FileSpec, *, learn_sfi: bool = True, short: bool = False) -> bytes:
        """Select and read ``spec``: by its SFI in the first READ BINARY (no SELECT) while the chip takes that.

        A refused SFI read is followed by SELECT; with ``learn_sfi`` the reader stops trying SFIs.  ``short``
        reads with short APDUs only.  When the chip broke the session after a plain answer, the session is
        opened again and the file read anew.
        """
        self.ceiling = self._short_limit() if short else None
        progress = self.channel.progress
        progress(ReadEvent(ReadPhase.FILE, ReadStage.STARTED, file=spec.name))
        try:
            while True:
                try:
                    content = self._read_file(spec, learn_sfi)
                    break
                except SecureMessagingError:
                    if not self.channel.resync():
                        raise
                    self.session_changed()
        except (_FileProtectedError, _FileAbsentError, ChipRefusedError):
            progress(ReadEvent(ReadPhase.FILE, ReadStage.REFUSED, file=spec.name))
            raise
        finally:
            self.ceiling = None
        progress(ReadEvent(ReadPhase.FILE, ReadStage.DONE, file=spec.name, bytes_read=len(content),
                           total=len(content)))
        return content

    def _read_file(self, spec: FileSpec, learn_sfi: bool) -> bytes:
        if self.use_sfi:
            try:
                return self.read(spec.name, sfi=spec.sfi)
            except _SFIRefusedError:
                _select_file(self.channel, spec)  # 6A82 here too: the file is absent, the SFI refusal taught nothing
                self.use_sfi = not learn_sfi
                return self.read(spec.name)
        _select_file(self.channel, spec)
        return self.read(spec.name)

    def read(self, name: str, sfi: int | None = None) -> bytes:
        """The whole file ``name`` (selected already, or by ``sfi`` at the first read)."""
        data = bytearray()
        total: int | None = None
        while total is None or len(data) < total:
            try:
                chunk, asked = self._chunk(name, len(data), None if total is None else total - len(data),
                                           sfi if not data else None)
            except _EmptyFileError:
                self.channel.notes.append(f"{name} is empty (0 bytes)")
                break
            if not chunk:
                raise DecodeError("the chip returned no data before the end of the file", file=name, offset=len(data))
            data += chunk
            if total is None:
                total = self._total(name, bytes(data))
                if total is not None and len(data) < total and len(chunk) < asked:
                    self._shrink_to(name, len(data), len(chunk))
            self.channel.progress(ReadEvent(ReadPhase.FILE, ReadStage.PROGRESS, file=name,
                                            bytes_read=min(len(data), total or len(data)), total=total))
        self.channel.file = None
        content = bytes(data[:total])
        self.card_bytes += len(content)
        return content

    def _total(self, name: str, head: bytes) -> int | None:
        """The file's size from its TLV header, once enough of it is there; refused over the byte budgets."""
        try:
            total = _declared_size(head[:_HEADER_PROBE])
        except DecodeError as exc:
            raise exc.within(file=name) from None
        if total is None:
            return None
        budget = self.channel.budget
        if total > budget.max_file_bytes:
            raise LimitExceeded("MAX_FILE_BYTES", f"{name} as declared by the chip",
                                budget.max_file_bytes, total)
        if self.card_bytes + total > budget.max_card_bytes:
            raise LimitExceeded("MAX_CARD_BYTES", f"the files read from the chip up to {name}",
                                budget.max_card_bytes, self.card_bytes + total)
        if total > MAX_ADDRESSABLE_FILE_SIZE:
            raise DecodeError(f"the file declares {total} bytes, more than READ BINARY can address", file=name,
                              offset=0)
        return total

    def _chunk(self, name: str, offset: int, remaining: int | None, sfi: int | None) -> tuple[bytes, int]:
        le = self._ne(offset, remaining)
        self.channel.file, self.channel.offset = name, offset
        while True:
            command = _read_binary(offset, le, sfi if offset <= _MAX_SFI_OFFSET else None)
            try:
                response = self.channel.exchange(command)
            except _ExtendedUnsupportedError:
                le = self._no_extended(le, None)
                continue
            if response.ok or (response.sw == SW_END_OF_FILE and response.data):
                data = self._unwrap(name, offset, response.data)
                if not data and offset == 0 and remaining is None:
                    le = self._empty_probe(le)
                    continue
                if offset <= _MAX_B0_OFFSET and remaining is not None and len(data) < min(le, remaining):
                    self._shrink_to(name, offset, len(data))
                return data, le
            le = self._next_le(name, command, remaining, response.sw)

    def _next_le(self, name: str, command: CommandAPDU, remaining: int | None, sw: int) -> int:
        """The Ne to ask for after ``command`` was refused with ``sw``; raises when nothing is left to try."""
        offset, le = self.channel.offset or 0, command.le or 0
        extended = le > SHORT_READ_SIZE
        if extended and sw == SW_WRONG_LENGTH:
            return self._no_extended(le, sw)
        if remaining is None and offset == 0 and le > _HEADER_PROBE and sw in (
                SW_WRONG_LENGTH, SW_WRONG_OFFSET, SW_END_OF_FILE):
            return self._empty_probe(le)  # maybe only a read past the end is refused: learn the size first
        if command.p1 & 0x80 and command.ins == 0xB0 and sw in (*_SFI_REFUSALS, SW_FILE_NOT_FOUND):
            self.sfi_refusal = sw
            raise _SFIRefusedError(name)
        if extended and sw in _EXTENDED_REFUSALS:
            return self._no_extended(le, sw)
        if remaining is None and offset == 0 and sw in (SW_WRONG_OFFSET, SW_END_OF_FILE):
            return self._empty_probe(le)
        return self._retry_size(name, command, remaining, sw)

    def _empty_probe(self, le: int) -> int:
        """Nothing came from offset 0: ask for the 8-byte header, then for one byte; a chip that gives not even
        one byte (no data, 6B00 offset outside the file, an empty 6282; not 6700, a refusal) holds an empty file."""
        if le > _HEADER_PROBE:
            self.fallbacks += 1
            return _HEADER_PROBE
        if le > 1:
            return 1
        raise _EmptyFileError

    def _no_extended(self, le: int, sw: int | None) -> int:
        """Short reads from now on; the Ne to retry with.  An SFI refusal with the same status word was
        the extended length being refused: SFIs are used again."""
        if self.extended:
            why = ("the reader cannot carry extended-length APDUs" if sw is None
                   else f"the chip refuses extended length ({sw_meaning(sw)}, SW {sw:04X})")
            self.channel.notes.append(f"{why}: short reads from then on")
        if sw is not None and sw == self.sfi_refusal:
            self.use_sfi, self.sfi_refusal = True, None
        self.extended = False
        self.size, self.fallbacks = min(self.size, self._short_limit()), self.fallbacks + 1
        return min(le, self.size)

    def _shrink_to(self, name: str, offset: int, delivered: int) -> None:
        """The chip silently delivers only ``delivered`` bytes per read: ask for that from now on."""
        if delivered < _MIN_READ_SIZE:
            raise ChipRefusedError(f"READ BINARY of {name} at offset {offset}: the chip returns only {delivered} "
                                   "bytes per command, too few to read a file", hint=_HINT_READ)
        self.size = self.cap = delivered

    def _ne(self, offset: int, remaining: int | None) -> int:
        size = min(self.size, self.ceiling or self.size)
        if remaining is None:
            return size
        if offset <= _MAX_B0_OFFSET:
            return min(size, remaining)
        return min(size, remaining + _wrapper_length(remaining))

    @staticmethod
    def _unwrap(name: str, offset: int, data: bytes) -> bytes:
        if offset <= _MAX_B0_OFFSET:
            return data
        try:
            obj = read_tlv(data, file=name)
        except DecodeError as exc:
            raise DecodeError(f"odd-INS READ BINARY answer: {exc.reason}", file=name, offset=offset) from None
        if obj.tag != _TAG_DISCRETIONARY_DO:
            raise DecodeError(f"odd-INS READ BINARY answer has tag {obj.tag:X}, not 53", file=name, offset=offset)
        return obj.value

    def _retry_size(self, name: str, command: CommandAPDU, remaining: int | None, sw: int) -> int:
        offset, le = self.channel.offset or 0, command.le or 0
        if sw == SW_SECURITY_STATUS:
            raise _FileProtectedError(name)
        if sw == SW_FILE_NOT_FOUND and offset == 0:
            raise _FileAbsentError(name)
        if sw >> 8 == 0x6C and 0 < (sw & 0xFF or 256) < le:
            exact = sw & 0xFF or 256
            if remaining is not None and exact < remaining:
                self.size = self.cap = exact
                self.fallbacks += 1
            return exact
        if sw in (SW_WRONG_LENGTH, SW_WRONG_OFFSET, SW_END_OF_FILE):
            smaller = self._smaller(le)
            if smaller is not None:
                self.size = self.cap = smaller
                self.fallbacks += 1
                return smaller
        raise refused(f"READ BINARY of {name} at offset {offset}", command, sw, _HINT_READ)

    def _smaller(self, le: int) -> int | None:
        ladder = (self._short_limit(), *_SMALLER_READS)
        if le > self._short_limit():
            self.extended = False
        return next((size for size in ladder if size < le), None)


@contextmanager
def _timed(timings: dict[str, float], phase: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[phase] = timings.get(phase, 0.0) + time.perf_counter() - start


def _select_command(p1: int, data: bytes, p2: int) -> CommandAPDU:
    return CommandAPDU(0x00, 0xA4, p1, p2, data, le=None if p2 == 0x0C else SHORT_READ_SIZE)


def _select(channel: _Channel, p1: int, data: bytes) -> tuple[CommandAPDU, ResponseAPDU]:
    """SELECT asking for no answer data (P2 0C); when the chip refuses that but takes P2 04 (FCP, ignored),
    P2 04 from then on."""
    command = _select_command(p1, data, channel.select_p2)
    response = channel.exchange(command)
    if channel.select_p2 == 0x0C and response.sw in _SELECT_P2_REFUSALS:
        retry = _select_command(p1, data, 0x04)
        second = channel.exchange(retry)
        if second.ok:
            channel.select_p2 = 0x04
            return retry, second
    return command, response


def _select_file(channel: _Channel, spec: FileSpec) -> None:
    channel.file, channel.offset = spec.name, 0
    command, response = _select(channel, 0x02, spec.fid_bytes)
    if response.sw == SW_FILE_NOT_FOUND:
        raise _FileAbsentError(spec.name)
    if response.sw == SW_SECURITY_STATUS:
        raise _FileProtectedError(spec.name)
    if not response.ok:
        raise refused(f"SELECT of {spec.name}", command, response.sw, _HINT_CHIP_ERROR)


def _select_application(channel: _Channel) -> None:
    command, response = _select(channel, 0x04, EMRTD_AID)
    if not response.ok:
        raise refused("SELECT of the eMRTD application", command, response.sw,
                      "this chip holds no ICAO eMRTD application (is it an ID card or passport?), or it was "
                      "moved: put it back and read again")


def _read_card_access(channel: _Channel, reader: _FileReader) -> tuple[bytes | None, int | None]:
    """EF.CardAccess from the master file, in the clear, with short APDUs; None when the chip has none or
    will not give it (no master file, an applet-only chip): BAC follows, and unless the file is simply
    absent a note says why.
    """
    _select(channel, 0x00, _MF_FID)  # chips without a master file refuse this; EF.CardAccess tells
    try:  # short reads: the file is small, and the session is where extended length matters
        return reader.read_file(EF_CARD_ACCESS, learn_sfi=False, short=True), None
    except _FileAbsentError:
        return None, SW_FILE_NOT_FOUND
    except _FileProtectedError:
        sw = SW_SECURITY_STATUS
    except ChipRefusedError as exc:
        sw = exc.sw if exc.sw is not None else 0
    finally:
        channel.file = None
    channel.notes.append(f"EF.CardAccess could not be read ({sw_meaning(sw)}, SW {sw:04X}): the chip was "
                         "opened with BAC")
    return None, sw


def _read_required(reader: _FileReader, spec: FileSpec) -> bytes:
    """A file the read cannot do without (EF.COM): its absence or protection is the chip refusing the read."""
    try:
        return reader.read_file(spec)
    except _FileAbsentError:
        raise ChipRefusedError(f"READ BINARY of {spec.name}: the chip has no such file", sw=SW_FILE_NOT_FOUND,
                               hint="this chip is not a complete eMRTD (ICAO 9303-10 requires the file)") from None
    except _FileProtectedError:
        raise ChipRefusedError(f"READ BINARY of {spec.name}: the chip refuses to give the file",
                               sw=SW_SECURITY_STATUS, hint=_HINT_CHIP_ERROR) from None


def _pace_rank(params: PACEParameters) -> tuple[int, int, int]:
    """Where ``params`` stands in cardlib's preference: mapping, then key agreement, then cipher."""
    algorithm = params.algorithm
    return (PACE_MAPPING_PREFERENCE.index(params.mapping),
            _KEY_AGREEMENT_PREFERENCE.index(algorithm.key_agreement or ""),
            _CIPHER_PREFERENCE.index(algorithm.cipher or ""))


def pace_candidates(infos: Sequence[PACEInfo]) -> list[PACEParameters]:
    """The PACEInfos cardlib can run, best first (CAM > IM > GM, ECDH > DH, AES-128 first); an info without a
    standardized parameter ID, or one cardlib cannot run, is left out.  UnsupportedAccessError when none is left.
    """
    candidates = []
    for info in infos:
        if info.parameter_id is None:
            continue
        try:
            candidates.append(PACEParameters(info.protocol, info.parameter_id))
        except ProtocolError:
            continue
    if not candidates:
        listed = ", ".join(f"{info.protocol} (parameter ID {info.parameter_id})" for info in infos)
        raise UnsupportedAccessError(f"EF.CardAccess lists no PACE protocol cardlib supports: {listed}")
    return sorted(candidates, key=_pace_rank)


def _pace(channel: _Channel, key: AccessKey, infos: Sequence[PACEInfo]) -> SecureMessaging | None:
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
        command = CommandAPDU(0x00, 0x22, 0xC1, 0xA4, terminal.set_at_data(include_parameter_id=several))
        response = channel.exchange(command)
        if response.sw in _SET_AT_DATA_REFUSALS:
            command = CommandAPDU(0x00, 0x22, 0xC1, 0xA4, terminal.set_at_data(include_parameter_id=not several))
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
        raise refused("PACE step 0", command, response.sw, _HINT_CHIP_ERROR)
    channel.pace_terminal = terminal
    steps: tuple[Callable[[bytes], bytes], ...] = (terminal.general_authenticate_2,
                                                   terminal.general_authenticate_3)
    data = _general_authenticate(channel, 1, terminal.general_authenticate_1())
    for number, step in enumerate(steps, start=2):
        data = _general_authenticate(channel, number, step(data))
    command = CommandAPDU(0x00, 0x86, 0x00, 0x00, terminal.general_authenticate_4(data), le=256)
    final = channel.exchange(command)
    if final.sw in _WRONG_KEY_SWS or final.sw >> 4 == 0x63C:
        raise WrongAccessKeyError(f"the {key.kind} does not match this card", sw=final.sw)
    if not final.ok:
        raise refused("PACE step 4", command, final.sw, _HINT_CHIP_ERROR)
    return terminal.complete(final.data)


def _general_authenticate(channel: _Channel, number: int, data: bytes) -> bytes:
    """One chained GENERAL AUTHENTICATE of PACE steps 1-3 (CLA 10: more commands follow)."""
    return channel.require_ok(CommandAPDU(0x10, 0x86, 0x00, 0x00, data, le=256), f"PACE step {number}").data


def _bac(channel: _Channel, key: AccessKey) -> SecureMessaging:
    if key.kind != "MRZ":
        why = f" ({'; '.join(channel.notes)})" if channel.notes else ""
        raise UnsupportedAccessError(f"this chip offers only BAC, which needs the MRZ: a CAN cannot open it{why}")
    terminal = BACTerminal(key.secret)
    challenge = channel.require_ok(CommandAPDU(0x00, 0x84, 0x00, 0x00, le=8), "BAC step 1").data
    command = CommandAPDU(0x00, 0x82, 0x00, 0x00, terminal.mutual_authenticate_data(challenge), le=40)
    response = channel.exchange(command)
    if response.sw in _BAC_WRONG_KEY_SWS:
        raise WrongAccessKeyError("the MRZ does not match this card", sw=response.sw)
    if not response.ok:
        raise refused("BAC step 2", command, response.sw, _HINT_CHIP_ERROR)
    return terminal.complete(response.data)


def _open_pace(channel: _Channel, key: AccessKey, infos: Sequence[PACEInfo]) -> SecureMessaging | None:
    """A PACE session with the eMRTD application selected; None when the chip does not do PACE."""
    channel.sm = _pace(channel, key, infos)
    if channel.sm is not None:
        _select_application(channel)
    return channel.sm


def _reopen_pace(channel: _Channel, key: AccessKey, infos: Sequence[PACEInfo]) -> SecureMessaging:
    session = _open_pace(channel, key, infos)
    if session is None:
        raise UnsupportedAccessError("the chip refused PACE when the session had to be opened again")
    return session


def _open_bac(channel: _Channel, key: AccessKey) -> SecureMessaging:
    """A BAC session, opened in the eMRTD application."""
    _select_application(channel)
    channel.sm = _bac(channel, key)
    return channel.sm


def _open(channel: _Channel, reader: _FileReader, key: AccessKey,
          model: _Model) -> tuple[AccessMethod, bytes | None]:
    """Access control: PACE when EF.CardAccess offers it, else BAC; leaves the eMRTD application selected.

    Once EF.CardAccess tells the chip model, a read path remembered for it is adopted.  Returns the method
    used and EF.CardAccess (None when the chip has none or will not give it).
    """
    card_access, refusal = _read_card_access(channel, reader)
    model.recognise(card_access, refusal, reader)
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


class _Model:
    """The chip model of this read (ATR + EF.CardAccess) and the memory of read paths, when one is kept."""

    def __init__(self, models: ChipModels | None, atr: bytes) -> None:
        self.models = models
        self.atr = atr
        self.id = ""

    def recognise(self, card_access: bytes | None, refusal: int | None, reader: _FileReader) -> None:
        self.id = model_id(self.atr, card_access, refusal)
        known = self.models.recall(self.id) if self.models is not None else None
        if known is not None:
            reader.adopt(known)
            reader.channel.notes.append(f"chip model {self.id[:8]} is known: its read path was taken first")

    def learnt(self, reader: _FileReader) -> None:
        if self.models is not None and self.id:
            self.models.remember(self.id, reader.path())


def _read_files(reader: _FileReader, wanted: Sequence[str] | None) -> tuple[dict[str, bytes], list[str]]:
    """EF.COM, the data groups it lists (or those ``wanted`` among them), then EF.SOD.

    A malformed (or empty) EF.COM does not stop the read: it is kept as read for the verifier to judge, a
    note says so, and the data groups come from EF.SOD instead (:func:`_read_without_com`).  A chip without
    EF.SOD is read too, with a note: nothing then proves the data, which the verifier says ("cannot tell").
    """
    files = {EF_COM.name: _read_required(reader, EF_COM)}
    protected: list[str] = []
    try:
        numbers = EFCOM.decode(files[EF_COM.name]).data_groups
    except CardlibError as exc:
        _read_without_com(reader, wanted, files, protected, exc)
        return files, protected
    _read_listed(reader, _chosen(numbers, wanted), files, protected, lister="EF.COM")
    _read_sod(reader, files, protected)
    return files, protected


def _read_sod(reader: _FileReader, files: dict[str, bytes], protected: list[str]) -> None:
    _read_listed(reader, [EF_SOD], files, protected, lister=None)
    if EF_SOD.name not in files and EF_SOD.name not in protected:
        reader.channel.notes.append("the chip has no EF.SOD (file not found, SW 6A82): nothing signed was read")


def _chosen(numbers: Sequence[int], wanted: Sequence[str] | None) -> list[FileSpec]:
    return [DATA_GROUPS[number] for number in numbers
            if number in DATA_GROUPS and (wanted is None or DATA_GROUPS[number].name in wanted)]


def _read_listed(reader: _FileReader, specs: Sequence[FileSpec], files: dict[str, bytes], protected: list[str], *,
                 lister: str | None) -> None:
    """Read ``specs`` into ``files`` (refused ones into ``protected``).  A file ``lister`` lists but the chip
    lacks is a faulty chip; with no lister (probing) an absent file is simply not there."""
    for spec in specs:
        try:
            files[spec.name] = reader.read_file(spec)
        except _FileProtectedError:
            protected.append(spec.name)
        except _FileAbsentError:
            if lister is None:
                continue
            raise ChipRefusedError(f"READ BINARY of {spec.name}: {lister} lists it but the chip has no such file",
                                   hint=f"the chip's {lister} and files disagree: report the card as faulty",
                                   sw=SW_FILE_NOT_FOUND) from None


def _read_without_com(reader: _FileReader, wanted: Sequence[str] | None, files: dict[str, bytes],
                      protected: list[str], error: CardlibError) -> None:
    """EF.COM does not decode: read EF.SOD, then the data groups it lists; when EF.SOD too is absent, empty or
    does not decode, probe DG1-DG16 (a data group the chip lacks is skipped).  Notes say which was done."""
    notes = reader.channel.notes
    why = "is empty" if not files[EF_COM.name] else f"does not decode ({error})"
    _read_sod(reader, files, protected)
    sod = files.get(EF_SOD.name)
    try:
        numbers = sorted(SOD.decode(sod).lds_security_object.dg_hashes) if sod else None
    except CardlibError:
        numbers = None
    if numbers is not None:
        notes.append(f"EF.COM {why}: the data groups EF.SOD lists were read")
        _read_listed(reader, _chosen(numbers, wanted), files, protected, lister="EF.SOD")
        return
    state = ("refused" if EF_SOD.name in protected else "absent") if sod is None else "empty" if not sod else \
        "malformed"
    notes.append(f"EF.COM {why} and EF.SOD is {state}: DG1-DG16 were probed")
    _read_listed(reader, _chosen(range(1, 17), wanted), files, protected, lister=None)


def _pace_cam(channel: _Channel, reader: _FileReader,
              terminal: PACETerminal | None) -> tuple[ChipAuthResult, bytes | None]:
    """After PACE-CAM: EF.CardSecurity from the master file, and whether the chip's authentication data proves
    the static key it holds (passed), does not (failed: a clone), or cannot be checked (not performed).

    The file's signature is not checked here: the verifier does (``cardsecurity.*``), and a PACE-CAM result
    counts only with it.  Leaves the eMRTD application selected.
    """
    if terminal is None or terminal.params.mapping != "CAM":
        return ChipAuthResult(False, False, "not opened with PACE-CAM"), None
    try:
        command, response = _select(channel, 0x00, _MF_FID)
        if not response.ok:
            raise refused("SELECT of the master file", command, response.sw, _HINT_CHIP_ERROR)
        data = reader.read_file(EF_CARD_SECURITY, learn_sfi=False)
    except (_FileAbsentError, _FileProtectedError, ChipRefusedError) as exc:
        why = str(exc) if isinstance(exc, ChipRefusedError) else "the chip gives no EF.CardSecurity"
        return ChipAuthResult(False, False, f"PACE-CAM cannot be checked ({why}): the key its authentication "
                              "data proves is in EF.CardSecurity"), None
    finally:
        _select_application(channel)
    try:
        keys = CardSecurity.decode(data).chip_authentication_keys
    except CardlibError as exc:
        return ChipAuthResult(False, False, f"PACE-CAM cannot be checked: {exc}"), data
    curve = terminal.params.curve
    candidates = [info.public_key for info in keys
                  if isinstance(info.public_key, ECPublicKeyInfo) and info.public_key.curve == curve]
    if not candidates:
        return ChipAuthResult(False, False, f"PACE-CAM cannot be checked: EF.CardSecurity holds no Chip "
                              f"Authentication key on {curve.name}"), data
    failures = []
    for public_key in candidates:
        try:
            terminal.verify_chip_authentication(public_key)
        except ProtocolError as exc:
            failures.append(str(exc))
            continue
        return ChipAuthResult(True, True, "the chip's PACE-CAM authentication data proves the static key of "
                              "EF.CardSecurity (its signature: see cardsecurity.signature)"), data
    return ChipAuthResult(True, False, f"PACE-CAM: {'; '.join(failures)}"), data


def _chip_authentication(channel: _Channel, reader: _FileReader, dg14: bytes | None) -> ChipAuthResult:
    if dg14 is None:
        return ChipAuthResult(False, False, "no DG14 on the chip")
    infos = DG14.decode(dg14)
    key_info = next(iter(infos.chip_authentication_public_key_infos), None)
    if key_info is None:
        return ChipAuthResult(False, False, "DG14 has no ChipAuthenticationPublicKeyInfo")
    if not isinstance(key_info.public_key, ECPublicKeyInfo):
        return ChipAuthResult(False, False, "DG14 holds a Diffie-Hellman key: only ECDH is supported")
    protocol = next((info.protocol for info in infos.chip_authentication_infos
                     if info.key_id in (None, key_info.key_id)), _CA_ECDH_3DES)
    try:
        terminal = CATerminal(key_info.public_key, protocol, key_info.key_id)
    except ProtocolError as exc:
        return ChipAuthResult(False, False, f"Chip Authentication not possible: {exc}")
    try:
        for command in terminal.commands():
            channel.require_ok(command, "Chip Authentication", "the read is complete; this chip failed Chip "
                               "Authentication")
        channel.sm = terminal.complete()
        channel.ca_terminal, channel.after_switch = terminal, []
        channel.reopen = None  # a session opened again would not be the chip-authenticated one
        reader.session_changed()
        _select_application(channel)
    except ChipRefusedError as exc:
        return ChipAuthResult(True, False, str(exc))
    except SecureMessagingError as exc:
        channel.sm = None  # the chip ended the session; nothing more can be sent under it
        return ChipAuthResult(True, False, str(exc))
    return ChipAuthResult(True, True, "secure messaging continues under keys agreed with the DG14 key")


_EAC_FILES = (DATA_GROUPS[3], DATA_GROUPS[4])


def _terminal_authentication(channel: _Channel, reader: _FileReader, eac: EACCredentials | None, id_picc: bytes,
                             ca_result: ChipAuthResult, contents: dict[str, bytes],
                             refused_files: list[str]) -> TerminalAuthResult:
    """Terminal Authentication when it can open something (credentials given, DG3/DG4 refused, CA passed),
    then the refused EAC files read again into ``contents``; those released leave ``refused_files``."""
    wanted = [spec.name for spec in _EAC_FILES if spec.name in refused_files]
    if eac is None:
        return NO_EAC
    if not wanted:
        return TerminalAuthResult(False, False, "the chip refused no EAC-protected file (DG3, DG4)")
    if not ca_result.passed or channel.ca_terminal is None or channel.sm is None:
        return TerminalAuthResult(False, False, "Terminal Authentication needs a passed Chip Authentication")
    cars = _ef_cvca(reader)
    first = eac.chain[0].car
    if cars and first not in cars:
        return TerminalAuthResult(False, False, f"the chip trusts CVCA {' and '.join(cars)}, the terminal's "
                                  f"chain starts from {first}")
    try:
        terminal = TATerminal(eac.chain, eac.signer, id_picc=id_picc,
                              ephemeral_public_key=channel.ca_terminal.ephemeral_public_key)
        for step in terminal.steps():
            challenge = terminal.check(step, channel.exchange(step.command))
        final = terminal.external_authenticate(challenge)
        terminal.check(final, channel.exchange(final.command))
    except TAError as exc:
        return TerminalAuthResult(True, False, str(exc))
    except SecureMessagingError as exc:
        channel.sm = None  # the chip ended the session; nothing more can be sent under it
        return TerminalAuthResult(True, False, str(exc))
    except ProtocolError as exc:  # a chain not ending with an inspection system, a malformed challenge
        return TerminalAuthResult(True, False, f"Terminal Authentication: {exc}")
    still: list[str] = []
    _read_listed(reader, [spec for spec in _EAC_FILES if spec.name in wanted], contents, still, lister=None)
    released = tuple(name for name in wanted if name in contents)
    refused_files[:] = [name for name in refused_files if name not in released]
    granted = ", ".join(released) or "none of " + ", ".join(wanted)
    return TerminalAuthResult(True, True, f"the chip accepted {terminal.chain[-1].chr}; released: {granted}",
                              released)


def _ef_cvca(reader: _FileReader) -> list[str]:
    """The CVCA keys EF.CVCA names; empty when the chip has none, refuses it, or it does not decode."""
    try:
        return decode_ef_cvca(reader.read_file(EF_CVCA, learn_sfi=False))
    except (_FileAbsentError, _FileProtectedError, ChipRefusedError, DecodeError):
        return []
    finally:
        reader.channel.file = None


def _id_picc(pace_terminal: PACETerminal | None, key: AccessKey) -> bytes:
    """The chip's identifier Terminal Authentication signs: after PACE its ephemeral key, after BAC the document
    number with its check digit (from the MRZ information)."""
    if pace_terminal is not None:
        return id_picc_after_pace(pace_terminal.chip_ephemeral_public_key)
    return id_picc_after_bac(key.secret[:-_MRZ_INFORMATION_TAIL])


def _active_authentication(channel: _Channel, reader: _FileReader, dg15: bytes | None,
                           challenge: bytes) -> ActiveAuthResult:
    if dg15 is None:
        return ActiveAuthResult(False, False, "no DG15 on the chip")
    public_key = DG15.decode(dg15).public_key.cryptography_key()
    if public_key is None:
        return ActiveAuthResult(False, False, "the DG15 key's curve is not supported for signature checks")
    command = CommandAPDU(0x00, 0x88, 0x00, 0x00, challenge, le=EXTENDED_READ_SIZE if reader.extended else 256)
    try:
        response = channel.exchange(command)
    except _ExtendedUnsupportedError:
        response = ResponseAPDU(b"", SW_WRONG_LENGTH)
    if response.sw in _EXTENDED_REFUSALS and command.le != _signature_length(public_key):
        command = CommandAPDU(0x00, 0x88, 0x00, 0x00, challenge, le=_signature_length(public_key))
        response = channel.exchange(command)
    if not response.ok:
        error = refused("Active Authentication", command, response.sw, "the read is complete; this chip failed "
                        "Active Authentication")
        return ActiveAuthResult(True, False, str(error), challenge)
    verdict = aa_verify(public_key, challenge, response.data)
    return ActiveAuthResult(True, verdict.ok, verdict.reason, challenge, response.data)


def _signature_length(public_key: PublicKey) -> int:
    """The longest Active Authentication signature ``public_key`` verifies: the modulus, or DER ``r, s``."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return (public_key.key_size + 7) // 8
    return 2 * ((public_key.curve.key_size + 7) // 8) + _DER_SIGNATURE_OVERHEAD


def read_card(
    transport: Transport,
    key: AccessKey,
    *,
    files: Sequence[str] | None = None,
    active_auth: bool = True,
    chip_auth: bool = True,
    extended_length: bool = True,
    max_read: int | None = None,
    budget: ReadBudget | None = None,
    models: ChipModels | None = None,
    trace: APDUTrace | None = None,
    on_progress: ProgressCallback | None = None,
    aa_challenge: bytes | None = None,
    eac: EACCredentials | None = None,
) -> ReadResult:
    """Open the chip with ``key``, read its files under secure messaging, and run Chip/Active Authentication.

    ``files`` limits the data groups read (names such as ``"DG1"``); EF.COM and EF.SOD are always read, and
    DG14/DG15 whenever the check that needs them is requested.  ``extended_length`` False never asks for
    more than a short response; ``max_read`` caps the bytes asked per READ BINARY.  ``budget`` bounds the
    whole read (default: the :mod:`cardlib.limits` budgets).  What the reader had to work around is in
    :attr:`ReadResult.notes`.  ``models`` remembers per chip model what worked (:mod:`cardlib.reader.models`)
    and starts each read from it.  ``trace`` is told every plain exchange (:mod:`cardlib.reader.trace`:
    never a secret).  ``on_progress`` is called with a :class:`~cardlib.reader.progress.ReadEvent` at each
    step (a callback that raises is logged and dropped, the read goes on: :mod:`cardlib.reader.progress`).
    ``aa_challenge`` is the 8-byte challenge Active Authentication signs (default: random), e.g. a verifier's
    nonce so that the signature proves this read happened after the verifier asked (:mod:`cardlib.evidence`).
    ``eac`` are the terminal's Terminal Authentication credentials: with them the DG3/DG4 the chip refused are
    read after TA (:attr:`ReadResult.terminal_auth` says how it went; a refusal never stops the read).
    Raises WrongAccessKeyError, ChipRefusedError, SecureMessagingError, CardRemovedError,
    LimitExceeded and the other CardlibErrors; never returns a partial dump.
    """
    if not callable(getattr(transport, "transmit", None)):
        raise TypeError(f"read_card(): transport must have transmit(bytes) -> bytes (e.g. connect(...)), "
                        f"got {type(transport).__name__}")
    if not isinstance(key, AccessKey):
        raise TypeError(f"read_card(): key must be an AccessKey (AccessKey.can(...)), got {type(key).__name__}")
    if aa_challenge is not None and (not isinstance(aa_challenge, bytes) or len(aa_challenge) != _CHALLENGE_LENGTH):
        raise ValidationError(f"the Active Authentication challenge is {_CHALLENGE_LENGTH} bytes (ICAO 9303-11 "
                              "§6.1)", field="aa_challenge")
    wanted = _wanted_files(files, chip_auth=chip_auth, active_auth=active_auth)
    recorder = RecordingTransport(transport, keep_records=False)
    channel = _Channel(recorder, budget or ReadBudget())
    channel.trace = trace
    channel.progress = progress = ProgressReporter(on_progress)
    if max_read is not None and not _MIN_READ_SIZE <= max_read <= EXTENDED_READ_SIZE:
        raise ValidationError(f"between {_MIN_READ_SIZE} and {EXTENDED_READ_SIZE} bytes per READ BINARY",
                              field="max_read")
    reader = _FileReader(channel, extended=extended_length, max_read=max_read)
    timings: dict[str, float] = {}
    model = _Model(models, transport_atr(transport))
    progress(ReadEvent(ReadPhase.ACCESS_CONTROL, ReadStage.STARTED))
    with _timed(timings, "access"):
        access, card_access = _open(channel, reader, key, model)
    progress(ReadEvent(ReadPhase.ACCESS_CONTROL, ReadStage.DONE, protocol=access))
    channel.phase = "files"
    pace_terminal = channel.pace_terminal if access != "BAC" else None
    with _timed(timings, "access"):
        pace_cam, card_security = _pace_cam(channel, reader, pace_terminal)
    with _timed(timings, "read"):
        contents, protected = _read_files(reader, wanted)
    if card_access is not None:
        contents[EF_CARD_ACCESS.name] = card_access
    if card_security is not None:
        contents[EF_CARD_SECURITY.name] = card_security
    cipher = channel.sm.cipher if channel.sm is not None else ""
    ca_result = ChipAuthResult(False, False, "not requested")
    if chip_auth:
        channel.phase = "Chip Authentication"
        progress(ReadEvent(ReadPhase.CHIP_AUTHENTICATION, ReadStage.STARTED))
        with _timed(timings, "chip_auth"):
            ca_result = _chip_authentication(channel, reader, contents.get("DG14") or None)
        progress(ReadEvent(ReadPhase.CHIP_AUTHENTICATION, ReadStage.DONE, passed=ca_result.passed))
    channel.phase = "Terminal Authentication"
    with _timed(timings, "terminal_auth"):
        ta_result = _terminal_authentication(channel, reader, eac, _id_picc(pace_terminal, key), ca_result,
                                             contents, protected)
    aa_result = ActiveAuthResult(False, False, "not requested")
    if active_auth and channel.sm is not None:
        channel.phase = "Active Authentication"
        progress(ReadEvent(ReadPhase.ACTIVE_AUTHENTICATION, ReadStage.STARTED))
        with _timed(timings, "active_auth"):
            aa_result = _active_authentication(channel, reader, contents.get("DG15") or None,
                                               aa_challenge or os.urandom(_CHALLENGE_LENGTH))
        progress(ReadEvent(ReadPhase.ACTIVE_AUTHENTICATION, ReadStage.DONE, passed=aa_result.passed))
    elif active_auth:
        aa_result = ActiveAuthResult(False, False, "skipped: secure messaging was lost when Chip Authentication failed")
    if ca_result.passed and channel.ca_terminal is not None and channel.after_switch is not None:
        ca_result = replace(ca_result, transcript=channel.ca_terminal.transcript(channel.after_switch))
    if progress.failure:
        channel.notes.append(progress.failure)
    model.learnt(reader)
    return ReadResult(
        dump=CardImage(contents),
        access=access,
        cipher=cipher,
        chip_auth=ca_result,
        active_auth=aa_result,
        protected_files=tuple(protected),
        timings=PhaseTimings(**timings),
        apdu_count=recorder.statistics.apdus,
        bytes_read=sum(len(data) for data in contents.values()),
        read_size=reader.size,
        read_size_fallbacks=reader.fallbacks,
        notes=tuple(channel.notes),
        chip_model=model.id,
        pace_protocol=pace_terminal.params.algorithm.name if pace_terminal is not None else "",
        pace_cam=pace_cam,
        terminal_auth=ta_result,
    )


def _wanted_files(files: Sequence[str] | None, *, chip_auth: bool, active_auth: bool) -> list[str] | None:
    if files is None:
        return None
    for name in files:
        try:
            by_name(name)
        except KeyError:
            raise CardlibError(f"no LDS file is called {name!r} (use names like 'DG1', 'DG13')") from None
    return [*files, *(["DG14"] if chip_auth else []), *(["DG15"] if active_auth else [])]

