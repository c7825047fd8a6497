"""Elliptic curves and MODP groups of ICAO 9303 / BSI TR-03110: standardized domain parameter IDs, named
curves, and recognition of explicit domain parameters (as ICAO mandates in certificates and DG14).

Curve constants come from python-ecdsa (a well-kept pure-Python library that also gives us point
arithmetic for the PACE mapping, and ECDH on the curves cryptography lacks); :mod:`cryptography` objects are
offered where it supports the curve, and ECDH goes through them there (:func:`cardlib.protocols.ecpoint.shared_secret`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cache

import ecdsa.curves
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.utils import CryptographyDeprecationWarning

# cryptography deprecates finite-field Diffie-Hellman and warns on every name of its dh module; ICAO 9303 still
# specifies DH for PACE and Chip Authentication, so cardlib takes these types once, here, without the warning
# reaching a user's terminal (the arithmetic itself is cardlib.protocols.dh's, not cryptography's).
with warnings.catch_warnings():
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    from cryptography.hazmat.primitives.asymmetric.dh import DHParameterNumbers as DHParameterNumbers
    from cryptography.hazmat.primitives.asymmetric.dh import DHPrivateKey as DHPrivateKey
    from cryptography.hazmat.primitives.asymmetric.dh import DHPublicKey as DHPublicKey
    from cryptography.hazmat.primitives.asymmetric.dh import DHPublicNumbers as DHPublicNumbers

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


@dataclass(frozen=True)
class ModpGroup:
    """A prime-order subgroup of GF(p)*: prime modulus p, generator g of prime order q (RFC 5114 §2)."""

    name: str
    parameter_id: int | None
    p: int
    g: int
    q: int

    @property
    def field_bytes(self) -> int:
        """Byte length of p: the length of a padded group element and of the DH shared secret (PKCS #3)."""
        return (self.p.bit_length() + 7) // 8

    @property
    def cofactor(self) -> int:
        """(p-1)/q, the exponent that maps GF(p)* onto the subgroup (the integrated mapping's f_g)."""
        return (self.p - 1) // self.q


# Standardized domain parameters 0-2 (ICAO 9303-11 Table 12, BSI TR-03110-3 Table 4): the RFC 5114 §2.1-2.3
# groups, as OpenSSL 3 ships them (dh_1024_160, dh_2048_224, dh_2048_256).
MODP_GROUPS: tuple[ModpGroup, ...] = (
    ModpGroup(
        name="1024-bit MODP Group with 160-bit Prime Order Subgroup", parameter_id=0,
        p=int(
            "B10B8F96A080E01DDE92DE5EAE5D54EC52C99FBCFB06A3C69A6A9DCA52D23B616073E28675A23D189838EF1E2EE652C0"
            "13ECB4AEA906112324975C3CD49B83BFACCBDD7D90C4BD7098488E9C219A73724EFFD6FAE5644738FAA31A4FF55BCCC0"
            "A151AF5F0DC8B4BD45BF37DF365C1A65E68CFDA76D4DA708DF1FB2BC2E4A4371", 16),
        g=int(
            "A4D1CBD5C3FD34126765A442EFB99905F8104DD258AC507FD6406CFF14266D31266FEA1E5C41564B777E690F5504F213"
            "160217B4B01B886A5E91547F9E2749F4D7FBD7D3B9A92EE1909D0D2263F80A76A6A24C087A091F531DBF0A0169B6A28A"
            "D662A4D18E73AFA32D779D5918D08BC8858F4DCEF97C2A24855E6EEB22B3B2E5", 16),
        q=int("F518AA8781A8DF278ABA4E7D64B7CB9D49462353", 16),
    ),
    ModpGroup(
        name="2048-bit MODP Group with 224-bit Prime Order Subgroup", parameter_id=1,
        p=int(
            "AD107E1E9123A9D0D660FAA79559C51FA20D64E5683B9FD1B54B1597B61D0A75E6FA141DF95A56DBAF9A3C407BA1DF15"
            "EB3D688A309C180E1DE6B85A1274A0A66D3F8152AD6AC2129037C9EDEFDA4DF8D91E8FEF55B7394B7AD5B7D0B6C12207"
            "C9F98D11ED34DBF6C6BA0B2C8BBC27BE6A00E0A0B9C49708B3BF8A317091883681286130BC8985DB1602E714415D9330"
            "278273C7DE31EFDC7310F7121FD5A07415987D9ADC0A486DCDF93ACC44328387315D75E198C641A480CD86A1B9E587E8"
            "BE60E69CC928B2B9C52172E413042E9B23F10B0E16E79763C9B53DCF4BA80A29E3FB73C16B8E75B97EF363E2FFA31F71"
            "CF9DE5384E71B81C0AC4DFFE0C10E64F", 16),
        g=int(
            "AC4032EF4F2D9AE39DF30B5C8FFDAC506CDEBE7B89998CAF74866A08CFE4FFE3A6824A4E10B9A6F0DD921F01A70C4AFA"
            "AB739D7700C29F52C57DB17C620A8652BE5E9001A8D66AD7C17669101999024AF4D027275AC1348BB8A762D0521BC98A"
            "E247150422EA1ED409939D54DA7460CDB5F6C6B250717CBEF180EB34118E98D119529A45D6F834566E3025E316A330EF"
            "BB77A86F0C1AB15B051AE3D428C8F8ACB70A8137150B8EEB10E183EDD19963DDD9E263E4770589EF6AA21E7F5F2FF381"
            "B539CCE3409D13CD566AFBB48D6C019181E1BCFE94B30269EDFE72FE9B6AA4BD7B5A0F1C71CFFF4C19C418E1F6EC0179"
            "81BC087F2A7065B384B890D3191F2BFA", 16),
        q=int("801C0D34C58D93FE997177101F80535A4738CEBCBF389A99B36371EB", 16),
    ),
    ModpGroup(
        name="2048-bit MODP Group with 256-bit Prime Order Subgroup", parameter_id=2,
        p=int(
            "87A8E61DB4B6663CFFBBD19C651959998CEEF608660DD0F25D2CEED4435E3B00E00DF8F1D61957D4FAF7DF4561B2AA30"
            "16C3D91134096FAA3BF4296D830E9A7C209E0C6497517ABD5A8A9D306BCF67ED91F9E6725B4758C022E0B1EF4275BF7B"
            "6C5BFC11D45F9088B941F54EB1E59BB8BC39A0BF12307F5C4FDB70C581B23F76B63ACAE1CAA6B7902D52526735488A0E"
            "F13C6D9A51BFA4AB3AD8347796524D8EF6A167B5A41825D967E144E5140564251CCACB83E6B486F6B3CA3F7971506026"
            "C0B857F689962856DED4010ABD0BE621C3A3960A54E710C375F26375D7014103A4B54330C198AF126116D2276E11715F"
            "693877FAD7EF09CADB094AE91E1A1597", 16),
        g=int(
            "3FB32C9B73134D0B2E77506660EDBD484CA7B18F21EF205407F4793A1A0BA12510DBC15077BE463FFF4FED4AAC0BB555"
            "BE3A6C1B0C6B47B1BC3773BF7E8C6F62901228F8C28CBB18A55AE31341000A650196F931C77A57F2DDF463E5E9EC144B"
            "777DE62AAAB8A8628AC376D282D6ED3864E67982428EBC831D14348F6F2F9193B5045AF2767164E1DFC967C1FB3F2E55"
            "A4BD1BFFE83B9C80D052B985D182EA0ADB2A3B7313D3FE14C8484B1E052588B9B7D2BBD2DF016199ECD06E1557CD0915"
            "B3353BBB64E0EC377FD028370DF92B52C7891428CDC67EB6184B523D1DB246C32F63078490F00EF8D647D148D4795451"
            "5E2327CFEF98C582664B4C0F6CC41659", 16),
        q=int("8CF83642A709A097B447997640129DA299B1A47D1EB3750BA308B0FE64F5FBD3", 16),
    ),
)


def modp_group_by_parameter_id(parameter_id: int) -> ModpGroup:
    """The MODP group for a standardized domain parameter ID (PACEInfo.parameterId 0-2); PKIError otherwise."""
    for group in MODP_GROUPS:
        if group.parameter_id == parameter_id:
            return group
    raise PKIError(f"standardized domain parameter {parameter_id} is not a MODP group cardlib knows")
