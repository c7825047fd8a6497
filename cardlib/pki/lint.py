"""ICAO 9303-12 profile checks for CSCA, Document Signer and Master List Signer certificates and CRLs.

Each deviation is a :class:`Finding` naming the check, its severity and the clause it comes from
(Doc 9303 Part 12, 8th edition: §4 cryptographic algorithms, §7.1 certificate profile with its
extensions, §7.2 CRL profile, §9 master lists; RFC 5280 where 9303-12 defers to it).  ERROR marks what
breaks validation or the profile's mandatory fields; WARNING a deviation a verifier can live with;
INFO a practice worth knowing.  Lint never decides trust: it says what deviates, the operator decides.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509

from cardlib.errors import PKIError
from cardlib.lds.oids import (
    ID_BASIC_CONSTRAINTS,
    ID_CRL_DISTRIBUTION_POINTS,
    ID_DOCUMENT_TYPE_LIST,
    ID_KEY_USAGE,
    ID_MASTER_LIST_SIGNER,
)
from cardlib.pki.certificates import Certificate, RevocationList
from cardlib.pki.profile import DocumentTypeListSyntax
from cardlib.pki.signatures import resolve_algorithm

__all__ = ["Finding", "LintReport", "Role", "Severity", "lint_certificate", "lint_crl", "lint_many"]

_PROFILE = "9303-12 §7.1"
_EXTENSIONS = "9303-12 §7.1.1"
_CRL = "9303-12 §7.2"
_ALGORITHMS = "9303-12 §4"
_RFC5280 = "RFC 5280 §4.1.2"


class Severity(Enum):
    """How much a deviation matters."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Role(Enum):
    """Which ICAO 9303-12 profile a certificate is checked against."""

    CSCA = "CSCA"
    DOCUMENT_SIGNER = "Document Signer"
    MASTER_LIST_SIGNER = "Master List Signer"


@dataclass(frozen=True)
class Finding:
    """One deviation from the profile: which check, how bad, which clause, and what was found."""

    check: str
    severity: Severity
    clause: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity.value.upper()} {self.check} ({self.clause}): {self.message}"


@dataclass(frozen=True)
class LintReport:
    """The findings for one certificate or CRL; ``conforms`` when none is an ERROR."""

    subject: str
    role: str
    findings: tuple[Finding, ...]

    @property
    def conforms(self) -> bool:
        """No ERROR finding (warnings and notes allowed)."""
        return not any(finding.severity is Severity.ERROR for finding in self.findings)

    def to_text(self) -> str:
        """One line for the item, then one indented line per finding."""
        status = "conforms" if not self.findings else "conforms with remarks" if self.conforms else "DEVIATES"
        return "\n".join([f"{self.role} {self.subject}: {status}", *(f"  {finding}" for finding in self.findings)])


def role_of(certificate: Certificate) -> Role:
    """The profile a certificate claims: a CA is a CSCA, the master-list EKU a ML signer, else a DS."""
    if certificate.is_ca or "key_cert_sign" in certificate.key_usage:
        return Role.CSCA
    if ID_MASTER_LIST_SIGNER in certificate.extended_key_usage:
        return Role.MASTER_LIST_SIGNER
    return Role.DOCUMENT_SIGNER


class _Collector:
    """Accumulates findings; each check method adds one when its condition does not hold."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def require(self, ok: bool, check: str, severity: Severity, clause: str, message: str) -> None:
        if not ok:
            self.findings.append(Finding(check, severity, clause, message))


def lint_certificate(certificate: Certificate, role: Role | None = None) -> LintReport:
    """Check ``certificate`` against the 9303-12 profile of ``role`` (default: the role it claims)."""
    role = role or role_of(certificate)
    parsed = asn1_x509.Certificate.load(certificate.der)
    out = _Collector()
    _body(out, certificate, parsed)
    _names(out, certificate, parsed, role)
    _key(out, certificate)
    {Role.CSCA: _csca, Role.DOCUMENT_SIGNER: _document_signer, Role.MASTER_LIST_SIGNER: _ml_signer}[role](
        out, certificate)
    return LintReport(certificate.subject, role.value, tuple(out.findings))


def _body(out: _Collector, certificate: Certificate, parsed: asn1_x509.Certificate) -> None:
    tbs = parsed["tbs_certificate"]
    out.require(tbs["version"].native == "v3", "version", Severity.ERROR, _PROFILE,
                f"version {tbs['version'].native}, v3 required")
    serial = certificate.serial_number
    out.require(serial > 0 and serial.bit_length() <= 160, "serial number", Severity.ERROR, _RFC5280 + ".2",
                "serial must be positive and at most 20 octets")
    out.require(tbs["signature"].dump() == parsed["signature_algorithm"].dump(), "signature algorithm match",
                Severity.ERROR, _RFC5280 + ".3", "tbsCertificate.signature differs from signatureAlgorithm")
    try:
        resolve_algorithm(certificate.signature_algorithm)
    except PKIError as error:
        out.findings.append(Finding("signature algorithm", Severity.ERROR, _ALGORITHMS, str(error)))
    unique = [name for name in ("issuer_unique_id", "subject_unique_id") if tbs[name].native is not None]
    out.require(not unique, "unique identifiers", Severity.ERROR, _PROFILE, f"{', '.join(unique)} must not be used")
    for label in ("not_before", "not_after"):
        moment = tbs["validity"][label]
        expected = "utc_time" if moment.native.year < 2050 else "general_time"
        out.require(moment.name == expected, f"validity {label}", Severity.ERROR, _RFC5280 + ".5",
                    f"{label} encoded as {moment.name}, {expected} required for {moment.native.year}")


def _names(out: _Collector, certificate: Certificate, parsed: asn1_x509.Certificate, role: Role) -> None:
    for label, name in (("issuer", parsed.issuer), ("subject", parsed.subject)):
        countries = [attribute["value"] for rdn in name.chosen for attribute in rdn
                     if attribute["type"].native == "country_name"]
        if not countries:
            out.findings.append(Finding(f"{label} country", Severity.ERROR, _PROFILE, f"{label} has no countryName"))
            continue
        value = countries[0]
        out.require(value.name == "printable_string", f"{label} country", Severity.WARNING, _PROFILE,
                    f"{label} countryName is {value.name}, PrintableString required")
        text = value.native
        out.require(len(text) == 2 and text.isalpha() and text.isupper(), f"{label} country", Severity.ERROR,
                    _PROFILE, f"{label} countryName {text!r} is not two upper-case letters")
    issuer_country = parsed.issuer.native.get("country_name")
    out.require(str(issuer_country).upper() == str(certificate.country), "country match", Severity.ERROR, _PROFILE,
                f"subject country {certificate.country} differs from issuer country {issuer_country}")


def _key(out: _Collector, certificate: Certificate) -> None:
    try:
        certificate.public_key  # noqa: B018 - building the key is the check
    except PKIError as error:
        out.findings.append(Finding("public key", Severity.ERROR, _ALGORITHMS, str(error)))
        return
    info = asn1_x509.Certificate.load(certificate.der).public_key
    if info["algorithm"]["algorithm"].native == "ec":
        named = info["algorithm"]["parameters"].name == "named"
        out.require(not named, "EC domain parameters", Severity.WARNING, _ALGORITHMS,
                    "EC key uses a named curve; 9303-12 asks for explicit domain parameters")
    elif info["algorithm"]["algorithm"].native == "rsa":
        bits = info["public_key"].parsed["modulus"].native.bit_length()
        out.require(bits >= 2048, "RSA key size", Severity.WARNING, _ALGORITHMS, f"RSA modulus of {bits} bits")


def _extension_critical(certificate: Certificate, oid: str) -> bool | None:
    """Whether extension ``oid`` is marked critical; None when it is absent."""
    if oid not in certificate.extension_values:
        return None
    return oid in certificate.critical_extensions


def _key_usage(out: _Collector, certificate: Certificate, wanted: set[str]) -> None:
    critical = _extension_critical(certificate, ID_KEY_USAGE)
    usage = certificate.key_usage
    if critical is None:
        out.findings.append(Finding("key usage", Severity.ERROR, _EXTENSIONS, "keyUsage extension missing"))
        return
    out.require(critical, "key usage", Severity.ERROR, _EXTENSIONS, "keyUsage must be critical")
    out.require(usage == wanted, "key usage", Severity.ERROR, _EXTENSIONS,
                f"keyUsage {sorted(usage)}, profile requires exactly {sorted(wanted)}")


def _usage_period(out: _Collector, certificate: Certificate, limit: timedelta | None) -> None:
    try:
        period = certificate.private_key_usage_period
    except PKIError as error:
        out.findings.append(Finding("private key usage period", Severity.ERROR, _EXTENSIONS, str(error)))
        return
    if period is None:
        out.findings.append(Finding("private key usage period", Severity.WARNING, _EXTENSIONS,
                                    "privateKeyUsagePeriod extension missing"))
        return
    start, end = period
    if limit is not None and start is not None and end is not None:
        out.require(end - start <= limit, "private key usage period", Severity.WARNING, _EXTENSIONS,
                    f"key usable {(end - start).days} days, profile allows about {limit.days}")


def _csca(out: _Collector, certificate: Certificate) -> None:
    _key_usage(out, certificate, {"key_cert_sign", "crl_sign"})
    constraints = _extension_critical(certificate, ID_BASIC_CONSTRAINTS)
    out.require(constraints is True and certificate.is_ca, "basic constraints", Severity.ERROR, _EXTENSIONS,
                "basicConstraints must be present, critical, with cA TRUE")
    out.require(certificate.path_length in (0, None) or not certificate.is_ca, "path length", Severity.WARNING,
                _EXTENSIONS, f"pathLenConstraint {certificate.path_length}, 0 expected")
    out.require(certificate.subject_key_identifier is not None, "subject key identifier", Severity.ERROR,
                _EXTENSIONS, "subjectKeyIdentifier missing")
    if not certificate.is_self_issued or certificate.authority_key_identifier is not None:
        out.require(certificate.authority_key_identifier is not None, "authority key identifier", Severity.ERROR,
                    _EXTENSIONS, "link certificate without authorityKeyIdentifier")
    out.require(_extension_critical(certificate, ID_CRL_DISTRIBUTION_POINTS) is not None, "CRL distribution points",
                Severity.WARNING, _EXTENSIONS, "cRLDistributionPoints missing")
    out.require(not certificate.extended_key_usage, "extended key usage", Severity.WARNING, _EXTENSIONS,
                "a CSCA certificate carries no extendedKeyUsage")
    _usage_period(out, certificate, None)
    aki = certificate.authority_key_identifier
    if certificate.is_self_issued and aki in (None, certificate.subject_key_identifier):
        _self_signature(out, certificate)  # a self-issued link certificate (AKI ≠ SKI) is signed by the old key


def _self_signature(out: _Collector, certificate: Certificate) -> None:
    try:
        verified: bool | None = certificate.verify_issued_by(certificate)
    except PKIError:
        verified = None
    out.require(verified is not False, "self-signature", Severity.ERROR, _PROFILE, "self-signature does not verify")


def _document_signer(out: _Collector, certificate: Certificate) -> None:
    _key_usage(out, certificate, {"digital_signature"})
    out.require(not certificate.is_ca, "basic constraints", Severity.ERROR, _EXTENSIONS,
                "a Document Signer must not be a CA")
    out.require(certificate.authority_key_identifier is not None, "authority key identifier", Severity.ERROR,
                _EXTENSIONS, "authorityKeyIdentifier missing")
    out.require(not certificate.extended_key_usage, "extended key usage", Severity.WARNING, _EXTENSIONS,
                "a Document Signer certificate carries no extendedKeyUsage")
    _usage_period(out, certificate, timedelta(days=92))
    _document_types(out, certificate)


def _document_types(out: _Collector, certificate: Certificate) -> None:
    value = certificate.extension_values.get(ID_DOCUMENT_TYPE_LIST)
    if value is None:
        out.findings.append(Finding("document type list", Severity.WARNING, _EXTENSIONS + ".3",
                                    f"DocumentTypeList extension {ID_DOCUMENT_TYPE_LIST} missing"))
        return
    try:
        syntax = DocumentTypeListSyntax.load(value, strict=True)
        types = syntax["doc_type_list"].native
        version = syntax["version"].native
    except (ValueError, TypeError) as error:
        out.findings.append(Finding("document type list", Severity.ERROR, _EXTENSIONS + ".3",
                                    f"DocumentTypeList does not decode: {error}"))
        return
    out.require(version == 0 and bool(types), "document type list", Severity.ERROR, _EXTENSIONS + ".3",
                f"DocumentTypeList version {version} with {len(types)} types; v0 with at least one type required")


def _ml_signer(out: _Collector, certificate: Certificate) -> None:
    _key_usage(out, certificate, {"digital_signature"})
    out.require(ID_MASTER_LIST_SIGNER in certificate.extended_key_usage, "extended key usage", Severity.ERROR,
                "9303-12 §9", f"Master List Signer EKU {ID_MASTER_LIST_SIGNER} missing")
    out.require(certificate.authority_key_identifier is not None, "authority key identifier", Severity.ERROR,
                _EXTENSIONS, "authorityKeyIdentifier missing")


def lint_crl(crl: RevocationList, issuer: Certificate | None = None) -> LintReport:
    """Check a CRL against 9303-12 §7.2: v2, AKI, CRL number, nextUpdate ≤ 90 days; its signature when
    the issuing CSCA is given."""
    parsed = asn1_crl.CertificateList.load(crl.der)
    tbs = parsed["tbs_cert_list"]
    out = _Collector()
    out.require(tbs["version"].native == "v2", "version", Severity.ERROR, _CRL, f"version {tbs['version'].native}")
    out.require(crl.authority_key_identifier is not None, "authority key identifier", Severity.ERROR, _CRL,
                "authorityKeyIdentifier missing")
    out.require(crl.crl_number is not None, "CRL number", Severity.ERROR, _CRL, "cRLNumber missing")
    if crl.next_update is None:
        out.findings.append(Finding("next update", Severity.ERROR, _CRL, "nextUpdate missing"))
    else:
        days = (crl.next_update - crl.this_update).days
        out.require(days <= 90, "next update", Severity.WARNING, _CRL, f"CRL valid {days} days, at most 90 expected")
    if issuer is not None:
        try:
            verified: bool | None = crl.verify_issued_by(issuer)
        except PKIError:
            verified = None
        out.require(verified is True, "signature", Severity.ERROR, _CRL,
                    f"CRL signature does not verify under {issuer.subject}")
    return LintReport(crl.issuer, "CRL", tuple(out.findings))


def lint_many(certificates: Iterable[Certificate]) -> list[LintReport]:
    """A report per certificate, each against the profile it claims."""
    return [lint_certificate(certificate) for certificate in certificates]
