"""A test Extended Access Control PKI: CVCA → document verifier → inspection system, as CV certificates.

For development and tests only: :meth:`EACPKI.save` writes the private keys unencrypted (PKCS#8, mode 0600).
Every certificate grants the read rights for DG3 and DG4, so a terminal with this PKI may read the
fingerprints of a chip that trusts the CVCA.  Keys are ECDSA on brainpoolP256r1 with SHA-256 by default
(id-TA-ECDSA-SHA-256); validity periods follow the usual practice of BSI TR-03110 deployments (CVCA a few
years, DV months, inspection system a month).

Files in the folder::

    cvca.cvcert  cvca.key.pem   the country verifying CA, self-signed (CAR = CHR)
    dv.cvcert    dv.key.pem     an official domestic document verifier, signed by the CVCA
    is.cvcert    is.key.pem     an inspection system (terminal), signed by the DV
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cardlib import curves
from cardlib.errors import CardlibError, PKIError
from cardlib.lds.oids import TA_ECDSA_HASHES, signature_oid
from cardlib.limits import MAX_TRUST_FILE_BYTES, LimitExceeded
from cardlib.pki.cvc.certificate import CertificateBody, CVCertificate
from cardlib.pki.cvc.chain import TrustPoint
from cardlib.pki.cvc.chat import CHAT, AccessRight, Role
from cardlib.pki.cvc.codec import check_reference
from cardlib.pki.cvc.keys import CVPublicKey, cv_signer

ALL_RIGHTS = AccessRight.READ_DG3 | AccessRight.READ_DG4
FILES = ("cvca", "dv", "is")
EAC_CVCA_FILE = "cvca.cvcert"
"""The CVCA certificate in an EAC PKI folder (what a chip is given to trust)."""


@dataclass(frozen=True)
class EACConfig:
    """Names, curve and validity of the test EAC PKI; the defaults are a Vietnamese test country."""

    country: str = "VN"
    curve: str = "brainpoolP256r1"
    hash_name: str = "sha256"
    cvca_mnemonic: str = "TESTCVCA"
    dv_mnemonic: str = "TESTDV"
    is_mnemonic: str = "TESTIS"
    cvca_days: int = 3 * 365
    dv_days: int = 90
    is_days: int = 30
    rights: AccessRight = ALL_RIGHTS

    def reference(self, mnemonic: str, sequence: int = 1) -> str:
        """A CAR/CHR: country code, holder mnemonic, five-digit sequence number."""
        reference = f"{self.country}{mnemonic}{sequence:05d}"
        try:
            check_reference(reference, "reference")
        except CardlibError as error:
            raise PKIError(str(error)) from None
        return reference

    @property
    def algorithm_oid(self) -> str:
        """id-TA-ECDSA-SHA-x for the configured hash."""
        oid = signature_oid(TA_ECDSA_HASHES, self.hash_name)
        if oid is None:
            raise PKIError(f"no id-TA-ECDSA algorithm with {self.hash_name}")
        return oid


@dataclass(frozen=True, repr=False)
class EACPKI:
    """The three certificates and their private keys."""

    cvca: CVCertificate
    cvca_key: ec.EllipticCurvePrivateKey
    dv: CVCertificate
    dv_key: ec.EllipticCurvePrivateKey
    inspection_system: CVCertificate
    is_key: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls, config: EACConfig | None = None, *, today: date | None = None) -> EACPKI:
        """A fresh CVCA, DV and inspection system, all effective from ``today`` (default: today, UTC)."""
        config = config or EACConfig()
        start = today or datetime.now(UTC).date()
        curve = curves.by_name(config.curve).require_crypto_curve()
        keys = [ec.generate_private_key(curve) for _ in FILES]
        cvca_ref = config.reference(config.cvca_mnemonic)
        cvca = _issue(config, cvca_ref, cvca_ref, keys[0], keys[0], Role.CVCA, start, config.cvca_days)
        dv_ref = config.reference(config.dv_mnemonic)
        dv = _issue(config, cvca_ref, dv_ref, keys[1], keys[0], Role.DV_DOMESTIC, start, config.dv_days)
        is_ref = config.reference(config.is_mnemonic)
        terminal = _issue(config, dv_ref, is_ref, keys[2], keys[1], Role.INSPECTION_SYSTEM, start, config.is_days)
        return cls(cvca, keys[0], dv, keys[1], terminal, keys[2])

    @property
    def chain(self) -> list[CVCertificate]:
        """What a terminal presents to a chip trusting the CVCA: the DV and the inspection system certificate."""
        return [self.dv, self.inspection_system]

    @property
    def trust_point(self) -> TrustPoint:
        """The CVCA key as a chip holds it."""
        return TrustPoint.of(self.cvca)

    def terminal_signer(self) -> Callable[[bytes], bytes]:
        """The inspection system's signing function for Terminal Authentication."""
        return cv_signer(self.is_key, self.inspection_system.body.public_key.oid)

    def save(self, directory: Path) -> None:
        """Write the three ``.cvcert`` files and the unencrypted keys (mode 0600) into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        for name, certificate, key in self._items():
            (directory / f"{name}.cvcert").write_bytes(certificate.encode())
            _write_private(directory / f"{name}.key.pem", key)

    @classmethod
    def load(cls, directory: Path) -> EACPKI:
        """Read what :meth:`save` wrote; PKIError naming the file that is missing or corrupt."""
        loaded = [(_read_certificate(directory / f"{name}.cvcert"), _read_key(directory / f"{name}.key.pem"))
                  for name in FILES]
        (cvca, cvca_key), (dv, dv_key), (terminal, is_key) = loaded
        return cls(cvca, cvca_key, dv, dv_key, terminal, is_key)

    def _items(self) -> list[tuple[str, CVCertificate, ec.EllipticCurvePrivateKey]]:
        return [("cvca", self.cvca, self.cvca_key), ("dv", self.dv, self.dv_key),
                ("is", self.inspection_system, self.is_key)]

    def __repr__(self) -> str:
        return f"EACPKI(cvca={self.cvca.chr!r}, dv={self.dv.chr!r}, is={self.inspection_system.chr!r})"


def _issue(config: EACConfig, car: str, chr: str, key: ec.EllipticCurvePrivateKey,
           issuer_key: ec.EllipticCurvePrivateKey, role: Role, start: date, days: int) -> CVCertificate:
    body = CertificateBody(car=car, public_key=CVPublicKey.for_key(key, config.algorithm_oid), chr=chr,
                           chat=CHAT.inspection_system(role, config.rights), effective=start,
                           expiration=start + timedelta(days=days))
    return CVCertificate.issue(body, cv_signer(issuer_key, config.algorithm_oid))


def _write_private(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def _read_certificate(path: Path) -> CVCertificate:
    try:
        return CVCertificate.decode(path.read_bytes())
    except OSError as error:
        raise PKIError(f"{path}: cannot read ({error.strerror})") from error
    except CardlibError as error:
        raise PKIError(f"{path}: {error}") from error


def load_cvca(path: Path) -> CVCertificate:
    """The CVCA certificate a chip is to trust, from a ``.cvcert`` file or an EAC PKI folder (its
    ``cvca.cvcert``; the keys are not needed, so a personalization line never holds them).  PKIError naming the
    file when it is missing, corrupt or not a CVCA certificate; LimitExceeded over MAX_TRUST_FILE_BYTES."""
    path = Path(path)
    if path.is_dir():
        path = path / EAC_CVCA_FILE
    try:
        size = path.stat().st_size
    except OSError as error:
        raise PKIError(f"{path}: cannot read ({error.strerror})") from error
    if size > MAX_TRUST_FILE_BYTES:
        raise LimitExceeded("MAX_TRUST_FILE_BYTES", str(path), MAX_TRUST_FILE_BYTES, size)
    certificate = _read_certificate(path)
    if certificate.role is not Role.CVCA:
        raise PKIError(f"{path}: not a CVCA certificate (its CHAT says {certificate.role.name}); a chip trusts "
                       "a CVCA")
    return certificate


def _read_key(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as error:
        raise PKIError(f"{path}: cannot read ({error.strerror})") from error
    except (ValueError, TypeError) as error:
        raise PKIError(f"{path}: not a PEM private key") from error
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PKIError(f"{path}: not an EC private key")
    return key


__all__ = ["ALL_RIGHTS", "EACPKI", "EAC_CVCA_FILE", "EACConfig", "load_cvca"]
