"""Reading progress for the page: which step, which file, how many bytes, from the read's own events.

:func:`cardlib.reader.reader.read_card` tells its ``on_progress`` callback each step
(:mod:`cardlib.reader.progress`); :class:`PageProgress` turns those events into the three steps of a read the
page shows (opening the chip, reading its files, the chip checks), adding up the bytes of the files read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from cardlib.reader.progress import ReadEvent, ReadPhase, ReadStage


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


_LIVE_CHECKS = (ReadPhase.CHIP_AUTHENTICATION, ReadPhase.ACTIVE_AUTHENTICATION)


class PageProgress:
    """An ``on_progress`` callback for read_card that calls ``report`` with the page's :class:`Progress`.

    Files read while the chip is being opened (EF.CardAccess) count as opening; the bytes are those of the
    files read so far, the current one included.
    """

    def __init__(self, report: Callable[[Progress], None]) -> None:
        self._report = report
        self._opened = False
        self._done_bytes = 0
        self.current: Progress | None = None

    def __call__(self, event: ReadEvent) -> None:
        """Take in one event of the read and tell the page where the read is now."""
        progress = self._progress(event)
        if progress is not None and progress != self.current:
            self.current = progress
            self._report(progress)

    def _progress(self, event: ReadEvent) -> Progress | None:
        if event.phase is ReadPhase.ACCESS_CONTROL:
            self._opened = event.stage is ReadStage.DONE
            return Progress(Step.OPENING, "", self._done_bytes)
        if event.phase in _LIVE_CHECKS:
            return Progress(Step.CHIP_CHECK, "", self._done_bytes)
        if not self._opened:
            return None
        received = self._done_bytes + event.bytes_read
        if event.stage is ReadStage.DONE:
            self._done_bytes = received
        return Progress(Step.READING, event.file, received)
