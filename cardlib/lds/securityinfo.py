"""SecurityInfos of EF.CardAccess, DG14 and EF.CardSecurity (ICAO 9303-11 §9.2, BSI TR-03110-3 A.1).

::

    SecurityInfos ::= SET OF SecurityInfo
    SecurityInfo  ::= SEQUENCE { protocol OBJECT IDENTIFIER, requiredData ANY, optionalData ANY OPTIONAL }

Each SecurityInfo is decoded by its protocol OID into a typed, frozen result (:class:`PACEInfo`,
:class:`ChipAuthenticationPublicKeyInfo`, ...) whose OID meaning (key agreement, mapping, cipher, MAC) is
looked up in the registry :data:`cardlib.lds.oids.PROTOCOLS`.  The info classes are declarations
(:mod:`cardlib.lds.infotypes`): a protocol family and the ASN.1 fields after the protocol OID, in asn1crypto's
``_fields`` syntax, which one encode/decode serves; only the chip's public key has a codec of its own, for the
non-standard layout some chips write.  Infos with an OID we do not know are
kept as :class:`UnknownSecurityInfo` and written back unchanged.  The SET keeps the order it was read in (real
chips, such as the BSI 2008 specimen, do not sort it), so decoding and re-encoding a file is byte-identical.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Self, TypeVar

from asn1crypto import core
from cryptography.hazmat.primitives.asymmetric import dh, ec

from cardlib.curves import Curve
from cardlib.errors import DecodeError, EncodeError
from cardlib.lds.asn1 import (
    AlgorithmIdentifier,
    DHPublicKeyInfo,
    ECPublicKeyInfo,
    decode_public_key_info,
    decoding,
    oid_der,
    public_key_info_from_cryptography,
)
from cardlib.lds.domainparams import DomainParameter, curve_for_parameter_id
from cardlib.lds.files import DATA_GROUPS, EF_CARD_ACCESS
from cardlib.lds.infotypes import OPTIONAL, DeclaredInfo, FamilyInfo, FileID, dump
from cardlib.lds.oids import ID_AA, ID_TA, PROTOCOLS, SIGNATURE_ALGORITHMS, Family, protocol_oid
from cardlib.lds.tlv import TLV, encode_tlv, iter_tlvs, read_single, read_tlv

TAG_DG14 = 0x6E
_SET = 0x31
# Distinct SecurityInfo encodings (and OIDs) whose decoding is kept: a batch of chips repeats a handful.
_REPEATED_CACHE_SIZE = 256


@dataclass(frozen=True)
class PACEInfo(DeclaredInfo):
    """A PACE protocol the chip supports, with its version and standardized domain parameter ID."""

    family = Family.PACE
    _fields = (("version", core.Integer), ("parameter_id", core.Integer, OPTIONAL))

    protocol: str
    version: int
    parameter_id: int | None = None

    @property
    def curve(self) -> Curve | None:
        """The standardized curve for :attr:`parameter_id`, None for DH groups or proprietary IDs."""
        return None if self.parameter_id is None else curve_for_parameter_id(self.parameter_id)


@dataclass(frozen=True)
class PACEDomainParameterInfo(DeclaredInfo):
    """Explicit or standardized PACE domain parameters, referenced by a PACEInfo's parameter ID."""

    family = Family.PACE_DOMAIN_PARAMETER
    _fields = (("domain_parameter", AlgorithmIdentifier), ("parameter_id", core.Integer, OPTIONAL))

    protocol: str
    domain_parameter: DomainParameter
    parameter_id: int | None = None


@dataclass(frozen=True)
class ChipAuthenticationInfo(DeclaredInfo):
    """A Chip Authentication protocol (CA v1/v2/v3) and the ID of the key it uses."""

    family = Family.CHIP_AUTHENTICATION
    _fields = (("version", core.Integer), ("key_id", core.Integer, OPTIONAL))

    protocol: str
    version: int
    key_id: int | None = None


@dataclass(frozen=True)
class ChipAuthenticationDomainParameterInfo(DeclaredInfo):
    """Domain parameters for Chip Authentication (EF.CardSecurity, DG14 with several keys)."""

    family = Family.CHIP_AUTHENTICATION_DOMAIN_PARAMETER
    _fields = (("domain_parameter", AlgorithmIdentifier), ("key_id", core.Integer, OPTIONAL))

    protocol: str
    domain_parameter: DomainParameter
    key_id: int | None = None


@dataclass(frozen=True)
class TerminalAuthenticationInfo(DeclaredInfo):
    """Terminal Authentication support (v1 in DG14/EF.CardAccess, v2 in EF.CardSecurity); ``ef_cvca`` is the
    FileID DER of EF.CVCA when the chip names it."""

    family = Family.TERMINAL_AUTHENTICATION
    _fields = (("version", core.Integer), ("ef_cvca", FileID, OPTIONAL))
    protocol = ID_TA

    version: int
    ef_cvca: bytes | None = None


@dataclass(frozen=True)
class ActiveAuthenticationInfo(DeclaredInfo):
    """Active Authentication with an ECDSA key: which signature algorithm the chip uses (9303-11 §6.1)."""

    family = Family.ACTIVE_AUTHENTICATION
    _fields = (("version", core.Integer), ("signature_algorithm", core.ObjectIdentifier))
    protocol = ID_AA

    version: int
    signature_algorithm: str

    @property
    def signature_algorithm_name(self) -> str | None:
        """``"ecdsa-plain-SHA256"`` and the like; None for an OID outside :data:`SIGNATURE_ALGORITHMS`."""
        return SIGNATURE_ALGORITHMS.get(self.signature_algorithm)


@dataclass(frozen=True)
class ChipAuthenticationPublicKeyInfo(FamilyInfo):
    """The chip's static Chip Authentication key: EC (named, explicit or standardized parameters) or DH.

    ``inline_key`` marks the non-standard layout in which the SubjectPublicKeyInfo's two fields follow the
    protocol OID without their SEQUENCE (seen in JMRTD's EF.CardSecurity sample); it is decoded tolerantly and
    written back the same way.
    """

    family = Family.CHIP_AUTHENTICATION_PUBLIC_KEY

    protocol: str
    public_key: ECPublicKeyInfo | DHPublicKeyInfo
    key_id: int | None = None
    inline_key: bool = False

    @classmethod
    def for_key(
        cls, key: ec.EllipticCurvePublicKey | dh.DHPublicKey, *, explicit_parameters: bool = False,
        key_id: int | None = None,
    ) -> ChipAuthenticationPublicKeyInfo:
        """The info for a :mod:`cryptography` EC (id-PK-ECDH) or DH (id-PK-DH) key."""
        info = public_key_info_from_cryptography(key, explicit_parameters=explicit_parameters)
        if not isinstance(info, ECPublicKeyInfo | DHPublicKeyInfo):
            raise EncodeError("Chip Authentication keys are EC or DH")
        protocol = protocol_oid("id-PK-ECDH" if isinstance(info, ECPublicKeyInfo) else "id-PK-DH")
        return cls(protocol, info, key_id)

    def encode(self) -> bytes:
        """The SecurityInfo DER."""
        key = read_tlv(self.public_key.der).value if self.inline_key else self.public_key.der
        key_id = b"" if self.key_id is None else dump(core.Integer(self.key_id))
        return encode_tlv(0x30, oid_der(self.algorithm.oid) + key + key_id)

    @classmethod
    def decode(cls, der: bytes, *, file: str) -> Self:
        """One ChipAuthenticationPublicKeyInfo, whose protocol OID the caller has found to be an id-PK OID."""
        name = "ChipAuthenticationPublicKeyInfo"
        parts = list(iter_tlvs(read_tlv(der).value, file=file))
        if len(parts) < 2:
            raise DecodeError("public key missing", file=file, field=name)
        # The standard layout has the SubjectPublicKeyInfo SEQUENCE second; the inline one has its AlgorithmIdentifier
        # there instead (a SEQUENCE that starts with an OID) and the BIT STRING third.
        inline = len(parts) >= 3 and parts[1].tag == 0x30 and parts[1].value[:1] == b"\x06"
        key_parts, rest = (parts[1:3], parts[3:]) if inline else (parts[1:2], parts[2:])
        spki = encode_tlv(0x30, b"".join(part.encode() for part in key_parts)) if inline else key_parts[0].encode()
        if len(rest) > 1 or (rest and rest[0].tag != 0x02):
            raise DecodeError("unexpected data after the public key", file=file, field=name)
        key = decode_public_key_info(spki, file=file, field=name)
        if not isinstance(key, ECPublicKeyInfo | DHPublicKeyInfo):
            raise DecodeError("Chip Authentication key must be EC or DH", file=file, field=name)
        with decoding(file, name):
            key_id = core.Integer.load(rest[0].encode(), strict=True).native if rest else None
        return cls(_oid_of(parts[0].encode(), file), key, key_id, inline)


@dataclass(frozen=True)
class UnknownSecurityInfo:
    """A SecurityInfo whose protocol we do not interpret, kept as its exact DER."""

    protocol: str
    der: bytes

    def encode(self) -> bytes:
        """The SecurityInfo DER as it was read."""
        return self.der


SecurityInfo = (
    PACEInfo | PACEDomainParameterInfo | ChipAuthenticationInfo | ChipAuthenticationDomainParameterInfo
    | ChipAuthenticationPublicKeyInfo | TerminalAuthenticationInfo | ActiveAuthenticationInfo | UnknownSecurityInfo
)
_Info = TypeVar("_Info", bound=SecurityInfo)

# The declared types by protocol family (the chip's public key is decoded apart: see decode_security_info).
_DECLARED: dict[Family, Callable[..., SecurityInfo]] = {
    info.family: info.decode for info in (
        PACEInfo, PACEDomainParameterInfo, ChipAuthenticationInfo, ChipAuthenticationDomainParameterInfo,
        TerminalAuthenticationInfo, ActiveAuthenticationInfo)
}


@lru_cache(maxsize=_REPEATED_CACHE_SIZE)
def _oid_of(der: bytes, file: str) -> str:
    """The dotted OID of ``der``, once per exact bytes (only OIDs that decode are kept)."""
    with decoding(file, "protocol"):
        dotted: str = core.ObjectIdentifier.load(der, strict=True).dotted
        return dotted


def decode_security_info(der: bytes, *, file: str, offset: int = 0) -> SecurityInfo:
    """Decode one SecurityInfo (a SEQUENCE of the SET) by its protocol OID; ``offset`` locates it in ``file``."""
    return _decode_info(read_tlv(der, file=file), der, file, offset)


def _decode_info(obj: TLV, der: bytes, file: str, offset: int) -> SecurityInfo:
    """:func:`decode_security_info` of ``der`` once its data object ``obj`` is read (wherever ``obj.offset`` is
    counted from: the SET reads each object once)."""
    if obj.tag != 0x30 or obj.end - obj.offset != len(der):
        raise DecodeError(f"SecurityInfo must be one SEQUENCE, found tag {obj.tag:X}", file=file, offset=offset)
    try:
        first = read_tlv(obj.value, file=file)
    except DecodeError as exc:
        raise exc.within(base=offset + obj.header_length) from None
    if first.tag != 0x06:
        raise DecodeError("SecurityInfo must start with its protocol OID", file=file, offset=offset)
    oid = _oid_of(first.encode(), file)
    known = PROTOCOLS.get(oid)
    if known is None:
        return UnknownSecurityInfo(oid, bytes(der))
    try:
        if known.family == Family.CHIP_AUTHENTICATION_PUBLIC_KEY:  # the chip's own key: nothing a batch repeats
            return ChipAuthenticationPublicKeyInfo.decode(bytes(der), file=file)
        return _decode_repeated(known.family, bytes(der), file)
    except DecodeError as exc:
        raise DecodeError(exc.reason, file=file, field=exc.field, offset=offset) from None


@lru_cache(maxsize=_REPEATED_CACHE_SIZE)
def _decode_repeated(family: Family, der: bytes, file: str) -> SecurityInfo:
    """A SecurityInfo other than a chip's public key, decoded once per exact bytes: every DG14 and EF.CardAccess
    of a batch repeats its protocol, domain parameter and Active Authentication infos (results are immutable;
    bytes that do not decode raise every time, uncached)."""
    return _DECLARED[family](der, file=file)


# --- the SET and the two files that hold it ---------------------------------------------------------------

@dataclass(frozen=True)
class SecurityInfos:
    """The SET OF SecurityInfo, in file order, with typed views per protocol family."""

    infos: tuple[SecurityInfo, ...]

    _FILE = "SecurityInfos"

    def encode(self) -> bytes:
        """The SET OF SecurityInfo DER (order kept as given)."""
        return encode_tlv(_SET, b"".join(info.encode() for info in self.infos))

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """Parse a DER SET OF SecurityInfo filling ``data`` exactly."""
        return cls(_decode_set(bytes(data), cls._FILE, 0))

    def of_type(self, kind: type[_Info]) -> tuple[_Info, ...]:
        """All infos of one result type, in file order."""
        return tuple(info for info in self.infos if isinstance(info, kind))

    @property
    def pace_infos(self) -> tuple[PACEInfo, ...]:
        """The PACE protocols offered (EF.CardAccess)."""
        return self.of_type(PACEInfo)

    @property
    def pace_domain_parameter_infos(self) -> tuple[PACEDomainParameterInfo, ...]:
        """Explicit PACE domain parameters."""
        return self.of_type(PACEDomainParameterInfo)

    @property
    def chip_authentication_infos(self) -> tuple[ChipAuthenticationInfo, ...]:
        """The Chip Authentication protocols offered."""
        return self.of_type(ChipAuthenticationInfo)

    @property
    def chip_authentication_public_key_infos(self) -> tuple[ChipAuthenticationPublicKeyInfo, ...]:
        """The chip's static CA keys (DG14, EF.CardSecurity)."""
        return self.of_type(ChipAuthenticationPublicKeyInfo)

    @property
    def chip_authentication_domain_parameter_infos(self) -> tuple[ChipAuthenticationDomainParameterInfo, ...]:
        """CA domain parameters."""
        return self.of_type(ChipAuthenticationDomainParameterInfo)

    @property
    def terminal_authentication_infos(self) -> tuple[TerminalAuthenticationInfo, ...]:
        """Terminal Authentication support."""
        return self.of_type(TerminalAuthenticationInfo)

    @property
    def active_authentication_infos(self) -> tuple[ActiveAuthenticationInfo, ...]:
        """ECDSA Active Authentication signature algorithms."""
        return self.of_type(ActiveAuthenticationInfo)

    @property
    def unknown_infos(self) -> tuple[UnknownSecurityInfo, ...]:
        """SecurityInfos kept raw."""
        return self.of_type(UnknownSecurityInfo)

    def __iter__(self) -> Iterator[SecurityInfo]:
        return iter(self.infos)


class CardAccess(SecurityInfos):
    """EF.CardAccess (FID 011C in the master file): a bare SecurityInfos SET, no outer tag."""

    _FILE = EF_CARD_ACCESS.name


class DG14(SecurityInfos):
    """DG14: SecurityInfos for Chip/Terminal Authentication wrapped in tag 6E (ICAO 9303-10 §4.7.14)."""

    _FILE = DATA_GROUPS[14].name

    def encode(self) -> bytes:
        """The whole file, outer tag 6E included."""
        return encode_tlv(TAG_DG14, super().encode())

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """Parse DG14: tag 6E holding exactly one SET OF SecurityInfo."""
        outer = read_single(bytes(data), TAG_DG14, file=cls._FILE)
        return cls(_decode_set(outer.value, cls._FILE, outer.header_length))


def _decode_set(data: bytes, file: str, base: int) -> tuple[SecurityInfo, ...]:
    """The SecurityInfos of a SET filling ``data``, which starts at ``base`` in ``file``."""
    try:
        outer = read_tlv(data, file=file)
    except DecodeError as exc:
        raise exc.within(base=base) from None
    if outer.tag != _SET:
        raise DecodeError(f"expected SET OF SecurityInfo (31), found tag {outer.tag:X}", file=file, offset=base)
    if outer.end != len(data):
        raise DecodeError(f"{len(data) - outer.end} trailing bytes after the SET", file=file, offset=base + outer.end)
    infos = []
    pos = outer.header_length
    while pos < outer.end:
        try:
            obj = read_tlv(data, pos, outer.end, file=file)
        except DecodeError as exc:
            raise exc.within(base=base) from None
        infos.append(_decode_info(obj, data[pos : obj.end], file, base + pos))
        pos = obj.end
    return tuple(infos)
