"""Batch-level QA: every card of the manifest accounted for, once, and holding what was meant to be on it.

Findings are failed checks added to the card's outcome, named like the verifier's checks:

* ``batch.duplicate`` — a card whose ID number was already seen in this batch;
* ``batch.unexpected`` — a card whose ID number the perso manifest does not list;
* ``batch.data`` — a card whose files differ from its card image (each differing file named).

A card that could not be read (verdict ``error``, check ``read``) but whose card folder is one the manifest
lists is that manifest card, unreadable: it gets the manifest's ID number (``manifest_id``) and is never also
counted missing.  :data:`CHECK_WORDS` says what each of these checks means, in Vietnamese and English.

Cards of the manifest never seen are listed by :meth:`BatchAccounting.missing` when the run ends.  The
accounting keeps one 8-byte digest per ID number seen; a resumed run rebuilds it from the journal.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path

from cardlib.batch.checking import CheckedCard
from cardlib.batch.journal import key_digest
from cardlib.batch.outcome import READ, CardOutcome
from cardlib.batch.sources import ExpectedCards, ManifestEntry
from cardlib.card.image import MANIFEST as CARD_MANIFEST

DUPLICATE = "batch.duplicate"
UNEXPECTED = "batch.unexpected"
DATA = "batch.data"

CHECK_WORDS: Mapping[str, tuple[str, str]] = {
    READ: ("Thẻ không đọc được", "Card unreadable"),
    DUPLICATE: ("Số định danh trùng với một thẻ khác trong lô", "ID number already on another card of this batch"),
    UNEXPECTED: ("Thẻ không có trong danh sách cá thể hóa của lô", "Card not in the batch's perso manifest"),
    DATA: ("Dữ liệu trên chip khác với dữ liệu đã cá thể hóa", "Data on the chip differs from what was personalized"),
}
"""What each batch-level check (and the unreadable card's ``read``) means when it fails: (Vietnamese, English)."""


class BatchAccounting:
    """Adds batch findings to each card's outcome, in the order results arrive, and finds the missing cards."""

    def __init__(self, expected: ExpectedCards | None = None) -> None:
        self.expected = expected
        self._seen: set[int] = set()

    def restore(self, outcome: CardOutcome) -> None:
        """Count a card an earlier run of the same batch already recorded."""
        if outcome.batch_id:
            self._seen.add(key_digest(outcome.batch_id))

    def has_seen(self, id_number: str) -> bool:
        """True when a card carrying ``id_number`` has been counted."""
        return key_digest(id_number) in self._seen

    def settle(self, checked: CheckedCard) -> CardOutcome:
        """The card's outcome with its batch findings."""
        outcome = checked.outcome
        id_number = outcome.id_number
        if not id_number:
            return self._unreadable(outcome)
        findings: dict[str, str] = {}
        digest = key_digest(id_number)
        if digest in self._seen:
            findings[DUPLICATE] = f"ID number {id_number} already seen on another card of this batch"
        self._seen.add(digest)
        if self.expected is not None:
            entry = self.expected.get(id_number)
            if entry is None:
                findings[UNEXPECTED] = f"ID number {id_number} is not in the batch manifest"
            elif checked.file_hashes and Path(outcome.key) != entry.card:
                differing = differing_files(checked.file_hashes, entry, checked.protected)
                if differing:
                    findings[DATA] = f"differs from its card image {entry.card.name}: {', '.join(differing)}"
        return outcome.with_findings(findings)

    def _unreadable(self, outcome: CardOutcome) -> CardOutcome:
        """A card without an ID number: when its folder is a manifest card's, that card, counted as seen."""
        if self.expected is None:
            return outcome
        entry = self.expected.of_folder(Path(outcome.key).name)
        if entry is None:
            return outcome
        self._seen.add(key_digest(entry.id_number))
        return replace(outcome, manifest_id=entry.id_number)

    def missing(self) -> Iterator[ManifestEntry]:
        """The cards of the manifest no outcome has carried (empty without a manifest)."""
        if self.expected is None:
            return
        for entry in self.expected:
            if key_digest(entry.id_number) not in self._seen:
                yield entry


def differing_files(hashes: Mapping[str, str], entry: ManifestEntry, protected: frozenset[str]) -> list[str]:
    """Names of the files whose content differs from the card image's (missing or extra ones included)."""
    try:
        meant: dict[str, str] = json.loads((entry.card / CARD_MANIFEST).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return [f"card image {entry.card} unreadable"]
    names = sorted(set(meant) | set(hashes))
    return [
        name if name in hashes and name in meant else f"{name} ({'not read' if name in meant else 'not meant'})"
        for name in names
        if hashes.get(name) != meant.get(name) and not (name in protected and name not in hashes)
    ]
