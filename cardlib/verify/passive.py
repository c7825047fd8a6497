"""Passive authentication (ICAO 9303-11 §5.1): is the data on the chip what the issuing state signed?

The steps, each its own named check:

1. ``sod.decode``: EF.SOD decodes; ``sod.content_type``: its eContentType is ldsSecurityObject (the legacy
   1.3.27.1.1.1 is accepted with a warning) and the contentType signed attribute says the same;
   ``sod.signer``: the Document Signer certificate is in the SOD and is the one SignerInfo.sid names;
   ``sod.message_digest``: the messageDigest signed attribute is the hash of the eContent;
   ``sod.signature``: the signature over the signed attributes verifies with the DS key.
2. ``chain.*``: the DS certificate chains to a CSCA of the trust store
   (:meth:`~cardlib.pki.trust.TrustStore.validate_document_signer`), one result per rule.
3. ``hash.DGn``: each data group hashes to the value the SOD lists; ``com.sod_consistency``: EF.COM and the
   SOD list the same data groups (TR-03105 LDS_H).

The SOD and Document Signer rules of TR-03105 LDS_H (``lds.sod.*``, ``lds.dsc.*``) are checked here too,
next to the objects they concern, in the CONFORMANCE group.  Certificate validity is judged at the SOD's
signingTime only when that time is credible (not beyond the verifier's clock plus
:data:`SIGNING_TIME_SKEW`): a signingTime in the future fails ``lds.sod.signing_time`` and the chain is
judged at the time of verification instead, so a forged date cannot make a certificate look valid.

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

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from weakref import WeakKeyDictionary

from asn1crypto import algos, core
from asn1crypto import x509 as asn1_x509

from cardlib.errors import CardlibError, PKIError, ValidationError
from cardlib.lds.asn1 import algorithm_identifier_der
from cardlib.lds.com import EFCOM
from cardlib.lds.dg1 import DG1
from cardlib.lds.oids import ID_DATA, ID_LDS_SECURITY_OBJECT, ID_LDS_SECURITY_OBJECT_LEGACY
from cardlib.lds.signeddata import digest
from cardlib.lds.sod import SOD
from cardlib.model.mrz import NO_EXPIRY
from cardlib.pki import trust as chain
from cardlib.pki.certificates import Certificate
from cardlib.pki.profile import DOCUMENT_TYPE_LIST_OID, DocumentTypeListSyntax
from cardlib.pki.signatures import verify_signature
from cardlib.pki.trust import ChainValidation, TrustStore
from cardlib.verify.holder import mrz_date
from cardlib.verify.report import CheckResult, Group, Status

# What each data group holds, to say what a hash mismatch means.
DG_CONTENT = {1: "the MRZ", 2: "the portrait", 3: "the fingerprints", 13: "the resident data",
              14: "the Chip Authentication key", 15: "the Active Authentication key"}
# The biometrics Extended Access Control protects (ICAO 9303-11 §7.1): the only files a genuine chip refuses
# after BAC/PACE.  A chip refusing any other signed file is hiding it.
EAC_PROTECTED = frozenset({"DG3", "DG4"})
# Hashes ICAO 9303-12 allows for SODs; SHA-1 appears on early passports and is only warned about.
ALLOWED_HASHES = ("sha224", "sha256", "sha384", "sha512")
LEGACY_HASHES = ("sha1",)
# ICAO 9303-3 codes whose alpha-2 country is not the first two letters, plus the codes of the test data.
# RFC 5280 §4.2.1.3: without the extension the key is unrestricted; ICAO 9303-12 requires it (early DSCs lack it).
NO_KEY_USAGE = "no key usage extension: the key is unrestricted, ICAO 9303-12 asks for digitalSignature, critical"
# How far a SOD's signingTime may lie ahead of the verifier's clock: a slow clock, not a forgery.
SIGNING_TIME_SKEW = timedelta(days=1)
ISSUING_STATE_COUNTRY = {"VNM": "VN", "D": "DE", "DEU": "DE", "NLD": "NL", "GBR": "GB", "UTO": "UT"}


def _result(check_id: str, group: Group, status: Status, reason: str) -> CheckResult:
    return CheckResult(check_id, group, status, reason)


def _passive(check_id: str, status: Status, reason: str) -> CheckResult:
    return _result(check_id, Group.PASSIVE, status, reason)


def _conformance(check_id: str, status: Status, reason: str) -> CheckResult:
    return _result(check_id, Group.CONFORMANCE, status, reason)


@dataclass(frozen=True)
class PassiveOutcome:
    """The checks of passive authentication and what later checks need from them.

    ``unsigned_extras`` names data groups in the dump that neither EF.COM nor the SOD lists: they are not
    part of the document and are left out of every later check and of the holder summary.
    """

    checks: tuple[CheckResult, ...]
    sod: SOD | None
    document_signer: Certificate | None
    unsigned_extras: frozenset[str]


# --- the SOD itself -------------------------------------------------------------------------------------------


def _decode_sod(files: Mapping[str, bytes]) -> tuple[SOD | None, CheckResult]:
    data = files.get("EF.SOD")
    if data is None:
        return None, _passive("sod.decode", Status.UNKNOWN, "EF.SOD is not in the dump: nothing proves the data")
    if not data:  # a chip that holds no signature proves nothing either way: missing evidence, not a forgery
        return None, _passive("sod.decode", Status.UNKNOWN, "EF.SOD is empty (0 bytes): the chip holds no "
                              "signature, nothing proves the data")
    try:
        sod = SOD.decode(data)
    except CardlibError as error:
        return None, _passive("sod.decode", Status.FAIL, f"EF.SOD is malformed: {error}")
    return sod, _passive("sod.decode", Status.PASS, "EF.SOD decodes")


# eContentTypes other than ldsSecurityObject that genuine issuers use around a valid LDSSecurityObject, and why
# they are only warned about: peers (JMRTD, pymrtd, gmrtd) accept them; the hashes and signature are what matter.
TOLERATED_CONTENT_TYPES = {
    ID_LDS_SECURITY_OBJECT_LEGACY: "legacy eContentType {oid} (pre-standard)",
    ID_DATA: "eContentType id-data {oid} (RFC 5652 generic data) around a valid LDSSecurityObject",
}


def _content_type(sod: SOD) -> CheckResult:
    if sod.econtent_type != ID_LDS_SECURITY_OBJECT and sod.econtent_type not in TOLERATED_CONTENT_TYPES:
        return _passive("sod.content_type", Status.FAIL,
                        f"eContentType {sod.econtent_type} is not ldsSecurityObject ({ID_LDS_SECURITY_OBJECT}): "
                        "the signed content is not a list of data group hashes")
    if sod.content_type_attribute != sod.econtent_type:
        return _passive("sod.content_type", Status.FAIL,
                        f"the contentType signed attribute ({sod.content_type_attribute}) is not the eContentType "
                        f"({sod.econtent_type}): RFC 5652 §11.1")
    if sod.econtent_type in TOLERATED_CONTENT_TYPES:
        what = TOLERATED_CONTENT_TYPES[sod.econtent_type].format(oid=sod.econtent_type)
        return _passive("sod.content_type", Status.WARN, f"{what}; ICAO 9303-10 asks for {ID_LDS_SECURITY_OBJECT}")
    return _passive("sod.content_type", Status.PASS, f"eContentType ldsSecurityObject {sod.econtent_type}")


def _signer(sod: SOD) -> tuple[Certificate | None, CheckResult]:
    """The DS certificate SignerInfo.sid names: byte for byte, else equivalently and proven by the signature."""
    if not sod.signer_certificates:
        return None, _passive("sod.signer", Status.FAIL, "the SOD carries no Document Signer certificate")
    try:
        named = [entry for entry in sod.signer_certificates if sod.sid.matches(entry)]
        if named:
            certificate = Certificate.from_der(named[0].der)
            return certificate, _passive("sod.signer", Status.PASS, f"Document Signer {certificate.subject}")
        equivalent = [Certificate.from_der(entry.der) for entry in sod.signer_certificates
                      if sod.sid.names_equivalently(entry)]
    except (CardlibError, ValueError) as error:
        return None, _passive("sod.signer", Status.FAIL, f"the Document Signer certificate is malformed: {error}")
    if not equivalent:
        return None, _passive("sod.signer", Status.FAIL,
                              "no certificate in the SOD is the one SignerInfo.sid names: signer unknown")
    verified = [candidate for candidate in equivalent if _signature(sod, candidate).status is Status.PASS]
    certificate = (verified or equivalent)[0]
    proof = "its key verifies the signature" if verified else "see sod.signature"
    return certificate, _passive("sod.signer", Status.WARN,
                                 f"Document Signer {certificate.subject}: SignerInfo.sid names it, though not byte "
                                 f"for byte ({_sid_difference(sod)}); {proof}")


def _sid_difference(sod: SOD) -> str:
    if sod.sid.subject_key_identifier is not None:
        return "a key identifier computed from its public key, the certificate has none"
    return "same issuer attributes in another order or encoding, RFC 5280 §7.1"


def _message_digest(sod: SOD) -> CheckResult:
    if sod.signed_attributes is None or sod.message_digest is None:
        return _passive("sod.message_digest", Status.FAIL, "no signed messageDigest attribute (ICAO 9303-10 §4.6.2)")
    try:
        expected = digest(sod.digest_algorithm, sod.econtent)
    except ValidationError as error:
        return _passive("sod.message_digest", Status.FAIL, f"digest algorithm not allowed: {error.reason}")
    if expected != sod.message_digest:
        return _passive("sod.message_digest", Status.FAIL,
                        "the messageDigest attribute is not the hash of the LDSSecurityObject: hashes were altered")
    return _passive("sod.message_digest", Status.PASS, f"messageDigest is the {sod.digest_algorithm} of the eContent")


def _signature(sod: SOD, signer: Certificate | None) -> CheckResult:
    if signer is None:
        return _passive("sod.signature", Status.UNKNOWN, "no Document Signer certificate to verify (see sod.signer)")
    if sod.signed_attributes is None:
        return _passive("sod.signature", Status.FAIL, "no signed attributes: the signature covers nothing we check")
    algorithm = _signature_algorithm(sod.signature_algorithm.oid, sod.signature_algorithm.parameters)
    try:
        valid = verify_signature(signer.public_key, sod.signature, sod.signed_attributes, algorithm,
                                 digest_algorithm=sod.digest_algorithm)
    except PKIError as error:
        return _passive("sod.signature", Status.UNKNOWN, f"the signature cannot be checked: {error}")
    if not valid:
        return _passive("sod.signature", Status.FAIL,
                        "the SOD signature does not verify with the Document Signer key: the SOD was altered "
                        "or signed by another key")
    return _passive("sod.signature", Status.PASS, f"{sod.signature_algorithm.name} signature verifies")


def _signature_algorithm(oid: str, parameters: bytes | None) -> algos.SignedDigestAlgorithm | str:
    """What :func:`verify_signature` takes for SignerInfo.signatureAlgorithm: the OID alone when it has no
    parameters (the same reading, without building an AlgorithmIdentifier per card), else the AlgorithmIdentifier."""
    if parameters is None:
        return oid
    return algos.SignedDigestAlgorithm.load(algorithm_identifier_der(oid, parameters))


# --- certificate chain ------------------------------------------------------------------------------------------

_CHAIN_IDS = {
    chain.ISSUER_FOUND: "chain.csca_found", chain.DS_SIGNATURE: "chain.ds_signature",
    chain.DS_VALIDITY: "chain.ds_validity", chain.DS_KEY_USAGE: "chain.ds_key_usage",
    chain.CSCA_VALIDITY: "chain.csca_validity", chain.COUNTRY: "chain.country", chain.CSCA_CHAIN: "chain.csca_chain",
    chain.NOT_REVOKED: "chain.ds_not_revoked",
}
CHAIN_CHECK_IDS = (*_CHAIN_IDS.values(), "chain.crl")


def _trust(check_id: str, status: Status, reason: str) -> CheckResult:
    return _result(check_id, Group.TRUST, status, reason)


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


# --- data group hashes and EF.COM ---------------------------------------------------------------------------


def hash_checks(files: Mapping[str, bytes], sod: SOD | None, com: EFCOM | None, protected: frozenset[str]
                ) -> tuple[list[CheckResult], frozenset[str]]:
    """``hash.DGn`` for every data group in the SOD or the dump, and the unlisted extras to ignore."""
    present = {int(name[2:]) for name in files if name.startswith("DG")}
    if sod is None:
        return [_passive(f"hash.DG{n}", Status.UNKNOWN, f"DG{n} cannot be checked: no usable EF.SOD (see sod.decode)")
                for n in sorted(present)], frozenset()
    lso = sod.lds_security_object
    results, extras = [], set()
    for number in sorted(present | set(lso.dg_hashes)):
        name = f"DG{number}"
        if number not in lso.dg_hashes:
            listed = com is None or number in com.data_groups
            results.append(_unsigned(name, listed))
            if not listed:
                extras.add(name)
        elif name not in files:
            results.append(_absent(name, protected))
        else:
            results.append(_hash_match(number, files[name], lso.hash_algorithm, lso.dg_hashes[number]))
    return results, frozenset(extras)


def _unsigned(name: str, listed: bool) -> CheckResult:
    if listed:
        return _passive(f"hash.{name}", Status.FAIL, f"{name} is on the chip but not in the SOD: unsigned data")
    return _passive(f"hash.{name}", Status.WARN,
                    f"{name} is in the dump but listed in neither EF.COM nor the SOD: an extra file, ignored")


def _absent(name: str, protected: frozenset[str]) -> CheckResult:
    if name in protected and name in EAC_PROTECTED:
        return _passive(f"hash.{name}", Status.NOT_APPLICABLE,
                        f"{name} is protected on the chip (Terminal Authentication needed), so it was not read")
    if name in protected:
        return _passive(f"hash.{name}", Status.UNKNOWN,
                        f"the chip refused to give {name}, which only Terminal Authentication may protect "
                        f"({', '.join(sorted(EAC_PROTECTED))}): {name} cannot be verified")
    return _passive(f"hash.{name}", Status.UNKNOWN, f"{name} listed in SOD but not in the dump")


def _hash_match(number: int, data: bytes, algorithm: str, expected: bytes) -> CheckResult:
    content = DG_CONTENT.get(number, "its content")
    if digest(algorithm, data) != expected:
        return _passive(f"hash.DG{number}", Status.FAIL,
                        f"DG{number} hash does not match the SOD: {content} was altered after signing")
    return _passive(f"hash.DG{number}", Status.PASS, f"DG{number} {algorithm} hash matches the SOD")


def com_consistency(com: EFCOM | None, sod: SOD | None) -> CheckResult:
    """EF.COM and the SOD list the same data groups (TR-03105 LDS_H)."""
    if com is None or sod is None:
        missing = "EF.COM" if com is None else "EF.SOD"
        return _passive("com.sod_consistency", Status.NOT_APPLICABLE, f"{missing} did not decode or is absent")
    in_com, in_sod = set(com.data_groups), set(sod.lds_security_object.dg_hashes)
    if in_com == in_sod:
        return _passive("com.sod_consistency", Status.PASS, "EF.COM and the SOD list the same data groups")
    problems = [f"{', '.join(f'DG{n}' for n in sorted(only))} only in {where}"
                for only, where in ((in_com - in_sod, "EF.COM"), (in_sod - in_com, "the SOD")) if only]
    return _passive("com.sod_consistency", Status.FAIL, f"EF.COM and the SOD disagree: {'; '.join(problems)}")


# --- TR-03105 LDS_H: SOD and Document Signer structure ------------------------------------------------------


def sod_conformance(sod: SOD | None) -> list[CheckResult]:
    """SignedData v3, one SignerInfo, digest AlgorithmIdentifiers without NULL, an allowed hash algorithm."""
    ids = ("lds.sod.version", "lds.sod.signer_infos", "lds.sod.digest_parameters", "lds.sod.hash_algorithm")
    if sod is None:
        return [_conformance(check_id, Status.NOT_APPLICABLE, "no decoded EF.SOD (see sod.decode)") for check_id in ids]
    version = _conformance("lds.sod.version", Status.PASS if sod.version == 3 else Status.FAIL,
                           f"SignedData version {sod.version}" + ("" if sod.version == 3 else ", ICAO requires 3"))
    signers = _conformance("lds.sod.signer_infos", Status.PASS, "exactly one SignerInfo")
    return [version, signers, _digest_parameters(sod), _hash_algorithm(sod)]


def _digest_parameters(sod: SOD) -> CheckResult:
    with_null = sod.digest_identifiers_with_parameters
    if with_null:
        return _conformance("lds.sod.digest_parameters", Status.WARN,
                            f"{', '.join(with_null)} carry parameters (NULL); ICAO 9303-12 says to omit them")
    return _conformance("lds.sod.digest_parameters", Status.PASS, "digest AlgorithmIdentifiers omit parameters")


def _hash_algorithm(sod: SOD) -> CheckResult:
    names = {sod.lds_security_object.hash_algorithm, sod.digest_algorithm}
    if names <= set(ALLOWED_HASHES):
        return _conformance("lds.sod.hash_algorithm", Status.PASS, f"hash algorithm {', '.join(sorted(names))}")
    if names <= set(ALLOWED_HASHES + LEGACY_HASHES):
        return _conformance("lds.sod.hash_algorithm", Status.WARN, "SHA-1 is no longer allowed by ICAO 9303-12")
    return _conformance("lds.sod.hash_algorithm", Status.FAIL, f"hash algorithm(s) {', '.join(sorted(names))} "
                        f"not among {', '.join(ALLOWED_HASHES)}")


def dsc_conformance(signer: Certificate | None, dg1: DG1 | None) -> list[CheckResult]:
    """The DS certificate per ICAO 9303-12: critical digitalSignature, DocumentTypeList, country of DG1, no CA."""
    ids = ("lds.dsc.key_usage", "lds.dsc.document_types", "lds.dsc.country", "lds.dsc.basic_constraints")
    if signer is None:
        return [_conformance(check_id, Status.NOT_APPLICABLE, "no Document Signer certificate (see sod.signer)")
                for check_id in ids]
    wanted = dg1.mrz.document_code if dg1 is not None else "ID"
    return [_dsc_key_usage(signer), _dsc_document_types(signer.der, wanted), _dsc_country(signer, dg1),
            _dsc_basic_constraints(signer)]


@lru_cache(maxsize=64)
def _dsc_key_usage(signer: Certificate) -> CheckResult:
    """``lds.dsc.key_usage``, once per Document Signer (cached by its DER: certificates are equal by their bytes)."""
    parsed = asn1_x509.Certificate.load(signer.der)
    if not chain.has_key_usage_extension(signer):
        return _conformance("lds.dsc.key_usage", Status.WARN, NO_KEY_USAGE)
    if "digital_signature" not in signer.key_usage:
        return _conformance("lds.dsc.key_usage", Status.FAIL, "key usage lacks digitalSignature")
    if "key_usage" not in parsed.critical_extensions:
        return _conformance("lds.dsc.key_usage", Status.FAIL, "the key usage extension is not marked critical")
    return _conformance("lds.dsc.key_usage", Status.PASS, "key usage digitalSignature, critical")


def document_type_covers(entry: str, document_code: str) -> bool:
    """Whether a DocumentTypeList entry covers an MRZ document code (ICAO 9303-12 §7.1.1.3).

    An entry is the document code as in the MRZ, one or two characters; a single letter stands for every
    document type starting with it (``I`` covers ``ID`` and ``IP``, ``P`` covers ``PP``).
    """
    return entry == document_code or (len(entry) == 1 and document_code.startswith(entry))


@lru_cache(maxsize=64)
def _dsc_document_types(der: bytes, wanted: str) -> CheckResult:
    """``lds.dsc.document_types`` for document code ``wanted``, once per Document Signer DER and code."""
    parsed = asn1_x509.Certificate.load(der)
    extension = next((ext for ext in parsed["tbs_certificate"]["extensions"]
                      if ext["extn_id"].dotted == DOCUMENT_TYPE_LIST_OID), None)
    if extension is None:
        return _conformance("lds.dsc.document_types", Status.WARN, "no DocumentTypeList extension (ICAO 9303-12)")
    try:
        types, deviation = _document_type_list(extension["extn_value"].native)
    except (ValueError, TypeError, KeyError) as error:
        return _conformance("lds.dsc.document_types", Status.FAIL, f"DocumentTypeList is malformed: {error}")
    covering = sorted(entry for entry in types if document_type_covers(entry, wanted))
    problems = [] if covering else [f"it does not name {wanted!r}, the document's type"]
    problems += [deviation] if deviation else []
    if problems:
        return _conformance("lds.dsc.document_types", Status.WARN,
                            f"DocumentTypeList {sorted(types)}: {'; '.join(problems)}")
    return _conformance("lds.dsc.document_types", Status.PASS,
                        f"DocumentTypeList {sorted(types)} covers {wanted!r} (by {', '.join(covering)})")


class _VersionlessDocumentTypes(core.SequenceOf):  # type: ignore[misc]
    """``SEQUENCE OF PrintableString``: the DocumentTypeList of some states' DS certificates (seen: ID, PH)."""

    _child_spec = core.PrintableString


def _document_type_list(value: bytes) -> tuple[set[str], str | None]:
    """The document types of a DocumentTypeList extension value, and how it deviates from ICAO 9303-12, if it does.

    Genuine Document Signers of some states (Indonesia, the Philippines) omit the version and write the list as a
    SEQUENCE OF: the list is still readable, so it is matched with a warning rather than called malformed.
    """
    try:
        return set(DocumentTypeListSyntax.load(value).native["doc_type_list"]), None
    except (ValueError, TypeError, KeyError):
        types = _VersionlessDocumentTypes.load(value).native
    return set(types), "it has no version and is a SEQUENCE OF (ICAO 9303-12: SEQUENCE { version v0, SET OF })"


def _dsc_country(signer: Certificate, dg1: DG1 | None) -> CheckResult:
    if dg1 is None:
        return _conformance("lds.dsc.country", Status.NOT_APPLICABLE, "no decoded DG1 to compare with")
    state, country = dg1.mrz.issuing_state, signer.country or ""
    expected = ISSUING_STATE_COUNTRY.get(state)
    if country and (country == expected or (expected is None and state.startswith(country))):
        return _conformance("lds.dsc.country", Status.PASS, f"Document Signer country {country} issued {state}")
    if expected is None:
        return _conformance("lds.dsc.country", Status.WARN,
                            f"Document Signer country {country or 'missing'}; issuing state {state} is not one we map")
    return _conformance("lds.dsc.country", Status.FAIL,
                        f"Document Signer country {country or 'missing'} is not DG1's issuing state {state}")


def _dsc_basic_constraints(signer: Certificate) -> CheckResult:
    """ICAO 9303-12 DS profile: no basicConstraints, or cA FALSE; a Document Signer is an end entity."""
    if signer.is_ca:
        return _conformance("lds.dsc.basic_constraints", Status.FAIL,
                            "basicConstraints cA=TRUE: a Document Signer certificate must not be a CA (ICAO 9303-12 "
                            "DS profile), this one could issue certificates under the country's CSCA")
    return _conformance("lds.dsc.basic_constraints", Status.PASS, "not a CA (no basicConstraints, or cA FALSE)")


def signing_time_check(sod: SOD | None, signer: Certificate | None, at: datetime) -> CheckResult:
    """``lds.sod.signing_time``: the SOD's signingTime, when it has one, is not in the future and falls within
    the Document Signer's validity.

    ``at`` plus :data:`SIGNING_TIME_SKEW` bounds "the future", so a card made a moment ago and verified on a
    machine whose clock is slightly behind is not flagged; the certificate window is judged exactly, as
    ``chain.ds_validity`` judges it at the signing time.
    """
    if sod is None:
        return _conformance("lds.sod.signing_time", Status.NOT_APPLICABLE, "no decoded EF.SOD (see sod.decode)")
    signed = sod.signing_time
    if signed is None:
        return _conformance("lds.sod.signing_time", Status.PASS, "no signingTime attribute (optional, ICAO 9303-10)")
    problems = []
    if not signing_time_credible(signed, at):
        problems.append(f"{(signed - at).days} days after the time of verification ({at}): a SOD cannot be signed "
                        "in the future")
    if signer is not None and signed < signer.not_before:
        problems.append(f"before the Document Signer certificate was valid (notBefore {signer.not_before})")
    if signer is not None and signed > signer.not_after:
        problems.append(f"after the Document Signer certificate expired (notAfter {signer.not_after})")
    if problems:
        return _conformance("lds.sod.signing_time", Status.FAIL, f"signingTime {signed} is {'; and '.join(problems)}")
    return _conformance("lds.sod.signing_time", Status.PASS, f"signed {signed}, within the Document Signer's validity")


def signing_time_credible(signed: datetime, at: datetime) -> bool:
    """A signingTime no later than ``at`` plus :data:`SIGNING_TIME_SKEW`: one a verifier may judge validity at."""
    return signed <= at + SIGNING_TIME_SKEW


# --- all of it --------------------------------------------------------------------------------------------------


def passive_checks(files: Mapping[str, bytes], trust: TrustStore, *, at: datetime, com: EFCOM | None,
                   dg1: DG1 | None, protected: frozenset[str]) -> PassiveOutcome:
    """Every passive-authentication, chain and SOD/DSC conformance check over the files of one card."""
    sod, decoded = _decode_sod(files)
    checks = [decoded]
    signer = None
    if sod is None:
        skipped = "no decoded EF.SOD (see sod.decode)"
        checks += [_passive(check_id, Status.NOT_APPLICABLE, skipped)
                   for check_id in ("sod.content_type", "sod.signer", "sod.message_digest", "sod.signature")]
    else:
        signer, signer_check = _signer(sod)
        checks += [_content_type(sod), signer_check, _message_digest(sod), _signature(sod, signer)]
    signing_time = sod.signing_time if sod else None
    credible = signing_time if signing_time is not None and signing_time_credible(signing_time, at) else None
    checks += chain_checks(signer, trust, at, credible, document_expiry_date(dg1, at))
    hashes, extras = hash_checks(files, sod, com, protected)
    checks += [*hashes, com_consistency(com, sod), *sod_conformance(sod), signing_time_check(sod, signer, at),
               *dsc_conformance(signer, dg1)]
    return PassiveOutcome(tuple(checks), sod, signer, extras)
