"""The canonical shape of a CMS SignedData, read by hand: the fast path of :meth:`~cardlib.lds.sod.SOD.decode`.

What :func:`read_signed_data` reads without asn1crypto: minimal definite lengths, certificates only in
``certificates``, no CRLs, one SignerInfo without unsigned attributes, signed attributes contentType,
messageDigest and optionally signingTime (once each, one value each, times as YYMMDDHHMMSSZ or
YYYYMMDDHHMMSSZ), digest AlgorithmIdentifiers with no parameters or NULL.  Every SOD cardlib signs and the
public specimens have it.  What repeats across a batch (OIDs, the signature AlgorithmIdentifier, the issuer
Name, the certificates) is decoded by asn1crypto once per exact bytes.  Anything else raises
:class:`~cardlib.lds.der.Unusual`, and :func:`~cardlib.lds.signeddata.decode_signed_data` decides.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from asn1crypto import algos

from cardlib.errors import DecodeError
from cardlib.lds import der
from cardlib.lds.asn1 import decoding, load_strict
from cardlib.lds.oids import DIGEST_NAMES, ID_CONTENT_TYPE, ID_MESSAGE_DIGEST, ID_SIGNED_DATA, ID_SIGNING_TIME
from cardlib.lds.signeddata import (
    CERTIFICATE_CACHE_SIZE,
    SignatureAlgorithm,
    SignerCertificate,
    SignerIdentifier,
    load_certificate,
    parse_name,
    signature_algorithm,
)

_SIGNED_ATTRIBUTES = {ID_CONTENT_TYPE: der.OID, ID_MESSAGE_DIGEST: der.OCTET_STRING}
_TIMES = {der.UTC_TIME: 13, der.GENERALIZED_TIME: 15}


def read_signed_data(raw: bytes, start: int) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The :class:`~cardlib.lds.signeddata.SignedContent` fields of the ContentInfo that starts at ``start`` of
    ``raw`` and ends with it, and which of its digest AlgorithmIdentifiers (``SignedData.digestAlgorithms``,
    ``SignerInfo.digestAlgorithm``) carry parameters; :class:`der.Unusual` for any other shape."""
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
    digests = [digest_identifier(raw, item) for item in der.elements(raw, parts[1][2], parts[1][3])]
    econtent_type, econtent = _encapsulated(raw, parts[2])
    certificates = _certificates(raw, parts[3]) if len(parts) == 5 else ()
    signer_info = der.single(raw, parts[-1], der.SEQUENCE)
    signer, signer_digest_parameters = _signer(raw, signer_info)
    identifiers_with_parameters = {"SignedData.digestAlgorithms": any(present for _, present in digests),
                                   "SignerInfo.digestAlgorithm": signer_digest_parameters}
    fields = {"raw": raw, "version": _cms_version(raw, parts[0]),
              "digest_algorithms": tuple(name for name, _ in digests), "econtent_type": econtent_type,
              "econtent": econtent, "signer_certificates": certificates, "crl_count": 0, **signer}
    return fields, tuple(where for where, present in identifiers_with_parameters.items() if present)


def _cms_version(data: bytes, item: der.Element) -> int:
    """CMSVersion v0..v5, the values asn1crypto names."""
    value = der.integer(data, item)
    if not 0 <= value <= 5:
        raise der.Unusual
    return value


def digest_identifier(data: bytes, item: der.Element) -> tuple[str, bool]:
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


def _certificates(data: bytes, item: der.Element) -> tuple[SignerCertificate, ...]:
    found = []
    for certificate in der.elements(data, item[2], item[3]):
        if certificate[0] != der.SEQUENCE:
            raise der.Unusual
        encoded = data[certificate[1] : certificate[3]]
        found.append(SignerCertificate(encoded, load_certificate(encoded)))
    return tuple(found)


def _signer(data: bytes, item: der.Element) -> tuple[dict[str, Any], bool]:
    """The SignerInfo's fields (as :func:`~cardlib.lds.signeddata.decode_signed_data` gives them) and whether
    its digest algorithm carries parameters."""
    parts = der.elements(data, item[2], item[3])
    attributes = parts[3] if len(parts) == 6 else None
    if len(parts) not in (5, 6) or (attributes is not None and attributes[0] != 0xA0):
        raise der.Unusual
    digest_name, digest_parameters = digest_identifier(data, parts[2])
    algorithm, signature = parts[-2:]
    if algorithm[0] != der.SEQUENCE or signature[0] != der.OCTET_STRING:
        raise der.Unusual
    values = _attributes(data, attributes) if attributes is not None else {}
    fields = {
        "signer_version": _cms_version(data, parts[0]),
        "sid": _sid(data, parts[1]),
        "digest_algorithm": digest_name,
        "signature_algorithm": _cached_signature_algorithm(data[algorithm[1] : algorithm[3]]),
        "signed_attributes": None if attributes is None else b"\x31" + data[attributes[1] + 1 : attributes[3]],
        "content_type_attribute": values.get(ID_CONTENT_TYPE),
        "message_digest": values.get(ID_MESSAGE_DIGEST),
        "signing_time": values.get(ID_SIGNING_TIME),
        "signature": der.contents(data, signature),
    }
    return fields, digest_parameters


def _sid(data: bytes, item: der.Element) -> SignerIdentifier:
    if item[0] == 0x80:  # [0] IMPLICIT SubjectKeyIdentifier
        return SignerIdentifier(subject_key_identifier=der.contents(data, item))
    if item[0] != der.SEQUENCE:
        raise der.Unusual
    name, serial = der.shaped(data, item[2], item[3], der.SEQUENCE, der.INTEGER)
    issuer = data[name[1] : name[3]]
    try:
        parse_name(issuer)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError) as exc:
        raise der.Unusual from exc
    return SignerIdentifier(issuer=issuer, serial_number=der.integer(data, serial))


def _attributes(data: bytes, item: der.Element) -> dict[str, Any]:
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


@lru_cache(maxsize=CERTIFICATE_CACHE_SIZE)
def _cached_signature_algorithm(encoded: bytes) -> SignatureAlgorithm:
    """SignerInfo.signatureAlgorithm decoded by asn1crypto once per exact bytes (a batch repeats its signer's)."""
    try:
        value = load_strict(algos.SignedDigestAlgorithm, encoded, file="SignedData", field="SignerInfo")
        with decoding("SignedData", "SignerInfo"):
            return signature_algorithm(value)
    except DecodeError as exc:
        raise der.Unusual from exc
