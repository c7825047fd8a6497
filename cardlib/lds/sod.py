"""EF.SOD, the Document Security Object (ICAO 9303-10 §4.6.2, 9303-12 profile).

::

    77 L  ContentInfo { signedData SignedData {
            version 3, digestAlgorithms, encapContentInfo { ldsSecurityObject, LDSSecurityObject DER },
            certificates { Document Signer }, signerInfos { one SignerInfo } } }

    LDSSecurityObject ::= SEQUENCE { version INTEGER, hashAlgorithm AlgorithmIdentifier,
                                     dataGroupHashValues SEQUENCE OF DataGroupHash,
                                     ldsVersionInfo LDSVersionInfo OPTIONAL }   -- LDS 1.8: version 1

:meth:`SOD.decode` exposes everything passive authentication needs (the exact signed-attribute bytes the
signature covers, the signature, the algorithms, the embedded certificates) but verifies nothing: that is
the job of the PKI/verify layer.  :meth:`SOD.sign` builds a new SOD as the CCCD profile in the shared docs
describes.  A decoded SOD keeps its bytes, so :meth:`SOD.encode` gives back exactly what was read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

from asn1crypto import algos, cms, core, x509
from cryptography import x509 as crypto_x509
from cryptography.hazmat.primitives import serialization

from cardlib.errors import DecodeError, EncodeError, ValidationError
from cardlib.lds import der
from cardlib.lds.asn1 import (
    AlgorithmIdentifier,
    algorithm_identifier_der,
    decoding,
    load_strict,
    oid_der,
    sequence_type,
)
from cardlib.lds.files import EF_SOD
from cardlib.lds.oids import (
    DIGEST_NAMES,
    DIGEST_OIDS,
    ID_CONTENT_TYPE,
    ID_LDS_SECURITY_OBJECT,
    ID_LDS_SECURITY_OBJECT_LEGACY,
    ID_MESSAGE_DIGEST,
    ID_SIGNED_DATA,
    ID_SIGNING_TIME,
)
from cardlib.lds.tlv import encode_tlv, read_single

TAG_SOD = 0x77
_FILE = EF_SOD.name
_FIELD_LSO = "LDSSecurityObject"
# Distinct certificates and names whose parse is kept: a batch meets a handful of Document Signers.
_CERTIFICATE_CACHE_SIZE = 64

# Digest OIDs (NIST CSOR, RFC 3279) and their output lengths.
class SODSignatureAlgorithm(Protocol):
    """The signature algorithm of a Document Signer: its hash and its AlgorithmIdentifiers."""

    @property
    def hash_name(self) -> str: ...

    def identifier(self) -> algos.SignedDigestAlgorithm: ...

    def digest_identifier(self) -> algos.DigestAlgorithm: ...


class SODSigner(Protocol):
    """What :meth:`SOD.sign` needs: the DS certificate, its algorithm, and a signature over given bytes.

    :class:`cardlib.pki.signatures.DocumentSigner` is one; an HSM-backed signer is another.
    """

    @property
    def certificate(self) -> crypto_x509.Certificate: ...

    @property
    def algorithm(self) -> SODSignatureAlgorithm: ...

    def sign(self, data: bytes) -> bytes: ...


_DataGroupHash = sequence_type("DataGroupHash", [
    ("data_group_number", core.Integer), ("data_group_hash_value", core.OctetString)])
_LDSVersionInfo = sequence_type("LDSVersionInfo", [
    ("lds_version", core.PrintableString), ("unicode_version", core.PrintableString)])
_DataGroupHashValues: Any = type("DataGroupHashValues", (core.SequenceOf,), {"_child_spec": _DataGroupHash})
_LDSSecurityObject = sequence_type("LDSSecurityObject", [
    ("version", core.Integer), ("hash_algorithm", AlgorithmIdentifier),
    ("data_group_hash_values", _DataGroupHashValues), ("lds_version_info", _LDSVersionInfo, {"optional": True})])


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
class LDSSecurityObject:
    """The signed content of EF.SOD: one hash per data group, all with ``hash_algorithm``.

    ``version`` 1 and the LDS/Unicode versions belong together (LDS 1.8, ICAO 9303-10 §4.6.2.3).
    """

    hash_algorithm: str
    dg_hashes: dict[int, bytes]
    version: int = 0
    lds_version: str | None = None
    unicode_version: str | None = None

    def __post_init__(self) -> None:
        size = digest_size(self.hash_algorithm)
        for number, value in self.dg_hashes.items():
            if not 1 <= number <= 16:
                raise ValidationError(f"no data group {number} (1-16)", field="dataGroupNumber")
            if len(value) != size:
                raise ValidationError(f"DG{number} hash has {len(value)} bytes, {self.hash_algorithm} gives {size}",
                                      field="dataGroupHashValue")
        if self.version not in (0, 1) or (self.version == 1) != (self.lds_version is not None):
            raise ValidationError("version must be 1 exactly when LDS version info is present", field="version")
        if (self.lds_version is None) != (self.unicode_version is None):
            raise ValidationError("LDS and Unicode versions come together", field="ldsVersionInfo")

    @classmethod
    def for_files(cls, hash_algorithm: str, files: dict[int, bytes]) -> LDSSecurityObject:
        """The object for whole data group files (outer tag included), keyed by DG number."""
        return cls(hash_algorithm, {number: digest(hash_algorithm, data) for number, data in files.items()})

    def encode(self) -> bytes:
        """The LDSSecurityObject DER (eContent): hashes in DG order, digest AlgorithmIdentifier without NULL."""
        hashes = b"".join(
            encode_tlv(0x30, encode_tlv(0x02, bytes([number])) + encode_tlv(0x04, self.dg_hashes[number]))
            for number in sorted(self.dg_hashes))
        parts = [encode_tlv(0x02, bytes([self.version])), algorithm_identifier_der(DIGEST_OIDS[self.hash_algorithm]),
                 encode_tlv(0x30, hashes)]
        if self.lds_version is not None and self.unicode_version is not None:
            parts.append(encode_tlv(0x30, encode_tlv(0x13, self.lds_version.encode("ascii"))
                                    + encode_tlv(0x13, self.unicode_version.encode("ascii"))))
        return encode_tlv(0x30, b"".join(parts))

    @classmethod
    def decode(cls, data: bytes) -> LDSSecurityObject:
        """Parse the eContent of an EF.SOD."""
        return cls._decode(data)[0]

    @classmethod
    def _decode(cls, data: bytes) -> tuple[LDSSecurityObject, bool]:
        """The object, and whether its hashAlgorithm AlgorithmIdentifier carries parameters."""
        value = load_strict(_LDSSecurityObject, data, file=_FILE, field=_FIELD_LSO)
        with_parameters = not isinstance(value["hash_algorithm"]["parameters"], core.Void)
        oid = value["hash_algorithm"]["algorithm"].dotted
        if oid not in DIGEST_NAMES:
            raise DecodeError(f"unknown hash algorithm {oid}", file=_FILE, field=_FIELD_LSO)
        hashes_by_dg: dict[int, bytes] = {}
        for item in value["data_group_hash_values"]:
            number = item["data_group_number"].native
            if number in hashes_by_dg:
                raise DecodeError(f"DG{number} hashed twice", file=_FILE, field=_FIELD_LSO)
            hashes_by_dg[number] = item["data_group_hash_value"].native
        info = value["lds_version_info"]
        versions = (None, None) if isinstance(info, core.Void) else (info["lds_version"].native,
                                                                      info["unicode_version"].native)
        try:
            return cls(DIGEST_NAMES[oid], hashes_by_dg, value["version"].native, *versions), with_parameters
        except ValidationError as exc:
            raise DecodeError(exc.reason, file=_FILE, field=exc.field or _FIELD_LSO) from None


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
            return tbs.key_identifier is None and tbs.public_key.sha1 == self.subject_key_identifier
        if self.issuer is None or tbs.serial_number != self.serial_number:
            return False
        ours, theirs = _name_attributes(x509.Name.load(self.issuer)), _name_attributes(tbs.issuer)
        return ours is not None and ours == theirs


@lru_cache(maxsize=_CERTIFICATE_CACHE_SIZE)
def _key_identifier(der: bytes) -> bytes | None:
    """The subject key identifier of a certificate's DER, cached by its bytes (a batch repeats its signer's)."""
    value: bytes | None = x509.Certificate.load(der).key_identifier
    return value


@lru_cache(maxsize=_CERTIFICATE_CACHE_SIZE)
def _issuer(der: bytes) -> bytes:
    """The issuer Name DER of a certificate's DER, cached by its bytes."""
    value: bytes = x509.Certificate.load(der).issuer.dump()
    return value


@lru_cache(maxsize=_CERTIFICATE_CACHE_SIZE)
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


@dataclass(frozen=True, kw_only=True)
class SOD(SignedContent):
    """A decoded EF.SOD: the :class:`SignedContent` around an LDSSecurityObject.

    ``digest_identifiers_with_parameters`` names the digest AlgorithmIdentifiers (``SignedData.digestAlgorithms``,
    ``SignerInfo.digestAlgorithm``, ``LDSSecurityObject.hashAlgorithm``) that carry parameters (a NULL, which
    ICAO 9303-12 says to omit).
    """

    lds_security_object: LDSSecurityObject
    digest_identifiers_with_parameters: tuple[str, ...] = ()

    @property
    def uses_legacy_content_type(self) -> bool:
        """True for the pre-standard eContentType 1.3.27.1.1.1 some early passports carry."""
        return self.econtent_type == ID_LDS_SECURITY_OBJECT_LEGACY

    @classmethod
    def decode(cls, data: bytes) -> SOD:
        """Parse EF.SOD (tag 77); DecodeError names the part that is malformed.

        A SOD of the canonical shape (:func:`_decode_canonical`) is read by hand; any other goes through
        asn1crypto, which gives the same object for a canonical one and names what is wrong with the rest.
        """
        raw = bytes(data)
        outer = read_single(raw, TAG_SOD, file=_FILE)
        try:
            return _decode_canonical(raw, outer.offset + outer.header_length)
        except der.Unusual:
            pass
        return cls._decode_general(raw, outer.value)

    @classmethod
    def _decode_general(cls, raw: bytes, content_info: bytes) -> SOD:
        """The SOD of file bytes ``raw`` whose ContentInfo is ``content_info``, decoded with asn1crypto."""
        signed, common = decode_signed_data(content_info, file=_FILE)
        lso, lso_parameters = LDSSecurityObject._decode(common["econtent"])
        with decoding(_FILE, "SignerInfo"):
            identifiers = {
                "SignedData.digestAlgorithms": any(_has_parameters(item) for item in signed["digest_algorithms"]),
                "SignerInfo.digestAlgorithm": _has_parameters(signed["signer_infos"][0]["digest_algorithm"]),
                "LDSSecurityObject.hashAlgorithm": lso_parameters,
            }
        with_parameters = tuple(where for where, present in identifiers.items() if present)
        return cls(raw=raw, lds_security_object=lso, **common, digest_identifiers_with_parameters=with_parameters)

    @classmethod
    def sign(cls, lso: LDSSecurityObject, signer: SODSigner, *, signing_time: datetime | None = None) -> SOD:
        """Sign ``lso`` with a Document Signer as CMS SignedData v3 (ICAO 9303-10 §4.6.2).

        The codec builds the structure; the signature itself comes from ``signer`` (a key in a file, or one
        that never leaves an HSM).  Digest AlgorithmIdentifiers carry no NULL; signed attributes are
        contentType, messageDigest and optionally signingTime (timezone-aware); one SignerInfo v1 with
        issuerAndSerialNumber; the DS certificate included; no CRLs.
        """
        return cls.decode(encode_signed_data(lso, signer, signing_time=signing_time))


def decode_signed_data(content_info: bytes, *, file: str) -> tuple[cms.SignedData, dict[str, Any]]:
    """A CMS ContentInfo holding SignedData with exactly one SignerInfo (EF.SOD, EF.CardSecurity), as the
    parsed SignedData and its fields common to both files: version, eContentType and eContent, digest
    algorithms, certificates, CRL count, and the SignerInfo's fields (:class:`SOD` names them).

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


def encode_signed_data(lso: LDSSecurityObject, signer: SODSigner, *, signing_time: datetime | None = None) -> bytes:
    """The EF.SOD bytes for ``lso`` signed by ``signer``: the DER written out as the ASN.1 reads.

    ::

        77 { ContentInfo ::= SEQUENCE { contentType signedData, [0] SignedData ::= SEQUENCE {
               version 3, digestAlgorithms SET { digest }, encapContentInfo { ldsSecurityObject, [0] OCTET STRING },
               [0] certificates { DS }, signerInfos SET { SignerInfo ::= SEQUENCE {
                   version 1, sid issuerAndSerialNumber, digestAlgorithm, [0] signedAttrs,
                   signatureAlgorithm, signature OCTET STRING } } } } }
    """
    return encode_tlv(TAG_SOD, encode_content_info(lso.encode(), ID_LDS_SECURITY_OBJECT, signer,
                                                   signing_time=signing_time))


def encode_content_info(econtent: bytes, econtent_type: str, signer: SODSigner, *,
                        signing_time: datetime | None = None) -> bytes:
    """The CMS ContentInfo DER of ``econtent`` (of type ``econtent_type``) signed by a Document Signer, laid
    out as :func:`encode_signed_data` shows: EF.SOD wraps it in tag 77, EF.CardSecurity is it."""
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


def _has_parameters(identifier: algos.DigestAlgorithm) -> bool:
    return not isinstance(identifier["parameters"], core.Void)


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
        found.append(SignerCertificate(der, _load_certificate(der)))
    return tuple(found)


@lru_cache(maxsize=_CERTIFICATE_CACHE_SIZE)
def _load_certificate(der: bytes) -> crypto_x509.Certificate | None:
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
        "signature_algorithm": _signature_algorithm(signer["signature_algorithm"]),
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
    _parse_name(issuer)  # parse the Name now, so a malformed one is a DecodeError of the SignerInfo
    return SignerIdentifier(issuer=issuer, serial_number=sid.chosen["serial_number"].native)


@lru_cache(maxsize=_CERTIFICATE_CACHE_SIZE)
def _parse_name(der: bytes) -> None:
    """Parse a Name wholly (asn1crypto raises on a malformed one), once per exact bytes: every SOD of a batch
    names the same issuer.  Only names that parse are cached."""
    x509.Name.load(der).native  # noqa: B018 -- the parse is the point


def _signature_algorithm(identifier: algos.SignedDigestAlgorithm) -> SignatureAlgorithm:
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


# --- the canonical shape, read by hand ----------------------------------------------------------------------
# What SOD.decode reads without asn1crypto: minimal definite lengths, certificates only in `certificates`, no
# CRLs, one SignerInfo without unsigned attributes, signed attributes contentType, messageDigest and optionally
# signingTime (once each, one value each, times as YYMMDDHHMMSSZ or YYYYMMDDHHMMSSZ), digest
# AlgorithmIdentifiers with no parameters or NULL.  Every SOD cardlib signs and the public specimens have it.
# What repeats across a batch (OIDs, the signature AlgorithmIdentifier, the issuer Name, the certificates) is
# decoded by asn1crypto once per exact bytes.

_SIGNED_ATTRIBUTES = {ID_CONTENT_TYPE: der.OID, ID_MESSAGE_DIGEST: der.OCTET_STRING}
_TIMES = {der.UTC_TIME: 13, der.GENERALIZED_TIME: 15}


def _decode_canonical(raw: bytes, start: int) -> SOD:
    """The SOD whose ContentInfo starts at ``start`` of ``raw``; :class:`der.Unusual` for any other shape."""
    begin, stop = der.element(raw, start, len(raw), der.SEQUENCE)
    if stop != len(raw):
        raise der.Unusual
    content_type, content = der.shaped(raw, begin, stop, der.OID, 0xA0)
    if der.dotted(raw, content_type) != ID_SIGNED_DATA:
        raise der.Unusual
    signed_data = der.single(raw, content, der.SEQUENCE)
    parts = der.elements(raw, signed_data[2], signed_data[3])
    identifiers = [part[0] for part in parts]
    if identifiers not in ([der.INTEGER, der.SET, der.SEQUENCE, 0xA0, der.SET], [der.INTEGER, der.SET, der.SEQUENCE,
                                                                                 der.SET]):
        raise der.Unusual
    digests = [_digest_identifier(raw, item) for item in der.elements(raw, parts[1][2], parts[1][3])]
    econtent_type, econtent = _encapsulated(raw, parts[2])
    certificates = _canonical_certificates(raw, parts[3]) if len(parts) == 5 else ()
    signer_info = der.single(raw, parts[-1], der.SEQUENCE)
    signer, signer_digest_parameters = _canonical_signer(raw, signer_info)
    lso, lso_parameters = _decode_lso_canonical(econtent)
    identifiers_with_parameters = {"SignedData.digestAlgorithms": any(present for _, present in digests),
                                   "SignerInfo.digestAlgorithm": signer_digest_parameters,
                                   "LDSSecurityObject.hashAlgorithm": lso_parameters}
    return SOD(raw=raw, version=_cms_version(raw, parts[0]), digest_algorithms=tuple(name for name, _ in digests),
               econtent_type=econtent_type, econtent=econtent, lds_security_object=lso,
               signer_certificates=certificates, crl_count=0, **signer,
               digest_identifiers_with_parameters=tuple(where for where, present
                                                        in identifiers_with_parameters.items() if present))


def _cms_version(data: bytes, item: der.Element) -> int:
    """CMSVersion v0..v5, the values asn1crypto names."""
    value = der.integer(data, item)
    if not 0 <= value <= 5:
        raise der.Unusual
    return value


def _digest_identifier(data: bytes, item: der.Element) -> tuple[str, bool]:
    """A digest AlgorithmIdentifier: its name (or OID when unknown) and whether it carries (NULL) parameters."""
    if item[0] != der.SEQUENCE:
        raise der.Unusual
    fields = der.elements(data, item[2], item[3])
    if not 1 <= len(fields) <= 2 or (len(fields) == 2 and data[fields[1][1] : fields[1][3]] != b"\x05\x00"):
        raise der.Unusual
    oid = der.dotted(data, fields[0])
    return DIGEST_NAMES.get(oid, oid), len(fields) == 2


def _encapsulated(data: bytes, item: der.Element) -> tuple[str, bytes]:
    """EncapsulatedContentInfo: eContentType and the eContent octets (present, primitive)."""
    econtent_type, wrapper = der.shaped(data, item[2], item[3], der.OID, 0xA0)
    econtent = der.single(data, wrapper, der.OCTET_STRING)
    return der.dotted(data, econtent_type), der.contents(data, econtent)


def _canonical_certificates(data: bytes, item: der.Element) -> tuple[SignerCertificate, ...]:
    found = []
    for certificate in der.elements(data, item[2], item[3]):
        if certificate[0] != der.SEQUENCE:
            raise der.Unusual
        encoded = data[certificate[1] : certificate[3]]
        found.append(SignerCertificate(encoded, _load_certificate(encoded)))
    return tuple(found)


def _canonical_signer(data: bytes, item: der.Element) -> tuple[dict[str, Any], bool]:
    """The SignerInfo's fields (as :func:`_signer_fields` gives them) and whether its digest algorithm carries
    parameters."""
    parts = der.elements(data, item[2], item[3])
    attributes = parts[3] if len(parts) == 6 else None
    if len(parts) not in (5, 6) or (attributes is not None and attributes[0] != 0xA0):
        raise der.Unusual
    digest_name, digest_parameters = _digest_identifier(data, parts[2])
    signature_algorithm, signature = parts[-2:]
    if signature_algorithm[0] != der.SEQUENCE or signature[0] != der.OCTET_STRING:
        raise der.Unusual
    values = _canonical_attributes(data, attributes) if attributes is not None else {}
    fields = {
        "signer_version": _cms_version(data, parts[0]),
        "sid": _canonical_sid(data, parts[1]),
        "digest_algorithm": digest_name,
        "signature_algorithm": _cached_signature_algorithm(data[signature_algorithm[1] : signature_algorithm[3]]),
        "signed_attributes": None if attributes is None else b"\x31" + data[attributes[1] + 1 : attributes[3]],
        "content_type_attribute": values.get(ID_CONTENT_TYPE),
        "message_digest": values.get(ID_MESSAGE_DIGEST),
        "signing_time": values.get(ID_SIGNING_TIME),
        "signature": der.contents(data, signature),
    }
    return fields, digest_parameters


def _canonical_sid(data: bytes, item: der.Element) -> SignerIdentifier:
    if item[0] == 0x80:  # [0] IMPLICIT SubjectKeyIdentifier
        return SignerIdentifier(subject_key_identifier=der.contents(data, item))
    if item[0] != der.SEQUENCE:
        raise der.Unusual
    name, serial = der.shaped(data, item[2], item[3], der.SEQUENCE, der.INTEGER)
    issuer = data[name[1] : name[3]]
    try:
        _parse_name(issuer)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError) as exc:
        raise der.Unusual from exc
    return SignerIdentifier(issuer=issuer, serial_number=der.integer(data, serial))


def _canonical_attributes(data: bytes, item: der.Element) -> dict[str, Any]:
    """contentType, messageDigest and optionally signingTime, each once with one value, by OID."""
    values: dict[str, Any] = {}
    for attribute in der.elements(data, item[2], item[3]):
        if attribute[0] != der.SEQUENCE:
            raise der.Unusual
        kind, value_set = der.shaped(data, attribute[2], attribute[3], der.OID, der.SET)
        oid = der.dotted(data, kind)
        if oid in values:
            raise der.Unusual
        value = der.single(data, value_set)
        if oid == ID_SIGNING_TIME:
            values[oid] = _time(data, value)
        elif _SIGNED_ATTRIBUTES.get(oid) == value[0]:
            values[oid] = der.dotted(data, value) if value[0] == der.OID else der.contents(data, value)
        else:
            raise der.Unusual
    if ID_CONTENT_TYPE not in values or ID_MESSAGE_DIGEST not in values:
        raise der.Unusual
    return values


def _time(data: bytes, item: der.Element) -> datetime:
    """A UTCTime (years 1950-2049) or GeneralizedTime in whole seconds, Z; asn1crypto's reading of them."""
    text = der.contents(data, item)
    if _TIMES.get(item[0]) != len(text) or not text[:-1].isdigit() or text[-1:] != b"Z":
        raise der.Unusual
    year, rest = (int(text[:2]), text[2:]) if item[0] == der.UTC_TIME else (int(text[:4]), text[4:])
    if item[0] == der.UTC_TIME:
        year += 2000 if year < 50 else 1900
    try:
        month, day, hour, minute, second = (int(rest[index : index + 2]) for index in range(0, 10, 2))
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as exc:
        raise der.Unusual from exc


@lru_cache(maxsize=_CERTIFICATE_CACHE_SIZE)
def _cached_signature_algorithm(encoded: bytes) -> SignatureAlgorithm:
    """SignerInfo.signatureAlgorithm decoded by asn1crypto once per exact bytes (a batch repeats its signer's)."""
    try:
        value = load_strict(algos.SignedDigestAlgorithm, encoded, file=_FILE, field="SignerInfo")
        with decoding(_FILE, "SignerInfo"):
            return _signature_algorithm(value)
    except DecodeError as exc:
        raise der.Unusual from exc


def _data_group_hash(econtent: bytes, item: der.Element) -> tuple[int, bytes]:
    """A DataGroupHash: (number, hash value).  The shape every SOD has, ``30 L 02 01 n 04 L' hash`` with a
    one-byte positive number, is read from its bytes; any other goes through the DER walker."""
    start, stop = item[2], item[3]
    if (item[0] == der.SEQUENCE and stop - start >= 5 and econtent[start : start + 2] == b"\x02\x01"
            and econtent[start + 2] < 0x80 and econtent[start + 3] == der.OCTET_STRING
            and econtent[start + 4] < 0x80 and start + 5 + econtent[start + 4] == stop):
        return econtent[start + 2], econtent[start + 5 : stop]
    if item[0] != der.SEQUENCE:
        raise der.Unusual
    number, value = der.shaped(econtent, start, stop, der.INTEGER, der.OCTET_STRING)
    return der.integer(econtent, number), der.contents(econtent, value)


def _decode_lso_canonical(econtent: bytes) -> tuple[LDSSecurityObject, bool]:
    """:meth:`LDSSecurityObject._decode` for the canonical shape; :class:`der.Unusual` for any other."""
    begin, stop = der.element(econtent, 0, len(econtent), der.SEQUENCE)
    parts = der.elements(econtent, begin, stop)
    if stop != len(econtent) or [part[0] for part in parts] not in (
            [der.INTEGER, der.SEQUENCE, der.SEQUENCE], [der.INTEGER, der.SEQUENCE, der.SEQUENCE, der.SEQUENCE]):
        raise der.Unusual
    name, with_parameters = _digest_identifier(econtent, parts[1])
    if name not in DIGEST_OIDS:
        raise der.Unusual
    hashes_by_dg: dict[int, bytes] = {}
    for item in der.elements(econtent, parts[2][2], parts[2][3]):
        group, value = _data_group_hash(econtent, item)
        if group in hashes_by_dg:  # a data group hashed twice
            raise der.Unusual
        hashes_by_dg[group] = value
    versions: tuple[str | None, str | None] = (None, None)
    if len(parts) == 4:
        lds, unicode = der.shaped(econtent, parts[3][2], parts[3][3], der.PRINTABLE_STRING, der.PRINTABLE_STRING)
        versions = (der.contents(econtent, lds).decode("latin1"), der.contents(econtent, unicode).decode("latin1"))
    try:
        return LDSSecurityObject(name, hashes_by_dg, der.integer(econtent, parts[0]), *versions), with_parameters
    except ValidationError as exc:
        raise der.Unusual from exc
