"""The public key of a CV certificate (BSI TR-03110-3 D.3) and the id-TA signature algorithms it names
(A.2.1.1): an ECDSA signature is the plain ``r ‖ s`` of BSI TR-03111, RSA is PKCS#1 v1.5 or PSS.

EC domain parameters (81 p, 82 a, 83 b, 84 G, 85 n, 87 cofactor) are in CVCA keys only; DV and terminal keys
carry the point (86) and take the parameters of the CVCA above them (:meth:`CVPublicKey.with_curve`).
Explicit parameters are accepted only when they are exactly a named curve (:func:`cardlib.curves.from_explicit`),
so no attacker-chosen curve is ever computed on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from cardlib import curves
from cardlib.curves import Curve
from cardlib.errors import DecodeError, EncodeError, PKIError
from cardlib.lds.oids import (
    ECDSA_PLAIN_HASHES,
    ID_TA_ECDSA,
    ID_TA_RSA,
    TA_ECDSA_HASHES,
    TA_RSA_PKCS1_HASHES,
    TA_RSA_PSS_HASHES,
    signature_oid,
)
from cardlib.lds.tlv import TLV, children, encode_tlv
from cardlib.pki.cvc.codec import FILE, TAG_OID, TAG_PUBLIC_KEY, decode_oid, encode_oid, unique_elements, unsigned_bytes
from cardlib.pki.signatures import ECPublicPoint, PrivateKey, PublicKey, Scheme, SignatureAlgorithm, sign
from cardlib.pki.signatures import verify_signature as verify_with_key

# The id-TA signature algorithms (TR-03110-3 A.2.1.1), by OID: their schemes and hashes come from the registry.
_ALGORITHMS: dict[str, SignatureAlgorithm] = {
    oid: SignatureAlgorithm(scheme, hash_name)
    for scheme, table in ((Scheme.RSA_PKCS1V15, TA_RSA_PKCS1_HASHES), (Scheme.RSA_PSS, TA_RSA_PSS_HASHES),
                          (Scheme.ECDSA, TA_ECDSA_HASHES))
    for oid, hash_name in table.items()
}


class KeyKind(Enum):
    """The kind of key a ``7F49`` object carries."""

    EC = "EC"
    RSA = "RSA"


@dataclass(frozen=True)
class CVPublicKey:
    """The public key object (TR-03110-3 D.3): an OID naming the holder's signature algorithm and the key.

    EC: ``point`` (86, uncompressed) and, in CVCA certificates, the ``curve`` its explicit parameters name.
    RSA: ``modulus`` and ``exponent``.
    """

    oid: str
    point: bytes = b""
    curve: Curve | None = None
    modulus: int = 0
    exponent: int = 0

    @property
    def kind(self) -> KeyKind:
        """EC or RSA, from the OID."""
        return KeyKind.RSA if self.oid.startswith(ID_TA_RSA + ".") else KeyKind.EC

    @property
    def algorithm(self) -> SignatureAlgorithm:
        """The scheme and hash of the signatures this key makes."""
        return _ALGORITHMS[self.oid]

    def encode(self, *, with_domain_parameters: bool) -> bytes:
        """The ``7F49`` object; EC domain parameters are included when asked (CVCA certificates)."""
        body = encode_tlv(TAG_OID, encode_oid(self.oid))
        if self.kind is KeyKind.RSA:
            body += encode_tlv(0x81, unsigned_bytes(self.modulus)) + encode_tlv(0x82, unsigned_bytes(self.exponent))
        elif with_domain_parameters:
            if self.curve is None:
                raise EncodeError("a CVCA public key needs its curve to write the domain parameters")
            c = self.curve
            size = c.field_bytes
            generator = b"\x04" + c.gx.to_bytes(size, "big") + c.gy.to_bytes(size, "big")
            body += b"".join(encode_tlv(tag, value) for tag, value in (
                (0x81, c.p.to_bytes(size, "big")), (0x82, (c.a % c.p).to_bytes(size, "big")),
                (0x83, c.b.to_bytes(size, "big")), (0x84, generator), (0x85, unsigned_bytes(c.n)),
                (0x86, self.point), (0x87, unsigned_bytes(c.h))))
        else:
            body += encode_tlv(0x86, self.point)
        return encode_tlv(TAG_PUBLIC_KEY, body)

    @classmethod
    def decode(cls, key: TLV) -> CVPublicKey:
        """Read a ``7F49`` object; the OID must be an id-TA signature algorithm cardlib knows."""
        elements = children(key, file=FILE)
        if not elements or elements[0].tag != TAG_OID:
            raise DecodeError("the public key starts with its algorithm OID (06)", file=FILE, field="public key",
                              offset=key.offset)
        oid = decode_oid(elements[0], "public key algorithm")
        if oid not in _ALGORITHMS:
            raise DecodeError(f"algorithm {oid} is not an id-TA signature algorithm", file=FILE,
                              field="public key algorithm", offset=elements[0].offset)
        values = unique_elements(elements[1:], "public key")
        if oid.startswith(ID_TA_RSA + "."):
            return cls._decode_rsa(oid, values, key)
        return cls._decode_ec(oid, values, key)

    @classmethod
    def _decode_rsa(cls, oid: str, values: dict[int, TLV], key: TLV) -> CVPublicKey:
        if set(values) != {0x81, 0x82}:
            raise DecodeError("an RSA key holds exactly 81 (modulus) and 82 (exponent)", file=FILE,
                              field="public key", offset=key.offset)
        modulus, exponent = (int.from_bytes(values[tag].value, "big") for tag in (0x81, 0x82))
        if modulus.bit_length() < 1024 or exponent < 3 or not exponent & 1:
            raise DecodeError("RSA modulus under 1024 bits or even/tiny exponent", file=FILE, field="public key",
                              offset=key.offset)
        return cls(oid, modulus=modulus, exponent=exponent)

    @classmethod
    def _decode_ec(cls, oid: str, values: dict[int, TLV], key: TLV) -> CVPublicKey:
        domain = {0x81, 0x82, 0x83, 0x84, 0x85}
        if 0x86 not in values or not set(values) <= domain | {0x86, 0x87}:
            raise DecodeError("an EC key holds 86 (public point) and, in a CVCA certificate, 81-85 and 87",
                              file=FILE, field="public key", offset=key.offset)
        present = domain & set(values)
        if present and present != domain:
            raise DecodeError("EC domain parameters 81-85 must be given all or none", file=FILE,
                              field="public key", offset=key.offset)
        curve = _named_curve(values, key) if present else None
        if curve is not None:
            _check_point(curve, values[0x86].value, values[0x86].offset)
        return cls(oid, point=values[0x86].value, curve=curve)

    def with_curve(self, curve: Curve | None) -> CVPublicKey:
        """This key with ``curve`` when it carries none (a DV or terminal key takes its CVCA's parameters)."""
        return self if self.curve is not None or self.kind is KeyKind.RSA else replace(self, curve=curve)

    def verifier(self) -> PublicKey:
        """A key :func:`cardlib.pki.signatures.verify_signature` takes; PKIError when it cannot be used."""
        if self.kind is KeyKind.RSA:
            try:
                return rsa.RSAPublicNumbers(self.exponent, self.modulus).public_key()
            except ValueError as error:
                raise PKIError(f"RSA public key cannot be used: {error}") from error
        if self.curve is None:
            raise PKIError("EC public key without domain parameters: its CVCA's are needed")
        _check_point(self.curve, self.point, None)
        size = self.curve.field_bytes
        x, y = int.from_bytes(self.point[1 : 1 + size], "big"), int.from_bytes(self.point[1 + size :], "big")
        crypto_curve = self.curve.crypto_curve
        if crypto_curve is None:
            return ECPublicPoint(self.curve, x, y)
        return ec.EllipticCurvePublicNumbers(x, y, crypto_curve).public_key()

    def verify(self, signature: bytes, data: bytes) -> bool:
        """Whether ``signature`` (plain r‖s for ECDSA) over ``data`` was made by this key's private half."""
        algorithm = self.algorithm
        if algorithm.scheme is Scheme.ECDSA:
            return verify_with_key(self.verifier(), signature, data, _plain_ecdsa_oid(algorithm.hash_name))
        return verify_with_key(self.verifier(), signature, data, algorithm.identifier())

    @classmethod
    def for_key(cls, key: PrivateKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey, oid: str) -> CVPublicKey:
        """The CV public key of a :mod:`cryptography` key that will sign with algorithm ``oid``."""
        public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) else key
        if oid not in _ALGORITHMS:
            raise PKIError(f"{oid} is not an id-TA signature algorithm")
        if isinstance(public, rsa.RSAPublicKey):
            if not oid.startswith(ID_TA_RSA + "."):
                raise PKIError(f"an RSA key cannot sign with {oid}")
            rsa_numbers = public.public_numbers()
            return cls(oid, modulus=rsa_numbers.n, exponent=rsa_numbers.e)
        if not oid.startswith(ID_TA_ECDSA + "."):
            raise PKIError(f"an EC key cannot sign with {oid}")
        curve = curves.for_cryptography(public.curve)
        numbers = public.public_numbers()
        size = curve.field_bytes
        return cls(oid, point=b"\x04" + numbers.x.to_bytes(size, "big") + numbers.y.to_bytes(size, "big"),
                   curve=curve)


def _named_curve(values: dict[int, TLV], key: TLV) -> Curve:
    p, a, b, n = (int.from_bytes(values[tag].value, "big") for tag in (0x81, 0x82, 0x83, 0x85))
    generator = values[0x84].value
    size = (p.bit_length() + 7) // 8
    cofactor = int.from_bytes(values[0x87].value, "big") if 0x87 in values else 1
    if len(generator) != 1 + 2 * size or generator[0] != 0x04:
        raise DecodeError("the base point (84) is not an uncompressed point", file=FILE, field="public key",
                          offset=values[0x84].offset)
    try:
        curve = curves.from_explicit(p, a, b, int.from_bytes(generator[1 : 1 + size], "big"),
                                     int.from_bytes(generator[1 + size :], "big"), n)
    except PKIError as error:
        raise DecodeError(str(error), file=FILE, field="public key", offset=key.offset) from None
    if cofactor != curve.h:
        raise DecodeError(f"cofactor {cofactor} is not that of {curve.name}", file=FILE, field="public key",
                          offset=values[0x87].offset)
    return curve


def _check_point(curve: Curve, point: bytes, offset: int | None) -> None:
    size = curve.field_bytes
    valid = len(point) == 1 + 2 * size and point[0] == 0x04
    if valid:
        x, y = int.from_bytes(point[1 : 1 + size], "big"), int.from_bytes(point[1 + size :], "big")
        valid = x < curve.p and y < curve.p and curve.ecdsa_curve.curve.contains_point(x, y)
    if not valid:
        raise DecodeError(f"public point (86) is not an uncompressed point on {curve.name}", file=FILE,
                          field="public key", offset=offset)


def _plain_ecdsa_oid(hash_name: str) -> str:
    """The BSI TR-03111 ecdsa-plain OID for ``hash_name``: how :mod:`cardlib.pki.signatures` names a plain r‖s
    ECDSA signature."""
    oid = signature_oid(ECDSA_PLAIN_HASHES, hash_name)
    if oid is None:
        raise PKIError(f"no ecdsa-plain signature algorithm for hash {hash_name}")
    return oid


# --- signing ----------------------------------------------------------------------------------------------


def cv_signer(private_key: PrivateKey, oid: str) -> Callable[[bytes], bytes]:
    """A function signing bytes as a CV certificate or TA wants it: algorithm ``oid``, ECDSA as plain r‖s."""
    if oid not in _ALGORITHMS:
        raise PKIError(f"{oid} is not an id-TA signature algorithm")
    algorithm = _ALGORITHMS[oid]

    def signer(data: bytes) -> bytes:
        signature = sign(private_key, data, algorithm.scheme, algorithm.hash_name)
        if not isinstance(private_key, ec.EllipticCurvePrivateKey):
            return signature
        r, s = decode_dss_signature(signature)
        size = (private_key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")

    return signer


__all__ = [
    "CVPublicKey",
    "KeyKind",
    "cv_signer",
]
