"""Card verifiable certificates (CV certificates) of Extended Access Control, BSI TR-03110-3 Appendix C.

A CV certificate is a BER-TLV structure (ISO/IEC 7816-8), read and written here element by element as the
standard lists them (TR-03110-3 Table C.1)::

    7F21 CV Certificate
         7F4E Certificate Body
              5F29 Certificate Profile Identifier        00 (version 1)
              42   Certification Authority Reference     CAR: the issuer's key, e.g. "VNCVCA00001"
              7F49 Public Key                            06 OID, then EC 81..87 or RSA 81 82 (Table D.3)
              5F20 Certificate Holder Reference          CHR: the name of this key
              7F4C Certificate Holder Authorization Template (CHAT)
                                                         06 role OID (id-IS), 53 discretionary data
              5F25 Certificate Effective Date            YYMMDD, one unpacked BCD digit per byte
              5F24 Certificate Expiration Date           YYMMDD
              65   Certificate Extensions (optional)     73 discretionary data templates
         5F37 Signature                                  over the whole 7F4E object, by the CAR's key

The public key OID names the algorithm its holder signs with (id-TA-ECDSA-SHA-256 …): an ECDSA signature is
the plain ``r ‖ s`` of BSI TR-03111, RSA is PKCS#1 v1.5 or PSS.  EC domain parameters (81 p, 82 a, 83 b,
84 G, 85 n, 87 cofactor) are in CVCA certificates only; DV and terminal certificates carry the point (86) and
take the parameters of the CVCA above them.  Explicit parameters are accepted only when they are exactly a
named curve (:func:`cardlib.curves.from_explicit`), so no attacker-chosen curve is ever computed on.

Every decoding failure is a :class:`~cardlib.errors.DecodeError` naming the element and its offset; a chain
that does not validate is a :class:`CVCChainError` naming why (:class:`ChainFailure`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from enum import Enum, IntEnum, IntFlag

from asn1crypto.core import ObjectIdentifier
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from cardlib import curves
from cardlib.curves import Curve
from cardlib.errors import CardlibError, DecodeError, EncodeError, PKIError
from cardlib.lds.oids import BSI_DE, ECDSA_PLAIN_HASHES, ID_TA, signature_oid
from cardlib.lds.tlv import TLV, children, encode_tlv, read_single
from cardlib.pki.signatures import ECPublicPoint, PrivateKey, PublicKey, Scheme, SignatureAlgorithm, sign
from cardlib.pki.signatures import verify_signature as verify_with_key

FILE = "CV certificate"

TAG_CV_CERTIFICATE = 0x7F21
TAG_BODY = 0x7F4E
TAG_PROFILE_ID = 0x5F29
TAG_CAR = 0x42
TAG_PUBLIC_KEY = 0x7F49
TAG_CHR = 0x5F20
TAG_CHAT = 0x7F4C
TAG_EFFECTIVE_DATE = 0x5F25
TAG_EXPIRATION_DATE = 0x5F24
TAG_EXTENSIONS = 0x65
TAG_SIGNATURE = 0x5F37
TAG_OID = 0x06
TAG_DISCRETIONARY_DATA = 0x53
TAG_DISCRETIONARY_TEMPLATE = 0x73

PROFILE_VERSION_1 = 0x00

# BSI TR-03110-3 A.2.1.1 / Table D.3: id-TA and its signature algorithms.
ID_TA_RSA = ID_TA + ".1"
ID_TA_ECDSA = ID_TA + ".2"
TA_ALGORITHMS: dict[str, SignatureAlgorithm] = {
    ID_TA_RSA + ".1": SignatureAlgorithm(Scheme.RSA_PKCS1V15, "sha1"),
    ID_TA_RSA + ".2": SignatureAlgorithm(Scheme.RSA_PKCS1V15, "sha256"),
    ID_TA_RSA + ".3": SignatureAlgorithm(Scheme.RSA_PSS, "sha1"),
    ID_TA_RSA + ".4": SignatureAlgorithm(Scheme.RSA_PSS, "sha256"),
    ID_TA_RSA + ".5": SignatureAlgorithm(Scheme.RSA_PKCS1V15, "sha512"),
    ID_TA_RSA + ".6": SignatureAlgorithm(Scheme.RSA_PSS, "sha512"),
    ID_TA_ECDSA + ".1": SignatureAlgorithm(Scheme.ECDSA, "sha1"),
    ID_TA_ECDSA + ".2": SignatureAlgorithm(Scheme.ECDSA, "sha224"),
    ID_TA_ECDSA + ".3": SignatureAlgorithm(Scheme.ECDSA, "sha256"),
    ID_TA_ECDSA + ".4": SignatureAlgorithm(Scheme.ECDSA, "sha384"),
    ID_TA_ECDSA + ".5": SignatureAlgorithm(Scheme.ECDSA, "sha512"),
}
# TR-03110-3 C.4: the terminal types a CHAT may name; only inspection systems read the ePassport's DG3/DG4.
ID_ROLES = BSI_DE + ".3.1.2"
ID_IS = ID_ROLES + ".1"
ID_AT = ID_ROLES + ".2"
ID_ST = ID_ROLES + ".3"

REFERENCE_MIN, REFERENCE_MAX = 8, 16  # country (2) + mnemonic (up to 9) + sequence number (5); CHR up to 16


class Role(IntEnum):
    """The two top bits of the CHAT's first byte (TR-03110-3 Table C.4): who holds the certificate."""

    INSPECTION_SYSTEM = 0b00
    DV_FOREIGN = 0b01
    DV_DOMESTIC = 0b10
    CVCA = 0b11

    @property
    def is_dv(self) -> bool:
        """A document verifier, official domestic or non-official/foreign."""
        return self in (Role.DV_DOMESTIC, Role.DV_FOREIGN)


class AccessRight(IntFlag):
    """The read rights of an inspection system's CHAT (TR-03110-3 Table C.4, the lowest bits)."""

    NONE = 0
    READ_DG3 = 0x01  # fingerprints
    READ_DG4 = 0x02  # iris

    def names(self) -> list[str]:
        """The data groups this right lets a terminal read, e.g. ``["DG3", "DG4"]``."""
        return [f"DG{number}" for flag, number in ((AccessRight.READ_DG3, 3), (AccessRight.READ_DG4, 4))
                if flag in self]


_RIGHTS_MASK = 0x03
_ROLE_SHIFT = 6


@dataclass(frozen=True)
class CHAT:
    """Certificate Holder Authorization Template: a terminal-type OID and the discretionary data after it.

    For inspection systems (``id-IS``) the data is one byte: the role in its two top bits, RFU bits, then the
    read rights for DG4 and DG3 (TR-03110-3 Table C.4).  The bytes are kept as given so a decode re-encodes.
    """

    oid: str
    data: bytes

    @classmethod
    def inspection_system(cls, role: Role, rights: AccessRight = AccessRight.NONE) -> CHAT:
        """The one-byte id-IS template of ``role`` granting ``rights``."""
        return cls(ID_IS, bytes([(role << _ROLE_SHIFT) | rights]))

    @property
    def role(self) -> Role:
        """Who holds the certificate, from the two top bits."""
        return Role(self.data[0] >> _ROLE_SHIFT)

    @property
    def rights(self) -> AccessRight:
        """The DG3/DG4 read rights; none for a terminal type other than an inspection system."""
        return AccessRight(self.data[0] & _RIGHTS_MASK) if self.oid == ID_IS else AccessRight.NONE

    def encode(self) -> bytes:
        """The ``7F4C`` object."""
        return encode_tlv(TAG_CHAT, encode_tlv(TAG_OID, _oid_bytes(self.oid))
                          + encode_tlv(TAG_DISCRETIONARY_DATA, self.data))

    @classmethod
    def decode(cls, chat: TLV) -> CHAT:
        """Read a ``7F4C`` object: 06 terminal-type OID, 53 discretionary data (at least one byte)."""
        oid, data = _exactly(chat, (TAG_OID, TAG_DISCRETIONARY_DATA), "CHAT")
        if not data.value:
            raise DecodeError("empty discretionary data", file=FILE, field="CHAT", offset=data.offset)
        return cls(_decode_oid(oid, "CHAT terminal type"), data.value)


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
        return TA_ALGORITHMS[self.oid]

    def encode(self, *, with_domain_parameters: bool) -> bytes:
        """The ``7F49`` object; EC domain parameters are included when asked (CVCA certificates)."""
        body = encode_tlv(TAG_OID, _oid_bytes(self.oid))
        if self.kind is KeyKind.RSA:
            body += encode_tlv(0x81, _unsigned(self.modulus)) + encode_tlv(0x82, _unsigned(self.exponent))
        elif with_domain_parameters:
            if self.curve is None:
                raise EncodeError("a CVCA public key needs its curve to write the domain parameters")
            c = self.curve
            size = c.field_bytes
            generator = b"\x04" + c.gx.to_bytes(size, "big") + c.gy.to_bytes(size, "big")
            body += b"".join(encode_tlv(tag, value) for tag, value in (
                (0x81, c.p.to_bytes(size, "big")), (0x82, (c.a % c.p).to_bytes(size, "big")),
                (0x83, c.b.to_bytes(size, "big")), (0x84, generator), (0x85, _unsigned(c.n)),
                (0x86, self.point), (0x87, _unsigned(c.h))))
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
        oid = _decode_oid(elements[0], "public key algorithm")
        if oid not in TA_ALGORITHMS:
            raise DecodeError(f"algorithm {oid} is not an id-TA signature algorithm", file=FILE,
                              field="public key algorithm", offset=elements[0].offset)
        values = _unique(elements[1:], "public key")
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
        if oid not in TA_ALGORITHMS:
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


@dataclass(frozen=True)
class CertificateBody:
    """The signed part of a CV certificate, one field per element of TR-03110-3 Table C.1."""

    car: str
    public_key: CVPublicKey
    chr: str
    chat: CHAT
    effective: date
    expiration: date
    extensions: bytes = b""
    """The ``65`` object's content as it came (discretionary data templates), or empty when absent."""
    profile_id: int = PROFILE_VERSION_1

    def encode(self) -> bytes:
        """The ``7F4E`` object; EC domain parameters are written for a CVCA's key only."""
        with_domain = self.chat.role is Role.CVCA
        body = b"".join((
            encode_tlv(TAG_PROFILE_ID, bytes([self.profile_id])),
            encode_tlv(TAG_CAR, _encode_reference(self.car, "CAR")),
            self.public_key.encode(with_domain_parameters=with_domain),
            encode_tlv(TAG_CHR, _encode_reference(self.chr, "CHR")),
            self.chat.encode(),
            encode_tlv(TAG_EFFECTIVE_DATE, encode_date(self.effective)),
            encode_tlv(TAG_EXPIRATION_DATE, encode_date(self.expiration)),
            encode_tlv(TAG_EXTENSIONS, self.extensions) if self.extensions else b"",
        ))
        return encode_tlv(TAG_BODY, body)


@dataclass(frozen=True)
class _Element:
    """One element of the certificate body: its tag, its name in the standard, whether it must be there."""

    tag: int
    name: str
    mandatory: bool = True


# TR-03110-3 Table C.1, in the order the elements must appear.
BODY_ELEMENTS = (
    _Element(TAG_PROFILE_ID, "certificate profile identifier"),
    _Element(TAG_CAR, "certification authority reference"),
    _Element(TAG_PUBLIC_KEY, "public key"),
    _Element(TAG_CHR, "certificate holder reference"),
    _Element(TAG_CHAT, "certificate holder authorization template"),
    _Element(TAG_EFFECTIVE_DATE, "certificate effective date"),
    _Element(TAG_EXPIRATION_DATE, "certificate expiration date"),
    _Element(TAG_EXTENSIONS, "certificate extensions", mandatory=False),
)


@dataclass(frozen=True)
class CVCertificate:
    """A CV certificate: its body, the signature over the encoded body, and the bytes it was read from."""

    body: CertificateBody
    signature: bytes
    body_bytes: bytes
    """The ``7F4E`` object exactly as signed (tag and length included)."""

    @property
    def car(self) -> str:
        """Certification authority reference: the name of the key that signed this certificate."""
        return self.body.car

    @property
    def chr(self) -> str:
        """Certificate holder reference: the name of this certificate's key."""
        return self.body.chr

    @property
    def role(self) -> Role:
        """CVCA, document verifier or inspection system, from the CHAT."""
        return self.body.chat.role

    @property
    def self_signed(self) -> bool:
        """A CVCA certificate whose issuer is its own key (not a link certificate)."""
        return self.car == self.chr

    def encode(self) -> bytes:
        """The whole ``7F21`` object."""
        return encode_tlv(TAG_CV_CERTIFICATE, self.body_bytes + encode_tlv(TAG_SIGNATURE, self.signature))

    def command_data(self) -> bytes:
        """What PSO:VERIFY CERTIFICATE carries: the body and the signature, without the ``7F21`` wrapper."""
        return self.body_bytes + encode_tlv(TAG_SIGNATURE, self.signature)

    def verify_signature(self, issuer_key: CVPublicKey) -> bool:
        """Whether the issuer's key signed this body; PKIError when the key cannot be used."""
        return issuer_key.verify(self.signature, self.body_bytes)

    def is_valid_on(self, day: date) -> bool:
        """Whether ``day`` falls within the effective and expiration dates (both included)."""
        return self.body.effective <= day <= self.body.expiration

    @classmethod
    def decode(cls, data: bytes) -> CVCertificate:
        """Read a whole ``7F21`` object; DecodeError naming the element and offset when it is malformed."""
        outer = read_single(data, TAG_CV_CERTIFICATE, file=FILE)
        return cls._from_elements(children(outer, file=FILE), outer.offset)

    @classmethod
    def decode_command_data(cls, data: bytes) -> CVCertificate:
        """Read the ``7F4E`` ``5F37`` pair a PSO:VERIFY CERTIFICATE command carries."""
        return cls.decode(encode_tlv(TAG_CV_CERTIFICATE, data))

    @classmethod
    def _from_elements(cls, elements: list[TLV], offset: int) -> CVCertificate:
        if [obj.tag for obj in elements] != [TAG_BODY, TAG_SIGNATURE]:
            raise DecodeError("a CV certificate holds a body (7F4E) then a signature (5F37)", file=FILE,
                              offset=offset)
        body_tlv, signature = elements
        return cls(_decode_body(body_tlv), signature.value, body_tlv.encode())

    @classmethod
    def issue(cls, body: CertificateBody, signer: Callable[[bytes], bytes]) -> CVCertificate:
        """Sign ``body`` with ``signer`` (bytes → signature in the CV form, see :func:`cv_signer`)."""
        body_bytes = body.encode()
        return cls(body, signer(body_bytes), body_bytes)


def _decode_body(body: TLV) -> CertificateBody:
    """The body's elements in the order of :data:`BODY_ELEMENTS`, each decoded by its own reader."""
    elements = children(body, file=FILE)
    found: dict[int, TLV] = {}
    position = 0
    for element in BODY_ELEMENTS:
        if position < len(elements) and elements[position].tag == element.tag:
            found[element.tag] = elements[position]
            position += 1
        elif element.mandatory:
            raise DecodeError(f"{element.name} ({element.tag:X}) missing or out of order", file=FILE,
                              field=element.name, offset=elements[position].offset if position < len(elements)
                              else body.offset)
    if position != len(elements):
        raise DecodeError(f"unexpected element {elements[position].tag:X} in the certificate body", file=FILE,
                          offset=elements[position].offset)
    profile = found[TAG_PROFILE_ID]
    if profile.value != bytes([PROFILE_VERSION_1]):
        raise DecodeError(f"certificate profile identifier {profile.value.hex()} (only 00, version 1, is defined)",
                          file=FILE, field="certificate profile identifier", offset=profile.offset)
    effective = decode_date(found[TAG_EFFECTIVE_DATE], "certificate effective date")
    expiration = decode_date(found[TAG_EXPIRATION_DATE], "certificate expiration date")
    if expiration < effective:
        raise DecodeError("expires before it takes effect", file=FILE, field="certificate expiration date",
                          offset=found[TAG_EXPIRATION_DATE].offset)
    extensions = found.get(TAG_EXTENSIONS)
    if extensions is not None:
        _check_extensions(extensions)
    return CertificateBody(
        car=_decode_reference(found[TAG_CAR], "certification authority reference"),
        public_key=CVPublicKey.decode(found[TAG_PUBLIC_KEY]),
        chr=_decode_reference(found[TAG_CHR], "certificate holder reference"),
        chat=CHAT.decode(found[TAG_CHAT]),
        effective=effective, expiration=expiration,
        extensions=extensions.value if extensions is not None else b"",
    )


def _check_extensions(extensions: TLV) -> None:
    """Certificate extensions: discretionary data templates (73), each starting with its OID."""
    for template in children(extensions, file=FILE):
        inner = children(template, file=FILE) if template.tag == TAG_DISCRETIONARY_TEMPLATE else []
        if not inner or inner[0].tag != TAG_OID:
            raise DecodeError("an extension is a discretionary data template (73) starting with its OID",
                              file=FILE, field="certificate extensions", offset=template.offset)


# --- element codecs ---------------------------------------------------------------------------------------


def encode_date(day: date) -> bytes:
    """YYMMDD as six unpacked BCD digits (TR-03110-3 D.2.1.3), years 2000-2099."""
    if not 2000 <= day.year <= 2099:
        raise EncodeError(f"CV certificate dates are 2000-2099, got {day.isoformat()}")
    return bytes(int(digit) for digit in day.strftime("%y%m%d"))


def decode_date(obj: TLV, name: str) -> date:
    """A six-digit unpacked BCD date; DecodeError for other lengths, non-digits or impossible dates."""
    if len(obj.value) != 6 or any(digit > 9 for digit in obj.value):
        raise DecodeError("a date is six unpacked BCD digits YYMMDD", file=FILE, field=name, offset=obj.offset)
    digits = obj.value
    year, month, day = (10 * digits[i] + digits[i + 1] for i in (0, 2, 4))
    try:
        return date(2000 + year, month, day)
    except ValueError:
        raise DecodeError(f"20{year:02d}-{month:02d}-{day:02d} is not a date", file=FILE, field=name,
                          offset=obj.offset) from None


def _encode_reference(reference: str, name: str) -> bytes:
    check_reference(reference, name)
    return reference.encode("latin-1")


def check_reference(reference: str, name: str) -> None:
    """A CAR/CHR: 8 to 16 printable ISO 8859-1 characters, starting with an upper-case country code."""
    if not REFERENCE_MIN <= len(reference) <= REFERENCE_MAX or not reference.isprintable() \
            or not reference[:2].isalpha() or not reference[:2].isupper() or not reference.isascii():
        raise EncodeError(f"{name} {reference!r}: 8 to 16 printable characters starting with a country code")


def _decode_reference(obj: TLV, name: str) -> str:
    text = obj.value.decode("latin-1")
    try:
        check_reference(text, name)
    except EncodeError as error:
        raise DecodeError(str(error), file=FILE, field=name, offset=obj.offset) from None
    return text


def _oid_bytes(oid: str) -> bytes:
    return bytes(ObjectIdentifier(oid).contents)


def _decode_oid(obj: TLV, name: str) -> str:
    try:
        if not obj.value or obj.value[-1] & 0x80:
            raise ValueError("truncated")
        return str(ObjectIdentifier.load(encode_tlv(TAG_OID, obj.value)).dotted)
    except (ValueError, TypeError, OverflowError):
        raise DecodeError("malformed OBJECT IDENTIFIER", file=FILE, field=name, offset=obj.offset) from None


def _unsigned(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def _unique(elements: list[TLV], name: str) -> dict[int, TLV]:
    values: dict[int, TLV] = {}
    for obj in elements:
        if obj.tag in values:
            raise DecodeError(f"element {obj.tag:X} given twice", file=FILE, field=name, offset=obj.offset)
        values[obj.tag] = obj
    return values


def _exactly(parent: TLV, tags: tuple[int, ...], name: str) -> list[TLV]:
    elements = children(parent, file=FILE)
    if tuple(obj.tag for obj in elements) != tags:
        raise DecodeError(f"expected elements {' '.join(f'{tag:X}' for tag in tags)}", file=FILE, field=name,
                          offset=parent.offset)
    return elements


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


# --- signing ----------------------------------------------------------------------------------------------


def cv_signer(private_key: PrivateKey, oid: str) -> Callable[[bytes], bytes]:
    """A function signing bytes as a CV certificate or TA wants it: algorithm ``oid``, ECDSA as plain r‖s."""
    if oid not in TA_ALGORITHMS:
        raise PKIError(f"{oid} is not an id-TA signature algorithm")
    algorithm = TA_ALGORITHMS[oid]

    def signer(data: bytes) -> bytes:
        signature = sign(private_key, data, algorithm.scheme, algorithm.hash_name)
        if not isinstance(private_key, ec.EllipticCurvePrivateKey):
            return signature
        r, s = decode_dss_signature(signature)
        size = (private_key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")

    return signer


# --- chains -----------------------------------------------------------------------------------------------


class ChainFailure(Enum):
    """Why a CV certificate was refused (the chip answers each with a status word, the terminal with a reason)."""

    UNKNOWN_AUTHORITY = "no trusted key is named by the certificate's CAR"
    BAD_SIGNATURE = "the signature does not verify under the CAR's key"
    EXPIRED = "the certificate expired before the current date"
    ROLE = "the certificate's role cannot follow its issuer's"
    UNUSABLE_KEY = "the issuer's key cannot be used"


class CVCChainError(PKIError):
    """A CV certificate chain that does not validate; ``failure`` says why, ``chr`` names the certificate."""

    def __init__(self, failure: ChainFailure, chr: str, detail: str = "") -> None:
        self.failure = failure
        self.chr = chr
        super().__init__(f"CV certificate {chr}: {failure.value}" + (f" ({detail})" if detail else ""))


@dataclass(frozen=True)
class TrustPoint:
    """A public key the chip trusts, with what it may sign: a CVCA key (trust anchor) or one imported from a
    verified certificate for the rest of the session."""

    chr: str
    public_key: CVPublicKey
    role: Role
    chat: CHAT
    expiration: date

    @classmethod
    def of(cls, certificate: CVCertificate, curve: Curve | None = None) -> TrustPoint:
        """The key ``certificate`` certifies, taking the EC domain parameters ``curve`` it inherits."""
        body = certificate.body
        return cls(body.chr, body.public_key.with_curve(curve), body.chat.role, body.chat, body.expiration)


# Which role may sign a certificate of which role (TR-03110-3 C.4 and 2.5): the CVCA signs link certificates
# and DV certificates, a DV signs terminal certificates.
_MAY_ISSUE: dict[Role, frozenset[Role]] = {
    Role.CVCA: frozenset({Role.CVCA, Role.DV_DOMESTIC, Role.DV_FOREIGN}),
    Role.DV_DOMESTIC: frozenset({Role.INSPECTION_SYSTEM}),
    Role.DV_FOREIGN: frozenset({Role.INSPECTION_SYSTEM}),
    Role.INSPECTION_SYSTEM: frozenset(),
}


@dataclass(frozen=True)
class Validated:
    """A certificate that passed :func:`validate_certificate`: the key it certifies and the chip's new date."""

    trust_point: TrustPoint
    current_date: date
    date_updated: bool


def validate_certificate(certificate: CVCertificate, issuer: TrustPoint, current_date: date) -> Validated:
    """Validate one certificate against the key named by its CAR, as the chip does (TR-03110-1 2.6, 2.7).

    Checks the role may follow the issuer's, the signature, and that the certificate has not expired by
    ``current_date`` (a chip has no clock: its date is the latest effective date it trusted).  The chip's
    current date moves to the effective date of a CVCA, DV or *accurate* terminal certificate (one issued by an
    official domestic DV) when that is later.  CVCChainError when any check fails.
    """
    chr = certificate.chr
    if certificate.car != issuer.chr:
        raise CVCChainError(ChainFailure.UNKNOWN_AUTHORITY, chr, f"CAR {certificate.car}, key {issuer.chr}")
    if certificate.role not in _MAY_ISSUE[issuer.role]:
        raise CVCChainError(ChainFailure.ROLE, chr, f"{certificate.role.name} under {issuer.role.name}")
    try:
        verified = certificate.verify_signature(issuer.public_key)
    except CardlibError as error:
        raise CVCChainError(ChainFailure.UNUSABLE_KEY, chr, str(error)) from None
    if not verified:
        raise CVCChainError(ChainFailure.BAD_SIGNATURE, chr)
    body = certificate.body
    if body.expiration < current_date:
        raise CVCChainError(ChainFailure.EXPIRED, chr, f"expired {body.expiration.isoformat()}, chip date "
                                                       f"{current_date.isoformat()}")
    accurate = certificate.role is not Role.INSPECTION_SYSTEM or issuer.role is Role.DV_DOMESTIC
    update = accurate and body.effective > current_date
    return Validated(TrustPoint.of(certificate, issuer.public_key.curve), body.effective if update else current_date,
                     update)


def validate_chain(certificates: list[CVCertificate], anchors: list[TrustPoint],
                   current_date: date) -> tuple[TrustPoint, AccessRight, date]:
    """Validate ``certificates`` (link certificates, DV, terminal, in that order) from one of ``anchors``.

    Returns the terminal's key, its effective rights (the AND of every CHAT on the way, TR-03110-3 C.4) and
    the current date after the updates.  The terminal side runs this before talking to the chip, so it knows
    what the chip will grant; the chip runs the same checks one certificate at a time.
    """
    if not certificates:
        raise PKIError("an empty CV certificate chain")
    by_name = {anchor.chr: anchor for anchor in anchors}
    issuer = by_name.get(certificates[0].car)
    if issuer is None:
        raise CVCChainError(ChainFailure.UNKNOWN_AUTHORITY, certificates[0].chr,
                            f"CAR {certificates[0].car} is not a trusted CVCA")
    rights = issuer.chat.rights
    for certificate in certificates:
        validated = validate_certificate(certificate, issuer, current_date)
        current_date, issuer = validated.current_date, validated.trust_point
        rights = effective_rights(rights, certificate)
    return issuer, rights, current_date


def effective_rights(so_far: AccessRight, certificate: CVCertificate) -> AccessRight:
    """The rights after ``certificate``: a link certificate makes its new CVCA's rights the start again, any
    other narrows them to its own CHAT (the effective authorization is the AND along the chain)."""
    rights = certificate.body.chat.rights
    return rights if certificate.role is Role.CVCA else so_far & rights


def _plain_ecdsa_oid(hash_name: str) -> str:
    """The BSI TR-03111 ecdsa-plain OID for ``hash_name``: how :mod:`cardlib.pki.signatures` names a plain r‖s
    ECDSA signature."""
    oid = signature_oid(ECDSA_PLAIN_HASHES, hash_name)
    if oid is None:
        raise PKIError(f"no ecdsa-plain signature algorithm for hash {hash_name}")
    return oid


__all__ = [
    "BODY_ELEMENTS",
    "CHAT",
    "ID_IS",
    "ID_TA_ECDSA",
    "ID_TA_RSA",
    "TA_ALGORITHMS",
    "AccessRight",
    "CVCChainError",
    "CVCertificate",
    "CVPublicKey",
    "CertificateBody",
    "ChainFailure",
    "KeyKind",
    "Role",
    "TrustPoint",
    "Validated",
    "check_reference",
    "cv_signer",
    "decode_date",
    "effective_rights",
    "encode_date",
    "validate_certificate",
    "validate_chain",
]
