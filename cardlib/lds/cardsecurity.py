"""EF.CardSecurity (FID 011D in the master file; ICAO 9303-11 §9.2, BSI TR-03110-3 A.1.2).

::

    ContentInfo { signedData SignedData {
        version 3, digestAlgorithms, encapContentInfo { id-SecurityObject 0.4.0.127.0.7.3.2.1, SecurityInfos DER },
        certificates { Document Signer }, signerInfos { one SignerInfo } } }

The SecurityInfos a chip signs: above all the static Chip Authentication key PACE-CAM proves possession of
(ChipAuthenticationPublicKeyInfo), and the PACEInfos of EF.CardAccess.  Unlike EF.SOD the file has no outer
application tag, and its SignerInfo may omit signed attributes (then the signature covers the eContent itself,
RFC 5652 §5.4; JMRTD's sample does so).  The CMS layer is shared with EF.SOD (:mod:`cardlib.lds.signeddata`:
:func:`~cardlib.lds.signeddata.decode_signed_data`, :func:`~cardlib.lds.signeddata.encode_content_info`);
:meth:`CardSecurity.decode` verifies nothing, that is
:mod:`cardlib.verify.cardsecurity`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cardlib.errors import DecodeError
from cardlib.lds.files import EF_CARD_SECURITY
from cardlib.lds.oids import ID_SECURITY_OBJECT
from cardlib.lds.securityinfo import ChipAuthenticationPublicKeyInfo, SecurityInfos
from cardlib.lds.signeddata import SignedContent, SODSigner, decode_signed_data, encode_content_info
from cardlib.lds.tlv import read_tlv
from cardlib.limits import MAX_FILE_BYTES, LimitExceeded

_FILE = EF_CARD_SECURITY.name
_TAG_SEQUENCE = 0x30


class CardSecurityInfos(SecurityInfos):
    """The SecurityInfos signed in EF.CardSecurity: a bare SET, errors naming EF.CardSecurity."""

    _FILE = _FILE


@dataclass(frozen=True, kw_only=True)
class CardSecurity(SignedContent):
    """A decoded EF.CardSecurity: the signed SecurityInfos in the CMS fields a verifier needs
    (:class:`~cardlib.lds.signeddata.SignedContent`; EF.CardSecurity may carry no signed attributes)."""

    security_infos: CardSecurityInfos

    @property
    def chip_authentication_keys(self) -> tuple[ChipAuthenticationPublicKeyInfo, ...]:
        """The static Chip Authentication keys the file signs (PACE-CAM's is among them)."""
        return self.security_infos.chip_authentication_public_key_infos

    @classmethod
    def decode(cls, data: bytes) -> CardSecurity:
        """Parse EF.CardSecurity; DecodeError names the part that is malformed, LimitExceeded a file over
        :data:`~cardlib.limits.MAX_FILE_BYTES`."""
        raw = bytes(data)
        if len(raw) > MAX_FILE_BYTES:
            raise LimitExceeded("MAX_FILE_BYTES", _FILE, MAX_FILE_BYTES, len(raw))
        outer = read_tlv(raw, file=_FILE)
        if outer.tag != _TAG_SEQUENCE:
            raise DecodeError(f"expected a ContentInfo SEQUENCE (30), found tag {outer.tag:X}", file=_FILE, offset=0)
        if outer.end != len(raw):
            raise DecodeError(f"{len(raw) - outer.end} trailing bytes after the ContentInfo", file=_FILE,
                              offset=outer.end)
        _signed, fields = decode_signed_data(raw, file=_FILE)
        infos = CardSecurityInfos.decode(fields["econtent"])
        return cls(raw=raw, security_infos=infos, **fields)

    @classmethod
    def sign(cls, infos: SecurityInfos, signer: SODSigner, *, signing_time: datetime | None = None) -> CardSecurity:
        """Sign ``infos`` with a Document Signer as EF.SOD is signed (SignedData v3, one SignerInfo v1 with
        contentType and messageDigest signed attributes, the DS certificate included), eContentType
        id-SecurityObject."""
        return cls.decode(encode_content_info(infos.encode(), ID_SECURITY_OBJECT, signer, signing_time=signing_time))
