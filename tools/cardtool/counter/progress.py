"""Reading progress for the page, taken from the APDUs as they pass: which step, which file, how many bytes.

:func:`cardlib.reader.reader.read_card` reports nothing while it runs, but every command header stays in
the clear under secure messaging (ISO/IEC 7816-4 §10: only the data field is protected), so a transport
wrapper can follow the read: GENERAL AUTHENTICATE / MUTUAL AUTHENTICATE open the chip, READ BINARY with
a short file identifier in P1 names the file being read, MSE:Set and INTERNAL AUTHENTICATE are the live
chip checks.  Only instruction bytes and lengths are looked at, never command or response data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from cardlib.lds.files import by_sfi
from cardlib.reader.transport import Transport

_INS_READ_BINARY = frozenset({0xB0, 0xB1})
_INS_OPENED = frozenset({0x82, 0x86})  # MUTUAL AUTHENTICATE (BAC), GENERAL AUTHENTICATE (PACE)
_INS_LIVE_CHECK = frozenset({0x22, 0x88})  # MSE:Set (Chip Authentication), INTERNAL AUTHENTICATE
_SFI_FLAG = 0x80
_SFI_MASK = 0x1F


class Step(Enum):
    """The steps of a card check, in the order the page lists them."""

    OPENING = "opening"
    READING = "reading"
    CHIP_CHECK = "chip_check"
    VERIFYING = "verifying"


@dataclass(frozen=True)
class Progress:
    """Where the read is: the step, the file being read (during READING) and the bytes received so far."""

    step: Step
    file: str = ""
    bytes_received: int = 0

    def to_dict(self) -> dict[str, str | int]:
        """JSON-ready form."""
        return {"step": self.step.value, "file": self.file, "bytes": self.bytes_received}


class ProgressTransport:
    """Forwards APDUs to ``inner`` and calls ``report`` whenever the step or the file being read changes."""

    def __init__(self, inner: Transport, report: Callable[[Progress], None]) -> None:
        self._inner = inner
        self._report = report
        self._opened = False
        self._progress = Progress(Step.OPENING)
        report(self._progress)

    def transmit(self, command: bytes) -> bytes:
        """Send ``command``; update the progress from its header and the response length."""
        response = self._inner.transmit(command)
        ins = command[1] if len(command) > 1 else -1
        step, file = self._progress.step, self._progress.file
        if ins in _INS_OPENED:
            self._opened = True
        elif self._opened and ins in _INS_READ_BINARY and step is not Step.CHIP_CHECK:
            step, file = Step.READING, self._file(command, file)
        elif step is Step.READING and ins in _INS_LIVE_CHECK:
            step, file = Step.CHIP_CHECK, ""
        received = self._progress.bytes_received + max(0, len(response) - 2)
        changed = (step, file) != (self._progress.step, self._progress.file)
        self._progress = Progress(step, file, received)
        if changed:
            self._report(self._progress)
        return response

    @staticmethod
    def _file(command: bytes, current: str) -> str:
        """The file a READ BINARY names through its short file identifier, else the one being read."""
        if command[1] == 0xB0 and len(command) > 2 and command[2] & _SFI_FLAG:
            spec = by_sfi(command[2] & _SFI_MASK)
            return spec.name if spec is not None else current
        return current
