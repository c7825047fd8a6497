"""Basic Access Control, ICAO 9303-11 §4.3, from the terminal and from the chip.

The terminal learns RND.IC from GET CHALLENGE, sends ``E.IFD || M.IFD`` in MUTUAL AUTHENTICATE and checks
the chip's ``E.IC || M.IC``; both sides then hold the same secure messaging session, keyed from
``K.IFD xor K.IC`` with SSC = RND.IC[4:8] || RND.IFD[4:8].  Document basic access keys come from the MRZ
information (document number, birth date, expiry date, each with its check digit).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable

from cardlib.errors import ProtocolError, ValidationError
from cardlib.protocols.kdf import kdf_enc, kdf_mac
from cardlib.protocols.sm import SecureMessaging, cbc_decrypt, cbc_encrypt, compute_mac, pad

RND_LENGTH = 8
KEY_MATERIAL_LENGTH = 16
CRYPTOGRAM_LENGTH = 32
MUTUAL_AUTHENTICATE_LENGTH = CRYPTOGRAM_LENGTH + 8
Rng = Callable[[int], bytes]


def mrz_information_digest(mrz_information: str) -> bytes:
    """SHA-1 over the MRZ information (ASCII): BAC's Kseed is its first 16 bytes, and PACE's MRZ password K is
    all of it (ICAO 9303-11 §9.7.2, §9.7.3)."""
    try:
        encoded = mrz_information.encode("ascii")
    except UnicodeEncodeError:
        raise ValidationError("MRZ information must be ASCII MRZ characters", field="mrz_information") from None
    if not encoded:
        raise ValidationError("MRZ information is empty", field="mrz_information")
    return hashlib.sha1(encoded).digest()


def key_seed(mrz_information: str) -> bytes:
    """Kseed: the first 16 bytes of SHA-1 over the MRZ information (ASCII)."""
    return mrz_information_digest(mrz_information)[:KEY_MATERIAL_LENGTH]


def derive_bac_keys(mrz_information: str) -> tuple[bytes, bytes]:
    """Document basic access keys (K_enc, K_mac): two-key 3DES keys with DES parity."""
    seed = key_seed(mrz_information)
    return kdf_enc(seed, "3DES"), kdf_mac(seed, "3DES")


def _random(rng: Rng, length: int) -> bytes:
    value = rng(length)
    if len(value) != length:
        raise ProtocolError(f"random source returned {len(value)} bytes, {length} requested")
    return value


def _seal(k_enc: bytes, k_mac: bytes, plain: bytes) -> bytes:
    """``E || M``: 3DES-CBC cryptogram followed by its retail MAC."""
    cryptogram = cbc_encrypt("3DES", k_enc, plain)
    return cryptogram + compute_mac("3DES", k_mac, pad(cryptogram, 8))


def _open(k_enc: bytes, k_mac: bytes, sealed: bytes, who: str) -> bytes:
    """Check the MAC of ``E || M`` and decrypt E; ProtocolError names which side's cryptogram failed."""
    if len(sealed) != MUTUAL_AUTHENTICATE_LENGTH:
        raise ProtocolError(f"{who} authentication data is {len(sealed)} bytes, expected 40")
    cryptogram, mac = sealed[:CRYPTOGRAM_LENGTH], sealed[CRYPTOGRAM_LENGTH:]
    if not hmac.compare_digest(compute_mac("3DES", k_mac, pad(cryptogram, 8)), mac):
        raise ProtocolError(f"MAC of the {who} cryptogram does not verify (wrong MRZ key or tampering)")
    return cbc_decrypt("3DES", k_enc, cryptogram)


def _session(k_ifd: bytes, k_ic: bytes, rnd_ic: bytes, rnd_ifd: bytes) -> SecureMessaging:
    seed = bytes(a ^ b for a, b in zip(k_ifd, k_ic, strict=True))
    ssc = int.from_bytes(rnd_ic[4:] + rnd_ifd[4:], "big")
    return SecureMessaging(kdf_enc(seed, "3DES"), kdf_mac(seed, "3DES"), ssc, "3DES")


class BACTerminal:
    """The inspection system's half of BAC."""

    def __init__(self, mrz_information: str, *, rng: Rng = os.urandom) -> None:
        self._k_enc, self._k_mac = derive_bac_keys(mrz_information)
        self._rng = rng
        self._state: tuple[bytes, bytes, bytes] | None = None

    def __repr__(self) -> str:
        return "BACTerminal(<keys hidden>)"

    def mutual_authenticate_data(self, rnd_ic: bytes) -> bytes:
        """``E.IFD || M.IFD`` (40 bytes) for MUTUAL AUTHENTICATE, given the chip's 8-byte challenge."""
        if len(rnd_ic) != RND_LENGTH:
            raise ProtocolError(f"GET CHALLENGE answered {len(rnd_ic)} bytes, expected 8")
        rnd_ifd = _random(self._rng, RND_LENGTH)
        k_ifd = _random(self._rng, KEY_MATERIAL_LENGTH)
        self._state = (rnd_ic, rnd_ifd, k_ifd)
        return _seal(self._k_enc, self._k_mac, rnd_ifd + rnd_ic + k_ifd)

    def complete(self, response_data: bytes) -> SecureMessaging:
        """Verify the chip's ``E.IC || M.IC`` and open the secure messaging session."""
        if self._state is None:
            raise ProtocolError("BAC response received before MUTUAL AUTHENTICATE was prepared")
        rnd_ic, rnd_ifd, k_ifd = self._state
        plain = _open(self._k_enc, self._k_mac, response_data, "chip")
        if not hmac.compare_digest(plain[:16], rnd_ic + rnd_ifd):
            raise ProtocolError("chip cryptogram does not echo RND.IC || RND.IFD")
        self._state = None
        return _session(k_ifd, plain[16:], rnd_ic, rnd_ifd)


class BACChip:
    """The chip's half of BAC: answers GET CHALLENGE and MUTUAL AUTHENTICATE."""

    def __init__(self, mrz_information: str, *, rng: Rng = os.urandom) -> None:
        self._k_enc, self._k_mac = derive_bac_keys(mrz_information)
        self._rng = rng
        self._rnd_ic: bytes | None = None

    def __repr__(self) -> str:
        return "BACChip(<keys hidden>)"

    def challenge(self) -> bytes:
        """A fresh RND.IC (8 bytes), the answer to GET CHALLENGE."""
        self._rnd_ic = _random(self._rng, RND_LENGTH)
        return self._rnd_ic

    def mutual_authenticate(self, command_data: bytes) -> tuple[bytes, SecureMessaging]:
        """Check the terminal's ``E.IFD || M.IFD``; return ``E.IC || M.IC`` and the new session.

        The challenge is used once: any failure or success forgets it, so a second attempt needs a new one.
        """
        rnd_ic, self._rnd_ic = self._rnd_ic, None
        if rnd_ic is None:
            raise ProtocolError("MUTUAL AUTHENTICATE without a preceding GET CHALLENGE")
        plain = _open(self._k_enc, self._k_mac, command_data, "terminal")
        rnd_ifd, k_ifd = plain[:8], plain[16:]
        if not hmac.compare_digest(plain[8:16], rnd_ic):
            raise ProtocolError("terminal cryptogram does not echo RND.IC")
        k_ic = _random(self._rng, KEY_MATERIAL_LENGTH)
        response = _seal(self._k_enc, self._k_mac, rnd_ic + rnd_ifd + k_ic)
        return response, _session(k_ifd, k_ic, rnd_ic, rnd_ifd)
