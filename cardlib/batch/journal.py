"""The results journal: one JSON line per card, appended and flushed as each result arrives.

The journal is the source of truth of a QA run and what makes it resumable.  Each line is written whole
and flushed before the next card counts as done, so a process killed at any moment (``kill -9``
included) loses at most the card it was writing; that torn last line is cut off when the journal is
opened again, and the card is checked again.  Opening a journal streams its lines once to learn which
cards it holds (:meth:`Journal.holds`): only an 8-byte digest per card is kept, never the results.

:func:`supersede` takes chosen results out of a journal (``cardtool qa --recheck failed``): they move to a
side file, the journal keeps the others, and the next run checks the cards it no longer holds again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from cardlib.batch.outcome import CardOutcome
from cardlib.errors import CardlibError

_TAIL_BLOCK = 65536


class JournalError(CardlibError):
    """A results journal that cannot be opened or written."""


def key_digest(key: str) -> int:
    """A 64-bit digest of a card key: what the journal keeps in memory per card."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big")


class Journal:
    """An append-only JSON Lines file of :class:`CardOutcome`, resumed where an earlier run stopped."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            drop_torn_tail(self.path)
            self._keys = {key_digest(outcome.key) for outcome in read_journal(self.path)}
            self._handle: IO[str] = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            raise JournalError(f"{self.path}: cannot open the results journal ({exc.strerror})") from None
        self.resumed = len(self._keys)

    def holds(self, key: str) -> bool:
        """True when a card with this key already has its result in the journal."""
        return key_digest(key) in self._keys

    def append(self, outcome: CardOutcome) -> None:
        """Record one card now: written and flushed, so it survives the death of this process.

        JournalError when the line cannot be written (a full disk): the journal is closed, every result
        recorded before stays, and the torn line is cut when the run is started again.
        """
        try:
            self._handle.write(outcome.to_json() + "\n")
            self._handle.flush()
        except OSError as exc:
            self._abandon()
            raise JournalError(
                f"{self.path}: cannot record the result of {outcome.label} ({exc.strerror}); the "
                f"{len(self._keys)} results recorded so far are kept: make room and run again to resume") from None
        self._keys.add(key_digest(outcome.key))

    def _abandon(self) -> None:
        """Close after a failed write, dropping what is left in the buffer."""
        with contextlib.suppress(OSError):  # the buffer still holds the torn line: let it go
            self._handle.close()

    def close(self) -> None:
        """Close the file (the results stay; safe to call twice)."""
        self._handle.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_journal(path: Path) -> Iterator[CardOutcome]:
    """The outcomes of a journal one at a time; lines that are not whole JSON objects are skipped."""
    if not path.exists():
        return
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.endswith("\n"):
                return
            outcome = _outcome(line)
            if outcome is not None:
                yield outcome


def _outcome(line: str) -> CardOutcome | None:
    """The outcome on one journal line; None for a line that is not a whole outcome object."""
    try:
        return CardOutcome.from_dict(json.loads(line))
    except (json.JSONDecodeError, TypeError, AttributeError):
        return None


def drop_torn_tail(path: Path) -> None:
    """Cut a file back to its last complete line (what a process killed mid-write leaves behind)."""
    if not path.exists():
        return
    with path.open("r+b") as handle:
        end = handle.seek(0, os.SEEK_END)
        position = end
        while position > 0:
            start = max(0, position - _TAIL_BLOCK)
            handle.seek(start)
            block = handle.read(position - start)
            newline = block.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                if keep != end:
                    handle.truncate(keep)
                return
            position = start
        handle.truncate(0)


def supersede(path: Path, again: Callable[[CardOutcome], bool], superseded: Path) -> int:
    """Take the outcomes ``again`` picks out of the journal at ``path``, appending them to ``superseded``; the
    others stay, in order.  Returns how many were taken out.

    The kept lines go to a temporary file that replaces the journal in one rename (after the taken ones are
    on disk in ``superseded``): killed at any moment, the journal is the old one or the new one, and a result
    is never lost.  A torn last line is dropped first, as when a journal is opened.
    """
    taken = 0
    staged = path.with_name(path.name + ".tmp")
    try:
        drop_torn_tail(path)
        with (path.open(encoding="utf-8", errors="replace") as lines, staged.open("w", encoding="utf-8") as kept,
              superseded.open("a", encoding="utf-8") as moved):
            for line in lines:
                outcome = _outcome(line)
                target = moved if outcome is not None and again(outcome) else kept
                target.write(line)
                taken += target is moved
            for handle in (moved, kept):
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(staged, path)
    except OSError as exc:
        raise JournalError(f"{path}: cannot set results aside for a new check ({exc.strerror}); the journal "
                           "is unchanged") from None
    return taken
