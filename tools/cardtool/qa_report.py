"""QA reports for a batch of cards: JSON Lines as results arrive, then a per-card CSV, a summary CSV and a page.

One :class:`~cardlib.batch.outcome.CardOutcome` per card goes to ``results.jsonl`` (the run's
:class:`~cardlib.batch.journal.Journal`, appended and flushed card by card, so a run that dies keeps every
result it produced and a new run on the same folder resumes).  At the end that file is streamed once, never
held in memory, into

* ``cards.csv`` — one row per card for the MES: ID number, card, verdict, reasons (English and Vietnamese),
  the failed checks, read time, reader, when; then one row per missing card;
* ``summary.csv`` — verdict counts, each failure group with its cards, every distinct reason, the first cards;
* ``report.html`` — the page a shift supervisor acts on, self-contained (inline CSS, SVG and script, nothing
  fetched: it opens offline): who ran the QA of which batch, when, against which trust anchors, which
  Document Signers the cards carry, the perso input and its rejected rows; the verdicts; whether the cards' DG3
  (fingerprints) was read and its hash verified (only with Terminal Authentication); failures grouped by
  what they mean, in Vietnamese and English, each with every distinct reason; a table of the cards to search
  by ID number or name and filter by reason and verdict; portraits of failed cards; missing cards; per-reader
  statistics of a live line; charts.

A card counts once, under one verdict: valid, invalid, cannot tell, unreadable (``error``: the card could not be
read or loaded, and why) — or missing, when no result carries a card of the manifest.  Memory stays bounded
whatever the batch's size: the page keeps at most :data:`TABLE_ROWS` cards of each kind, the first cards and
:data:`REASONS_SHOWN` distinct reasons of each group, a few dozen thumbnails and the chart buckets; the CSVs
have everything.  Reports never contain keys, CANs or MRZ key seeds.
"""

from __future__ import annotations

import bisect
import getpass
import os
import socket
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from itertools import chain
from pathlib import Path

from markupsafe import Markup

from cardlib.batch.accounting import CHECK_WORDS
from cardlib.batch.journal import Journal, JournalError, read_journal
from cardlib.batch.outcome import DG3_STATES, ERROR, VALID, CardOutcome
from cardlib.batch.sources import ManifestEntry
from cardlib.verify.report import CheckResult, Group, Status
from cardtool.counter.verdict import plain_reason
from cardtool.pages import macro, render
from cardtool.spreadsheet import write_csv

__all__ = [
    "CARDS",
    "PAGE",
    "RESULTS",
    "SUMMARY",
    "BatchSummary",
    "CardOutcome",
    "FailureGroup",
    "PersoInput",
    "ReportWriter",
    "RunInfo",
    "Series",
    "bar_chart",
    "check_words",
    "line_chart",
    "operator",
]

RESULTS = "results.jsonl"
SUMMARY = "summary.csv"
CARDS = "cards.csv"
PAGE = "report.html"
EXAMPLES = 20
THUMBNAILS = 48
MISSING_SHOWN = 100
CHART_BUCKETS = 48
REASONS_SHOWN = 30
"""Distinct reasons kept per failure group (the others are counted)."""
TABLE_ROWS = 5000
"""Cards of each kind (not valid, valid) in the page's searchable table; every card is in ``cards.csv``."""
SIGNERS_SHOWN = 20
MISSING = "missing"

VERDICT_WORDS: dict[str, tuple[str, str]] = {
    VALID: ("hợp lệ", "valid"), "invalid": ("không hợp lệ", "invalid"),
    "cannot tell": ("không xác định được", "cannot tell"), ERROR: ("không đọc được", "unreadable"),
    MISSING: ("thiếu", "missing"),
}
"""Each verdict (and missing) in Vietnamese and English; the English word is what ``cards.csv`` says."""

CARD_COLUMNS = ["id_number", "card", "verdict", "reasons", "ly_do", "checks", "read_ms", "reader", "checked_at"]


def operator() -> str:
    """``user@host`` of whoever runs this process (the login name, else the numeric user id)."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (a bare container)
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"


@lru_cache(maxsize=512)
def check_words(check_id: str, *, failed: bool) -> tuple[str, str]:
    """What a failed (or, ``failed=False``, undecided) check means for the card: (Vietnamese, English).

    Batch checks and the unreadable card have their words in :data:`cardlib.batch.accounting.CHECK_WORDS`;
    the verifier's checks are said as the counter says them to officers
    (:func:`cardtool.counter.verdict.plain_reason`, which reads only the id and the status).
    """
    if check_id in CHECK_WORDS:
        return CHECK_WORDS[check_id]
    status = Status.FAIL if failed else Status.UNKNOWN
    sentence = plain_reason(CheckResult(check_id, Group.PASSIVE, status, ""))
    return sentence.vi.rstrip("."), sentence.en.rstrip(".")


def _words_of(outcome: CardOutcome) -> dict[tuple[str, str], list[str]]:
    """The card's problems: (vi, en) words → its checks said so (undecided ones only when none failed)."""
    failed = bool(outcome.failed_checks)
    problems: dict[tuple[str, str], list[str]] = {}
    for check in outcome.failed_checks or outcome.undecided_checks:
        problems.setdefault(check_words(check, failed=failed), []).append(check)
    return problems


def _fold(text: str) -> str:
    """Lower case without Vietnamese diacritics ("Nguyễn" → "nguyen"): what the page's search compares."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds") if timestamp else ""


@dataclass(frozen=True)
class PersoInput:
    """The personalization batch a QA source came from: its input file, title, and the rows ``cardtool perso``
    rejected.

    ``rejected_rows`` are the first rejected rows (row, ID number, field, reason); ``rejected_csv`` is the path
    of the perso output's ``rejected.csv`` (every rejected row, to fix and feed back), ``""`` when absent.
    """

    folder: str
    input: str
    input_sha256: str
    title: str
    personalized: int
    rejected: int
    rejected_csv: str = ""
    rejected_rows: tuple[tuple[int, str, str, str], ...] = ()


@dataclass(frozen=True)
class RunInfo:
    """The report's header: which batch, when, who (``user@host``), what was checked against which trust.

    ``trust_anchors`` describe the CSCA certificates given as anchors (subject, serial, key id: public data
    only); ``trusted_cscas`` counts every CSCA trusted, those of anchored master lists included.
    ``rechecked`` is how many failed cards this run took out to check again (``--recheck failed``).
    """

    batch: str
    started: str = ""
    verified_at: str = ""
    operator: str = field(default_factory=operator)
    sources: tuple[str, ...] = ()
    trust_anchors: tuple[str, ...] = ()
    trusted_cscas: int = 0
    perso: PersoInput | None = None
    rechecked: int | None = None


class ReportWriter:
    """Appends card outcomes to ``DIR/results.jsonl``; :meth:`finish` writes the CSVs and the page.

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

    def finish(self, title: str, missing: Iterable[ManifestEntry] = (), info: RunInfo | None = None) -> BatchSummary:
        """Close the results, write ``cards.csv``, ``summary.csv`` and ``report.html``; return the batch summary.

        ``missing`` are the cards the batch should have held but no result carries; ``info`` the page's header
        (default: the batch called ``title``, run by this user on this machine now).
        """
        self.journal.close()
        summary = BatchSummary()
        try:
            write_csv(self.directory / CARDS, CARD_COLUMNS,
                      chain(summary.counted(read_journal(self.directory / RESULTS)), summary.missing_rows(missing)))
            summary.write_csv(self.directory / SUMMARY)
            page = summary.html(title, info or RunInfo(batch=title))
            (self.directory / PAGE).write_text(page, encoding="utf-8")
        except OSError as exc:
            raise JournalError(f"{self.directory}: cannot write the CSV files and the page ({exc.strerror}); every "
                               f"result is in {RESULTS}: make room and run again to write them") from None
        return summary


@dataclass
class FailureGroup:
    """Cards that share one problem: how many, what it means (``vi``/``en``), which checks said so, every distinct
    reason (the first :data:`REASONS_SHOWN`, with their number of cards), and the first card labels in order.

    ``check`` names the group (a check id, a perso field, or the English words of a QA group); ``reason`` is the
    first reason seen.
    """

    check: str
    reason: str = ""
    count: int = 0
    examples: list[str] = field(default_factory=list)
    vi: str = ""
    en: str = ""
    checks: set[str] = field(default_factory=set)
    reasons: Counter[str] = field(default_factory=Counter)
    other_reasons: int = 0

    def add(self, label: str, reason: str, *more: str) -> None:
        """Count a card with its reason(s); keep its label when among the :data:`EXAMPLES` smallest
        (order-independent)."""
        self.count += 1
        self.reason = self.reason or reason
        for text in (reason, *more):
            if text in self.reasons or len(self.reasons) < REASONS_SHOWN:
                self.reasons[text] += 1
            else:
                self.other_reasons += 1
        if len(self.examples) < EXAMPLES or label < self.examples[-1]:
            bisect.insort(self.examples, label)
            del self.examples[EXAMPLES:]


@dataclass(frozen=True)
class CardRow:
    """One card in the page's table: what is shown, the groups it is in, and the text the search looks at."""

    label: str
    id_number: str
    name: str
    verdict: str
    groups: tuple[int, ...]
    problems: tuple[tuple[str, str], ...]
    details: str
    read_ms: float
    reader: str

    @property
    def searched(self) -> str:
        """What the page's search compares (the ``data-s`` attribute): every word shown, folded."""
        return _fold(" ".join([self.id_number, self.label, self.name, self.details,
                               *(text for pair in self.problems for text in pair)]))


@dataclass
class ReaderStats:
    """What one reader of a live line did: cards per verdict, read time and APDUs, first and last card."""

    verdicts: Counter[str] = field(default_factory=Counter)
    read_ms: float = 0.0
    apdus: int = 0
    first: float = 0.0
    last: float = 0.0

    def add(self, outcome: CardOutcome) -> None:
        """Count one card this reader gave."""
        self.verdicts[outcome.verdict] += 1
        self.read_ms += outcome.read_ms
        self.apdus += outcome.apdus
        self.first = min(self.first or outcome.finished, outcome.finished)
        self.last = max(self.last, outcome.finished)

    @property
    def cards(self) -> int:
        """Cards this reader gave a result for."""
        return sum(self.verdicts.values())

    def per_minute(self) -> float:
        """Cards per minute between this reader's first and last card (0 for fewer than two cards)."""
        span = self.last - self.first
        return 60.0 * (self.cards - 1) / span if span > 0 else 0.0


@dataclass
class BatchSummary:
    """Counts per verdict, failures grouped by what they mean, a sample of cards, per-reader statistics, the
    Document Signers seen and series for the charts."""

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
    rows: list[CardRow] = field(default_factory=list)
    valid_rows: list[CardRow] = field(default_factory=list)
    readers: dict[str, ReaderStats] = field(default_factory=dict)
    signers: Counter[str] = field(default_factory=Counter)
    dg3: Counter[str] = field(default_factory=Counter)
    """Cards per :data:`~cardlib.batch.outcome.DG3_STATES` value (cards whose SOD lists no DG3 are not counted)."""

    def counted(self, outcomes: Iterable[CardOutcome]) -> Iterator[list[object]]:
        """Count each outcome (:meth:`add`) and yield its ``cards.csv`` row."""
        for outcome in outcomes:
            problems = self.add(outcome)
            yield [outcome.batch_id, outcome.label, VERDICT_WORDS.get(outcome.verdict, ("", outcome.verdict))[1],
                   "; ".join(en for _, en in problems), "; ".join(vi for vi, _ in problems),
                   " ".join(outcome.failed_checks or outcome.undecided_checks), outcome.read_ms, outcome.reader,
                   _when(outcome.finished)]

    def missing_rows(self, missing: Iterable[ManifestEntry]) -> Iterator[list[object]]:
        """Count the cards of the manifest no result carries (the first :data:`MISSING_SHOWN` kept) and yield
        their ``cards.csv`` rows."""
        for entry in missing:
            self.missing_count += 1
            if len(self.missing) < MISSING_SHOWN:
                self.missing.append(entry)
            yield [entry.id_number, entry.card.name, MISSING, "card never seen", "không thấy thẻ", "", "", "", ""]

    def add(self, outcome: CardOutcome) -> list[tuple[str, str]]:
        """Count one card; return its problems' words (vi, en), empty for a valid card."""
        index = self.total
        self.verdicts[outcome.verdict] += 1
        self.total_read_ms += outcome.read_ms
        self.first_finished = min(self.first_finished or outcome.finished, outcome.finished)
        self.last_finished = max(self.last_finished, outcome.finished)
        self.throughput.add(outcome.finished - self.first_finished, 1.0)
        self.read_times.add(float(index), outcome.read_ms)
        if outcome.reader:
            self.readers.setdefault(outcome.reader, ReaderStats()).add(outcome)
        if outcome.signer and (outcome.signer in self.signers or len(self.signers) < SIGNERS_SHOWN):
            self.signers[outcome.signer] += 1
        if outcome.dg3:
            self.dg3[outcome.dg3] += 1
        problems = _words_of(outcome)
        indexes = tuple(self._group(outcome, words, checks) for words, checks in problems.items())
        if outcome.verdict != VALID and len(self.failed_cards) < THUMBNAILS:
            self.failed_cards.append(outcome)
        self._keep_row(outcome, indexes, tuple(problems))
        return list(problems)

    def _group(self, outcome: CardOutcome, words: tuple[str, str], checks: list[str]) -> int:
        """Count the card in the group of ``words``; the group's position (the page's filter value)."""
        vi, en = words
        group = self.groups.setdefault(en, FailureGroup(en, vi=vi, en=en))
        group.checks.update(checks)
        group.add(outcome.label, *(outcome.reasons.get(check, outcome.summary) for check in checks))
        return list(self.groups).index(en)

    def _keep_row(self, outcome: CardOutcome, groups: tuple[int, ...], problems: tuple[tuple[str, str], ...]) -> None:
        rows = self.valid_rows if outcome.passed else self.rows
        if len(rows) >= TABLE_ROWS:
            return
        details = "; ".join(f"{check}: {outcome.reasons.get(check, '')}"
                            for check in (*outcome.failed_checks, *outcome.undecided_checks)) or outcome.summary
        rows.append(CardRow(outcome.label, outcome.batch_id, outcome.holder.get("full name", ""), outcome.verdict,
                            groups, problems, details, outcome.read_ms, outcome.reader))

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
        """Failure groups, the most frequent first (ties by name, so runs compare equal)."""
        return sorted(self.groups.values(), key=lambda group: (-group.count, group.check))

    def line(self) -> str:
        """One line for a person at a terminal."""
        counts = ", ".join(f"{n} {VERDICT_WORDS.get(verdict, ('', verdict))[1]}"
                           for verdict, n in sorted(self.verdicts.items()))
        missing = f", {self.missing_count} missing" if self.missing_count else ""
        return f"{self.total} cards: {counts}{missing}"

    def dg3_line(self) -> str:
        """Whether the cards' DG3 (fingerprints) was read and its hash verified, in one line."""
        if not self.dg3:
            return "Fingerprints (DG3): no card's SOD lists DG3"
        words = {"verified": "read and hash verified", "not read": "not read (Terminal Authentication needed)",
                 "hash fails": "read but its hash does not match the SOD", "not verified": "read but not verified"}
        counts = "; ".join(f"{self.dg3[state]} {words[state]}" for state in DG3_STATES.values() if self.dg3[state])
        return f"Fingerprints (DG3): {counts}"

    def fields(self) -> str:
        """One ``key=value`` line for scripts."""
        values = {"cards": self.total, **{name.replace(" ", "_"): self.verdicts[name]
                                          for name in (VALID, "invalid", "cannot tell", ERROR)},
                  "missing": self.missing_count, "pass_rate": f"{self.pass_rate:.2f}",
                  "passed": "yes" if self.passed else "no"}
        return " ".join(f"{key}={value}" for key, value in values.items())

    def write_csv(self, path: Path) -> None:
        """Verdict counts; each failure group with its number of cards, its words, every distinct reason kept
        and the first cards; every missing card kept in the sample (their full count is on the ``missing``
        verdict row).  Text from the cards is made spreadsheet-safe (see :mod:`cardtool.spreadsheet`).
        """
        rows: list[list[object]] = [["verdict", VERDICT_WORDS.get(verdict, ("", verdict))[1], count, "", "", ""]
                                    for verdict, count in sorted(self.verdicts.items())]
        rows.append(["verdict", MISSING, self.missing_count, "", "", ""])
        rows += [["failed check", " ".join(sorted(group.checks)), group.count, f"{group.en} / {group.vi}",
                  " | ".join(_reason_list(group)), " ".join(group.examples)] for group in self.sorted_groups()]
        rows += [["missing card", entry.id_number, 1, "", f"input row {entry.row}", entry.card.name]
                 for entry in self.missing]
        write_csv(path, ["kind", "name", "cards", "meaning", "reasons", "first cards"], rows)

    def html(self, title: str, info: RunInfo | None = None) -> str:
        """The self-contained page (inline CSS, SVG and script; nothing fetched, so it opens offline).

        Rendered from ``templates/qa_report.html`` with autoescaping: names, reasons and reader names come
        from cards and may be hostile.
        """
        info = info or RunInfo(batch=title)
        span = self.last_finished - self.first_finished
        counted = (VALID, "invalid", "cannot tell", ERROR)
        return render(
            "qa_report.html", title=title, heading=info.batch, s=self, info=info, now=_now(), words=VERDICT_WORDS,
            chips=[*((verdict, self.verdicts[verdict]) for verdict in counted), (MISSING, self.missing_count)],
            rate=f"{self.total / span:.1f} cards/s over {span:.0f} s" if span > 0 else "—",
            files={"cards": CARDS, "summary": SUMMARY, "results": RESULTS},
            signers=self.signers.most_common(), unnamed=self.total - sum(self.signers.values()),
            signers_shown=SIGNERS_SHOWN,
            rejected_uri=Path(info.perso.rejected_csv).as_uri() if info.perso and info.perso.rejected_csv else "",
            groups=self.sorted_groups(), group_index={check: index for index, check in enumerate(self.groups)},
            reason_list=_reason_list, rows=[*self.rows, *self.valid_rows], missing=MISSING,
            words_of=_words_of, more_failed=self.total - self.verdicts[VALID] - len(self.failed_cards),
            counted_verdicts=counted, valid=VALID, throughput=self._throughput_chart(),
            read_times=line_chart(self.read_times.means(), x_label="card number", y_label="ms per card",
                                  x_step=self.read_times.width))

    def _throughput_chart(self) -> Markup:
        return line_chart(self.throughput.rates(), x_label="seconds into the batch", y_label="cards/s",
                          x_step=self.throughput.width)


def _reason_list(group: FailureGroup) -> list[str]:
    """The group's distinct reasons with their number of cards, the most frequent first."""
    listed = [f"{reason} ({count})" for reason, count in group.reasons.most_common()]
    return listed + ([f"… {group.other_reasons} more cards with other reasons"] if group.other_reasons else [])


def _now() -> str:
    return datetime.now().astimezone().isoformat(sep=" ", timespec="seconds")


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
