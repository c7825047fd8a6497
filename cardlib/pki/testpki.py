"""A complete test country-signing PKI: CSCA, Document Signer and CRL profiled per ICAO 9303-12.

For development and tests only: :meth:`TestPKI.save` writes private keys unencrypted (mode 0600).
Defaults mirror the real Vietnamese card: CSCA brainpoolP512r1 with SHA-512, Document Signer
brainpoolP384r1 (SHA-384 signatures on the SOD).  The profile follows ``cccd-chip.md`` "PKI profile":
CSCA keyUsage critical {keyCertSign, cRLSign}, basicConstraints critical cA pathLen 0, SKI, private key
usage period, CRL distribution points; DS keyUsage critical {digitalSignature}, AKI, SKI, private key
usage period ≤ 3 months, DocumentTypeList (2.23.136.1.1.6.2), no EKU; CRL v2 with AKI and CRL number.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol, TypeVar

from asn1crypto import core, keys
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier

from cardlib.curves import by_name
from cardlib.errors import PKIError
from cardlib.lds.tlv import encode_tlv
from cardlib.pki.signatures import DocumentSigner, PrivateKey, Scheme, SignatureAlgorithm, sign

__all__ = ["DocumentSigner", "FileKey", "KeySpec", "PKIConfig", "SigningKey", "TestPKI", "issue_crl", "issue_csca",
           "issue_document_signer", "next_crl"]

CertificatePublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

_T = TypeVar("_T")

DOCUMENT_TYPE_LIST_OID = "2.23.136.1.1.6.2"
PRIVATE_KEY_USAGE_PERIOD_OID = "2.5.29.16"


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
    """Everything :meth:`TestPKI.generate` needs; defaults are those of the Vietnamese CCCD."""

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
    return x509.UnrecognizedExtension(ObjectIdentifier(PRIVATE_KEY_USAGE_PERIOD_OID), value.dump())


def _document_type_list(types: tuple[str, ...]) -> x509.UnrecognizedExtension:
    value = DocumentTypeListSyntax({"version": 0, "doc_type_list": list(types)})
    return x509.UnrecognizedExtension(ObjectIdentifier(DOCUMENT_TYPE_LIST_OID), value.dump())


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


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).replace(microsecond=0)


@dataclass(frozen=True, repr=False)
class TestPKI:
    """A generated CSCA with its key, the current Document Signer with its key, and the CSCA's CRL."""

    __test__ = False  # not a pytest test class, despite the name

    config: PKIConfig
    csca_certificate: x509.Certificate
    csca_key: PrivateKey
    ds_certificate: x509.Certificate
    ds_key: PrivateKey
    crl: x509.CertificateRevocationList

    @classmethod
    def generate(cls, config: PKIConfig | None = None, *, now: datetime | None = None) -> TestPKI:
        """Generate the CSCA, one DS and an empty CRL, all valid from ``now`` (default: the current time)."""
        config = config or PKIConfig()
        start = _now(now)
        csca_key = config.csca_key.generate()
        csca = issue_csca(config, FileKey(csca_key), start)
        ds_key = config.ds_key.generate()
        ds = issue_document_signer(config, csca, FileKey(csca_key), ds_key.public_key(), start, config.ds_common_name)
        crl = issue_crl(config, csca, FileKey(csca_key), start, 1, [])
        return cls(config, csca, csca_key, ds, ds_key, crl)

    @property
    def document_signer(self) -> DocumentSigner:
        """The current DS, ready to sign SODs with the DS key spec's algorithm."""
        return DocumentSigner(self.ds_certificate, self.ds_key, self.config.ds_key.algorithm)

    def rotate_document_signer(self, *, now: datetime | None = None, common_name: str | None = None) -> TestPKI:
        """A copy with a freshly issued DS (new key, new serial) as the current one; the old DS stays valid."""
        key = self.config.ds_key.generate()
        name = common_name or self.config.ds_common_name
        certificate = issue_document_signer(self.config, self.csca_certificate, FileKey(self.csca_key),
                                            key.public_key(), _now(now), name)
        return replace(self, ds_certificate=certificate, ds_key=key)

    def revoke(self, certificate: x509.Certificate, *, now: datetime | None = None) -> TestPKI:
        """A copy whose new CRL (next CRL number) adds ``certificate`` to those already revoked."""
        crl = next_crl(self.config, self.csca_certificate, FileKey(self.csca_key), self.crl,
                       [certificate.serial_number], _now(now))
        return replace(self, crl=crl)

    def save(self, directory: Path) -> None:
        """Write csca.pem, csca.key.pem, ds.pem, ds.key.pem, crl.pem; keys as unencrypted PKCS#8, mode 0600.

        Unencrypted keys on disk are acceptable only for development and tests.
        """
        directory.mkdir(parents=True, exist_ok=True)
        pem = serialization.Encoding.PEM
        (directory / "csca.pem").write_bytes(self.csca_certificate.public_bytes(pem))
        (directory / "ds.pem").write_bytes(self.ds_certificate.public_bytes(pem))
        (directory / "crl.pem").write_bytes(self.crl.public_bytes(pem))
        for name, key in (("csca.key.pem", self.csca_key), ("ds.key.pem", self.ds_key)):
            _write_private(directory / name, key)

    @classmethod
    def load(cls, directory: Path, config: PKIConfig | None = None) -> TestPKI:
        """Read what :meth:`save` wrote; PKIError naming the file that is missing or corrupt."""
        csca = _read(directory / "csca.pem", x509.load_pem_x509_certificate)
        ds = _read(directory / "ds.pem", x509.load_pem_x509_certificate)
        crl = _read(directory / "crl.pem", x509.load_pem_x509_crl)
        csca_key = _read_key(directory / "csca.key.pem")
        ds_key = _read_key(directory / "ds.key.pem")
        config = config or PKIConfig(csca_key=_spec_of(csca_key), ds_key=_spec_of(ds_key))
        return cls(config, csca, csca_key, ds, ds_key, crl)

    def __repr__(self) -> str:
        return (f"TestPKI(csca={self.csca_certificate.subject.rfc4514_string()!r}, "
                f"ds={self.ds_certificate.subject.rfc4514_string()!r})")


def _write_private(path: Path, key: PrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def _read(path: Path, loader: Callable[[bytes], _T]) -> _T:
    try:
        return loader(path.read_bytes())
    except OSError as error:
        raise PKIError(f"{path}: cannot read ({error.strerror})") from error
    except (ValueError, TypeError, x509.InvalidVersion) as error:
        raise PKIError(f"{path}: not a valid PEM file") from error


def _spec_of(key: PrivateKey) -> KeySpec:
    """The key spec a saved key was made with: ECDSA with the hash matching the curve size, RSA with PSS/SHA-256."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        bits = key.curve.key_size
        return KeySpec.ec(key.curve.name, "sha256" if bits <= 256 else "sha384" if bits <= 384 else "sha512")
    return KeySpec.rsa(key.key_size, "sha256")


def _read_key(path: Path) -> PrivateKey:
    key = _read(path, lambda data: serialization.load_pem_private_key(data, password=None))
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise PKIError(f"{path}: not an EC or RSA private key")
    return key
