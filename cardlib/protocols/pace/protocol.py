"""PACE (ICAO 9303-11 §4.4) from the terminal and from the chip: generic, integrated and chip authentication
mapping over ECDH or DH, with 3DES or AES-128/192/256 session keys.

The four GENERAL AUTHENTICATE steps exchange dynamic authentication data objects ``7C``:
1. the chip sends the nonce s encrypted with Kπ (``80``);
2. mapping (``81``/``82``) — generic mapping and CAM: both sides exchange mapping keys and map
   G̃ = s·G + H (DH: g̃ = g^s·h), H the key agreement of the mapping keys; integrated mapping: the terminal
   sends a nonce t, the chip answers an empty ``82`` and both map G̃ = f_G(R_p(s, t));
3. both sides exchange ephemeral keys on G̃ (``83``/``84``) and agree on K, hence KSenc and KSmac;
4. both sides exchange authentication tokens (``85``/``86``): MACs over the other side's ephemeral key; with CAM
   the chip adds its encrypted chip authentication data (``8A``), which the terminal checks against the static
   key of EF.CardSecurity with :meth:`PACETerminal.verify_chip_authentication`.

The password is the CAN (its digits, ISO 8859-1) or the MRZ information (hashed with SHA-1), password
references 2 and 1.  Domain parameters are the standardized ones: MODP groups 0–2 (DH) and curves 8–18 (ECDH;
NIST P-224 has no integrated mapping).  Every received key is validated by its group before use.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from asn1crypto.core import ObjectIdentifier
from cryptography.hazmat.primitives.asymmetric import ec

from cardlib.curves import Curve, by_parameter_id, for_cryptography, modp_group_by_parameter_id
from cardlib.errors import CardlibError, DecodeError, PKIError, ProtocolError, ValidationError
from cardlib.lds.oids import ID_PACE, PROTOCOLS, SecurityProtocol
from cardlib.lds.tlv import TLV, encode_tlv, find, iter_tlvs, read_single
from cardlib.protocols.kdf import kdf_enc, kdf_mac, kdf_pi
from cardlib.protocols.pace import cam
from cardlib.protocols.pace.groups import AnyGroup, DHGroup, ECGroup
from cardlib.protocols.pace.integrated import nonce_lengths, pseudo_random, supports_point_encoding
from cardlib.protocols.sm import SecureMessaging, block_size, cbc_decrypt, cbc_encrypt, compute_mac, pad

PasswordType = Literal["CAN", "MRZ"]
Mapping = Literal["GM", "IM", "CAM"]
Rng = Callable[[int], bytes]
ID_PACE_ECDH_GM = f"{ID_PACE}.2"
PASSWORD_REFERENCES: dict[str, int] = {"MRZ": 1, "CAN": 2}
_MAPPINGS: dict[str, Mapping] = {"GM": "GM", "IM": "IM", "CAM": "CAM"}
_KEY_BITS = {"3DES": 112, "AES-128": 128, "AES-192": 192, "AES-256": 256}
TAG_DYNAMIC_AUTH = 0x7C
TAG_PUBLIC_KEY = 0x7F49
TAG_OID = 0x06
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


@dataclass(frozen=True)
class PACEParameters:
    """What a PACEInfo of EF.CardAccess selects: the protocol OID and the standardized domain parameter ID.

    ProtocolError when cardlib cannot run the pair: not a PACE OID, an unknown or mismatched parameter ID
    (a MODP group for ECDH or a curve for DH), or the integrated mapping on a curve without p ≡ 3 mod 4.
    """

    protocol: str
    parameter_id: int

    def __post_init__(self) -> None:
        known = PROTOCOLS.get(self.protocol)
        if known is None or known.family != "PACE":
            raise ProtocolError(f"{self.protocol} is not a PACE protocol")
        group = self.group
        if known.mapping == "IM" and isinstance(group, ECGroup) and not supports_point_encoding(group.curve):
            raise ProtocolError(f"{known.name} cannot use {group.curve.name} (no integrated mapping point "
                                "encoding, ICAO 9303-11 Table 12)")

    @property
    def algorithm(self) -> SecurityProtocol:
        """The meaning of :attr:`protocol` (key agreement, mapping, cipher), from its one home."""
        return PROTOCOLS[self.protocol]

    @property
    def mapping(self) -> Mapping:
        """Generic mapping, integrated mapping or chip authentication mapping."""
        return _MAPPINGS[self.algorithm.mapping or ""]

    @property
    def cipher(self) -> Literal["3DES", "AES"]:
        """Secure messaging cipher of the protocol."""
        return "3DES" if self.algorithm.cipher == "3DES" else "AES"

    @property
    def key_bits(self) -> int:
        """Session key length in bits (112 for two-key 3DES)."""
        return _KEY_BITS[self.algorithm.cipher or ""]

    @cached_property
    def group(self) -> AnyGroup:
        """The standardized group of ``parameter_id``: a curve (ECDH) or a MODP group (DH)."""
        try:
            if self.algorithm.key_agreement == "DH":
                return DHGroup(modp_group_by_parameter_id(self.parameter_id))
            return ECGroup(by_parameter_id(self.parameter_id))
        except PKIError as exc:
            raise ProtocolError(f"{self.algorithm.name}: {exc}") from None

    @property
    def curve(self) -> Curve:
        """The standardized elliptic curve of ``parameter_id``; ProtocolError for a DH protocol."""
        group = self.group
        if not isinstance(group, ECGroup):
            raise ProtocolError(f"{self.algorithm.name} uses a MODP group, not an elliptic curve")
        return group.curve

    @property
    def oid_bytes(self) -> bytes:
        """The protocol OID's DER content octets (the value of DO 80 and of DO 06 in tokens)."""
        return bytes(ObjectIdentifier(self.protocol).contents)

    @property
    def nonce_length(self) -> int:
        """Length of the chip's nonce s: one cipher block, or for the integrated mapping at least the key."""
        return nonce_lengths(self.cipher, self.key_bits)[0] if self.mapping == "IM" else block_size(self.cipher)


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
    """T = MAC(KSmac, 7F49{06 OID, 86 point | 84 DH value}) over the peer's ephemeral key (§4.4.3.4)."""
    token_input = encode_tlv(TAG_PUBLIC_KEY, encode_tlv(TAG_OID, params.oid_bytes)
                             + encode_tlv(params.group.token_tag, public_key))
    if params.cipher == "3DES":
        token_input = pad(token_input, 8)
    return compute_mac(params.cipher, ks_mac, token_input)


def _dynamic_objects(data: bytes) -> list[TLV]:
    """The data objects inside a ``7C`` dynamic authentication data object."""
    try:
        outer = read_single(data, TAG_DYNAMIC_AUTH, file="GENERAL AUTHENTICATE")
        return list(iter_tlvs(outer.value, file="GENERAL AUTHENTICATE", base=outer.header_length))
    except DecodeError as exc:
        raise ProtocolError(f"malformed dynamic authentication data: {exc}") from None


def _dynamic_data(data: bytes, tag: int) -> bytes:
    """The value of DO ``tag`` inside a ``7C`` dynamic authentication data object."""
    found = find(_dynamic_objects(data), tag)
    if found is None:
        raise ProtocolError(f"dynamic authentication data lacks DO {tag:02X}")
    return found.value


def _dynamic(*objects: tuple[int, bytes]) -> bytes:
    return encode_tlv(TAG_DYNAMIC_AUTH, b"".join(encode_tlv(tag, value) for tag, value in objects))


class _PACESide:
    """State and arithmetic shared by both ends: Kπ, the mapping, the key agreement, the tokens."""

    def __init__(self, password: str, password_type: PasswordType, params: PACEParameters, rng: Rng) -> None:
        self.params = params
        self.password_type = password_type
        self._group: AnyGroup = params.group
        self._k_pi = kdf_pi(password_key(password, password_type), params.cipher, params.key_bits)
        self._rng = rng
        self._nonce = b""
        self._mapping_key = 0
        self._mapped: Any = None
        self._ephemeral_key = 0
        self._own_ephemeral = b""
        self._peer_ephemeral = b""
        self._ks_enc = b""
        self._ks_mac = b""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(protocol={self.params.protocol}, password_type={self.password_type})"

    def _new_mapping_key(self) -> bytes:
        self._mapping_key = self._group.random_private(self._rng)
        return self._group.public_key(self._group.generator(), self._mapping_key)

    def _map_generic(self, peer_mapping_key: bytes) -> None:
        """G̃ = s·G + H with H = mapping key · peer mapping key (generic mapping, ICAO 9303-11 §4.4.3.3.1)."""
        peer = self._group.decode(peer_mapping_key, what="mapping public key")
        shared = self._group.multiply(peer, self._mapping_key)
        nonce_element = self._group.multiply(self._group.generator(), int.from_bytes(self._nonce, "big"))
        self._mapped = self._group.combine(nonce_element, shared)

    def _map_integrated(self, terminal_nonce: bytes) -> None:
        """G̃ = f_G(R_p(s, t)) (integrated mapping, ICAO 9303-11 §4.4.3.3.2)."""
        field_element = pseudo_random(self._nonce, terminal_nonce, self.params.cipher, self.params.key_bits,
                                      self._group.modulus)
        self._mapped = self._group.map_integrated(field_element)

    @property
    def mapped_generator(self) -> bytes:
        """G̃ in its public-key encoding, once the mapping step is done."""
        if self._mapped is None:
            raise ProtocolError("PACE mapping has not been performed")
        return self._group.encode(self._mapped)

    def _new_ephemeral_key(self) -> bytes:
        if self._mapped is None:
            raise ProtocolError("PACE mapping has not been performed")
        self._ephemeral_key = self._group.random_private(self._rng)
        self._own_ephemeral = self._group.public_key(self._mapped, self._ephemeral_key)
        return self._own_ephemeral

    def _agree(self, peer_ephemeral: bytes) -> None:
        """K = ephemeral key · peer ephemeral key on G̃; KSenc, KSmac from the KDF."""
        peer = self._group.decode(peer_ephemeral, what="ephemeral public key")
        canonical = self._group.encode(peer)
        if canonical == self._own_ephemeral:
            raise ProtocolError("peer ephemeral public key equals our own")
        self._peer_ephemeral = canonical
        secret = self._group.agree(self._ephemeral_key, canonical, what="ephemeral public key")
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
    """The inspection system's half of PACE; call the steps in order, each with the previous response.

    With CAM, :meth:`complete` keeps the chip's decrypted authentication data; the chip counts as authenticated
    only once :meth:`verify_chip_authentication` has accepted its static key from a verified EF.CardSecurity.
    """

    def __init__(self, password: str, password_type: PasswordType, params: PACEParameters, *,
                 rng: Rng = os.urandom) -> None:
        super().__init__(password, password_type, params, rng)
        self._terminal_nonce = b""
        self._chip_mapping_key = b""
        self._chip_authentication_data: bytes | None = None

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
        """Decrypt the nonce with Kπ and send the mapping data (``81``): the terminal's mapping public key,
        or for the integrated mapping the nonce t."""
        self._nonce = cbc_decrypt(self.params.cipher, self._k_pi, _dynamic_data(ga1_response, TAG_ENCRYPTED_NONCE))
        if self.params.mapping != "IM":
            return _dynamic((TAG_MAPPING_TERMINAL, self._new_mapping_key()))
        if len(self._nonce) != self.params.nonce_length:
            raise ProtocolError(f"integrated mapping nonce s is {len(self._nonce)} bytes, "
                                f"not {self.params.nonce_length}")
        self._terminal_nonce = self._rng(nonce_lengths(self.params.cipher, self.params.key_bits)[1])
        return _dynamic((TAG_MAPPING_TERMINAL, self._terminal_nonce))

    def general_authenticate_3(self, ga2_response: bytes) -> bytes:
        """Map G̃ (with the chip's mapping key, or from s and t) and send the terminal's ephemeral key (``83``)."""
        if self.params.mapping == "IM":
            chip_data = find(_dynamic_objects(ga2_response), TAG_MAPPING_CHIP)
            if chip_data is not None and chip_data.value:
                raise ProtocolError("integrated mapping: the chip's mapping data (DO 82) must be empty")
            self._map_integrated(self._terminal_nonce)
        else:
            self._chip_mapping_key = _dynamic_data(ga2_response, TAG_MAPPING_CHIP)
            self._map_generic(self._chip_mapping_key)
        return _dynamic((TAG_EPHEMERAL_TERMINAL, self._new_ephemeral_key()))

    def general_authenticate_4(self, ga3_response: bytes) -> bytes:
        """Agree on K with the chip's ephemeral key and send the terminal's token T_IFD (``85``)."""
        self._agree(_dynamic_data(ga3_response, TAG_EPHEMERAL_CHIP))
        return _dynamic((TAG_TOKEN_TERMINAL, self._own_token()))

    def complete(self, ga4_response: bytes) -> SecureMessaging:
        """Verify the chip's token T_IC (``86``), keep CAM's chip authentication data (``8A``) and open secure
        messaging with SSC 0."""
        self._check_peer_token(_dynamic_data(ga4_response, TAG_TOKEN_CHIP))
        if self.params.mapping == "CAM":
            encrypted = _dynamic_data(ga4_response, TAG_CHIP_AUTHENTICATION_DATA)
            self._chip_authentication_data = cam.decrypt_chip_authentication_data(self.params.curve, self._ks_enc,
                                                                                  encrypted)
        return self._session()

    @property
    def chip_ephemeral_public_key(self) -> bytes:
        """The chip's ephemeral public key of this run (empty before step 4): Terminal Authentication's ID_PICC."""
        return self._peer_ephemeral

    @property
    def chip_authentication_data(self) -> bytes | None:
        """CA_IC decrypted from a completed PACE-CAM, else None."""
        return self._chip_authentication_data

    @property
    def cam_proof(self) -> cam.CAMProof | None:
        """PACE-CAM's proof as received (the chip's mapping key and decrypted authentication data), for evidence;
        None unless PACE-CAM completed."""
        if self._chip_authentication_data is None:
            return None
        return cam.CAMProof(self.params.protocol, self.params.parameter_id, self._chip_mapping_key,
                            self._chip_authentication_data)

    def verify_chip_authentication(self, chip_public_key: cam.StaticPublicKey) -> None:
        """PACE-CAM: check that the chip holds the static key ``chip_public_key`` from EF.CardSecurity (an
        uncompressed point, a key object or a decoded ChipAuthenticationPublicKeyInfo key); ProtocolError when
        it does not, when the key is on another curve, or when no PACE-CAM was completed."""
        proof = self.cam_proof
        if proof is None:
            raise ProtocolError("no PACE-CAM chip authentication data: PACE-CAM was not completed")
        cam.verify_proof(self.params.curve, proof, [chip_public_key])


class PACEChip(_PACESide):
    """The chip's half of PACE: MSE:Set AT then four GENERAL AUTHENTICATE commands.

    PACE-CAM needs ``chip_key``, the chip authentication private key whose public half EF.CardSecurity holds
    (a key object, or the private scalar on the protocol's curve for curves :mod:`cryptography` lacks).
    Any failure resets the chip to wait for a new MSE:Set AT, so a terminal cannot continue a broken run.
    """

    def __init__(self, password: str, password_type: PasswordType, params: PACEParameters, *,
                 rng: Rng = os.urandom, chip_key: ec.EllipticCurvePrivateKey | int | None = None) -> None:
        super().__init__(password, password_type, params, rng)
        self._static_key = 0
        if params.mapping == "CAM":
            self._static_key = _cam_scalar(params.curve, chip_key)
        self._step = 0
        self._secure_messaging: SecureMessaging | None = None

    @property
    def secure_messaging(self) -> SecureMessaging | None:
        """The session established by the last successful step 4, else None."""
        return self._secure_messaging

    @property
    def ephemeral_public_key(self) -> bytes:
        """The chip's own ephemeral public key of this run (empty before step 3): Terminal Authentication's
        ID_PICC."""
        return self._own_ephemeral

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
        self._nonce = self._rng(self.params.nonce_length)
        return _dynamic((TAG_ENCRYPTED_NONCE, cbc_encrypt(self.params.cipher, self._k_pi, self._nonce)))

    def _step_map(self, data: bytes) -> bytes:
        peer = _dynamic_data(data, TAG_MAPPING_TERMINAL)
        if self.params.mapping == "IM":
            self._map_integrated(peer)
            return _dynamic((TAG_MAPPING_CHIP, b""))
        own = self._new_mapping_key()
        self._map_generic(peer)
        return _dynamic((TAG_MAPPING_CHIP, own))

    def _step_agree(self, data: bytes) -> bytes:
        peer = _dynamic_data(data, TAG_EPHEMERAL_TERMINAL)
        own = self._new_ephemeral_key()
        self._agree(peer)
        return _dynamic((TAG_EPHEMERAL_CHIP, own))

    def _step_tokens(self, data: bytes) -> bytes:
        self._check_peer_token(_dynamic_data(data, TAG_TOKEN_TERMINAL))
        objects = [(TAG_TOKEN_CHIP, self._own_token())]
        if self.params.mapping == "CAM":
            data_ic = cam.chip_authentication_data(self.params.curve, self._static_key, self._mapping_key)
            objects.append((TAG_CHIP_AUTHENTICATION_DATA, cam.encrypt_chip_authentication_data(self._ks_enc,
                                                                                               data_ic)))
        self._secure_messaging = self._session()
        return _dynamic(*objects)


def _cam_scalar(curve: Curve, key: ec.EllipticCurvePrivateKey | int | None) -> int:
    """The chip authentication private scalar for PACE-CAM; ProtocolError when absent or on another curve."""
    if key is None:
        raise ProtocolError("PACE-CAM needs the chip authentication private key")
    if isinstance(key, int):
        scalar = key
    elif for_cryptography(key.curve) != curve:
        raise ProtocolError(f"chip authentication key is not on {curve.name}")
    else:
        scalar = key.private_numbers().private_value
    if not 0 < scalar < curve.n:
        raise ProtocolError("chip authentication private key is outside [1, n-1]")
    return scalar
