"""The Document Signer's chain to a trusted CSCA (ICAO 9303-11 §5.1 step 2): the ``chain.*`` checks.

The certificate chain is judged by :meth:`~cardlib.pki.trust.TrustStore.validate_document_signer`, one result
per rule.  Certificate validity is judged at the SOD's signingTime only when that time is credible (not beyond
the verifier's clock plus :data:`SIGNING_TIME_SKEW`): otherwise at the time of verification, so a forged date
cannot make a certificate look valid.  Without a signingTime, an expired certificate is judged against the
document's own expiry (:func:`_expired_without_signing_time`).

Trust: only CSCAs the trust store trusts count — anchors given as files, and the CSCAs of master lists
anchored to them (see :mod:`cardlib.pki.trust`).  A Document Signer whose CSCA is only in an unanchored list,
or whose named CSCA key is absent (a same-named CSCA with another key is not its issuer), is "cannot tell".

Revocation (``chain.crl``, ``chain.ds_not_revoked``): ICAO 9303-11 asks verifiers to check CRLs, but CRLs
travel apart from the document and are often not at hand (offline checks, a CSCA whose CRL has not been
fetched).  So, with CRLs from files and from master lists all counting, and each one only once its signature
verifies under the CSCA it names:

* no CRL names the CSCA: WARN — "cannot tell" would make every offline verification undecided while
  revocations of Document Signers are rare, and the report still says plainly that revocation was not checked;
* CRLs name the CSCA but none verifies (forged or corrupt): UNKNOWN — they are ignored, never believed, so a
  forged CRL can neither revoke a genuine Document Signer nor vouch for a revoked one;
* the newest verifying CRL (thisUpdate, then CRL number) lists the Document Signer: FAIL, revoked — a
  revocation signed by the CSCA stays proven after the CRL's nextUpdate;
* it does not list it but its nextUpdate has passed at the validation time: UNKNOWN — revocations since
  then are unknown;
* it does not list it and is current: PASS.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from weakref import WeakKeyDictionary

from cardlib.lds.dg1 import DG1
from cardlib.model.mrz import NO_EXPIRY
from cardlib.pki import trust as chain
from cardlib.pki.certificates import Certificate
from cardlib.pki.trust import ChainValidation, TrustStore
from cardlib.verify.holder import mrz_date
from cardlib.verify.report import CheckResult, Group, Status

# RFC 5280 §4.2.1.3: without the extension the key is unrestricted; ICAO 9303-12 requires it (early DSCs lack it).
NO_KEY_USAGE = "no key usage extension: the key is unrestricted, ICAO 9303-12 asks for digitalSignature, critical"
# How far a SOD's signingTime may lie ahead of the verifier's clock: a slow clock, not a forgery.
SIGNING_TIME_SKEW = timedelta(days=1)

_CHAIN_IDS = {
    chain.ISSUER_FOUND: "chain.csca_found", chain.DS_SIGNATURE: "chain.ds_signature",
    chain.DS_VALIDITY: "chain.ds_validity", chain.DS_KEY_USAGE: "chain.ds_key_usage",
    chain.CSCA_VALIDITY: "chain.csca_validity", chain.COUNTRY: "chain.country", chain.CSCA_CHAIN: "chain.csca_chain",
    chain.NOT_REVOKED: "chain.ds_not_revoked",
}
CHAIN_CHECK_IDS = (*_CHAIN_IDS.values(), "chain.crl")


def _trust(check_id: str, status: Status, reason: str) -> CheckResult:
    return CheckResult(check_id, Group.TRUST, status, reason)


def chain_checks(signer: Certificate | None, trust: TrustStore, at: datetime, signing_time: datetime | None,
                 document_expiry: date | None = None) -> list[CheckResult]:
    """The DS chain as ``chain.*`` results; validity is judged at the signing time when the SOD states one.

    Without a signingTime, a certificate that expired before ``at`` is judged against ``document_expiry`` (the
    MRZ's): see :func:`_expired_without_signing_time`.
    """
    if signer is None:
        return [_trust(check_id, Status.NOT_APPLICABLE, "no Document Signer certificate (see sod.signer)")
                for check_id in CHAIN_CHECK_IDS]
    validation, results = _chain_results(trust, signer, at)
    if signing_time is not None:
        return [_at_signing_time(result, validation, signing_time) for result in results]
    return [_expired_without_signing_time(result, validation, at, document_expiry) for result in results]


# Chain validations already made and their results, per trust store: by the Document Signer's exact DER and
# the time of validation.  Batch QA verifies every card of a batch at one time, so its cards repeat their
# signer's; the validation involves nothing of a card but its Document Signer certificate.
_ChainResults = tuple[ChainValidation, tuple[CheckResult, ...]]
_VALIDATIONS: WeakKeyDictionary[TrustStore, dict[tuple[bytes, datetime], _ChainResults]] = WeakKeyDictionary()
_VALIDATIONS_PER_STORE = 64


def _chain_results(trust: TrustStore, signer: Certificate, at: datetime) -> _ChainResults:
    """``trust.validate_document_signer(signer, at)`` and its ``chain.*`` results (before the SOD's signing time
    or the document's expiry re-judge validity), once per trust store, signer DER and time."""
    known = _VALIDATIONS.setdefault(trust, {})
    key = (signer.der, at)
    found = known.get(key)
    if found is None:
        validation = trust.validate_document_signer(signer, at)
        results = [_chain_result(_CHAIN_IDS[check.name], check, validation) for check in validation.checks
                   if check.name in _CHAIN_IDS]
        found = validation, (*results, _crl_result(validation))
        if len(known) >= _VALIDATIONS_PER_STORE:
            known.clear()
        known[key] = found
    return found


_CHAIN_FAILURES = {
    "chain.ds_signature": "the CSCA's signature on the Document Signer certificate does not verify",
    "chain.ds_validity": "the Document Signer certificate is not valid at the time of verification",
    "chain.ds_key_usage": "the Document Signer certificate may not sign documents (no digitalSignature)",
    "chain.csca_validity": "the CSCA certificate is not valid at the time of verification",
    "chain.country": "the Document Signer and its CSCA belong to different countries",
    "chain.csca_chain": "the CSCA does not lead to a self-signed trusted CSCA",
    "chain.ds_not_revoked": "the Document Signer certificate is revoked by its CSCA",
}


def _chain_result(check_id: str, check: chain.Check, validation: ChainValidation) -> CheckResult:
    if check_id == "chain.ds_key_usage" and check.passed is None:
        return _trust(check_id, Status.WARN, NO_KEY_USAGE)
    if check.passed is True:
        return _trust(check_id, Status.PASS, check.reason)
    if check.passed is False:
        return _trust(check_id, Status.FAIL, f"{_CHAIN_FAILURES.get(check_id, check.name)}: {check.reason}")
    if check_id == "chain.csca_found":
        return _trust(check_id, Status.UNKNOWN,
                      f"the Document Signer's CSCA is not in the trust store as a trusted CSCA: {check.reason}")
    if validation.csca is None:
        return _trust(check_id, Status.NOT_APPLICABLE, "no CSCA to check against (see chain.csca_found)")
    if check_id == "chain.ds_not_revoked" and validation.check(chain.CRL_PRESENT).passed is None:
        return _trust(check_id, Status.WARN, f"revocation not checked: {check.reason}")
    return _trust(check_id, Status.UNKNOWN, check.reason)


def _crl_result(validation: ChainValidation) -> CheckResult:
    """The CSCA's CRLs as evidence (module docstring, Revocation): absent WARN, unusable UNKNOWN, else PASS."""
    if validation.csca is None:
        return _trust("chain.crl", Status.NOT_APPLICABLE, "no CSCA, so no CRL to look for (see chain.csca_found)")
    present = validation.check(chain.CRL_PRESENT)
    if present.passed is not True:
        return _trust("chain.crl", Status.WARN,
                      "no CRL from the CSCA in the trust store: revocation of the Document Signer was not checked")
    signature = validation.check(chain.CRL_SIGNATURE)
    if signature.passed is not True:
        return _trust("chain.crl", Status.UNKNOWN, f"{present.reason}: {signature.reason}")
    current = validation.check(chain.CRL_CURRENT)
    if current.passed is not True:
        return _trust("chain.crl", Status.UNKNOWN,
                      f"the newest verifying CRL is not current, revocations since are unknown: {current.reason}")
    return _trust("chain.crl", Status.PASS, f"{signature.reason}, current; {present.reason}")


def _at_signing_time(result: CheckResult, validation: ChainValidation, signing_time: datetime) -> CheckResult:
    """Certificate validity re-judged at the SOD's signingTime: a document outlives its signer's certificate."""
    certificate = {"chain.ds_validity": validation.document_signer,
                   "chain.csca_validity": validation.csca}.get(result.id)
    if certificate is None:
        return result
    window = f"{certificate.not_before} to {certificate.not_after}, signed {signing_time}"
    if certificate.valid_at(signing_time):
        return _trust(result.id, Status.PASS, f"valid at the signing time ({window})")
    what = "Document Signer" if result.id == "chain.ds_validity" else "CSCA"
    return _trust(result.id, Status.FAIL, f"the {what} certificate was not valid when the SOD was signed ({window})")


def _expired_without_signing_time(result: CheckResult, validation: ChainValidation, at: datetime,
                                  document_expiry: date | None) -> CheckResult:
    """An expired DS or CSCA certificate, with no signingTime to date the SOD, judged against the document's expiry.

    ICAO 9303-12 §7.1 makes a Document Signer certificate valid for its key's usage period plus the longest
    validity of the documents it signs, so every document it signed has expired by the time it does:

    - the document expired too, within the certificate's validity: a genuine expired document (WARN, as
      ``lds.dg1.expiry`` does);
    - the document is still valid: no genuine issuer signs past its certificate (FAIL, unchanged);
    - otherwise (no expiry, a card that never expires, a document that outlived its certificate, as test
      specimens do) when the SOD was signed cannot be told (UNKNOWN).

    A certificate not yet valid still fails.
    """
    certificate = {"chain.ds_validity": validation.document_signer,
                   "chain.csca_validity": validation.csca}.get(result.id)
    if certificate is None or result.status is not Status.FAIL or at <= certificate.not_after:
        return result
    if document_expiry is not None and document_expiry >= at.date():
        return result
    what = "Document Signer" if result.id == "chain.ds_validity" else "CSCA"
    expired = f"the {what} certificate expired on {certificate.not_after.date().isoformat()}"
    if document_expiry is not None and document_expiry <= certificate.not_after.date():
        return _trust(result.id, Status.WARN,
                      f"{expired}, after the document itself expired ({document_expiry.isoformat()}): an expired "
                      "document, not a forgery (the SOD has no signingTime to date its signature)")
    return _trust(result.id, Status.UNKNOWN,
                  f"{expired} and the SOD has no signingTime: whether it was signed while the certificate was "
                  "valid cannot be told")


def document_expiry_date(dg1: DG1 | None, at: datetime) -> date | None:
    """The MRZ's date of expiry as a date; None when there is no DG1, no expiry (991231) or no real date."""
    if dg1 is None or dg1.mrz.date_of_expiry == NO_EXPIRY:
        return None
    return mrz_date(dg1.mrz.date_of_expiry, at.date(), future_years=50)


def signing_time_credible(signed: datetime, at: datetime) -> bool:
    """A signingTime no later than ``at`` plus :data:`SIGNING_TIME_SKEW`: one a verifier may judge validity at."""
    return signed <= at + SIGNING_TIME_SKEW
