"""The chip's file commands on their own (cardlib.chip.files): selection, access rights asked of the session,
field-chip answers and the files a chip's options make it hold."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from cardlib.chip.files import FileCommands, Refused, field_files
from cardlib.chip.filesystem import FileSystem
from cardlib.chip.options import ChipOptions
from cardlib.lds import files as lds_files
from cardlib.lds.tlv import encode_tlv, read_tlv
from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU

CARD_ACCESS = encode_tlv(0x31, b"\x30\x00")
COM = encode_tlv(0x60, encode_tlv(0x5F01, b"0107") + encode_tlv(0x5C, b"\x61\x75"))
DG3 = encode_tlv(0x63, b"\x00" * 20)
FILES = {"EF.CardAccess": CARD_ACCESS, "EF.COM": COM, "DG3": DG3}


@dataclass
class FakeSession:
    """A session whose state the test sets: open or not, and the data groups Terminal Authentication granted."""

    secure_messaging_active: bool = False
    released: set[int] = field(default_factory=set)

    def eac_released(self, number: int) -> bool:
        return number in self.released


def _commands(session: FakeSession, options: ChipOptions | None = None) -> FileCommands:
    return FileCommands(FileSystem(FILES), options or ChipOptions(), session)


def _select_application(commands: FileCommands) -> None:
    assert commands.select(CommandAPDU(0x00, 0xA4, 0x04, 0x0C, lds_files.EMRTD_AID)).sw == 0x9000


def _refused(call: Callable[[CommandAPDU], ResponseAPDU], cmd: CommandAPDU) -> int:
    with pytest.raises(Refused) as refused:
        call(cmd)
    return refused.value.sw


def test_only_ef_cardaccess_is_readable_before_a_session() -> None:
    session = FakeSession()
    commands = _commands(session)
    read = commands.read_binary(CommandAPDU(0x00, 0xB0, 0x80 | lds_files.EF_CARD_ACCESS.sfi, 0x00, le=256))
    assert read.data == CARD_ACCESS and read.sw == 0x6282  # past the end, as ISO 7816-4 answers by default
    _select_application(commands)
    assert _refused(commands.select, CommandAPDU(0x00, 0xA4, 0x02, 0x0C, b"\x01\x1e")) == 0x6982
    session.secure_messaging_active = True
    assert commands.select(CommandAPDU(0x00, 0xA4, 0x02, 0x0C, b"\x01\x1e")).sw == 0x9000
    assert commands.read_binary(CommandAPDU(0x00, 0xB0, 0x00, 0x00, le=len(COM))).data == COM


def test_dg3_needs_the_right_terminal_authentication_granted() -> None:
    session = FakeSession(secure_messaging_active=True)
    commands = _commands(session)
    _select_application(commands)
    by_sfi = CommandAPDU(0x00, 0xB0, 0x80 | lds_files.DATA_GROUPS[3].sfi, 0x00, le=4)
    assert _refused(commands.read_binary, by_sfi) == 0x6982
    session.released.add(3)
    assert commands.read_binary(by_sfi).data == DG3[:4]


def test_field_options_change_the_answers() -> None:
    options = ChipOptions(sfi_sw=0x6985, past_end="6B00", max_le=8, truncate_le=True)
    commands = _commands(FakeSession(secure_messaging_active=True), options)
    _select_application(commands)
    assert _refused(commands.read_binary, CommandAPDU(0x00, 0xB0, 0x9E, 0x00, le=4)) == 0x6985
    commands.select(CommandAPDU(0x00, 0xA4, 0x02, 0x0C, b"\x01\x1e"))
    assert commands.read_binary(CommandAPDU(0x00, 0xB0, 0x00, 0x00, le=256)).data == COM[:8]  # Le truncated
    assert commands.read_binary(CommandAPDU(0x00, 0xB0, 0x00, len(COM) - 2, le=8)).sw == 0x6B00
    commands.reset()
    assert _refused(commands.read_binary, CommandAPDU(0x00, 0xB0, 0x00, 0x00, le=4)) == 0x6986  # nothing selected


def test_field_files_follow_the_options() -> None:
    assert "EF.CardAccess" not in field_files(FILES, ChipOptions(pace=False))
    held = field_files(FILES, ChipOptions(oversized=(("DG3", 1000),), empty_files=("EF.COM",)))
    assert held["EF.COM"] == b"" and held["EF.CardAccess"] == CARD_ACCESS
    oversized = read_tlv(held["DG3"])
    assert oversized.tag == 0x63 and len(oversized.value) == 1000 and oversized.value[:20] == bytes(20)
