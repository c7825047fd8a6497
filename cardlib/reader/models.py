"""Remembering, per chip model, the read path that worked, so the next card of that model takes it first.

On an encoding line or at a counter, card after card is of the same model; what the reader learnt on the
first one (no extended length, the largest read size, SELECT instead of short file identifiers, P2=04,
how the chip counts plain answers in the send sequence counter) spares every later card the refused
commands.  A model is recognised by what a chip shows before any secret is used: its ATR and its
EF.CardAccess (the bytes, or the status word it was refused with), hashed.  Nothing personal is kept.

The memory is a small JSON file an operator can delete at any time (the reader then learns again).  It
holds at most :data:`~cardlib.limits.MAX_CHIP_MODELS` models, the least recently used forgotten first; a
damaged or oversized file is ignored and replaced at the next write, never an error for the read.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from cardlib.limits import MAX_CHIP_MODELS

_BYTES_PER_ENTRY = 256  # one model's JSON line, generously: the file bound follows from MAX_CHIP_MODELS
_VERSION = 1


@dataclass(frozen=True)
class ReadPath:
    """What worked for a chip model: extended length, the read size, SFIs, SELECT's P2, plain-answer SSC steps."""

    extended: bool
    read_size: int
    sfi: bool
    select_p2: int
    plain_ssc_steps: int

    @classmethod
    def from_json(cls, value: object) -> ReadPath | None:
        """The path stored as ``value``, or None when it is not one (a damaged or foreign entry)."""
        if not isinstance(value, dict) or set(value) != set(cls.__dataclass_fields__):
            return None
        try:
            path = cls(bool(value["extended"]), int(value["read_size"]), bool(value["sfi"]),
                       int(value["select_p2"]), int(value["plain_ssc_steps"]))
        except (TypeError, ValueError):
            return None
        plausible = (16 <= path.read_size <= 0xFF00 and path.select_p2 in (0x04, 0x0C)
                     and 0 <= path.plain_ssc_steps <= 2)
        return path if plausible else None


def model_id(atr: bytes, card_access: bytes | None, refusal: int | None) -> str:
    """The model a chip belongs to: a hash of its ATR and its EF.CardAccess (or how it refused it)."""
    digest = hashlib.sha256()
    for part in (atr, card_access or b"", (refusal or 0).to_bytes(2, "big")):
        digest.update(len(part).to_bytes(4, "big") + part)
    return digest.hexdigest()[:32]


class ChipModels:
    """The memory file at ``path``: :meth:`recall` a model's read path, :meth:`remember` one that worked."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def recall(self, model: str) -> ReadPath | None:
        """The read path that worked for ``model``, or None when it is unknown (or the file is unusable)."""
        return ReadPath.from_json(self._load().get(model))

    def remember(self, model: str, path: ReadPath) -> None:
        """Keep ``path`` for ``model`` (most recent last), forgetting the oldest beyond MAX_CHIP_MODELS.

        Written to a temporary file then renamed, so a reader never sees half a file; an unwritable
        location (read-only, full disk) leaves the memory as it was.
        """
        models = {key: value for key, value in self._load().items() if key != model}
        models[model] = asdict(path)
        kept = dict(list(models.items())[-MAX_CHIP_MODELS:])
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".chip-models-")
        except OSError:
            return
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump({"version": _VERSION, "models": kept}, handle, indent=0)
            os.replace(temporary, self.path)
        except OSError:
            Path(temporary).unlink(missing_ok=True)

    def _load(self) -> dict[str, object]:
        try:
            if self.path.stat().st_size > MAX_CHIP_MODELS * _BYTES_PER_ENTRY:
                return {}
            content = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(content, dict) or content.get("version") != _VERSION:
            return {}
        models = content.get("models")
        return dict(models) if isinstance(models, dict) else {}
