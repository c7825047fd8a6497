"""The extensions of an X.509 certificate (RFC 5280 §4.2), read once as TLVs: which are critical, and each value.

asn1crypto's own accessors (``key_identifier``, ``key_usage_value``, ``critical_extensions``) parse *every*
extension the first time any is asked for, and raise on a malformed one even when nothing reads it: one odd
extension in a Document Signer then broke checks that never looked at it (found by fuzzing ``verify``).  Here
the Extensions are walked as plain TLVs; the one who needs a value parses that value alone.  Both the SOD's
signer lookup (:mod:`cardlib.lds.signeddata`) and :class:`cardlib.pki.certificates.Certificate` read them so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from asn1crypto import x509 as asn1_x509

from cardlib.errors import DecodeError
from cardlib.lds import der
from cardlib.lds.tlv import children, iter_tlvs


@dataclass(frozen=True)
class Extensions:
    """A certificate's extensions: the dotted OIDs of those marked critical, and each extnValue's contents by
    dotted OID (read-only)."""

    critical: frozenset[str]
    values: Mapping[str, bytes]


def certificate_extensions(certificate: asn1_x509.Certificate) -> Extensions:
    """The extensions of ``certificate``; ValueError on a malformed Extension or one included twice (RFC 5280
    §4.2 forbids it, as asn1crypto does).  A certificate without extensions has none."""
    critical: set[str] = set()
    values: dict[str, bytes] = {}
    try:
        for extension in iter_tlvs(certificate["tbs_certificate"]["extensions"].contents):
            fields = children(extension)
            if (extension.tag != der.SEQUENCE or not 2 <= len(fields) <= 3 or fields[0].tag != der.OID
                    or fields[-1].tag != der.OCTET_STRING):
                raise ValueError("malformed Extension")
            dotted = _dotted(fields[0].encode())
            if dotted in values:
                raise ValueError(f"extension {dotted} included multiple times")
            values[dotted] = fields[-1].value
            if len(fields) == 3 and fields[1].tag == der.BOOLEAN and fields[1].value not in (b"", b"\x00"):
                critical.add(dotted)
    except DecodeError as error:
        raise ValueError(f"malformed extensions: {error}") from error
    return Extensions(frozenset(critical), MappingProxyType(values))


def _dotted(encoded: bytes) -> str:
    """An extension OID in dotted form; ValueError when asn1crypto cannot read it."""
    try:
        return der.dotted_oid(encoded)
    except der.Unusual as error:
        raise ValueError("malformed extension OID") from error


__all__ = ["Extensions", "certificate_extensions"]
