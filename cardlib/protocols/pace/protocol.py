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

The parameters and the password are :mod:`.parameters`, the messages :mod:`.messages`, the mapping and key
agreement both ends compute :mod:`.exchange`.  Every received key is validated by its group before use.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.asymmetric import ec

from cardlib.curves import Curve, for_cryptography
from cardlib.errors import CardlibError, ProtocolError
from cardlib.lds.tlv import find
from cardlib.protocols.pace import cam
from cardlib.protocols.pace.exchange import PACESide, Rng
from cardlib.protocols.pace.integrated import nonce_lengths
from cardlib.protocols.pace.messages import (
    TAG_CHIP_AUTHENTICATION_DATA,
    TAG_ENCRYPTED_NONCE,
    TAG_EPHEMERAL_CHIP,
    TAG_EPHEMERAL_TERMINAL,
    TAG_MAPPING_CHIP,
    TAG_MAPPING_TERMINAL,
    TAG_TOKEN_CHIP,
    TAG_TOKEN_TERMINAL,
    check_set_at,
    dynamic,
    dynamic_data,
    dynamic_objects,
    set_at_data,
)
from cardlib.protocols.pace.parameters import PACEParameters, PasswordType
from cardlib.protocols.sm import SecureMessaging, cbc_decrypt, cbc_encrypt

__all__ = ["PACEChip", "PACETerminal"]


class PACETerminal(PACESide):
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
        return set_at_data(self.params, self.password_type, include_parameter_id=include_parameter_id)

    def general_authenticate_1(self) -> bytes:
        """Step 1 data: an empty ``7C`` asking for the encrypted nonce."""
        return dynamic()

    def general_authenticate_2(self, ga1_response: bytes) -> bytes:
        """Decrypt the nonce with Kπ and send the mapping data (``81``): the terminal's mapping public key,
        or for the integrated mapping the nonce t."""
        self._nonce = cbc_decrypt(self.params.cipher, self._k_pi, dynamic_data(ga1_response, TAG_ENCRYPTED_NONCE))
        if self.params.mapping != "IM":
            return dynamic((TAG_MAPPING_TERMINAL, self._new_mapping_key()))
        if len(self._nonce) != self.params.nonce_length:
            raise ProtocolError(f"integrated mapping nonce s is {len(self._nonce)} bytes, "
                                f"not {self.params.nonce_length}")
        self._terminal_nonce = self._rng(nonce_lengths(self.params.cipher, self.params.key_bits)[1])
        return dynamic((TAG_MAPPING_TERMINAL, self._terminal_nonce))

    def general_authenticate_3(self, ga2_response: bytes) -> bytes:
        """Map G̃ (with the chip's mapping key, or from s and t) and send the terminal's ephemeral key (``83``)."""
        if self.params.mapping == "IM":
            chip_data = find(dynamic_objects(ga2_response), TAG_MAPPING_CHIP)
            if chip_data is not None and chip_data.value:
                raise ProtocolError("integrated mapping: the chip's mapping data (DO 82) must be empty")
            self._map_integrated(self._terminal_nonce)
        else:
            self._chip_mapping_key = dynamic_data(ga2_response, TAG_MAPPING_CHIP)
            self._map_generic(self._chip_mapping_key)
        return dynamic((TAG_EPHEMERAL_TERMINAL, self._new_ephemeral_key()))

    def general_authenticate_4(self, ga3_response: bytes) -> bytes:
        """Agree on K with the chip's ephemeral key and send the terminal's token T_IFD (``85``)."""
        self._agree(dynamic_data(ga3_response, TAG_EPHEMERAL_CHIP))
        return dynamic((TAG_TOKEN_TERMINAL, self._own_token()))

    def complete(self, ga4_response: bytes) -> SecureMessaging:
        """Verify the chip's token T_IC (``86``), keep CAM's chip authentication data (``8A``) and open secure
        messaging with SSC 0."""
        self._check_peer_token(dynamic_data(ga4_response, TAG_TOKEN_CHIP))
        if self.params.mapping == "CAM":
            encrypted = dynamic_data(ga4_response, TAG_CHIP_AUTHENTICATION_DATA)
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


class PACEChip(PACESide):
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
        check_set_at(data, self.params, self.password_type)
        self._step = 1

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
        if data != dynamic():
            raise ProtocolError("GENERAL AUTHENTICATE step 1 must carry an empty 7C")
        self._nonce = self._rng(self.params.nonce_length)
        return dynamic((TAG_ENCRYPTED_NONCE, cbc_encrypt(self.params.cipher, self._k_pi, self._nonce)))

    def _step_map(self, data: bytes) -> bytes:
        peer = dynamic_data(data, TAG_MAPPING_TERMINAL)
        if self.params.mapping == "IM":
            self._map_integrated(peer)
            return dynamic((TAG_MAPPING_CHIP, b""))
        own = self._new_mapping_key()
        self._map_generic(peer)
        return dynamic((TAG_MAPPING_CHIP, own))

    def _step_agree(self, data: bytes) -> bytes:
        peer = dynamic_data(data, TAG_EPHEMERAL_TERMINAL)
        own = self._new_ephemeral_key()
        self._agree(peer)
        return dynamic((TAG_EPHEMERAL_CHIP, own))

    def _step_tokens(self, data: bytes) -> bytes:
        self._check_peer_token(dynamic_data(data, TAG_TOKEN_TERMINAL))
        objects = [(TAG_TOKEN_CHIP, self._own_token())]
        if self.params.mapping == "CAM":
            data_ic = cam.chip_authentication_data(self.params.curve, self._static_key, self._mapping_key)
            objects.append((TAG_CHIP_AUTHENTICATION_DATA, cam.encrypt_chip_authentication_data(self._ks_enc,
                                                                                               data_ic)))
        self._secure_messaging = self._session()
        return dynamic(*objects)


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
