"""The CV certificate itself (BSI TR-03110-3 Table C.1): its body, element by element in the order the
standard lists them, and the signature over the encoded body.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from cardlib.errors import DecodeError
from cardlib.lds.tlv import TLV, children, encode_tlv, read_single
from cardlib.pki.cvc.chat import CHAT, Role
from cardlib.pki.cvc.codec import (
    FILE,
    PROFILE_VERSION_1,
    TAG_BODY,
    TAG_CAR,
    TAG_CHAT,
    TAG_CHR,
    TAG_CV_CERTIFICATE,
    TAG_DISCRETIONARY_TEMPLATE,
    TAG_EFFECTIVE_DATE,
    TAG_EXPIRATION_DATE,
    TAG_EXTENSIONS,
    TAG_OID,
    TAG_PROFILE_ID,
    TAG_PUBLIC_KEY,
    TAG_SIGNATURE,
    decode_date,
    decode_reference,
    encode_date,
    encode_reference,
)
from cardlib.pki.cvc.keys import CVPublicKey


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
            encode_tlv(TAG_CAR, encode_reference(self.car, "CAR")),
            self.public_key.encode(with_domain_parameters=with_domain),
            encode_tlv(TAG_CHR, encode_reference(self.chr, "CHR")),
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
        car=decode_reference(found[TAG_CAR], "certification authority reference"),
        public_key=CVPublicKey.decode(found[TAG_PUBLIC_KEY]),
        chr=decode_reference(found[TAG_CHR], "certificate holder reference"),
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



__all__ = [
    "BODY_ELEMENTS",
    "CVCertificate",
    "CertificateBody",
]
