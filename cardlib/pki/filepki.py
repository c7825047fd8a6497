"""A country signing PKI whose keys are held in memory and saved as files: CSCA, current Document Signer, CRL.

For development only: :meth:`FilePKI.save` writes private keys unencrypted (mode 0600); production keys
live in a PKCS#11 token (:mod:`cardlib.pki.hsm`).  :mod:`cardlib.pki.operations` keeps a file-key PKI
folder in this layout, and :class:`cardlib.testing.pki.TestPKI` is this class for tests.  Certificates and
CRLs follow :mod:`cardlib.pki.profile`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Self, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cardlib.errors import PKIError
from cardlib.pki.profile import FileKey, KeySpec, PKIConfig, issue_crl, issue_csca, issue_document_signer, next_crl
from cardlib.pki.signatures import DocumentSigner, PrivateKey

__all__ = ["FilePKI"]

_T = TypeVar("_T")


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).replace(microsecond=0)


@dataclass(frozen=True, repr=False)
class FilePKI:
    """A generated CSCA with its key, the current Document Signer with its key, and the CSCA's CRL."""

    config: PKIConfig
    csca_certificate: x509.Certificate
    csca_key: PrivateKey
    ds_certificate: x509.Certificate
    ds_key: PrivateKey
    crl: x509.CertificateRevocationList

    @classmethod
    def generate(cls, config: PKIConfig | None = None, *, now: datetime | None = None) -> Self:
        """Generate the CSCA, one DS and an empty CRL, all valid from ``now`` (default: the current time)."""
        config = config or PKIConfig()
        start = _now(now)
        csca_key = config.csca_key.generate()
        csca = issue_csca(config, FileKey(csca_key), start)
        ds_key = config.ds_key.generate()
        ds = issue_document_signer(config, csca, FileKey(csca_key), ds_key.public_key(), start, config.ds_common_name)
        crl = issue_crl(config, csca, FileKey(csca_key), start, 1, [])
        return cls(config, csca, csca_key, ds, ds_key, crl)

    @property
    def document_signer(self) -> DocumentSigner:
        """The current DS, ready to sign SODs with the DS key spec's algorithm."""
        return DocumentSigner(self.ds_certificate, self.ds_key, self.config.ds_key.algorithm)

    def rotate_document_signer(self, *, now: datetime | None = None, common_name: str | None = None) -> Self:
        """A copy with a freshly issued DS (new key, new serial) as the current one; the old DS stays valid."""
        key = self.config.ds_key.generate()
        name = common_name or self.config.ds_common_name
        certificate = issue_document_signer(self.config, self.csca_certificate, FileKey(self.csca_key),
                                            key.public_key(), _now(now), name)
        return replace(self, ds_certificate=certificate, ds_key=key)

    def revoke(self, certificate: x509.Certificate, *, now: datetime | None = None) -> Self:
        """A copy whose new CRL (next CRL number) adds ``certificate`` to those already revoked."""
        crl = next_crl(self.config, self.csca_certificate, FileKey(self.csca_key), self.crl,
                       [certificate.serial_number], _now(now))
        return replace(self, crl=crl)

    def save(self, directory: Path) -> None:
        """Write csca.pem, csca.key.pem, ds.pem, ds.key.pem, crl.pem; keys as unencrypted PKCS#8, mode 0600.

        Unencrypted keys on disk are acceptable only for development and tests.
        """
        directory.mkdir(parents=True, exist_ok=True)
        pem = serialization.Encoding.PEM
        (directory / "csca.pem").write_bytes(self.csca_certificate.public_bytes(pem))
        (directory / "ds.pem").write_bytes(self.ds_certificate.public_bytes(pem))
        (directory / "crl.pem").write_bytes(self.crl.public_bytes(pem))
        for name, key in (("csca.key.pem", self.csca_key), ("ds.key.pem", self.ds_key)):
            _write_private(directory / name, key)

    @classmethod
    def load(cls, directory: Path, config: PKIConfig | None = None) -> Self:
        """Read what :meth:`save` wrote; PKIError naming the file that is missing or corrupt."""
        csca = _read(directory / "csca.pem", x509.load_pem_x509_certificate)
        ds = _read(directory / "ds.pem", x509.load_pem_x509_certificate)
        crl = _read(directory / "crl.pem", x509.load_pem_x509_crl)
        csca_key = _read_key(directory / "csca.key.pem")
        ds_key = _read_key(directory / "ds.key.pem")
        config = config or PKIConfig(csca_key=_spec_of(csca_key), ds_key=_spec_of(ds_key))
        return cls(config, csca, csca_key, ds, ds_key, crl)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(csca={self.csca_certificate.subject.rfc4514_string()!r}, "
                f"ds={self.ds_certificate.subject.rfc4514_string()!r})")


def _write_private(path: Path, key: PrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def _read(path: Path, loader: Callable[[bytes], _T]) -> _T:
    try:
        return loader(path.read_bytes())
    except OSError as error:
        raise PKIError(f"{path}: cannot read ({error.strerror})") from error
    except (ValueError, TypeError, x509.InvalidVersion) as error:
        raise PKIError(f"{path}: not a valid PEM file") from error


def _spec_of(key: PrivateKey) -> KeySpec:
    """The key spec a saved key was made with: ECDSA with the hash matching the curve size, RSA with PSS/SHA-256."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        bits = key.curve.key_size
        return KeySpec.ec(key.curve.name, "sha256" if bits <= 256 else "sha384" if bits <= 384 else "sha512")
    return KeySpec.rsa(key.key_size, "sha256")


def _read_key(path: Path) -> PrivateKey:
    key = _read(path, lambda data: serialization.load_pem_private_key(data, password=None))
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise PKIError(f"{path}: not an EC or RSA private key")
    return key
