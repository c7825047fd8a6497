"""Output folders of the commands: a file where a folder is wanted, or a folder the system will not make,
is said in one line naming it (no traceback)."""

from __future__ import annotations

from pathlib import Path

from cardlib.errors import CardlibError


def check_output_folder(folder: Path, option: str) -> None:
    """CardlibError when ``folder`` exists and is not a folder (``option`` names where it was given)."""
    if folder.exists() and not folder.is_dir():
        raise CardlibError(f"{option} {folder} is a file: give a folder (it is created, or reused)")


def make_folder(folder: Path) -> None:
    """Create ``folder`` (and its parents); CardlibError saying why when the system refuses."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CardlibError(f"cannot make the folder {folder}: {exc.strerror or type(exc).__name__}") from None
