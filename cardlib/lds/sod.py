"""EF.SOD, the Document Security Object (ICAO 9303-10 §4.6.2, 9303-12 profile).

::

    77 L  ContentInfo { signedData SignedData {
            version 3, digestAlgorithms, encapContentInfo { ldsSecurityObject, LDSSecurityObject DER },
            certificates { Document Signer }, signerInfos { one SignerInfo } } }

    LDSSecurityObject ::= SEQUENCE { version INTEGER, hashAlgorithm AlgorithmIdentifier,
                                     dataGroupHashValues SEQUENCE OF DataGroupHash,
                                     ldsVersionInfo LDSVersionInfo OPTIONAL }   -- LDS 1.8: version 1

:meth:`SOD.decode` exposes everything passive authentication needs (the CMS fields of
:class:`~cardlib.lds.signeddata.SignedContent` and the data group hashes) but verifies nothing: that is the
job of the PKI/verify layer.  A SOD of the canonical shape is read by hand
(:mod:`cardlib.lds.signeddata_canonical`, and :func:`_decode_lso_canonical` here), any other by asn1crypto.
:meth:`SOD.sign` builds a new SOD as the CCCD profile in the shared docs describes.  A decoded SOD keeps its
bytes, so :meth:`SOD.encode` gives back exactly what was read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asn1crypto import algos, core

from cardlib.errors import DecodeError, ValidationError
from cardlib.lds import der
from cardlib.lds.asn1 import AlgorithmIdentifier, algorithm_identifier_der, decoding, load_strict, sequence_type
from cardlib.lds.files import EF_SOD
from cardlib.lds.oids import DIGEST_NAMES, DIGEST_OIDS, ID_LDS_SECURITY_OBJECT, ID_LDS_SECURITY_OBJECT_LEGACY
from cardlib.lds.signeddata import (
    SignedContent,
    SODSigner,
    decode_signed_data,
    digest,
    digest_size,
    encode_content_info,
)
from cardlib.lds.signeddata_canonical import digest_identifier, read_signed_data
from cardlib.lds.tlv import encode_tlv, read_single

TAG_SOD = 0x77
_FILE = EF_SOD.name
_FIELD_LSO = "LDSSecurityObject"


_DataGroupHash = sequence_type("DataGroupHash", [
    ("data_group_number", core.Integer), ("data_group_hash_value", core.OctetString)])
_LDSVersionInfo = sequence_type("LDSVersionInfo", [
    ("lds_version", core.PrintableString), ("unicode_version", core.PrintableString)])
_DataGroupHashValues: Any = type("DataGroupHashValues", (core.SequenceOf,), {"_child_spec": _DataGroupHash})
_LDSSecurityObject = sequence_type("LDSSecurityObject", [
    ("version", core.Integer), ("hash_algorithm", AlgorithmIdentifier),
    ("data_group_hash_values", _DataGroupHashValues), ("lds_version_info", _LDSVersionInfo, {"optional": True})])


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


def _has_parameters(identifier: algos.DigestAlgorithm) -> bool:
    return not isinstance(identifier["parameters"], core.Void)


# --- the canonical shape, read by hand ----------------------------------------------------------------------


def _decode_canonical(raw: bytes, start: int) -> SOD:
    """The SOD whose ContentInfo starts at ``start`` of ``raw``; :class:`der.Unusual` for any other shape."""
    fields, with_parameters = read_signed_data(raw, start)
    lso, lso_parameters = _decode_lso_canonical(fields["econtent"])
    if lso_parameters:
        with_parameters += ("LDSSecurityObject.hashAlgorithm",)
    return SOD(**fields, lds_security_object=lso, digest_identifiers_with_parameters=with_parameters)


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
    name, with_parameters = digest_identifier(econtent, parts[1])
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
