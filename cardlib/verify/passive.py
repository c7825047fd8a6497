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

The chain checks live in :mod:`cardlib.verify.chain` (with how trust and revocation are judged), the SOD and
Document Signer rules of TR-03105 LDS_H (``lds.sod.*``, ``lds.dsc.*``) in :mod:`cardlib.verify.sod_conformance`;
:func:`passive_checks` runs them all, in that order, next to the signature they concern.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import algos

from cardlib.errors import CardlibError, PKIError, ValidationError
from cardlib.lds.asn1 import PARSE_ERRORS, algorithm_identifier_der
from cardlib.lds.com import EFCOM
from cardlib.lds.dg1 import DG1
from cardlib.lds.oids import ID_DATA, ID_LDS_SECURITY_OBJECT, ID_LDS_SECURITY_OBJECT_LEGACY
from cardlib.lds.signeddata import digest
from cardlib.lds.sod import SOD
from cardlib.pki.certificates import Certificate
from cardlib.pki.signatures import verify_signature
from cardlib.pki.trust import TrustStore
from cardlib.verify.chain import chain_checks, document_expiry_date, signing_time_credible
from cardlib.verify.report import CheckResult, Group, Status
from cardlib.verify.sod_conformance import dsc_conformance, signing_time_check, sod_conformance

# What each data group holds, to say what a hash mismatch means.
DG_CONTENT = {1: "the MRZ", 2: "the portrait", 3: "the fingerprints", 13: "the resident data",
              14: "the Chip Authentication key", 15: "the Active Authentication key"}
# The biometrics Extended Access Control protects (ICAO 9303-11 §7.1): the only files a genuine chip refuses
# after BAC/PACE.  A chip refusing any other signed file is hiding it.
EAC_PROTECTED = frozenset({"DG3", "DG4"})


def _passive(check_id: str, status: Status, reason: str) -> CheckResult:
    return CheckResult(check_id, Group.PASSIVE, status, reason)


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
    except (CardlibError, *PARSE_ERRORS) as error:
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
