"""The Certificate Holder Authorization Template of a CV certificate (BSI TR-03110-3 C.4): the terminal type,
the role of the holder in the chain and, for inspection systems, the data groups it may read.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag

from cardlib.errors import DecodeError
from cardlib.lds.oids import ID_IS
from cardlib.lds.tlv import TLV, encode_tlv
from cardlib.pki.cvc.codec import FILE, TAG_CHAT, TAG_DISCRETIONARY_DATA, TAG_OID, decode_oid, encode_oid, exactly


class Role(IntEnum):
    """The two top bits of the CHAT's first byte (TR-03110-3 Table C.4): who holds the certificate."""

    INSPECTION_SYSTEM = 0b00
    DV_FOREIGN = 0b01
    DV_DOMESTIC = 0b10
    CVCA = 0b11

    @property
    def is_dv(self) -> bool:
        """A document verifier, official domestic or non-official/foreign."""
        return self in (Role.DV_DOMESTIC, Role.DV_FOREIGN)


class AccessRight(IntFlag):
    """The read rights of an inspection system's CHAT (TR-03110-3 Table C.4, the lowest bits)."""

    NONE = 0
    READ_DG3 = 0x01  # fingerprints
    READ_DG4 = 0x02  # iris

    def names(self) -> list[str]:
        """The data groups this right lets a terminal read, e.g. ``["DG3", "DG4"]``."""
        return [f"DG{number}" for flag, number in ((AccessRight.READ_DG3, 3), (AccessRight.READ_DG4, 4))
                if flag in self]


_RIGHTS_MASK = 0x03
_ROLE_SHIFT = 6


@dataclass(frozen=True)
class CHAT:
    """Certificate Holder Authorization Template: a terminal-type OID and the discretionary data after it.

    For inspection systems (``id-IS``) the data is one byte: the role in its two top bits, RFU bits, then the
    read rights for DG4 and DG3 (TR-03110-3 Table C.4).  The bytes are kept as given so a decode re-encodes.
    """

    oid: str
    data: bytes

    @classmethod
    def inspection_system(cls, role: Role, rights: AccessRight = AccessRight.NONE) -> CHAT:
        """The one-byte id-IS template of ``role`` granting ``rights``."""
        return cls(ID_IS, bytes([(role << _ROLE_SHIFT) | rights]))

    @property
    def role(self) -> Role:
        """Who holds the certificate, from the two top bits."""
        return Role(self.data[0] >> _ROLE_SHIFT)

    @property
    def rights(self) -> AccessRight:
        """The DG3/DG4 read rights; none for a terminal type other than an inspection system."""
        return AccessRight(self.data[0] & _RIGHTS_MASK) if self.oid == ID_IS else AccessRight.NONE

    def encode(self) -> bytes:
        """The ``7F4C`` object."""
        return encode_tlv(TAG_CHAT, encode_tlv(TAG_OID, encode_oid(self.oid))
                          + encode_tlv(TAG_DISCRETIONARY_DATA, self.data))

    @classmethod
    def decode(cls, chat: TLV) -> CHAT:
        """Read a ``7F4C`` object: 06 terminal-type OID, 53 discretionary data (at least one byte)."""
        oid, data = exactly(chat, (TAG_OID, TAG_DISCRETIONARY_DATA), "CHAT")
        if not data.value:
            raise DecodeError("empty discretionary data", file=FILE, field="CHAT", offset=data.offset)
        return cls(decode_oid(oid, "CHAT terminal type"), data.value)


__all__ = [
    "CHAT",
    "AccessRight",
    "Role",
]
