"""The ICAO 9303-12 certificate profile of a country signing PKI: key specs, CSCA, Document Signer and CRL.

Used in production (:mod:`cardlib.pki.operations`, :mod:`cardlib.pki.hsm`) as in tests
(:mod:`cardlib.testing.pki`), and read back by the linter and the verifier (the DocumentTypeList
extension).  Defaults mirror the real Vietnamese card: CSCA brainpoolP512r1 with SHA-512, Document
Signer brainpoolP384r1 (SHA-384 signatures on the SOD).  The profile follows ``cccd-chip.md`` "PKI
profile": CSCA keyUsage critical {keyCertSign, cRLSign}, basicConstraints critical cA pathLen 0, SKI,
private key usage period, CRL distribution points; DS keyUsage critical {digitalSignature}, AKI, SKI,
private key usage period ≤ 3 months, DocumentTypeList (2.23.136.1.1.6.2), no EKU; CRL v2 with AKI and
CRL number.  Validity rules (CSCA 13–15 years, DS key ≤ 3 months, CRL ≤ 90 days) are checked by
:class:`PKIConfig`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from asn1crypto import core, keys
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier

from cardlib.curves import by_name
from cardlib.errors import PKIError
from cardlib.lds.oids import ID_DOCUMENT_TYPE_LIST, ID_PRIVATE_KEY_USAGE_PERIOD
from cardlib.lds.tlv import encode_tlv
from cardlib.pki.signatures import PrivateKey, Scheme, SignatureAlgorithm, sign

__all__ = ["CertificatePublicKey", "DocumentTypeListSyntax", "FileKey", "KeySpec",
           "PKIConfig", "SigningKey", "issue_crl", "issue_csca", "issue_document_signer", "next_crl"]

CertificatePublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey



class _DocumentTypes(core.SetOf):  # type: ignore[misc]
    _child_spec = core.PrintableString


class DocumentTypeListSyntax(core.Sequence):  # type: ignore[misc]
    """ICAO 9303-12 §7.1.1.3: ``SEQUENCE { version INTEGER (v0), docTypeList SET OF PrintableString }``."""

    _fields = [("version", core.Integer), ("doc_type_list", _DocumentTypes)]  # noqa: RUF012


@dataclass(frozen=True)
class KeySpec:
    """Which key to generate and how that key signs: an EC curve or an RSA size, the scheme and the hash."""

    curve: str | None = "brainpoolP512r1"
    rsa_bits: int | None = None
    scheme: Scheme = Scheme.ECDSA
    hash_name: str = "sha512"

    @classmethod
    def ec(cls, curve: str, hash_name: str) -> KeySpec:
        """An ECDSA key on a named curve (NIST P-256/384/521, brainpoolP256/384/512r1)."""
        by_name(curve).require_crypto_curve()
        return cls(curve=curve, hash_name=hash_name)

    @classmethod
    def rsa(cls, bits: int, hash_name: str, *, pss: bool = True) -> KeySpec:
        """An RSA key (2048/3072/4096 bits) signing with RSA-PSS or PKCS#1 v1.5."""
        if bits not in (2048, 3072, 4096):
            raise PKIError(f"RSA key size {bits} is not one of 2048, 3072, 4096")
        return cls(curve=None, rsa_bits=bits, scheme=Scheme.RSA_PSS if pss else Scheme.RSA_PKCS1V15,
                   hash_name=hash_name)

    @classmethod
    def parse(cls, text: str) -> KeySpec:
        """``brainpoolP256r1:sha256``, ``secp384r1:sha384``, ``rsa3072-pss:sha256``, ``rsa2048-pkcs1:sha256``."""
        algorithm, _, hash_name = text.partition(":")
        hash_name = hash_name or "sha256"
        if algorithm.lower().startswith("rsa"):
            size, _, padding = algorithm[3:].partition("-")
            if not size.isdigit() or padding not in ("", "pss", "pkcs1"):
                raise PKIError(f"key spec {text!r}: expected rsaBITS[-pss|-pkcs1]:HASH")
            return cls.rsa(int(size), hash_name, pss=padding != "pkcs1")
        return cls.ec(algorithm, hash_name)

    @property
    def text(self) -> str:
        """The spec in the form :meth:`parse` reads."""
        if self.curve is not None:
            return f"{self.curve}:{self.hash_name}"
        padding = "pss" if self.scheme is Scheme.RSA_PSS else "pkcs1"
        return f"rsa{self.rsa_bits}-{padding}:{self.hash_name}"

    @property
    def algorithm(self) -> SignatureAlgorithm:
        """The signature algorithm keys of this spec sign with."""
        return SignatureAlgorithm(self.scheme, self.hash_name)

    def generate(self) -> PrivateKey:
        """A fresh private key of this spec."""
        if self.curve is not None:
            return ec.generate_private_key(by_name(self.curve).require_crypto_curve())
        if self.rsa_bits is None:
            raise PKIError("key spec names neither a curve nor an RSA size")
        return rsa.generate_private_key(public_exponent=65537, key_size=self.rsa_bits)


@dataclass(frozen=True)
class PKIConfig:
    """Everything a PKI's creation needs; defaults are those of the Vietnamese CCCD."""

    csca_key: KeySpec = field(default_factory=KeySpec)
    ds_key: KeySpec = field(default_factory=lambda: KeySpec.ec("brainpoolP384r1", "sha384"))
    country: str = "VN"
    organisation: str = "Test Ministry of Public Security"
    csca_common_name: str = "Test CSCA Vietnam"
    ds_common_name: str = "Test Document Signer CCCD"
    csca_validity_years: int = 14
    csca_key_usage_years: int = 3
    ds_validity_years: int = 10
    ds_key_usage_days: int = 90
    crl_validity_days: int = 90
    crl_distribution_url: str = "http://pki.example.invalid/csca-vn.crl"
    document_types: tuple[str, ...] = ("ID",)

    def __post_init__(self) -> None:
        if len(self.country) != 2 or not self.country.isalpha() or not self.country.isupper():
            raise PKIError(f"country must be two upper-case letters, got {self.country!r}")
        if not 13 <= self.csca_validity_years <= 15:
            raise PKIError("ICAO 9303-12: CSCA validity must be 13 to 15 years")
        if not 0 < self.ds_key_usage_days <= 92:
            raise PKIError("ICAO 9303-12: a Document Signer key is used at most 3 months")
        if not 0 < self.crl_validity_days <= 90:
            raise PKIError("ICAO 9303-12: a CRL is reissued at least every 90 days")


def _years(start: datetime, years: int) -> datetime:
    return start.replace(year=start.year + years, day=min(start.day, 28))


def _name(config: PKIConfig, common_name: str) -> x509.Name:
    """C (PrintableString, upper case), O, CN — the same country in issuer and subject."""
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, config.country),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, config.organisation),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _private_key_usage_period(start: datetime, end: datetime) -> x509.UnrecognizedExtension:
    value = asn1_x509.PrivateKeyUsagePeriod({"not_before": start, "not_after": end})
    return x509.UnrecognizedExtension(ObjectIdentifier(ID_PRIVATE_KEY_USAGE_PERIOD), value.dump())


def _document_type_list(types: tuple[str, ...]) -> x509.UnrecognizedExtension:
    value = DocumentTypeListSyntax({"version": 0, "doc_type_list": list(types)})
    return x509.UnrecognizedExtension(ObjectIdentifier(ID_DOCUMENT_TYPE_LIST), value.dump())


def _key_usage(*, signature: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signature, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=not signature, crl_sign=not signature, encipher_only=False,
        decipher_only=False,
    )


class SigningKey(Protocol):
    """A private key as certificate issuance needs it: its public half and a signing operation.

    The key may live in this process (:class:`FileKey`) or in an HSM (``cardlib.pki.hsm.TokenKey``), so
    certificates and CRLs are built here once, whichever holds the key.
    """

    def public_key(self) -> CertificatePublicKey: ...

    def sign(self, data: bytes, algorithm: SignatureAlgorithm) -> bytes: ...


@dataclass(frozen=True, repr=False)
class FileKey:
    """A :class:`SigningKey` over a private key held in memory (development keys read from files)."""

    private_key: PrivateKey

    def public_key(self) -> CertificatePublicKey:
        """The public half, for the certificate's subjectPublicKeyInfo."""
        return self.private_key.public_key()

    def sign(self, data: bytes, algorithm: SignatureAlgorithm) -> bytes:
        """Sign ``data`` through :func:`cardlib.pki.signatures.sign` (ECDSA in DER form)."""
        return sign(self.private_key, data, algorithm.scheme, algorithm.hash_name)

    def __repr__(self) -> str:
        return f"FileKey({type(self.private_key).__name__})"


def _time(moment: datetime) -> asn1_x509.Time:
    """UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5)."""
    return asn1_x509.Time({"utc_time" if moment.year < 2050 else "general_time": moment})


def _asn1_name(name: x509.Name) -> asn1_x509.Name:
    return asn1_x509.Name.load(name.public_bytes())


def _extensions(items: list[tuple[x509.ExtensionType, bool]]) -> bytes:
    """DER Extensions from :mod:`cryptography` extension values and their criticality (FALSE left implicit)."""
    encoded = b"".join(
        encode_tlv(0x30, core.ObjectIdentifier(value.oid.dotted_string).dump()
                   + (core.Boolean(True).dump() if critical else b"") + core.OctetString(value.public_bytes()).dump())
        for value, critical in items
    )
    return encode_tlv(0x30, encoded)


def _certificate(
    subject: x509.Name, issuer: x509.Name, public_key: CertificatePublicKey, validity: tuple[datetime, datetime],
    extensions: list[tuple[x509.ExtensionType, bool]], issuer_key: SigningKey, algorithm: SignatureAlgorithm,
) -> x509.Certificate:
    """Build the TBSCertificate, have ``issuer_key`` sign it with ``algorithm``, and return the certificate."""
    spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    tbs = asn1_x509.TbsCertificate({
        "version": "v3", "serial_number": x509.random_serial_number(), "signature": algorithm.identifier(),
        "issuer": _asn1_name(issuer), "validity": {"not_before": _time(validity[0]), "not_after": _time(validity[1])},
        "subject": _asn1_name(subject), "subject_public_key_info": keys.PublicKeyInfo.load(spki),
        "extensions": asn1_x509.Extensions.load(_extensions(extensions)),
    })
    signature = issuer_key.sign(tbs.dump(), algorithm)
    certificate = asn1_x509.Certificate({
        "tbs_certificate": tbs, "signature_algorithm": algorithm.identifier(), "signature_value": signature})
    return x509.load_der_x509_certificate(certificate.dump())


def issue_csca(config: PKIConfig, key: SigningKey, now: datetime) -> x509.Certificate:
    """A self-signed CSCA certificate for ``key``, valid and usable from ``now`` per ``config``."""
    name = _name(config, config.csca_common_name)
    public = key.public_key()
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (_key_usage(signature=False), True),
        (x509.BasicConstraints(ca=True, path_length=0), True),
        (x509.SubjectKeyIdentifier.from_public_key(public), False),
        (_private_key_usage_period(now, _years(now, config.csca_key_usage_years)), False),
        (x509.CRLDistributionPoints([x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(config.crl_distribution_url)],
            relative_name=None, reasons=None, crl_issuer=None)]), False),
    ]
    validity = (now, _years(now, config.csca_validity_years))
    return _certificate(name, name, public, validity, extensions, key, config.csca_key.algorithm)


def issue_document_signer(
    config: PKIConfig, csca: x509.Certificate, csca_key: SigningKey, public_key: CertificatePublicKey,
    now: datetime, common_name: str,
) -> x509.Certificate:
    """A Document Signer certificate for ``public_key``, signed by the CSCA; its key may sign SODs for
    ``config.ds_key_usage_days`` from ``now`` (the private key usage period)."""
    csca_ski = csca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (_key_usage(signature=True), True),
        (x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(csca_ski), False),
        (x509.SubjectKeyIdentifier.from_public_key(public_key), False),
        (_private_key_usage_period(now, now + timedelta(days=config.ds_key_usage_days)), False),
        (_document_type_list(config.document_types), False),
    ]
    validity = (now, _years(now, config.ds_validity_years))
    return _certificate(_name(config, common_name), csca.subject, public_key, validity, extensions, csca_key,
                        config.csca_key.algorithm)


def issue_crl(
    config: PKIConfig, csca: x509.Certificate, csca_key: SigningKey, now: datetime, number: int,
    revoked: Iterable[x509.RevokedCertificate],
) -> x509.CertificateRevocationList:
    """A v2 CRL numbered ``number`` listing ``revoked``, valid ``config.crl_validity_days`` from ``now``."""
    csca_ski = csca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    algorithm = config.csca_key.algorithm
    fields: dict[str, object] = {
        "version": "v2", "signature": algorithm.identifier(), "issuer": _asn1_name(csca.subject),
        "this_update": _time(now), "next_update": _time(now + timedelta(days=config.crl_validity_days)),
        "crl_extensions": asn1_crl.TBSCertListExtensions.load(_extensions([
            (x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(csca_ski), False),
            (x509.CRLNumber(number), False)])),
    }
    entries = [{"user_certificate": entry.serial_number, "revocation_date": _time(entry.revocation_date_utc)}
               for entry in revoked]
    if entries:
        fields["revoked_certificates"] = entries
    tbs = asn1_crl.TbsCertList(fields)
    crl = asn1_crl.CertificateList({
        "tbs_cert_list": tbs, "signature_algorithm": algorithm.identifier(),
        "signature": csca_key.sign(tbs.dump(), algorithm)})
    return x509.load_der_x509_crl(crl.dump())


def next_crl(
    config: PKIConfig, csca: x509.Certificate, csca_key: SigningKey, previous: x509.CertificateRevocationList,
    revoke: Iterable[int], now: datetime,
) -> x509.CertificateRevocationList:
    """The CRL following ``previous``: next CRL number, its entries kept, the serials in ``revoke`` added."""
    listed = {entry.serial_number for entry in previous}
    added = [x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
             for serial in dict.fromkeys(revoke) if serial not in listed]
    number = previous.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number + 1
    return issue_crl(config, csca, csca_key, now, number, [*previous, *added])
