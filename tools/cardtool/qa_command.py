"""``cardtool qa SOURCE... --trust ... --report DIR``: QA of a production batch, offline or on live readers.

SOURCE is a folder of dumps or card images, one card folder, or a perso manifest (``manifest.jsonl`` or
the folder ``cardtool perso`` wrote).  With ``--readers`` the cards are read live instead, one worker per
reader, as they arrive on the line; the manifest then says which cards to expect and holds their CANs.

Each card gets everything ``cardtool verify`` checks (and the live checks when read from a chip) and the
batch checks: duplicates, cards not in the manifest, data differing from the card image; cards of the
manifest never seen are reported missing.  ``DIR`` receives ``results.jsonl`` (one line per card, as
results arrive), ``cards.csv`` (one row per card, for the MES), ``summary.csv`` and ``report.html`` (see
:mod:`cardtool.qa_report`); ``DIR/run.json`` keeps when the QA started and the time cards are verified as of.

The report folder is the run's identity: started again on the same ``DIR`` (after Ctrl-C, a crash, even
``kill -9``) the run skips every card already in ``results.jsonl`` and redoes only the rest.
``--recheck failed`` first sets the failed and unreadable cards' results aside (in ``results.superseded.jsonl``)
and so reads and checks only those cards again, keeping every other result (``--recheck cannot-tell``: the
undecided cards, e.g. once the missing CSCA is in the trust store).

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
from cardlib.batch.checking import CheckedCard, describe_certificate
from cardlib.batch.engine import check_offline, check_on_cluster, default_workers
from cardlib.batch.journal import read_journal, supersede
from cardlib.batch.live import LiveOptions, PendingCards, check_readers
from cardlib.batch.outcome import ERROR, INVALID
from cardlib.batch.sources import BatchItem, ExpectedCards, count_items, iter_items, manifest_path, perso_rows
from cardlib.errors import CardlibError
from cardlib.pki.trust import TrustStore
from cardlib.reader.pcsc import list_readers
from cardtool.access import add_read_options, chip_models
from cardtool.folders import check_output_folder, make_folder
from cardtool.perso_command import BATCH, REJECTED
from cardtool.progress import Progress
from cardtool.qa_report import PAGE, RESULTS, PersoInput, ReportWriter, RunInfo
from cardtool.qa_summary import BatchSummary
from cardtool.verify_command import load_trust

RUN_FILE = "run.json"
SUPERSEDED = "results.superseded.jsonl"
RECHECK = {"failed": (INVALID, ERROR), "cannot-tell": ("cannot tell",)}
"""What ``--recheck`` takes again: the verdicts of the results it sets aside."""
REJECTED_SHOWN = 20


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
    parser.add_argument("--name", help="the batch's name in the report (default: the perso batch's title, else "
                                       "the report folder's name)")
    parser.add_argument("--recheck", nargs="+", choices=sorted(RECHECK), metavar="WHAT",
                        help="check again only the cards of the earlier run on --report that failed or were "
                             "unreadable ('failed') and/or could not be decided ('cannot-tell'); other results kept")
    add_read_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run (or resume) the QA of the batch; return the batch's exit status."""
    if args.workers is not None and args.workers < 1:
        raise CardlibError("--workers must be at least 1")
    check_output_folder(args.report, "--report")
    trust_paths = tuple(str(path.resolve()) for path in args.trust)
    trust = load_trust(args.trust)
    at, started = _run_record(args.report, args.at)
    expected = _expected(args)
    rechecked = _set_aside(args.report, args.recheck) if args.recheck else None
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
                              models=chip_models(args), eac=args.eac)
        results = check_readers(readers, pending, trust, at, options=options)
    else:
        progress = Progress(sum(count_items(source) for source in args.sources), done=writer.resumed)
        items = (item for item in _items(args.sources) if not writer.holds(item.key))
        results = _offline(items, trust_paths, at, args)
    info = _run_info(args, trust, at, started, rechecked)
    summary = _record(results, accounting, writer, progress, info)
    _print(summary, args.report)
    return summary.exit_code


def _run_record(report: Path, given: datetime | None) -> tuple[datetime, str]:
    """The time cards are verified as of (given, else the one an earlier run on ``report`` used, else now) and
    when the QA of this batch first started (ISO, local time)."""
    record = report / RUN_FILE
    stored = json.loads(record.read_text(encoding="utf-8")) if record.exists() else {}
    at = given or (datetime.fromisoformat(stored["at"]) if stored.get("at") else datetime.now(UTC))
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    started = stored.get("started") or datetime.now().astimezone().isoformat(sep=" ", timespec="seconds")
    make_folder(report)
    record.write_text(json.dumps({"at": at.isoformat(), "started": started}) + "\n", encoding="utf-8")
    return at, started


def _set_aside(report: Path, what: Sequence[str]) -> int:
    """Move the results ``--recheck`` names out of the journal (see the module docstring); how many."""
    results = report / RESULTS
    if not results.exists():
        raise CardlibError(f"--recheck: {report} holds no results of an earlier run ({RESULTS})")
    verdicts = {verdict for name in what for verdict in RECHECK[name]}
    return supersede(results, lambda outcome: outcome.verdict in verdicts, report / SUPERSEDED)


def _manifest(args: argparse.Namespace) -> Path | None:
    """The batch's perso manifest: ``--expected``, else the one SOURCE that is a manifest, else None."""
    if args.expected is not None:
        return Path(args.expected)
    manifests = [source for source in args.sources if manifest_path(source) is not None]
    if len(manifests) > 1:
        raise CardlibError("several SOURCEs are perso manifests: name the batch's one with --expected")
    return manifests[0] if manifests else None


def _expected(args: argparse.Namespace) -> ExpectedCards | None:
    manifest = _manifest(args)
    return ExpectedCards.from_manifest(manifest) if manifest is not None else None


def _run_info(args: argparse.Namespace, trust: TrustStore, at: datetime, started: str,
              rechecked: int | None) -> RunInfo:
    """The report's header for this run (see :class:`cardtool.qa_report.RunInfo`)."""
    manifest = _manifest(args)
    perso = _perso_input(manifest) if manifest is not None else None
    sources = [str(source) for source in args.sources]
    sources += [f"readers: {' '.join(args.readers)}"] if args.readers else []
    return RunInfo(batch=args.name or (perso.title if perso else "") or args.report.resolve().name, started=started,
                   verified_at=at.isoformat(timespec="seconds"), sources=tuple(sources),
                   trust_anchors=tuple(describe_certificate(anchor) for anchor in trust.anchors),
                   trusted_cscas=len(trust.cscas), perso=perso, rechecked=rechecked)


def _perso_input(manifest: Path) -> PersoInput | None:
    """The perso batch of ``manifest``: its input file (from ``batch.json``) and its rejected rows."""
    path = manifest_path(manifest)
    if path is None:
        return None
    try:
        record = json.loads((path.parent / BATCH).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # no batch.json (a manifest from before it), or a damaged one: no input named
        record = {}
    personalized, rejected = perso_rows(path)
    rejected_csv = path.parent / REJECTED
    csv = str(rejected_csv.resolve()) if rejected_csv.is_file() else ""
    return PersoInput(str(path.parent), str(record.get("input", "")), str(record.get("input_sha256", "")),
                      str(record.get("title", "")), personalized, len(rejected), csv,
                      tuple((row.row, row.id_number, row.field, row.reason) for row in rejected[:REJECTED_SHOWN]))


def _items(sources: Sequence[Path]) -> Iterator[BatchItem]:
    return chain.from_iterable(iter_items(source) for source in sources)


def _offline(items: Iterator[BatchItem], trust_paths: tuple[str, ...], at: datetime,
             args: argparse.Namespace) -> Iterator[CheckedCard]:
    if args.cluster:
        return check_on_cluster(args.cluster, items, trust_paths, at)
    return check_offline(items, trust_paths, at, workers=args.workers or default_workers())


def _record(results: Iterator[CheckedCard], accounting: BatchAccounting, writer: ReportWriter, progress: Progress,
            info: RunInfo) -> BatchSummary:
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
    return writer.finish(f"QA — {info.batch}", accounting.missing(), info)


def _print(summary: BatchSummary, report: Path) -> None:
    if sys.stdout.isatty():
        print(summary.line())
        print(summary.dg3_line())
        print(f"report: {report / PAGE}")
    print(summary.fields())
