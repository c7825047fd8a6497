"""Charts of the QA and perso report pages as inline SVG (nothing fetched: the pages open offline).

The geometry is computed here and drawn by ``templates/charts.html``; :class:`Series` keeps the values of a
batch of any length in bounded memory.
"""

from __future__ import annotations

from markupsafe import Markup

from cardtool.pages import macro

__all__ = ["Series", "bar_chart", "line_chart"]


class Series:
    """Values over a position (seconds, card number) in at most ``2 * buckets`` buckets of equal width.

    When a value falls beyond the last bucket, neighbouring buckets merge and the width doubles: one pass,
    bounded memory, whatever the length of the batch.
    """

    def __init__(self, buckets: int, *, width: float) -> None:
        self.buckets = buckets
        self.width = width
        self.sums: list[float] = []
        self.counts: list[int] = []

    def add(self, position: float, value: float) -> None:
        """Add ``value`` at ``position`` (negative positions count as 0)."""
        index = int(max(position, 0.0) // self.width)
        while index >= 2 * self.buckets:
            self._merge()
            index //= 2
        if index >= len(self.sums):
            grow = index + 1 - len(self.sums)
            self.sums += [0.0] * grow
            self.counts += [0] * grow
        self.sums[index] += value
        self.counts[index] += 1

    def _merge(self) -> None:
        self.sums = [sum(self.sums[i:i + 2]) for i in range(0, len(self.sums), 2)]
        self.counts = [sum(self.counts[i:i + 2]) for i in range(0, len(self.counts), 2)]
        self.width *= 2

    def rates(self) -> list[float]:
        """Sum per unit of position in each bucket (e.g. cards per second)."""
        return [total / self.width for total in self.sums]

    def means(self) -> list[float]:
        """Mean value in each bucket (0 for an empty one)."""
        return [total / count if count else 0.0 for total, count in zip(self.sums, self.counts, strict=True)]


def bar_chart(items: list[tuple[str, int]], *, width: int = 640) -> Markup:
    """Horizontal bars, one per (label, count), as inline SVG (labels cut to 34 characters, escaped)."""
    if not items:
        return Markup("")
    top = max(count for _, count in items) or 1
    row, left = 22, 230
    scale = (width - left - 60) / top
    bars = [(label[:34], i * row + 15, i * row + 4, f"{max(1.0, scale * count):.1f}", f"{left + 6 + scale * count:.1f}",
             count) for i, (label, count) in enumerate(items)]
    return macro("charts.html", "bar_chart", width, len(items) * row + 8, left, bars)


def line_chart(values: list[float], *, x_label: str, y_label: str, x_step: float, width: int = 640,
               height: int = 180) -> Markup:
    """A polyline of ``values`` (one per ``x_step`` of the x axis) with its axes labelled, as inline SVG."""
    if not values:
        return Markup("")
    top = max(values) or 1.0
    left, bottom, plot_w, plot_h = 50, height - 30, width - 70, height - 50
    step = plot_w / max(len(values) - 1, 1)
    points = " ".join(f"{left + i * step:.1f},{bottom - plot_h * v / top:.1f}" for i, v in enumerate(values))
    return macro("charts.html", "line_chart", width, height, left, bottom, left + plot_w, bottom - plot_h, points,
                 f"{top:.4g}", f"{x_step * len(values):.4g}", left + plot_w / 2, x_label, y_label)
