"""The README's library example runs as printed from any folder, passes mypy --strict, and says what it promises."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import cardlib

ROOT = Path(__file__).resolve().parents[1]
MYPY = Path(sys.executable).with_name("mypy")


def _example() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = re.search(r"## Use it as a library\n+```python\n(.*?)```", readme, re.S)
    assert example is not None, "the README lost its library example"
    return example.group(1)


def test_library_example_is_ten_lines() -> None:
    code = _example()
    statements = [line for line in code.splitlines() if line.strip() and not line.startswith(("from", "import"))]
    assert len(statements) <= 10


def test_library_example_runs_from_an_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "example.py").write_text(_example(), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": ""}  # the installed package, not the checkout
    done = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    verdict, holder = done.stdout.splitlines()
    assert verdict.startswith("valid - VALID")
    assert holder == "Nguyễn Thị Thu Hương 1990-07-02"
    assert (tmp_path / "card-001" / "card.json").is_file() and (tmp_path / "pki" / "csca.pem").is_file()


@pytest.mark.slow  # over 5 s here
def test_library_example_passes_mypy_strict(tmp_path: Path) -> None:
    (tmp_path / "example.py").write_text(_example(), encoding="utf-8")
    # The editable install imports cardlib through an import hook mypy cannot follow: point it at the folder
    # the installed package is loaded from, and keep cardlib's own diagnostics silent as mypy does for an
    # installed package (its py.typed types are used, its dependencies' missing stubs are not our example's).
    (tmp_path / "mypy.ini").write_text("[mypy]\nstrict = True\n[mypy-cardlib.*]\nfollow_imports = silent\n",
                                       encoding="utf-8")
    env = {**os.environ, "MYPYPATH": str(Path(cardlib.__file__).resolve().parents[1])}
    done = subprocess.run([str(MYPY), "--strict", "--config-file", "mypy.ini", "--cache-dir", "cache", "example.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
