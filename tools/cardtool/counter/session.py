"""The counter's reader session: one card at a time, from "no reader" to the verdict, and nothing kept after.

:class:`CounterSession` is a small state machine driven by two kinds of events:

* what the reader shows (:meth:`CounterSession.observe`, called by :func:`watch` a few times a second):
  no reader, an empty reader, a card;
* what the officer does: submit the CAN or MRZ (the read runs in a worker thread), clear, save a report.

Phases: ``no_reader`` → ``waiting`` (no card) → ``card`` (card on, key wanted) → ``reading`` → ``done``;
``no_service`` while the PC/SC service itself is not running (no reader can be seen at all).
A :class:`Notice` tells the officer what went wrong and what to do (wrong CAN, card pulled mid-read,
unreadable card, reader unplugged).  A card that stops answering but is still on the reader (a slow card,
a driver's timeout, a read over its deadline) is ``not_answering``, never "removed".  The holder's data
exists only in ``done`` for the card that is on the reader: it is dropped when the card leaves, when a new
read starts, or when the officer clears the page; a read that finishes after its card was removed is
thrown away.  The access key lives only in the worker thread for the length of the read.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from cardlib.errors import CardError, CardlibError, ValidationError
from cardlib.limits import LimitExceeded
from cardlib.pki.trust import TrustStore
from cardlib.reader.pcsc import NoCardError, NoReaderError, NoServiceError, connect, wait_for_card
from cardlib.reader.progress import ProgressCallback
from cardlib.reader.reader import AccessKey, ReadResult, UnsupportedAccessError, WrongAccessKeyError, read_card
from cardlib.reader.transport import CardRemovedError, ReaderGoneError, Transport
from cardlib.verify.live import verify_read
from cardlib.verify.report import VerificationReport
from cardtool.access import access_key
from cardtool.counter.details import altered, detail_rows, field_marks
from cardtool.counter.holder import HolderView, holder_view
from cardtool.counter.progress import PageProgress, Progress, Step
from cardtool.counter.verdict import CounterVerdict, counter_verdict

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25
CONNECT_TIMEOUT = 2.0


class Phase(Enum):
    """Where the check is; the page shows one screen per phase."""

    NO_SERVICE = "no_service"
    NO_READER = "no_reader"
    WAITING = "waiting"
    CARD = "card"
    READING = "reading"
    DONE = "done"


class Notice(Enum):
    """Why the last read did not give a verdict; the page turns each into what to do next."""

    WRONG_KEY = "wrong_key"
    REMOVED = "removed"
    UNREADABLE = "unreadable"
    UNSUPPORTED_KEY = "unsupported_key"
    READER_GONE = "reader_gone"
    NOT_ANSWERING = "not_answering"


class CardState(Enum):
    """What a reader shows when polled (``no_service``: the PC/SC service itself does not answer)."""

    NO_SERVICE = "no_service"
    NO_READER = "no_reader"
    EMPTY = "empty"
    PRESENT = "present"


class CardSource(Protocol):
    """Where cards come from: a PC/SC reader in production, a virtual chip in tests."""

    def poll(self) -> CardState:
        """What the reader shows now (never raises)."""
        ...

    def open(self) -> AbstractContextManager[Transport]:
        """A connection to the card now on the reader; CardlibError when there is none."""
        ...


class CardReader(Protocol):
    """How the session reads a card: :func:`read_card`, or it with the command's read options."""

    def __call__(self, transport: Transport, key: AccessKey, *, on_progress: ProgressCallback) -> ReadResult:
        """Read the card on ``transport``, telling ``on_progress`` each step."""
        ...


class SessionBusyError(CardlibError):
    """The officer asked for something the current phase does not allow (no card, a read running)."""


class PCSCCardSource:
    """The card source of a real (or vpcd) PC/SC reader: ``reader`` is a name or its beginning, None = any."""

    def __init__(self, reader: str | None = None) -> None:
        self.reader = reader

    def poll(self) -> CardState:
        """A card on the reader, an empty reader, no reader at all, or no PC/SC service to ask."""
        try:
            wait_for_card(self.reader, timeout=0.0)
        except NoCardError:
            return CardState.EMPTY
        except NoServiceError:
            return CardState.NO_SERVICE
        except CardError:
            return CardState.NO_READER
        return CardState.PRESENT

    def open(self) -> AbstractContextManager[Transport]:
        """Connect to the card (waiting briefly for one still settling)."""
        return connect(self.reader, timeout=CONNECT_TIMEOUT)


@dataclass(frozen=True, repr=False)
class CardCheck:
    """Everything known about the card on the reader after a successful read (personal data: never logged)."""

    verdict: CounterVerdict
    holder: HolderView
    report: VerificationReport
    access: str
    read_ms: float

    def __repr__(self) -> str:
        return f"CardCheck({self.verdict.outcome.value})"


class CounterSession:
    """The state of the counter page; thread-safe, every change bumps ``version`` and wakes :meth:`wait`."""

    def __init__(self, source: CardSource, trust: TrustStore, *, save_dir: Path | None = None,
                 read: CardReader = read_card) -> None:
        """``read`` reads a card (default :func:`read_card`; the command passes its read options); its progress
        events (:mod:`cardlib.reader.progress`) drive the page's progress bar."""
        self._source = source
        self._read_card = read
        self._trust = trust
        self.trusts_nothing = not trust.cscas
        """No trusted CSCA: every verdict will be "cannot tell" (the page and the command say so)."""
        self._save_dir = save_dir
        self._changed = threading.Condition()
        self._phase = Phase.NO_READER
        self._notice: Notice | None = None
        self._detail = ""
        self._progress: Progress | None = None
        self._check: CardCheck | None = None
        self._saved = ""
        self._version = 1
        self._generation = 0

    # -- reader events ------------------------------------------------------------------------------

    def observe(self, state: CardState) -> None:
        """Take in what the reader shows; a card that left takes its holder data with it."""
        with self._changed:
            if state is CardState.PRESENT:
                if self._phase in (Phase.NO_READER, Phase.WAITING):
                    self._set(Phase.CARD)
                return
            target = _ABSENT_PHASES.get(state, Phase.WAITING)
            if self._phase is target:
                return
            if self._phase is Phase.READING:
                self._notice, self._detail = Notice.REMOVED, ""
            elif self._phase is not Phase.WAITING:
                self._notice, self._detail = None, ""
            self._forget()
            self._set(target)

    # -- officer actions ----------------------------------------------------------------------------

    def submit(self, *, can: str = "", mrz: str = "") -> None:
        """Start reading the card with the CAN (or the MRZ); ValidationError for a malformed key.

        SessionBusyError when there is no card or a read is already running.  The read runs in a
        background thread; its progress and outcome arrive through :meth:`snapshot`.
        """
        key = form_access_key(can, mrz)
        with self._changed:
            if self._phase not in (Phase.CARD, Phase.DONE):
                raise SessionBusyError(f"cannot read now: the reader is in phase {self._phase.value}")
            self._forget()
            self._notice, self._detail = None, ""
            self._set(Phase.READING)
            generation = self._generation
        threading.Thread(target=self._read, args=(key, generation), daemon=True, name="counter-read").start()

    def clear(self) -> None:
        """Forget the current card's data now (the officer's "new check"); the card may stay on the reader."""
        with self._changed:
            if self._phase is Phase.READING:
                raise SessionBusyError("a read is running: wait for it or take the card off")
            self._forget()
            self._notice, self._detail = None, ""
            self._set(Phase.CARD if self._phase is Phase.DONE else self._phase)

    def save_report(self) -> Path:
        """Write the verification report and holder summary to the save folder; its path."""
        with self._changed:
            check = self._check
            if self._save_dir is None:
                raise SessionBusyError("saving is off: start the counter with --save-dir")
            if check is None:
                raise SessionBusyError("there is no card check to save")
            path = _write_report(self._save_dir, check)
            self._saved = path.name
            self._bump()
        log.info("report saved as %s", path.name)
        return path

    # -- what the page sees -------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The page's view of the session as JSON-ready data (the holder only in ``done``)."""
        with self._changed:
            check = self._check
            return {
                "version": self._version, "phase": self._phase.value,
                "notice": self._notice.value if self._notice else None, "detail": self._detail,
                "progress": self._progress.to_dict() if self._progress else None,
                "result": _result_dict(check) if check else None,
                "can_save": self._save_dir is not None, "saved": self._saved, "no_trust": self.trusts_nothing,
            }

    def portrait(self) -> tuple[bytes, str] | None:
        """The current holder's portrait and its media type, None when there is none."""
        with self._changed:
            holder = self._check.holder if self._check else None
        if holder is None or holder.portrait is None:
            return None
        return holder.portrait, holder.portrait_type

    def wait(self, since: int, timeout: float) -> dict[str, Any]:
        """The snapshot as soon as the version passes ``since`` (or after ``timeout`` seconds)."""
        with self._changed:
            self._changed.wait_for(lambda: self._version > since, timeout=timeout)
        return self.snapshot()

    # -- internals ----------------------------------------------------------------------------------

    def _set(self, phase: Phase) -> None:
        self._phase = phase
        self._bump()

    def _bump(self) -> None:
        self._version += 1
        self._changed.notify_all()

    def _forget(self) -> None:
        """Drop the holder data and progress; a read still running for the old card will be discarded."""
        self._check = None
        self._progress = None
        self._saved = ""
        self._generation += 1

    def _on_progress(self, generation: int, progress: Progress) -> None:
        with self._changed:
            if generation == self._generation and self._phase is Phase.READING:
                self._progress = progress
                self._bump()

    def _read(self, key: AccessKey, generation: int) -> None:
        try:
            check = self._check_card(key, generation)
        except Exception as exc:  # a worker thread must always leave READING; bugs are logged, not lost
            self._failed(generation, exc)
        else:
            self._finished(generation, check)

    def _check_card(self, key: AccessKey, generation: int) -> CardCheck:
        def report(progress: Progress) -> None:
            self._on_progress(generation, progress)

        with self._source.open() as transport:
            read = self._read_card(transport, key, on_progress=PageProgress(report))
        report(Progress(Step.VERIFYING, "", read.bytes_read))
        verification = verify_read(read, self._trust, source="counter")
        return CardCheck(counter_verdict(verification), holder_view(read.dump.files), verification,
                         read.access, read.timings.total * 1000)

    def _finished(self, generation: int, check: CardCheck) -> None:
        with self._changed:
            if generation != self._generation:
                return  # the card left (or a new read began) meanwhile: its data is not shown
            self._check, self._progress = check, None
            self._set(Phase.DONE)
        log.info("card checked: %s (%s, %.0f ms)", check.verdict.outcome.value, check.access, check.read_ms)

    def _failed(self, generation: int, error: Exception) -> None:
        notice, phase = _classify(error)
        if notice in (Notice.UNREADABLE, Notice.REMOVED, Notice.NOT_ANSWERING):
            # drivers report a card pulled mid-exchange in several ways (vpcd: "transaction failed"), and a
            # slow card's timeout in the same words: whether it left is what the reader shows now
            present = self._source.poll() is CardState.PRESENT
            if not present:
                notice, phase = Notice.REMOVED, Phase.WAITING
            elif notice is Notice.REMOVED:
                notice, phase = Notice.NOT_ANSWERING, Phase.CARD
        if not isinstance(error, CardlibError):
            log.error("card check failed unexpectedly", exc_info=error)
        with self._changed:
            if generation != self._generation:
                return
            self._progress = None
            self._notice, self._detail = notice, str(error) if isinstance(error, CardlibError) else "internal error"
            self._set(phase)
        log.info("card check stopped: %s", notice.value)


def _classify(error: Exception) -> tuple[Notice, Phase]:
    """The notice for a read that failed, and the phase it leaves the session in."""
    if isinstance(error, WrongAccessKeyError):
        return Notice.WRONG_KEY, Phase.CARD
    if isinstance(error, UnsupportedAccessError):
        return Notice.UNSUPPORTED_KEY, Phase.CARD
    if isinstance(error, CardRemovedError | NoCardError):
        return Notice.REMOVED, Phase.WAITING
    if isinstance(error, LimitExceeded) and error.budget == "READ_DEADLINE_SECONDS":
        return Notice.NOT_ANSWERING, Phase.CARD
    if isinstance(error, NoServiceError):
        return Notice.READER_GONE, Phase.NO_SERVICE
    if isinstance(error, ReaderGoneError | NoReaderError):
        return Notice.READER_GONE, Phase.NO_READER
    return Notice.UNREADABLE, Phase.CARD


_ABSENT_PHASES = {CardState.NO_SERVICE: Phase.NO_SERVICE, CardState.NO_READER: Phase.NO_READER}


def form_access_key(can: str, mrz: str) -> AccessKey:
    """The access key the officer typed: the CAN, or the MRZ (3 lines, or the 24+ character MRZ information)."""
    can, mrz = can.strip(), mrz.strip()
    if not can and not mrz:
        raise ValidationError("type the 6-digit CAN or the MRZ", field="CAN")
    if can and mrz:
        raise ValidationError("type either the CAN or the MRZ, not both", field="CAN")
    # the command line and the page share one parser of keys (cardtool.access)
    return access_key(argparse.Namespace(can=can or None, mrz=mrz or None))


def _result_dict(check: CardCheck) -> dict[str, Any]:
    """The page's result: the verdict, the holder under its card kind's names with their labels in both
    languages, the checks in both languages (failed first) and the holder fields a failed or warning check is about."""
    checks = check.verdict.checks
    return {"verdict": check.verdict.to_dict(), "holder": check.holder.to_dict(), "labels": check.holder.labels(),
            "holder_source": check.holder.source,
            "card_kind": check.holder.kind, "portrait": check.holder.portrait is not None, "access": check.access,
            "read_ms": round(check.read_ms), "details": detail_rows(checks), "marks": field_marks(checks),
            "altered": altered(checks, check.holder.source)}


def _write_report(folder: Path, check: CardCheck) -> Path:
    """``card-check-<UTC time>.json`` in ``folder``, never overwriting an earlier report."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    verdict = check.verdict
    document = {"saved_at": now.isoformat(timespec="seconds"), "outcome": verdict.outcome.value,
                "expired_on": verdict.expired_on.isoformat() if verdict.expired_on else None,
                "card_kind": check.holder.kind, "reasons": [reason.to_dict() for reason in verdict.reasons],
                "access": check.access, "holder": check.holder.to_dict(), "report": check.report.to_dict()}
    stem = f"card-check-{now:%Y%m%d-%H%M%S}"
    for suffix in ("", *(f"-{n}" for n in range(2, 1000))):
        path = folder / f"{stem}{suffix}.json"
        try:
            with path.open("x", encoding="utf-8") as out:
                json.dump(document, out, ensure_ascii=False, indent=2)
            return path
        except FileExistsError:
            continue
    raise CardlibError(f"too many reports saved this second in {folder}")


def watch(session: CounterSession, source: CardSource, stop: threading.Event, interval: float = POLL_SECONDS) -> None:
    """Poll ``source`` every ``interval`` seconds and tell ``session`` until ``stop`` is set."""
    while not stop.is_set():
        session.observe(source.poll())
        stop.wait(interval)
