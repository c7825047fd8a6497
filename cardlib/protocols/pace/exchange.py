"""What both ends of PACE compute (ICAO 9303-11 §4.4.3): Kπ from the password, the mapping of the generator
(generic: G̃ = s·G + H; integrated: G̃ = f_G(R_p(s, t))), the key agreement on G̃ giving KSenc and KSmac, and the
authentication tokens.  :mod:`.protocol` drives it step by step from the terminal and from the chip.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from cardlib.errors import ProtocolError
from cardlib.protocols.kdf import kdf_enc, kdf_mac, kdf_pi
from cardlib.protocols.pace.groups import AnyGroup
from cardlib.protocols.pace.integrated import pseudo_random
from cardlib.protocols.pace.messages import authentication_token
from cardlib.protocols.pace.parameters import PACEParameters, PasswordType, password_key
from cardlib.protocols.sm import SecureMessaging

__all__ = ["PACESide", "Rng"]

Rng = Callable[[int], bytes]


class PACESide:
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
