"""Benchmark: offline batch QA of generated CCCD dumps — throughput on 1 and N worker processes against the
per-card floor, and memory that stays bounded whatever the batch size.

1. Throughput.  A folder of distinct generated dumps (one Document Signer, as a production line makes them) goes
   through the QA pipeline (engine + batch accounting + results journal) with one worker (in this process) and
   with one per core, and the per-card floor of :mod:`benchmarks.bench_verify` (hashes + SOD signature) is
   timed over the same cards in this process.  The three alternate round by round, so that a neighbour's load
   hits them alike, and the medians of the per-round ratios are printed with their spread.  Targets (issue 18):
   N workers at least 0.9 × N times one worker, and at least 0.45 of the floor × N.
2. Memory.  Re-labelled copies of the same cards, held in memory rather than written as folders, are
   streamed through the same pipeline at increasing batch sizes; the peak RSS of this process and of the
   largest worker is printed after each size.  A bounded pipeline shows the same peak at every size, except
   for the journal's 8-byte digest per card (the only per-card state, a few tens of bytes in a Python set).

Run with ``python -m benchmarks.bench_qa`` (``--sizes 10000,100000`` for the long memory run, ``--json FILE``).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.bench_verify import FloorCard, floor_card, generated
from benchmarks.interleave import Rounds, ratio_text, write_json
from cardlib.batch.accounting import BatchAccounting
from cardlib.batch.engine import check_offline, default_workers
from cardlib.batch.journal import Journal
from cardlib.batch.sources import BatchItem, iter_items
from cardlib.card.image import CardImage
from cardlib.card.perso import ChipProfile
from cardlib.pki.signatures import PublicKey
from cardlib.testing.pki import sample_pki

DISTINCT_IN_MEMORY = 8  # the memory part re-labels copies: it measures what the pipeline keeps, not speed
TARGET_SCALING = 0.9  # N workers at least 0.9 × N times one (1.8× for two)
TARGET_OF_FLOOR = 0.45  # N workers at least 0.45 of the per-card floor × N


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


def _write_dumps(cards: list[CardImage], folder: Path) -> None:
    for number, card in enumerate(cards):
        card.save(folder / f"card-{number:06d}")


def _in_memory(cards: list[CardImage], count: int) -> Iterator[BatchItem]:
    for number in range(count):
        card = cards[number % len(cards)]
        yield BatchItem(key=f"generated/{number:07d}", label=f"card-{number:07d}", files=dict(card.files))


def _peak_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def throughput(cards: list[CardImage], trust: tuple[str, ...], work: Path, workers: int,
               rounds: int) -> dict[str, Any]:
    """Interleave the floor, 1 worker and ``workers`` over the same distinct dumps; print and return the figures."""
    _write_dumps(cards, work / "dumps")
    keys: dict[bytes, PublicKey] = {}
    floors = [floor_card(card, keys) for card in cards]
    sides: dict[str, Callable[[int], float]] = {
        "floor": lambda _: _floor_rate(floors),
        "1": lambda attempt: _qa_rate(trust, work, 1, attempt),
        str(workers): lambda attempt: _qa_rate(trust, work, workers, attempt)}
    rates: dict[str, list[float]] = {side: [] for side in sides}
    for attempt in range(rounds):
        for side in list(sides) if attempt % 2 == 0 else list(reversed(sides)):
            rates[side].append(sides[side](attempt))
    result = Rounds(rates)
    scaling = result.ratio(str(workers), "1")
    low, median, high = (value / workers for value in sorted(result.ratio(str(workers), "floor")))
    efficiency = (median, low, high)
    print(f"{len(cards)} distinct dumps, {rounds} interleaved rounds: floor {result.rate('floor'):.1f} cards/s "
          f"(one core); QA 1 worker {result.rate('1'):.1f} cards/s, {workers} {result.rate(str(workers)):.1f} cards/s")
    met_scaling = workers == 1 or scaling[0] >= TARGET_SCALING * workers
    met_floor = efficiency[0] >= TARGET_OF_FLOOR
    print(f"scaling 1 -> {workers} workers: x{ratio_text(*scaling)} (target >= x{TARGET_SCALING * workers:.2f}: "
          f"{'met' if met_scaling else 'MISSED'})")
    print(f"{workers} workers / (floor x {workers}): {ratio_text(*efficiency)} (target >= {TARGET_OF_FLOOR}: "
          f"{'met' if met_floor else 'MISSED'})")
    return {"cards": len(cards), "workers": workers, "rates": rates, "scaling": scaling,
            "of_floor_times_workers": efficiency, "met": met_scaling and met_floor}


def _floor_rate(floors: list[FloorCard]) -> float:
    started = time.perf_counter()
    for floor in floors:
        floor.run()
    return len(floors) / (time.perf_counter() - started)


def _qa_rate(trust: tuple[str, ...], work: Path, workers: int, attempt: int) -> float:
    journal = work / f"throughput-{workers}-{attempt}.jsonl"
    done, seconds = _run(iter_items(work / "dumps"), trust, journal, workers)
    return done / seconds


def memory(cards: list[CardImage], trust: tuple[str, ...], work: Path, sizes: list[int], workers: int) -> None:
    """Stream generated cards at each size; print cards/s and peak RSS (this process, largest worker)."""
    for size in sizes:
        done, seconds = _run(_in_memory(cards, size), trust, work / f"memory-{size}.jsonl", workers)
        print(f"memory, {done:>8} cards on {workers} workers: {done / seconds:7.1f} cards/s, peak RSS "
              f"{_peak_mb(resource.RUSAGE_SELF):6.1f} MB here, {_peak_mb(resource.RUSAGE_CHILDREN):6.1f} MB "
              f"largest worker; journal {(work / f'memory-{size}.jsonl').stat().st_size / 1e6:.1f} MB on disk")


def main(argv: list[str] | None = None) -> int:
    """Run both parts; exit status 1 when a throughput target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=300, help="distinct dumps for the throughput part (default 300)")
    parser.add_argument("--sizes", default="2000,10000", help="batch sizes for the memory part (default 2000,10000)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved throughput rounds (default 7)")
    parser.add_argument("--workers", type=int, default=default_workers(), help="workers (default: every core)")
    parser.add_argument("--json", metavar="FILE", help="also write the throughput figures as JSON (- for stdout)")
    args = parser.parse_args(argv)
    cards = generated(ChipProfile(), args.cards)
    with tempfile.TemporaryDirectory(prefix="bench-qa-") as temporary:
        work = Path(temporary)
        sample_pki().save(work / "pki")
        trust = (str(work / "pki" / "csca.pem"), str(work / "pki" / "crl.pem"))
        figures = throughput(cards, trust, work, args.workers, args.rounds)
        memory(cards[:DISTINCT_IN_MEMORY], trust, work, [int(size) for size in args.sizes.split(",")], args.workers)
    write_json(args.json, figures)
    return 0 if figures["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
