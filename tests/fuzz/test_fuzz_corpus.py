"""Replay of the fuzzing regression corpus: every input that once made a decoder escape its typed errors.

``tests/fuzz/corpus/<target>/*.bin`` holds the inputs the long runs (``python -m benchmarks.fuzz``) found; each
was fixed in the library and must now give a result or a cardlib error only.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz_targets import CORPUS, TARGETS, run_one

CASES = sorted(CORPUS.glob("*/*.bin"))


def test_every_corpus_folder_is_a_known_target() -> None:
    assert CASES, "the regression corpus is empty"
    assert {path.parent.name for path in CASES} <= set(TARGETS)


@pytest.mark.parametrize("path", CASES, ids=lambda path: f"{path.parent.name}/{path.stem[:12]}")
def test_corpus_input_gives_only_cardlib_errors(path: Path) -> None:
    assert run_one(TARGETS[path.parent.name], path.read_bytes()) is None
