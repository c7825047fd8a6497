"""``cardtool perso INPUT --pki DIR --out DIR``: personalize every valid row of a resident file.

Output folder::

    cards/NNNNN-<id>/   one card image per personalized row (see cardlib.card.image)
    manifest.jsonl      one line per input row: personalized (with its card folder) or rejected (with why)
    rejected.csv        the rejected rows, for the operator to fix and run again

Nothing is silently dropped: every input row ends as exactly one manifest line.  The run is resumable:
started again on the same output folder it skips the rows the manifest already accounts for (card
folders are written atomically before their manifest line, so a kill at any moment loses nothing).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cardlib.card.inputs import InputRecord, RejectedRow, read_records
from cardlib.card.perso import personalize
from cardlib.errors import CardlibError
from cardlib.pki.testpki import DocumentSigner, TestPKI

MANIFEST = "manifest.jsonl"
REJECTED = "rejected.csv"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``perso`` sub-command."""
    parser = commands.add_parser("perso", help="personalize card images from a CSV or JSON Lines resident file")
    parser.add_argument("input", type=Path, help="CSV (UTF-8, header row) or JSON Lines of residents")
    parser.add_argument("--pki", type=Path, required=True, help="folder made by 'cardtool pki init'")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created; reused to resume)")
    parser.set_defaults(handler=run)


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
    signer = TestPKI.load(args.pki).document_signer
    summary = personalize_batch(args.input, signer, args.out)
    print(summary.line())
    with (args.out / REJECTED).open(encoding="utf-8") as rejected:
        rejected_rows = sum(1 for _ in rejected) - 1  # the whole batch, earlier runs included
    if rejected_rows:
        print(f"{rejected_rows} rejected rows and their reasons: {args.out / REJECTED}")
    return 1 if rejected_rows else 0


def personalize_batch(source: Path, signer: DocumentSigner, out: Path) -> BatchSummary:
    """Personalize every row of ``source`` into ``out``, resuming a previous run on the same folder."""
    out.mkdir(parents=True, exist_ok=True)
    done = _rows_done(out / MANIFEST)
    summary = BatchSummary(already_done=len(done))
    with (out / MANIFEST).open("a", encoding="utf-8") as manifest:
        for item in read_records(source):
            if item.row in done:
                continue
            entry = _personalize_one(item, signer, out)
            summary.personalized += entry["status"] == "personalized"
            summary.rejected += entry["status"] == "rejected"
            manifest.write(json.dumps(entry, ensure_ascii=False) + "\n")
            manifest.flush()
            _progress(summary)
    _write_rejected(out)
    return summary


def _personalize_one(item: InputRecord | RejectedRow, signer: DocumentSigner, out: Path) -> dict[str, Any]:
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
    """Rows the manifest accounts for; a torn last line (killed mid-write) is ignored and redone."""
    if not manifest.exists():
        return set()
    done = set()
    for line in _complete_lines(manifest):
        try:
            done.add(int(json.loads(line)["row"]))
        except (ValueError, KeyError, TypeError):
            continue
    return done


def _complete_lines(path: Path) -> Iterator[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
        path.write_text(text, encoding="utf-8")
    yield from text.splitlines()


def _write_rejected(out: Path) -> None:
    rows = [json.loads(line) for line in _complete_lines(out / MANIFEST)]
    with (out / REJECTED).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "id_number", "field", "reason"])
        for entry in sorted((r for r in rows if r["status"] == "rejected"), key=lambda r: int(r["row"])):
            writer.writerow([entry["row"], entry.get("id_number") or "", entry.get("field") or "", entry["reason"]])


def _progress(summary: BatchSummary) -> None:
    if sys.stderr.isatty():
        print(f"\r{summary.personalized + summary.rejected} rows", end="", file=sys.stderr, flush=True)
