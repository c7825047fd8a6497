"""An operator's country signing PKI in a folder: create it, sign with it, rotate its Document Signer, issue CRLs.

Keys live either in files (development) or in a PKCS#11 token (production); the folder always holds the
certificates and CRL (``csca.pem``, ``ds.pem``, ``crl.pem``, retired DS certificates under ``archive/``)
and ``pki.json`` (key specs, names, and for a token its label, module and key IDs: never a PIN).  File
keys use :class:`~cardlib.pki.filepki.FilePKI`'s layout, so ``FilePKI.load`` (and ``TestPKI.load``) reads
such a folder.  Certificates and CRLs follow :mod:`cardlib.pki.profile`.

The private key usage period (PKUP) is enforced: a Document Signer whose PKUP has ended (or not begun)
refuses to sign, and a CSCA outside its PKUP refuses to certify a new Document Signer.  Rotation issues
a new DS key and certificate and destroys the old key, whose certificate is archived for revocation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from cardlib.errors import PKIError
from cardlib.lds.signeddata import SODSigner
from cardlib.pki.certificates import Certificate
from cardlib.pki.filepki import FilePKI
from cardlib.pki.hsm import SOFTHSM_MODULE, PinSource, Token, TokenConfig, TokenSigner
from cardlib.pki.profile import (
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

__all__ = ["IssuingAuthority", "TokenPlacement"]

_T = TypeVar("_T")
SETTINGS_FILE = "pki.json"
_PEM = serialization.Encoding.PEM


@dataclass(frozen=True)
class TokenPlacement:
    """Where a token-held PKI keeps its keys: token label and PKCS#11 module (the PIN is supplied on use)."""

    label: str
    module: str = SOFTHSM_MODULE

    def with_pin(self, pin: PinSource) -> TokenConfig:
        """The token configuration for a session, PIN read from ``pin``."""
        return TokenConfig(self.label, pin, self.module)


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).replace(microsecond=0)


def _require_key_usable(certificate: x509.Certificate, now: datetime, what: str) -> None:
    """PKIError unless ``now`` lies in the certificate's private key usage period (and its validity)."""
    wrapped = Certificate.from_cryptography(certificate)
    period = wrapped.private_key_usage_period
    start, end = period if period is not None else (wrapped.not_before, wrapped.not_after)
    subject = wrapped.subject
    if start is not None and now < start:
        raise PKIError(f"{what} {subject}: private key usable only from {start:%Y-%m-%d %H:%M} UTC")
    if end is not None and now > end:
        raise PKIError(f"{what} {subject}: private key usage period ended {end:%Y-%m-%d %H:%M} UTC")
    if not wrapped.valid_at(now):
        raise PKIError(f"{what} {subject}: certificate not valid at {now:%Y-%m-%d}")


class IssuingAuthority:
    """A PKI folder opened for work; with token keys, close it (or use ``with``) to end the token session."""

    def __init__(self, directory: Path, config: PKIConfig, placement: TokenPlacement | None,
                 key_ids: dict[str, str], token: Token | None, file_pki: FilePKI | None) -> None:
        self.directory = directory
        self.config = config
        self.placement = placement
        self._key_ids = key_ids
        self._token = token
        self._file_pki = file_pki

    # --- creation and loading -------------------------------------------------------------------------------

    @classmethod
    def create(cls, directory: Path, config: PKIConfig, *, token: TokenConfig | None = None,
               now: datetime | None = None) -> IssuingAuthority:
        """Create the CSCA, a first Document Signer and CRL number 1 in ``directory`` (refusing to replace one)."""
        if (directory / "csca.pem").exists() or (directory / SETTINGS_FILE).exists():
            raise PKIError(f"{directory} already holds a PKI: refusing to replace its keys")
        start = _now(now)
        if token is None:
            pki = FilePKI.generate(config, now=start)
            pki.save(directory)
            authority = cls(directory, config, None, {}, None, pki)
        else:
            authority = cls._create_in_token(directory, config, token, start)
        authority._write_settings()
        return authority

    @classmethod
    def _create_in_token(cls, directory: Path, config: PKIConfig, token_config: TokenConfig,
                         now: datetime) -> IssuingAuthority:
        token = Token(token_config)
        try:
            csca_key = token.generate_key(config.csca_key, f"CSCA {config.country}")
            ds_key = token.generate_key(config.ds_key, f"Document Signer {now:%Y-%m-%d}")
            csca = issue_csca(config, csca_key, now)
            ds = issue_document_signer(config, csca, csca_key, ds_key.public_key(), now, config.ds_common_name)
            crl = issue_crl(config, csca, csca_key, now, 1, [])
        except PKIError:
            token.close()
            raise
        directory.mkdir(parents=True, exist_ok=True)
        for name, item in (("csca.pem", csca), ("ds.pem", ds), ("crl.pem", crl)):
            (directory / name).write_bytes(item.public_bytes(_PEM))
        placement = TokenPlacement(token_config.label, token_config.module)
        key_ids = {"csca": csca_key.key_id.hex(), "ds": ds_key.key_id.hex()}
        return cls(directory, config, placement, key_ids, token, None)

    @classmethod
    def open(cls, directory: Path, pin: PinSource | None = None) -> IssuingAuthority:
        """Open a PKI folder; a token-held PKI needs ``pin`` and opens a token session.

        A folder written by :meth:`FilePKI.save` alone (no settings file) opens as a file-key PKI.
        """
        if not (directory / SETTINGS_FILE).exists() and (directory / "csca.pem").exists():
            pki = FilePKI.load(directory)
            return cls(directory, pki.config, None, {}, None, pki)
        settings = _read_settings(directory)
        config = PKIConfig(csca_key=KeySpec.parse(settings["csca_key"]), ds_key=KeySpec.parse(settings["ds_key"]),
                           **{key: settings[key] for key in _NAME_FIELDS})
        token_settings = settings.get("token")
        if token_settings is None:
            return cls(directory, config, None, {}, None, FilePKI.load(directory, config))
        if pin is None:
            raise PKIError(f"{directory}: keys are in token {token_settings['label']!r}: give its PIN source")
        placement = TokenPlacement(token_settings["label"], token_settings["module"])
        return cls(directory, config, placement, dict(settings["key_ids"]), Token(placement.with_pin(pin)), None)

    def __enter__(self) -> IssuingAuthority:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the token session, if any (signers obtained from it stop working)."""
        if self._token is not None:
            self._token.close()

    # --- what the folder holds -------------------------------------------------------------------------------

    @property
    def csca_certificate(self) -> x509.Certificate:
        """The CSCA certificate."""
        return _load(self.directory / "csca.pem", x509.load_pem_x509_certificate)

    @property
    def ds_certificate(self) -> x509.Certificate:
        """The current Document Signer certificate."""
        return _load(self.directory / "ds.pem", x509.load_pem_x509_certificate)

    @property
    def crl(self) -> x509.CertificateRevocationList:
        """The latest CRL."""
        return _load(self.directory / "crl.pem", x509.load_pem_x509_crl)

    def issued_certificates(self) -> list[x509.Certificate]:
        """Every Document Signer certificate issued: the archived ones, then the current one."""
        archived = sorted((self.directory / "archive").glob("ds-*.pem"))
        return [*(_load(path, x509.load_pem_x509_certificate) for path in archived), self.ds_certificate]

    # --- operations ----------------------------------------------------------------------------------------

    def document_signer(self, *, now: datetime | None = None) -> SODSigner:
        """The current Document Signer, ready to sign SODs; PKIError if its private key usage period is over."""
        certificate = self.ds_certificate
        try:
            _require_key_usable(certificate, _now(now), "Document Signer")
        except PKIError as error:
            raise PKIError(f"{error}: rotate it (cardtool pki ds rotate)") from error
        if self._token is None:
            assert self._file_pki is not None
            return DocumentSigner(certificate, self._file_pki.ds_key, self.config.ds_key.algorithm)
        key = self._token.key(bytes.fromhex(self._key_ids["ds"]))
        return TokenSigner(certificate, key, self.config.ds_key.algorithm, self._token)

    def rotate_document_signer(self, *, now: datetime | None = None) -> x509.Certificate:
        """Issue a new DS (new key, PKUP from now), archive the old certificate and destroy the old key."""
        at = _now(now)
        csca = self.csca_certificate
        _require_key_usable(csca, at, "CSCA")
        old = self.ds_certificate
        if self._token is None:
            assert self._file_pki is not None
            rotated = self._file_pki.rotate_document_signer(now=at)
            new, new_key = rotated.ds_certificate, rotated.ds_key
        else:
            token_key = self._token.generate_key(self.config.ds_key, f"Document Signer {at:%Y-%m-%d}")
            new = issue_document_signer(self.config, csca, self._csca_key(), token_key.public_key(), at,
                                        self.config.ds_common_name)
        archive = self.directory / "archive"
        archive.mkdir(exist_ok=True)
        (archive / f"ds-{old.serial_number:040x}.pem").write_bytes(old.public_bytes(_PEM))
        (self.directory / "ds.pem").write_bytes(new.public_bytes(_PEM))
        if self._token is None:
            assert self._file_pki is not None
            self._file_pki = replace(self._file_pki, ds_certificate=new, ds_key=new_key)
            self._file_pki.save(self.directory)
        else:
            self._token.destroy_key(bytes.fromhex(self._key_ids["ds"]))
            self._key_ids["ds"] = token_key.key_id.hex()
            self._write_settings()
        return new

    def issue_crl(self, revoke: list[int] | None = None, *, now: datetime | None = None
                  ) -> x509.CertificateRevocationList:
        """The next CRL (number + 1, earlier entries kept, ``revoke`` serials added), written to crl.pem.

        Only certificates this PKI issued can be revoked: an unknown serial is a PKIError (a typo must
        not produce a CRL that revokes nothing).
        """
        known = {certificate.serial_number for certificate in self.issued_certificates()}
        unknown = [serial for serial in revoke or [] if serial not in known]
        if unknown:
            raise PKIError(f"no certificate with serial {', '.join(f'{s:#x}' for s in unknown)} was issued here")
        crl = next_crl(self.config, self.csca_certificate, self._csca_key(), self.crl, revoke or [], _now(now))
        (self.directory / "crl.pem").write_bytes(crl.public_bytes(_PEM))
        if self._file_pki is not None:
            self._file_pki = replace(self._file_pki, crl=crl)
        return crl

    def _csca_key(self) -> SigningKey:
        if self._token is None:
            assert self._file_pki is not None
            return FileKey(self._file_pki.csca_key)
        return self._token.key(bytes.fromhex(self._key_ids["csca"]))

    def _write_settings(self) -> None:
        settings: dict[str, Any] = {
            "csca_key": self.config.csca_key.text, "ds_key": self.config.ds_key.text,
            **{key: getattr(self.config, key) for key in _NAME_FIELDS},
            "token": None if self.placement is None else {"label": self.placement.label,
                                                          "module": self.placement.module},
        }
        if self.placement is not None:
            settings["key_ids"] = self._key_ids
        (self.directory / SETTINGS_FILE).write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")

    def __repr__(self) -> str:
        where = f"token {self.placement.label!r}" if self.placement else "files"
        return f"IssuingAuthority({str(self.directory)!r}, keys in {where})"


_NAME_FIELDS = ("country", "organisation", "csca_common_name", "ds_common_name", "crl_distribution_url")


def _read_settings(directory: Path) -> dict[str, Any]:
    path = directory / SETTINGS_FILE
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise PKIError(f"{path}: cannot read ({error.strerror}); is {directory} a PKI folder?") from error
    except json.JSONDecodeError as error:
        raise PKIError(f"{path}: not valid JSON (line {error.lineno})") from error
    if not isinstance(settings, dict):
        raise PKIError(f"{path}: not a settings object")
    missing = [key for key in ("csca_key", "ds_key", *_NAME_FIELDS) if key not in settings]
    if missing:
        raise PKIError(f"{path}: missing {', '.join(missing)}")
    return settings


def _load(path: Path, loader: Callable[[bytes], _T]) -> _T:
    try:
        return loader(path.read_bytes())
    except OSError as error:
        raise PKIError(f"{path}: cannot read ({error.strerror})") from error
    except ValueError as error:
        raise PKIError(f"{path}: not a valid PEM file") from error
