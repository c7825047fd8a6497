"""Chip Authentication Mapping (ICAO 9303-11 §4.4.3.5): the chip proves it holds the static key of
EF.CardSecurity inside PACE itself.

The chip sends A_IC = E(KSenc, CA_IC) with CA_IC = SK_IC⁻¹ · SK_Map,IC mod n, encoded as FE2OS (the octet
length of n) and padded with ISO/IEC 9797-1 method 2, AES-CBC with IV = E(KSenc, -1) (all bits set).  The
terminal decrypts it and checks PK_Map,IC = CA_IC · PK_IC against the chip's static public key PK_IC, which it
takes from EF.CardSecurity once Passive Authentication has vouched for that file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cardlib.curves import Curve, for_cryptography
from cardlib.errors import ProtocolError
from cardlib.lds.asn1 import ECPublicKeyInfo
from cardlib.protocols import ecpoint
from cardlib.protocols.sm import cbc_decrypt, cbc_encrypt, ecb_encrypt_block, pad, unpad

_AES_BLOCK = 16


@dataclass(frozen=True)
class CAMProof:
    """What a terminal got from a completed PACE-CAM, for a verifier elsewhere (:mod:`cardlib.evidence`): the
    PACE protocol OID and domain parameter ID, the chip's mapping public key PK_Map,IC and its decrypted chip
    authentication data CA_IC.  Re-checking PK_Map,IC = CA_IC · PK_IC against EF.CardSecurity's key shows the
    pair fits that key; it holds no session key (CA_IC reveals nothing of SK_IC while SK_Map,IC stays in the
    chip), and proves no liveness to a third party (anyone can pick CA_IC and compute PK_Map,IC)."""

    protocol: str
    parameter_id: int
    mapping_public_key: bytes
    data: bytes


def _iv(ks_enc: bytes) -> bytes:
    return ecb_encrypt_block("AES", ks_enc, b"\xff" * _AES_BLOCK)


def _scalar_bytes(curve: Curve) -> int:
    return (curve.n.bit_length() + 7) // 8


def chip_authentication_data(curve: Curve, static_private: int, mapping_private: int) -> bytes:
    """CA_IC = SK_IC⁻¹ · SK_Map,IC mod n, as FE2OS octets of the length of n (§4.4.5.6)."""
    if not 0 < static_private < curve.n:
        raise ProtocolError("chip authentication private key is outside [1, n-1]")
    value = pow(static_private, -1, curve.n) * mapping_private % curve.n
    return value.to_bytes(_scalar_bytes(curve), "big")


def encrypt_chip_authentication_data(ks_enc: bytes, data: bytes) -> bytes:
    """A_IC = E(KSenc, CA_IC): AES-CBC, IV = E(KSenc, -1), padding method 2."""
    return cbc_encrypt("AES", ks_enc, pad(data, _AES_BLOCK), _iv(ks_enc))


def decrypt_chip_authentication_data(curve: Curve, ks_enc: bytes, encrypted: bytes) -> bytes:
    """CA_IC from A_IC; ProtocolError when it does not decrypt to a padded scalar of the length of n."""
    data = unpad(cbc_decrypt("AES", ks_enc, encrypted, _iv(ks_enc)))
    if len(data) != _scalar_bytes(curve):
        raise ProtocolError(f"chip authentication data is {len(data)} bytes, not {_scalar_bytes(curve)}")
    return data


StaticPublicKey = bytes | ec.EllipticCurvePublicKey | ecpoint.ECPublicPoint


def static_public_point(curve: Curve, key: StaticPublicKey) -> bytes:
    """The uncompressed point of the chip's static key, given as a point, a :mod:`cryptography` key or a
    decoded ChipAuthenticationPublicKeyInfo key; ProtocolError when the key is on another curve."""
    if isinstance(key, bytes):
        return key
    if isinstance(key, ec.EllipticCurvePublicKey):
        key_curve = for_cryptography(key.curve)
        point = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    else:
        key_curve, point = key.curve, key.point
    if key_curve != curve:
        raise ProtocolError(f"chip authentication key is on {key_curve.name}, PACE ran on {curve.name}")
    return point


def verify_chip_authentication(curve: Curve, data: bytes, static_public: bytes, mapping_public: bytes) -> None:
    """Check PK_Map,IC = CA_IC · PK_IC (§4.4.3.5.2); ProtocolError naming the failure otherwise."""
    scalar = int.from_bytes(data, "big")
    if not 0 < scalar < curve.n:
        raise ProtocolError("chip authentication data is not a scalar in [1, n-1]")
    static_point = ecpoint.decode_point(curve, static_public, what="chip authentication public key")
    expected = ecpoint.decode_point(curve, mapping_public, what="chip mapping public key")
    if ecpoint.encode_point(curve, ecpoint.multiply(static_point, scalar)) != ecpoint.encode_point(curve, expected):
        raise ProtocolError("PACE-CAM: the chip's authentication data does not match its static public key "
                            "(the chip does not hold the key of EF.CardSecurity)")


def keys_on(curve: Curve, public_keys: Iterable[object]) -> list[ECPublicKeyInfo]:
    """The EC keys on ``curve`` among ``public_keys`` (EF.CardSecurity's Chip Authentication keys): the ones a
    PACE-CAM run on that curve can prove."""
    return [key for key in public_keys if isinstance(key, ECPublicKeyInfo) and key.curve == curve]


def verify_proof(curve: Curve, proof: CAMProof, static_keys: Iterable[StaticPublicKey]) -> None:
    """Check ``proof`` against each candidate static key (EF.CardSecurity may hold several); ProtocolError naming
    every failure when none fits."""
    failures = []
    for key in static_keys:
        try:
            verify_chip_authentication(curve, proof.data, static_public_point(curve, key), proof.mapping_public_key)
        except ProtocolError as exc:
            failures.append(str(exc))
            continue
        return
    raise ProtocolError("; ".join(failures) or "no static key to check the PACE-CAM proof against")
