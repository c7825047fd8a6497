"""Shared fixtures: the public test data beside the project (../shared/data), the session's test PKI and its
trust store, a module's private pcscd."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cardlib.pki.trust import TrustStore
from cardlib.testing.pcscd import PcscdInstance, private_pcscd
from cardlib.testing.pki import TestPKI, sample_pki, sample_trust

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real public eMRTD test files (BSI 2008, LOES 2006, DG2 samples, master lists)."""
    assert SHARED_DATA.is_dir(), f"public test data expected at {SHARED_DATA}"
    return SHARED_DATA


@pytest.fixture(scope="session")
def test_pki() -> TestPKI:
    """The session's test PKI with the CCCD's default profile: :func:`~cardlib.testing.pki.sample_pki`, which
    signs the sample cards.  A test that needs another profile, date or a stranger's PKI generates its own."""
    return sample_pki()


@pytest.fixture(scope="session")
def test_pki_folder(tmp_path_factory: pytest.TempPathFactory, test_pki: TestPKI) -> Path:
    """:func:`test_pki` saved as ``cardtool --pki`` reads it (csca.pem, crl.pem, ds.pem, keys); do not write
    into it (a test that changes a PKI folder saves its own)."""
    folder = tmp_path_factory.mktemp("pki") / "pki"
    test_pki.save(folder)
    return folder


@pytest.fixture(scope="session")
def trust() -> TrustStore:
    """The trust store the sample cards verify against: :func:`test_pki`'s CSCA and CRL."""
    return sample_trust()


@pytest.fixture(scope="module")
def pcscd() -> Iterator[PcscdInstance]:
    """A private pcscd with the vpcd reader, one per test module (every test using it is marked ``pcsc``)."""
    with private_pcscd() as instance:
        yield instance


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
"""Fixtures that start a private pcscd: :func:`pcscd` here, and a module's own that does so is named so too."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``pcsc`` every test using a ``pcscd`` fixture, so ``-m "not pcsc"`` never starts one.

    Tests that start pcscd themselves (``private_pcscd()`` in the test body) carry the mark explicitly.
    """
    for item in items:
        if PCSCD_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.pcsc)
