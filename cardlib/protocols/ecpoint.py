"""Elliptic-curve points for PACE and Chip Authentication: uncompressed encoding, validation, ECDH.

Arithmetic on an arbitrary generator (the PACE-mapped G̃) is done by python-ecdsa's ``PointJacobi`` over
:attr:`cardlib.curves.Curve.ecdsa_curve`.  Every point received from the other side is validated, and points
off the curve and the point at infinity refused (invalid-curve attacks): by :func:`decode_point`, or by
OpenSSL in :func:`shared_secret`.  The ECDH of PACE and Chip Authentication, :func:`shared_secret`, goes
through :mod:`cryptography` (OpenSSL: constant-time in the private scalar, and about twice as fast) on every
curve it supports, and through python-ecdsa only on the others (brainpoolP160r1 to P224r1, P320r1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric import ec
from ecdsa.ellipticcurve import INFINITY, PointJacobi

from cardlib.curves import Curve
from cardlib.errors import ProtocolError
from cardlib.protocols.private_keys import random_private

UNCOMPRESSED = 0x04


class ECPublicPoint(Protocol):
    """Anything holding a curve and an uncompressed point, such as DG14's decoded ECPublicKeyInfo."""

    @property
    def curve(self) -> Curve: ...

    @property
    def point(self) -> bytes: ...


def generator(curve: Curve) -> PointJacobi:
    """The curve's standard generator G."""
    return curve.ecdsa_curve.generator


def is_infinity(point: PointJacobi) -> bool:
    """True for the neutral element."""
    return bool(point == INFINITY)


def encode_point(curve: Curve, point: PointJacobi) -> bytes:
    """Uncompressed SEC 1 encoding ``04 || X || Y``, coordinates padded to the field length."""
    if is_infinity(point):
        raise ProtocolError("the point at infinity has no uncompressed encoding")
    size = curve.field_bytes
    return bytes([UNCOMPRESSED]) + int(point.x()).to_bytes(size, "big") + int(point.y()).to_bytes(size, "big")


def _check_uncompressed(curve: Curve, data: bytes, what: str) -> None:
    """ProtocolError unless ``data`` has the length and the leading ``04`` of an uncompressed point on ``curve``
    (the point at infinity, a single ``00``, has neither)."""
    if len(data) != 1 + 2 * curve.field_bytes or data[0] != UNCOMPRESSED:
        raise ProtocolError(f"{what} is not an uncompressed {curve.name} point")


def decode_point(curve: Curve, data: bytes, *, what: str = "public key") -> PointJacobi:
    """A validated point from ``04 || X || Y``; ProtocolError when malformed, off the curve or at infinity."""
    _check_uncompressed(curve, data, what)
    size = curve.field_bytes
    x = int.from_bytes(data[1 : 1 + size], "big")
    y = int.from_bytes(data[1 + size :], "big")
    if x >= curve.p or y >= curve.p or not curve.ecdsa_curve.curve.contains_point(x, y):
        raise ProtocolError(f"{what} is not on {curve.name}")
    return PointJacobi(curve.ecdsa_curve.curve, x, y, 1)


def multiply(point: PointJacobi, scalar: int) -> PointJacobi:
    """``scalar · point``; ProtocolError if the result is the point at infinity."""
    result = point * scalar
    if is_infinity(result):
        raise ProtocolError("scalar multiplication gave the point at infinity")
    return result


def add(left: PointJacobi, right: PointJacobi) -> PointJacobi:
    """``left + right``; ProtocolError if the sum is the point at infinity."""
    result = left + right
    if is_infinity(result):
        raise ProtocolError("point addition gave the point at infinity")
    return result


def shared_secret(curve: Curve, private_scalar: int, peer: bytes, *, what: str = "public key") -> bytes:
    """ECDH: the x-coordinate of ``private_scalar · peer``, padded to the field length, for a received
    uncompressed point ``peer``; ProtocolError (as :func:`decode_point`'s) when ``peer`` is malformed, off the
    curve or at infinity.  Through :mod:`cryptography` where it supports the curve, python-ecdsa otherwise."""
    if curve.crypto_curve is None:
        return shared_secret_python_ecdsa(curve, private_scalar, peer, what=what)
    return shared_secret_cryptography(curve, private_scalar, peer, what=what)


def shared_secret_cryptography(curve: Curve, private_scalar: int, peer: bytes, *, what: str = "public key") -> bytes:
    """:func:`shared_secret` by OpenSSL (``ec.ECDH``), constant-time in the scalar; PKIError when
    :mod:`cryptography` lacks the curve."""
    crypto_curve = curve.require_crypto_curve()
    _check_uncompressed(curve, peer, what)
    try:
        public = ec.EllipticCurvePublicKey.from_encoded_point(crypto_curve, peer)
    except ValueError:
        raise ProtocolError(f"{what} is not on {curve.name}") from None
    private = ec.derive_private_key(_reduced_scalar(curve, private_scalar), crypto_curve)
    return private.exchange(ec.ECDH(), public)


def shared_secret_python_ecdsa(curve: Curve, private_scalar: int, peer: bytes, *, what: str = "public key") -> bytes:
    """:func:`shared_secret` by python-ecdsa's arithmetic, for the curves :mod:`cryptography` lacks (not
    constant-time)."""
    point = multiply(decode_point(curve, peer, what=what), private_scalar)
    return int(point.x()).to_bytes(curve.field_bytes, "big")


def _reduced_scalar(curve: Curve, scalar: int) -> int:
    """``scalar`` mod n, as it acts on a point of order n (OpenSSL takes only [1, n-1]); ProtocolError for a
    multiple of n, which would give the point at infinity."""
    reduced = scalar % curve.n
    if reduced == 0:
        raise ProtocolError("scalar multiplication gave the point at infinity")
    return reduced


def random_scalar(curve: Curve, rng: Callable[[int], bytes]) -> int:
    """A private scalar in [1, n-1] drawn from ``rng`` (:func:`~cardlib.protocols.private_keys.random_private`)."""
    return random_private(curve.n, rng, name="n")
