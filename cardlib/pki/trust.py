"""The verifier's trust store: CSCA certificates, their CRLs and ICAO master lists, and DS chain validation.

A Document Signer is judged by named checks (ICAO 9303-11 §5 / 9303-12): its CSCA is found, the CSCA's
signature on it verifies, both are valid at the given time, the DS may sign documents, countries match,
and the CSCA's current CRL does not list it.  Each check passes, fails, or cannot tell (``None``); only
a chain where every check passed is valid, so missing evidence never counts as success.

Trust model:

* **Anchors** are the CSCA certificates the operator put in the store as PEM/DER files.  A master list
  adds its CSCAs only when it is *anchored*: its CMS signature verifies and its signer chains to an anchor
  or to a CSCA of another anchored list (iterated to a fixed point).  A list whose signer chains only to a
  CSCA inside the list vouches for itself: it is loaded *unanchored*, reported, and none of its CSCAs is
  trusted.  A link certificate (a CSCA not self-signed) counts only when it chains to a self-signed anchor.
* **Issuer selection** (RFC 5280 §4.2.1.1): the DS's authority key identifier names its CSCA's key; a CSCA
  with the same name but another key (a key rollover, or an impostor) is not the issuer.  The signature
  fails the chain only when the named key is in the store; no named key means "cannot tell".
* **Revocation**: CRLs from files and from master lists (SignedData.crls) all count, each only once its
  signature verifies under the CSCA it names; among those the newest (thisUpdate, then CRL number) wins.
  Forged or corrupt CRLs are ignored and reported.  A DS listed by a verifying CRL is revoked; otherwise
  revocation is settled only by a verifying CRL that is current at the validation time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import lru_cache
from pathlib import Path

from asn1crypto import x509 as asn1_x509

from cardlib.errors import PKIError
from cardlib.limits import MAX_MASTER_LIST_BYTES, MAX_TRUST_FILE_BYTES, LimitExceeded
from cardlib.pki.certificates import Certificate, IssuerIndex, RevocationList, names_equal, pem_blocks
from cardlib.pki.masterlist import LoadIssue, MasterList

__all__ = ["ChainValidation", "Check", "ListTrust", "LoadIssue", "MasterListStatus", "TrustStore",
           "has_key_usage_extension", "key_usage_check"]

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


class ListTrust(Enum):
    """What a trust store made of one master list."""

    ANCHORED = "anchored"
    """The signature verifies and the signer chains to an anchor: the list's CSCAs are trusted."""
    UNANCHORED = "unanchored"
    """The signature verifies but the signer chains to no anchor: loaded, reported, nothing trusted."""
    REJECTED = "rejected"
    """The signature does not verify or the signer is missing: nothing trusted."""


@dataclass(frozen=True)
class MasterListStatus:
    """One master list of a trust store, how far it is trusted, and why."""

    master_list: MasterList
    trust: ListTrust
    reason: str


class TrustStore:
    """Trust anchors, the CSCAs of anchored master lists, CRLs, and what loading reported.

    ``cscas`` are the trusted CSCA certificates (anchors, link certificates and anchored lists' CSCAs);
    ``master_list_statuses`` says for each master list whether it is anchored; ``load_report`` lists what
    was not loaded or not trusted.
    """

    def __init__(
        self,
        cscas: Iterable[Certificate] = (),
        crls: Iterable[RevocationList] = (),
        master_lists: Iterable[MasterList] = (),
        load_report: Iterable[LoadIssue] = (),
    ) -> None:
        self.master_lists = tuple(master_lists)
        self.anchors = tuple(dict.fromkeys(cscas))
        self.master_list_statuses, self._trusted = _anchor_lists(self.anchors, self.master_lists)
        self.cscas = self._trusted.certificates
        self._unanchored_source = {
            certificate: status.master_list.source for status in self.master_list_statuses
            if status.trust is ListTrust.UNANCHORED for certificate in status.master_list.certificates
            if certificate not in self._trusted}
        self._unanchored = IssuerIndex(self._unanchored_source)
        self.crls = tuple(dict.fromkeys([*crls, *(crl for ml in self.master_lists for crl in ml.crls)]))
        self.load_report = (*load_report, *_list_issues(self.master_list_statuses), *self._crl_issues())

    @classmethod
    def load(cls, *paths: Path | str) -> TrustStore:
        """Load files and folders (searched recursively) of PEM/DER certificates, CRLs and master lists.

        Certificates in files are the anchors.  Unreadable paths raise PKIError.  Items that cannot be
        used — a certificate that does not parse, a key on an unsupported curve, a master list whose
        signature fails or that is not anchored, a file over its size budget, a non-CA certificate, a
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

    def status_of(self, master_list: MasterList) -> MasterListStatus:
        """How far ``master_list`` (one of ``master_lists``) is trusted; PKIError for a list not in the store."""
        for status in self.master_list_statuses:
            if status.master_list is master_list:
                return status
        raise PKIError(f"{master_list.source}: not a master list of this trust store")

    def issuers_of(self, certificate: Certificate) -> list[Certificate]:
        """Trusted CSCAs that may have issued ``certificate``: the key its AKI names (or, without AKI, its
        issuer name), then same-named CSCAs without a key identifier; self-signed first."""
        named, possible = self._trusted.issuers(certificate)
        return [*named, *possible]

    def crls_of(self, csca: Certificate) -> list[RevocationList]:
        """CRLs naming ``csca`` as issuer (by AKI when present, else by name), newest first; not yet verified."""
        def from_csca(crl: RevocationList) -> bool:
            if crl.authority_key_identifier is not None and csca.subject_key_identifier is not None:
                return crl.authority_key_identifier == csca.subject_key_identifier
            return names_equal(crl.issuer_name, csca.subject_name)
        return sorted((crl for crl in self.crls if from_csca(crl)), key=_crl_order, reverse=True)

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
        """The CSCA whose key signed ``ds``: FAIL only when the key the DS names is trusted and does not verify."""
        named, possible = self._trusted.issuers(ds)
        outcomes = [(candidate, _verifies(ds, candidate)) for candidate in [*named, *possible]]
        signed = next((candidate for candidate, verified in outcomes if verified), None)
        if signed is not None:
            return signed, [_found(signed), Check(DS_SIGNATURE, True, "verifies")]
        named_outcomes = outcomes[: len(named)]
        unchecked = next((candidate for candidate, verified in named_outcomes if verified is None), None)
        if unchecked is not None:
            return unchecked, [_found(unchecked),
                               Check(DS_SIGNATURE, None, "cannot be checked (unsupported algorithm or key)")]
        if named_outcomes:
            key = "its AKI names" if ds.authority_key_identifier is not None else "its issuer name names"
            failed = Check(DS_SIGNATURE, False, f"does not verify under the CSCA key {key}")
            return named[0], [_found(named[0]), failed]
        missing = Check(ISSUER_FOUND, None, self._no_issuer_reason(ds))
        return None, [missing, Check(DS_SIGNATURE, None, "no issuing CSCA")]

    def _no_issuer_reason(self, ds: Certificate) -> str:
        """Why no trusted CSCA holds the DS's key: it is only in an unanchored list, or only other keys of the name."""
        named, possible = self._unanchored.issuers(ds)
        untrusted = next((c for c in [*named, *possible] if _verifies(ds, c)), None)
        if untrusted is not None:
            return (f"issued by {untrusted.subject} of master list {self._unanchored_source[untrusted]}, which is "
                    "not anchored (its signer chains to no CSCA given as an anchor): cannot tell")
        same_name = self._trusted.named(ds.issuer_name, ds.issuer_key) if ds.authority_key_identifier else []
        if same_name:
            key_ids = ", ".join((c.subject_key_identifier or b"").hex() or "none" for c in same_name)
            return (f"the trust store holds {len(same_name)} CSCA(s) named {ds.issuer} with other keys (key "
                    f"identifiers {key_ids}) but not the key the DS's AKI names "
                    f"({(ds.authority_key_identifier or b'').hex()}), as after a CSCA key rollover: cannot tell")
        return "no CSCA in the trust store with the DS's AKI or issuer name: cannot tell"

    def _chain_check(self, csca: Certificate) -> Check:
        """A self-signed CSCA passes; a link certificate passes when its links lead to a self-signed CSCA.

        A link certificate whose issuer is not in the store cannot tell: that is missing evidence.
        """
        path = _path_to_anchor(csca, self._trusted)
        if path is None:
            return Check(CSCA_CHAIN, None, f"link certificate {csca.subject} chains to no self-signed trusted CSCA "
                                           f"within {_MAX_LINKS} links: cannot tell")
        return Check(CSCA_CHAIN, True, " <- ".join(certificate.subject for certificate in path))

    def _revocation_checks(self, ds: Certificate, csca: Certificate, at: datetime) -> list[Check]:
        crls = self.crls_of(csca)
        if not crls:
            reason = "no CRL from this CSCA: revocation cannot be checked"
            return [Check(name, None, reason) for name in (CRL_PRESENT, CRL_SIGNATURE, CRL_CURRENT, NOT_REVOKED)]
        verifying = [crl for crl in crls if _verifies(crl, csca)]
        ignored = len(crls) - len(verifying)
        note = f"; {ignored} CRL(s) naming this CSCA do not verify under its key, ignored" if ignored else ""
        present = Check(CRL_PRESENT, True, f"{len(crls)} CRL(s) name this CSCA{note}")
        if not verifying:
            reason = "no CRL naming this CSCA verifies under its key (forged or corrupt): revocation cannot be told"
            return [present, *(Check(name, None, reason) for name in (CRL_SIGNATURE, CRL_CURRENT, NOT_REVOKED))]
        crl = next((c for c in verifying if c.this_update <= at), verifying[-1])
        current = crl.this_update <= at and crl.next_update is not None and at <= crl.next_update
        revoked = ds.serial_number in crl.revoked_serials
        if revoked:
            status = Check(NOT_REVOKED, False, f"serial listed as revoked by CRL number {crl.crl_number}")
        elif current:
            status = Check(NOT_REVOKED, True, "serial not listed")
        else:
            status = Check(NOT_REVOKED, None, f"serial not listed, but the newest verifying CRL is valid "
                                              f"{crl.this_update} to {crl.next_update}: cannot tell")
        window = f"CRL valid {crl.this_update} to {crl.next_update}"
        return [present, Check(CRL_SIGNATURE, True, f"CRL number {crl.crl_number}, issued {crl.this_update}, verifies"),
                Check(CRL_CURRENT, True if current else None, window if current else f"{window}: not current"),
                status]

    def _crl_issues(self) -> list[LoadIssue]:
        """CRLs whose signature fails under every trusted CSCA they name: forged or corrupt, never believed."""
        issues = []
        for crl in self.crls:
            named, possible = self._trusted.issuers(crl)
            if named and not any(_verifies(crl, csca) for csca in [*named, *possible]):
                issues.append(LoadIssue(f"CRL {crl.issuer} number {crl.crl_number}",
                                        "signature does not verify under the CSCA it names: ignored"))
        return issues


def _found(csca: Certificate) -> Check:
    return Check(ISSUER_FOUND, True, f"{csca.subject} (serial {csca.serial_number:#x})")


def _crl_order(crl: RevocationList) -> tuple[datetime, int]:
    """Newest first: by thisUpdate, then CRL number."""
    return crl.this_update, crl.crl_number if crl.crl_number is not None else -1


def _path_to_anchor(certificate: Certificate, trusted: IssuerIndex) -> list[Certificate] | None:
    """``certificate`` and its issuers up to a self-signed certificate of ``trusted``; None when there is none.

    Each link is named by AKI (or issuer name) and its signature verifies; at most ``_MAX_LINKS`` links.
    """
    path = [certificate]
    current = certificate
    for _ in range(_MAX_LINKS + 1):
        if current in trusted and current.is_self_issued and _verifies(current, current):
            return path
        named, possible = trusted.issuers(current)
        parent = next((c for c in [*named, *possible] if c != current and c not in path and _verifies(current, c)),
                      None)
        if parent is None:
            return None
        path.append(parent)
        current = parent
    return None


def _anchor_lists(
    anchors: tuple[Certificate, ...], master_lists: tuple[MasterList, ...]
) -> tuple[tuple[MasterListStatus, ...], IssuerIndex]:
    """Each list's status and the trusted CSCAs: anchors, then lists whose signer chains to a trusted CSCA,
    repeated until nothing is added (a list anchored through another anchored list counts).

    A link certificate in a list that is not anchored is trusted on its own when it chains to a trusted CSCA:
    its issuer's signature vouches for it, whoever carried it (a CSCA's new key often travels that way).
    """
    trusted = IssuerIndex(anchors)
    statuses: dict[int, MasterListStatus] = {}
    links: set[Certificate] = set()
    for number, master_list in enumerate(master_lists):
        if master_list.signer is None or not master_list.signature_valid:
            why = "signer not found" if master_list.signer is None else "master list signature does not verify"
            statuses[number] = MasterListStatus(master_list, ListTrust.REJECTED, f"{why}: not trusted")
    added = True
    while added:
        added = False
        for number, master_list in enumerate(master_lists):
            if number in statuses or master_list.signer is None:
                continue
            path = _path_to_anchor(master_list.signer, trusted)
            if path is not None:
                chain = " <- ".join(certificate.subject for certificate in path)
                statuses[number] = MasterListStatus(master_list, ListTrust.ANCHORED,
                                                    f"signer chains to an anchor: {chain}")
                trusted = IssuerIndex([*trusted.certificates, *master_list.certificates])
                added = True
        chained = _chained_links(master_lists, statuses, trusted)
        if chained:
            links.update(chained)
            trusted = IssuerIndex([*trusted.certificates, *chained])
            added = True
    for number, master_list in enumerate(master_lists):
        if number not in statuses:
            inside = " (only to a CSCA inside the list itself)" if master_list.signer_chains_to_list else ""
            linked = len(links.intersection(master_list.certificates))
            but = f" (but {linked} of them chain to an anchor, as link certificates do, and are)" if linked else ""
            statuses[number] = MasterListStatus(
                master_list, ListTrust.UNANCHORED,
                f"master list signer chains to no CSCA given as an anchor{inside}: loaded unanchored, "
                f"its {len(master_list.certificates)} CSCAs are not trusted{but}")
    return tuple(statuses[number] for number in range(len(master_lists))), trusted


def _chained_links(master_lists: tuple[MasterList, ...], anchored: dict[int, MasterListStatus],
                   trusted: IssuerIndex) -> list[Certificate]:
    """Certificates of lists not (yet) anchored that are not trusted but chain to a trusted self-signed CSCA."""
    return [certificate for number, master_list in enumerate(master_lists)
            if number not in anchored or anchored[number].trust is not ListTrust.ANCHORED
            for certificate in master_list.certificates
            if certificate not in trusted and _path_to_anchor(certificate, trusted) is not None]


def _list_issues(statuses: Iterable[MasterListStatus]) -> list[LoadIssue]:
    """What loading each master list reported: its own issues, its trust unless anchored, a missing EKU."""
    issues: list[LoadIssue] = []
    for status in statuses:
        master_list = status.master_list
        issues.extend(master_list.issues)
        if status.trust is not ListTrust.ANCHORED:
            issues.append(LoadIssue(master_list.source, status.reason))
        if master_list.signer is not None and not master_list.signer_has_master_list_eku:
            issues.append(LoadIssue(master_list.source, "signer lacks the Master List Signer EKU 2.23.136.1.1.3",
                                    master_list.signer.subject))
    return issues


class _Loader:
    """Collects what the files of a trust store hold, and what could not be used."""

    def __init__(self) -> None:
        self.cscas: list[Certificate] = []
        self.crls: list[RevocationList] = []
        self.master_lists: list[MasterList] = []
        self.issues: list[LoadIssue] = []

    def load_file(self, path: Path) -> None:
        source = str(path)
        try:
            data = _read_bounded(path)
            for kind, der in self._items(data, path):
                self._add(kind, der, source)
        except (PKIError, LimitExceeded) as error:
            self.issues.append(LoadIssue(source, str(error)))

    @staticmethod
    def _items(data: bytes, path: Path) -> Iterator[tuple[str, bytes]]:
        if data.lstrip().startswith(b"-----BEGIN"):
            yield from pem_blocks(data)
        elif _is_master_list(path, data):
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


def _is_master_list(path: Path, head: bytes) -> bool:
    return path.suffix.lower() in _MASTER_LIST_SUFFIXES or _SIGNED_DATA_OID_DER in head[:32]


def _read_bounded(path: Path) -> bytes:
    """The file's bytes, refused with LimitExceeded before reading when over its budget: MAX_MASTER_LIST_BYTES
    for master lists, MAX_TRUST_FILE_BYTES for certificates and CRLs (the size is taken with stat, and at
    most one byte more than the budget is ever read, should the file grow meanwhile)."""
    try:
        size = path.stat().st_size
        if size > max(MAX_MASTER_LIST_BYTES, MAX_TRUST_FILE_BYTES):
            raise LimitExceeded(*_budget(path, b""), size)
        with path.open("rb") as handle:
            head = handle.read(32)
            budget, what, limit = _budget(path, head)
            data = head + handle.read(limit + 1 - len(head))
    except OSError as error:
        raise PKIError(f"{path}: cannot read ({error.strerror})") from error
    if len(data) > limit:
        raise LimitExceeded(budget, what, limit, max(size, len(data)))
    return data


def _budget(path: Path, head: bytes) -> tuple[str, str, int]:
    """The size budget of a trust file (name, what, limit): master lists have their own."""
    if _is_master_list(path, head):
        return "MAX_MASTER_LIST_BYTES", str(path), MAX_MASTER_LIST_BYTES
    return "MAX_TRUST_FILE_BYTES", str(path), MAX_TRUST_FILE_BYTES
