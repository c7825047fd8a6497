"""The command line of the sample writers: ``python -m cardlib.testing.faces DIR`` and ``… .fingers DIR``."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path


def write_samples_command(argv: Sequence[str] | None, write_samples: Callable[[Path], list[Path]],
                          what: str) -> int:
    """Parse ``DIR`` from ``argv``, write the samples there with ``write_samples`` and list them with their sizes."""
    parser = argparse.ArgumentParser(description=f"Write the sample residents' synthetic {what} into DIR.")
    parser.add_argument("directory", type=Path, metavar="DIR", help="folder to write (created if missing)")
    args = parser.parse_args(argv)
    for written in write_samples(args.directory):
        print(written, written.stat().st_size)
    return 0


__all__ = ["write_samples_command"]
