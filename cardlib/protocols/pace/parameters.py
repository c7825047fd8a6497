"""What a PACE run is set up with (ICAO 9303-11 §4.4.1, §9.2.1): the protocol and standardized domain parameters
a PACEInfo of EF.CardAccess selects, and the password (CAN or MRZ information, password references 2 and 1).

Domain parameters are the standardized ones: MODP groups 0–2 (DH) and curves 8–18 (ECDH; NIST P-224 has no
integrated mapping).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from asn1crypto.core import ObjectIdentifier

from cardlib.curves import Curve, by_parameter_id, modp_group_by_parameter_id
from cardlib.errors import PKIError, ProtocolError, ValidationError
from cardlib.lds.oids import PROTOCOLS, Family, SecurityProtocol
from cardlib.lds.securityinfo import PACEInfo
from cardlib.protocols.bac import mrz_information_digest
from cardlib.protocols.pace.groups import AnyGroup, DHGroup, ECGroup
from cardlib.protocols.pace.integrated import nonce_lengths, supports_point_encoding
from cardlib.protocols.sm import block_size

__all__ = ["PASSWORD_REFERENCES", "Mapping", "PACEParameters", "PasswordType", "offered_parameters",
           "password_key"]

PasswordType = Literal["CAN", "MRZ"]
Mapping = Literal["GM", "IM", "CAM"]
PASSWORD_REFERENCES: dict[PasswordType, int] = {"MRZ": 1, "CAN": 2}
_MAPPINGS: dict[str, Mapping] = {"GM": "GM", "IM": "IM", "CAM": "CAM"}
_KEY_BITS = {"3DES": 112, "AES-128": 128, "AES-192": 192, "AES-256": 256}


@dataclass(frozen=True)
class PACEParameters:
    """What a PACEInfo of EF.CardAccess selects: the protocol OID and the standardized domain parameter ID.

    ProtocolError when cardlib cannot run the pair: not a PACE OID, an unknown or mismatched parameter ID
    (a MODP group for ECDH or a curve for DH), or the integrated mapping on a curve without p ≡ 3 mod 4.
    """

    protocol: str
    parameter_id: int

    def __post_init__(self) -> None:
        known = PROTOCOLS.get(self.protocol)
        if known is None or known.family != Family.PACE:
            raise ProtocolError(f"{self.protocol} is not a PACE protocol")
        group = self.group
        if known.mapping == "IM" and isinstance(group, ECGroup) and not supports_point_encoding(group.curve):
            raise ProtocolError(f"{known.name} cannot use {group.curve.name} (no integrated mapping point "
                                "encoding, ICAO 9303-11 Table 12)")

    @property
    def algorithm(self) -> SecurityProtocol:
        """The meaning of :attr:`protocol` (key agreement, mapping, cipher), from its one home."""
        return PROTOCOLS[self.protocol]

    @property
    def mapping(self) -> Mapping:
        """Generic mapping, integrated mapping or chip authentication mapping."""
        return _MAPPINGS[self.algorithm.mapping or ""]

    @property
    def cipher(self) -> Literal["3DES", "AES"]:
        """Secure messaging cipher of the protocol."""
        return "3DES" if self.algorithm.cipher == "3DES" else "AES"

    @property
    def key_bits(self) -> int:
        """Session key length in bits (112 for two-key 3DES)."""
        return _KEY_BITS[self.algorithm.cipher or ""]

    @cached_property
    def group(self) -> AnyGroup:
        """The standardized group of ``parameter_id``: a curve (ECDH) or a MODP group (DH)."""
        try:
            if self.algorithm.key_agreement == "DH":
                return DHGroup(modp_group_by_parameter_id(self.parameter_id))
            return ECGroup(by_parameter_id(self.parameter_id))
        except PKIError as exc:
            raise ProtocolError(f"{self.algorithm.name}: {exc}") from None

    @property
    def curve(self) -> Curve:
        """The standardized elliptic curve of ``parameter_id``; ProtocolError for a DH protocol."""
        group = self.group
        if not isinstance(group, ECGroup):
            raise ProtocolError(f"{self.algorithm.name} uses a MODP group, not an elliptic curve")
        return group.curve

    @property
    def oid_bytes(self) -> bytes:
        """The protocol OID's DER content octets (the value of DO 80 and of DO 06 in tokens)."""
        return bytes(ObjectIdentifier(self.protocol).contents)

    @property
    def nonce_length(self) -> int:
        """Length of the chip's nonce s: one cipher block, or for the integrated mapping at least the key."""
        return nonce_lengths(self.cipher, self.key_bits)[0] if self.mapping == "IM" else block_size(self.cipher)


def offered_parameters(infos: Iterable[PACEInfo]) -> tuple[PACEParameters, ...]:
    """The PACE variants that the PACEInfos of an EF.CardAccess offer and cardlib can run, in their order: an info
    without a standardized parameter ID, or one naming what cardlib cannot run, is left out.  The chip answers
    MSE:Set AT from these; the reader ranks them by its preference."""
    offered = []
    for info in infos:
        if info.parameter_id is None:
            continue
        try:
            offered.append(PACEParameters(info.protocol, info.parameter_id))
        except ProtocolError:
            continue
    return tuple(offered)


def password_key(password: str, password_type: PasswordType) -> bytes:
    """The encoded password K: CAN digits as ISO 8859-1, or SHA-1 of the MRZ information."""
    if password_type not in PASSWORD_REFERENCES:
        raise ValidationError(f"unknown PACE password type {password_type!r}", field="password_type")
    if password_type == "MRZ":
        return mrz_information_digest(password)
    try:
        encoded = password.encode("ascii")
    except UnicodeEncodeError:
        raise ValidationError("PACE password must be ASCII", field="password") from None
    if not encoded:
        raise ValidationError("PACE password is empty", field="password")
    return encoded
