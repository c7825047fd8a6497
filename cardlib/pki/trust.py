"""The verifier's trust store: CSCA certificates, their CRLs and ICAO master lists, and DS chain validation.

A Document Signer is judged by named checks (ICAO 9303-11 §5 / 9303-12): its CSCA is found, the CSCA's
signature on it verifies, both are valid at the given time, the DS may sign documents, countries match,
and the CSCA's current CRL does not list it.  Each check passes, fails, or cannot tell (``None``); only
a chain where every check passed is valid, so missing evidence never counts as success.

Trust model:

* **Anchors** are the CSCA certificates the operator put in the store as PEM/DER files
  (:mod:`cardlib.pki.trustfiles` reads them).  A master list adds its CSCAs only when it is *anchored*
  (:mod:`cardlib.pki.anchoring`): its signer chains to an anchor or to a CSCA of another anchored list.
* **Issuer selection** (RFC 5280 §4.2.1.1): the DS's authority key identifier names its CSCA's key; a CSCA
  with the same name but another key (a key rollover, or an impostor) is not the issuer.  The signature
  fails the chain only when the named key is in the store; no named key means "cannot tell".
* **Revocation**: CRLs from files and from master lists (SignedData.crls) all count, each only once its
  signature verifies under the CSCA it names; among those the newest (thisUpdate, then CRL number) wins.
  Forged or corrupt CRLs are ignored and reported.  A DS listed by a verifying CRL is revoked; otherwise
  revocation is settled only by a verifying CRL that is current at the validation time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cardlib.errors import PKIError
from cardlib.pki.anchoring import (
    MAX_LINKS,
    ListTrust,
    MasterListStatus,
    anchor_lists,
    list_issues,
    path_to_anchor,
    verifies,
)
from cardlib.pki.certificates import Certificate, IssuerIndex, RevocationList
from cardlib.pki.masterlist import LoadIssue, MasterList
from cardlib.pki.names import names_equal
from cardlib.pki.trustfiles import load_trust_files

__all__ = ["ChainValidation", "Check", "TrustStore", "has_key_usage_extension", "key_usage_check"]


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




def has_key_usage_extension(certificate: Certificate) -> bool:
    """Whether the certificate has a keyUsage extension at all (an empty ``key_usage`` does not tell)."""
    return certificate.has_key_usage


KEY_USAGE_MISSING = "no key usage extension: the key is unrestricted (RFC 5280 §4.2.1.3), ICAO 9303-12 requires one"


def key_usage_check(ds: Certificate) -> Check:
    """DS key usage: passes with digitalSignature, fails without it, cannot tell when the extension is missing.

    RFC 5280 leaves a key without the extension unrestricted, so its absence is no proof of misuse; ICAO
    9303-12 still requires the extension.  A verifier decides what that is worth (``passed`` None).
    """
    if not has_key_usage_extension(ds):
        return Check(DS_KEY_USAGE, None, KEY_USAGE_MISSING)
    return Check(DS_KEY_USAGE, "digital_signature" in ds.key_usage, f"key usage {sorted(ds.key_usage)}")



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
        self.master_list_statuses, self._trusted = anchor_lists(self.anchors, self.master_lists)
        self.cscas = self._trusted.certificates
        self._unanchored_source = {
            certificate: status.master_list.source for status in self.master_list_statuses
            if status.trust is ListTrust.UNANCHORED for certificate in status.master_list.certificates
            if certificate not in self._trusted}
        self._unanchored = IssuerIndex(self._unanchored_source)
        self.crls = tuple(dict.fromkeys([*crls, *(crl for ml in self.master_lists for crl in ml.crls)]))
        self.load_report = (*load_report, *list_issues(self.master_list_statuses), *self._crl_issues())

    @classmethod
    def load(cls, *paths: Path | str) -> TrustStore:
        """Load files and folders (searched recursively) of PEM/DER certificates, CRLs and master lists.

        Certificates in files are the anchors.  Unreadable paths raise PKIError.  Items that cannot be
        used — a certificate that does not parse, a key on an unsupported curve, a master list whose
        signature fails or that is not anchored, a file over its size budget, a non-CA certificate, a
        private key — are listed in ``load_report`` and not trusted.
        """
        files = load_trust_files(*paths)
        return cls(files.cscas, files.crls, files.master_lists, files.issues)

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
        outcomes = [(candidate, verifies(ds, candidate)) for candidate in [*named, *possible]]
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
        untrusted = next((c for c in [*named, *possible] if verifies(ds, c)), None)
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
        path = path_to_anchor(csca, self._trusted)
        if path is None:
            return Check(CSCA_CHAIN, None, f"link certificate {csca.subject} chains to no self-signed trusted CSCA "
                                           f"within {MAX_LINKS} links: cannot tell")
        return Check(CSCA_CHAIN, True, " <- ".join(certificate.subject for certificate in path))

    def _revocation_checks(self, ds: Certificate, csca: Certificate, at: datetime) -> list[Check]:
        crls = self.crls_of(csca)
        if not crls:
            reason = "no CRL from this CSCA: revocation cannot be checked"
            return [Check(name, None, reason) for name in (CRL_PRESENT, CRL_SIGNATURE, CRL_CURRENT, NOT_REVOKED)]
        verifying = [crl for crl in crls if verifies(crl, csca)]
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
            if named and not any(verifies(crl, csca) for csca in [*named, *possible]):
                issues.append(LoadIssue(f"CRL {crl.issuer} number {crl.crl_number}",
                                        "signature does not verify under the CSCA it names: ignored"))
        return issues


def _found(csca: Certificate) -> Check:
    return Check(ISSUER_FOUND, True, f"{csca.subject} (serial {csca.serial_number:#x})")


def _crl_order(crl: RevocationList) -> tuple[datetime, int]:
    """Newest first: by thisUpdate, then CRL number."""
    return crl.this_update, crl.crl_number if crl.crl_number is not None else -1
