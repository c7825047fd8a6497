"""QA reports for a batch of verified cards: JSON Lines as results arrive, a CSV summary, an HTML page.

One :class:`CardOutcome` per card.  The JSON Lines file is appended and flushed card by card, so a run
that dies keeps every result it produced.  The CSV and HTML are written at the end from the JSON Lines
file (not from memory), so a batch of any size needs memory only for the failure groups.
Reports name the card (label, ID number, holder) and each failed check; they never contain keys, CANs
or MRZ key seeds.
"""

from __future__ import annotations

import csv
import html
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from cardlib.verify.report import VerificationReport

RESULTS = "results.jsonl"
SUMMARY = "summary.csv"
PAGE = "report.html"


@dataclass(frozen=True)
class CardOutcome:
    """What QA established for one card."""

    label: str
    verdict: str
    summary: str
    failed_checks: tuple[str, ...]
    undecided_checks: tuple[str, ...]
    holder: dict[str, str] = field(default_factory=dict)
    access: str = ""
    apdus: int = 0
    read_ms: float = 0.0

    @classmethod
    def of(cls, label: str, report: VerificationReport, *, access: str = "", apdus: int = 0,
           read_ms: float = 0.0) -> CardOutcome:
        """The outcome of ``report`` for the card called ``label``."""
        return cls(label, report.verdict.value, report.summary(), tuple(c.id for c in report.failures()),
                   tuple(c.id for c in report.undecided()), dict(report.holder), access, apdus, round(read_ms, 1))

    @classmethod
    def error(cls, label: str, message: str) -> CardOutcome:
        """A card that could not be read or verified at all."""
        return cls(label, "error", message, ("read",), ())


class ReportWriter:
    """Appends card outcomes to ``DIR/results.jsonl``; :meth:`finish` writes the summary and the page."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._results: IO[str] = (directory / RESULTS).open("a", encoding="utf-8")

    def add(self, outcome: CardOutcome) -> None:
        """Record one card now (flushed, so it survives a crash of the process)."""
        self._results.write(json.dumps(asdict(outcome), ensure_ascii=False) + "\n")
        self._results.flush()

    def finish(self, title: str) -> BatchSummary:
        """Close the results file, write ``summary.csv`` and ``report.html``; return the batch summary."""
        self._results.close()
        summary = BatchSummary.from_results(self.directory / RESULTS)
        summary.write_csv(self.directory / SUMMARY)
        (self.directory / PAGE).write_text(summary.html(title), encoding="utf-8")
        return summary


def read_outcomes(path: Path) -> Iterator[CardOutcome]:
    """The outcomes recorded in a results file, one at a time (a torn last line is skipped)."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                data: dict[str, Any] = json.loads(line)
            except json.JSONDecodeError:
                continue
            data["failed_checks"] = tuple(data.get("failed_checks", ()))
            data["undecided_checks"] = tuple(data.get("undecided_checks", ()))
            yield CardOutcome(**data)


@dataclass
class BatchSummary:
    """Counts per verdict and the failing cards grouped by the check that failed."""

    verdicts: Counter[str] = field(default_factory=Counter)
    failures: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    total_read_ms: float = 0.0

    @classmethod
    def from_results(cls, path: Path) -> BatchSummary:
        """Summarise a results file without holding its lines in memory."""
        summary = cls()
        for outcome in read_outcomes(path):
            summary.verdicts[outcome.verdict] += 1
            summary.total_read_ms += outcome.read_ms
            for check in outcome.failed_checks or outcome.undecided_checks:
                summary.failures[check].append(outcome.label)
        return summary

    @property
    def total(self) -> int:
        """Cards in the batch."""
        return sum(self.verdicts.values())

    @property
    def passed(self) -> bool:
        """True when every card verified valid."""
        return self.total > 0 and self.verdicts["valid"] == self.total

    def line(self) -> str:
        """One line for a terminal."""
        counts = ", ".join(f"{n} {verdict}" for verdict, n in sorted(self.verdicts.items()))
        return f"{self.total} cards: {counts}"

    def write_csv(self, path: Path) -> None:
        """Verdict counts, then each failing check with the number of cards and which ones."""
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["kind", "name", "cards", "labels"])
            for verdict, count in sorted(self.verdicts.items()):
                writer.writerow(["verdict", verdict, count, ""])
            for check, labels in sorted(self.failures.items(), key=lambda item: -len(item[1])):
                writer.writerow(["failed check", check, len(labels), " ".join(labels)])

    def html(self, title: str) -> str:
        """A self-contained page a supervisor opens in a browser."""
        rate = 100.0 * self.verdicts["valid"] / self.total if self.total else 0.0
        rows = "".join(
            f"<tr><td>{html.escape(check)}</td><td>{len(labels)}</td><td>{html.escape(', '.join(labels))}</td></tr>"
            for check, labels in sorted(self.failures.items(), key=lambda item: -len(item[1])))
        counts = "".join(f"<li>{html.escape(verdict)}: {n}</li>" for verdict, n in sorted(self.verdicts.items()))
        failures = (f"<table><tr><th>failed check</th><th>cards</th><th>which</th></tr>{rows}</table>"
                    if rows else "<p>No failures.</p>")
        return (f"<!doctype html><html lang='en'><meta charset='utf-8'><title>{html.escape(title)}</title>"
                "<style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #ccc;padding:4px 8px}"
                "table{border-collapse:collapse}</style>"
                f"<h1>{html.escape(title)}</h1><p><strong>{rate:.1f}% valid</strong> of {self.total} cards</p>"
                f"<ul>{counts}</ul><h2>Failures by check</h2>{failures}</html>\n")
