"""The one place where cardlib makes and checks digital signatures.

Certificate chains, CRLs, EF.SOD, EF.CardSecurity and CSCA master lists all verify through
:func:`verify_signature`, and SOD / master-list signing goes through :func:`sign`, so algorithm
handling (ECDSA in DER or plain r‖s form, RSA PKCS#1 v1.5, RSA-PSS with parameters read from the
AlgorithmIdentifier) is written once.  Anything not understood raises :class:`PKIError`; a
signature is only ever reported valid after a real cryptographic check.

Keys on curves that :mod:`cryptography` lacks (brainpoolP224r1 on the BSI 2008 specimen) are
carried as :class:`ECPublicPoint` and checked with python-ecdsa.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Any

import ecdsa
import ecdsa.ellipticcurve
import ecdsa.keys
import ecdsa.util
from asn1crypto import algos, cms, core
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from cardlib.curves import Curve, for_cryptography
from cardlib.errors import PKIError
from cardlib.lds.oids import (
    ECDSA_DER_HASHES,
    ECDSA_PLAIN_HASHES,
    ID_EC_PUBLIC_KEY,
    ID_ECDSA_SIG_TYPE,
    ID_RSA_ENCRYPTION,
    ID_RSASSA_PSS,
    RSA_PKCS1_HASHES,
    signature_oid,
)
from cardlib.lds.tlv import encode_tlv


class Scheme(Enum):
    """A signature scheme independent of its hash."""

    ECDSA = "ecdsa"
    RSA_PKCS1V15 = "rsa-pkcs1v15"
    RSA_PSS = "rsa-pss"


HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256,
    "sha384": hashes.SHA384, "sha512": hashes.SHA512,
}

@dataclass(frozen=True)
class ECPublicPoint:
    """An EC public key on a named curve that the :mod:`cryptography` backend does not offer."""

    curve: Curve
    x: int
    y: int

    def verifying_key(self) -> ecdsa.keys.VerifyingKey:
        """The python-ecdsa key for this point; PKIError when the point is not on the curve."""
        try:
            point = ecdsa.ellipticcurve.Point(self.curve.ecdsa_curve.curve, self.x, self.y, self.curve.n)
            return ecdsa.keys.VerifyingKey.from_public_point(point, curve=self.curve.ecdsa_curve)
        except (AssertionError, ValueError, ecdsa.errors.MalformedPointError) as error:
            raise PKIError(f"EC public key is not a point on {self.curve.name}") from error


PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ECPublicPoint
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class SignatureAlgorithm:
    """A signature scheme with its hash, able to name itself as an ASN.1 AlgorithmIdentifier."""

    scheme: Scheme
    hash_name: str

    def __post_init__(self) -> None:
        _hash(self.hash_name)

    def identifier(self) -> algos.SignedDigestAlgorithm:
        """The AlgorithmIdentifier for certificates and SignerInfo (RSA ones carry NULL, ICAO 9303-12)."""
        if self.scheme is Scheme.ECDSA:
            return algos.SignedDigestAlgorithm({"algorithm": _oid_for(ECDSA_DER_HASHES, self.hash_name)})
        if self.scheme is Scheme.RSA_PKCS1V15:
            oid = _oid_for(RSA_PKCS1_HASHES, self.hash_name)
            return algos.SignedDigestAlgorithm({"algorithm": oid, "parameters": core.Null()})
        digest = {"algorithm": self.hash_name}
        params = algos.RSASSAPSSParams({
            "hash_algorithm": digest,
            "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": digest},
            "salt_length": HASHES[self.hash_name].digest_size,
        })
        return algos.SignedDigestAlgorithm({"algorithm": ID_RSASSA_PSS, "parameters": params})

    def digest_identifier(self) -> algos.DigestAlgorithm:
        """The DigestAlgorithm identifier, parameters omitted as ICAO 9303-12 asks.

        asn1crypto would add NULL parameters when building one, so the DER is written here and loaded.
        """
        return algos.DigestAlgorithm.load(encode_tlv(0x30, algos.DigestAlgorithmId(self.hash_name).dump()))


@dataclass(frozen=True)
class DocumentSigner:
    """A Document Signer: its certificate and private key, used by personalization to sign EF.SOD.

    ``algorithm`` is the scheme and hash of signatures the DS makes (not the CSCA's signature on its
    certificate).  The repr hides the private key.
    """

    certificate: x509.Certificate
    private_key: PrivateKey
    algorithm: SignatureAlgorithm

    def sign(self, data: bytes) -> bytes:
        """Sign ``data`` (for a SOD: the DER SET of signed attributes) with this signer's algorithm."""
        return sign(self.private_key, data, self.algorithm.scheme, self.algorithm.hash_name)

    def __repr__(self) -> str:
        return f"DocumentSigner(subject={self.certificate.subject.rfc4514_string()!r}, algorithm={self.algorithm})"


def _oid_for(table: dict[str, str], hash_name: str) -> str:
    oid = signature_oid(table, hash_name)
    if oid is None:
        raise PKIError(f"no signature algorithm OID for hash {hash_name}")
    return oid


def _hash(name: str) -> hashes.HashAlgorithm:
    factory = HASHES.get(name)
    if factory is None:
        raise PKIError(f"unsupported hash algorithm {name!r}")
    return factory()


def default_algorithm(key: PrivateKey) -> SignatureAlgorithm:
    """The usual algorithm for a key: ECDSA with the hash matching the curve size, RSA-PSS with SHA-256."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = key.curve.key_size
        return SignatureAlgorithm(Scheme.ECDSA, "sha256" if size <= 256 else "sha384" if size <= 384 else "sha512")
    return SignatureAlgorithm(Scheme.RSA_PSS, "sha256")


def sign(private_key: PrivateKey, data: bytes, scheme: Scheme, hash_name: str) -> bytes:
    """Sign ``data``: ECDSA gives a DER Ecdsa-Sig-Value, RSA-PSS uses MGF1 with the same hash and salt = hash length."""
    digest = _hash(hash_name)
    if scheme is Scheme.ECDSA:
        if not isinstance(private_key, ec.EllipticCurvePrivateKey):
            raise PKIError("ECDSA needs an EC private key")
        return private_key.sign(data, ec.ECDSA(digest))
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise PKIError(f"{scheme.value} needs an RSA private key")
    return private_key.sign(data, _rsa_padding(scheme, digest, digest, digest.digest_size), digest)


def _rsa_padding(
    scheme: Scheme, digest: hashes.HashAlgorithm, mgf_hash: hashes.HashAlgorithm, salt: int
) -> padding.AsymmetricPadding:
    if scheme is Scheme.RSA_PSS:
        return padding.PSS(mgf=padding.MGF1(mgf_hash), salt_length=salt)
    return padding.PKCS1v15()


@dataclass(frozen=True)
class _Resolved:
    """What an AlgorithmIdentifier means: scheme, hash, and for PSS the MGF1 hash and salt length."""

    scheme: Scheme
    hash_name: str
    plain: bool = False
    mgf_hash: str = ""
    salt_length: int = 0


def resolve_algorithm(
    algorithm: algos.SignedDigestAlgorithm | str, parameters: Any = None, digest_algorithm: str | None = None
) -> tuple[Scheme, str]:
    """The (scheme, hash name) an AlgorithmIdentifier or OID stands for; PKIError if unsupported."""
    resolved = _resolve(algorithm, parameters, digest_algorithm)
    return resolved.scheme, resolved.hash_name


def _resolve(algorithm: algos.SignedDigestAlgorithm | str, parameters: Any, digest_algorithm: str | None) -> _Resolved:
    try:
        if isinstance(algorithm, algos.SignedDigestAlgorithm):
            oid = algorithm["algorithm"].dotted
            parameters = algorithm["parameters"]
        else:
            oid = algorithm
        return _resolve_oid(oid, parameters, digest_algorithm)
    except (ValueError, TypeError, KeyError) as error:
        raise PKIError(f"malformed signature AlgorithmIdentifier: {error}") from error


def _resolve_oid(oid: str, parameters: Any, digest_algorithm: str | None) -> _Resolved:
    if oid in ECDSA_DER_HASHES:
        return _Resolved(Scheme.ECDSA, ECDSA_DER_HASHES[oid])
    if oid in ECDSA_PLAIN_HASHES:
        return _Resolved(Scheme.ECDSA, ECDSA_PLAIN_HASHES[oid], plain=True)
    if oid in RSA_PKCS1_HASHES:
        return _Resolved(Scheme.RSA_PKCS1V15, RSA_PKCS1_HASHES[oid])
    if oid == ID_RSASSA_PSS:
        return _resolve_pss(parameters)
    # Key-type OIDs that CMS signers put in SignerInfo.signatureAlgorithm; the hash then comes from digestAlgorithm.
    if digest_algorithm is not None and (oid == ID_RSA_ENCRYPTION or oid in (ID_EC_PUBLIC_KEY, ID_ECDSA_SIG_TYPE)):
        scheme = Scheme.RSA_PKCS1V15 if oid == ID_RSA_ENCRYPTION else Scheme.ECDSA
        return _Resolved(scheme, digest_algorithm)
    raise PKIError(f"unsupported signature algorithm {oid}")


def _resolve_pss(parameters: Any) -> _Resolved:
    """Read RSASSA-PSS-params (RFC 4055): absent fields take the SHA-1 / MGF1-SHA-1 / salt 20 defaults."""
    if isinstance(parameters, core.Void) or parameters is None:
        params = algos.RSASSAPSSParams({})
    elif isinstance(parameters, algos.RSASSAPSSParams):
        params = parameters
    else:
        params = algos.RSASSAPSSParams.load(parameters.dump())
    mgf = params["mask_gen_algorithm"]
    if mgf["algorithm"].native != "mgf1":
        raise PKIError(f"unsupported RSA-PSS mask generation function {mgf['algorithm'].dotted}")
    if params["trailer_field"].native not in (1, "trailer_field_bc"):
        raise PKIError("unsupported RSA-PSS trailer field")
    return _Resolved(
        Scheme.RSA_PSS, params["hash_algorithm"]["algorithm"].native,
        mgf_hash=mgf["parameters"]["algorithm"].native, salt_length=params["salt_length"].native,
    )


def verify_signature(
    public_key: PublicKey,
    signature: bytes,
    data: bytes,
    algorithm: algos.SignedDigestAlgorithm | str,
    parameters: Any = None,
    *,
    digest_algorithm: str | None = None,
) -> bool:
    """Whether ``signature`` over ``data`` verifies under ``public_key`` with ``algorithm``.

    ``algorithm`` is an asn1crypto SignedDigestAlgorithm or a dotted OID (then ``parameters`` holds its
    parameters, needed for RSA-PSS).  ``digest_algorithm`` (e.g. ``"sha256"``) supplies the hash when the
    OID names only the key type, as CMS SignerInfos often do.  False means the signature is wrong; PKIError
    means the check could not be made (unknown algorithm, key of the wrong type, malformed parameters).
    """
    resolved = _resolve(algorithm, parameters, digest_algorithm)
    digest = _hash(resolved.hash_name)
    if resolved.scheme is Scheme.ECDSA:
        return _verify_ecdsa(public_key, signature, data, digest, resolved.plain)
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise PKIError(f"{resolved.scheme.value} signature needs an RSA public key")
    mgf_hash = _hash(resolved.mgf_hash) if resolved.scheme is Scheme.RSA_PSS else digest
    try:
        rsa_padding = _rsa_padding(resolved.scheme, digest, mgf_hash, resolved.salt_length)
        public_key.verify(signature, data, rsa_padding, digest)
    except InvalidSignature:
        return False
    except (ValueError, UnsupportedAlgorithm) as error:
        raise PKIError(f"RSA signature cannot be checked: {error}") from error
    return True


def _order_bytes(public_key: ec.EllipticCurvePublicKey | ECPublicPoint) -> int:
    curve = public_key.curve if isinstance(public_key, ECPublicPoint) else for_cryptography(public_key.curve)
    return (curve.n.bit_length() + 7) // 8


def _verify_ecdsa(
    public_key: PublicKey, signature: bytes, data: bytes, digest: hashes.HashAlgorithm, plain: bool
) -> bool:
    if not isinstance(public_key, ec.EllipticCurvePublicKey | ECPublicPoint):
        raise PKIError("ECDSA signature needs an EC public key")
    der = _plain_to_der(signature, _order_bytes(public_key)) if plain else signature
    if der is None:
        return False
    if isinstance(public_key, ECPublicPoint):
        return _verify_ecdsa_point(public_key, der, data, digest.name)
    try:
        public_key.verify(der, data, ec.ECDSA(digest))
    except InvalidSignature:
        return False
    return True


def _plain_to_der(signature: bytes, size: int) -> bytes | None:
    """Convert r‖s to a DER Ecdsa-Sig-Value; None when the length is not twice the order size."""
    if len(signature) != 2 * size:
        return None
    return encode_dss_signature(int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big"))


class _PointKey:
    """A python-ecdsa key for one public point, precomputed (~8 ms) once it verifies a second signature."""

    def __init__(self, point: ECPublicPoint) -> None:
        self.key = point.verifying_key()
        self.uses = 0

    def use(self) -> ecdsa.keys.VerifyingKey:
        self.uses += 1
        if self.uses == 2:  # a batch: every card of a Document Signer is verified with its key
            self.key.precompute(lazy=False)
        return self.key


@lru_cache(maxsize=64)
def _point_key(public_key: ECPublicPoint) -> _PointKey:
    """The key of ``public_key``, cached by its curve and coordinates (an invalid point raises and is not cached)."""
    return _PointKey(public_key)


def _verify_ecdsa_point(public_key: ECPublicPoint, der: bytes, data: bytes, hash_name: str) -> bool:
    hash_function = getattr(hashlib, hash_name)
    try:
        key = _point_key(public_key).use()
        return bool(key.verify(der, data, hashfunc=hash_function, sigdecode=ecdsa.util.sigdecode_der))
    except (ecdsa.BadSignatureError, ecdsa.der.UnexpectedDER, ValueError):
        return False


def signed_attributes_bytes(signer_info: cms.SignerInfo) -> bytes:
    """The DER of SignerInfo.signedAttrs re-tagged as SET OF (RFC 5652 §5.4): the bytes actually signed."""
    encoded: bytes = signer_info["signed_attrs"].dump()
    return b"\x31" + encoded[1:]


def verify_signer_info(signer_info: cms.SignerInfo, public_key: PublicKey, content: bytes) -> bool:
    """Verify one CMS SignerInfo over ``content`` (the eContent octets).

    With signed attributes, the messageDigest attribute must equal the content's hash and the signature
    covers the attributes; without them the signature covers the content itself.
    """
    try:
        digest_name = signer_info["digest_algorithm"]["algorithm"].native
        algorithm = signer_info["signature_algorithm"]
        signature = signer_info["signature"].native
        attributes = signer_info["signed_attrs"]
        if isinstance(attributes, core.Void):
            return verify_signature(public_key, signature, content, algorithm, digest_algorithm=digest_name)
        digests = [a["values"][0].native for a in attributes if a["type"].native == "message_digest"]
        signed = signed_attributes_bytes(signer_info)
    except (ValueError, TypeError, KeyError, IndexError) as error:
        raise PKIError(f"malformed CMS SignerInfo: {error}") from error
    hasher = hashes.Hash(_hash(digest_name))
    hasher.update(content)
    if digests != [hasher.finalize()]:
        return False
    return verify_signature(public_key, signature, signed, algorithm, digest_algorithm=digest_name)
