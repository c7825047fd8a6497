"""A one-line progress bar with rate and ETA for batch commands, drawn only on a terminal.

When the output is not a terminal (a script, a log file) nothing is drawn: the command's own final
``key=value`` line is the parseable output.  The rate counts only the work of this run, so a resumed
run's ETA is not flattered by the cards an earlier run did.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 24
REDRAW_SECONDS = 0.2


class Progress:
    """Counts units of work done out of ``total`` (None when unknown) and redraws a line at most 5 times/s."""

    def __init__(self, total: int | None, *, unit: str = "cards", done: int = 0, stream: TextIO | None = None,
                 enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total = total
        self.unit = unit
        self.done = done
        self._start_done = done
        self._started = time.monotonic()
        self._drawn = 0.0

    @property
    def rate(self) -> float:
        """Units per second in this run."""
        elapsed = time.monotonic() - self._started
        return (self.done - self._start_done) / elapsed if elapsed > 0 else 0.0

    def advance(self, count: int = 1) -> None:
        """Count ``count`` more units; redraw when due."""
        self.done += count
        now = time.monotonic()
        if self.enabled and now - self._drawn >= REDRAW_SECONDS:
            self._drawn = now
            self._draw()

    def line(self) -> str:
        """The progress line: count, percentage and bar when the total is known, rate, ETA."""
        rate = self.rate
        parts = [f"{self.done}/{self.total}" if self.total else f"{self.done}"]
        if self.total:
            fraction = min(self.done / self.total, 1.0)
            filled = int(fraction * BAR_WIDTH)
            parts += [f"{100 * fraction:5.1f}%", "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "]"]
        parts.append(f"{rate:.1f} {self.unit}/s")
        if self.total and rate > 0:
            parts.append(f"ETA {_clock(max(self.total - self.done, 0) / rate)}")
        return " ".join(parts)

    def _draw(self) -> None:
        self.stream.write("\r" + self.line() + "\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        """Draw the final state and end the line (terminal only)."""
        if self.enabled:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"
