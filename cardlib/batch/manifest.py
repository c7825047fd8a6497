"""The perso manifest, ``manifest.jsonl``: its one writer and its one reader, and its ``rejected.csv`` view.

Batch personalization (:mod:`cardlib.batch.perso`) appends one JSON line per input row it finishes; batch
QA (:mod:`cardlib.batch.sources`) reads the same lines to know which cards a batch must contain.  A line is

* ``{"row", "status": "personalized", "id_number", "card", "fingerprint", "portrait": {"done", "warning"}}``
  — ``card`` is the card image folder relative to the manifest's folder;
* ``{"row", "status": "rejected", "id_number", "field", "reason", "fingerprint", "values"}`` — ``values``
  are the row's cells as read, for the operator to fix.

A row may have several lines (rejected, then corrected and personalized): its last line is its current
state (:func:`latest_entries`).  A process killed mid-write leaves a torn last line (no newline): readers
ignore it and never change the file; :class:`ManifestWriter` cuts it off before appending, so the row is
done again.  Any other line that is not an entry is an :class:`~cardlib.errors.InputError` naming the line:
a damaged manifest is said, never half-read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from types import TracebackType
from typing import Any

from cardlib.batch.journal import drop_torn_tail
from cardlib.batch.spreadsheet import write_csv
from cardlib.card.input_records import COLUMNS
from cardlib.errors import InputError

PERSO_MANIFEST = "manifest.jsonl"
"""The manifest's name in a perso output folder."""
REJECTED_CSV = "rejected.csv"
"""The rejected rows' name in a perso output folder (see :func:`write_rejected`)."""
PERSONALIZED = "personalized"
REJECTED = "rejected"


@dataclass(frozen=True)
class PortraitNote:
    """What personalization did to a row's portrait, and a warning when the file was far larger than needed."""

    done: str
    warning: str | None = None


@dataclass(frozen=True)
class PersoEntry:
    """One manifest line: what became of one input row (see the module docstring for the JSON)."""

    row: int
    status: str
    """:data:`PERSONALIZED` or :data:`REJECTED`."""
    id_number: str | None
    fingerprint: str | None = None
    """The row's :func:`~cardlib.card.input_records.fingerprint` (None on lines written before fingerprints)."""
    card: str | None = None
    portrait: PortraitNote | None = None
    field: str | None = None
    reason: str = ""
    values: Mapping[str, str] = dataclass_field(default_factory=dict)

    @property
    def personalized(self) -> bool:
        """True when the row became a card."""
        return self.status == PERSONALIZED

    def to_json(self) -> dict[str, Any]:
        """The entry as its manifest line's JSON object."""
        if self.personalized:
            portrait = None if self.portrait is None else {"done": self.portrait.done,
                                                           "warning": self.portrait.warning}
            return {"row": self.row, "status": self.status, "id_number": self.id_number, "card": self.card,
                    "fingerprint": self.fingerprint, "portrait": portrait}
        return {"row": self.row, "status": self.status, "id_number": self.id_number, "field": self.field,
                "reason": self.reason, "fingerprint": self.fingerprint, "values": dict(self.values)}

    @classmethod
    def from_json(cls, data: object) -> PersoEntry:
        """The entry of a manifest line's JSON value; ValueError saying what is wrong with it."""
        if not isinstance(data, dict) or isinstance(data.get("row"), bool) or not isinstance(data.get("row"), int):
            raise ValueError("an object with a row number expected")
        row, status = data["row"], data.get("status")
        if status not in (PERSONALIZED, REJECTED):
            raise ValueError(f"row {row} has status {status!r}: {PERSONALIZED!r} or {REJECTED!r} expected")
        if status == PERSONALIZED and not (data.get("card") and data.get("id_number")):
            raise ValueError(f"row {row} is personalized without its card folder and ID number")
        portrait = data.get("portrait")
        values = data.get("values") or {}
        return cls(row, status, _text(data.get("id_number")), _text(data.get("fingerprint")), _text(data.get("card")),
                   PortraitNote(str(portrait.get("done", "")), _text(portrait.get("warning")))
                   if isinstance(portrait, dict) else None,
                   _text(data.get("field")), str(data.get("reason") or ""),
                   {str(name): str(value) for name, value in values.items()} if isinstance(values, dict) else {})


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def read_entries(manifest: Path) -> Iterator[tuple[int, PersoEntry]]:
    """Every whole line of ``manifest`` as ``(line number, entry)``, in file order (read only; a torn last line
    is left out).  InputError when the file cannot be read or a line is not an entry."""
    try:
        handle = manifest.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot open the perso manifest ({exc.strerror})", source=str(manifest)) from None
    with handle:
        number = 0
        try:
            for number, line in enumerate(handle, start=1):
                if not line.endswith("\n"):
                    return
                yield number, PersoEntry.from_json(json.loads(line))
        except UnicodeDecodeError:
            raise InputError(f"line {number + 1}: not UTF-8 text (not a perso manifest line)",
                             source=str(manifest)) from None
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            why = "not JSON" if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise InputError(f"line {number}: not a perso manifest line ({why})", source=str(manifest)) from None


def latest_entries(manifest: Path) -> dict[int, PersoEntry]:
    """Each row's current state, its last entry, in row order; empty when ``manifest`` does not exist yet."""
    if not manifest.exists():
        return {}
    latest = {entry.row: entry for _, entry in read_entries(manifest)}
    return dict(sorted(latest.items()))


class ManifestWriter:
    """Appends entries to a manifest, each line flushed as it is written (use as a context manager).

    Opening cuts a torn last line off first, so the next entry starts on a line of its own.
    """

    def __init__(self, manifest: Path) -> None:
        drop_torn_tail(manifest)
        self._handle = manifest.open("a", encoding="utf-8")

    def write(self, entry: PersoEntry) -> None:
        """Append ``entry`` as one line and flush it."""
        self._handle.write(json.dumps(entry.to_json(), ensure_ascii=False) + "\n")
        self._handle.flush()

    def close(self) -> None:
        """Close the file."""
        self._handle.close()

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


def write_rejected(entries: Iterable[PersoEntry], path: Path) -> None:
    """The rejected ``entries``, in the order given, as a CSV to fix and feed back: ``row``, every input column
    (:data:`~cardlib.card.input_records.COLUMNS`, then any other the rows had), the field at fault and the reason.

    Cells starting like a spreadsheet formula carry a leading ``'`` (:mod:`cardlib.batch.spreadsheet`); batch
    personalization drops it when the file is fed back.
    """
    rejected = [entry for entry in entries if not entry.personalized]
    extra = dict.fromkeys(name for entry in rejected for name in entry.values if name not in COLUMNS)
    columns = [*COLUMNS, *extra]
    write_csv(path, ["row", *columns, "field", "reason"],
              ([entry.row, *_cells(entry, columns), entry.field or "", entry.reason] for entry in rejected))


def _cells(entry: PersoEntry, columns: list[str]) -> list[str]:
    """The row's cells in ``columns`` order; an entry from before cells were kept has only its ID number."""
    values = entry.values or {"id_number": entry.id_number or ""}
    return [values.get(name, "") for name in columns]
