"""The messages of PACE (ICAO 9303-11 §4.4.3, §B.1, §B.11): MSE:Set AT data, the dynamic authentication data
objects ``7C`` of the four GENERAL AUTHENTICATE steps, and the authentication token over an ephemeral key.

A malformed message is a :class:`~cardlib.errors.ProtocolError`.
"""

from __future__ import annotations

from cardlib.errors import DecodeError, ProtocolError
from cardlib.lds.tlv import TLV, encode_tlv, find, iter_tlvs, read_single
from cardlib.pki.cvc.codec import TAG_OID, TAG_PUBLIC_KEY  # the public key data object of TR-03110-3 D.3
from cardlib.protocols.pace.parameters import PASSWORD_REFERENCES, PACEParameters, PasswordType
from cardlib.protocols.sm import compute_mac, pad

__all__ = [
    "TAG_CHIP_AUTHENTICATION_DATA",
    "TAG_DYNAMIC_AUTH",
    "TAG_ENCRYPTED_NONCE",
    "TAG_EPHEMERAL_CHIP",
    "TAG_EPHEMERAL_TERMINAL",
    "TAG_MAPPING_CHIP",
    "TAG_MAPPING_TERMINAL",
    "TAG_SET_AT_OID",
    "TAG_SET_AT_PARAMETER",
    "TAG_SET_AT_PASSWORD",
    "TAG_TOKEN_CHIP",
    "TAG_TOKEN_TERMINAL",
    "authentication_token",
    "check_set_at",
    "dynamic",
    "dynamic_data",
    "dynamic_objects",
    "set_at_data",
]

TAG_DYNAMIC_AUTH = 0x7C
TAG_ENCRYPTED_NONCE = 0x80
TAG_MAPPING_TERMINAL = 0x81
TAG_MAPPING_CHIP = 0x82
TAG_EPHEMERAL_TERMINAL = 0x83
TAG_EPHEMERAL_CHIP = 0x84
TAG_TOKEN_TERMINAL = 0x85
TAG_TOKEN_CHIP = 0x86
TAG_CHIP_AUTHENTICATION_DATA = 0x8A
TAG_SET_AT_OID = 0x80
TAG_SET_AT_PASSWORD = 0x83
TAG_SET_AT_PARAMETER = 0x84



def set_at_data(params: PACEParameters, password_type: PasswordType, *, include_parameter_id: bool = True) -> bytes:
    """MSE:Set AT data: 80 protocol OID, 83 password reference, 84 parameter ID (needed when EF.CardAccess
    lists several PACEInfos; ICAO's own example omits it)."""
    data = encode_tlv(TAG_SET_AT_OID, params.oid_bytes)
    data += encode_tlv(TAG_SET_AT_PASSWORD, bytes([PASSWORD_REFERENCES[password_type]]))
    if include_parameter_id:
        data += encode_tlv(TAG_SET_AT_PARAMETER, bytes([params.parameter_id]))
    return data


def check_set_at(data: bytes, params: PACEParameters, password_type: PasswordType) -> None:
    """ProtocolError unless MSE:Set AT ``data`` selects ``params``' protocol, the password of ``password_type``
    and (when it names one) ``params``' parameter ID."""
    try:
        objects = list(iter_tlvs(data, file="MSE:Set AT"))
    except DecodeError as exc:
        raise ProtocolError(f"malformed MSE:Set AT data: {exc}") from None
    _expect(objects, TAG_SET_AT_OID, params.oid_bytes, "protocol")
    _expect(objects, TAG_SET_AT_PASSWORD, bytes([PASSWORD_REFERENCES[password_type]]), "password")
    if find(objects, TAG_SET_AT_PARAMETER) is not None:
        _expect(objects, TAG_SET_AT_PARAMETER, bytes([params.parameter_id]), "parameter ID")


def _expect(objects: list[TLV], tag: int, value: bytes, what: str) -> None:
    found = find(objects, tag)
    if found is None or found.value != value:
        raise ProtocolError(f"MSE:Set AT {what} is missing or not supported")


def authentication_token(params: PACEParameters, ks_mac: bytes, public_key: bytes) -> bytes:
    """T = MAC(KSmac, 7F49{06 OID, 86 point | 84 DH value}) over the peer's ephemeral key (§4.4.3.4)."""
    token_input = encode_tlv(TAG_PUBLIC_KEY, encode_tlv(TAG_OID, params.oid_bytes)
                             + encode_tlv(params.group.token_tag, public_key))
    if params.cipher == "3DES":
        token_input = pad(token_input, 8)
    return compute_mac(params.cipher, ks_mac, token_input)


def dynamic_objects(data: bytes) -> list[TLV]:
    """The data objects inside a ``7C`` dynamic authentication data object."""
    try:
        outer = read_single(data, TAG_DYNAMIC_AUTH, file="GENERAL AUTHENTICATE")
        return list(iter_tlvs(outer.value, file="GENERAL AUTHENTICATE", base=outer.header_length))
    except DecodeError as exc:
        raise ProtocolError(f"malformed dynamic authentication data: {exc}") from None


def dynamic_data(data: bytes, tag: int) -> bytes:
    """The value of DO ``tag`` inside a ``7C`` dynamic authentication data object."""
    found = find(dynamic_objects(data), tag)
    if found is None:
        raise ProtocolError(f"dynamic authentication data lacks DO {tag:02X}")
    return found.value


def dynamic(*objects: tuple[int, bytes]) -> bytes:
    """A ``7C`` dynamic authentication data object holding ``objects`` (tag, value) in order."""
    return encode_tlv(TAG_DYNAMIC_AUTH, b"".join(encode_tlv(tag, value) for tag, value in objects))
