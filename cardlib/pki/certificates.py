"""X.509 certificates and CRLs as eMRTD PKIs issue them, loaded robustly.

Many real CSCA certificates (Vietnam's among them) carry EXPLICIT EC domain parameters, which the
:mod:`cryptography` backend refuses.  We therefore parse with asn1crypto, recognise explicit
parameters as a named curve through :func:`cardlib.curves.from_explicit`, and only then build a key.
Parameters equal to no named curve give a PKIError: such a key is never used to call anything valid.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, lru_cache
from typing import Any

from asn1crypto import algos, core, keys, pem
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cardlib.curves import Curve, by_oid, from_explicit
from cardlib.errors import PKIError
from cardlib.lds.asn1 import PARSE_ERRORS
from cardlib.lds.extensions import Extensions, certificate_extensions
from cardlib.lds.oids import (
    ID_AUTHORITY_KEY_IDENTIFIER,
    ID_BASIC_CONSTRAINTS,
    ID_EXTENDED_KEY_USAGE,
    ID_KEY_USAGE,
    ID_PRIVATE_KEY_USAGE_PERIOD,
    ID_SUBJECT_KEY_IDENTIFIER,
)
from cardlib.pki.names import NameKey, name_key, names_equal, readable_name
from cardlib.pki.signatures import ECPublicPoint, PublicKey, verify_signature

# Distinct certificates kept parsed: the Document Signers and CSCAs a batch meets are a handful.
CERTIFICATE_CACHE_SIZE = 256

@dataclass(frozen=True, eq=False)
class Certificate:
    """One X.509 certificate with the fields an eMRTD verifier needs, parsed up front.

    Two certificates are equal when their DER encodings are.  ``critical_extensions`` (dotted OIDs) and
    ``extension_values`` (each extnValue's contents by dotted OID) are read once from the DER, so a check can
    look at any extension without parsing the others: a malformed one then troubles only what reads it.

    Construct with :meth:`from_der`, :meth:`from_cryptography` or :func:`load_certificates`.
    """

    der: bytes
    subject: str
    issuer: str
    subject_key: NameKey
    issuer_key: NameKey
    subject_name: asn1_x509.Name
    issuer_name: asn1_x509.Name
    serial_number: int
    not_before: datetime
    not_after: datetime
    subject_key_identifier: bytes | None
    authority_key_identifier: bytes | None
    key_usage: frozenset[str]
    critical_extensions: frozenset[str]
    extension_values: Mapping[str, bytes]
    is_ca: bool
    path_length: int | None
    extended_key_usage: frozenset[str]
    tbs_bytes: bytes
    signature_algorithm: algos.SignedDigestAlgorithm
    signature: bytes
    _public_key_info: keys.PublicKeyInfo

    @classmethod
    def from_der(cls, der: bytes) -> Certificate:
        """Parse DER; PKIError (naming the problem) on anything that is not a well-formed certificate.

        The same bytes give the same (immutable) object, from a bounded cache: every card of a batch carries
        its Document Signer's certificate, and parsing it (and its key) per card cost more than the signature.
        """
        return _certificate(bytes(der))

    @classmethod
    def _from_parsed(cls, der: bytes, parsed: asn1_x509.Certificate) -> Certificate:
        tbs = parsed["tbs_certificate"]
        extensions = certificate_extensions(parsed)
        kept = _kept(extensions)
        constraints = kept.get(ID_BASIC_CONSTRAINTS)
        usage = kept.get(ID_KEY_USAGE)
        eku = kept.get(ID_EXTENDED_KEY_USAGE)
        ski = kept.get(ID_SUBJECT_KEY_IDENTIFIER)
        aki = kept.get(ID_AUTHORITY_KEY_IDENTIFIER)
        return cls(
            der=der, subject=readable_name(parsed.subject), issuer=readable_name(parsed.issuer),
            subject_key=name_key(parsed.subject), issuer_key=name_key(parsed.issuer),
            subject_name=parsed.subject, issuer_name=parsed.issuer, serial_number=parsed.serial_number,
            not_before=tbs["validity"]["not_before"].native, not_after=tbs["validity"]["not_after"].native,
            subject_key_identifier=ski.native if ski is not None else None,
            authority_key_identifier=aki["key_identifier"].native if aki is not None else None,
            key_usage=frozenset(usage.native) if usage is not None else frozenset(),
            critical_extensions=extensions.critical, extension_values=extensions.values,
            is_ca=bool(constraints is not None and constraints["ca"].native),
            path_length=constraints["path_len_constraint"].native if constraints is not None else None,
            extended_key_usage=_eku(eku),
            tbs_bytes=tbs.dump(), signature_algorithm=parsed["signature_algorithm"],
            signature=parsed["signature_value"].native, _public_key_info=tbs["subject_public_key_info"],
        )

    @classmethod
    def from_cryptography(cls, certificate: x509.Certificate) -> Certificate:
        """Wrap a :mod:`cryptography` certificate (e.g. one the test PKI generated)."""
        return cls.from_der(certificate.public_bytes(serialization.Encoding.DER))

    def to_cryptography(self) -> x509.Certificate:
        """The :mod:`cryptography` certificate object (its public_key() may fail on explicit parameters)."""
        return x509.load_der_x509_certificate(self.der)

    @property
    def country(self) -> str | None:
        """The subject's countryName (upper case), or None."""
        value = self.subject_name.native.get("country_name")
        return value.upper() if isinstance(value, str) else None

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the DER, hex: a stable name for reports."""
        return hashlib.sha256(self.der).hexdigest()

    @property
    def is_self_issued(self) -> bool:
        """Subject equals issuer (a root or a self-issued link certificate)."""
        return names_equal(self.subject_name, self.issuer_name)

    @property
    def has_key_usage(self) -> bool:
        """Whether the certificate has a keyUsage extension at all (an empty ``key_usage`` does not tell)."""
        return ID_KEY_USAGE in self.extension_values

    @cached_property
    def private_key_usage_period(self) -> tuple[datetime | None, datetime | None] | None:
        """The PrivateKeyUsagePeriod extension (2.5.29.16) as (notBefore, notAfter), or None when absent.

        ICAO 9303-12 limits how long a CSCA or Document Signer key may sign; after notAfter it must not.
        PKIError when the extension is malformed.
        """
        value = self.extension_values.get(ID_PRIVATE_KEY_USAGE_PERIOD)
        if value is None:
            return None
        try:
            period = asn1_x509.PrivateKeyUsagePeriod.load(value, strict=True)
            return period["not_before"].native, period["not_after"].native
        except PARSE_ERRORS as error:
            raise PKIError(f"{self.subject}: malformed private key usage period: {error}") from error

    @cached_property
    def curve(self) -> Curve | None:
        """The named curve of an EC key (recognised from explicit parameters too); None for RSA keys."""
        algorithm = self._public_key_info["algorithm"]
        if algorithm["algorithm"].native != "ec":
            return None
        return _curve_of(algorithm["parameters"])

    @cached_property
    def public_key(self) -> PublicKey:
        """The subject public key, ready for :func:`verify_signature`; PKIError if unusable.

        EC keys become :mod:`cryptography` keys where the backend has the curve, else
        :class:`ECPublicPoint` (python-ecdsa).  RSA keys are :mod:`cryptography` RSA keys.
        """
        try:
            return self._load_public_key()
        except PARSE_ERRORS as error:
            raise PKIError(f"{self.subject}: unusable public key: {error}") from error

    def _load_public_key(self) -> PublicKey:
        info = self._public_key_info
        kind = info["algorithm"]["algorithm"].native
        if kind == "rsa":
            parsed = info["public_key"].parsed
            return rsa.RSAPublicNumbers(parsed["public_exponent"].native, parsed["modulus"].native).public_key()
        if kind != "ec":
            raise PKIError(f"{self.subject}: unsupported public key algorithm {kind}")
        curve = self.curve
        assert curve is not None
        x, y = info["public_key"].to_coords()
        backend_curve = curve.crypto_curve
        if backend_curve is None:
            point = ECPublicPoint(curve, x, y)
            point.verifying_key()
            return point
        return ec.EllipticCurvePublicNumbers(x, y, backend_curve).public_key()

    def verify_issued_by(self, issuer: Certificate) -> bool:
        """Whether ``issuer``'s key verifies this certificate's signature (names are not compared here)."""
        return verify_signature(issuer.public_key, self.signature, self.tbs_bytes, self.signature_algorithm)

    def valid_at(self, at: datetime) -> bool:
        """Whether ``at`` lies within notBefore..notAfter."""
        return self.not_before <= at <= self.not_after

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Certificate) and other.der == self.der

    def __hash__(self) -> int:
        return hash(self.der)

    def __repr__(self) -> str:
        return f"Certificate(subject={self.subject!r}, serial={self.serial_number:#x})"


@lru_cache(maxsize=CERTIFICATE_CACHE_SIZE)
def _certificate(der: bytes) -> Certificate:
    """:meth:`Certificate.from_der`, cached by the exact bytes (a certificate that does not parse is not cached)."""
    try:
        return Certificate._from_parsed(der, asn1_x509.Certificate.load(der, strict=True))
    except PARSE_ERRORS as error:
        raise PKIError(f"malformed X.509 certificate: {error}") from error


# The extensions a Certificate keeps parsed, and how each value is read.
_EXTENSION_SPECS: dict[str, type[core.Asn1Value]] = {
    ID_SUBJECT_KEY_IDENTIFIER: core.OctetString, ID_KEY_USAGE: asn1_x509.KeyUsage,
    ID_BASIC_CONSTRAINTS: asn1_x509.BasicConstraints, ID_AUTHORITY_KEY_IDENTIFIER: asn1_x509.AuthorityKeyIdentifier,
    ID_EXTENDED_KEY_USAGE: asn1_x509.ExtKeyUsageSyntax,
}


def _kept(extensions: Extensions) -> dict[str, Any]:
    """The values of the extensions a Certificate keeps, parsed (each alone: see :mod:`cardlib.lds.extensions`)."""
    return {oid: spec.load(extensions.values[oid], strict=True) for oid, spec in _EXTENSION_SPECS.items()
            if oid in extensions.values}


def _eku(eku: asn1_x509.ExtKeyUsageSyntax | None) -> frozenset[str]:
    return frozenset() if eku is None else frozenset(purpose.dotted for purpose in eku)


def _curve_of(parameters: keys.ECDomainParameters) -> Curve:
    """The named curve of an ECParameters choice: a named OID, or explicit values matching one."""
    if parameters.name == "named":
        return by_oid(parameters.chosen.dotted)
    if parameters.name != "specified":
        raise PKIError("EC key with implicitCA domain parameters cannot be checked")
    specified = parameters.chosen
    if specified["field_id"]["field_type"].native != "prime_field":
        raise PKIError("EC key over a characteristic-two field is not supported")
    prime = specified["field_id"]["parameters"].native
    gx, gy = keys.ECPointBitString(specified["base"].native).to_coords()
    a = int.from_bytes(specified["curve"]["a"].native, "big")
    b = int.from_bytes(specified["curve"]["b"].native, "big")
    return from_explicit(prime, a, b, gx, gy, specified["order"].native)


@dataclass(frozen=True, eq=False)
class RevocationList:
    """A CRL (RFC 5280 CertificateList) as an eMRTD verifier uses it."""

    der: bytes
    issuer: str
    issuer_key: NameKey
    issuer_name: asn1_x509.Name
    authority_key_identifier: bytes | None
    crl_number: int | None
    this_update: datetime
    next_update: datetime | None
    revoked_serials: frozenset[int]
    tbs_bytes: bytes
    signature_algorithm: algos.SignedDigestAlgorithm
    signature: bytes

    @classmethod
    def from_der(cls, der: bytes) -> RevocationList:
        """Parse DER; PKIError on anything that is not a well-formed CRL."""
        try:
            parsed = asn1_crl.CertificateList.load(der, strict=True)
            tbs = parsed["tbs_cert_list"]
            next_update = tbs["next_update"].native
            return cls(
                der=bytes(der), issuer=readable_name(parsed.issuer), issuer_key=name_key(parsed.issuer),
                issuer_name=parsed.issuer,
                authority_key_identifier=parsed.authority_key_identifier,
                crl_number=parsed.crl_number_value.native if parsed.crl_number_value is not None else None,
                this_update=tbs["this_update"].native, next_update=next_update,
                revoked_serials=frozenset(entry["user_certificate"].native for entry in tbs["revoked_certificates"]),
                tbs_bytes=tbs.dump(), signature_algorithm=parsed["signature_algorithm"],
                signature=parsed["signature"].native,
            )
        except PARSE_ERRORS as error:
            raise PKIError(f"malformed CRL: {error}") from error

    @classmethod
    def from_cryptography(cls, crl: x509.CertificateRevocationList) -> RevocationList:
        """Wrap a :mod:`cryptography` CRL (e.g. one the test PKI generated)."""
        return cls.from_der(crl.public_bytes(serialization.Encoding.DER))

    def verify_issued_by(self, issuer: Certificate) -> bool:
        """Whether ``issuer``'s key verifies this CRL's signature."""
        return verify_signature(issuer.public_key, self.signature, self.tbs_bytes, self.signature_algorithm)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RevocationList) and other.der == self.der

    def __hash__(self) -> int:
        return hash(self.der)

    def __repr__(self) -> str:
        return f"RevocationList(issuer={self.issuer!r}, number={self.crl_number}, revoked={len(self.revoked_serials)})"


def pem_blocks(data: bytes) -> Iterator[tuple[str, bytes]]:
    """Each (type name, DER) PEM block in ``data``; PKIError on a damaged block."""
    try:
        yield from ((kind, der) for kind, _headers, der in pem.unarmor(data, multiple=True))
    except PARSE_ERRORS as error:
        raise PKIError(f"malformed PEM: {error}") from error


def load_certificates(data: bytes, source: str = "input") -> list[Certificate]:
    """Every certificate in ``data``: one DER certificate, or PEM with one or more CERTIFICATE blocks.

    Non-certificate PEM blocks (keys, CRLs) are skipped; no certificate at all is a PKIError.
    """
    if pem.detect(data):
        found = [Certificate.from_der(der) for kind, der in pem_blocks(data) if kind == "CERTIFICATE"]
    else:
        found = [Certificate.from_der(data)]
    if not found:
        raise PKIError(f"{source}: no certificate found")
    return found


class IssuerIndex:
    """Certificates indexed to find the possible issuers of a certificate or CRL without comparing every name.

    RFC 5280 §4.2.1.1: the authority key identifier names the issuer's key (its subject key identifier).
    When the issued object has one, a certificate with another key identifier is not its issuer, whatever
    its name: that is how a CSCA key rollover (same name, new key) is told apart.  Without an authority key
    identifier only the name (RFC 5280 §7.1 comparison) can tell.
    """

    def __init__(self, certificates: Iterable[Certificate] = ()) -> None:
        self.certificates: tuple[Certificate, ...] = tuple(dict.fromkeys(certificates))
        self._by_key: dict[bytes, list[Certificate]] = {}
        self._by_name: dict[NameKey, list[Certificate]] = {}
        for certificate in self.certificates:
            self._by_name.setdefault(certificate.subject_key, []).append(certificate)
            if certificate.subject_key_identifier is not None:
                self._by_key.setdefault(certificate.subject_key_identifier, []).append(certificate)
        self._members = frozenset(self.certificates)

    def __contains__(self, certificate: object) -> bool:
        return certificate in self._members

    def __len__(self) -> int:
        return len(self.certificates)

    def issuers(self, issued: Certificate | RevocationList) -> tuple[list[Certificate], list[Certificate]]:
        """``(named, possible)`` issuers of a certificate or CRL, self-issued certificates first.

        ``named`` hold the key it names: its authority key identifier matches, or, when it has none, its
        issuer name does.  ``possible`` are certificates with the right name but no subject key identifier,
        which the authority key identifier therefore cannot rule out.
        """
        same_name = self.named(issued.issuer_name, issued.issuer_key)
        if issued.authority_key_identifier is None:
            return _self_issued_first(same_name), []
        named = _self_issued_first(self._by_key.get(issued.authority_key_identifier, []))
        return named, [c for c in same_name if c.subject_key_identifier is None]

    def named(self, name: asn1_x509.Name, key: NameKey | None = None) -> list[Certificate]:
        """Every certificate whose subject is ``name`` (RFC 5280 §7.1 comparison), whatever its key.

        Looked up by ``key`` (:func:`name_key` of ``name`` unless given), confirmed by asn1crypto's comparison.
        """
        candidates = self._by_name.get(key if key is not None else name_key(name), [])
        return [c for c in candidates if names_equal(c.subject_name, name)]


def _self_issued_first(certificates: list[Certificate]) -> list[Certificate]:
    return sorted(certificates, key=lambda certificate: not certificate.is_self_issued)
