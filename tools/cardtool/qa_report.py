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
whatever the batch's size (:mod:`cardtool.qa_summary` counts the cards and keeps a bounded sample for the page;
the CSVs have everything).  Reports never contain keys, CANs or MRZ key seeds.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from pathlib import Path

from cardlib.batch.journal import Journal, JournalError, read_journal
from cardlib.batch.outcome import ERROR, VALID, CardOutcome
from cardlib.batch.sources import ManifestEntry
from cardtool.charts import line_chart
from cardtool.pages import render
from cardtool.qa_summary import MISSING, SIGNERS_SHOWN, VERDICT_WORDS, BatchSummary, reason_list, words_of
from cardtool.spreadsheet import write_csv

__all__ = [
    "CARDS",
    "PAGE",
    "RESULTS",
    "SUMMARY",
    "PersoInput",
    "ReportWriter",
    "RunInfo",
    "operator",
    "qa_page",
]

RESULTS = "results.jsonl"
SUMMARY = "summary.csv"
CARDS = "cards.csv"
PAGE = "report.html"
CARD_COLUMNS = ["id_number", "card", "verdict", "reasons", "ly_do", "checks", "read_ms", "reader", "checked_at"]


def operator() -> str:
    """``user@host`` of whoever runs this process (the login name, else the numeric user id)."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (a bare container)
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"



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
            page = qa_page(summary, title, info or RunInfo(batch=title))
            (self.directory / PAGE).write_text(page, encoding="utf-8")
        except OSError as exc:
            raise JournalError(f"{self.directory}: cannot write the CSV files and the page ({exc.strerror}); every "
                               f"result is in {RESULTS}: make room and run again to write them") from None
        return summary


def qa_page(summary: BatchSummary, title: str, info: RunInfo | None = None) -> str:
    """The self-contained page of ``summary`` (inline CSS, SVG and script; nothing fetched, so it opens offline).

    Rendered from ``templates/qa_report.html`` with autoescaping: names, reasons and reader names come
    from cards and may be hostile.
    """
    info = info or RunInfo(batch=title)
    span = summary.last_finished - summary.first_finished
    counted = (VALID, "invalid", "cannot tell", ERROR)
    return render(
        "qa_report.html", title=title, heading=info.batch, s=summary, info=info, now=_now(), words=VERDICT_WORDS,
        chips=[*((verdict, summary.verdicts[verdict]) for verdict in counted), (MISSING, summary.missing_count)],
        rate=f"{summary.total / span:.1f} cards/s over {span:.0f} s" if span > 0 else "—",
        files={"cards": CARDS, "summary": SUMMARY, "results": RESULTS},
        signers=summary.signers.most_common(), unnamed=summary.total - sum(summary.signers.values()),
        signers_shown=SIGNERS_SHOWN,
        rejected_uri=Path(info.perso.rejected_csv).as_uri() if info.perso and info.perso.rejected_csv else "",
        groups=summary.sorted_groups(), group_index={check: index for index, check in enumerate(summary.groups)},
        reason_list=reason_list, rows=[*summary.rows, *summary.valid_rows], missing=MISSING,
        words_of=words_of, more_failed=summary.total - summary.verdicts[VALID] - len(summary.failed_cards),
        counted_verdicts=counted, valid=VALID,
        throughput=line_chart(summary.throughput.rates(), x_label="seconds into the batch", y_label="cards/s",
                              x_step=summary.throughput.width),
        read_times=line_chart(summary.read_times.means(), x_label="card number", y_label="ms per card",
                              x_step=summary.read_times.width))


def _now() -> str:
    return datetime.now().astimezone().isoformat(sep=" ", timespec="seconds")
