"""``cardtool qa SOURCE... --trust ... --report DIR``: QA of a production batch, offline or on live readers.

SOURCE is a folder of dumps or card images, one card folder, or a perso manifest (``manifest.jsonl`` or
the folder ``cardtool perso`` wrote).  With ``--readers`` the cards are read live instead, one worker per
reader, as they arrive on the line; the manifest then says which cards to expect and holds their CANs.

Each card gets everything ``cardtool verify`` checks (and the live checks when read from a chip) and the
batch checks: duplicates, cards not in the manifest, data differing from the card image; cards of the
manifest never seen are reported missing.  ``DIR`` receives ``results.jsonl`` (one line per card, as
results arrive), ``summary.csv`` and ``report.html``; ``DIR/run.json`` keeps the run's verification time.

The report folder is the run's identity: started again on the same ``DIR`` (after Ctrl-C, a crash, even
``kill -9``) the run skips every card already in ``results.jsonl`` and redoes only the rest.

Exit status: 0 the batch passed (every card valid, none missing), 1 a card failed, could not be read or
is missing, 2 some cards could not be decided (e.g. their CSCA is not trusted) or a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path

from cardlib.batch.accounting import BatchAccounting
from cardlib.batch.checking import CheckedCard
from cardlib.batch.engine import check_offline, check_on_cluster, default_workers
from cardlib.batch.journal import read_journal
from cardlib.batch.live import LiveOptions, PendingCards, check_readers
from cardlib.batch.sources import BatchItem, ExpectedCards, count_items, iter_items, manifest_path
from cardlib.errors import CardlibError
from cardlib.reader.pcsc import list_readers
from cardtool.access import add_read_options, chip_models
from cardtool.folders import check_output_folder, make_folder
from cardtool.progress import Progress
from cardtool.qa_report import PAGE, RESULTS, BatchSummary, ReportWriter
from cardtool.verify_command import load_trust

RUN_FILE = "run.json"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``qa`` sub-command."""
    parser = commands.add_parser("qa", help="QA a batch of cards (dumps, card images, a perso manifest, readers)")
    parser.add_argument("sources", type=Path, nargs="+", metavar="SOURCE",
                        help="folder of dumps or card images, a card folder, or a perso manifest")
    parser.add_argument("--trust", type=Path, nargs="+", required=True,
                        help="CSCA certificates, CRLs, master lists: files or folders")
    parser.add_argument("--report", type=Path, required=True, help="report folder (created; reused to resume)")
    parser.add_argument("--expected", type=Path,
                        help="perso manifest of the batch (default: the SOURCE that is a manifest, if any)")
    parser.add_argument("--readers", nargs="+", metavar="READER",
                        help="read live cards: 'all' or reader names (SOURCE is then the perso manifest)")
    parser.add_argument("--workers", type=int, help="worker processes for offline sources (default: every core)")
    parser.add_argument("--cluster", metavar="ADDRESS", help="Dask scheduler address, e.g. tcp://host:8786")
    parser.add_argument("--at", type=datetime.fromisoformat,
                        help="verify as of this ISO date (default: when the run first started)")
    parser.add_argument("--idle-timeout", type=float, default=30.0,
                        help="live: seconds without a new card before a reader stops (default 30)")
    parser.add_argument("--window", type=int, default=LiveOptions.window,
                        help="live: CANs of the next N expected cards tried on each card (default %(default)s)")
    add_read_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run (or resume) the QA of the batch; return the batch's exit status."""
    if args.workers is not None and args.workers < 1:
        raise CardlibError("--workers must be at least 1")
    check_output_folder(args.report, "--report")
    trust_paths = tuple(str(path.resolve()) for path in args.trust)
    trust = load_trust(args.trust)
    at = _run_time(args.report, args.at)
    expected = _expected(args)
    writer = ReportWriter(args.report)
    accounting = BatchAccounting(expected)
    for outcome in read_journal(args.report / RESULTS):
        accounting.restore(outcome)
    if args.readers:
        if expected is None:
            raise CardlibError("live QA needs the batch's perso manifest (SOURCE or --expected): it holds the CANs")
        readers = list_readers() if args.readers == ["all"] else list(args.readers)
        pending = PendingCards(expected, accounting.has_seen)
        progress = Progress(writer.resumed + len(pending), done=writer.resumed)
        options = LiveOptions(idle_timeout=args.idle_timeout, window=args.window,
                              extended_length=not args.no_extended_length, max_read=args.max_read,
                              models=chip_models(args))
        results = check_readers(readers, pending, trust, at, options=options)
    else:
        progress = Progress(sum(count_items(source) for source in args.sources), done=writer.resumed)
        items = (item for item in _items(args.sources) if not writer.holds(item.key))
        results = _offline(items, trust_paths, at, args)
    summary = _record(results, accounting, writer, progress, title=f"QA of {', '.join(map(str, args.sources))}")
    _print(summary, args.report)
    return summary.exit_code


def _run_time(report: Path, given: datetime | None) -> datetime:
    """The time cards are verified as of: given, else the one an earlier run on ``report`` used, else now."""
    record = report / RUN_FILE
    stored = json.loads(record.read_text(encoding="utf-8"))["at"] if record.exists() else None
    at = given or (datetime.fromisoformat(stored) if stored else datetime.now(UTC))
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    make_folder(report)
    record.write_text(json.dumps({"at": at.isoformat()}) + "\n", encoding="utf-8")
    return at


def _expected(args: argparse.Namespace) -> ExpectedCards | None:
    if args.expected is not None:
        return ExpectedCards.from_manifest(args.expected)
    manifests = [source for source in args.sources if manifest_path(source) is not None]
    if len(manifests) > 1:
        raise CardlibError("several SOURCEs are perso manifests: name the batch's one with --expected")
    return ExpectedCards.from_manifest(manifests[0]) if manifests else None


def _items(sources: Sequence[Path]) -> Iterator[BatchItem]:
    return chain.from_iterable(iter_items(source) for source in sources)


def _offline(items: Iterator[BatchItem], trust_paths: tuple[str, ...], at: datetime,
             args: argparse.Namespace) -> Iterator[CheckedCard]:
    if args.cluster:
        return check_on_cluster(args.cluster, items, trust_paths, at)
    return check_offline(items, trust_paths, at, workers=args.workers or default_workers())


def _record(results: Iterator[CheckedCard], accounting: BatchAccounting, writer: ReportWriter, progress: Progress,
            *, title: str) -> BatchSummary:
    """Settle and journal each result as it arrives; then write the reports from the journal."""
    try:
        for checked in results:
            outcome = checked.portrait_for(accounting.settle(checked))
            if writer.holds(outcome.key):  # the same card presented again on a live line
                outcome = replace(outcome, key=f"{outcome.key} {outcome.finished:.3f}")
            writer.add(outcome)
            progress.advance()
    finally:
        progress.close()
    return writer.finish(title, accounting.missing())


def _print(summary: BatchSummary, report: Path) -> None:
    if sys.stdout.isatty():
        print(summary.line())
        print(f"report: {report / PAGE}")
    print(summary.fields())
