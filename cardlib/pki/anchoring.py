"""Anchoring master lists (ICAO 9303-12 §8, Doc 9303 trust model): which lists a trust store may believe.

A master list adds its CSCAs only when it is *anchored*: its CMS signature verifies and its signer chains to
an anchor (a CSCA the operator gave) or to a CSCA of another anchored list, iterated to a fixed point.  A list
whose signer chains only to a CSCA inside the list vouches for itself: it is loaded *unanchored*, reported,
and none of its CSCAs is trusted.  A link certificate (a CSCA not self-signed) counts only when it chains to a
self-signed trusted CSCA, whoever carried it.

Every signature check of the trust store goes through :func:`verifies`, which remembers its outcome.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from cardlib.errors import PKIError
from cardlib.pki.certificates import Certificate, IssuerIndex, RevocationList
from cardlib.pki.masterlist import LoadIssue, MasterList

MAX_LINKS = 4
"""The most link certificates between a CSCA and the self-signed CSCA it chains to."""

# Outcomes of signature checks, keyed by the exact bytes of signed object and issuer.  A batch verifies
# thousands of cards under the same Document Signer: its certificate and the CRL are checked once.
_VERIFIED: dict[tuple[bytes, bytes], bool | None] = {}
_VERIFIED_LIMIT = 4096


def verifies(certificate: Certificate | RevocationList, issuer: Certificate) -> bool | None:
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



def path_to_anchor(certificate: Certificate, trusted: IssuerIndex) -> list[Certificate] | None:
    """``certificate`` and its issuers up to a self-signed certificate of ``trusted``; None when there is none.

    Each link is named by AKI (or issuer name) and its signature verifies; at most ``MAX_LINKS`` links.
    """
    path = [certificate]
    current = certificate
    for _ in range(MAX_LINKS + 1):
        if current in trusted and current.is_self_issued and verifies(current, current):
            return path
        named, possible = trusted.issuers(current)
        parent = next((c for c in [*named, *possible] if c != current and c not in path and verifies(current, c)),
                      None)
        if parent is None:
            return None
        path.append(parent)
        current = parent
    return None


def anchor_lists(
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
            path = path_to_anchor(master_list.signer, trusted)
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
            if certificate not in trusted and path_to_anchor(certificate, trusted) is not None]


def list_issues(statuses: Iterable[MasterListStatus]) -> list[LoadIssue]:
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


__all__ = ["MAX_LINKS", "ListTrust", "MasterListStatus", "anchor_lists", "list_issues", "path_to_anchor", "verifies"]
