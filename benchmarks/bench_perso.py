"""Benchmark: personalization with the card image written to disk, against its per-card floor (issue 18).

What an operator pays per card: :func:`cardlib.card.perso.personalize` of a resident whose portrait is already
prepared (360×480), then :meth:`CardImage.save <cardlib.card.image.CardImage.save>` of the image and an fsync
of every file and folder it wrote (``save`` itself does not fsync; a card image that a power cut can lose is
not written, so both sides pay for durability).

The floor is the work no personalization can skip, timed alone over the same cards: generating the chip's AA
and CA keys, hashing its data groups, signing the SOD, and writing and fsyncing the very bytes the card image
holds on disk.  Both sides run interleaved, round by round, on one pinned core (:mod:`benchmarks.interleave`),
each card a distinct resident; the ratio is the median of the per-round ratios, with its spread.

Run with ``python -m benchmarks.bench_perso [--rounds N] [--per-round N] [--dir FOLDER] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import count
from pathlib import Path

from benchmarks.interleave import Rounds, Side, interleaved, pin_one_core, ratio_text, write_json
from cardlib.card.perso import ChipKeys, personalize
from cardlib.card.portrait import normalise_portrait
from cardlib.lds.face import FaceImage
from cardlib.lds.sod import SOD
from cardlib.model.resident import Resident
from cardlib.testing.cards import sample_resident
from cardlib.testing.faces import synthetic_portrait_jpeg
from cardlib.testing.pki import sample_pki

TARGET_RATIO = 0.5


@dataclass(frozen=True)
class PersoItem:
    """One card to make: the resident, the prepared portrait, and what its image holds (for the floor)."""

    resident: Resident
    face: FaceImage
    groups: tuple[bytes, ...]
    signed_attributes: bytes
    written: tuple[tuple[str, bytes], ...]


def items(number: int, scratch: Path) -> list[PersoItem]:
    """``number`` distinct cards, each personalized and saved once here to learn the bytes the floor writes."""
    signer = sample_pki().document_signer
    made = []
    for index in range(number):
        resident, face = sample_resident(index), normalise_portrait(synthetic_portrait_jpeg(index))
        image = personalize(resident, face, signer)
        folder = scratch / f"reference-{index}"
        image.save(folder)
        written = tuple((str(path.relative_to(folder)), path.read_bytes())
                        for path in sorted(folder.rglob("*")) if path.is_file())
        shutil.rmtree(folder)
        groups = tuple(data for name, data in image.files.items() if name.startswith("DG"))
        made.append(PersoItem(resident, face, groups, SOD.decode(image.files["EF.SOD"]).signed_attributes or b"",
                              written))
    return made


def fsync_tree(folder: Path) -> None:
    """fsync every file and folder under ``folder``, then its parent (the rename that made it)."""
    for path in [*sorted(folder.rglob("*")), folder, folder.parent]:
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def write_alone(folder: Path, written: tuple[tuple[str, bytes], ...]) -> None:
    """Write the files of a card image (same names and bytes) into ``folder``: no encoding, no manifest logic."""
    folder.mkdir()
    for name, data in written:
        target = folder / name
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(data)


def measure(cards: list[PersoItem], out: Path, rounds: int, per_round: int) -> Rounds:
    """Interleave the floor and personalize + save + fsync over ``cards``."""
    signer = sample_pki().document_signer
    serial = count()

    def floor(item: PersoItem) -> None:
        ChipKeys.generate()
        for data in item.groups:
            hashlib.sha256(data).digest()
        signer.sign(item.signed_attributes)
        folder = out / f"floor-{next(serial)}"
        write_alone(folder, item.written)
        fsync_tree(folder)

    def cardlib_side(item: PersoItem) -> None:
        folder = out / f"card-{next(serial)}"
        personalize(item.resident, item.face, signer).save(folder)
        fsync_tree(folder)

    return interleaved([Side("floor", floor), Side("personalize+save", cardlib_side)], cards, rounds=rounds,
                       per_round=per_round, between=lambda: _empty(out))


def _empty(folder: Path) -> None:
    for child in folder.iterdir():
        shutil.rmtree(child)


def main(argv: list[str] | None = None) -> int:
    """Measure; non-zero exit when the ratio is below target."""
    parser = argparse.ArgumentParser(prog="bench_perso", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--per-round", type=int, default=30, help="cards per side per round (default 30)")
    parser.add_argument("--cards", type=int, default=60, help="distinct residents cycled through (default 60)")
    parser.add_argument("--dir", type=Path, default=None, help="where to write (a real disk; default: the temp dir)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON (- for standard output)")
    args = parser.parse_args(argv)
    core = pin_one_core()
    with tempfile.TemporaryDirectory(prefix="bench-perso-", dir=args.dir) as temporary:
        out = Path(temporary)
        cards = items(args.cards, out)
        measured = measure(cards, out, args.rounds, args.per_round)
    ratio = measured.ratio("personalize+save", "floor")
    met = ratio[0] >= TARGET_RATIO
    print(f"pinned to core {core}; {args.rounds} interleaved rounds of {args.per_round} distinct cards per side")
    print(f"floor (AA + CA keys, hashes, SOD signature, write + fsync of the image's bytes): "
          f"{measured.rate('floor'):6.1f} cards/s")
    print(f"personalize + save + fsync: {measured.rate('personalize+save'):6.1f} cards/s  ratio {ratio_text(*ratio)} "
          f"(target ≥ {TARGET_RATIO}: {'ok' if met else 'BELOW'})")
    write_json(args.json, {"when": datetime.now(UTC).isoformat(), "core": core, "rates": measured.rates,
                           "ratio": ratio, "target": TARGET_RATIO, "met": met})
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
