"""DG15: the Active Authentication public key (ICAO 9303-10 §4.7.15, 9303-11 §6.1).

``6F L { SubjectPublicKeyInfo }`` with an RSA key (ISO/IEC 9796-2 signatures) or an EC key (ECDSA; the
domain parameters may be named or explicit).  The SubjectPublicKeyInfo bytes are kept as read, so a decoded
DG15 re-encodes byte-identically and its SOD hash still matches.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cardlib.errors import DecodeError, EncodeError
from cardlib.lds.asn1 import (
    ECPublicKeyInfo,
    RSAPublicKeyInfo,
    decode_public_key_info,
    public_key_info_from_cryptography,
)
from cardlib.lds.files import DATA_GROUPS
from cardlib.lds.tlv import encode_tlv, read_single

TAG_DG15 = 0x6F
_FILE = DATA_GROUPS[15].name

ActiveAuthenticationKey = RSAPublicKeyInfo | ECPublicKeyInfo


@dataclass(frozen=True)
class DG15:
    """The chip's Active Authentication public key."""

    public_key: ActiveAuthenticationKey

    @classmethod
    def from_cryptography(
        cls, key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey, *, explicit_parameters: bool = False
    ) -> DG15:
        """DG15 for a :mod:`cryptography` RSA or EC public key (EC optionally with explicit parameters)."""
        info = public_key_info_from_cryptography(key, explicit_parameters=explicit_parameters)
        if not isinstance(info, RSAPublicKeyInfo | ECPublicKeyInfo):
            raise EncodeError("DG15 holds an RSA or EC key")
        return cls(info)

    def encode(self) -> bytes:
        """The whole file, outer tag 6F included."""
        return encode_tlv(TAG_DG15, self.public_key.der)

    @classmethod
    def decode(cls, data: bytes) -> DG15:
        """Parse DG15; DecodeError for a wrong tag, malformed DER or a key that is neither RSA nor EC."""
        outer = read_single(bytes(data), TAG_DG15, file=_FILE)
        key = decode_public_key_info(outer.value, file=_FILE)
        if not isinstance(key, RSAPublicKeyInfo | ECPublicKeyInfo):
            raise DecodeError("Active Authentication key must be RSA or EC", file=_FILE,
                              field="SubjectPublicKeyInfo", offset=outer.header_length)
        return cls(key)
