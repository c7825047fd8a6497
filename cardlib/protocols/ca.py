"""Chip Authentication with ECDH or DH (ICAO 9303-11 §6.2; BSI TR-03110 CA version 1), terminal and chip side.

The terminal sends an ephemeral public key in the group of the chip's DG14 key (its curve, or its X9.42 MODP
group p, g, q); both sides derive K = x(SK · PK) or the padded y^x mod p and new session keys KSenc/KSmac with
SSC 0.  Received keys are validated (on the curve; in [2, p-2] and of order q).  With the 3DES protocols the
key goes in MSE:Set KAT (``91``); with the AES protocols in MSE:Set AT (``80`` OID) followed by GENERAL AUTHENTICATE
(``7C{80 key}``).  The CA commands and their responses still travel under the old secure messaging keys;
the new session applies from the next command on.

A :class:`CATranscript` is what a third party needs to re-check, offline, that the session went on under keys
agreed with the chip's DG14 key: the terminal's ephemeral key pair (the private half revealed once the
session is over) and the protected responses received after the switch, each with its send sequence counter
(:func:`check_transcript`).  It proves that the transcript fits the chip key; it is not, by itself, proof of
a live chip to anyone but the terminal (whoever holds the ephemeral private key can compute the MACs), which
is why remote verification bases liveness on Active Authentication over the verifier's own challenge
(:mod:`cardlib.evidence`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from asn1crypto.core import ObjectIdentifier
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cardlib.curves import Curve, DHPrivateKey, DHPublicKey, ModpGroup, for_cryptography
from cardlib.errors import DecodeError, ProtocolError
from cardlib.lds.oids import Family, protocol_of
from cardlib.lds.tlv import TLV, encode_tlv, find, iter_tlvs, read_single
from cardlib.protocols.apdu import SHORT_MAX_LE, CommandAPDU, ResponseAPDU
from cardlib.protocols.dh import encode_public as encode_dh_value
from cardlib.protocols.ecpoint import ECPublicPoint
from cardlib.protocols.instructions import MSE, Ins, p1p2
from cardlib.protocols.kdf import kdf_enc, kdf_mac
from cardlib.protocols.pace.groups import AnyGroup, DHGroup, ECGroup
from cardlib.protocols.pace.messages import TAG_DYNAMIC_AUTH
from cardlib.protocols.sm import SecureMessaging
from cardlib.protocols.status import (
    SW_CONDITIONS,
    SW_INS_NOT_SUPPORTED,
    SW_OK,
    SW_REFERENCE_NOT_FOUND,
    SW_WRONG_DATA,
    SW_WRONG_P1P2,
)

TAG_KAT_PUBLIC_KEY = 0x91
TAG_OID = 0x80
TAG_KEY_ID = 0x84
TAG_GA_PUBLIC_KEY = 0x80


@runtime_checkable
class DHPublicValue(Protocol):
    """Anything holding an X9.42 DH public key (p, g, q, y), such as DG14's decoded DHPublicKeyInfo."""

    @property
    def p(self) -> int: ...

    @property
    def g(self) -> int: ...

    @property
    def q(self) -> int: ...

    @property
    def y(self) -> int: ...


ChipPublicKey = ec.EllipticCurvePublicKey | tuple[Curve, bytes] | ECPublicPoint | DHPublicKey | DHPublicValue
ChipPrivateKey = ec.EllipticCurvePrivateKey | DHPrivateKey


def ca_suite(protocol: str) -> tuple[Literal["3DES", "AES"], int]:
    """(cipher, key bits) of an id-CA-DH-… or id-CA-ECDH-… protocol OID, from the OID registry; ProtocolError
    for unknown ones."""
    known = protocol_of(protocol, Family.CHIP_AUTHENTICATION)
    if known is None or known.key_length is None:
        raise ProtocolError(f"Chip Authentication protocol {protocol} is not supported")
    return ("3DES", 112) if known.cipher == "3DES" else ("AES", 8 * known.key_length)


def modp_group(p: int, g: int, q: int | None) -> ModpGroup:
    """The MODP group of a chip authentication DH key; ProtocolError unless g generates a subgroup of prime
    order q dividing p-1 (without q no received value can be validated, RFC 2631 §2.1.5)."""
    if q is None or q < 2 or (p - 1) % q or not 1 < g < p - 1 or pow(g, q, p) != 1:
        raise ProtocolError("chip authentication DH parameters lack a subgroup of order q dividing p-1")
    return ModpGroup(f"{p.bit_length()}-bit MODP group of the chip authentication key", None, p, g, q)


def _key_id_bytes(key_id: int) -> bytes:
    return key_id.to_bytes(max(1, (key_id.bit_length() + 7) // 8), "big")


def _group_and_element(key: ChipPublicKey) -> tuple[AnyGroup, bytes]:
    """The key's group and its public value in that group's encoding (EC first: cryptography warns on any use
    of its DH classes)."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        uncompressed = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return ECGroup(for_cryptography(key.curve)), uncompressed
    if isinstance(key, tuple):
        return ECGroup(key[0]), key[1]
    if isinstance(key, DHPublicValue):
        return DHGroup(modp_group(key.p, key.g, key.q)), encode_dh_value(key.y)
    if isinstance(key, DHPublicKey):
        numbers = key.public_numbers()
        parameters = numbers.parameter_numbers
        return DHGroup(modp_group(parameters.p, parameters.g, parameters.q)), encode_dh_value(numbers.y)
    return ECGroup(key.curve), key.point


def _check_agreement(group: AnyGroup, protocol: str) -> None:
    ca_suite(protocol)  # an unknown protocol is reported as such
    known = protocol_of(protocol, Family.CHIP_AUTHENTICATION)
    if known is None or known.key_agreement != ("DH" if isinstance(group, DHGroup) else "ECDH"):
        raise ProtocolError(f"Chip Authentication protocol {protocol} does not match a {group.name} key")


def _private_group(key: ChipPrivateKey) -> tuple[AnyGroup, int]:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return ECGroup(for_cryptography(key.curve)), key.private_numbers().private_value
    numbers = key.private_numbers()
    parameters = numbers.public_numbers.parameter_numbers
    return DHGroup(modp_group(parameters.p, parameters.g, parameters.q)), numbers.x


def _session(secret: bytes, protocol: str, ssc: int = 0) -> SecureMessaging:
    cipher, bits = ca_suite(protocol)
    return SecureMessaging(kdf_enc(secret, cipher, bits), kdf_mac(secret, cipher, bits), ssc, cipher)


@dataclass(frozen=True)
class ProtectedResponse:
    """A response APDU as received under the chip-authenticated session (its data objects and SW), with the
    send sequence counter its MAC covers."""

    ssc: int
    data: bytes
    sw: int


@dataclass(frozen=True)
class CATranscript:
    """One Chip Authentication as a verifier re-checks it: the protocol and key id used, the terminal's ephemeral
    key pair (the private scalar revealed after the session), and the protected responses that followed."""

    protocol: str
    key_id: int | None
    terminal_public_key: bytes
    terminal_private_key: bytes = field(repr=False)
    responses: tuple[ProtectedResponse, ...] = ()


def check_transcript(transcript: CATranscript, chip_public_key: ChipPublicKey) -> list[ResponseAPDU]:
    """The plain responses of ``transcript`` once each MAC verifies under keys agreed with ``chip_public_key``.

    ProtocolError naming what does not fit: an unknown protocol, an ephemeral public key that is not the revealed
    private key's, no response under the new keys, or a response whose MAC (at its SSC) does not verify.
    """
    group, value = _group_and_element(chip_public_key)
    _check_agreement(group, transcript.protocol)
    group.decode(value, what="chip authentication public key")  # refused before anything else is looked at
    scalar = int.from_bytes(transcript.terminal_private_key, "big")
    if not 1 <= scalar < group.order:
        raise ProtocolError(f"the terminal's ephemeral private key is not a private key of {group.name}")
    if group.public_key(group.generator(), scalar) != transcript.terminal_public_key:
        raise ProtocolError("the terminal's ephemeral public key is not the one of the revealed private key")
    if not transcript.responses:
        raise ProtocolError("no response under the new session keys: nothing shows the chip agreed them")
    secret = group.agree(scalar, value, what="chip authentication public key")
    return [_unprotect(secret, transcript.protocol, number, response)
            for number, response in enumerate(transcript.responses, start=1)]


def _unprotect(secret: bytes, protocol: str, number: int, response: ProtectedResponse) -> ResponseAPDU:
    session = _session(secret, protocol, response.ssc - 1)  # unprotect_response counts the response first
    try:
        return session.unprotect_response(ResponseAPDU(response.data, response.sw))
    except ProtocolError as exc:
        raise ProtocolError(f"response {number} (SSC {response.ssc}) under the chip-authenticated session does "
                            f"not fit keys agreed with the DG14 key: {exc}") from None


class CATerminal:
    """The terminal's half: an ephemeral key pair, the commands that carry it, the new session."""

    def __init__(self, chip_public_key: ChipPublicKey, protocol: str, key_id: int | None = None, *,
                 rng: Callable[[int], bytes] = os.urandom) -> None:
        self.cipher, _ = ca_suite(protocol)
        self.protocol = protocol
        self.key_id = key_id
        self.group, value = _group_and_element(chip_public_key)
        _check_agreement(self.group, protocol)
        self.group.decode(value, what="chip authentication public key")  # refused here, before any command
        self._chip_key = value
        self._private = self.group.random_private(rng)
        self.ephemeral_public_key = self.group.public_key(self.group.generator(), self._private)

    def __repr__(self) -> str:
        return f"CATerminal(protocol={self.protocol}, group={self.group.name})"

    def commands(self) -> list[CommandAPDU]:
        """The plain APDUs to send (wrap them in the current secure messaging): MSE:Set KAT for 3DES,
        MSE:Set AT then GENERAL AUTHENTICATE for AES."""
        key_id = encode_tlv(TAG_KEY_ID, _key_id_bytes(self.key_id)) if self.key_id is not None else b""
        if self.cipher == "3DES":
            data = encode_tlv(TAG_KAT_PUBLIC_KEY, self.ephemeral_public_key) + key_id
            return [CommandAPDU(0x00, Ins.MANAGE_SECURITY_ENVIRONMENT, MSE.SET_KAT_CA.p1, MSE.SET_KAT_CA.p2, data)]
        oid = bytes(ObjectIdentifier(self.protocol).contents)
        dynamic = encode_tlv(TAG_DYNAMIC_AUTH, encode_tlv(TAG_GA_PUBLIC_KEY, self.ephemeral_public_key))
        return [
            CommandAPDU(0x00, Ins.MANAGE_SECURITY_ENVIRONMENT, MSE.SET_AT_CA.p1, MSE.SET_AT_CA.p2,
                        encode_tlv(TAG_OID, oid) + key_id),
            CommandAPDU(0x00, Ins.GENERAL_AUTHENTICATE, 0, 0, dynamic, SHORT_MAX_LE),
        ]

    def complete(self, *, ssc: int = 0) -> SecureMessaging:
        """The session keyed from K (ephemeral SK with the chip's PK), starting at SSC ``ssc`` (0 per ICAO)."""
        secret = self.group.agree(self._private, self._chip_key, what="chip authentication public key")
        return _session(secret, self.protocol, ssc)

    def transcript(self, responses: Sequence[ProtectedResponse]) -> CATranscript:
        """The transcript of this run for a verifier, revealing the ephemeral private key: call it only once the
        session is over (the key opens that session's traffic, nothing else: not the chip's key, not BAC/PACE)."""
        size = (self.group.order.bit_length() + 7) // 8
        return CATranscript(self.protocol, self.key_id, self.ephemeral_public_key,
                            self._private.to_bytes(size, "big"), tuple(responses))


class CAChip:
    """The chip's half: answers MSE:Set KAT, MSE:Set AT and GENERAL AUTHENTICATE with status words.

    :meth:`handle` returns the plain response (to protect with the *old* session) and, once the terminal's
    key is accepted, the new session to switch to afterwards.  Bad requests get ISO 7816-4 status words.
    """

    def __init__(self, private_key: ChipPrivateKey, protocol: str, key_id: int | None = None) -> None:
        self.cipher, _ = ca_suite(protocol)
        self.protocol = protocol
        self.key_id = key_id
        self.group, self._private = _private_group(private_key)
        _check_agreement(self.group, protocol)
        self._set_at_done = False
        self.terminal_public_key = b""  # the terminal's ephemeral key once accepted (TA signs over it)

    def __repr__(self) -> str:
        return f"CAChip(protocol={self.protocol}, group={self.group.name})"

    def handle(self, cmd: CommandAPDU) -> tuple[ResponseAPDU, SecureMessaging | None]:
        """Process one (unprotected) CA command."""
        mse = cmd.ins == Ins.MANAGE_SECURITY_ENVIRONMENT
        if mse and p1p2(cmd.p1, cmd.p2) == MSE.SET_KAT_CA and self.cipher == "3DES":
            return self._set_kat(cmd.data)
        if mse and p1p2(cmd.p1, cmd.p2) == MSE.SET_AT_CA and self.cipher == "AES":
            return ResponseAPDU(b"", self._set_at(cmd.data)), None
        if cmd.ins == Ins.GENERAL_AUTHENTICATE and self.cipher == "AES":
            return self._general_authenticate(cmd.data)
        return ResponseAPDU(b"", SW_WRONG_P1P2 if mse or cmd.ins == Ins.GENERAL_AUTHENTICATE
                            else SW_INS_NOT_SUPPORTED), None

    def _key_id_ok(self, objects: list[TLV]) -> bool:
        found = find(objects, TAG_KEY_ID)
        return found is None or (self.key_id is not None and found.value == _key_id_bytes(self.key_id))

    def _agree(self, point: bytes) -> tuple[ResponseAPDU, SecureMessaging | None]:
        try:
            secret = self.group.agree(self._private, point, what="terminal ephemeral public key")
        except ProtocolError:
            return ResponseAPDU(b"", SW_WRONG_DATA), None
        self.terminal_public_key = point
        return ResponseAPDU(b"", SW_OK), _session(secret, self.protocol)

    def _set_kat(self, data: bytes) -> tuple[ResponseAPDU, SecureMessaging | None]:
        objects = _objects(data)
        key = find(objects or [], TAG_KAT_PUBLIC_KEY)
        if objects is None or key is None:
            return ResponseAPDU(b"", SW_WRONG_DATA), None
        if not self._key_id_ok(objects):
            return ResponseAPDU(b"", SW_REFERENCE_NOT_FOUND), None
        return self._agree(key.value)

    def _set_at(self, data: bytes) -> int:
        self._set_at_done = False
        objects = _objects(data)
        oid = find(objects or [], TAG_OID)
        if objects is None or oid is None:
            return SW_WRONG_DATA
        if oid.value != bytes(ObjectIdentifier(self.protocol).contents) or not self._key_id_ok(objects):
            return SW_REFERENCE_NOT_FOUND
        self._set_at_done = True
        return SW_OK

    def _general_authenticate(self, data: bytes) -> tuple[ResponseAPDU, SecureMessaging | None]:
        if not self._set_at_done:
            return ResponseAPDU(b"", SW_CONDITIONS), None
        self._set_at_done = False
        try:
            outer = read_single(data, TAG_DYNAMIC_AUTH, file="GENERAL AUTHENTICATE")
            key = find(list(iter_tlvs(outer.value, file="GENERAL AUTHENTICATE")), TAG_GA_PUBLIC_KEY)
        except DecodeError:
            return ResponseAPDU(b"", SW_WRONG_DATA), None
        if key is None:
            return ResponseAPDU(b"", SW_WRONG_DATA), None
        response, session = self._agree(key.value)
        return (ResponseAPDU(encode_tlv(TAG_DYNAMIC_AUTH, b""), SW_OK), session) if session else (response, None)


def _objects(data: bytes) -> list[TLV] | None:
    """The data objects of an MSE command, or None when they do not decode."""
    try:
        return list(iter_tlvs(data, file="MSE"))
    except DecodeError:
        return None
