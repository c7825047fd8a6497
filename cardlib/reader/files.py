"""Reading whole files from the chip: SELECT or SFI, the read-size policy, and the size from the TLV header.

:class:`FileReader` starts with the largest read the chip and reader may take (extended length, else the
largest short read) and learns from each refusal: extended length refused means short reads, an SFI refusal
means SELECT, 6700/6B00/an empty 6282 mean a smaller size (after an 8-byte header probe at offset 0), 6Cxx the
exact size, and a chip that silently delivers less is asked for that.  A file that gives nothing at offset 0,
even for one byte, is empty.  The file's size comes from its outer TLV header and is checked against the
read's byte budgets before its body is read.
"""

from __future__ import annotations

from cardlib.errors import DecodeError
from cardlib.lds.files import EMRTD_AID, FileSpec
from cardlib.lds.tlv import TruncatedError, encode_length, read_header, read_tlv
from cardlib.limits import LimitExceeded
from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU
from cardlib.protocols.instructions import Ins
from cardlib.protocols.status import (
    SW_CLA_NOT_SUPPORTED,
    SW_CONDITIONS,
    SW_END_OF_FILE,
    SW_FUNCTION_NOT_SUPPORTED,
    SW_INS_NOT_SUPPORTED,
    SW_LC_INCONSISTENT,
    SW_NO_CURRENT_EF,
    SW_NOT_FOUND,
    SW_SECURITY_STATUS,
    SW_UNKNOWN,
    SW_WRONG_LENGTH,
    SW_WRONG_OFFSET,
    SW_WRONG_P1P2,
    sw_meaning,
)
from cardlib.reader.channel import Channel, ExtendedUnsupportedError
from cardlib.reader.errors import HINT_CHIP_ERROR, HINT_READ, ChipRefusedError, SecureMessagingError, refused
from cardlib.reader.models import ReadPath
from cardlib.reader.progress import ReadEvent, ReadPhase, ReadStage

# Plaintext bytes asked for per extended READ BINARY: the protected response (DO87 + DO99 + DO8E + SW)
# stays below the 65535-byte messages of PC/SC drivers such as vpcd.
EXTENDED_READ_SIZE = 0xFF00
SHORT_READ_SIZE = 256
MAX_ADDRESSABLE_FILE_SIZE = 0xFFFFFF  # odd-INS READ BINARY offsets (DO54) have three bytes at most
_SMALLER_READS = (192, 160, 128, 112, 96, 80, 64, 48, 32, 16)
MIN_READ_SIZE = _SMALLER_READS[-1]
# How chips that do not take READ BINARY by short file identifier answer it (seen in the field).
_SFI_REFUSALS = (SW_CONDITIONS, SW_NO_CURRENT_EF, SW_FUNCTION_NOT_SUPPORTED, SW_WRONG_P1P2, SW_WRONG_OFFSET,
                 SW_INS_NOT_SUPPORTED, SW_CLA_NOT_SUPPORTED, SW_UNKNOWN)
# A chip whose files carry no SFI answers 6A82 (file not found) too: SELECT then tells whether it is there.
# How a card's runtime (or applet) refuses an extended-length APDU it does not take.
EXTENDED_REFUSALS = (SW_WRONG_LENGTH, SW_INS_NOT_SUPPORTED, SW_UNKNOWN)
# How a chip that wants SELECT to return file control information refuses P2=0C.
_SELECT_P2_REFUSALS = (SW_WRONG_LENGTH, SW_FUNCTION_NOT_SUPPORTED, SW_WRONG_P1P2, SW_LC_INCONSISTENT, SW_WRONG_OFFSET)
_MAX_SFI_OFFSET = 0xFF
_MAX_B0_OFFSET = 0x7FFF
MF_FID = b"\x3f\x00"
_TAG_OFFSET_DO = 0x54
_TAG_DISCRETIONARY_DO = 0x53
_HEADER_PROBE = 8


class FileProtectedError(Exception):
    """Internal signal: the chip refused a file with 6982 (e.g. DG3 without Terminal Authentication)."""


class FileAbsentError(Exception):
    """Internal signal: the chip has no such file (6A82)."""


class _EmptyFileError(Exception):
    """Internal signal: the file holds no bytes (nothing at offset 0, even for a one-byte read)."""


class _SFIRefusedError(Exception):
    """Internal signal: the chip does not take READ BINARY with a short file identifier."""


def _read_binary(offset: int, le: int, sfi: int | None) -> CommandAPDU:
    """READ BINARY: by short file identifier (offset ≤ 255), even INS B0 (≤ 32767), odd INS B1 above.

    ``le`` is Ne; for B1 it counts the DO53 wrapper around the data too.
    """
    if sfi is not None:
        return CommandAPDU(0x00, Ins.READ_BINARY, 0x80 | sfi, offset, le=le)
    if offset <= _MAX_B0_OFFSET:
        return CommandAPDU(0x00, Ins.READ_BINARY, offset >> 8, offset & 0xFF, le=le)
    offset_object = bytes([_TAG_OFFSET_DO, 3]) + offset.to_bytes(3, "big")
    return CommandAPDU(0x00, Ins.READ_BINARY_ODD, 0x00, 0x00, offset_object, le=le)


def _wrapper_length(size: int) -> int:
    """Bytes the DO53 header adds around ``size`` bytes of data in an odd-INS READ BINARY answer."""
    return 1 + len(encode_length(size))


def declared_size(head: bytes) -> int | None:
    """Total file size announced by the outer TLV header at the start of ``head``; None while the header is not all
    there (the value need not be); a header no more bytes can mend (indefinite length, over 4 length octets,
    a tag over 4 bytes) raises :class:`DecodeError`."""
    try:
        _, length, header_length = read_header(head)
    except TruncatedError:
        return None
    return header_length + length


class FileReader:
    """Reads whole files with as few READ BINARY commands as the chip allows, and remembers what works.

    Starts with extended length (one APDU per file) when ``extended`` is allowed, else with the largest
    short read (256 in the clear, 223/231 under secure messaging), never above ``max_read``.  Stops using
    extended length when it is refused (6700/6D00/6F00) or the reader cannot carry it; when the first read
    of a file is refused (6700, 6B00, an empty 6282: maybe only because it reaches past the end) reads the
    8-byte header to learn the size;
    falls back on 6700, 6B00 and an empty 6282 to a smaller size, follows 6Cxx to the exact length, and
    shrinks to what a chip silently delivers.
    """

    def __init__(self, channel: Channel, *, extended: bool, max_read: int | None = None) -> None:
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
        except (FileProtectedError, FileAbsentError, ChipRefusedError):
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
                select_file(self.channel, spec)  # 6A82 here too: the file is absent, the SFI refusal taught nothing
                self.use_sfi = not learn_sfi
                return self.read(spec.name)
        select_file(self.channel, spec)
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
            total = declared_size(head[:_HEADER_PROBE])
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
            except ExtendedUnsupportedError:
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
        if command.p1 & 0x80 and command.ins == 0xB0 and sw in (*_SFI_REFUSALS, SW_NOT_FOUND):
            self.sfi_refusal = sw
            raise _SFIRefusedError(name)
        if extended and sw in EXTENDED_REFUSALS:
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
        if delivered < MIN_READ_SIZE:
            raise ChipRefusedError(f"READ BINARY of {name} at offset {offset}: the chip returns only {delivered} "
                                   "bytes per command, too few to read a file", hint=HINT_READ)
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
            raise FileProtectedError(name)
        if sw == SW_NOT_FOUND and offset == 0:
            raise FileAbsentError(name)
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
        raise refused(f"READ BINARY of {name} at offset {offset}", command, sw, HINT_READ)

    def _smaller(self, le: int) -> int | None:
        ladder = (self._short_limit(), *_SMALLER_READS)
        if le > self._short_limit():
            self.extended = False
        return next((size for size in ladder if size < le), None)


def _select_command(p1: int, data: bytes, p2: int) -> CommandAPDU:
    return CommandAPDU(0x00, Ins.SELECT, p1, p2, data, le=None if p2 == 0x0C else SHORT_READ_SIZE)


def select(channel: Channel, p1: int, data: bytes) -> tuple[CommandAPDU, ResponseAPDU]:
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


def select_file(channel: Channel, spec: FileSpec) -> None:
    channel.file, channel.offset = spec.name, 0
    command, response = select(channel, 0x02, spec.fid_bytes)
    if response.sw == SW_NOT_FOUND:
        raise FileAbsentError(spec.name)
    if response.sw == SW_SECURITY_STATUS:
        raise FileProtectedError(spec.name)
    if not response.ok:
        raise refused(f"SELECT of {spec.name}", command, response.sw, HINT_CHIP_ERROR)


def select_application(channel: Channel) -> None:
    command, response = select(channel, 0x04, EMRTD_AID)
    if not response.ok:
        raise refused("SELECT of the eMRTD application", command, response.sw,
                      "this chip holds no ICAO eMRTD application (is it an ID card or passport?), or it was "
                      "moved: put it back and read again")
