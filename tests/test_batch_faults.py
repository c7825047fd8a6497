"""Batch tools on a full disk: a typed error, and every result recorded before it is kept and resumable."""

from __future__ import annotations

from pathlib import Path

import pytest

from cardlib.batch.journal import Journal, JournalError, read_journal
from cardlib.batch.outcome import CardOutcome


def _outcome(number: int) -> CardOutcome:
    return CardOutcome(label=f"card-{number:05d}", verdict="valid", summary="VALID: " + "x" * 300,
                       failed_checks=(), undecided_checks=(), key=f"cards/{number:05d}")


def test_full_disk_keeps_every_recorded_result_and_resumes(full_disk: Path) -> None:
    path = full_disk / "results.jsonl"
    journal = Journal(path)
    written = 0
    with pytest.raises(JournalError, match="No space left on device") as caught:
        for number in range(1000):
            journal.append(_outcome(number))
            written += 1
    assert 0 < written < 1000
    assert "run again to resume" in str(caught.value)
    assert [o.label for o in read_journal(path)] == [f"card-{n:05d}" for n in range(written)]
    resumed = Journal(path)  # the torn line of the failed card is cut; the card counts as not done
    assert resumed.resumed == written
    assert resumed.holds(f"cards/{written - 1:05d}") and not resumed.holds(f"cards/{written:05d}")
    resumed.close()
