"""The test country-signing PKI: a freshly generated CSCA, Document Signer and CRL for tests and demos.

For development and tests only: :meth:`TestPKI.save` writes private keys unencrypted (mode 0600).  The
certificate profile itself (key specs, extensions, validity rules) is production code and lives in
:mod:`cardlib.pki.profile`; its names are re-exported here so test code keeps one import.
"""

from __future__ import annotations

from dataclasses import dataclass

from cardlib.pki.filepki import FilePKI
from cardlib.pki.profile import (
    CertificatePublicKey,
    DocumentTypeListSyntax,
    FileKey,
    KeySpec,
    PKIConfig,
    SigningKey,
    issue_crl,
    issue_csca,
    issue_document_signer,
    next_crl,
)
from cardlib.pki.signatures import DocumentSigner

__all__ = ["CertificatePublicKey", "DocumentSigner", "DocumentTypeListSyntax", "FileKey", "KeySpec", "PKIConfig",
           "SigningKey", "TestPKI", "issue_crl", "issue_csca", "issue_document_signer", "next_crl"]


@dataclass(frozen=True, repr=False)
class TestPKI(FilePKI):
    """A :class:`~cardlib.pki.filepki.FilePKI` for tests: ``TestPKI.generate()`` gives the CCCD's default profile."""

    __test__ = False  # not a pytest test class, despite the name
