"""Reading a CCCD chip: access control, secure file reads, Chip and Active Authentication.

:func:`read_card` runs the inspection procedure of ICAO 9303-11 over any :class:`Transport`:

1. EF.CardAccess is read in the clear from the master file.  When it lists a PACEInfo the chip is opened
   with PACE (CAN or MRZ); otherwise with BAC (MRZ only).  A failed PACE is reported, never retried as BAC.
2. The eMRTD application is selected and EF.COM, the data groups it lists and EF.SOD are read under
   secure messaging with an adaptive read size (:class:`_FileReader`), so a ~25 KB card takes a handful of
   APDUs when the chip takes extended length, and still reads when it does not.
3. Chip Authentication (DG14) switches the session keys; Active Authentication (DG15) signs a fresh
   challenge.  Both are *live checks*: their outcome is a result object, not an exception.

A chip is hostile input: every read runs under a :class:`ReadBudget` (a deadline and an APDU count for the
whole read, checked before each command; a byte cap per file, checked on its TLV header before its body is
read, and per card), so a chip that declares a huge file or dribbles a few bytes per answer is stopped with
:class:`~cardlib.limits.LimitExceeded` in bounded time.

Everything that stops a read raises a typed :class:`~cardlib.errors.CardlibError` a person can act on;
a half-read card is never returned as a result.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from cardlib.card.image import CardImage
from cardlib.errors import CardError, CardlibError, DecodeError, ProtocolError, ValidationError
from cardlib.lds.asn1 import ECPublicKeyInfo
from cardlib.lds.com import EFCOM
from cardlib.lds.dg15 import DG15
from cardlib.lds.files import DATA_GROUPS, EF_CARD_ACCESS, EF_COM, EF_SOD, EMRTD_AID, FileSpec, by_name
from cardlib.lds.securityinfo import DG14, CardAccess, PACEInfo
from cardlib.lds.tlv import encode_length, read_tlv
from cardlib.limits import MAX_CARD_BYTES, MAX_FILE_BYTES, MAX_READ_APDUS, READ_DEADLINE_SECONDS, LimitExceeded
from cardlib.model.mrz import check_digit
from cardlib.protocols.aa import aa_verify
from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU
from cardlib.protocols.bac import BACTerminal
from cardlib.protocols.ca import CATerminal
from cardlib.protocols.pace import PACEParameters, PACETerminal
from cardlib.protocols.sm import SecureMessaging
from cardlib.reader.transport import CardRemovedError, RecordingTransport, Transport

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
_SFI_REFUSALS = (0x6A81, 0x6A86)  # function not supported, incorrect P1-P2
_MAX_SFI_OFFSET = 0xFF
_MAX_B0_OFFSET = 0x7FFF
_TAG_OFFSET_DO = 0x54
_TAG_DISCRETIONARY_DO = 0x53
_CHALLENGE_LENGTH = 8
_HEADER_PROBE = 8

# PACE protocols in order of preference (BSI TR-03110-3 A.1.1): ECDH generic mapping with AES first.
_PACE_PREFERENCE = (
    "0.4.0.127.0.7.2.2.4.2.2",  # id-PACE-ECDH-GM-AES-CBC-CMAC-128
    "0.4.0.127.0.7.2.2.4.2.3",  # id-PACE-ECDH-GM-AES-CBC-CMAC-192
    "0.4.0.127.0.7.2.2.4.2.4",  # id-PACE-ECDH-GM-AES-CBC-CMAC-256
    "0.4.0.127.0.7.2.2.4.2.1",  # id-PACE-ECDH-GM-3DES-CBC-CBC
)
_CA_ECDH_3DES = "0.4.0.127.0.7.2.2.3.2.1"  # id-CA-ECDH-3DES-CBC-CBC, implied when DG14 has no ChipAuthenticationInfo


class WrongAccessKeyError(CardError):
    """The chip rejected the access key: the CAN or MRZ typed does not belong to this card."""


class ChipRefusedError(CardError):
    """The chip answered a command with an error status word (the message gives SW and its meaning)."""


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
    def mrz(cls, mrz_information: str) -> AccessKey:
        """An MRZ key from the ready-made MRZ information string (ICAO 9303-11 §9.7.1.1)."""
        return cls("MRZ", mrz_information)

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
    """Outcome of Chip Authentication: whether it ran, whether the chip proved its DG14 key, and why."""

    performed: bool
    passed: bool
    reason: str


@dataclass(frozen=True)
class ActiveAuthResult:
    """Outcome of Active Authentication: whether it ran, whether the DG15 key verified the signature, and why."""

    performed: bool
    passed: bool
    reason: str


@dataclass(frozen=True)
class PhaseTimings:
    """Seconds spent in each phase of the read."""

    access: float = 0.0
    read: float = 0.0
    chip_auth: float = 0.0
    active_auth: float = 0.0

    @property
    def total(self) -> float:
        """All phases together."""
        return self.access + self.read + self.chip_auth + self.active_auth


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

    @property
    def bytes_per_apdu(self) -> float:
        """File bytes obtained per APDU exchanged (the whole session, access and checks included)."""
        return self.bytes_read / self.apdu_count if self.apdu_count else 0.0


class _FileProtectedError(Exception):
    """Internal signal: the chip refused a file with 6982 (e.g. DG3 without Terminal Authentication)."""


class _FileAbsentError(Exception):
    """Internal signal: the chip has no such file (6A82)."""


class _SFIRefusedError(Exception):
    """Internal signal: the chip does not take READ BINARY with a short file identifier."""


class _Channel:
    """APDU exchange with or without secure messaging, under the read's deadline and APDU budget.

    Turns card removal into an error naming the file; the budget is spent from the moment it is made.
    """

    def __init__(self, transport: RecordingTransport, budget: ReadBudget) -> None:
        self.transport = transport
        self.budget = budget
        self.deadline = time.monotonic() + budget.deadline_seconds
        self.sm: SecureMessaging | None = None
        self.file: str | None = None
        self.offset: int | None = None

    def exchange(self, command: CommandAPDU) -> ResponseAPDU:
        """Send ``command`` (protected when a session is open) and return the plain response."""
        self._check_budget()
        sent = self.sm.protect_command(command) if self.sm is not None else command
        try:
            raw = self.transport.transmit(sent.encode())
        except CardRemovedError as exc:
            raise CardRemovedError(exc.reason, file=self.file, offset=self.offset) from None
        response = ResponseAPDU.parse(raw)
        if self.sm is None:
            return response
        if response.sw in (SW_SM_MISSING, SW_SM_INCORRECT):
            raise SecureMessagingError(f"the chip reports broken secure messaging: {sw_meaning(response.sw)}")
        try:
            return self.sm.unprotect_response(response)
        except ProtocolError as exc:
            raise SecureMessagingError(f"secure messaging broken: {exc}") from None

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

    def require_ok(self, command: CommandAPDU, what: str) -> ResponseAPDU:
        """Exchange and insist on 9000; ChipRefusedError naming ``what`` otherwise."""
        response = self.exchange(command)
        if not response.ok:
            raise ChipRefusedError(f"the chip refused {what}: {sw_meaning(response.sw)}", sw=response.sw)
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
    short read (256 in the clear, 223/231 under secure messaging).  Falls back on 6700, 6B00 and an empty
    6282 to a smaller size, follows 6Cxx to the exact length, and shrinks to what a chip silently delivers.
    """

    def __init__(self, channel: _Channel, *, extended: bool) -> None:
        self.channel = channel
        self.extended = extended
        self.size = self._largest()
        self.fallbacks = 0
        self.use_sfi = True
        self.card_bytes = 0

    def _short_limit(self) -> int:
        sm = self.channel.sm
        return sm.max_plain_read if sm is not None else SHORT_READ_SIZE

    def _largest(self) -> int:
        return EXTENDED_READ_SIZE if self.extended else self._short_limit()

    def session_changed(self) -> None:
        """Secure messaging started or changed: the short read limit may now be lower; what was learnt stays."""
        self.size = min(self._largest(), self.size)

    def read_file(self, spec: FileSpec) -> bytes:
        """Select and read ``spec``: by its SFI in the first READ BINARY (no SELECT) while the chip takes that."""
        if self.use_sfi:
            try:
                return self.read(spec.name, sfi=spec.sfi)
            except _SFIRefusedError:
                self.use_sfi = False
        _select_file(self.channel, spec)
        return self.read(spec.name)

    def read(self, name: str, sfi: int | None = None) -> bytes:
        """The whole file ``name`` (selected already, or by ``sfi`` at the first read)."""
        data = bytearray()
        total: int | None = None
        while total is None or len(data) < total:
            chunk, asked = self._chunk(name, len(data), None if total is None else total - len(data),
                                       sfi if not data else None)
            if not chunk:
                raise DecodeError("the chip returned no data before the end of the file", file=name, offset=len(data))
            data += chunk
            if total is None:
                total = self._total(name, bytes(data))
                if total is not None and len(data) < total and len(chunk) < asked:
                    self._shrink_to(name, len(data), len(chunk))
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
            response = self.channel.exchange(_read_binary(offset, le, sfi if offset <= _MAX_SFI_OFFSET else None))
            if response.ok or (response.sw == SW_END_OF_FILE and response.data):
                data = self._unwrap(name, offset, response.data)
                if offset <= _MAX_B0_OFFSET and remaining is not None and len(data) < min(le, remaining):
                    self._shrink_to(name, offset, len(data))
                return data, le
            if sfi is not None and response.sw in _SFI_REFUSALS:
                raise _SFIRefusedError(name)
            le = self._retry_size(name, offset, le, remaining, response.sw)

    def _shrink_to(self, name: str, offset: int, delivered: int) -> None:
        """The chip silently delivers only ``delivered`` bytes per read: ask for that from now on."""
        if delivered < _MIN_READ_SIZE:
            raise ChipRefusedError(f"the chip returns only {delivered} bytes per READ BINARY of {name} at offset "
                                   f"{offset}: too few to read a file")
        self.size = delivered

    def _ne(self, offset: int, remaining: int | None) -> int:
        if remaining is None:
            return self.size
        if offset <= _MAX_B0_OFFSET:
            return min(self.size, remaining)
        return min(self.size, remaining + _wrapper_length(remaining))

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

    def _retry_size(self, name: str, offset: int, le: int, remaining: int | None, sw: int) -> int:
        if sw == SW_SECURITY_STATUS:
            raise _FileProtectedError(name)
        if sw == SW_FILE_NOT_FOUND and offset == 0:
            raise _FileAbsentError(name)
        if sw >> 8 == 0x6C and 0 < (sw & 0xFF or 256) < le:
            exact = sw & 0xFF or 256
            if remaining is not None and exact < remaining:
                self.size, self.fallbacks = exact, self.fallbacks + 1
            return exact
        if sw in (SW_WRONG_LENGTH, SW_WRONG_OFFSET, SW_END_OF_FILE):
            smaller = self._smaller(le)
            if smaller is not None:
                self.size, self.fallbacks = smaller, self.fallbacks + 1
                return smaller
        raise ChipRefusedError(f"the chip refused to read {name} at offset {offset}: {sw_meaning(sw)}", sw=sw)

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


def _select_file(channel: _Channel, spec: FileSpec) -> None:
    channel.file, channel.offset = spec.name, 0
    response = channel.exchange(CommandAPDU(0x00, 0xA4, 0x02, 0x0C, spec.fid_bytes))
    if response.sw == SW_FILE_NOT_FOUND:
        raise _FileAbsentError(spec.name)
    if response.sw == SW_SECURITY_STATUS:
        raise _FileProtectedError(spec.name)
    if not response.ok:
        raise ChipRefusedError(f"the chip refused to select {spec.name}: {sw_meaning(response.sw)}", sw=response.sw)


def _select_application(channel: _Channel) -> None:
    response = channel.exchange(CommandAPDU(0x00, 0xA4, 0x04, 0x0C, EMRTD_AID))
    if not response.ok:
        raise ChipRefusedError(f"no eMRTD application on this chip: {sw_meaning(response.sw)}", sw=response.sw)


def _read_card_access(channel: _Channel, reader: _FileReader) -> bytes | None:
    """EF.CardAccess from the master file, in the clear; None when the chip has none (a BAC-only chip)."""
    channel.exchange(CommandAPDU(0x00, 0xA4, 0x00, 0x0C, b"\x3f\x00"))
    try:
        return reader.read_file(EF_CARD_ACCESS)
    except _FileAbsentError:
        return None
    except _FileProtectedError:
        raise ChipRefusedError("the chip refuses to give EF.CardAccess", sw=SW_SECURITY_STATUS) from None


def _read_required(reader: _FileReader, spec: FileSpec) -> bytes:
    """A file the read cannot do without (EF.COM): its absence or protection is the chip refusing the read."""
    try:
        return reader.read_file(spec)
    except _FileAbsentError:
        raise ChipRefusedError(f"the chip has no {spec.name}", sw=SW_FILE_NOT_FOUND) from None
    except _FileProtectedError:
        raise ChipRefusedError(f"the chip refuses to give {spec.name}", sw=SW_SECURITY_STATUS) from None


def _choose_pace(infos: Sequence[PACEInfo]) -> PACEParameters:
    """The PACEInfo cardlib prefers among those the chip lists (AES before 3DES), as PACE parameters."""
    ranked = sorted(infos, key=lambda info: _PACE_PREFERENCE.index(info.protocol)
                    if info.protocol in _PACE_PREFERENCE else len(_PACE_PREFERENCE))
    for info in ranked:
        if info.parameter_id is None:
            continue
        try:
            return PACEParameters(info.protocol, info.parameter_id)
        except ProtocolError:
            continue
    listed = ", ".join(f"{info.protocol} (parameter ID {info.parameter_id})" for info in infos)
    raise UnsupportedAccessError(f"EF.CardAccess lists no PACE protocol cardlib supports: {listed}")


def _pace(channel: _Channel, key: AccessKey, infos: Sequence[PACEInfo]) -> SecureMessaging:
    terminal = PACETerminal(key.secret, key.kind, _choose_pace(infos))
    set_at = terminal.set_at_data(include_parameter_id=len(infos) > 1)
    channel.require_ok(CommandAPDU(0x00, 0x22, 0xC1, 0xA4, set_at), "PACE (MSE:Set AT)")
    steps: tuple[Callable[[bytes], bytes], ...] = (terminal.general_authenticate_2,
                                                   terminal.general_authenticate_3)
    response = _general_authenticate(channel, terminal.general_authenticate_1())
    for step in steps:
        response = _general_authenticate(channel, step(response))
    final = channel.exchange(CommandAPDU(0x00, 0x86, 0x00, 0x00, terminal.general_authenticate_4(response), le=256))
    if not final.ok:
        raise WrongAccessKeyError(f"the {key.kind} does not match this card", sw=final.sw)
    return terminal.complete(final.data)


def _general_authenticate(channel: _Channel, data: bytes) -> bytes:
    """One chained GENERAL AUTHENTICATE of PACE steps 1-3 (CLA 10: more commands follow)."""
    return channel.require_ok(CommandAPDU(0x10, 0x86, 0x00, 0x00, data, le=256), "PACE (GENERAL AUTHENTICATE)").data


def _bac(channel: _Channel, key: AccessKey) -> SecureMessaging:
    if key.kind != "MRZ":
        raise UnsupportedAccessError("this chip offers only BAC, which needs the MRZ: a CAN cannot open it")
    terminal = BACTerminal(key.secret)
    challenge = channel.require_ok(CommandAPDU(0x00, 0x84, 0x00, 0x00, le=8), "BAC (GET CHALLENGE)").data
    response = channel.exchange(CommandAPDU(0x00, 0x82, 0x00, 0x00, terminal.mutual_authenticate_data(challenge),
                                            le=40))
    if not response.ok:
        raise WrongAccessKeyError("the MRZ does not match this card", sw=response.sw)
    return terminal.complete(response.data)


def _open(channel: _Channel, reader: _FileReader, key: AccessKey) -> tuple[AccessMethod, bytes | None]:
    """Access control: PACE when EF.CardAccess offers it, else BAC; leaves the eMRTD application selected.

    Returns the method used and EF.CardAccess (None when the chip has none).
    """
    card_access = _read_card_access(channel, reader)
    pace_infos = CardAccess.decode(card_access).pace_infos if card_access is not None else ()
    if pace_infos:
        channel.sm = _pace(channel, key, pace_infos)
        reader.session_changed()
        _select_application(channel)
        return ("PACE-CAN" if key.kind == "CAN" else "PACE-MRZ"), card_access
    _select_application(channel)
    channel.sm = _bac(channel, key)
    reader.session_changed()
    return "BAC", card_access


def _read_files(reader: _FileReader, wanted: Sequence[str] | None) -> tuple[dict[str, bytes], list[str]]:
    """EF.COM, the data groups it lists (or those ``wanted`` among them), then EF.SOD."""
    files: dict[str, bytes] = {}
    protected: list[str] = []
    files[EF_COM.name] = _read_required(reader, EF_COM)
    listed = [DATA_GROUPS[number] for number in EFCOM.decode(files[EF_COM.name]).data_groups]
    chosen = [spec for spec in listed if wanted is None or spec.name in wanted]
    for spec in (*chosen, EF_SOD):
        try:
            files[spec.name] = reader.read_file(spec)
        except _FileProtectedError:
            protected.append(spec.name)
        except _FileAbsentError:
            raise ChipRefusedError(f"{spec.name} is listed but the chip has no such file",
                                   sw=SW_FILE_NOT_FOUND) from None
    return files, protected


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
            channel.require_ok(command, "Chip Authentication")
        channel.sm = terminal.complete()
        reader.session_changed()
        _select_application(channel)
    except ChipRefusedError as exc:
        return ChipAuthResult(True, False, str(exc))
    except SecureMessagingError as exc:
        channel.sm = None  # the chip ended the session; nothing more can be sent under it
        return ChipAuthResult(True, False, str(exc))
    return ChipAuthResult(True, True, "secure messaging continues under keys agreed with the DG14 key")


def _active_authentication(channel: _Channel, reader: _FileReader, dg15: bytes | None) -> ActiveAuthResult:
    if dg15 is None:
        return ActiveAuthResult(False, False, "no DG15 on the chip")
    public_key = DG15.decode(dg15).public_key.cryptography_key()
    if public_key is None:
        return ActiveAuthResult(False, False, "the DG15 key's curve is not supported for signature checks")
    challenge = os.urandom(_CHALLENGE_LENGTH)
    le = EXTENDED_READ_SIZE if reader.extended else SHORT_READ_SIZE
    response = channel.exchange(CommandAPDU(0x00, 0x88, 0x00, 0x00, challenge, le=le))
    if not response.ok:
        return ActiveAuthResult(True, False, f"the chip refused INTERNAL AUTHENTICATE: {sw_meaning(response.sw)}")
    verdict = aa_verify(public_key, challenge, response.data)
    return ActiveAuthResult(True, verdict.ok, verdict.reason)


def read_card(
    transport: Transport,
    key: AccessKey,
    *,
    files: Sequence[str] | None = None,
    active_auth: bool = True,
    chip_auth: bool = True,
    extended_length: bool = True,
    budget: ReadBudget | None = None,
) -> ReadResult:
    """Open the chip with ``key``, read its files under secure messaging, and run Chip/Active Authentication.

    ``files`` limits the data groups read (names such as ``"DG1"``); EF.COM and EF.SOD are always read, and
    DG14/DG15 whenever the check that needs them is requested.  ``extended_length`` False never asks for
    more than a short response.  ``budget`` bounds the whole read (default: the :mod:`cardlib.limits`
    budgets).  Raises WrongAccessKeyError, ChipRefusedError, SecureMessagingError, CardRemovedError,
    LimitExceeded and the other CardlibErrors; never returns a partial dump.
    """
    wanted = _wanted_files(files, chip_auth=chip_auth, active_auth=active_auth)
    recorder = RecordingTransport(transport, keep_records=False)
    channel = _Channel(recorder, budget or ReadBudget())
    reader = _FileReader(channel, extended=extended_length)
    timings: dict[str, float] = {}
    with _timed(timings, "access"):
        access, card_access = _open(channel, reader, key)
    with _timed(timings, "read"):
        contents, protected = _read_files(reader, wanted)
    if card_access is not None:
        contents[EF_CARD_ACCESS.name] = card_access
    cipher = channel.sm.cipher if channel.sm is not None else ""
    ca_result = ChipAuthResult(False, False, "not requested")
    if chip_auth:
        with _timed(timings, "chip_auth"):
            ca_result = _chip_authentication(channel, reader, contents.get("DG14"))
    aa_result = ActiveAuthResult(False, False, "not requested")
    if active_auth and channel.sm is not None:
        with _timed(timings, "active_auth"):
            aa_result = _active_authentication(channel, reader, contents.get("DG15"))
    elif active_auth:
        aa_result = ActiveAuthResult(False, False, "skipped: secure messaging was lost when Chip Authentication failed")
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

