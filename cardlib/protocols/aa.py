"""Active Authentication (ICAO 9303-11 §6.1): the chip signs the terminal's challenge with its DG15 key.

RSA keys sign with ISO/IEC 9796-2 digital signature scheme 1, partial message recovery:
``F = 6A || M1 || H(M1 || challenge) || trailer``, where M1 is chip randomness filling the modulus and the
trailer is ``BC`` (SHA-1, implicit) or ``<hash id> CC`` (explicit hash).  EC keys sign with ECDSA and the
plain ``r || s`` format of BSI TR-03111; verification also accepts DER, as some chips send it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from cardlib.errors import ProtocolError

ISO9796_PARTIAL_RECOVERY = 0x6A
TRAILER_IMPLICIT_SHA1 = 0xBC
TRAILER_EXPLICIT = 0xCC
# ISO/IEC 10118 hash identifiers used in the explicit trailer ``<id> CC``.
HASH_IDS: dict[str, int] = {"sha1": 0x33, "sha256": 0x34, "sha512": 0x35, "sha384": 0x36, "sha224": 0x38}
_HASH_BY_ID = {value: name for name, value in HASH_IDS.items()}
_ECDSA_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256, "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class AAResult:
    """Outcome of verifying an Active Authentication signature; ``reason`` says why in words."""

    ok: bool
    reason: str
    hash_name: str | None = None


def _digest(hash_name: str, data: bytes) -> bytes:
    if hash_name not in HASH_IDS:
        raise ProtocolError(f"unsupported Active Authentication hash {hash_name!r}")
    return hashlib.new(hash_name, data).digest()


def aa_sign(private_key: PrivateKey, challenge: bytes, *, hash_name: str = "sha256",
            rng: Callable[[int], bytes] = os.urandom) -> bytes:
    """The chip's answer to INTERNAL AUTHENTICATE: the signature over ``challenge``."""
    if isinstance(private_key, rsa.RSAPrivateKey):
        return _rsa_sign(private_key, challenge, hash_name, rng)
    signature = private_key.sign(challenge, ec.ECDSA(_ecdsa_hash(hash_name)))
    r, s = decode_dss_signature(signature)
    size = (private_key.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def _ecdsa_hash(hash_name: str) -> hashes.HashAlgorithm:
    if hash_name not in _ECDSA_HASHES:
        raise ProtocolError(f"unsupported Active Authentication hash {hash_name!r}")
    return _ECDSA_HASHES[hash_name]()


def _rsa_sign(key: rsa.RSAPrivateKey, challenge: bytes, hash_name: str, rng: Callable[[int], bytes]) -> bytes:
    """ISO/IEC 9796-2 scheme 1 with partial recovery: F = 6A || M1 || H(M1 || M2) || trailer, then F^d mod n."""
    size = (key.key_size + 7) // 8
    digest_length = len(_digest(hash_name, b""))
    trailer = bytes([TRAILER_IMPLICIT_SHA1]) if hash_name == "sha1" else bytes([HASH_IDS[hash_name],
                                                                               TRAILER_EXPLICIT])
    m1_length = size - 1 - digest_length - len(trailer)
    if m1_length < 1:
        raise ProtocolError(f"a {key.key_size}-bit RSA key is too short for ISO 9796-2 with {hash_name}")
    m1 = rng(m1_length)
    encoded = bytes([ISO9796_PARTIAL_RECOVERY]) + m1 + _digest(hash_name, m1 + challenge) + trailer
    numbers = key.private_numbers()
    signature = pow(int.from_bytes(encoded, "big"), numbers.d, numbers.public_numbers.n)
    return signature.to_bytes(size, "big")


def aa_verify(public_key: PublicKey, challenge: bytes, signature: bytes, *, hash_name: str | None = None) -> AAResult:
    """Check the chip's signature over ``challenge``; never raises for a bad signature, it reports it.

    For RSA the hash comes from the trailer (``BC`` = SHA-1); for ECDSA ``hash_name`` is the one named by
    DG14's ActiveAuthenticationInfo, and when unknown every supported hash is tried.
    """
    if isinstance(public_key, rsa.RSAPublicKey):
        return _rsa_verify(public_key, challenge, signature)
    return _ecdsa_verify(public_key, challenge, signature, hash_name)


def _rsa_recover(key: rsa.RSAPublicKey, signature: bytes) -> bytes | None:
    """The ISO 9796-2 message representative J = s^e mod n (or n - J, the variant some signers use)."""
    numbers = key.public_numbers()
    size = (key.key_size + 7) // 8
    value = int.from_bytes(signature, "big")
    if len(signature) != size or value >= numbers.n:
        return None
    recovered = pow(value, numbers.e, numbers.n)
    if recovered & 0x0F != 0x0C:
        recovered = numbers.n - recovered
    return recovered.to_bytes(size, "big")


def _rsa_verify(key: rsa.RSAPublicKey, challenge: bytes, signature: bytes) -> AAResult:
    encoded = _rsa_recover(key, signature)
    if encoded is None:
        return AAResult(False, "RSA signature length or value does not match the modulus")
    if encoded[0] != ISO9796_PARTIAL_RECOVERY:
        return AAResult(False, f"ISO 9796-2 header {encoded[0]:02X} is not 6A (scheme 1, partial recovery)")
    if encoded[-1] == TRAILER_IMPLICIT_SHA1:
        hash_name, trailer_length = "sha1", 1
    elif encoded[-1] == TRAILER_EXPLICIT and encoded[-2] in _HASH_BY_ID:
        hash_name, trailer_length = _HASH_BY_ID[encoded[-2]], 2
    else:
        return AAResult(False, f"ISO 9796-2 trailer {encoded[-2:].hex().upper()} names no supported hash")
    digest_length = len(_digest(hash_name, b""))
    end = len(encoded) - trailer_length
    m1, digest = encoded[1 : end - digest_length], encoded[end - digest_length : end]
    if not hmac.compare_digest(_digest(hash_name, m1 + challenge), digest):
        return AAResult(False, f"ISO 9796-2 {hash_name.upper()} digest does not cover the challenge", hash_name)
    return AAResult(True, f"RSA ISO 9796-2 signature verifies with {hash_name.upper()}", hash_name)


def _ecdsa_candidates(key: ec.EllipticCurvePublicKey, signature: bytes) -> list[bytes]:
    """DER encodings to try: the plain ``r || s`` reading when the length fits, and the signature as DER."""
    size = (key.curve.key_size + 7) // 8
    candidates = [signature]
    if len(signature) == 2 * size:
        r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
        candidates.insert(0, encode_dss_signature(r, s))
    return candidates


def _ecdsa_verify(key: ec.EllipticCurvePublicKey, challenge: bytes, signature: bytes,
                  hash_name: str | None) -> AAResult:
    names = [hash_name] if hash_name else list(_ECDSA_HASHES)
    for name in names:
        algorithm = ec.ECDSA(_ecdsa_hash(name))
        for candidate in _ecdsa_candidates(key, signature):
            try:
                key.verify(candidate, challenge, algorithm)
            except (InvalidSignature, ValueError):
                continue
            return AAResult(True, f"ECDSA signature verifies with {name.upper()}", name)
    return AAResult(False, "ECDSA signature does not verify (plain r||s or DER)", hash_name)
