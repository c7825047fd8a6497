"""Diffie-Hellman in a prime-order MODP subgroup for PACE and Chip Authentication: encoding, validation, DH.

Public values travel as unsigned integers with the fewest octets (ICAO 9303-11 §9.4.1: "a DH public key may be
encoded over a number of bytes smaller than the number of bytes of the prime").  Every value received from the
other side goes through :func:`decode_public`, the RFC 2631 §2.1.5 validation ICAO requires (§4.4.3.3.1): in
[2, p-2] and of order q, so no small-subgroup element is ever raised to a private exponent.  The shared secret
is the PKCS #3 octet string, padded to the length of p.
"""

from __future__ import annotations

from collections.abc import Callable

from cardlib.curves import ModpGroup
from cardlib.errors import ProtocolError
from cardlib.protocols.private_keys import random_private


def encode_public(value: int) -> bytes:
    """A group element as an unsigned integer in the minimum number of octets (ICAO 9303-11 §9.4.1)."""
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def decode_public(group: ModpGroup, data: bytes, *, what: str = "public value") -> int:
    """A validated group element: at most len(p) octets, in [2, p-2] and in the order-q subgroup."""
    if not data or len(data) > group.field_bytes:
        raise ProtocolError(f"{what} is not a {group.p.bit_length()}-bit DH value ({len(data)} bytes)")
    value = int.from_bytes(data, "big")
    if not 2 <= value <= group.p - 2:
        raise ProtocolError(f"{what} is outside [2, p-2] of the {group.p.bit_length()}-bit group")
    if pow(value, group.q, group.p) != 1:
        raise ProtocolError(f"{what} is not in the prime-order subgroup (small-subgroup element)")
    return value


def power(group: ModpGroup, base: int, exponent: int) -> int:
    """``base^exponent mod p``; ProtocolError if the result is the neutral element 1."""
    result = pow(base, exponent, group.p)
    if result == 1:
        raise ProtocolError("DH exponentiation gave the neutral element 1")
    return result


def multiply(group: ModpGroup, left: int, right: int) -> int:
    """``left · right mod p``; ProtocolError if the product is 1."""
    result = left * right % group.p
    if result == 1:
        raise ProtocolError("DH group multiplication gave the neutral element 1")
    return result


def shared_secret(group: ModpGroup, private_exponent: int, peer: int) -> bytes:
    """DH (PKCS #3): ``peer^private mod p`` as an octet string of the length of p."""
    return power(group, peer, private_exponent).to_bytes(group.field_bytes, "big")


def random_exponent(group: ModpGroup, rng: Callable[[int], bytes]) -> int:
    """A private exponent in [1, q-1] drawn from ``rng`` (:func:`~cardlib.protocols.private_keys.random_private`)."""
    return random_private(group.q, rng, name="q")
