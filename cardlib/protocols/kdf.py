"""Key derivation function of ICAO 9303-11 §9.7.1: keys for BAC, PACE and Chip Authentication.

``KDF(K, c) = H(K || c)`` with the 32-bit big-endian counter ``c`` (1: encryption, 2: MAC, 3: PACE
password key Kπ).  SHA-1 serves 3DES and AES-128, SHA-256 serves AES-192 and AES-256; the digest is cut to
the key length and 3DES keys get odd DES parity in every byte.
"""

from __future__ import annotations

import hashlib

from cardlib.errors import ProtocolError

COUNTER_ENC = 1
COUNTER_MAC = 2
COUNTER_PI = 3
_AES_KEY_BITS = (128, 192, 256)


def adjust_parity(key: bytes) -> bytes:
    """Set the least significant bit of each byte so every byte has odd parity (DES key convention)."""
    return bytes((byte & 0xFE) | ((bin(byte >> 1).count("1") + 1) % 2) for byte in key)


def kdf(shared_secret: bytes, counter: int, cipher: str, key_bits: int = 128) -> bytes:
    """Derive one key from a shared secret (or a BAC key seed / password hash) and a counter.

    ``cipher`` is ``"3DES"`` (two-key 3DES, 16 bytes, ``key_bits`` ignored beyond 112/128) or ``"AES"``
    with ``key_bits`` 128, 192 or 256.
    """
    data = shared_secret + counter.to_bytes(4, "big")
    if cipher == "3DES":
        if key_bits not in (112, 128):
            raise ProtocolError(f"3DES keys are 112 bits, not {key_bits}")
        return adjust_parity(hashlib.sha1(data).digest()[:16])
    if cipher != "AES" or key_bits not in _AES_KEY_BITS:
        raise ProtocolError(f"no KDF for cipher {cipher!r} with {key_bits}-bit keys")
    digest = hashlib.sha1(data).digest() if key_bits == 128 else hashlib.sha256(data).digest()
    return digest[: key_bits // 8]


def kdf_enc(shared_secret: bytes, cipher: str, key_bits: int = 128) -> bytes:
    """Session encryption key KSenc (counter 1)."""
    return kdf(shared_secret, COUNTER_ENC, cipher, key_bits)


def kdf_mac(shared_secret: bytes, cipher: str, key_bits: int = 128) -> bytes:
    """Session MAC key KSmac (counter 2)."""
    return kdf(shared_secret, COUNTER_MAC, cipher, key_bits)


def kdf_pi(password_hash: bytes, cipher: str, key_bits: int = 128) -> bytes:
    """PACE password key Kπ (counter 3) from the encoded password (CAN bytes or SHA-1 of MRZ information)."""
    return kdf(password_hash, COUNTER_PI, cipher, key_bits)
