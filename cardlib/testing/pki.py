"""The test country-signing PKI: a freshly generated CSCA, Document Signer and CRL for tests and demos.

For development and tests only: :meth:`TestPKI.save` writes private keys unencrypted (mode 0600).  The
certificate profile itself (key specs, extensions, validity rules) is production code and lives in
:mod:`cardlib.pki.profile`; import its names from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from cardlib.pki.certificates import Certificate, RevocationList
from cardlib.pki.filepki import FilePKI
from cardlib.pki.trust import TrustStore


@dataclass(frozen=True, repr=False)
class TestPKI(FilePKI):
    """A :class:`~cardlib.pki.filepki.FilePKI` for tests: ``TestPKI.generate()`` gives the CCCD's default profile."""

    __test__ = False  # not a pytest test class, despite the name


@cache
def sample_pki() -> TestPKI:
    """One test PKI per process (generating brainpoolP512r1 keys is the slow part of a test card)."""
    return TestPKI.generate()


@cache
def sample_trust() -> TrustStore:
    """The trust store the sample cards verify against: :func:`sample_pki`'s CSCA and its CRL."""
    pki = sample_pki()
    return TrustStore([Certificate.from_cryptography(pki.csca_certificate)],
                      [RevocationList.from_cryptography(pki.crl)])
