"""Benchmark: offline batch QA of generated CCCD dumps — throughput on 1 and N worker processes, and memory
that stays bounded whatever the batch size.

1. Throughput.  A folder of generated dumps (copies of a few signed synthetic cards) goes through the QA
   pipeline (engine + batch accounting + results journal) with one worker process (the baseline, measured
   in the same run) and with one per core.  Target: the N-worker rate is at least 80% of N times the
   single-process rate.
2. Memory.  Re-labelled copies of the same cards, held in memory rather than written as folders, are
   streamed through the same pipeline at increasing batch sizes; the peak RSS of this process and of the
   largest worker is printed after each size.  A bounded pipeline shows the same peak at every size, except
   for the journal's 8-byte digest per card (the only per-card state, a few tens of bytes in a Python set).

Run with ``python -m benchmarks.bench_qa`` (``--sizes 10000,100000`` for the long memory run).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from cardlib.batch.accounting import BatchAccounting
from cardlib.batch.engine import check_offline, default_workers
from cardlib.batch.journal import Journal
from cardlib.batch.sources import BatchItem, iter_items
from cardlib.card.image import CardImage
from cardlib.card.testing import sample_card_image, sample_pki

DISTINCT_CARDS = 8
TARGET_EFFICIENCY = 0.8


def _run(items: Iterator[BatchItem], trust: tuple[str, ...], journal_path: Path, workers: int) -> tuple[int, float]:
    """Push ``items`` through engine, accounting and journal; return (cards, seconds)."""
    accounting = BatchAccounting()
    started = time.perf_counter()
    count = 0
    with Journal(journal_path) as journal:
        for checked in check_offline(items, trust, datetime.now(UTC), workers=workers):
            journal.append(accounting.settle(checked))
            count += 1
    return count, time.perf_counter() - started


def _write_dumps(cards: list[CardImage], folder: Path, count: int) -> None:
    for number in range(count):
        cards[number % len(cards)].dump().save(folder / f"card-{number:06d}")


def _in_memory(cards: list[CardImage], count: int) -> Iterator[BatchItem]:
    for number in range(count):
        card = cards[number % len(cards)]
        yield BatchItem(key=f"generated/{number:07d}", label=f"card-{number:07d}", files=dict(card.files))


def _peak_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def throughput(cards: list[CardImage], trust: tuple[str, ...], work: Path, count: int, workers: int,
               repeat: int) -> bool:
    """Measure 1 worker against ``workers`` on a folder of ``count`` dumps (the best of ``repeat`` runs each);
    True when the target is met.
    """
    _write_dumps(cards, work / "dumps", count)
    rates = {number: 0.0 for number in sorted({1, workers})}
    for attempt in range(repeat):  # alternate the two so that a neighbour's load hits both alike
        for number in rates:
            journal = work / f"throughput-{number}-{attempt}.jsonl"
            done, seconds = _run(iter_items(work / "dumps"), trust, journal, number)
            assert done == count
            rates[number] = max(rates[number], done / seconds)
    for number, rate in rates.items():
        print(f"offline QA, {number} worker(s): {count} dumps, best of {repeat}: {rate:.1f} cards/s")
    ratio = rates[workers] / rates[1]
    target = TARGET_EFFICIENCY * workers
    met = workers == 1 or ratio >= target
    print(f"scaling 1 -> {workers} workers: x{ratio:.2f} (target >= x{target:.2f}: {'met' if met else 'MISSED'})")
    return met


def memory(cards: list[CardImage], trust: tuple[str, ...], work: Path, sizes: list[int], workers: int) -> None:
    """Stream generated cards at each size; print cards/s and peak RSS (this process, largest worker)."""
    for size in sizes:
        done, seconds = _run(_in_memory(cards, size), trust, work / f"memory-{size}.jsonl", workers)
        print(f"memory, {done:>8} cards on {workers} workers: {done / seconds:7.1f} cards/s, peak RSS "
              f"{_peak_mb(resource.RUSAGE_SELF):6.1f} MB here, {_peak_mb(resource.RUSAGE_CHILDREN):6.1f} MB "
              f"largest worker; journal {(work / f'memory-{size}.jsonl').stat().st_size / 1e6:.1f} MB on disk")


def main(argv: list[str] | None = None) -> int:
    """Run both parts; exit status 1 when the scaling target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=600, help="dumps for the throughput part (default 600)")
    parser.add_argument("--sizes", default="2000,10000", help="batch sizes for the memory part (default 2000,10000)")
    parser.add_argument("--repeat", type=int, default=3, help="throughput runs per worker count (default 3)")
    parser.add_argument("--workers", type=int, default=default_workers(), help="workers (default: every core)")
    args = parser.parse_args(argv)
    cards = [sample_card_image(index) for index in range(DISTINCT_CARDS)]
    with tempfile.TemporaryDirectory(prefix="bench-qa-") as temporary:
        work = Path(temporary)
        sample_pki().save(work / "pki")
        trust = (str(work / "pki" / "csca.pem"), str(work / "pki" / "crl.pem"))
        met = throughput(cards, trust, work, args.cards, args.workers, args.repeat)
        memory(cards, trust, work, [int(size) for size in args.sizes.split(",")], args.workers)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
