"""``cardtool perso INPUT --pki DIR --out DIR``: personalize every valid row of a resident file.

Output folder::

    cards/NNNNN-<id>/   one card image per personalized row (see cardlib.card.image)
    manifest.jsonl      one line per input row: personalized (with its card folder) or rejected (with why)
    rejected.csv        the rejected rows, for the operator to fix and run again (a cell starting with
                        = + - @ gets a leading ' so no spreadsheet runs it: drop it when fixing the row)
    report.html         counts and the rejected rows grouped by the field at fault, for a supervisor

Nothing is silently dropped: every input row ends as exactly one manifest line.  The run is resumable:
started again on the same output folder it skips the rows the manifest already accounts for (card
folders are written atomically before their manifest line, so a kill at any moment loses nothing).
Rows are personalized on every core (each worker process loads the Document Signer once); the input is
streamed and at most a few rows per worker are in flight, so 10,000-row files never sit in memory.
A progress bar with rate and ETA is drawn on a terminal.
"""

from __future__ import annotations

import argparse
import html
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from cardlib.batch.engine import IN_FLIGHT_PER_WORKER, default_workers, ordered_map
from cardlib.batch.journal import drop_torn_tail
from cardlib.batch.pool import process_pool
from cardlib.batch.sources import PERSO_MANIFEST
from cardlib.card.inputs import InputRecord, RejectedRow, read_records
from cardlib.card.perso import personalize
from cardlib.errors import CardlibError
from cardlib.lds.sod import SODSigner
from cardlib.pki.hsm import PinSource
from cardlib.pki.operations import IssuingAuthority
from cardtool.progress import Progress
from cardtool.qa_report import STYLE, FailureGroup, bar_chart
from cardtool.spreadsheet import write_csv

MANIFEST = PERSO_MANIFEST
REJECTED = "rejected.csv"
PAGE = "report.html"

Entry = dict[str, Any]
_worker_signer: SODSigner | None = None
_worker_authority: IssuingAuthority | None = None


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``perso`` sub-command."""
    parser = commands.add_parser("perso", help="personalize card images from a CSV or JSON Lines resident file")
    parser.add_argument("input", type=Path, help="CSV (UTF-8, header row) or JSON Lines of residents")
    parser.add_argument("--pki", type=Path, required=True, help="folder made by 'cardtool pki init'")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created; reused to resume)")
    parser.add_argument("--workers", type=int, help="worker processes (default: every core)")
    pin = parser.add_mutually_exclusive_group()
    pin.add_argument("--pin-env", metavar="VAR", help="environment variable holding the token PIN (token-held keys)")
    pin.add_argument("--pin-file", type=Path, metavar="PATH", help="file whose first line is the token PIN")
    parser.set_defaults(handler=run)


@dataclass(frozen=True)
class SignerSource:
    """Where each process gets the Document Signer: a PKI folder (keys in files or in a token) and its PIN source.

    Holds no secret, so it can be handed to worker processes, each opening its own token session.
    """

    pki: Path
    pin: PinSource | None = None

    def open(self) -> IssuingAuthority:
        """The opened PKI (close it when done: it may hold a token session)."""
        return IssuingAuthority.open(self.pki, self.pin)


@dataclass
class BatchSummary:
    """What a personalization run did, row by row counted once."""

    personalized: int = 0
    rejected: int = 0
    already_done: int = 0

    def line(self) -> str:
        """One line for the operator."""
        return (f"{self.personalized} personalized, {self.rejected} rejected, "
                f"{self.already_done} already done in an earlier run")


def run(args: argparse.Namespace) -> int:
    """Personalize the batch; exit 0 when every row was personalized, 1 when some were rejected."""
    if args.workers is not None and args.workers < 1:
        raise CardlibError("--workers must be at least 1")
    pin = PinSource(env=args.pin_env) if args.pin_env else PinSource(file=args.pin_file) if args.pin_file else None
    source = SignerSource(args.pki, pin)
    with source.open() as authority:  # a broken PKI folder, a wrong PIN or an expired DS: said before any row
        authority.document_signer()
    summary = personalize_batch(args.input, source, args.out, workers=args.workers or default_workers(),
                                progress=True)
    report = ManifestReport.of(args.out / MANIFEST)
    print(summary.line())
    print(f"report: {args.out / PAGE}")
    if report.rejected:
        print(f"rejected rows and reasons: {args.out / REJECTED}")
    return 1 if report.rejected else 0


def personalize_batch(source: Path, signer: SODSigner | SignerSource, out: Path, *, workers: int = 1,
                      progress: bool = False) -> BatchSummary:
    """Personalize every row of ``source`` into ``out``, resuming a previous run on the same folder.

    ``signer`` is a Document Signer, or where to get one; only a :class:`SignerSource` lets ``workers``
    processes share the work (each opens the PKI once).  ``progress`` draws a progress bar on a terminal.
    Writes ``manifest.jsonl``, ``rejected.csv`` and ``report.html`` (see the module docstring).
    """
    out.mkdir(parents=True, exist_ok=True)
    done = _rows_done(out / MANIFEST)
    summary = BatchSummary(already_done=len(done))
    bar = Progress(len(done) + _rows_left(source, done), unit="rows", done=len(done), enabled=None if progress
                   else False)
    with (out / MANIFEST).open("a", encoding="utf-8") as manifest:
        try:
            for entry in _entries(source, done, signer, out, workers):
                summary.personalized += entry["status"] == "personalized"
                summary.rejected += entry["status"] == "rejected"
                manifest.write(json.dumps(entry, ensure_ascii=False) + "\n")
                manifest.flush()
                bar.advance()
        finally:
            bar.close()
    report = ManifestReport.of(out / MANIFEST)
    report.write_rejected(out / REJECTED)
    (out / PAGE).write_text(report.html(f"Personalization of {source.name}"), encoding="utf-8")
    return summary


def _rows_left(source: Path, done: set[int]) -> int:
    return sum(1 for item in read_records(source, check_portraits=False) if item.row not in done)


def _entries(source: Path, done: set[int], signer: SODSigner | SignerSource, out: Path,
             workers: int) -> Iterator[Entry]:
    """One manifest entry per row not done yet, in input order: rejected rows as they are, the others personalized."""
    items = (item for item in read_records(source) if item.row not in done)
    if not isinstance(signer, SignerSource):
        yield from (_personalize_one(item, signer, out) for item in items)
    elif workers > 1:
        with process_pool(workers, _open_worker_signer, (signer,)) as pool:
            yield from ordered_map(pool, partial(_personalize_in_worker, out=out), items,
                                   workers * IN_FLIGHT_PER_WORKER)
    else:
        with signer.open() as authority:
            document_signer = authority.document_signer()
            yield from (_personalize_one(item, document_signer, out) for item in items)


def _open_worker_signer(source: SignerSource) -> None:
    """Process pool initializer: open the PKI once per worker and keep it open for the worker's life."""
    global _worker_signer, _worker_authority
    _worker_authority = source.open()
    _worker_signer = _worker_authority.document_signer()


def _personalize_in_worker(item: InputRecord | RejectedRow, out: Path) -> Entry:
    assert _worker_signer is not None, "worker started without its initializer"
    return _personalize_one(item, _worker_signer, out)


def _personalize_one(item: InputRecord | RejectedRow, signer: SODSigner, out: Path) -> Entry:
    if isinstance(item, RejectedRow):
        return {"row": item.row, "status": "rejected", "id_number": item.id_number, "field": item.field,
                "reason": item.reason}
    folder = Path("cards") / f"{item.row:05d}-{item.resident.id_number}"
    try:
        image = personalize(item.resident, item.portrait, signer)
        image.save(out / folder)
    except CardlibError as exc:
        return {"row": item.row, "status": "rejected", "id_number": item.resident.id_number, "field": None,
                "reason": str(exc)}
    return {"row": item.row, "status": "personalized", "id_number": item.resident.id_number, "card": str(folder)}


def _rows_done(manifest: Path) -> set[int]:
    """Rows the manifest accounts for; a torn last line (killed mid-write) is cut off and its row redone."""
    drop_torn_tail(manifest)
    return {int(entry["row"]) for entry in _manifest_entries(manifest)}


def _manifest_entries(manifest: Path) -> Iterator[Entry]:
    if not manifest.exists():
        return
    with manifest.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                entry = json.loads(line)
                int(entry["row"])
            except (ValueError, KeyError, TypeError):
                continue
            yield entry


@dataclass
class ManifestReport:
    """A personalization batch as its manifest records it: counts, and the rejected rows by field."""

    personalized: int = 0
    rejected: list[Entry] = field(default_factory=list)
    groups: dict[str, FailureGroup] = field(default_factory=dict)

    @classmethod
    def of(cls, manifest: Path) -> ManifestReport:
        """Read the manifest once (rejected rows are kept: they are what the operator must fix)."""
        report = cls()
        for entry in _manifest_entries(manifest):
            if entry["status"] == "personalized":
                report.personalized += 1
                continue
            report.rejected.append(entry)
            cause = entry.get("field") or "card data"
            report.groups.setdefault(cause, FailureGroup(cause)).add(f"row {entry['row']}", entry["reason"])
        report.rejected.sort(key=lambda entry: int(entry["row"]))
        return report

    def write_rejected(self, path: Path) -> None:
        """The rejected rows, in input order, with the field at fault and the reason.

        Cells starting like a spreadsheet formula (``=``, ``+``, ``-``, ``@``...) carry a leading ``'``
        (see :mod:`cardtool.spreadsheet`): remove it when fixing a row by hand to feed it back in.
        """
        write_csv(path, ["row", "id_number", "field", "reason"],
                  ([entry["row"], entry.get("id_number") or "", entry.get("field") or "", entry["reason"]]
                   for entry in self.rejected))

    def html(self, title: str) -> str:
        """A self-contained page: counts, a chart of rejections by field, every rejected row."""
        groups = sorted(self.groups.values(), key=lambda group: (-group.count, group.check))
        rows = "".join(f"<tr><td>{entry['row']}</td><td>{html.escape(entry.get('id_number') or '')}</td>"
                       f"<td>{html.escape(entry.get('field') or '')}</td><td>{html.escape(entry['reason'])}</td></tr>"
                       for entry in self.rejected)
        table = (f"<table><tr><th>row</th><th>ID number</th><th>field</th><th>reason</th></tr>{rows}</table>"
                 if rows else "<p>No row was rejected.</p>")
        return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
                f"<p class='big'>{self.personalized} personalized, {len(self.rejected)} rejected</p>"
                f"<h2>Rejected rows by field</h2>{bar_chart([(g.check, g.count) for g in groups])}{table}"
                "</body></html>\n")
