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
import html
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

from cardlib.batch.accounting import CHECK_WORDS
from cardlib.batch.journal import Journal, JournalError, read_journal
from cardlib.batch.outcome import DG3_STATES, ERROR, VALID, CardOutcome
from cardlib.batch.sources import ManifestEntry
from cardlib.verify.report import CheckResult, Group, Status
from cardtool.counter.verdict import plain_reason
from cardtool.spreadsheet import write_csv

__all__ = [
    "CARDS",
    "PAGE",
    "RESULTS",
    "STYLE",
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

    def html(self) -> str:
        """The table row, with ``data-`` attributes for the page's filter."""
        vi_words, en_words = VERDICT_WORDS.get(self.verdict, (self.verdict, self.verdict))
        problems = "".join(f"<div>{html.escape(en)}<br><i lang='vi'>{html.escape(vi)}</i></div>"
                           for vi, en in self.problems)
        searched = _fold(" ".join([self.id_number, self.label, self.name, self.details,
                                   *(text for pair in self.problems for text in pair)]))
        verdict = self.verdict.replace(" ", "-")
        return (f"<tr data-v='{html.escape(verdict)}' data-g=' {' '.join(map(str, self.groups))} ' "
                f"data-s='{html.escape(searched)}'><td>{html.escape(self.id_number)}</td>"
                f"<td>{html.escape(self.name)}</td><td><span class='pill {verdict}'>{html.escape(en_words)}</span>"
                f"<br><i lang='vi'>{html.escape(vi_words)}</i></td><td>{problems}"
                f"<details><summary>details</summary>{html.escape(self.details)}</details></td>"
                f"<td class='num'>{self.read_ms:.0f}</td><td>{html.escape(self.reader)}</td>"
                f"<td>{html.escape(self.label)}</td></tr>")


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
        """The self-contained page (inline CSS, SVG and script; nothing fetched, so it opens offline)."""
        info = info or RunInfo(batch=title)
        sections = [self._head_html(), _header_html(info, self.signers, self.total), self._groups_html(),
                    self._table_html(), self._cards_html(), self._missing_html(), self._readers_html(),
                    self._charts_html()]
        return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
                f"<meta name='viewport' content='width=device-width'><title>{html.escape(title)}</title>"
                f"<style>{STYLE}</style></head><body><h1>{html.escape(info.batch)}</h1>{''.join(sections)}"
                f"<script>{SCRIPT}</script></body></html>\n")

    def _head_html(self) -> str:
        state = ("passed", "ĐẠT — batch passed") if self.passed else ("failed", "KHÔNG ĐẠT — batch FAILED")
        counts = [(verdict, self.verdicts[verdict]) for verdict in (VALID, "invalid", "cannot tell", ERROR)]
        chips = "".join(f"<span class='chip {verdict.replace(' ', '-')}'><b>{count}</b> {VERDICT_WORDS[verdict][1]}"
                        f" <i lang='vi'>{VERDICT_WORDS[verdict][0]}</i></span>"
                        for verdict, count in [*counts, (MISSING, self.missing_count)])
        span = self.last_finished - self.first_finished
        rate = f"{self.total / span:.1f} cards/s over {span:.0f} s" if span > 0 else "—"
        return (f"<p class='banner {state[0]}'>{state[1]}: {self.pass_rate:.1f}% valid</p><p>{chips}</p>"
                f"<p class='dg3'>{html.escape(self.dg3_line())}</p>"
                f"<p class='muted'>{self.total} cards with a result (each counted once), {self.missing_count} "
                f"missing; throughput {rate}; mean read time {self.total_read_ms / max(self.total, 1):.1f} ms. "
                f"Every card: <a href='{CARDS}'>{CARDS}</a> (for the MES), groups: <a href='{SUMMARY}'>{SUMMARY}</a>"
                f", raw results: <a href='{RESULTS}'>{RESULTS}</a>.</p>")

    def _groups_html(self) -> str:
        groups = self.sorted_groups()
        if not groups:
            return "<h2>Lỗi theo nguyên nhân · Failures by reason</h2><p>No failures · Không có lỗi.</p>"
        order = list(self.groups)
        rows = "".join(
            f"<tr><td><b>{html.escape(g.en)}</b><br><i lang='vi'>{html.escape(g.vi)}</i><br>"
            f"<code>{html.escape(' '.join(sorted(g.checks)))}</code></td><td class='num'>{g.count}</td>"
            f"<td><ul class='reasons'>{''.join(f'<li>{html.escape(text)}</li>' for text in _reason_list(g))}</ul></td>"
            f"<td><button data-group='{order.index(g.check)}'>show cards · xem thẻ</button></td></tr>"
            for g in groups)
        return (f"<h2>Lỗi theo nguyên nhân · Failures by reason</h2><table><tr><th>what it means · ý nghĩa"
                f"</th><th>cards</th><th>every distinct reason (cards)</th><th></th></tr>{rows}</table>")

    def _table_html(self) -> str:
        if not self.rows and not self.valid_rows:
            return ""
        options = "".join(f"<option value='{index}'>{html.escape(group.en)} · {html.escape(group.vi)}</option>"
                          for index, group in enumerate(self.groups.values()))
        verdicts = "".join(f"<option value='{verdict.replace(' ', '-')}'>{en} · {vi}</option>"
                           for verdict, (vi, en) in VERDICT_WORDS.items() if verdict != MISSING)
        shown = len(self.rows) + len(self.valid_rows)
        note = (f"<p class='muted'>The table holds {shown} of {self.total} cards; every card is in "
                f"<a href='{CARDS}'>{CARDS}</a>.</p>" if shown < self.total else "")
        body = "".join(row.html() for row in chain(self.rows, self.valid_rows))
        return (f"<h2 id='cards'>Tìm thẻ · Find a card</h2><div class='filters'>"
                f"<input id='q' type='search' placeholder='ID number, name or reason · số định danh, họ tên, lý do' "
                f"><select id='g'><option value=''>every reason · mọi lý do</option>{options}</select>"
                f"<select id='v'><option value=''>every verdict · mọi kết quả</option>{verdicts}</select>"
                f"<span><b id='n'>{shown}</b> shown</span></div>{note}<table id='cardtable'><thead><tr>"
                f"<th>ID number<br><i>số định danh</i></th><th>name<br><i>họ tên</i></th><th>verdict<br>"
                f"<i>kết quả</i></th><th>reasons<br><i>lý do</i></th><th>read ms</th><th>reader</th><th>card</th>"
                f"</tr></thead><tbody>{body}</tbody></table>")

    def _cards_html(self) -> str:
        if not self.failed_cards:
            return ""
        tiles = "".join(_tile(outcome) for outcome in self.failed_cards)
        more = self.total - self.verdicts[VALID] - len(self.failed_cards)
        note = f"<p>… and {more} more in {CARDS}.</p>" if more > 0 else ""
        return f"<h2>Chân dung thẻ lỗi · Failed cards</h2><div class='tiles'>{tiles}</div>{note}"

    def _missing_html(self) -> str:
        if not self.missing_count:
            return ""
        items = "".join(f"<li>{html.escape(entry.id_number)} (input row {entry.row}, {html.escape(entry.card.name)})"
                        "</li>" for entry in self.missing)
        more = (f"<p>… and {self.missing_count - len(self.missing)} more in {CARDS}.</p>"
                if self.missing_count > len(self.missing) else "")
        return (f"<h2>Thẻ thiếu · Missing cards ({self.missing_count})</h2><p class='muted'>In the perso manifest, "
                f"never seen by this QA (an unreadable card is counted as unreadable, not here).</p>"
                f"<ul>{items}</ul>{more}")

    def _readers_html(self) -> str:
        if not self.readers:
            return ""
        rows = "".join(
            f"<tr><td>{html.escape(name)}</td><td class='num'>{stats.cards}</td>"
            + "".join(f"<td class='num'>{stats.verdicts[verdict]}</td>"
                      for verdict in (VALID, "invalid", "cannot tell", ERROR))
            + f"<td class='num'>{100.0 * stats.verdicts[VALID] / stats.cards:.1f}%</td>"
            f"<td class='num'>{stats.read_ms / stats.cards:.0f}</td>"
            f"<td class='num'>{stats.apdus / stats.cards:.0f}</td>"
            f"<td class='num'>{stats.per_minute():.1f}</td></tr>"
            for name, stats in sorted(self.readers.items()))
        return ("<h2>Đầu đọc · Readers</h2><table><tr><th>reader</th><th>cards</th><th>valid</th><th>invalid</th>"
                "<th>cannot tell</th><th>unreadable</th><th>valid %</th><th>mean read ms</th><th>mean APDUs</th>"
                f"<th>cards/min</th></tr>{rows}</table>")

    def _charts_html(self) -> str:
        if not self.total:
            return ""
        throughput = line_chart(self.throughput.rates(), x_label="seconds into the batch",
                                y_label="cards/s", x_step=self.throughput.width)
        reads = line_chart(self.read_times.means(), x_label="card number", y_label="ms per card",
                           x_step=self.read_times.width)
        return f"<h2>Throughput over the batch</h2>{throughput}<h2>Read time over the batch</h2>{reads}"


def _reason_list(group: FailureGroup) -> list[str]:
    """The group's distinct reasons with their number of cards, the most frequent first."""
    listed = [f"{reason} ({count})" for reason, count in group.reasons.most_common()]
    return listed + ([f"… {group.other_reasons} more cards with other reasons"] if group.other_reasons else [])


def _header_html(info: RunInfo, signers: Counter[str], total: int) -> str:
    """Who ran the QA of which batch, when, against which trust anchors; the signers seen; the perso input."""
    anchors = "".join(f"<li>{html.escape(anchor)}</li>" for anchor in info.trust_anchors) or "<li>none</li>"
    more = (f"<li>{info.trusted_cscas - len(info.trust_anchors)} more CSCAs from anchored master lists</li>"
            if info.trusted_cscas > len(info.trust_anchors) else "")
    seen = "".join(f"<li>{html.escape(signer)} — {count} cards</li>" for signer, count in signers.most_common())
    unnamed = total - sum(signers.values())
    seen += (f"<li>{unnamed} card(s) without a Document Signer read (unreadable, no SOD, or beyond the first "
             f"{SIGNERS_SHOWN} signers)</li>" if unnamed and total else "")
    rows = [("Lô · Batch", html.escape(info.batch)),
            ("Ngày giờ · Date and time", f"report written {_now()}" + (
                f"; QA started {html.escape(info.started)}" if info.started else "")),
            ("Người chạy · Operator", html.escape(info.operator)),
            ("Thẻ kiểm tra · Checked", "<br>".join(map(html.escape, info.sources)) or "—"),
            ("Thời điểm kiểm tra · Verified as of", html.escape(info.verified_at) or "—"),
            ("Chứng thư gốc tin cậy · Trust anchors (CSCA)", f"<ul>{anchors}{more}</ul>"),
            ("Chứng thư ký thẻ đã gặp · Document Signers seen", f"<ul>{seen or '<li>none</li>'}</ul>")]
    if info.perso is not None:
        rows.append(("Dữ liệu cá thể hóa · Perso input", _perso_html(info.perso)))
    if info.rechecked is not None:
        rows.append(("Kiểm tra lại · Recheck", f"{info.rechecked} failed or unreadable cards of the earlier run "
                                              "checked again; the other results kept"))
    cells = "".join(f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in rows)
    return f"<table class='meta'>{cells}</table>"


def _perso_html(perso: PersoInput) -> str:
    link = (f"<a href='{html.escape(Path(perso.rejected_csv).as_uri())}'>{html.escape(perso.rejected_csv)}</a>"
            if perso.rejected_csv else "")
    rows = "".join(f"<tr><td>{row}</td><td>{html.escape(id_number)}</td><td>{html.escape(column)}</td>"
                   f"<td>{html.escape(reason)}</td></tr>" for row, id_number, column, reason in perso.rejected_rows)
    shown = (f"<table><tr><th>row</th><th>ID number</th><th>field</th><th>reason</th></tr>{rows}</table>"
             + (f"<p>… and {perso.rejected - len(perso.rejected_rows)} more in {link}</p>"
                if perso.rejected > len(perso.rejected_rows) else "") if rows else "")
    return (f"{html.escape(perso.input)} <span class='muted'>(SHA-256 {html.escape(perso.input_sha256[:16])}…)</span>"
            f"<br>{perso.personalized} rows personalized, <b>{perso.rejected} rejected</b> "
            f"(not cards: never counted missing){' — ' + link if link else ''}{shown}")


def _now() -> str:
    return datetime.now().astimezone().isoformat(sep=" ", timespec="seconds")


def _tile(outcome: CardOutcome) -> str:
    picture = (f"<img alt='portrait' src='data:image/jpeg;base64,{outcome.thumbnail}'>" if outcome.thumbnail
               else "<div class='noimg'>no portrait</div>")
    name = outcome.holder.get("full name", "")
    problems = "".join(f"<li>{html.escape(en)}</li>" for _, en in _words_of(outcome))
    verdict = outcome.verdict
    return (f"<div class='tile'>{picture}<div><b>{html.escape(outcome.batch_id or outcome.label)}</b><br>"
            f"{html.escape(name)}<br><span class='pill {verdict.replace(' ', '-')}'>"
            f"{html.escape(VERDICT_WORDS.get(verdict, ('', verdict))[1])}</span><ul>{problems}</ul>"
            f"<small>{html.escape(outcome.label)}</small></div></div>")


STYLE = ("body{font:15px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:1300px;padding:0 1em;color:#1d1d1f}"
         "h1{font-size:1.7em;margin:.2em 0}h2{margin-top:1.6em;border-bottom:2px solid #e3e3e8;padding-bottom:.2em}"
         "td,th{border:1px solid #d5d5dc;padding:5px 9px;vertical-align:top;text-align:left}"
         "table{border-collapse:collapse;margin:.5em 0}th{background:#f3f3f6}i[lang=vi],.muted{color:#5b5b66}"
         ".num{text-align:right;font-variant-numeric:tabular-nums}.meta th{width:17em;font-weight:600}"
         ".meta ul,.reasons{margin:0;padding-left:1.1em}code{font-size:.8em;color:#5b5b66}"
         ".banner{font-size:1.5em;font-weight:700;padding:.45em .8em;border-radius:8px;color:#fff;margin:.8em 0}"
         ".banner.passed{background:#1a7f37}.banner.failed{background:#c62828}"
         ".chip{display:inline-block;border:1px solid #d5d5dc;border-radius:14px;padding:2px 12px;margin:0 6px 6px 0}"
         ".pill{display:inline-block;border-radius:10px;padding:0 8px;color:#fff;font-weight:600;background:#777}"
         ".pill.valid,.chip.valid b{color:#1a7f37}.pill.valid{color:#fff;background:#1a7f37}"
         ".pill.invalid,.pill.error{background:#c62828}.pill.cannot-tell{background:#b26a00}"
         ".chip.invalid b,.chip.error b,.chip.missing b{color:#c62828}.chip.cannot-tell b{color:#b26a00}"
         ".filters{position:sticky;top:0;background:#fff;padding:8px 0;display:flex;gap:10px;align-items:center;"
         "flex-wrap:wrap;z-index:1}.filters input{flex:1;min-width:18em;font-size:1em;padding:6px}"
         ".filters select{font-size:1em;padding:5px;max-width:26em}details{font-size:.85em;color:#5b5b66}"
         "#cardtable td{font-size:.93em}button{cursor:pointer}"
         ".tiles{display:flex;flex-wrap:wrap;gap:10px}.tile{display:flex;gap:8px;border:1px solid #d5d5dc;"
         "border-radius:6px;padding:6px;width:330px;font-size:.85em}.tile ul{margin:2px 0;padding-left:1.1em}"
         ".tile img,.noimg{width:72px;height:96px;object-fit:cover;background:#eee}"
         "svg{background:#fafafa;border:1px solid #eee}")

SCRIPT = """
const fold = s => s.toLowerCase().replace(/đ/g, 'd').normalize('NFD').replace(/[\\u0300-\\u036f]/g, '');
const q = document.getElementById('q'), g = document.getElementById('g'), v = document.getElementById('v');
const rows = Array.from(document.querySelectorAll('#cardtable tbody tr'));
function apply() {
  const words = fold(q.value).split(/\\s+/).filter(Boolean);
  let shown = 0;
  for (const row of rows) {
    const keep = words.every(w => row.dataset.s.includes(w))
      && (!g.value || row.dataset.g.includes(' ' + g.value + ' ')) && (!v.value || row.dataset.v === v.value);
    row.hidden = !keep;
    shown += keep;
  }
  document.getElementById('n').textContent = shown;
  history.replaceState(null, '', '#' + new URLSearchParams({q: q.value, g: g.value, v: v.value}));
}
if (q) {
  const given = new URLSearchParams(location.hash.slice(1));
  q.value = given.get('q') || ''; g.value = given.get('g') || ''; v.value = given.get('v') || '';
  q.oninput = g.onchange = v.onchange = apply;
  for (const button of document.querySelectorAll('button[data-group]')) {
    button.onclick = () => { g.value = button.dataset.group; v.value = ''; q.value = ''; apply();
                             document.getElementById('cards').scrollIntoView(); };
  }
  apply();
}
"""


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
    return (f"<svg width='{width}' height='{len(items) * row + 8}' "
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
    return (f"<svg width='{width}' height='{height}' font-size='11'>"
            f"<line x1='{left}' y1='{bottom}' x2='{left + plot_w}' y2='{bottom}' stroke='#888'/>"
            f"<line x1='{left}' y1='{bottom}' x2='{left}' y2='{bottom - plot_h}' stroke='#888'/>"
            f"<polyline fill='none' stroke='#1565c0' stroke-width='2' points='{points}'/>"
            f"<text x='{left - 4}' y='{bottom - plot_h + 4}' text-anchor='end'>{top:.4g}</text>"
            f"<text x='{left - 4}' y='{bottom}' text-anchor='end'>0</text>"
            f"<text x='{left + plot_w}' y='{bottom + 14}' text-anchor='end'>{span:.4g}</text>"
            f"<text x='{left + plot_w / 2}' y='{bottom + 26}' text-anchor='middle'>{html.escape(x_label)}</text>"
            f"<text x='{left - 4}' y='{bottom - plot_h - 6}'>{html.escape(y_label)}</text></svg>")
