"""The integrated mapping of PACE (ICAO 9303-11 §4.4.3.3.2 and Appendix B): Ĝ = f_G(R_p(s, t)).

R_p(s, t) is a pseudo-random function built from the session's block cipher E in CBC mode with a zero IV:
k_0 = E(t, s), then for i = 1..n: k_i = E(k_{i-1}, c0) and x_i = E(k_{i-1}, c1) (keys cut to the key length),
and R_p = int(x_1 || … || x_n) mod p with the smallest n such that n·l ≥ log2 p + 64.  l is 128 for 3DES
(whose k counts as 128) and AES-128, 256 for AES-192/256.

f_G maps a field element to the prime-order group: for ECDH the point encoding of [BCIMRT2010] (Appendix B.2,
affine coordinates; it needs p ≡ 3 mod 4, which rules out NIST P-224), for DH f_g(x) = x^((p-1)/q) mod p.
"""

from __future__ import annotations

from typing import Literal

from ecdsa.ellipticcurve import PointJacobi

from cardlib.curves import Curve, ModpGroup
from cardlib.errors import ProtocolError
from cardlib.protocols import ecpoint
from cardlib.protocols.sm import cbc_encrypt

_C0_128 = bytes.fromhex("a668892a7c41e3ca739f40b057d85904")
_C1_128 = bytes.fromhex("a4e136ac725f738b01c1f60217c188ad")
_C0_256 = bytes.fromhex("d463d65234124ef7897054986dca0a174e28df758cbaa03f240616414d5a1676")
_C1_256 = bytes.fromhex("54bd7255f0aaf831bec3423fcf39d69b6cbf066677d0faae5aadd99df8e53517")
_SECURITY_MARGIN_BITS = 64


def nonce_lengths(cipher: Literal["3DES", "AES"], key_bits: int) -> tuple[int, int]:
    """(len(s), len(t)) in bytes: t has the key length k (128 bits for 3DES), s the smallest multiple of the
    block size with at least k bits (ICAO 9303-11 §4.4.3.3)."""
    key_bytes = 16 if cipher == "3DES" else key_bits // 8
    return (16 if key_bytes == 16 else 32), key_bytes


def pseudo_random(s: bytes, t: bytes, cipher: Literal["3DES", "AES"], key_bits: int, p: int) -> int:
    """R_p(s, t): the nonces mapped to an element of GF(p); ProtocolError for nonces of the wrong length."""
    return int.from_bytes(pseudo_random_octets(s, t, cipher, key_bits, p), "big") % p


def pseudo_random_octets(s: bytes, t: bytes, cipher: Literal["3DES", "AES"], key_bits: int, p: int) -> bytes:
    """R(s, t) = x_1 || … || x_n before the reduction modulo p (ICAO 9303-11 Figure 2)."""
    s_length, t_length = nonce_lengths(cipher, key_bits)
    if len(s) != s_length or len(t) != t_length:
        raise ProtocolError(f"integrated mapping nonces must be s of {s_length} and t of {t_length} bytes, "
                            f"not {len(s)} and {len(t)}")
    c0, c1 = (_C0_128, _C1_128) if s_length == 16 else (_C0_256, _C1_256)
    blocks = -(-(p.bit_length() + _SECURITY_MARGIN_BITS) // (8 * len(c1)))
    key = cbc_encrypt(cipher, t, s)
    output = b""
    for _ in range(blocks):
        key = key[:t_length]
        output += cbc_encrypt(cipher, key, c1)
        key = cbc_encrypt(cipher, key, c0)
    return output


def supports_point_encoding(curve: Curve) -> bool:
    """True when f_G is defined on ``curve`` (p ≡ 3 mod 4: every standardized curve but NIST P-224)."""
    return curve.p % 4 == 3


def point_encoding(curve: Curve, t: int) -> PointJacobi:
    """f_G(t) for 0 < t < p: a point of the prime-order group (ICAO 9303-11 Appendix B.2)."""
    p, a, b = curve.p, curve.a % curve.p, curve.b
    if not supports_point_encoding(curve):
        raise ProtocolError(f"the integrated mapping's point encoding is undefined on {curve.name} (p ≢ 3 mod 4)")
    if not 0 < t < p:
        raise ProtocolError("integrated mapping field element is outside ]0, p[")
    alpha = -t * t % p
    alpha_sum = (alpha + alpha * alpha) % p
    if alpha_sum == 0 or a == 0:
        raise ProtocolError("integrated mapping field element has no point encoding")
    x2 = -b * (1 + alpha_sum) * pow(a * alpha_sum, p - 2, p) % p
    x3 = alpha * x2 % p
    h2 = (pow(x2, 3, p) + a * x2 + b) % p
    u = pow(t, 3, p) * h2 % p
    root = pow(h2, p - 1 - (p + 1) // 4, p)
    x, y = (x2, root * h2 % p) if root * root * h2 % p == 1 else (x3, root * u % p)
    point = PointJacobi(curve.ecdsa_curve.curve, x, y, 1)
    return ecpoint.multiply(point, curve.h) if curve.h != 1 else point


def subgroup_encoding(group: ModpGroup, x: int) -> int:
    """f_g(x) = x^((p-1)/q) mod p; ProtocolError when it is 1 (ICAO: implementations MUST check ĝ ≠ 1)."""
    mapped = pow(x, group.cofactor, group.p)
    if mapped == 1:
        raise ProtocolError("integrated mapping gave the neutral element as generator")
    return mapped
