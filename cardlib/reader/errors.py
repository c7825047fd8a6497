"""The errors a read raises that name a step, a command and a status word, and the hints that say what to try.

Every refusal the reader reports goes through :func:`refused`, so a person reads the same shape each time: the
step, the command (:func:`describe_command`), the status word's meaning (:mod:`cardlib.protocols.status`) and
what to do next.
"""

from __future__ import annotations

from cardlib.errors import CardError, ProtocolError
from cardlib.protocols.apdu import CommandAPDU
from cardlib.protocols.instructions import instruction_label
from cardlib.protocols.status import sw_meaning

HINT_CHIP_ERROR = ("the chip reported an internal error: lift the card off the reader, put it back and read "
                   "again; if it repeats, try another reader, then report the chip as faulty")
HINT_SM = ("the session is lost: put the card back on the reader and read again; if it repeats, try another "
           "reader or --no-extended-length (read_card: extended_length=False)")
HINT_READ = ("read again with --no-extended-length or a smaller --max-read, e.g. 223 (read_card: "
             "extended_length=False, max_read=223); if it repeats, this reader cannot read the file")


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
    name = instruction_label(command.ins) or "command"
    return f"{name} (INS {command.ins:02X}, P1P2 {command.p1:02X}{command.p2:02X})"


def refused(step: str, command: CommandAPDU, sw: int, hint: str) -> ChipRefusedError:
    """The error for ``step`` stopped by status word ``sw`` to ``command``, with what to try next."""
    return ChipRefusedError(f"{step}: the chip refused {describe_command(command)}: {sw_meaning(sw)}", sw=sw,
                            hint=hint)


class SecureMessagingError(ProtocolError):
    """Secure messaging broke: the chip's MAC does not verify, or it reported an SM error (6987/6988)."""


class UnsupportedAccessError(ProtocolError):
    """The chip offers no access method the key can open (a CAN for a BAC-only chip, an unknown PACE)."""
