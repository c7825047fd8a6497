"""The README's library example runs as printed and says what it promises."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_library_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = re.search(r"## Use it as a library\n+```python\n(.*?)```", readme, re.S)
    assert example is not None, "the README lost its library example"
    code = example.group(1)
    assert len([line for line in code.splitlines() if line.strip() and not line.startswith(("from", "import"))]) <= 10
    shutil.copytree(ROOT / "tools" / "cardtool" / "samples", tmp_path / "tools" / "cardtool" / "samples")
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        exec(compile(code, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    assert capsys.readouterr().out.startswith("valid - VALID")
    assert (tmp_path / "card-001" / "card.json").is_file()
