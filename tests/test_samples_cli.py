"""The sample writers' command line: ``python -m cardlib.testing.faces DIR`` and ``… .fingers DIR``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("module", ["cardlib.testing.faces", "cardlib.testing.fingers"])
def test_help_and_a_missing_folder_write_nothing(module: str, tmp_path: Path) -> None:
    shown = subprocess.run([sys.executable, "-m", module, "--help"], cwd=tmp_path, capture_output=True, text=True,
                           timeout=60)
    assert shown.returncode == 0 and "DIR" in shown.stdout
    missing = subprocess.run([sys.executable, "-m", module], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "required: DIR" in missing.stderr and "Traceback" not in missing.stderr
    assert list(tmp_path.iterdir()) == []  # "--help" used to become a folder of samples


def test_the_fingers_are_written_into_the_folder_given(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "cardlib.testing.fingers", str(tmp_path / "out")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    written = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert written[:2] == ["r01-left-index.wsq", "r01-right-index.wsq"]
    assert len(done.stdout.splitlines()) == len(written)
