"""What a QA batch amounts to: each card counted once under one verdict, failures grouped by what they mean
(in Vietnamese and English, with every distinct reason), a sample of cards for the page's table, per-reader
statistics of a live line, the Document Signers seen and the series of the charts.

Memory stays bounded whatever the batch's size: at most :data:`TABLE_ROWS` cards of each kind, the first
:data:`EXAMPLES` cards and :data:`REASONS_SHOWN` distinct reasons of each group, :data:`THUMBNAILS` failed cards
and the chart buckets.  :mod:`cardtool.qa_report` writes the files and the page from a :class:`BatchSummary`.
"""

from __future__ import annotations

import bisect
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from cardlib.batch.accounting import CHECK_WORDS
from cardlib.batch.outcome import DG3_STATES, ERROR, VALID, CardOutcome
from cardlib.batch.sources import ManifestEntry
from cardlib.verify.report import CheckResult, Group, Status
from cardtool.charts import Series
from cardtool.counter.verdict import plain_reason
from cardtool.spreadsheet import write_csv

__all__ = [
    "REASONS_SHOWN",
    "BatchSummary",
    "CardRow",
    "FailureGroup",
    "ReaderStats",
    "check_words",
    "reason_list",
    "words_of",
]

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


def words_of(outcome: CardOutcome) -> dict[tuple[str, str], list[str]]:
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
        problems = words_of(outcome)
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
                  " | ".join(reason_list(group)), " ".join(group.examples)] for group in self.sorted_groups()]
        rows += [["missing card", entry.id_number, 1, "", f"input row {entry.row}", entry.card.name]
                 for entry in self.missing]
        write_csv(path, ["kind", "name", "cards", "meaning", "reasons", "first cards"], rows)


def reason_list(group: FailureGroup) -> list[str]:
    """The group's distinct reasons with their number of cards, the most frequent first."""
    listed = [f"{reason} ({count})" for reason, count in group.reasons.most_common()]
    return listed + ([f"… {group.other_reasons} more cards with other reasons"] if group.other_reasons else [])

