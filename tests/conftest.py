"""Shared fixtures: the public test data beside the project (../shared/data)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real public eMRTD test files (BSI 2008, LOES 2006, DG2 samples, master lists)."""
    assert SHARED_DATA.is_dir(), f"public test data expected at {SHARED_DATA}"
    return SHARED_DATA
