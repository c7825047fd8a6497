"""Shared ASN.1 pieces of the LDS codecs: error wrapping, OID registration and SubjectPublicKeyInfo.

asn1crypto does the DER work.  This module adds what eMRTDs need on top of it:

* :func:`decoding` turns any asn1crypto/DER failure into a :class:`DecodeError` naming the file and field;
* the ICAO eContentTypes (``2.23.136.1.1.1`` ldsSecurityObject and the legacy ``1.3.27.1.1.1``) and the
  BSI ``id-SecurityObject`` are registered with :mod:`asn1crypto.cms` so CMS objects show their names;
* SubjectPublicKeyInfo of DG14 (Chip Authentication) and DG15 (Active Authentication) as typed results:
  RSA, EC with named *or explicit* domain parameters (ICAO 9303-11 §9.2 / TR-03110-3 A.1.2 recommend
  explicit ones; we map them onto a known named :class:`~cardlib.curves.Curve`), and X9.42 DH.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from asn1crypto import cms, core, keys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dh, ec, rsa

from cardlib import curves
from cardlib.curves import Curve
from cardlib.errors import DecodeError, EncodeError, PKIError
from cardlib.lds import der as canonical
from cardlib.lds.oids import (
    ID_EC_PUBLIC_KEY,
    ID_LDS_SECURITY_OBJECT,
    ID_LDS_SECURITY_OBJECT_LEGACY,
    ID_SECURITY_OBJECT,
    ID_STANDARDIZED_DOMAIN_PARAMETERS,
)
from cardlib.lds.tlv import encode_tlv

_CONTENT_TYPES = {
    ID_LDS_SECURITY_OBJECT: "ldsSecurityObject",
    ID_LDS_SECURITY_OBJECT_LEGACY: "ldsSecurityObjectLegacy",
    ID_SECURITY_OBJECT: "securityObject",
}

# Exceptions asn1crypto and int/bytes conversions raise on malformed input.
PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError, UnicodeError)
_MAX_REASON = 160


def register_content_types() -> None:
    """Teach asn1crypto the names of the eMRTD eContentTypes (idempotent)."""
    content_type = cms.ContentType
    content_type._map.update(_CONTENT_TYPES)
    if content_type._reverse_map is not None:
        content_type._reverse_map.update({name: oid for oid, name in _CONTENT_TYPES.items()})


register_content_types()


@contextmanager
def decoding(file: str, field: str | None = None) -> Iterator[None]:
    """Run a block of parsing; any third-party parse failure leaves it as a DecodeError for ``file``/``field``."""
    try:
        yield
    except DecodeError as exc:
        raise exc.within(file=file, field=field) from None
    except PKIError as exc:
        raise DecodeError(str(exc), file=file, field=field) from None
    except PARSE_ERRORS as exc:
        reason = " ".join(str(exc).split())[:_MAX_REASON] or type(exc).__name__
        raise DecodeError(f"malformed DER ({reason})", file=file, field=field) from None


def load_strict(spec: type[core.Asn1Value], data: bytes, *, file: str, field: str) -> core.Asn1Value:
    """Load one DER value of ``spec`` that must fill ``data`` exactly, its structure parsed eagerly.

    asn1crypto parses lazily; we force every nested element now so that malformed DER fails here, inside
    ``decoding``, and not later at first access.  Walking the children is ~5x cheaper than ``.native``.
    """
    with decoding(file, field):
        value = spec.load(bytes(data), strict=True)
        if isinstance(value, core.Sequence | core.SequenceOf):
            value._parse_children(recurse=True)
        else:
            value.native  # noqa: B018 -- a primitive: decode its contents now
    if isinstance(value, core.Sequence) and len(value.children) > len(value._fields):
        # asn1crypto keeps surplus elements as unnamed extras; we would silently drop them on re-encoding.
        raise DecodeError(f"{len(value.children) - len(value._fields)} unexpected trailing element(s)",
                          file=file, field=field)
    return value


def sequence_type(name: str, fields: list[tuple[Any, ...]]) -> Any:
    """A declarative asn1crypto SEQUENCE type ``name`` with ``fields`` (asn1crypto ``_fields`` syntax).

    Built with ``type()`` because asn1crypto ships no type hints, so a ``class X(core.Sequence)`` statement
    would subclass ``Any`` under mypy --strict.
    """
    return type(name, (core.Sequence,), {"_fields": fields})


def oid_der(dotted: str) -> bytes:
    """The DER of an OBJECT IDENTIFIER."""
    try:
        encoded: bytes = core.ObjectIdentifier(dotted).dump()
    except (ValueError, TypeError) as exc:
        raise EncodeError(f"not an OID: {dotted!r}") from exc
    return encoded


def algorithm_identifier_der(dotted: str, parameters: bytes | None = None) -> bytes:
    """AlgorithmIdentifier DER with exactly the parameters given (None = absent, as ICAO wants for digests)."""
    return encode_tlv(0x30, oid_der(dotted) + (parameters if parameters is not None else b""))


@dataclass(frozen=True)
class RSAPublicKeyInfo:
    """An RSA SubjectPublicKeyInfo (DG15 Active Authentication keys)."""

    modulus: int
    public_exponent: int
    der: bytes = field(repr=False)

    @property
    def key_size(self) -> int:
        """Modulus length in bits."""
        return self.modulus.bit_length()

    def cryptography_key(self) -> rsa.RSAPublicKey:
        """The key as a :mod:`cryptography` object."""
        try:
            return rsa.RSAPublicNumbers(self.public_exponent, self.modulus).public_key()
        except ValueError as exc:
            raise PKIError(f"unusable RSA public key: {exc}") from None


@dataclass(frozen=True)
class ECPublicKeyInfo:
    """An EC SubjectPublicKeyInfo: curve (named or explicit in the encoding) and uncompressed point."""

    curve: Curve
    point: bytes
    explicit_parameters: bool
    der: bytes = field(repr=False)

    @classmethod
    def build(cls, curve: Curve, point: bytes, *, explicit_parameters: bool = False) -> ECPublicKeyInfo:
        """Encode ``point`` (uncompressed ``04||X||Y``) on ``curve``, with a named-curve OID or explicit params."""
        _check_point(curve, point, EncodeError)
        algorithm = _ec_algorithm_identifier(curve, explicit_parameters)
        return cls(curve, point, explicit_parameters, encode_tlv(0x30, algorithm + encode_tlv(0x03, b"\x00" + point)))

    @property
    def x(self) -> int:
        """Affine x coordinate."""
        return int.from_bytes(self.point[1 : 1 + self.curve.field_bytes], "big")

    @property
    def y(self) -> int:
        """Affine y coordinate."""
        return int.from_bytes(self.point[1 + self.curve.field_bytes :], "big")

    def cryptography_key(self) -> ec.EllipticCurvePublicKey | None:
        """The :mod:`cryptography` key, or None when cryptography lacks the curve (brainpoolP224r1)."""
        crypto_curve = self.curve.crypto_curve
        if crypto_curve is None:
            return None
        return ec.EllipticCurvePublicKey.from_encoded_point(crypto_curve, self.point)


@dataclass(frozen=True)
class DHPublicKeyInfo:
    """An X9.42 Diffie-Hellman SubjectPublicKeyInfo (Chip Authentication with id-PK-DH)."""

    p: int
    g: int
    q: int
    y: int
    der: bytes = field(repr=False)

    def cryptography_key(self) -> dh.DHPublicKey:
        """The key as a :mod:`cryptography` object."""
        try:
            return dh.DHPublicNumbers(self.y, dh.DHParameterNumbers(self.p, self.g, self.q)).public_key()
        except ValueError as exc:
            raise PKIError(f"unusable DH public key: {exc}") from None


PublicKeyInfo = RSAPublicKeyInfo | ECPublicKeyInfo | DHPublicKeyInfo

AlgorithmIdentifier = sequence_type("AlgorithmIdentifier", [
    ("algorithm", core.ObjectIdentifier), ("parameters", core.Any, {"optional": True})])
_GenericPublicKeyInfo = sequence_type("SubjectPublicKeyInfo", [
    ("algorithm", AlgorithmIdentifier), ("public_key", core.BitString)])


def decode_public_key_info(der: bytes, *, file: str, field: str = "SubjectPublicKeyInfo") -> PublicKeyInfo:
    """Decode a DER SubjectPublicKeyInfo holding an RSA, EC or X9.42 DH key.

    Chips of a batch share their EC AlgorithmIdentifier (DG14's Chip Authentication key, DG15's): once one has
    decoded, a key with the same AlgorithmIdentifier bytes in canonical DER has only its point read and checked
    on the curve (:func:`_learnt_ec_key`); the curve and explicitness depend on those bytes alone.
    """
    learnt = _learnt_ec_key(bytes(der))
    if learnt is not None:
        return learnt
    key = _decode_public_key_info(der, file=file, field=field)
    if isinstance(key, ECPublicKeyInfo) and (shape := _ec_key_shape(key.der)) is not None:
        if len(_EC_ALGORITHMS) >= _EC_ALGORITHMS_KEPT:
            _EC_ALGORITHMS.clear()
        _EC_ALGORITHMS[shape[0]] = (key.curve, key.explicit_parameters)
    return key


# EC AlgorithmIdentifier DER → (curve, explicit parameters), learnt from keys that decoded.
_EC_ALGORITHMS: dict[bytes, tuple[Curve, bool]] = {}
_EC_ALGORITHMS_KEPT = 64


def _ec_key_shape(spki: bytes) -> tuple[bytes, bytes] | None:
    """(AlgorithmIdentifier DER, point) of a SubjectPublicKeyInfo in canonical DER whose BIT STRING has no unused
    bits; None for any other shape."""
    try:
        algorithm, bits = canonical.shaped(spki, *canonical.element(spki, 0, len(spki), canonical.SEQUENCE),
                                         canonical.SEQUENCE, 0x03)
    except canonical.Unusual:
        return None
    if bits[3] != len(spki) or bits[2] == bits[3] or spki[bits[2]] != 0:
        return None
    return spki[algorithm[1] : algorithm[3]], spki[bits[2] + 1 : bits[3]]


def _learnt_ec_key(spki: bytes) -> ECPublicKeyInfo | None:
    """The EC key of ``spki`` when its AlgorithmIdentifier was learnt and its point lies on the curve, else None
    (then the general decode decides, and names what is wrong)."""
    shape = _ec_key_shape(spki) if _EC_ALGORITHMS else None
    known = None if shape is None else _EC_ALGORITHMS.get(shape[0])
    if shape is None or known is None:
        return None
    try:
        _check_point(known[0], shape[1], DecodeError)
    except DecodeError:
        return None
    return ECPublicKeyInfo(known[0], shape[1], known[1], spki)


def _decode_public_key_info(der: bytes, *, file: str, field: str) -> PublicKeyInfo:
    """:func:`decode_public_key_info` by asn1crypto, for any key."""
    generic = load_strict(_GenericPublicKeyInfo, der, file=file, field=field)
    if generic["algorithm"]["algorithm"].dotted == ID_STANDARDIZED_DOMAIN_PARAMETERS:
        with decoding(file, field):
            return _decode_standardized_ec(generic, bytes(der))
    info = load_strict(keys.PublicKeyInfo, der, file=file, field=field)
    with decoding(file, field):
        algorithm = info["algorithm"]["algorithm"].native
        if algorithm == "rsa":
            parsed = info["public_key"].parsed
            # Unsigned reading: some issuers (BSI 2008 DG15) omit the leading zero of a modulus with its top bit set.
            modulus = int.from_bytes(parsed["modulus"].contents, "big")
            return RSAPublicKeyInfo(modulus, parsed["public_exponent"].native, bytes(der))
        if algorithm == "ec":
            return _decode_ec(info, bytes(der))
        if algorithm == "dh":
            params = info["algorithm"]["parameters"]
            y = info["public_key"].parsed.native
            return DHPublicKeyInfo(params["p"].native, params["g"].native, params["q"].native, y, bytes(der))
        raise DecodeError(f"unsupported public key algorithm {info['algorithm']['algorithm'].dotted}")


def public_key_info_from_cryptography(
    key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey | dh.DHPublicKey, *, explicit_parameters: bool = False
) -> PublicKeyInfo:
    """Wrap a :mod:`cryptography` public key; EC keys may be written with explicit domain parameters."""
    if isinstance(key, ec.EllipticCurvePublicKey) and explicit_parameters:
        point = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return ECPublicKeyInfo.build(curves.for_cryptography(key.curve), point, explicit_parameters=True)
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        return decode_public_key_info(der, file="public key")
    except DecodeError as exc:
        raise EncodeError(f"cannot encode this public key: {exc.reason}") from None


def _decode_ec(info: keys.PublicKeyInfo, der: bytes) -> ECPublicKeyInfo:
    parameters = info["algorithm"]["parameters"]
    curve = curve_from_ec_parameters(parameters)
    point = bytes(info["public_key"].native)
    _check_point(curve, point, DecodeError)
    return ECPublicKeyInfo(curve, point, parameters.name == "specified", der)


def _decode_standardized_ec(info: Any, der: bytes) -> ECPublicKeyInfo:
    """EC key whose AlgorithmIdentifier is {id-standardizedDomainParameters, id} (TR-03110-3 A.2.1.1)."""
    curve = curves.by_parameter_id(core.Integer.load(info["algorithm"]["parameters"].dump(), strict=True).native)
    bits = bytes(info["public_key"].contents)
    if not bits or bits[0] != 0:
        raise DecodeError("public key BIT STRING has unused bits")
    _check_point(curve, bits[1:], DecodeError)
    return ECPublicKeyInfo(curve, bits[1:], False, der)


def curve_from_ec_parameters(parameters: keys.ECDomainParameters) -> Curve:
    """The named curve of ECParameters: a named-curve OID, or explicit parameters equal to a known curve."""
    if parameters.name == "named":
        return curves.by_oid(parameters.chosen.dotted)
    if parameters.name == "specified":
        return _curve_from_specified(parameters.chosen.dump())
    raise DecodeError("implicitlyCA EC parameters are not supported")


@lru_cache(maxsize=32)
def _curve_from_specified(der: bytes) -> Curve:
    """The named curve explicit domain parameters equal, recognised once per exact DER: every DG14 and
    certificate of a batch repeats the same parameters (parameters that match no curve raise, uncached)."""
    domain = keys.SpecifiedECDomain.load(der)
    if domain["field_id"]["field_type"].native != "prime_field":
        raise DecodeError("only prime-field curves are supported")
    p = domain["field_id"]["parameters"].native
    base = bytes(domain["base"].native)
    size = (p.bit_length() + 7) // 8
    if len(base) != 1 + 2 * size or base[0] != 4:
        raise DecodeError("explicit EC base point is not an uncompressed point")
    return curves.from_explicit(
        p,
        int.from_bytes(domain["curve"]["a"].native, "big"),
        int.from_bytes(domain["curve"]["b"].native, "big"),
        int.from_bytes(base[1 : 1 + size], "big"),
        int.from_bytes(base[1 + size :], "big"),
        domain["order"].native,
    )


@cache
def _ec_algorithm_identifier(curve: Curve, explicit: bool) -> bytes:
    """AlgorithmIdentifier {id-ecPublicKey, ECParameters} for ``curve``, named or explicit (made once per curve)."""
    if explicit:
        parameters = keys.ECDomainParameters(name="specified", value=_specified_domain(curve))
    else:
        parameters = keys.ECDomainParameters(name="named", value=curve.oid)
    return algorithm_identifier_der(ID_EC_PUBLIC_KEY, parameters.dump())


def _specified_domain(curve: Curve) -> keys.SpecifiedECDomain:
    size = curve.field_bytes
    generator = b"\x04" + curve.gx.to_bytes(size, "big") + curve.gy.to_bytes(size, "big")
    return keys.SpecifiedECDomain({
        "version": "ecdpVer1",
        "field_id": {"field_type": "prime_field", "parameters": core.Integer(curve.p)},
        "curve": {"a": (curve.a % curve.p).to_bytes(size, "big"), "b": curve.b.to_bytes(size, "big")},
        "base": generator,
        "order": curve.n,
        "cofactor": curve.h,
    })


def _check_point(curve: Curve, point: bytes, error: type[DecodeError] | type[EncodeError]) -> None:
    """Reject anything but an uncompressed point that lies on ``curve`` (invalid-curve attacks)."""
    size = curve.field_bytes
    if len(point) != 1 + 2 * size or point[0] != 4:
        raise error(f"EC point is not an uncompressed {curve.name} point ({len(point)} bytes)")
    x = int.from_bytes(point[1 : 1 + size], "big")
    y = int.from_bytes(point[1 + size :], "big")
    if x >= curve.p or y >= curve.p or (y * y - (x * x * x + curve.a * x + curve.b)) % curve.p:
        raise error(f"EC point is not on {curve.name}")
