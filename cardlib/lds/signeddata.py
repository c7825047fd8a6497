"""The CMS SignedData of the signed LDS files, EF.SOD and EF.CardSecurity (RFC 5652; ICAO 9303-10 §4.6.2).

::

    ContentInfo { signedData SignedData {
        version 3, digestAlgorithms, encapContentInfo { eContentType, eContent },
        certificates { Document Signer }, signerInfos { one SignerInfo } } }

:class:`SignedContent` holds what a verifier needs of such a file (the exact signed-attribute bytes the
signature covers, the signature, the algorithms, the embedded certificates) and verifies nothing.
:func:`decode_signed_data` reads any ContentInfo through asn1crypto, naming what is malformed;
:mod:`cardlib.lds.signeddata_canonical` reads the canonical shape by hand.  :func:`encode_content_info` signs an
eContent with a Document Signer (:class:`SODSigner`).  The eContent itself (an LDSSecurityObject, SecurityInfos)
is the caller's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from asn1crypto import algos, cms, core, x509
from cryptography import x509 as crypto_x509
from cryptography.hazmat.primitives import serialization

from cardlib.errors import DecodeError, EncodeError, ValidationError
from cardlib.lds.asn1 import decoding, load_strict, oid_der
from cardlib.lds.extensions import certificate_extensions
from cardlib.lds.oids import (
    DIGEST_NAMES,
    DIGEST_OIDS,
    ID_CONTENT_TYPE,
    ID_MESSAGE_DIGEST,
    ID_SIGNED_DATA,
    ID_SIGNING_TIME,
    ID_SUBJECT_KEY_IDENTIFIER,
)
from cardlib.lds.tlv import encode_tlv

# Distinct certificates and names whose parse is kept: a batch meets a handful of Document Signers.
CERTIFICATE_CACHE_SIZE = 64


class SODSignatureAlgorithm(Protocol):
    """The signature algorithm of a Document Signer: its hash and its AlgorithmIdentifiers."""

    @property
    def hash_name(self) -> str: ...

    def identifier(self) -> algos.SignedDigestAlgorithm: ...

    def digest_identifier(self) -> algos.DigestAlgorithm: ...


class SODSigner(Protocol):
    """What :meth:`~cardlib.lds.sod.SOD.sign` needs: the DS certificate, its algorithm, a signature over bytes.

    :class:`cardlib.pki.signatures.DocumentSigner` is one; an HSM-backed signer is another.
    """

    @property
    def certificate(self) -> crypto_x509.Certificate: ...

    @property
    def algorithm(self) -> SODSignatureAlgorithm: ...

    def sign(self, data: bytes) -> bytes: ...


# The hashes ICAO 9303 allows, by name, as hashlib's constructors (each one a C call, unlike hashlib.new), and the
# size of their digests.
_HASHES = {name: getattr(hashlib, name) for name in DIGEST_OIDS}
_DIGEST_SIZES: dict[str, int] = {name: constructor().digest_size for name, constructor in _HASHES.items()}


def digest(algorithm: str, data: bytes) -> bytes:
    """``algorithm`` (``"sha256"``...) over ``data``; ValidationError for a hash ICAO does not allow."""
    constructor = _HASHES.get(algorithm)
    if constructor is None:
        raise ValidationError(f"unsupported hash algorithm {algorithm!r}", field="hashAlgorithm")
    digested: bytes = constructor(data).digest()
    return digested


def digest_size(algorithm: str) -> int:
    """Bytes of an ``algorithm`` digest; ValidationError for a hash ICAO does not allow."""
    size = _DIGEST_SIZES.get(algorithm)
    if size is None:
        raise ValidationError(f"unsupported hash algorithm {algorithm!r}", field="hashAlgorithm")
    return size


@dataclass(frozen=True)
class SignerCertificate:
    """A certificate embedded in the SOD: always its DER; the :mod:`cryptography` object when it loads."""

    der: bytes = field(repr=False)
    certificate: crypto_x509.Certificate | None


@dataclass(frozen=True)
class SignerIdentifier:
    """SignerInfo.sid: issuer and serial number (SignerInfo v1) or subject key identifier (v3)."""

    issuer: bytes | None = None
    serial_number: int | None = None
    subject_key_identifier: bytes | None = None

    @property
    def issuer_text(self) -> str | None:
        """The issuer name, human readable."""
        return None if self.issuer is None else str(x509.Name.load(self.issuer).human_friendly)

    def matches(self, certificate: SignerCertificate) -> bool:
        """Whether ``certificate`` is the one this sid names, byte for byte (RFC 5652 §5.3)."""
        if self.subject_key_identifier is not None:
            return _key_identifier(certificate.der) == self.subject_key_identifier
        return _issuer(certificate.der) == self.issuer and _serial_number(certificate.der) == self.serial_number

    def names_equivalently(self, certificate: SignerCertificate) -> bool:
        """Whether this sid names ``certificate`` once the encodings that peers tolerate are forgiven.

        Issuer and serial: the serial is equal and the issuer holds the same attributes, compared as RFC 5280
        §7.1 compares names (string type, case and spaces prepared away), in any order: some states write the
        sid's issuer in another attribute order than the certificate's.  Subject key identifier: the
        certificate has no such extension and the sid is the key identifier of RFC 5280 §4.2.1.2 method (1),
        the SHA-1 of its subjectPublicKey.  The caller must still prove it is the signer (the signature).
        """
        tbs = x509.Certificate.load(certificate.der)
        if self.subject_key_identifier is not None:
            return (_key_identifier(certificate.der) is None
                    and tbs.public_key.sha1 == self.subject_key_identifier)
        if self.issuer is None or tbs.serial_number != self.serial_number:
            return False
        ours, theirs = _name_attributes(x509.Name.load(self.issuer)), _name_attributes(tbs.issuer)
        return ours is not None and ours == theirs


@lru_cache(maxsize=CERTIFICATE_CACHE_SIZE)
def _key_identifier(der: bytes) -> bytes | None:
    """The subject key identifier of a certificate's DER, cached by its bytes (a batch repeats its signer's); the
    extension is read alone (:mod:`cardlib.lds.extensions`)."""
    extension = certificate_extensions(x509.Certificate.load(der)).values.get(ID_SUBJECT_KEY_IDENTIFIER)
    if extension is None:
        return None
    value: bytes = core.OctetString.load(extension, strict=True).native
    return value


@lru_cache(maxsize=CERTIFICATE_CACHE_SIZE)
def _issuer(der: bytes) -> bytes:
    """The issuer Name DER of a certificate's DER, cached by its bytes."""
    value: bytes = x509.Certificate.load(der).issuer.dump()
    return value


@lru_cache(maxsize=CERTIFICATE_CACHE_SIZE)
def _serial_number(der: bytes) -> int:
    """The serial number of a certificate's DER, cached by its bytes."""
    value: int = x509.Certificate.load(der).serial_number
    return value


def _name_attributes(name: x509.Name) -> tuple[tuple[str, str], ...] | None:
    """The (type, prepared value) pairs of ``name``, sorted; None when a value cannot be prepared."""
    try:
        pairs = [(pair["type"].dotted, pair.prepped_value) for rdn in name.chosen for pair in rdn]
    except (ValueError, TypeError, AttributeError):  # a prohibited character (RFC 4518 §2.3) or an odd value type
        return None
    return tuple(sorted(pairs))


@dataclass(frozen=True)
class SignatureAlgorithm:
    """SignerInfo.signatureAlgorithm: OID, its name, scheme and hash, with RSASSA-PSS parameters decoded."""

    oid: str
    name: str
    scheme: str
    hash_algorithm: str | None
    parameters: bytes | None = None
    mgf_hash_algorithm: str | None = None
    salt_length: int | None = None


@dataclass(frozen=True, kw_only=True)
class SignedContent:
    """The CMS SignedData fields of a signed LDS file (EF.SOD, EF.CardSecurity): one SignerInfo, its signer's
    certificates, and ``signed_attributes`` as the exact bytes the signature covers (SET-tagged; None when the
    SignerInfo has none and the signature covers ``econtent``).  ``econtent_type`` is kept whatever it is, so
    that a verifier can say precisely what it is."""

    raw: bytes = field(repr=False)
    version: int
    digest_algorithms: tuple[str, ...]
    econtent_type: str
    econtent: bytes = field(repr=False)
    signer_certificates: tuple[SignerCertificate, ...]
    crl_count: int
    signer_version: int
    sid: SignerIdentifier
    digest_algorithm: str
    signature_algorithm: SignatureAlgorithm
    signed_attributes: bytes | None = field(repr=False)
    content_type_attribute: str | None
    message_digest: bytes | None
    signing_time: datetime | None
    signature: bytes

    def encode(self) -> bytes:
        """The file as it was read (a signed object is never re-serialized)."""
        return self.raw

def decode_signed_data(content_info: bytes, *, file: str) -> tuple[cms.SignedData, dict[str, Any]]:
    """A CMS ContentInfo holding SignedData with exactly one SignerInfo (EF.SOD, EF.CardSecurity), as the
    parsed SignedData and its fields common to both files: version, eContentType and eContent, digest
    algorithms, certificates, CRL count, and the SignerInfo's fields (:class:`SignedContent` names them).

    DecodeError names ``file`` and the part that is malformed; the eContent itself is left to the caller.
    """
    info = load_strict(cms.ContentInfo, content_info, file=file, field="ContentInfo")
    with decoding(file, "ContentInfo"):
        if info["content_type"].native != "signed_data":
            raise DecodeError(f"content type {info['content_type'].dotted}, expected signedData")
        signed = info["content"]
        econtent_info = signed["encap_content_info"]
        if isinstance(econtent_info["content"], core.Void):
            raise DecodeError("no eContent: the signed content is detached")
        if len(signed["signer_infos"]) != 1:
            raise DecodeError(f"{len(signed['signer_infos'])} SignerInfos, {file} has exactly one")
        crls = signed["crls"]
        common = {
            "version": int(signed["version"].native[1:]),
            "econtent_type": econtent_info["content_type"].dotted,
            "econtent": bytes(econtent_info["content"].contents),
            "digest_algorithms": tuple(_digest_name(a) for a in signed["digest_algorithms"]),
            "signer_certificates": _certificates(signed["certificates"]),
            "crl_count": 0 if isinstance(crls, core.Void) else len(crls),
        }
    with decoding(file, "SignerInfo"):
        common.update(_signer_fields(signed["signer_infos"][0]))
    return signed, common


def encode_content_info(econtent: bytes, econtent_type: str, signer: SODSigner, *,
                        signing_time: datetime | None = None) -> bytes:
    """The CMS ContentInfo DER of ``econtent`` (of type ``econtent_type``) signed by a Document Signer, laid
    out as :func:`cardlib.lds.sod.encode_signed_data` shows: EF.SOD wraps it in tag 77, EF.CardSecurity is it."""
    certificate = signer.certificate
    attributes = _signed_attributes(_digest(signer.algorithm.hash_name, econtent), econtent_type, signing_time)
    signature = signer.sign(encode_tlv(0x31, attributes))
    digest_identifier = signer.algorithm.digest_identifier().dump()
    sid = encode_tlv(0x30, certificate.issuer.public_bytes() + core.Integer(certificate.serial_number).dump())
    signer_info = encode_tlv(0x30, b"".join((
        _INTEGER_1, sid, digest_identifier, encode_tlv(0xA0, attributes),
        signer.algorithm.identifier().dump(), encode_tlv(0x04, signature))))
    encapsulated = encode_tlv(0x30, oid_der(econtent_type) + encode_tlv(0xA0, encode_tlv(0x04, econtent)))
    signed_data = encode_tlv(0x30, b"".join((
        _INTEGER_3, encode_tlv(0x31, digest_identifier), encapsulated,
        encode_tlv(0xA0, certificate.public_bytes(serialization.Encoding.DER)), encode_tlv(0x31, signer_info))))
    return encode_tlv(0x30, oid_der(ID_SIGNED_DATA) + encode_tlv(0xA0, signed_data))


_INTEGER_1 = bytes.fromhex("020101")
_INTEGER_3 = bytes.fromhex("020103")


def _digest(algorithm: str, data: bytes) -> bytes:
    try:
        return digest(algorithm, data)
    except ValidationError as exc:
        raise EncodeError(exc.reason) from None


def _digest_name(identifier: algos.DigestAlgorithm) -> str:
    oid: str = identifier["algorithm"].dotted
    return DIGEST_NAMES.get(oid, oid)


def _certificates(certificates: Any) -> tuple[SignerCertificate, ...]:
    if isinstance(certificates, core.Void):
        return ()
    found = []
    for choice in certificates:
        if choice.name != "certificate":
            raise DecodeError(f"unexpected {choice.name} in certificates", field="certificates")
        der = choice.chosen.dump()
        found.append(SignerCertificate(der, load_certificate(der)))
    return tuple(found)


@lru_cache(maxsize=CERTIFICATE_CACHE_SIZE)
def load_certificate(der: bytes) -> crypto_x509.Certificate | None:
    """The :mod:`cryptography` certificate (immutable), cached by its bytes; None when it refuses them."""
    try:
        return crypto_x509.load_der_x509_certificate(der)
    except (ValueError, crypto_x509.InvalidVersion):  # cryptography refuses it; the DER is kept for the PKI layer
        return None


def _signer_fields(signer: cms.SignerInfo) -> dict[str, Any]:
    attributes = signer["signed_attrs"]
    present = not isinstance(attributes, core.Void)
    values = {a["type"].native: a["values"] for a in attributes} if present else {}
    return {
        "signer_version": int(signer["version"].native[1:]),
        "sid": _sid(signer["sid"]),
        "digest_algorithm": _digest_name(signer["digest_algorithm"]),
        "signature_algorithm": signature_algorithm(signer["signature_algorithm"]),
        "signed_attributes": b"\x31" + attributes.dump()[1:] if present else None,
        "content_type_attribute": values["content_type"][0].dotted if "content_type" in values else None,
        "message_digest": values["message_digest"][0].native if "message_digest" in values else None,
        "signing_time": values["signing_time"][0].native if "signing_time" in values else None,
        "signature": bytes(signer["signature"].native),
    }


def _sid(sid: cms.SignerIdentifier) -> SignerIdentifier:
    if sid.name == "subject_key_identifier":
        return SignerIdentifier(subject_key_identifier=bytes(sid.chosen.native))
    issuer = sid.chosen["issuer"].dump()
    parse_name(issuer)  # parse the Name now, so a malformed one is a DecodeError of the SignerInfo
    return SignerIdentifier(issuer=issuer, serial_number=sid.chosen["serial_number"].native)


@lru_cache(maxsize=CERTIFICATE_CACHE_SIZE)
def parse_name(der: bytes) -> None:
    """Parse a Name wholly (asn1crypto raises on a malformed one), once per exact bytes: every SOD of a batch
    names the same issuer.  Only names that parse are cached."""
    x509.Name.load(der).native  # noqa: B018 -- the parse is the point


def signature_algorithm(identifier: algos.SignedDigestAlgorithm) -> SignatureAlgorithm:
    """SignerInfo.signatureAlgorithm as a :class:`SignatureAlgorithm`, RSASSA-PSS parameters decoded."""
    oid = identifier["algorithm"].dotted
    parameters = identifier["parameters"]
    params_der = None if isinstance(parameters, core.Void) else parameters.dump()
    scheme = _attempt(lambda: identifier.signature_algo) or "unknown"
    hash_algorithm = _attempt(lambda: identifier.hash_algo)
    if identifier["algorithm"].native != "rsassa_pss":
        return SignatureAlgorithm(oid, identifier["algorithm"].native, _SCHEMES.get(scheme, scheme), hash_algorithm,
                                  params_der)
    mgf = parameters["mask_gen_algorithm"]["parameters"]["algorithm"].native
    return SignatureAlgorithm(oid, "rsassa_pss", "rsa-pss", hash_algorithm, params_der, mgf,
                              parameters["salt_length"].native)


_SCHEMES = {"rsassa_pkcs1v15": "rsa-pkcs1", "rsassa_pss": "rsa-pss", "ecdsa": "ecdsa"}


def _attempt(read: Any) -> str | None:
    """asn1crypto's ``signature_algo``/``hash_algo`` raise for OIDs that do not imply them."""
    try:
        value: str = read()
    except ValueError:
        return None
    return value


def _signed_attributes(message_digest: bytes, econtent_type: str, signing_time: datetime | None) -> bytes:
    """The content of the signed attributes SET (RFC 5652 §5.3): contentType, messageDigest, signingTime."""
    attributes = [
        _attribute(ID_CONTENT_TYPE, oid_der(econtent_type)),
        _attribute(ID_MESSAGE_DIGEST, encode_tlv(0x04, message_digest)),
    ]
    if signing_time is not None:
        if signing_time.tzinfo is None:
            raise EncodeError("signing time must be timezone-aware")
        form = "utc_time" if signing_time.year < 2050 else "generalized_time"  # RFC 5652 §11.3
        attributes.append(_attribute(ID_SIGNING_TIME, cms.Time(name=form, value=signing_time).dump()))
    return b"".join(sorted(attributes))  # DER orders a SET OF by the encodings of its elements


def _attribute(oid: str, value: bytes) -> bytes:
    return encode_tlv(0x30, oid_der(oid) + encode_tlv(0x31, value))
