"""PACE with the generic mapping over ECDH (ICAO 9303-11 §4.4), from the terminal and from the chip.

The four GENERAL AUTHENTICATE steps exchange dynamic authentication data objects ``7C``:
1. the chip sends the nonce s encrypted with Kπ (``80``);
2. both sides exchange mapping keys (``81``/``82``) and map G̃ = s·G + H, H the ECDH point of the mapping keys;
3. both sides exchange ephemeral keys on G̃ (``83``/``84``) and agree on K, hence KSenc and KSmac;
4. both sides exchange authentication tokens (``85``/``86``): MACs over the other side's ephemeral key.

The password is the CAN (its digits, ISO 8859-1) or the MRZ information (hashed with SHA-1), password
references 2 and 1.  Supported protocols: id-PACE-ECDH-GM-3DES/AES-128/192/256 with standardized curves.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from asn1crypto.core import ObjectIdentifier
from ecdsa.ellipticcurve import PointJacobi

from cardlib.curves import Curve, by_parameter_id
from cardlib.errors import CardlibError, DecodeError, PKIError, ProtocolError, ValidationError
from cardlib.lds.tlv import TLV, encode_tlv, find, iter_tlvs, read_single
from cardlib.protocols import ecpoint
from cardlib.protocols.kdf import kdf_enc, kdf_mac, kdf_pi
from cardlib.protocols.sm import SecureMessaging, block_size, cbc_decrypt, cbc_encrypt, compute_mac, pad

PasswordType = Literal["CAN", "MRZ"]
Rng = Callable[[int], bytes]
ID_PACE_ECDH_GM = "0.4.0.127.0.7.2.2.4.2"
PASSWORD_REFERENCES: dict[str, int] = {"MRZ": 1, "CAN": 2}
_SUITES: dict[str, tuple[Literal["3DES", "AES"], int]] = {
    "1": ("3DES", 112), "2": ("AES", 128), "3": ("AES", 192), "4": ("AES", 256),
}
TAG_DYNAMIC_AUTH = 0x7C
TAG_PUBLIC_KEY = 0x7F49
TAG_OID = 0x06
TAG_EC_POINT = 0x86
TAG_SET_AT_OID = 0x80
TAG_SET_AT_PASSWORD = 0x83
TAG_SET_AT_PARAMETER = 0x84


@dataclass(frozen=True)
class PACEParameters:
    """What a PACEInfo of EF.CardAccess selects: the protocol OID and the standardized domain parameter ID."""

    protocol: str
    parameter_id: int

    def __post_init__(self) -> None:
        prefix, _, suite = self.protocol.rpartition(".")
        if prefix != ID_PACE_ECDH_GM or suite not in _SUITES:
            raise ProtocolError(f"PACE protocol {self.protocol} is not supported (only ECDH generic mapping)")
        try:
            by_parameter_id(self.parameter_id)
        except PKIError as exc:
            raise ProtocolError(str(exc)) from None

    @property
    def cipher(self) -> Literal["3DES", "AES"]:
        """Secure messaging cipher of the protocol."""
        return _SUITES[self.protocol.rpartition(".")[2]][0]

    @property
    def key_bits(self) -> int:
        """Session key length in bits (112 for two-key 3DES)."""
        return _SUITES[self.protocol.rpartition(".")[2]][1]

    @property
    def curve(self) -> Curve:
        """The standardized elliptic curve of ``parameter_id``."""
        return by_parameter_id(self.parameter_id)

    @property
    def oid_bytes(self) -> bytes:
        """The protocol OID's DER content octets (the value of DO 80 and of DO 06 in tokens)."""
        return bytes(ObjectIdentifier(self.protocol).contents)


def password_key(password: str, password_type: PasswordType) -> bytes:
    """The encoded password K: CAN digits as ISO 8859-1, or SHA-1 of the MRZ information."""
    if password_type not in PASSWORD_REFERENCES:
        raise ValidationError(f"unknown PACE password type {password_type!r}", field="password_type")
    try:
        encoded = password.encode("ascii")
    except UnicodeEncodeError:
        raise ValidationError("PACE password must be ASCII", field="password") from None
    if not encoded:
        raise ValidationError("PACE password is empty", field="password")
    return hashlib.sha1(encoded).digest() if password_type == "MRZ" else encoded


def authentication_token(params: PACEParameters, ks_mac: bytes, public_key: bytes) -> bytes:
    """T = MAC(KSmac, 7F49{06 OID, 86 peer ephemeral public key}) (ICAO 9303-11 §4.4.3.4)."""
    token_input = encode_tlv(TAG_PUBLIC_KEY, encode_tlv(TAG_OID, params.oid_bytes) + encode_tlv(TAG_EC_POINT,
                                                                                                   public_key))
    if params.cipher == "3DES":
        token_input = pad(token_input, 8)
    return compute_mac(params.cipher, ks_mac, token_input)


def _dynamic_data(data: bytes, tag: int) -> bytes:
    """The value of DO ``tag`` inside a ``7C`` dynamic authentication data object."""
    try:
        outer = read_single(data, TAG_DYNAMIC_AUTH, file="GENERAL AUTHENTICATE")
        inner = list(iter_tlvs(outer.value, file="GENERAL AUTHENTICATE", base=outer.header_length))
    except DecodeError as exc:
        raise ProtocolError(f"malformed dynamic authentication data: {exc}") from None
    found = find(inner, tag)
    if found is None:
        raise ProtocolError(f"dynamic authentication data lacks DO {tag:02X}")
    return found.value


def _dynamic(tag: int | None = None, value: bytes = b"") -> bytes:
    return encode_tlv(TAG_DYNAMIC_AUTH, encode_tlv(tag, value) if tag is not None else b"")


class _PACESide:
    """State and arithmetic shared by both ends: Kπ, the mapping, the key agreement, the tokens."""

    def __init__(self, password: str, password_type: PasswordType, params: PACEParameters, rng: Rng) -> None:
        self.params = params
        self.password_type = password_type
        self._k_pi = kdf_pi(password_key(password, password_type), params.cipher, params.key_bits)
        self._rng = rng
        self._curve = params.curve
        self._nonce = b""
        self._mapping_key = 0
        self._mapped: PointJacobi | None = None
        self._ephemeral_key = 0
        self._own_ephemeral = b""
        self._peer_ephemeral = b""
        self._ks_enc = b""
        self._ks_mac = b""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(protocol={self.params.protocol}, password_type={self.password_type})"

    def _new_mapping_key(self) -> bytes:
        self._mapping_key = ecpoint.random_scalar(self._curve, self._rng)
        return ecpoint.encode_point(self._curve, ecpoint.multiply(ecpoint.generator(self._curve), self._mapping_key))

    def _map(self, peer_mapping_key: bytes) -> None:
        """G̃ = s·G + H with H = mapping_key · peer mapping key (generic mapping, ICAO 9303-11 §4.4.3.3.1)."""
        peer = ecpoint.decode_point(self._curve, peer_mapping_key, what="mapping public key")
        shared = ecpoint.multiply(peer, self._mapping_key)
        nonce_point = ecpoint.multiply(ecpoint.generator(self._curve), int.from_bytes(self._nonce, "big"))
        self._mapped = ecpoint.add(nonce_point, shared)

    @property
    def mapped_generator(self) -> PointJacobi:
        """G̃, once the mapping step is done."""
        if self._mapped is None:
            raise ProtocolError("PACE mapping has not been performed")
        return self._mapped

    def _new_ephemeral_key(self) -> bytes:
        self._ephemeral_key = ecpoint.random_scalar(self._curve, self._rng)
        self._own_ephemeral = ecpoint.encode_point(self._curve, ecpoint.multiply(self.mapped_generator,
                                                                                 self._ephemeral_key))
        return self._own_ephemeral

    def _agree(self, peer_ephemeral: bytes) -> None:
        """K = x(ephemeral key · peer ephemeral key on G̃); KSenc, KSmac from the KDF."""
        peer = ecpoint.decode_point(self._curve, peer_ephemeral, what="ephemeral public key")
        if peer_ephemeral == self._own_ephemeral:
            raise ProtocolError("peer ephemeral public key equals our own")
        self._peer_ephemeral = peer_ephemeral
        secret = ecpoint.shared_secret(self._curve, self._ephemeral_key, peer)
        self._ks_enc = kdf_enc(secret, self.params.cipher, self.params.key_bits)
        self._ks_mac = kdf_mac(secret, self.params.cipher, self.params.key_bits)

    def _session_mac_key(self) -> bytes:
        if not self._ks_mac:
            raise ProtocolError("PACE key agreement has not been performed")
        return self._ks_mac

    def _own_token(self) -> bytes:
        return authentication_token(self.params, self._session_mac_key(), self._peer_ephemeral)

    def _check_peer_token(self, token: bytes) -> None:
        expected = authentication_token(self.params, self._session_mac_key(), self._own_ephemeral)
        if not hmac.compare_digest(expected, token):
            raise ProtocolError("PACE authentication token does not verify (wrong password?)")

    def _session(self) -> SecureMessaging:
        return SecureMessaging(self._ks_enc, self._ks_mac, 0, self.params.cipher)


class PACETerminal(_PACESide):
    """The inspection system's half of PACE; call the steps in order, each with the previous response."""

    def __init__(self, password: str, password_type: PasswordType, params: PACEParameters, *,
                 rng: Rng = os.urandom) -> None:
        super().__init__(password, password_type, params, rng)

    def set_at_data(self, *, include_parameter_id: bool = True) -> bytes:
        """MSE:Set AT data: 80 protocol OID, 83 password reference, 84 parameter ID (needed when EF.CardAccess
        lists several PACEInfos; ICAO's own example omits it)."""
        data = encode_tlv(TAG_SET_AT_OID, self.params.oid_bytes)
        data += encode_tlv(TAG_SET_AT_PASSWORD, bytes([PASSWORD_REFERENCES[self.password_type]]))
        if include_parameter_id:
            data += encode_tlv(TAG_SET_AT_PARAMETER, bytes([self.params.parameter_id]))
        return data

    def general_authenticate_1(self) -> bytes:
        """Step 1 data: an empty ``7C`` asking for the encrypted nonce."""
        return _dynamic()

    def general_authenticate_2(self, ga1_response: bytes) -> bytes:
        """Decrypt the nonce with Kπ and send the terminal's mapping public key (``81``)."""
        self._nonce = cbc_decrypt(self.params.cipher, self._k_pi, _dynamic_data(ga1_response, 0x80))
        return _dynamic(0x81, self._new_mapping_key())

    def general_authenticate_3(self, ga2_response: bytes) -> bytes:
        """Map G̃ with the chip's mapping key and send the terminal's ephemeral public key (``83``)."""
        self._map(_dynamic_data(ga2_response, 0x82))
        return _dynamic(0x83, self._new_ephemeral_key())

    def general_authenticate_4(self, ga3_response: bytes) -> bytes:
        """Agree on K with the chip's ephemeral key and send the terminal's token T_IFD (``85``)."""
        self._agree(_dynamic_data(ga3_response, 0x84))
        return _dynamic(0x85, self._own_token())

    def complete(self, ga4_response: bytes) -> SecureMessaging:
        """Verify the chip's token T_IC (``86``) and open secure messaging with SSC 0."""
        self._check_peer_token(_dynamic_data(ga4_response, 0x86))
        return self._session()


class PACEChip(_PACESide):
    """The chip's half of PACE: MSE:Set AT then four GENERAL AUTHENTICATE commands.

    Any failure resets the chip to wait for a new MSE:Set AT, so a terminal cannot continue a broken run.
    """

    def __init__(self, password: str, password_type: PasswordType, params: PACEParameters, *,
                 rng: Rng = os.urandom) -> None:
        super().__init__(password, password_type, params, rng)
        self._step = 0
        self._secure_messaging: SecureMessaging | None = None

    @property
    def secure_messaging(self) -> SecureMessaging | None:
        """The session established by the last successful step 4, else None."""
        return self._secure_messaging

    def set_at(self, data: bytes) -> None:
        """Accept MSE:Set AT data selecting our protocol, password and (optionally) parameter ID."""
        self._step = 0
        self._secure_messaging = None
        try:
            objects = list(iter_tlvs(data, file="MSE:Set AT"))
        except DecodeError as exc:
            raise ProtocolError(f"malformed MSE:Set AT data: {exc}") from None
        self._expect(objects, TAG_SET_AT_OID, self.params.oid_bytes, "protocol")
        self._expect(objects, TAG_SET_AT_PASSWORD, bytes([PASSWORD_REFERENCES[self.password_type]]), "password")
        if find(objects, TAG_SET_AT_PARAMETER) is not None:
            self._expect(objects, TAG_SET_AT_PARAMETER, bytes([self.params.parameter_id]), "parameter ID")
        self._step = 1

    @staticmethod
    def _expect(objects: list[TLV], tag: int, value: bytes, what: str) -> None:
        found = find(objects, tag)
        if found is None or found.value != value:
            raise ProtocolError(f"MSE:Set AT {what} is missing or not supported")

    def general_authenticate(self, data: bytes) -> bytes:
        """Process the next GENERAL AUTHENTICATE step (1..4 in order) and return the ``7C`` response data."""
        steps = {1: self._step_nonce, 2: self._step_map, 3: self._step_agree, 4: self._step_tokens}
        if self._step not in steps:
            raise ProtocolError("GENERAL AUTHENTICATE without MSE:Set AT")
        try:
            response = steps[self._step](data)
        except CardlibError:
            self._step = 0
            raise
        self._step += 1
        return response

    def _step_nonce(self, data: bytes) -> bytes:
        if data != _dynamic():
            raise ProtocolError("GENERAL AUTHENTICATE step 1 must carry an empty 7C")
        self._nonce = self._rng(block_size(self.params.cipher))
        return _dynamic(0x80, cbc_encrypt(self.params.cipher, self._k_pi, self._nonce))

    def _step_map(self, data: bytes) -> bytes:
        peer = _dynamic_data(data, 0x81)
        own = self._new_mapping_key()
        self._map(peer)
        return _dynamic(0x82, own)

    def _step_agree(self, data: bytes) -> bytes:
        peer = _dynamic_data(data, 0x83)
        own = self._new_ephemeral_key()
        self._agree(peer)
        return _dynamic(0x84, own)

    def _step_tokens(self, data: bytes) -> bytes:
        self._check_peer_token(_dynamic_data(data, 0x85))
        self._secure_messaging = self._session()
        return _dynamic(0x86, self._own_token())
