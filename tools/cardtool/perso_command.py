"""``cardtool perso INPUT --pki DIR --out DIR``: personalize every valid row of a resident file.

Output folder::

    cards/NNNNN-<id>/   one card image per personalized row (see cardlib.card.image)
    batch.json          the batch: its title, the input file it was started on and that file's SHA-256
    manifest.jsonl      one line per input row done: personalized (with its card folder and what was done to
                        the portrait) or rejected (with why and the row's cells); each with the row's fingerprint
    rejected.csv        the rejected rows, every original column plus ``row``, ``field`` and ``reason``: fix
                        them and feed the file back (``cardtool perso OUT/rejected.csv --out OUT``)
    report.html         counts, portrait warnings and the rejected rows grouped by the field at fault

Nothing is silently dropped: every input row ends as exactly one manifest line (the last line of a row is
its current state).  The run is resumable: started again on the same output folder it skips the rows the
manifest already accounts for (card folders are written atomically before their manifest line, so a kill
at any moment loses nothing), matching rows by number and by fingerprint (:func:`cardlib.card.inputs.fingerprint`):

* a rejected row that was corrected (in the input file, or in ``rejected.csv`` fed back) is done again;
  ``--only-rejected`` does every rejected row again (e.g. once the missing portraits are there) and nothing else;
* a personalized row that changed since is not done again (its card exists): it is named, and the run exits 1;
* another input file on the same folder is refused (a folder is one batch) unless ``--new-input`` says it
  replaces the batch's input; the report keeps the batch's title.

The same ID number on two rows of a batch (in this run or an earlier one) is refused on the second row,
naming the first: a person gets one card.  CSV cells that ``rejected.csv`` protected with a leading ``'``
(see :mod:`cardtool.spreadsheet`) are read back without it.  Portraits far larger than a card needs are
personalized with a warning (:data:`cardlib.card.perso.PORTRAIT_WARN_BYTES`), and what was done to each is
in the manifest.

``--target jmrtd-applet`` makes cards a blank JMRTD passport applet can hold (:mod:`cardlib.card.targets`:
BAC only, RSA-1024 Active Authentication, no EF.CardAccess, no DG14), for ``cardtool encode``.

Rows are personalized on every core (each worker process loads the Document Signer once); the input is
streamed and at most a few rows per worker are in flight, so 10,000-row files never sit in memory.
A progress bar with rate and ETA is drawn on a terminal.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from cardlib.batch.engine import IN_FLIGHT_PER_WORKER, default_workers, ordered_map
from cardlib.batch.journal import drop_torn_tail
from cardlib.batch.pool import process_pool
from cardlib.batch.sources import PERSO_MANIFEST
from cardlib.card.inputs import COLUMNS, InputRecord, RejectedRow, is_correction_file, read_records
from cardlib.card.perso import personalize, prepare_finger, prepare_portrait
from cardlib.card.targets import TARGETS, ChipTarget, target_named
from cardlib.errors import CardlibError, InputError, ValidationError
from cardlib.lds.sod import SODSigner
from cardlib.pki.hsm import PinSource
from cardlib.pki.operations import IssuingAuthority
from cardtool.folders import check_output_folder, make_folder
from cardtool.main import COMMANDS
from cardtool.progress import Progress
from cardtool.qa_report import STYLE, FailureGroup, bar_chart
from cardtool.spreadsheet import FORMULA_STARTS, write_csv

MANIFEST = PERSO_MANIFEST
REJECTED = "rejected.csv"
PAGE = "report.html"
BATCH = "batch.json"
SHOWN_MESSAGES = 10
"""Rows named one by one on the terminal (not done again, portrait warnings); the rest are counted."""

Entry = dict[str, Any]
_worker_signer: SODSigner | None = None
_worker_authority: IssuingAuthority | None = None


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``perso`` sub-command."""
    parser = commands.add_parser("perso", help=COMMANDS["perso"].help,
                                 description="Personalize every valid row of a resident file into card images; "
                                             "started again on the same --out, resume the batch.")
    parser.add_argument("input", type=Path, help="CSV (UTF-8, UTF-16 or Windows-1258; comma, semicolon or tab) "
                                                 "or JSON Lines of residents; or a fixed rejected.csv")
    parser.add_argument("--pki", type=Path, required=True, help="folder made by 'cardtool pki init'")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created; reused to resume)")
    parser.add_argument("--workers", type=int, help="worker processes (default: every core)")
    parser.add_argument("--only-rejected", action="store_true",
                        help="do the rows rejected in an earlier run again, and nothing else")
    parser.add_argument("--new-input", action="store_true",
                        help="INPUT replaces the file this --out was started on (rows matched by number)")
    parser.add_argument("--target", choices=sorted(TARGETS),
                        help="make cards this chip can hold (jmrtd-applet: BAC only, RSA-1024 AA, no EF.CardAccess, "
                             "for 'cardtool encode'); default: the virtual CCCD chip")
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
    not_tried: int = 0
    not_done: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One line for the operator."""
        extra = f", {self.not_tried} never tried (run without --only-rejected)" if self.not_tried else ""
        extra += f", {len(self.not_done)} refused (named above)" if self.not_done else ""
        extra += f", {len(self.warnings)} portrait warning(s)" if self.warnings else ""
        return (f"{self.personalized} personalized, {self.rejected} rejected, "
                f"{self.already_done} already done in an earlier run{extra}")


def run(args: argparse.Namespace) -> int:
    """Personalize the batch; exit 0 when every row was personalized, 1 when some were rejected or refused."""
    if args.workers is not None and args.workers < 1:
        raise CardlibError("--workers must be at least 1")
    check_output_folder(args.out, "--out")
    pin = PinSource(env=args.pin_env) if args.pin_env else PinSource(file=args.pin_file) if args.pin_file else None
    source = SignerSource(args.pki, pin)
    with source.open() as authority:  # a broken PKI folder, a wrong PIN or an expired DS: said before any row
        authority.document_signer()
    summary = personalize_batch(args.input, source, args.out, workers=args.workers or default_workers(),
                                progress=True, new_input=args.new_input, only_rejected=args.only_rejected,
                                target=target_named(args.target) if args.target else None)
    report = ManifestReport.of(args.out / MANIFEST)
    _print_first(summary.warnings)
    _print_first(summary.not_done)
    print(summary.line())
    print(f"report: {args.out / PAGE}")
    if report.rejected:
        print(f"rejected rows and reasons: {args.out / REJECTED} (fix them there and give that file as INPUT)")
    return 1 if report.rejected or summary.not_done else 0


def _print_first(messages: list[str]) -> None:
    """The first :data:`SHOWN_MESSAGES` messages, and how many more there are."""
    for message in messages[:SHOWN_MESSAGES]:
        print(message)
    if len(messages) > SHOWN_MESSAGES:
        print(f"... and {len(messages) - SHOWN_MESSAGES} more")


def personalize_batch(source: Path, signer: SODSigner | SignerSource, out: Path, *, workers: int = 1,
                      progress: bool = False, new_input: bool = False, only_rejected: bool = False,
                      target: ChipTarget | None = None) -> BatchSummary:
    """Personalize every row of ``source`` into ``out``, resuming a previous run on the same folder.

    ``signer`` is a Document Signer, or where to get one; only a :class:`SignerSource` lets ``workers``
    processes share the work (each opens the PKI once).  ``progress`` draws a progress bar on a terminal.
    ``new_input`` lets ``source`` replace the file the batch was started on; ``only_rejected`` does the
    rejected rows again and nothing else; ``target`` makes cards that chip can hold.  Writes the files of the
    module docstring.
    """
    check_output_folder(out, "output folder")
    make_folder(out)
    record = _batch_record(out, source, new_input)
    plan = _Plan(_latest_entries(out / MANIFEST), only_rejected, is_correction_file(source))
    todo_count = sum(1 for _ in plan.copy().rows(source, check_portraits=False))
    bar = Progress(todo_count, unit="rows", enabled=None if progress else False)
    summary = BatchSummary()
    with (out / MANIFEST).open("a", encoding="utf-8") as manifest:
        try:
            for entry in _entries(plan.rows(source), signer, out, workers, target):
                summary.personalized += entry["status"] == "personalized"
                summary.rejected += entry["status"] == "rejected"
                if entry.get("portrait", {}).get("warning"):
                    summary.warnings.append(f"row {entry['row']}: {entry['portrait']['warning']}")
                manifest.write(json.dumps(entry, ensure_ascii=False) + "\n")
                manifest.flush()
                bar.advance()
        finally:
            bar.close()
    summary.already_done, summary.not_tried, summary.not_done = plan.already_done, plan.not_tried, plan.not_done
    report = ManifestReport.of(out / MANIFEST)
    report.write_rejected(out / REJECTED)
    (out / PAGE).write_text(report.html(str(record["title"]), record), encoding="utf-8")
    return summary


def _sha256(source: Path) -> str:
    digest = hashlib.sha256()
    try:
        with source.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror or type(exc).__name__})", source=str(source)) from None
    return digest.hexdigest()


def _batch_record(out: Path, source: Path, new_input: bool) -> Entry:
    """The batch's record (title and input), created on the first run; a different input file is refused
    unless ``new_input`` (a correction file, the same path edited, or the same content moved are the batch's)."""
    path = out / BATCH
    here = {"input": str(source.resolve()), "input_sha256": _sha256(source)}
    if not path.exists():
        record: Entry = {"title": f"Personalization of {source.name}", **here,
                         "started": datetime.now(UTC).isoformat(timespec="seconds")}
    else:
        record = json.loads(path.read_text(encoding="utf-8"))
        same = record["input"] == here["input"] or record["input_sha256"] == here["input_sha256"]
        if is_correction_file(source):
            return record
        if not same and not new_input:
            raise CardlibError(f"{out} is the batch of {record['input']}; {source} is another file: give a new "
                               "--out for a new batch, or --new-input if this file replaces that one "
                               "(its rows are matched by number)")
        record.update(here)
    path.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return record


def _plain_cell(value: str) -> str:
    """A cell without the ``'`` the spreadsheet-safe writer put before formula-like text."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_STARTS) else value


@dataclass
class _Plan:
    """Which input rows this run does, given the manifest's latest entry per row (see the module docstring)."""

    done: Mapping[int, Entry]
    only_rejected: bool
    correction: bool
    already_done: int = 0
    not_tried: int = 0
    not_done: list[str] = field(default_factory=list)
    holders: dict[str, int] = field(init=False)
    """ID number → the row that holds it (personalized, or valid and in this run)."""

    def __post_init__(self) -> None:
        self.holders = {str(entry["id_number"]): row for row, entry in self.done.items()
                        if entry["status"] == "personalized"}

    def copy(self) -> _Plan:
        """A fresh plan over the same manifest (for counting the rows before doing them)."""
        return _Plan(self.done, self.only_rejected, self.correction)

    def rows(self, source: Path, *, check_portraits: bool = True) -> Iterator[InputRecord | RejectedRow]:
        """The rows of ``source`` to do, in input order; a second row with an ID number already held is refused."""
        for item in read_records(source, check_portraits=check_portraits, cell=_plain_cell):
            if self._wanted(item):
                yield self._unique(item)

    def _wanted(self, item: InputRecord | RejectedRow) -> bool:
        entry = self.done.get(item.row)
        if entry is None and self.correction:
            self.not_done.append(f"row {item.row}: not a row of this batch (not done)")
            return False
        if entry is None:
            self.not_tried += self.only_rejected
            return not self.only_rejected
        unchanged = entry.get("fingerprint", item.fingerprint) == item.fingerprint
        if entry["status"] == "personalized":
            self.already_done += 1
            if not unchanged:
                self.not_done.append(f"row {item.row}: changed since it was personalized into {entry['card']} "
                                    "(not done again: that card exists; make a corrected card in a new batch)")
            return False
        if unchanged and not self.only_rejected:
            self.already_done += 1
            return False
        return True

    def _unique(self, item: InputRecord | RejectedRow) -> InputRecord | RejectedRow:
        if isinstance(item, RejectedRow):
            return item
        id_number = item.resident.id_number
        first = self.holders.setdefault(id_number, item.row)
        if first == item.row:
            return item
        return RejectedRow(item.row, f"ID number {id_number} is already on row {first} of this batch: one card "
                           "per person (correct the ID number, or remove one of the rows)", "id_number", id_number,
                           item.values, item.fingerprint)


def _entries(items: Iterator[InputRecord | RejectedRow], signer: SODSigner | SignerSource, out: Path,
             workers: int, target: ChipTarget | None) -> Iterator[Entry]:
    """One manifest entry per row to do, in input order: rejected rows as they are, the others personalized."""
    if not isinstance(signer, SignerSource):
        yield from (_personalize_one(item, signer, out, target) for item in items)
    elif workers > 1:
        with process_pool(workers, _open_worker_signer, (signer,)) as pool:
            yield from ordered_map(pool, partial(_personalize_in_worker, out=out, target=target), items,
                                   workers * IN_FLIGHT_PER_WORKER)
    else:
        with signer.open() as authority:
            document_signer = authority.document_signer()
            yield from (_personalize_one(item, document_signer, out, target) for item in items)


def _open_worker_signer(source: SignerSource) -> None:
    """Process pool initializer: open the PKI once per worker and keep it open for the worker's life."""
    global _worker_signer, _worker_authority
    _worker_authority = source.open()
    _worker_signer = _worker_authority.document_signer()


def _personalize_in_worker(item: InputRecord | RejectedRow, out: Path, target: ChipTarget | None) -> Entry:
    assert _worker_signer is not None, "worker started without its initializer"
    return _personalize_one(item, _worker_signer, out, target)


def _personalize_one(item: InputRecord | RejectedRow, signer: SODSigner, out: Path,
                     target: ChipTarget | None) -> Entry:
    if isinstance(item, RejectedRow):
        return _rejected(item, item.field, item.reason)
    folder = Path("cards") / f"{item.row:05d}-{item.resident.id_number}"
    try:
        portrait = prepare_portrait(item.portrait)
        fingers = [prepare_finger(finger.path, finger.position, field=finger.column) for finger in item.fingers]
    except ValidationError as exc:
        return _rejected(item, exc.field, exc.reason)
    try:
        image = personalize(item.resident, portrait.face, signer, target=target, fingers=fingers)
        image.save(out / folder)
    except CardlibError as exc:
        return _rejected(item, None, str(exc))
    return {"row": item.row, "status": "personalized", "id_number": item.resident.id_number, "card": str(folder),
            "fingerprint": item.fingerprint, "portrait": {"done": portrait.done, "warning": portrait.warning}}


def _rejected(item: InputRecord | RejectedRow, field: str | None, reason: str) -> Entry:
    id_number = item.id_number if isinstance(item, RejectedRow) else item.resident.id_number
    return {"row": item.row, "status": "rejected", "id_number": id_number, "field": field, "reason": reason,
            "fingerprint": item.fingerprint, "values": dict(item.values)}


def _latest_entries(manifest: Path) -> dict[int, Entry]:
    """Each row's latest manifest entry; a torn last line (killed mid-write) is cut off and its row redone."""
    drop_torn_tail(manifest)
    return {int(entry["row"]): entry for entry in _manifest_entries(manifest)}


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
    warnings: list[Entry] = field(default_factory=list)

    @classmethod
    def of(cls, manifest: Path) -> ManifestReport:
        """Read the manifest once, each row as its latest entry (rejected rows are what the operator must fix)."""
        report = cls()
        for _, entry in sorted(_latest_entries(manifest).items()):
            if entry["status"] == "personalized":
                report.personalized += 1
                report.warnings += [entry] if entry.get("portrait", {}).get("warning") else []
                continue
            report.rejected.append(entry)
            cause = entry.get("field") or "card data"
            report.groups.setdefault(cause, FailureGroup(cause)).add(f"row {entry['row']}", entry["reason"])
        return report

    def write_rejected(self, path: Path) -> None:
        """The rejected rows, in input order: ``row``, every original column, the field at fault and the reason.

        Cells starting like a spreadsheet formula (``=``, ``+``, ``-``, ``@``...) carry a leading ``'``
        (see :mod:`cardtool.spreadsheet`); ``cardtool perso`` drops it when the file is fed back.
        """
        extra = dict.fromkeys(name for entry in self.rejected for name in entry.get("values", {})
                              if name not in COLUMNS)
        columns = [*COLUMNS, *extra]
        write_csv(path, ["row", *columns, "field", "reason"],
                  ([entry["row"], *_cells(entry, columns), entry.get("field") or "", entry["reason"]]
                   for entry in self.rejected))

    def html(self, title: str, batch: Entry | None = None) -> str:
        """A self-contained page: counts, a chart of rejections by field, every rejected row, portrait warnings.

        ``batch`` is the batch's record (``batch.json``): its input file and when the batch started are shown.
        """
        groups = sorted(self.groups.values(), key=lambda group: (-group.count, group.check))
        rows = "".join(f"<tr><td>{entry['row']}</td><td>{html.escape(entry.get('id_number') or '')}</td>"
                       f"<td>{html.escape(entry.get('field') or '')}</td><td>{html.escape(entry['reason'])}</td></tr>"
                       for entry in self.rejected)
        table = (f"<table><tr><th>row</th><th>ID number</th><th>field</th><th>reason</th></tr>{rows}</table>"
                 if rows else "<p>No row was rejected.</p>")
        return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{_batch_html(batch)}"
                f"<p class='big'>{self.personalized} personalized, {len(self.rejected)} rejected</p>"
                f"<h2>Rejected rows by field</h2>{bar_chart([(g.check, g.count) for g in groups])}{table}"
                f"{self._warnings_html()}</body></html>\n")

    def _warnings_html(self) -> str:
        if not self.warnings:
            return ""
        rows = "".join(f"<tr><td>{entry['row']}</td><td>{html.escape(str(entry['id_number']))}</td>"
                       f"<td>{html.escape(entry['portrait']['warning'])}</td>"
                       f"<td>{html.escape(entry['portrait']['done'])}</td></tr>" for entry in self.warnings)
        return (f"<h2>Portrait warnings</h2><table><tr><th>row</th><th>ID number</th><th>warning</th>"
                f"<th>what was done</th></tr>{rows}</table>")


def _batch_html(batch: Entry | None) -> str:
    if not batch:
        return ""
    return (f"<p>Input {html.escape(str(batch['input']))} (SHA-256 {html.escape(str(batch['input_sha256']))}), "
            f"batch started {html.escape(str(batch['started']))}</p>")


def _cells(entry: Entry, columns: list[str]) -> list[str]:
    """The row's cells in ``columns`` order; an entry from before cells were kept has only its ID number."""
    values: Mapping[str, str] = entry.get("values") or {"id_number": entry.get("id_number") or ""}
    return [values.get(name, "") for name in columns]
