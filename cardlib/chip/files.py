"""The virtual chip's file commands: SELECT and READ BINARY (B0 and B1) over its :class:`FileSystem`.

:class:`FileCommands` holds what the file commands need and nothing else: the files, the current selection
and the :class:`~cardlib.chip.options.ChipOptions` that change their answers (applet-only EF.CardAccess, no
short file identifiers, SELECT P2=0C refused, answers past the end of a file, response caps).  Whether a file
may be read is asked of the session (:class:`AccessRights`): only EF.CardAccess before BAC/PACE, DG3/DG4 only after
Terminal Authentication granted them.  :func:`field_files` prepares the files of a chip as its options say
(no EF.CardAccess on a BAC-only chip, oversized, malformed or empty files).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from cardlib.chip.filesystem import MF_FID, ChipFile, FileSystem, application_fcp
from cardlib.chip.options import ChipOptions
from cardlib.errors import DecodeError
from cardlib.lds import files as lds_files
from cardlib.lds.com import TAG_TAG_LIST
from cardlib.lds.tlv import encode_length, encode_tlv, iter_tlvs, read_tlv
from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU
from cardlib.protocols.instructions import Ins
from cardlib.protocols.status import (
    SW_END_OF_FILE,
    SW_NO_CURRENT_EF,
    SW_NOT_FOUND,
    SW_OK,
    SW_SECURITY_STATUS,
    SW_WRONG_DATA,
    SW_WRONG_LENGTH,
    SW_WRONG_OFFSET,
    SW_WRONG_P1P2,
)

SW1_EXACT_LENGTH = 0x6C
EAC_DATA_GROUPS = (3, 4)  # released only after Terminal Authentication granting their read right
TAG_OFFSET = 0x54
TAG_DISCRETIONARY = 0x53


class Refused(Exception):
    """Stop handling the command and answer with this status word (raised by any command handler of the chip)."""

    def __init__(self, sw: int) -> None:
        super().__init__(f"{sw:04X}")
        self.sw = sw


class AccessRights(Protocol):
    """What the file commands ask of the chip's session (:class:`~cardlib.chip.chip.VirtualChip` answers from
    its :class:`~cardlib.chip.session.State`)."""

    @property
    def secure_messaging_active(self) -> bool:
        """True once BAC or PACE opened a session."""
        ...

    def eac_released(self, number: int) -> bool:
        """True when Terminal Authentication granted the right to read data group ``number``."""
        ...


class FileCommands:
    """SELECT and READ BINARY of one chip: the current selection, its options' answers, the session's rights."""

    def __init__(self, fs: FileSystem, options: ChipOptions, session: AccessRights) -> None:
        self._fs = fs
        self._options = options
        self._session = session
        self.reset()

    def reset(self) -> None:
        """Power-up or reset: back in the master file, nothing selected."""
        self._in_application = False
        self._current: ChipFile | None = None

    # -- SELECT ---------------------------------------------------------------------------------------

    def select(self, cmd: CommandAPDU) -> ResponseAPDU:
        """SELECT by DF name (P1 04) or file identifier (P1 00/02); P2 0C: no answer data, 00/04: FCP."""
        if cmd.p2 not in (0x00, 0x04, 0x0C):
            raise Refused(SW_WRONG_P1P2)
        if cmd.p2 == 0x0C and self._options.select_p2_0c_sw is not None:
            raise Refused(self._options.select_p2_0c_sw)
        if cmd.p1 == 0x04:
            return self._select_application(cmd)
        if cmd.p1 == 0x00 and cmd.data in (b"", MF_FID.to_bytes(2, "big")):
            if self._options.select_mf_sw is not None:
                raise Refused(self._options.select_mf_sw)
            self._in_application, self._current = False, None
            return ResponseAPDU(b"", SW_OK)
        if cmd.p1 not in (0x00, 0x02):
            raise Refused(SW_WRONG_P1P2)
        if len(cmd.data) != 2:
            raise Refused(SW_WRONG_LENGTH)
        fid = int.from_bytes(cmd.data, "big")
        self._check_card_access(fid == lds_files.EF_CARD_ACCESS.fid)
        file = self._fs.by_fid(fid, in_application=self._in_application)
        if file is None:
            raise Refused(SW_NOT_FOUND)
        self._check_access(file)
        self._current = file
        return ResponseAPDU(b"" if cmd.p2 == 0x0C else file.fcp(), SW_OK)

    def _select_application(self, cmd: CommandAPDU) -> ResponseAPDU:
        if cmd.data != lds_files.EMRTD_AID:
            raise Refused(SW_NOT_FOUND)
        self._in_application, self._current = True, None
        return ResponseAPDU(b"" if cmd.p2 == 0x0C else application_fcp(cmd.data), SW_OK)

    def _check_card_access(self, card_access: bool) -> None:
        """An applet-only chip answers ``card_access_sw`` to anything naming EF.CardAccess."""
        if card_access and self._options.card_access_sw is not None:
            raise Refused(self._options.card_access_sw)

    def _check_sfi(self) -> None:
        if self._options.sfi_sw is not None:
            raise Refused(self._options.sfi_sw)

    def _check_access(self, file: ChipFile) -> None:
        """Only EF.CardAccess is open before BAC/PACE (ICAO 9303-11 §4.2); EF.CardSecurity too needs a session."""
        if file.spec != lds_files.EF_CARD_ACCESS and not self._session.secure_messaging_active:
            raise Refused(SW_SECURITY_STATUS)

    # -- READ BINARY ----------------------------------------------------------------------------------

    def read_binary(self, cmd: CommandAPDU) -> ResponseAPDU:
        """READ BINARY B0 (15-bit offset, or SFI in P1 with 8-bit offset) and B1 (offset in DO54)."""
        file, offset = self._read_target(cmd) if cmd.ins == Ins.READ_BINARY else self._odd_read_target(cmd)
        self._check_access(file)
        number = file.spec.dg_number
        if number in EAC_DATA_GROUPS and not self._session.eac_released(number):
            raise Refused(SW_SECURITY_STATUS)  # DG3/DG4 need Terminal Authentication granting their right
        wanted = self.expected_length(cmd)
        if offset >= len(file.content):
            raise Refused(SW_WRONG_OFFSET)
        if cmd.ins == Ins.READ_BINARY_ODD:
            return self._odd_read_response(file.content, offset, wanted)
        chunk = file.content[offset : offset + wanted]
        if len(chunk) == wanted:
            return ResponseAPDU(chunk, SW_OK)
        return self._past_end(chunk)

    def _past_end(self, chunk: bytes) -> ResponseAPDU:
        """The answer to a READ BINARY reaching past the end of the file, as ``past_end`` says."""
        rule = self._options.past_end
        if rule == "6Cxx":
            return ResponseAPDU(b"", (SW1_EXACT_LENGTH << 8) | len(chunk) % 256)
        if rule in ("6B00", "6700"):
            return ResponseAPDU(b"", int(rule, 16))
        return ResponseAPDU(chunk, int(rule, 16))

    def _read_target(self, cmd: CommandAPDU) -> tuple[ChipFile, int]:
        if cmd.data:
            raise Refused(SW_WRONG_LENGTH)
        if not cmd.p1 & 0x80:
            return self._current_file(), (cmd.p1 << 8) | cmd.p2
        if cmd.p1 & 0x60:
            raise Refused(SW_WRONG_P1P2)
        self._check_card_access(cmd.p1 & 0x1F == lds_files.EF_CARD_ACCESS.sfi)
        self._check_sfi()
        file = self._fs.by_sfi(cmd.p1 & 0x1F, in_application=self._in_application)
        if file is None:
            raise Refused(SW_NOT_FOUND)
        self._check_access(file)
        self._current = file
        return file, cmd.p2

    def _odd_read_target(self, cmd: CommandAPDU) -> tuple[ChipFile, int]:
        """B1: P1-P2 0000 is the current EF, 00 + SFI a short identifier, else a file identifier."""
        fid = (cmd.p1 << 8) | cmd.p2
        if fid == 0:
            file = self._current_file()
        else:
            self._check_card_access(fid in (lds_files.EF_CARD_ACCESS.fid, lds_files.EF_CARD_ACCESS.sfi))
            if fid <= 0x1E:
                self._check_sfi()
            found = (self._fs.by_sfi(cmd.p2, in_application=self._in_application) if fid <= 0x1E
                     else self._fs.by_fid(fid, in_application=self._in_application))
            if found is None:
                raise Refused(SW_NOT_FOUND)
            file = found
        try:
            obj = read_tlv(cmd.data, file="READ BINARY")
        except DecodeError:
            raise Refused(SW_WRONG_DATA) from None
        if obj.tag != TAG_OFFSET or obj.end != len(cmd.data) or not 1 <= len(obj.value) <= 3:
            raise Refused(SW_WRONG_DATA)
        self._current = file
        return file, int.from_bytes(obj.value, "big")

    def _odd_read_response(self, content: bytes, offset: int, wanted: int) -> ResponseAPDU:
        """Answer data wrapped in DO53; Ne counts the wrapper, so the data is a few bytes shorter."""
        header = len(encode_tlv(TAG_DISCRETIONARY, bytes(wanted))) - wanted
        if wanted <= header:
            raise Refused(SW_WRONG_LENGTH)
        room = wanted - header
        chunk = content[offset : offset + room]
        return ResponseAPDU(encode_tlv(TAG_DISCRETIONARY, chunk), SW_OK if len(chunk) == room else SW_END_OF_FILE)

    def _current_file(self) -> ChipFile:
        if self._current is None:
            raise Refused(SW_NO_CURRENT_EF)
        return self._current

    def expected_length(self, cmd: CommandAPDU) -> int:
        """Ne as the chip honours it: the Le, capped at ``max_le`` with ``truncate_le``; 6700 otherwise."""
        if cmd.le is None:
            raise Refused(SW_WRONG_LENGTH)
        if cmd.le <= self._options.max_le:
            return cmd.le
        if self._options.truncate_le:
            return self._options.max_le
        raise Refused(SW_WRONG_LENGTH)


def field_files(files: Mapping[str, bytes], options: ChipOptions) -> dict[str, bytes]:
    """The files a chip with ``options`` holds: EF.CardAccess only on a PACE chip, then the oversized,
    malformed EF.COM and empty files its options ask for."""
    held = {name: data for name, data in files.items() if options.pace or name != lds_files.EF_CARD_ACCESS.name}
    held.update({name: _oversized(held[name], length) for name, length in options.oversized})
    if options.malformed_com:
        held[lds_files.EF_COM.name] = _malformed_com(held[lds_files.EF_COM.name])
    held.update(dict.fromkeys(options.empty_files, b""))
    return held


def _oversized(content: bytes, length: int) -> bytes:
    """``content`` re-wrapped under its own outer tag with a value of ``length`` bytes: its value, then zeros."""
    outer = read_tlv(content, file="oversized file")
    filler = bytes(max(0, length - len(outer.value)))
    return encode_tlv(outer.tag, outer.value[:length] + filler)


def _malformed_com(content: bytes) -> bytes:
    """EF.COM with its tag list as vsmartcard's ePass emulator writes it: hex text, declared one byte per tag.

    The DO5C then ends half-way through the text and the rest reads as a TLV claiming more bytes than remain.
    """
    objects = list(iter_tlvs(read_tlv(content, file="EF.COM").value, file="EF.COM"))
    tags = next(obj.value for obj in objects if obj.tag == TAG_TAG_LIST)
    text = tags.hex().upper().encode("ascii")
    value = b"".join(encode_tlv(obj.tag, obj.value) for obj in objects if obj.tag != TAG_TAG_LIST)
    value += bytes([TAG_TAG_LIST, len(tags)]) + text
    return bytes([content[0]]) + encode_length(len(value)) + value


__all__ = ["EAC_DATA_GROUPS", "AccessRights", "FileCommands", "Refused", "field_files"]
