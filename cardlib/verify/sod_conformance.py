"""The SOD and Document Signer rules of BSI TR-03105 LDS_H (``lds.sod.*``, ``lds.dsc.*``), in the CONFORMANCE
group: SignedData version, one SignerInfo, digest AlgorithmIdentifiers, hash algorithm, signingTime; the Document
Signer certificate's key usage, DocumentTypeList, country and basic constraints (ICAO 9303-12 DS profile).
:func:`cardlib.verify.passive.passive_checks` runs them beside the signature they concern.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from asn1crypto import core

from cardlib.lds.asn1 import PARSE_ERRORS
from cardlib.lds.dg1 import DG1
from cardlib.lds.oids import ID_DOCUMENT_TYPE_LIST, ID_KEY_USAGE
from cardlib.lds.sod import SOD
from cardlib.pki.certificates import Certificate
from cardlib.pki.profile import DocumentTypeListSyntax
from cardlib.pki.trust import has_key_usage_extension
from cardlib.verify.chain import NO_KEY_USAGE, signing_time_credible
from cardlib.verify.decoded import conformance_result as _conformance
from cardlib.verify.report import CheckResult, Status

# Hashes ICAO 9303-12 allows for SODs; SHA-1 appears on early passports and is only warned about.
ALLOWED_HASHES = ("sha224", "sha256", "sha384", "sha512")
LEGACY_HASHES = ("sha1",)
# ICAO 9303-3 codes whose alpha-2 country is not the first two letters, plus the codes of the test data.
ISSUING_STATE_COUNTRY = {"VNM": "VN", "D": "DE", "DEU": "DE", "NLD": "NL", "GBR": "GB", "UTO": "UT"}


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
    return [_dsc_key_usage(signer), _dsc_document_types(signer, wanted), _dsc_country(signer, dg1),
            _dsc_basic_constraints(signer)]


@lru_cache(maxsize=64)
def _dsc_key_usage(signer: Certificate) -> CheckResult:
    """``lds.dsc.key_usage``, once per Document Signer (cached by its DER: certificates are equal by their bytes)."""
    if not has_key_usage_extension(signer):
        return _conformance("lds.dsc.key_usage", Status.WARN, NO_KEY_USAGE)
    if "digital_signature" not in signer.key_usage:
        return _conformance("lds.dsc.key_usage", Status.FAIL, "key usage lacks digitalSignature")
    if ID_KEY_USAGE not in signer.critical_extensions:
        return _conformance("lds.dsc.key_usage", Status.FAIL, "the key usage extension is not marked critical")
    return _conformance("lds.dsc.key_usage", Status.PASS, "key usage digitalSignature, critical")


def document_type_covers(entry: str, document_code: str) -> bool:
    """Whether a DocumentTypeList entry covers an MRZ document code (ICAO 9303-12 §7.1.1.3).

    An entry is the document code as in the MRZ, one or two characters; a single letter stands for every
    document type starting with it (``I`` covers ``ID`` and ``IP``, ``P`` covers ``PP``).
    """
    return entry == document_code or (len(entry) == 1 and document_code.startswith(entry))


@lru_cache(maxsize=64)
def _dsc_document_types(signer: Certificate, wanted: str) -> CheckResult:
    """``lds.dsc.document_types`` for document code ``wanted``, once per Document Signer and code."""
    value = signer.extension_values.get(ID_DOCUMENT_TYPE_LIST)
    if value is None:
        return _conformance("lds.dsc.document_types", Status.WARN, "no DocumentTypeList extension (ICAO 9303-12)")
    try:
        types, deviation = _document_type_list(value)
    except PARSE_ERRORS as error:
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
