"""Progress of a read as typed events: what :func:`~cardlib.reader.reader.read_card` tells ``on_progress``.

Events come in this order: access control started, then done (with the protocol: PACE-CAN, PACE-MRZ, BAC);
for each file (EF.CardAccess during access control, then EF.COM, the data groups, EF.SOD) started,
progress after every chunk (bytes read so far and, once the file's header told it, the total), then done or
refused (a file the chip will not give, such as DG3 without Terminal Authentication); Chip Authentication
started and done (with ``passed``); Active Authentication started and done.  A file read again after the
session had to be re-opened starts again from zero.

A callback that raises does not stop the read or corrupt it: the read goes on, the exception is logged once
(with its traceback, at WARNING on the ``cardlib.reader.progress`` logger), no further events are sent for
that read, and :attr:`~cardlib.reader.reader.ReadResult.notes` says so.  Progress is a display concern; a
progress bar that fails should not cost the holder a second read.  Events never carry file contents or
secrets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

log = logging.getLogger(__name__)


class ReadPhase(Enum):
    """The part of the read an event is about."""

    ACCESS_CONTROL = "access control"
    FILE = "file"
    CHIP_AUTHENTICATION = "chip authentication"
    ACTIVE_AUTHENTICATION = "active authentication"


class ReadStage(Enum):
    """Where that part is."""

    STARTED = "started"
    PROGRESS = "progress"
    DONE = "done"
    REFUSED = "refused"


@dataclass(frozen=True)
class ReadEvent:
    """One step of a read.

    ``protocol`` is the access method once access control is done; ``file`` the LDS file (``"DG2"``) of a
    FILE event, with ``bytes_read`` so far and ``total`` (None until the file's TLV header has arrived);
    ``passed`` the outcome of a finished Chip or Active Authentication.
    """

    phase: ReadPhase
    stage: ReadStage
    protocol: str = ""
    file: str = ""
    bytes_read: int = 0
    total: int | None = None
    passed: bool | None = None


ProgressCallback = Callable[[ReadEvent], None]


class ProgressReporter:
    """Sends events to the caller's callback; a callback that raises is logged once and told nothing more."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self._callback = callback
        self.failure = ""
        """Why the callback was dropped ("" while it works): the read's notes carry it."""

    def __call__(self, event: ReadEvent) -> None:
        """Tell the callback about ``event`` (nothing once it has failed)."""
        if self._callback is None:
            return
        try:
            self._callback(event)
        except Exception as exc:  # the caller's code: any bug there must not break the read
            log.warning("on_progress raised at %s %s: no more progress is reported for this read",
                        event.phase.value, event.stage.value, exc_info=exc)
            self._callback = None
            self.failure = (f"the on_progress callback raised {type(exc).__name__} at {event.phase.value} "
                            f"{event.stage.value}: the read went on without reporting progress")
