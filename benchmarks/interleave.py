"""Side-by-side measurement for the benchmarks that compare cardlib with a floor: one pinned core, interleaved rounds.

Measuring a floor and then cardlib one after the other lets a neighbour's load hit one side and not the other
(the old ``bench_core`` printed 0.46 under load and 0.49 idle for the same code).  Here every round runs each
side once over the same slice of a batch, on one core, in alternating order (A B, then B A), and what is reported
is the median of the per-round ratios with their spread: a busy machine slows both sides of a round alike.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import cycle, islice
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def pin_one_core() -> int | None:
    """Pin this process to the last core it may use, so that floor and cardlib share one core; None when the
    platform cannot pin."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    core = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


@dataclass(frozen=True)
class Side(Generic[T]):
    """One side of a comparison: a name and the work it does for one item of the batch."""

    name: str
    work: Callable[[T], object]


@dataclass
class Rounds:
    """Items/s of every side in every round, in round order."""

    rates: dict[str, list[float]] = field(default_factory=dict)

    def rate(self, side: str) -> float:
        """The median items/s of ``side``."""
        return statistics.median(self.rates[side])

    def ratios(self, side: str, base: str) -> list[float]:
        """``side``'s rate over ``base``'s, round by round."""
        return [ours / floor for ours, floor in zip(self.rates[side], self.rates[base], strict=True)]

    def ratio(self, side: str, base: str) -> tuple[float, float, float]:
        """(median, lowest, highest) of the per-round ratios of ``side`` to ``base``."""
        ratios = self.ratios(side, base)
        return statistics.median(ratios), min(ratios), max(ratios)


def interleaved(sides: Sequence[Side[T]], items: Sequence[T], *, rounds: int, per_round: int,
                between: Callable[[], object] = lambda: None) -> Rounds:
    """Run every side over the next ``per_round`` items of ``items`` (cycled through), ``rounds`` times.

    One untimed round first fills what a batch legitimately caches (parsed DS certificate, chain results).
    Even rounds run the sides in order, odd rounds in reverse, so neither always runs first.  ``between``
    runs, untimed, after each side (e.g. to delete what it wrote).
    """
    source: Iterator[T] = cycle(items)
    _run_round(sides, list(islice(source, per_round)), between)
    result = Rounds({side.name: [] for side in sides})
    for number in range(rounds):
        batch = list(islice(source, per_round))
        order = sides if number % 2 == 0 else list(reversed(sides))
        for name, rate in _run_round(order, batch, between).items():
            result.rates[name].append(rate)
    return result


def _run_round(sides: Sequence[Side[T]], batch: Sequence[T], between: Callable[[], object]) -> dict[str, float]:
    rates = {}
    for side in sides:
        started = time.perf_counter()
        for item in batch:
            side.work(item)
        rates[side.name] = len(batch) / (time.perf_counter() - started)
        between()
    return rates


def ratio_text(median: float, low: float, high: float) -> str:
    """A ratio with its spread, e.g. ``0.52 (0.49–0.55)``."""
    return f"{median:4.2f} ({low:4.2f}–{high:4.2f})"


def write_json(path: str | None, figures: dict[str, Any]) -> None:
    """Write ``figures`` as JSON to ``path`` (``-`` for standard output); nothing when ``path`` is None."""
    if path is None:
        return
    text = json.dumps(figures, indent=2, sort_keys=True)
    if path == "-":
        print(text)
    else:
        Path(path).write_text(text + "\n", encoding="utf-8")
