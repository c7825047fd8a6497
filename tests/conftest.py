"""Shared fixtures: the public test data beside the project (../shared/data)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real public eMRTD test files (BSI 2008, LOES 2006, DG2 samples, master lists)."""
    assert SHARED_DATA.is_dir(), f"public test data expected at {SHARED_DATA}"
    return SHARED_DATA


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 KiB tmpfs (root mounts it): too small for a card image, full after a few dozen journal lines."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


PCSCD_FIXTURES = frozenset({"pcscd"})
"""Module fixtures that start a private pcscd (test modules name theirs so)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``pcsc`` every test using a ``pcscd`` fixture, so ``-m "not pcsc"`` never starts one.

    Tests that start pcscd themselves (``private_pcscd()`` in the test body) carry the mark explicitly.
    """
    for item in items:
        if PCSCD_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.pcsc)
