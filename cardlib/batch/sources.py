"""Where a batch's cards come from: folders of dumps or card images, and the manifests of ``cardtool perso``.

A SOURCE is one of

* a card folder itself (a dump or card image, see :mod:`cardlib.card.image`);
* a folder of card folders (every subfolder is a card; hidden ones, like half-written images, are not);
* a personalization manifest (``manifest.jsonl``, or the perso output folder holding it): its
  personalized cards are checked, and it says which cards the batch must contain.

Sources are streamed, never listed into memory, so a folder of a million dumps costs nothing up front.
Each card becomes a :class:`BatchItem`, keyed by its absolute path (its identity in the results journal).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from cardlib.batch.manifest import PERSO_MANIFEST, latest_entries, read_entries
from cardlib.card.image import MANIFEST as CARD_MANIFEST
from cardlib.card.image import CardImage, foreign_file_name
from cardlib.errors import CardlibError, InputError


@dataclass(frozen=True)
class BatchItem:
    """One card to check: its journal ``key``, a ``label`` for people, and where its files are.

    ``path`` is a card folder; ``files`` (file name → bytes) are a card held in memory instead (generated
    cards, benchmarks).  Items are small and picklable, so they travel to worker processes and clusters.
    """

    key: str
    label: str
    path: str | None = None
    files: Mapping[str, bytes] | None = None

    def load(self) -> CardImage:
        """The card's files (a dump: secrets are never needed to check a card)."""
        if self.files is not None:
            return CardImage(self.files, None, self.label)
        if self.path is None:
            raise CardlibError(f"{self.label}: a batch item needs a path or files")
        card = CardImage.load(Path(self.path))
        return card if card.secrets is None else card.dump()


@dataclass(frozen=True)
class ManifestEntry:
    """A personalized card of a perso manifest: its input row, ID number and card image folder (absolute)."""

    row: int
    id_number: str
    card: Path


def is_card_folder(path: Path) -> bool:
    """True when ``path`` holds a card itself (our ``card.json`` or LDS files named as other tools do)."""
    if (path / CARD_MANIFEST).is_file():
        return True
    with os.scandir(path) as entries:
        return any(entry.is_file() and foreign_file_name(entry.name) for entry in entries)


def manifest_path(source: Path) -> Path | None:
    """The perso manifest ``source`` names (the file, or the perso output folder), or None."""
    if source.is_file() and source.suffix.lower() in (".jsonl", ".ndjson"):
        return source
    if source.is_dir() and (source / PERSO_MANIFEST).is_file():
        return source / PERSO_MANIFEST
    return None


def manifest_entries(manifest: Path) -> Iterator[ManifestEntry]:
    """The personalized cards of a perso manifest, in file order (read by :mod:`cardlib.batch.manifest`:
    rejected rows and a torn last line skipped, a damaged line an InputError naming it)."""
    for _, entry in read_entries(manifest):
        if entry.personalized:
            card = Path(os.path.abspath(manifest.parent / str(entry.card)))
            yield ManifestEntry(entry.row, str(entry.id_number), card)


@dataclass(frozen=True)
class RejectedRow:
    """An input row ``cardtool perso`` rejected (its latest manifest line): ID number, field at fault, why."""

    row: int
    id_number: str
    field: str
    reason: str


def perso_rows(manifest: Path) -> tuple[int, list[RejectedRow]]:
    """How many rows of a perso manifest are personalized, and the rejected ones in row order, each row as its
    latest line says (a row rejected, then corrected and personalized, is personalized).  Read only: a torn
    last line is ignored, never cut."""
    if not manifest.is_file():
        raise InputError("cannot open the perso manifest (no such file)", source=str(manifest))
    latest = latest_entries(manifest)
    rejected = [RejectedRow(entry.row, entry.id_number or "", entry.field or "", entry.reason)
                for entry in latest.values() if not entry.personalized]
    return len(latest) - len(rejected), rejected


def iter_items(source: Path) -> Iterator[BatchItem]:
    """Every card of ``source`` (see the module docstring), streamed."""
    source = Path(source)
    manifest = manifest_path(source)
    if manifest is not None:
        for entry in manifest_entries(manifest):
            yield _item(entry.card)
    elif not source.is_dir():
        raise InputError("not a card folder, a folder of cards or a perso manifest", source=str(source))
    elif is_card_folder(source):
        yield _item(source)
    else:
        for folder in _subfolders(source):
            yield _item(folder)


def count_items(source: Path) -> int:
    """How many cards :func:`iter_items` will give (streams the source once, keeps nothing)."""
    source = Path(source)
    manifest = manifest_path(source)
    if manifest is not None:
        return sum(1 for _ in manifest_entries(manifest))
    if source.is_dir() and not is_card_folder(source):
        return sum(1 for _ in _subfolders(source))
    return 1


def _subfolders(folder: Path) -> Iterator[Path]:
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir() and not entry.name.startswith("."):
                yield Path(entry.path)


def _item(folder: Path) -> BatchItem:
    absolute = os.path.abspath(folder)
    return BatchItem(key=absolute, label=folder.name, path=absolute)


class ExpectedCards:
    """The cards a batch must contain, from a perso manifest: ID number → card image folder, in row order.

    Holds one entry per expected card (a few hundred bytes each: fine for production batches of
    thousands to hundreds of thousands).
    """

    def __init__(self, entries: Mapping[str, ManifestEntry]) -> None:
        self._entries = dict(entries)
        self._folders = {entry.card.name: entry for entry in self._entries.values()}

    @classmethod
    def from_manifest(cls, manifest: Path) -> ExpectedCards:
        """The personalized cards of ``manifest`` (a file or a perso output folder)."""
        path = manifest_path(Path(manifest))
        if path is None:
            raise InputError("not a perso manifest (manifest.jsonl or its folder)", source=str(manifest))
        entries = sorted(manifest_entries(path), key=lambda entry: entry.row)
        return cls({entry.id_number: entry for entry in entries})

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, id_number: object) -> bool:
        return id_number in self._entries

    def get(self, id_number: str) -> ManifestEntry | None:
        """The expected card carrying ``id_number``, or None when the batch has none."""
        return self._entries.get(id_number)

    def of_folder(self, name: str) -> ManifestEntry | None:
        """The expected card whose card image folder is called ``name`` (a dump saved under the same name)."""
        return self._folders.get(name)

    def __iter__(self) -> Iterator[ManifestEntry]:
        return iter(self._entries.values())
