"""QA on a production line: one worker thread per PC/SC reader, cards checked as they arrive.

Which key opens the card?  The line feeds the cards of a perso manifest roughly in manifest order, so
each reader tries the CANs of the next few cards not yet read (:class:`PendingCards`, a window of
``LiveOptions.window`` cards from the head of the manifest), all on one connection.  Several readers,
or a card put on slightly out of turn, are covered by the window; a card no CAN of the window opens is
recorded as an ``error`` outcome (an unexpected card, or one far out of order).

A card left on the reader after its read is not counted again: each reader first tries the CAN of the
card it read last, and a card that opens with it is the same card, still lying there.  Likewise an
unopenable card is recorded once until the reader holds a card it can open (or none).  A reader stops
when every expected card has been read, when no card came for ``LiveOptions.idle_timeout`` seconds, or
when ``stop`` is set; a reader that vanishes ends its worker with an ``error`` outcome.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from cardlib.batch.checking import CheckedCard, file_hashes, outcome_of
from cardlib.batch.outcome import CardOutcome
from cardlib.batch.sources import ExpectedCards, ManifestEntry
from cardlib.card.image import CardImage
from cardlib.errors import CardlibError
from cardlib.pki.trust import TrustStore
from cardlib.reader.models import ChipModels
from cardlib.reader.pcsc import NoCardError, connect
from cardlib.reader.reader import AccessKey, EACCredentials, ReadResult, WrongAccessKeyError, read_card
from cardlib.reader.transport import CardRemovedError, PCSCTransport, ReaderGoneError
from cardlib.verify.live import verify_read

_DONE = object()


@dataclass(frozen=True)
class LiveOptions:
    """How a reader worker waits and guesses: ``poll`` seconds per wait for a card, ``settle`` seconds
    between reads of a card left on the reader, ``window`` CANs tried, ``idle_timeout`` seconds without
    a new card before the reader stops; ``extended_length``, ``max_read``, ``models`` and ``eac`` (Terminal
    Authentication credentials, so DG3 is read and its hash verified) go to :func:`~cardlib.reader.reader.read_card`.
    """

    poll: float = 0.5
    settle: float = 0.2
    window: int = 8
    idle_timeout: float = 30.0
    extended_length: bool = True
    max_read: int | None = None
    models: ChipModels | None = None
    eac: EACCredentials | None = None


class PendingCards:
    """The expected cards not read yet, in manifest order, shared by the reader threads."""

    def __init__(self, expected: ExpectedCards, already_read: Callable[[str], bool] = lambda _: False) -> None:
        """``already_read(id_number)`` tells the cards an earlier run of the batch read."""
        self._lock = threading.Lock()
        self._pending = {entry.id_number: entry for entry in expected if not already_read(entry.id_number)}
        self._cans: dict[str, str] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)

    def window(self, size: int) -> list[ManifestEntry]:
        """The next ``size`` cards not read yet."""
        with self._lock:
            return [entry for entry, _ in zip(self._pending.values(), range(size), strict=False)]

    def claim(self, id_number: str) -> None:
        """Mark the card carrying ``id_number`` as read."""
        with self._lock:
            self._pending.pop(id_number, None)

    def can_of(self, entry: ManifestEntry) -> str | None:
        """The CAN kept in the card image's secrets (None when the image has none)."""
        with self._lock:
            known = self._cans.get(entry.id_number)
        if known is not None:
            return known
        try:
            secrets = CardImage.load(entry.card).secrets
        except CardlibError:
            return None
        if secrets is None:
            return None
        with self._lock:
            self._cans[entry.id_number] = secrets.can
        return secrets.can


def check_readers(readers: Sequence[str], pending: PendingCards, trust: TrustStore, at: datetime, *,
                  options: LiveOptions | None = None, stop: threading.Event | None = None) -> Iterator[CheckedCard]:
    """Run one worker per reader; yield each card's result as it is read and verified."""
    results: queue.Queue[object] = queue.Queue(maxsize=64)
    stopped = stop or threading.Event()
    workers = [threading.Thread(target=_worker, name=f"qa-reader-{index}", daemon=True,
                                args=(_ReaderWorker(reader, pending, trust, at, options or LiveOptions(), stopped),
                                      results))
               for index, reader in enumerate(readers)]
    for worker in workers:
        worker.start()
    running = len(workers)
    try:
        while running:
            item = results.get()
            if item is _DONE:
                running -= 1
            elif isinstance(item, CheckedCard):
                yield item
    finally:
        stopped.set()
        for worker in workers:
            worker.join(timeout=10)


def _worker(worker: _ReaderWorker, results: queue.Queue[object]) -> None:
    try:
        for checked in worker.run():
            results.put(checked)
    finally:
        results.put(_DONE)


class _ReaderWorker:
    """The loop of one reader: wait for a card, open it with a pending CAN, read, verify."""

    def __init__(self, reader: str, pending: PendingCards, trust: TrustStore, at: datetime,
                 options: LiveOptions, stop: threading.Event) -> None:
        self.reader = reader
        self.pending = pending
        self.trust = trust
        self.at = at
        self.options = options
        self.stop = stop
        self.last: ManifestEntry | None = None
        self.unopened_recorded = False
        self.cards = 0

    def run(self) -> Iterator[CheckedCard]:
        idle_since = time.monotonic()
        while not self.stop.is_set() and len(self.pending):
            try:
                transport = connect(self.reader, timeout=self.options.poll)
            except NoCardError:
                if time.monotonic() - idle_since > self.options.idle_timeout:
                    return
                self.unopened_recorded = False
                continue
            except ReaderGoneError as exc:
                yield self._error(str(exc))
                return
            with transport:
                checked = self._card(transport)
            if checked is not None:
                idle_since = time.monotonic()
                yield checked
            else:
                time.sleep(self.options.settle)

    def _card(self, transport: PCSCTransport) -> CheckedCard | None:
        """The result for the card on the reader; None for one already counted (still lying there)."""
        try:
            opened = self._open(transport)
        except (CardRemovedError, NoCardError):
            return None
        except CardlibError as exc:
            return self._error(f"read failed: {exc}")
        if opened is None:
            if self.unopened_recorded:
                return None
            self.unopened_recorded = True
            return self._error(f"no CAN of the next {self.options.window} expected cards opens this card: a card "
                               "not in the batch, or far out of order")
        entry, result = opened
        self.unopened_recorded = False
        if entry is self.last:
            return None
        self.last = entry
        self.pending.claim(entry.id_number)
        return self._verified(result, entry)

    def _open(self, transport: PCSCTransport) -> tuple[ManifestEntry, ReadResult] | None:
        candidates = ([self.last] if self.last else []) + self.pending.window(self.options.window)
        for entry in candidates:
            can = self.pending.can_of(entry)
            if can is None:
                continue
            try:
                return entry, read_card(transport, AccessKey.can(can), extended_length=self.options.extended_length,
                                        max_read=self.options.max_read, models=self.options.models,
                                        eac=self.options.eac)
            except WrongAccessKeyError:
                continue
        return None

    def _verified(self, result: ReadResult, entry: ManifestEntry) -> CheckedCard:
        started = time.perf_counter()
        report = verify_read(result, self.trust, at=self.at, source=entry.card.name)
        elapsed = (time.perf_counter() - started) * 1000
        key = report.holder.text("id_number") or entry.id_number
        outcome = outcome_of(report, result.dump.files, key=key, access=result.access, apdus=result.apdu_count,
                             read_ms=round(result.timings.total * 1000, 1), check_ms=round(elapsed, 2),
                             reader=self.reader)
        return CheckedCard(outcome, file_hashes(result.dump.files), frozenset(result.protected_files),
                           result.dump.file("DG2"))

    def _error(self, message: str) -> CheckedCard:
        self.cards += 1
        label = f"{self.reader} card {self.cards}"
        return CheckedCard(CardOutcome.error(label, message, key=f"{label} {time.time():.3f}", reader=self.reader))
