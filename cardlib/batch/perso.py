"""Batch personalization: every row of a resident file into card images, resumable, one batch per folder.

It lives in :mod:`cardlib.batch`, not :mod:`cardlib.card`: ``card/`` makes one card
(:func:`cardlib.card.perso.personalize`), ``batch/`` runs many on a worker pool that dies with its parent
(:mod:`~cardlib.batch.pool`), in input order with a bounded number in flight (:mod:`~cardlib.batch.engine`),
into an append-only manifest that batch QA reads back (:mod:`~cardlib.batch.manifest`,
:mod:`~cardlib.batch.sources`).

Output folder::

    cards/NNNNN-<id>/   one card image per personalized row (see cardlib.card.image)
    batch.json          the batch: its title, the input file it was started on and that file's SHA-256
    manifest.jsonl      one line per input row done (see cardlib.batch.manifest), with the row's fingerprint
    rejected.csv        the rejected rows, every original column plus ``row``, ``field`` and ``reason``: fix
                        them and feed the file back as the input

Nothing is silently dropped: every input row ends as exactly one manifest line (the last line of a row is
its current state).  The run is resumable: started again on the same output folder it skips the rows the
manifest already accounts for (card folders are written atomically before their manifest line, so a kill
at any moment loses nothing), matching rows by number and by fingerprint
(:func:`~cardlib.card.input_records.fingerprint`):

* a rejected row that was corrected (in the input file, or in ``rejected.csv`` fed back) is done again;
  ``only_rejected`` does every rejected row again (e.g. once the missing portraits are there) and nothing else;
* a personalized row that changed since is not done again (its card exists): it is refused, named in the
  summary (:attr:`BatchSummary.refused`);
* another input file on the same folder is refused (a folder is one batch) unless ``new_input`` says it
  replaces the batch's input; the batch keeps its title.

The same ID number on two rows of a batch (in this run or an earlier one) is refused on the second row,
naming the first: a person gets one card.  CSV cells that ``rejected.csv`` protected with a leading ``'``
are read back without it (:func:`cardlib.batch.spreadsheet.plain_cell`).  Portraits far larger than a card
needs are personalized with a warning (:data:`cardlib.card.perso.PORTRAIT_WARN_BYTES`), and what was done to
each is in the manifest.

Rows are personalized on ``workers`` processes (each opens the Document Signer once); the input is streamed
and at most a few rows per worker are in flight, so 10,000-row files never sit in memory.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from cardlib.batch.engine import IN_FLIGHT_PER_WORKER, ordered_map
from cardlib.batch.manifest import (
    PERSO_MANIFEST,
    PERSONALIZED,
    REJECTED,
    REJECTED_CSV,
    ManifestWriter,
    PersoEntry,
    PortraitNote,
    latest_entries,
    write_rejected,
)
from cardlib.batch.pool import process_pool
from cardlib.batch.spreadsheet import plain_cell
from cardlib.card.input_csv import is_correction_file
from cardlib.card.input_records import InputRecord, RejectedRow
from cardlib.card.inputs import read_records
from cardlib.card.perso import (
    DEFAULT_PROFILE,
    ChipProfile,
    pace_parameters,
    personalize,
    prepare_finger,
    prepare_portrait,
)
from cardlib.card.targets import ChipTarget
from cardlib.errors import CardlibError, InputError, ValidationError
from cardlib.lds.signeddata import SODSigner
from cardlib.pki.hsm import PinSource
from cardlib.pki.operations import IssuingAuthority

BATCH_RECORD = "batch.json"
"""The batch's record (:class:`BatchRecord`) in its output folder."""

ProgressCallback = Callable[[int, int], None]
"""Called with (rows done in this run, rows this run does): once with 0 before the first row, then per row."""

_worker_signer: SODSigner | None = None
_worker_authority: IssuingAuthority | None = None


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


@dataclass(frozen=True)
class BatchRecord:
    """A batch's ``batch.json``: its title (kept for the batch's life), its input file and when it started."""

    title: str
    input: str
    input_sha256: str
    started: str


@dataclass(frozen=True)
class RefusedRow:
    """An input row this run neither did nor rejected: it changed after it was personalized into ``card``, or
    a correction file names a row the batch never had (``card`` None)."""

    row: int
    reason: str
    card: str | None = None

    def message(self) -> str:
        """One line for people."""
        return f"row {self.row}: {self.reason}"


@dataclass
class BatchSummary:
    """What a personalization run did, each input row counted once, and the batch it ran on."""

    batch: BatchRecord
    personalized: int = 0
    rejected: int = 0
    already_done: int = 0
    """Rows an earlier run personalized or rejected, unchanged (or changed after personalization: see refused)."""
    not_tried: int = 0
    """Rows no run did yet, left alone because only the rejected rows were asked."""
    refused: list[RefusedRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """Portrait warnings of this run, ``row N: …``."""

    @property
    def changed(self) -> list[RefusedRow]:
        """Personalized rows that changed since (their card exists, so they were not done again)."""
        return [row for row in self.refused if row.card is not None]

    def line(self) -> str:
        """One line for the operator."""
        extra = f", {self.not_tried} never tried (run without --only-rejected)" if self.not_tried else ""
        extra += f", {len(self.refused)} refused (named above)" if self.refused else ""
        extra += f", {len(self.warnings)} portrait warning(s)" if self.warnings else ""
        return (f"{self.personalized} personalized, {self.rejected} rejected, "
                f"{self.already_done} already done in an earlier run{extra}")


def personalize_batch(source: Path, signer: SODSigner | SignerSource, out: Path, *, workers: int = 1,
                      new_input: bool = False, only_rejected: bool = False, target: ChipTarget | None = None,
                      profile: ChipProfile = DEFAULT_PROFILE,
                      on_progress: ProgressCallback | None = None) -> BatchSummary:
    """Personalize every row of ``source`` into ``out``, resuming a previous run on the same folder.

    ``signer`` is a Document Signer, or where to get one; only a :class:`SignerSource` lets ``workers``
    processes share the work (each opens the PKI once).  ``new_input`` lets ``source`` replace the file the
    batch was started on; ``only_rejected`` does the rejected rows again and nothing else; ``target`` makes
    cards that chip can hold; ``profile`` is the chip's choices for every card (:class:`ChipProfile`: the PACE
    protocol EF.CardAccess offers, the CVCA the chip trusts for Terminal Authentication, ...); ``on_progress``
    hears of each row done.  Writes the files of the module docstring.  CardlibError (InputError for the input
    file) when the folder or the input cannot be used, ValidationError (before any row) for a profile cardlib
    cannot make.
    """
    if workers < 1:
        raise CardlibError(f"workers must be at least 1, not {workers}")
    if not isinstance(profile, ChipProfile):
        raise TypeError(f"personalize_batch(): profile must be a ChipProfile, got {type(profile).__name__}")
    pace_parameters(profile)  # a protocol cardlib cannot run is said once, not on every row
    _make_folder(Path(out))
    record = _batch_record(out, source, new_input)
    plan = _Plan(latest_entries(out / PERSO_MANIFEST), only_rejected, is_correction_file(source))
    summary = BatchSummary(record)
    total = sum(1 for _ in plan.copy().rows(source, check_portraits=False)) if on_progress else 0
    if on_progress:
        on_progress(0, total)
    with ManifestWriter(out / PERSO_MANIFEST) as manifest:
        for done, entry in enumerate(_entries(plan.rows(source), signer, out, workers, _Chip(target, profile)),
                                     start=1):
            summary.personalized += entry.personalized
            summary.rejected += not entry.personalized
            if entry.portrait is not None and entry.portrait.warning:
                summary.warnings.append(f"row {entry.row}: {entry.portrait.warning}")
            manifest.write(entry)
            if on_progress:
                on_progress(done, total)
    summary.already_done, summary.not_tried, summary.refused = plan.already_done, plan.not_tried, plan.refused
    write_rejected(latest_entries(out / PERSO_MANIFEST).values(), out / REJECTED_CSV)
    return summary


def _make_folder(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CardlibError(f"cannot make the folder {out}: {exc.strerror or type(exc).__name__}") from None


def _sha256(source: Path) -> str:
    digest = hashlib.sha256()
    try:
        with source.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror or type(exc).__name__})", source=str(source)) from None
    return digest.hexdigest()


def read_batch_record(out: Path) -> BatchRecord | None:
    """The record of the batch in ``out``, or None before its first run.  CardlibError when it is damaged."""
    path = out / BATCH_RECORD
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return BatchRecord(str(data["title"]), str(data["input"]), str(data["input_sha256"]), str(data["started"]))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise CardlibError(f"{path}: not a batch record ({type(exc).__name__}); it names the batch's input "
                           "file, so it is not rewritten: restore it, or start the batch in a new folder") from None


def _batch_record(out: Path, source: Path, new_input: bool) -> BatchRecord:
    """The batch's record (title and input), created on the first run; a different input file is refused
    unless ``new_input`` (a correction file, the same path edited, or the same content moved are the batch's)."""
    here = {"input": str(source.resolve()), "input_sha256": _sha256(source)}
    record = read_batch_record(out)
    if record is None:
        record = BatchRecord(title=f"Personalization of {source.name}", **here,
                             started=datetime.now(UTC).isoformat(timespec="seconds"))
    else:
        if is_correction_file(source):
            return record
        same = record.input == here["input"] or record.input_sha256 == here["input_sha256"]
        if not same and not new_input:
            raise CardlibError(f"{out} is the batch of {record.input}; {source} is another file: give a new "
                               "output folder (--out) for a new batch, or new_input (--new-input) if this file "
                               "replaces that one (its rows are matched by number)")
        record = BatchRecord(record.title, **here, started=record.started)
    (out / BATCH_RECORD).write_text(json.dumps(asdict(record), ensure_ascii=False, indent=1) + "\n",
                                    encoding="utf-8")
    return record


@dataclass
class _Plan:
    """Which input rows this run does, given the manifest's latest entry per row (see the module docstring)."""

    done: Mapping[int, PersoEntry]
    only_rejected: bool
    correction: bool
    already_done: int = 0
    not_tried: int = 0
    refused: list[RefusedRow] = field(default_factory=list)
    holders: dict[str, int] = field(init=False)
    """ID number → the row that holds it (personalized, or valid and in this run)."""

    def __post_init__(self) -> None:
        self.holders = {str(entry.id_number): row for row, entry in self.done.items() if entry.personalized}

    def copy(self) -> _Plan:
        """A fresh plan over the same manifest (for counting the rows before doing them)."""
        return _Plan(self.done, self.only_rejected, self.correction)

    def rows(self, source: Path, *, check_portraits: bool = True) -> Iterator[InputRecord | RejectedRow]:
        """The rows of ``source`` to do, in input order; a second row with an ID number already held is refused."""
        for item in read_records(source, check_portraits=check_portraits, cell=plain_cell):
            if self._wanted(item):
                yield self._unique(item)

    def _wanted(self, item: InputRecord | RejectedRow) -> bool:
        entry = self.done.get(item.row)
        if entry is None and self.correction:
            self.refused.append(RefusedRow(item.row, "not a row of this batch (not done)"))
            return False
        if entry is None:
            self.not_tried += self.only_rejected
            return not self.only_rejected
        unchanged = (entry.fingerprint or item.fingerprint) == item.fingerprint
        if entry.personalized:
            self.already_done += 1
            if not unchanged:
                self.refused.append(RefusedRow(item.row, f"changed since it was personalized into {entry.card} "
                                               "(not done again: that card exists; make a corrected card in a new "
                                               "batch)", entry.card))
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


@dataclass(frozen=True)
class _Chip:
    """What every card of the batch is made for: the chip target (None: the virtual CCCD chip) and the profile."""

    target: ChipTarget | None
    profile: ChipProfile


def _entries(items: Iterator[InputRecord | RejectedRow], signer: SODSigner | SignerSource, out: Path,
             workers: int, chip: _Chip) -> Iterator[PersoEntry]:
    """One manifest entry per row to do, in input order: rejected rows as they are, the others personalized."""
    if not isinstance(signer, SignerSource):
        yield from (_personalize_one(item, signer, out, chip) for item in items)
    elif workers > 1:
        with process_pool(workers, _open_worker_signer, (signer,)) as pool:
            yield from ordered_map(pool, partial(_personalize_in_worker, out=out, chip=chip), items,
                                   workers * IN_FLIGHT_PER_WORKER)
    else:
        with signer.open() as authority:
            document_signer = authority.document_signer()
            yield from (_personalize_one(item, document_signer, out, chip) for item in items)


def _open_worker_signer(source: SignerSource) -> None:
    """Process pool initializer: open the PKI once per worker and keep it open for the worker's life."""
    global _worker_signer, _worker_authority
    _worker_authority = source.open()
    _worker_signer = _worker_authority.document_signer()


def _personalize_in_worker(item: InputRecord | RejectedRow, out: Path, chip: _Chip) -> PersoEntry:
    assert _worker_signer is not None, "worker started without its initializer"
    return _personalize_one(item, _worker_signer, out, chip)


def _personalize_one(item: InputRecord | RejectedRow, signer: SODSigner, out: Path, chip: _Chip) -> PersoEntry:
    if isinstance(item, RejectedRow):
        return _rejected(item, item.field, item.reason)
    folder = Path("cards") / f"{item.row:05d}-{item.resident.id_number}"
    try:
        portrait = prepare_portrait(item.portrait)
        fingers = [prepare_finger(finger.path, finger.position, field=finger.column) for finger in item.fingers]
    except ValidationError as exc:
        return _rejected(item, exc.field, exc.reason)
    try:
        image = personalize(item.resident, portrait.face, signer, profile=chip.profile, target=chip.target,
                            fingers=fingers)
        image.save(out / folder)
    except CardlibError as exc:
        return _rejected(item, None, str(exc))
    return PersoEntry(item.row, PERSONALIZED, item.resident.id_number, item.fingerprint, str(folder),
                      PortraitNote(portrait.done, portrait.warning))


def _rejected(item: InputRecord | RejectedRow, field: str | None, reason: str) -> PersoEntry:
    id_number = item.id_number if isinstance(item, RejectedRow) else item.resident.id_number
    return PersoEntry(item.row, REJECTED, id_number, item.fingerprint, field=field, reason=reason,
                      values=dict(item.values))
