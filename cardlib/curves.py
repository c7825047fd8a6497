"""Elliptic curves of ICAO 9303 / BSI TR-03110: standardized domain parameter IDs, named curves,
and recognition of explicit domain parameters (as ICAO mandates in certificates and DG14).

Curve constants come from python-ecdsa (a well-kept pure-Python library that also gives us point
arithmetic for the PACE mapping); :mod:`cryptography` objects are offered where it supports the curve.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import ecdsa.curves
from cryptography.hazmat.primitives.asymmetric import ec

from cardlib.errors import PKIError


@dataclass(frozen=True)
class Curve:
    """A named short-Weierstrass curve y² = x³ + ax + b over GF(p) with generator (gx, gy) of order n."""

    name: str
    oid: str
    parameter_id: int | None
    p: int
    a: int
    b: int
    gx: int
    gy: int
    n: int
    h: int

    @property
    def field_bytes(self) -> int:
        """Byte length of a field element, as used in uncompressed points and ECDH secrets."""
        return (self.p.bit_length() + 7) // 8

    @property
    def ecdsa_curve(self) -> ecdsa.curves.Curve:
        """The python-ecdsa curve, for point arithmetic."""
        return _ECDSA_BY_OID[self.oid]

    @property
    def crypto_curve(self) -> ec.EllipticCurve | None:
        """The :mod:`cryptography` curve, or None where cryptography lacks it (e.g. brainpoolP224r1)."""
        factory = _CRYPTOGRAPHY_BY_NAME.get(self.name)
        return factory() if factory else None

    def require_crypto_curve(self) -> ec.EllipticCurve:
        """The :mod:`cryptography` curve; PKIError when cryptography cannot use this curve."""
        curve = self.crypto_curve
        if curve is None:
            raise PKIError(f"curve {self.name} is not supported by the cryptography backend")
        return curve


# Standardized domain parameters, BSI TR-03110-3 Table 4 / ICAO 9303-11 Table 6.
_PARAMETER_IDS: dict[str, int] = {
    "NIST192p": 8, "BRAINPOOLP192r1": 9, "NIST224p": 10, "BRAINPOOLP224r1": 11, "NIST256p": 12,
    "BRAINPOOLP256r1": 13, "BRAINPOOLP320r1": 14, "NIST384p": 15, "BRAINPOOLP384r1": 16,
    "BRAINPOOLP512r1": 17, "NIST521p": 18,
}
_NAMES: dict[str, str] = {
    "NIST192p": "secp192r1", "NIST224p": "secp224r1", "NIST256p": "secp256r1", "NIST384p": "secp384r1",
    "NIST521p": "secp521r1", "BRAINPOOLP160r1": "brainpoolP160r1", "BRAINPOOLP192r1": "brainpoolP192r1",
    "BRAINPOOLP224r1": "brainpoolP224r1", "BRAINPOOLP256r1": "brainpoolP256r1",
    "BRAINPOOLP320r1": "brainpoolP320r1", "BRAINPOOLP384r1": "brainpoolP384r1",
    "BRAINPOOLP512r1": "brainpoolP512r1",
}
_CRYPTOGRAPHY_BY_NAME: dict[str, type[ec.EllipticCurve]] = {
    "secp192r1": ec.SECP192R1, "secp224r1": ec.SECP224R1, "secp256r1": ec.SECP256R1,
    "secp384r1": ec.SECP384R1, "secp521r1": ec.SECP521R1, "brainpoolP256r1": ec.BrainpoolP256R1,
    "brainpoolP384r1": ec.BrainpoolP384R1, "brainpoolP512r1": ec.BrainpoolP512R1,
}
_ECDSA_BY_OID: dict[str, ecdsa.curves.Curve] = {}


def _build() -> tuple[Curve, ...]:
    curves = []
    for source in ecdsa.curves.curves:
        name = _NAMES.get(source.name)
        if name is None:
            continue
        oid = ".".join(str(part) for part in source.oid)
        _ECDSA_BY_OID[oid] = source
        field = source.curve
        generator = source.generator
        curves.append(Curve(
            name=name, oid=oid, parameter_id=_PARAMETER_IDS.get(source.name), p=field.p(), a=field.a(),
            b=field.b(), gx=generator.x(), gy=generator.y(), n=source.order, h=field.cofactor() or 1,
        ))
    return tuple(curves)


CURVES: tuple[Curve, ...] = _build()


def by_name(name: str) -> Curve:
    """The curve called ``name`` (``"brainpoolP256r1"``, ``"secp256r1"``); PKIError if unknown."""
    for curve in CURVES:
        if curve.name.lower() == name.lower():
            return curve
    raise PKIError(f"unknown curve {name!r}")


def by_oid(oid: str) -> Curve:
    """The curve with the named-curve OID ``oid``; PKIError if unknown."""
    for curve in CURVES:
        if curve.oid == oid:
            return curve
    raise PKIError(f"unknown curve OID {oid}")


def by_parameter_id(parameter_id: int) -> Curve:
    """The curve for a standardized domain parameter ID (PACEInfo.parameterId, 8–18)."""
    for curve in CURVES:
        if curve.parameter_id == parameter_id:
            return curve
    raise PKIError(f"standardized domain parameter {parameter_id} is not an elliptic curve cardlib knows")


@cache
def from_explicit(p: int, a: int, b: int, gx: int, gy: int, n: int) -> Curve:
    """The named curve whose parameters equal these explicit ones; PKIError when none does.

    ICAO asks for explicit parameters in certificates and DG14; we only accept ones that are exactly
    a known named curve, so no attacker-chosen weak curve is ever used.
    """
    for curve in CURVES:
        if (curve.p, curve.a % curve.p, curve.b, curve.gx, curve.gy, curve.n) == (p, a % p, b, gx, gy, n):
            return curve
    raise PKIError(f"explicit EC domain parameters ({p.bit_length()}-bit prime) equal no named curve")


def for_cryptography(curve: ec.EllipticCurve) -> Curve:
    """Our :class:`Curve` for a :mod:`cryptography` curve object."""
    return by_name(curve.name)
