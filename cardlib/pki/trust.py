"""The verifier's trust store: CSCA certificates, their CRLs and ICAO master lists, and DS chain validation.

A Document Signer is judged by named checks (ICAO 9303-11 §5 / 9303-12): its CSCA is found, the CSCA's
signature on it verifies, both are valid at the given time, the DS may sign documents, countries match,
and the CSCA's current CRL does not list it.  Each check passes, fails, or cannot tell (``None``); only
a chain where every check passed is valid, so missing evidence never counts as success.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from asn1crypto import x509 as asn1_x509

from cardlib.errors import PKIError
from cardlib.pki.certificates import Certificate, RevocationList, pem_blocks
from cardlib.pki.masterlist import LoadIssue, MasterList

__all__ = ["ChainValidation", "Check", "LoadIssue", "TrustStore", "has_key_usage_extension", "key_usage_check"]

_SIGNED_DATA_OID_DER = bytes.fromhex("06092a864886f70d010702")
_MASTER_LIST_SUFFIXES = (".ml", ".p7b", ".p7m", ".p7c")
_MAX_LINKS = 4

ISSUER_FOUND = "issuer CSCA found"
DS_SIGNATURE = "DS signature by CSCA"
DS_VALIDITY = "DS valid at time"
CSCA_VALIDITY = "CSCA valid at time"
DS_KEY_USAGE = "DS key usage digitalSignature"
COUNTRY = "DS country equals CSCA country"
CSCA_CHAIN = "CSCA self-signed or linked"
CRL_PRESENT = "CRL from CSCA present"
CRL_SIGNATURE = "CRL signature by CSCA"
CRL_CURRENT = "CRL current at time"
NOT_REVOKED = "DS not revoked"


@dataclass(frozen=True)
class Check:
    """One named check: ``passed`` is True, False, or None when the evidence to decide is missing."""

    name: str
    passed: bool | None
    reason: str


@dataclass(frozen=True)
class ChainValidation:
    """The outcome of validating a Document Signer certificate against the trust store."""

    document_signer: Certificate
    csca: Certificate | None
    checks: tuple[Check, ...]

    @property
    def valid(self) -> bool:
        """True only when every check passed (a check that cannot tell makes the chain not valid)."""
        return all(check.passed is True for check in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        """The checks that failed outright."""
        return tuple(check for check in self.checks if check.passed is False)

    def check(self, name: str) -> Check:
        """The check called ``name``; PKIError if no such check was made."""
        for check in self.checks:
            if check.name == name:
                return check
        raise PKIError(f"no check named {name!r}")


# Outcomes of signature checks, keyed by the exact bytes of signed object and issuer.  A batch verifies
# thousands of cards under the same Document Signer: its certificate and the CRL are checked once.
_VERIFIED: dict[tuple[bytes, bytes], bool | None] = {}
_VERIFIED_LIMIT = 4096


def _verifies(certificate: Certificate | RevocationList, issuer: Certificate) -> bool | None:
    """Whether ``issuer`` signed it; None when the signature cannot be checked (unsupported algorithm/key)."""
    key = (certificate.der, issuer.der)
    if key not in _VERIFIED:
        if len(_VERIFIED) >= _VERIFIED_LIMIT:
            _VERIFIED.clear()
        try:
            _VERIFIED[key] = certificate.verify_issued_by(issuer)
        except PKIError:
            _VERIFIED[key] = None
    return _VERIFIED[key]


def has_key_usage_extension(certificate: Certificate) -> bool:
    """Whether the certificate has a keyUsage extension at all (an empty ``key_usage`` does not tell)."""
    return _has_key_usage(certificate.der)


@lru_cache(maxsize=256)
def _has_key_usage(der: bytes) -> bool:
    return asn1_x509.Certificate.load(der).key_usage_value is not None


KEY_USAGE_MISSING = "no key usage extension: the key is unrestricted (RFC 5280 §4.2.1.3), ICAO 9303-12 requires one"


def key_usage_check(ds: Certificate) -> Check:
    """DS key usage: passes with digitalSignature, fails without it, cannot tell when the extension is missing.

    RFC 5280 leaves a key without the extension unrestricted, so its absence is no proof of misuse; ICAO
    9303-12 still requires the extension.  A verifier decides what that is worth (``passed`` None).
    """
    if not has_key_usage_extension(ds):
        return Check(DS_KEY_USAGE, None, KEY_USAGE_MISSING)
    return Check(DS_KEY_USAGE, "digital_signature" in ds.key_usage, f"key usage {sorted(ds.key_usage)}")


def _is_ca(certificate: Certificate) -> bool:
    return certificate.is_ca or "key_cert_sign" in certificate.key_usage


class TrustStore:
    """CSCA certificates (trust anchors, link certificates included), CRLs, and what loading reported."""

    def __init__(
        self,
        cscas: Iterable[Certificate] = (),
        crls: Iterable[RevocationList] = (),
        master_lists: Iterable[MasterList] = (),
        load_report: Iterable[LoadIssue] = (),
    ) -> None:
        self.master_lists = tuple(master_lists)
        self.crls = tuple(crls)
        self.load_report = tuple(load_report)
        unique = {certificate.der: certificate for certificate in cscas}
        for master_list in self.master_lists:
            if master_list.trusted:
                unique.update((certificate.der, certificate) for certificate in master_list.certificates)
        self.cscas = tuple(unique.values())

    @classmethod
    def load(cls, *paths: Path | str) -> TrustStore:
        """Load files and folders (searched recursively) of PEM/DER certificates, CRLs and master lists.

        Unreadable paths raise PKIError.  Items that cannot be used — a certificate that does not parse,
        a key on an unsupported curve, a master list whose signature fails, a non-CA certificate, a
        private key — are listed in ``load_report`` and not trusted.
        """
        loader = _Loader()
        for path in map(Path, paths):
            if not path.exists():
                raise PKIError(f"{path}: no such file or folder")
            for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
                if file.is_file():
                    loader.load_file(file)
        return cls(loader.cscas, loader.crls, loader.master_lists, loader.issues)

    def issuers_of(self, certificate: Certificate) -> list[Certificate]:
        """CSCAs that may have issued ``certificate``: by AKI = SKI first, then by issuer name; self-signed first."""
        by_key = [c for c in self.cscas if certificate.authority_key_identifier is not None
                  and c.subject_key_identifier == certificate.authority_key_identifier]
        by_name = [c for c in self.cscas if c.subject_name == certificate.issuer_name and c not in by_key]
        return sorted(by_key, key=lambda c: not c.is_self_issued) + by_name

    def crls_of(self, csca: Certificate) -> list[RevocationList]:
        """CRLs naming ``csca`` as issuer (by AKI when present, else by name), newest first."""
        def from_csca(crl: RevocationList) -> bool:
            if crl.authority_key_identifier is not None:
                return crl.authority_key_identifier == csca.subject_key_identifier
            return bool(crl.issuer_name == csca.subject_name)
        return sorted((crl for crl in self.crls if from_csca(crl)), key=lambda crl: crl.this_update, reverse=True)

    def validate_document_signer(self, ds: Certificate, at: datetime) -> ChainValidation:
        """Run every DS check at time ``at`` (timezone-aware) and return them all, passed or not."""
        if at.tzinfo is None:
            raise PKIError("validation time must be timezone-aware")
        csca, issuer_checks = self._issuer_checks(ds)
        checks = [*issuer_checks,
                  Check(DS_VALIDITY, ds.valid_at(at), f"DS valid {ds.not_before} to {ds.not_after}"),
                  key_usage_check(ds)]
        if csca is None:
            checks += [Check(name, None, "no issuing CSCA") for name in
                       (CSCA_VALIDITY, COUNTRY, CSCA_CHAIN, CRL_PRESENT, CRL_SIGNATURE, CRL_CURRENT, NOT_REVOKED)]
            return ChainValidation(ds, None, tuple(checks))
        checks += [
            Check(CSCA_VALIDITY, csca.valid_at(at), f"CSCA valid {csca.not_before} to {csca.not_after}"),
            Check(COUNTRY, ds.country is not None and ds.country == csca.country,
                  f"DS country {ds.country}, CSCA country {csca.country}"),
            self._chain_check(csca),
            *self._revocation_checks(ds, csca, at),
        ]
        return ChainValidation(ds, csca, tuple(checks))

    def _issuer_checks(self, ds: Certificate) -> tuple[Certificate | None, list[Check]]:
        candidates = self.issuers_of(ds)
        if not candidates:
            reason = "no CSCA in the trust store with the DS's AKI or issuer name: cannot tell"
            return None, [Check(ISSUER_FOUND, None, reason), Check(DS_SIGNATURE, None, "no issuing CSCA")]
        outcomes = [(candidate, _verifies(ds, candidate)) for candidate in candidates]
        csca, verified = next(((c, v) for c, v in outcomes if v), outcomes[0])
        found = Check(ISSUER_FOUND, True, f"{csca.subject} (serial {csca.serial_number:#x})")
        reason = {True: "verifies", False: "does not verify under any candidate CSCA",
                  None: "cannot be checked (unsupported algorithm or key)"}[verified]
        return csca, [found, Check(DS_SIGNATURE, verified, reason)]

    def _chain_check(self, csca: Certificate) -> Check:
        """A self-signed CSCA passes; a link certificate passes when its links lead to a self-signed CSCA."""
        path = [csca.subject]
        current = csca
        for _ in range(_MAX_LINKS):
            if current.is_self_issued and _verifies(current, current):
                return Check(CSCA_CHAIN, True, " <- ".join(path))
            parent = next((c for c in self.issuers_of(current) if c != current and _verifies(current, c)), None)
            if parent is None:
                return Check(CSCA_CHAIN, False, f"link certificate {current.subject} issued by no trusted CSCA")
            path.append(parent.subject)
            current = parent
        return Check(CSCA_CHAIN, False, f"more than {_MAX_LINKS} link certificates")

    def _revocation_checks(self, ds: Certificate, csca: Certificate, at: datetime) -> list[Check]:
        crls = self.crls_of(csca)
        if not crls:
            reason = "no CRL from this CSCA: revocation cannot be checked"
            return [Check(name, None, reason) for name in (CRL_PRESENT, CRL_SIGNATURE, CRL_CURRENT, NOT_REVOKED)]
        outcomes = [(crl, _verifies(crl, csca)) for crl in crls]
        crl, verified = next(((c, v) for c, v in outcomes if v), outcomes[0])
        current = crl.this_update <= at and crl.next_update is not None and at <= crl.next_update
        revoked = ds.serial_number in crl.revoked_serials
        return [
            Check(CRL_PRESENT, True, f"CRL number {crl.crl_number}, issued {crl.this_update}"),
            Check(CRL_SIGNATURE, verified, "verifies" if verified else "does not verify or cannot be checked"),
            Check(CRL_CURRENT, current, f"CRL valid {crl.this_update} to {crl.next_update}"),
            Check(NOT_REVOKED, not revoked if verified else None,
                  ("serial listed as revoked" if revoked else "serial not listed") if verified
                  else "CRL not trustworthy: cannot tell"),
        ]


class _Loader:
    """Collects what the files of a trust store hold, and what could not be used."""

    def __init__(self) -> None:
        self.cscas: list[Certificate] = []
        self.crls: list[RevocationList] = []
        self.master_lists: list[MasterList] = []
        self.issues: list[LoadIssue] = []

    def load_file(self, path: Path) -> None:
        try:
            data = path.read_bytes()
        except OSError as error:
            raise PKIError(f"{path}: cannot read ({error.strerror})") from error
        source = str(path)
        try:
            for kind, der in self._items(data, path):
                self._add(kind, der, source)
        except PKIError as error:
            self.issues.append(LoadIssue(source, str(error)))

    @staticmethod
    def _items(data: bytes, path: Path) -> Iterator[tuple[str, bytes]]:
        if data.lstrip().startswith(b"-----BEGIN"):
            yield from pem_blocks(data)
        elif path.suffix.lower() in _MASTER_LIST_SUFFIXES or _SIGNED_DATA_OID_DER in data[:32]:
            yield "CMS", data
        else:
            yield "DER", data

    def _add(self, kind: str, der: bytes, source: str) -> None:
        if kind in ("CMS", "PKCS7"):
            self._add_master_list(MasterList.parse(der, source))
        elif kind == "CERTIFICATE":
            self._add_certificate(Certificate.from_der(der), source)
        elif kind == "X509 CRL":
            self.crls.append(RevocationList.from_der(der))
        elif kind == "DER":
            self._add_der(der, source)
        else:
            self.issues.append(LoadIssue(source, f"PEM block {kind!r} ignored"))

    def _add_der(self, der: bytes, source: str) -> None:
        try:
            certificate = Certificate.from_der(der)
        except PKIError:
            try:
                self.crls.append(RevocationList.from_der(der))
            except PKIError as error:
                raise PKIError("neither a certificate, a CRL nor a master list") from error
            return
        self._add_certificate(certificate, source)

    def _add_certificate(self, certificate: Certificate, source: str) -> None:
        if not _is_ca(certificate):
            self.issues.append(LoadIssue(source, "not a CA certificate, not a trust anchor", certificate.subject))
            return
        try:
            certificate.public_key  # noqa: B018 - building the key is the check
        except PKIError as error:
            self.issues.append(LoadIssue(source, f"unusable key, not trusted: {error}", certificate.subject))
            return
        self.cscas.append(certificate)

    def _add_master_list(self, master_list: MasterList) -> None:
        self.master_lists.append(master_list)
        self.issues.extend(master_list.issues)
        if not master_list.signature_valid:
            self.issues.append(LoadIssue(master_list.source, "master list signature does not verify: not trusted"))
        elif not master_list.signer_chains_to_list:
            self.issues.append(LoadIssue(master_list.source, "master list signer chains to no CSCA in it: not trusted"))
        if master_list.signer is not None and not master_list.signer_has_master_list_eku:
            self.issues.append(LoadIssue(master_list.source, "signer lacks the Master List Signer EKU 2.23.136.1.1.3",
                                         master_list.signer.subject))
