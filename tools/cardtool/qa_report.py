"""QA reports for a batch of cards: JSON Lines as results arrive, a CSV summary, an HTML page.

One :class:`~cardlib.batch.outcome.CardOutcome` per card goes to ``results.jsonl`` (the run's
:class:`~cardlib.batch.journal.Journal`, appended and flushed card by card, so a run that dies keeps every
result it produced and a new run on the same folder resumes).  ``summary.csv`` and ``report.html`` are
written at the end by streaming that file, never from memory: a batch of any size needs memory only for
a bounded sample of it (the first cards of each failure group, a few dozen thumbnails, chart buckets).
Reports name the card (label, ID number, holder) and each failed check; they never contain keys, CANs or
MRZ key seeds.
"""

from __future__ import annotations

import bisect
import html
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cardlib.batch.journal import Journal, JournalError, read_journal
from cardlib.batch.outcome import VALID, CardOutcome
from cardlib.batch.sources import ManifestEntry
from cardtool.spreadsheet import write_csv

__all__ = [
    "PAGE",
    "RESULTS",
    "STYLE",
    "SUMMARY",
    "BatchSummary",
    "CardOutcome",
    "FailureGroup",
    "ReportWriter",
    "Series",
    "bar_chart",
    "line_chart",
]

RESULTS = "results.jsonl"
SUMMARY = "summary.csv"
PAGE = "report.html"
EXAMPLES = 20
THUMBNAILS = 48
MISSING_SHOWN = 100
CHART_BUCKETS = 48


class ReportWriter:
    """Appends card outcomes to ``DIR/results.jsonl``; :meth:`finish` writes the summary and the page.

    Opening a folder that already holds results continues them (see :attr:`resumed` and :meth:`holds`).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.journal = Journal(self.directory / RESULTS)

    @property
    def resumed(self) -> int:
        """Cards an earlier run on this folder already recorded."""
        return self.journal.resumed

    def holds(self, key: str) -> bool:
        """True when the card keyed ``key`` already has its result here."""
        return self.journal.holds(key)

    def add(self, outcome: CardOutcome) -> None:
        """Record one card now (flushed, so it survives a crash of the process)."""
        self.journal.append(outcome)

    def finish(self, title: str, missing: Iterable[ManifestEntry] = ()) -> BatchSummary:
        """Close the results, write ``summary.csv`` and ``report.html``; return the batch summary.

        ``missing`` are the cards the batch should have held but no result carries.
        """
        self.journal.close()
        summary = BatchSummary.from_results(self.directory / RESULTS)
        summary.count_missing(missing)
        try:
            summary.write_csv(self.directory / SUMMARY)
            (self.directory / PAGE).write_text(summary.html(title), encoding="utf-8")
        except OSError as exc:
            raise JournalError(f"{self.directory}: cannot write the summary and the page ({exc.strerror}); every "
                               f"result is in {RESULTS}: make room and run again to write them") from None
        return summary


@dataclass
class FailureGroup:
    """Cards that failed (or could not decide) one check: how many, one reason, the first labels in order."""

    check: str
    reason: str = ""
    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, label: str, reason: str) -> None:
        """Count a card; keep its label when it is among the :data:`EXAMPLES` smallest (order-independent)."""
        self.count += 1
        self.reason = self.reason or reason
        if len(self.examples) < EXAMPLES or label < self.examples[-1]:
            bisect.insort(self.examples, label)
            del self.examples[EXAMPLES:]


@dataclass
class BatchSummary:
    """Counts per verdict, failures grouped by check, a sample of failed cards, and series for the charts."""

    verdicts: Counter[str] = field(default_factory=Counter)
    groups: dict[str, FailureGroup] = field(default_factory=dict)
    failed_cards: list[CardOutcome] = field(default_factory=list)
    missing: list[ManifestEntry] = field(default_factory=list)
    missing_count: int = 0
    total_read_ms: float = 0.0
    first_finished: float = 0.0
    last_finished: float = 0.0
    throughput: Series = field(default_factory=lambda: Series(CHART_BUCKETS, width=1.0))
    read_times: Series = field(default_factory=lambda: Series(CHART_BUCKETS, width=1.0))

    @classmethod
    def from_results(cls, path: Path) -> BatchSummary:
        """Summarise a results file in one pass, without holding its lines in memory."""
        summary = cls()
        for outcome in read_journal(path):
            summary.add(outcome)
        return summary

    def add(self, outcome: CardOutcome) -> None:
        """Count one card."""
        index = self.total
        self.verdicts[outcome.verdict] += 1
        self.total_read_ms += outcome.read_ms
        self.first_finished = min(self.first_finished or outcome.finished, outcome.finished)
        self.last_finished = max(self.last_finished, outcome.finished)
        self.throughput.add(outcome.finished - self.first_finished, 1.0)
        self.read_times.add(float(index), outcome.read_ms)
        for check in outcome.failed_checks or outcome.undecided_checks:
            group = self.groups.setdefault(check, FailureGroup(check))
            group.add(outcome.label, outcome.reasons.get(check, outcome.summary))
        if outcome.verdict != VALID and len(self.failed_cards) < THUMBNAILS:
            self.failed_cards.append(outcome)

    def count_missing(self, missing: Iterable[ManifestEntry]) -> None:
        """Count the cards of the manifest no result carries; keep the first :data:`MISSING_SHOWN`."""
        for entry in missing:
            self.missing_count += 1
            if len(self.missing) < MISSING_SHOWN:
                self.missing.append(entry)

    @property
    def total(self) -> int:
        """Cards with a result."""
        return sum(self.verdicts.values())

    @property
    def passed(self) -> bool:
        """True when every card verified valid and none of the batch is missing."""
        return self.total > 0 and self.verdicts[VALID] == self.total and not self.missing_count

    @property
    def exit_code(self) -> int:
        """0 the batch passed; 1 a card failed, could not be read, or is missing; 2 only undecided cards."""
        if self.passed:
            return 0
        undecided_only = self.verdicts[VALID] + self.verdicts["cannot tell"] == self.total and self.total
        return 2 if undecided_only and not self.missing_count else 1

    @property
    def pass_rate(self) -> float:
        """Percentage of the batch (cards read plus missing) that verified valid."""
        expected = self.total + self.missing_count
        return 100.0 * self.verdicts[VALID] / expected if expected else 0.0

    def sorted_groups(self) -> list[FailureGroup]:
        """Failure groups, the most frequent first (ties by check name, so runs compare equal)."""
        return sorted(self.groups.values(), key=lambda group: (-group.count, group.check))

    def line(self) -> str:
        """One line for a person at a terminal."""
        counts = ", ".join(f"{n} {verdict}" for verdict, n in sorted(self.verdicts.items()))
        missing = f", {self.missing_count} missing" if self.missing_count else ""
        return f"{self.total} cards: {counts}{missing}"

    def fields(self) -> str:
        """One ``key=value`` line for scripts."""
        values = {"cards": self.total, **{name.replace(" ", "_"): self.verdicts[name]
                                          for name in (VALID, "invalid", "cannot tell", "error")},
                  "missing": self.missing_count, "pass_rate": f"{self.pass_rate:.2f}",
                  "passed": "yes" if self.passed else "no"}
        return " ".join(f"{key}={value}" for key, value in values.items())

    def write_csv(self, path: Path) -> None:
        """Verdict counts, each failing check with its number of cards, a reason and the first cards, and every
        missing card kept in the sample (their full count is on the ``missing`` verdict row).  Text from the
        cards (reasons, ID numbers) is made spreadsheet-safe (see :mod:`cardtool.spreadsheet`).
        """
        rows: list[list[object]] = [["verdict", verdict, count, "", ""]
                                    for verdict, count in sorted(self.verdicts.items())]
        rows.append(["verdict", "missing", self.missing_count, "", ""])
        rows += [["failed check", group.check, group.count, group.reason, " ".join(group.examples)]
                 for group in self.sorted_groups()]
        rows += [["missing card", entry.id_number, 1, f"input row {entry.row}", entry.card.name]
                 for entry in self.missing]
        write_csv(path, ["kind", "name", "cards", "reason", "first cards"], rows)

    def html(self, title: str) -> str:
        """A self-contained page (inline CSS and SVG, no script) a supervisor opens in a browser."""
        sections = [self._head_html(), self._groups_html(), self._cards_html(), self._missing_html(),
                    self._charts_html()]
        return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{''.join(sections)}</body></html>\n")

    def _head_html(self) -> str:
        state = "passed" if self.passed else "FAILED"
        counts = "".join(f"<li>{html.escape(verdict)}: <b>{n}</b></li>" for verdict, n in sorted(self.verdicts.items()))
        span = self.last_finished - self.first_finished
        rate = f"{self.total / span:.1f} cards/s over {span:.0f} s" if span > 0 else "—"
        return (f"<p class='big {state.lower()}'>{self.pass_rate:.1f}% valid — batch {state}</p>"
                f"<ul>{counts}<li>missing: <b>{self.missing_count}</b></li></ul>"
                f"<p>{self.total} cards with a result; throughput {rate}; "
                f"mean read time {self.total_read_ms / max(self.total, 1):.1f} ms.</p>")

    def _groups_html(self) -> str:
        groups = self.sorted_groups()
        if not groups:
            return "<h2>Failures by reason</h2><p>No failures.</p>"
        rows = "".join(
            f"<tr><td>{html.escape(g.check)}</td><td>{g.count}</td><td>{html.escape(g.reason)}</td>"
            f"<td>{html.escape(', '.join(g.examples))}{' …' if g.count > len(g.examples) else ''}</td></tr>"
            for g in groups)
        chart = bar_chart([(g.check, g.count) for g in groups[:12]])
        return (f"<h2>Failures by reason</h2>{chart}<table><tr><th>check</th><th>cards</th><th>reason (first card)"
                f"</th><th>cards affected</th></tr>{rows}</table>")

    def _cards_html(self) -> str:
        if not self.failed_cards:
            return ""
        tiles = "".join(_tile(outcome) for outcome in self.failed_cards)
        more = self.total - self.verdicts[VALID] - len(self.failed_cards)
        note = f"<p>… and {more} more in {RESULTS}.</p>" if more > 0 else ""
        return f"<h2>Failed cards</h2><div class='tiles'>{tiles}</div>{note}"

    def _missing_html(self) -> str:
        if not self.missing_count:
            return ""
        items = "".join(f"<li>{html.escape(entry.id_number)} (input row {entry.row}, {html.escape(entry.card.name)})"
                        "</li>" for entry in self.missing)
        more = f"<p>… and {self.missing_count - len(self.missing)} more.</p>" if self.missing_count > len(
            self.missing) else ""
        return f"<h2>Missing cards ({self.missing_count})</h2><ul>{items}</ul>{more}"

    def _charts_html(self) -> str:
        if not self.total:
            return ""
        throughput = line_chart(self.throughput.rates(), x_label="seconds into the batch",
                                       y_label="cards/s", x_step=self.throughput.width)
        reads = line_chart(self.read_times.means(), x_label="card number", y_label="ms per card",
                                  x_step=self.read_times.width)
        return f"<h2>Throughput over the batch</h2>{throughput}<h2>Read time over the batch</h2>{reads}"


def _tile(outcome: CardOutcome) -> str:
    picture = (f"<img alt='portrait' src='data:image/jpeg;base64,{outcome.thumbnail}'>" if outcome.thumbnail
               else "<div class='noimg'>no portrait</div>")
    name = outcome.holder.get("full name", "")
    checks = ", ".join(outcome.failed_checks or outcome.undecided_checks)
    return (f"<div class='tile'>{picture}<div><b>{html.escape(outcome.label)}</b><br>{html.escape(name)}<br>"
            f"{html.escape(outcome.id_number)}<br><span class='{outcome.verdict.replace(' ', '-')}'>"
            f"{html.escape(outcome.verdict.upper())}</span>: {html.escape(checks)}"
            "</div></div>")


STYLE = ("body{font-family:sans-serif;margin:2em;color:#222}td,th{border:1px solid #ccc;padding:4px 8px;"
          "vertical-align:top}table{border-collapse:collapse}.big{font-size:1.6em;font-weight:bold}"
          ".passed{color:#1a7f37}.failed,.invalid,.error{color:#c62828}.cannot-tell{color:#b26a00}"
          ".tiles{display:flex;flex-wrap:wrap;gap:10px}.tile{display:flex;gap:8px;border:1px solid #ddd;"
          "padding:6px;width:330px;font-size:.85em}.tile img,.noimg{width:72px;height:96px;object-fit:cover;"
          "background:#eee}svg{background:#fafafa;border:1px solid #eee}")


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


def bar_chart(items: list[tuple[str, int]], *, width: int = 640) -> str:
    """Horizontal bars, one per (label, count), as inline SVG."""
    if not items:
        return ""
    top = max(count for _, count in items) or 1
    row, left = 22, 230
    scale = (width - left - 60) / top
    bars = "".join(
        f"<text x='{left - 6}' y='{i * row + 15}' text-anchor='end'>{html.escape(label[:34])}</text>"
        f"<rect x='{left}' y='{i * row + 4}' width='{max(1.0, scale * count):.1f}' height='14' fill='#c62828'/>"
        f"<text x='{left + 6 + scale * count:.1f}' y='{i * row + 15}'>{count}</text>"
        for i, (label, count) in enumerate(items))
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{len(items) * row + 8}' "
            f"font-size='12'>{bars}</svg>")


def line_chart(values: list[float], *, x_label: str, y_label: str, x_step: float, width: int = 640,
               height: int = 180) -> str:
    """A polyline of ``values`` (one per ``x_step`` of the x axis) with its axes labelled, as inline SVG."""
    if not values:
        return ""
    top = max(values) or 1.0
    left, bottom, plot_w, plot_h = 50, height - 30, width - 70, height - 50
    step = plot_w / max(len(values) - 1, 1)
    points = " ".join(f"{left + i * step:.1f},{bottom - plot_h * v / top:.1f}" for i, v in enumerate(values))
    span = x_step * len(values)
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' font-size='11'>"
            f"<line x1='{left}' y1='{bottom}' x2='{left + plot_w}' y2='{bottom}' stroke='#888'/>"
            f"<line x1='{left}' y1='{bottom}' x2='{left}' y2='{bottom - plot_h}' stroke='#888'/>"
            f"<polyline fill='none' stroke='#1565c0' stroke-width='2' points='{points}'/>"
            f"<text x='{left - 4}' y='{bottom - plot_h + 4}' text-anchor='end'>{top:.4g}</text>"
            f"<text x='{left - 4}' y='{bottom}' text-anchor='end'>0</text>"
            f"<text x='{left + plot_w}' y='{bottom + 14}' text-anchor='end'>{span:.4g}</text>"
            f"<text x='{left + plot_w / 2}' y='{bottom + 26}' text-anchor='middle'>{html.escape(x_label)}</text>"
            f"<text x='{left - 4}' y='{bottom - plot_h - 6}'>{html.escape(y_label)}</text></svg>")
