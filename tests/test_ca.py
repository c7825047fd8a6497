"""Chip Authentication (ECDH): terminal and chip agree on new session keys for 3DES (MSE:Set KAT) and AES
(MSE:Set AT + GENERAL AUTHENTICATE), inside an existing secure messaging session; bad requests refused."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from cardlib.curves import Curve, by_name
from cardlib.errors import ProtocolError
from cardlib.protocols import ecpoint
from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU
from cardlib.protocols.ca import CAChip, CATerminal
from cardlib.protocols.kdf import kdf_enc, kdf_mac
from cardlib.protocols.sm import SecureMessaging

CA_3DES = "0.4.0.127.0.7.2.2.3.2.1"
CA_AES_128 = "0.4.0.127.0.7.2.2.3.2.2"
CA_AES_192 = "0.4.0.127.0.7.2.2.3.2.3"
CA_AES_256 = "0.4.0.127.0.7.2.2.3.2.4"


@cache
def _key(curve: str = "brainpoolP256r1") -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key({"brainpoolP256r1": ec.BrainpoolP256R1(), "secp384r1": ec.SECP384R1()}[curve])


def _point(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def _exchange(terminal: CATerminal, chip: CAChip) -> tuple[SecureMessaging, SecureMessaging]:
    """Send the CA commands inside an old AES session, as a reader and the virtual chip would."""
    old_terminal = SecureMessaging(bytes(16), bytes(range(16)), 7, "AES")
    old_chip = SecureMessaging(bytes(16), bytes(range(16)), 7, "AES")
    new_chip = None
    for command in terminal.commands():
        plain = old_chip.unprotect_command(CommandAPDU.parse(old_terminal.protect_command(command).encode()))
        response, session = chip.handle(plain)
        assert old_terminal.unprotect_response(old_chip.protect_response(response)).ok
        new_chip = session or new_chip
    assert new_chip is not None
    return terminal.complete(), new_chip


@pytest.mark.parametrize("protocol", [CA_3DES, CA_AES_128, CA_AES_192, CA_AES_256])
@pytest.mark.parametrize("curve", ["brainpoolP256r1", "secp384r1"])
def test_round_trip(protocol: str, curve: str) -> None:
    key = _key(curve)
    terminal_sm, chip_sm = _exchange(CATerminal(key.public_key(), protocol), CAChip(key, protocol))
    assert terminal_sm.ssc == chip_sm.ssc == 0 and terminal_sm.cipher == ("3DES" if protocol == CA_3DES else "AES")
    received = chip_sm.unprotect_command(terminal_sm.protect_command(CommandAPDU(0, 0xB0, 0, 0, le=8)))
    assert received.le == 8
    assert terminal_sm.unprotect_response(chip_sm.protect_response(ResponseAPDU(b"DG1", 0x9000))).data == b"DG1"


@dataclass(frozen=True)
class _KeyInfo:
    """Shaped like DG14's ECPublicKeyInfo: a curve and an uncompressed point."""

    curve: Curve
    point: bytes


def test_key_given_as_curve_and_point_object() -> None:
    key = _key()
    terminal = CATerminal(_KeyInfo(by_name("brainpoolP256r1"), _point(key)), CA_AES_256)
    terminal_sm, chip_sm = _exchange(terminal, CAChip(key, CA_AES_256))
    command = CommandAPDU(0, 0xB0, 0, 0, le=3)
    assert chip_sm.unprotect_command(terminal_sm.protect_command(command)) == command


def test_command_layout() -> None:
    key = _key()
    kat = CATerminal((by_name("brainpoolP256r1"), _point(key)), CA_3DES, key_id=1).commands()
    assert len(kat) == 1 and kat[0].header == bytes.fromhex("002241A6")
    assert kat[0].data[:2] == b"\x91\x41" and kat[0].data[-3:] == b"\x84\x01\x01"
    aes = CATerminal(key.public_key(), CA_AES_128).commands()
    assert aes[0].encode() == bytes.fromhex("002241A40C800A04007F00070202030202")
    assert aes[1].header == bytes.fromhex("00860000") and aes[1].data[:4] == bytes.fromhex("7C438041")
    assert aes[1].le == 256


def test_shared_secret_matches_cryptography_ecdh() -> None:
    key = _key()
    terminal = CATerminal(key.public_key(), CA_AES_128)
    peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.BrainpoolP256R1(), terminal.ephemeral_public_key)
    secret = key.exchange(ec.ECDH(), peer)
    reference = SecureMessaging(*_keys(secret), 0, "AES")
    command = CommandAPDU(0, 0xB0, 0, 0, le=1)
    assert terminal.complete().protect_command(command) == reference.protect_command(command)


def _keys(secret: bytes) -> tuple[bytes, bytes]:
    return kdf_enc(secret, "AES", 128), kdf_mac(secret, "AES", 128)


def test_key_id_must_match() -> None:
    key = _key()
    chip = CAChip(key, CA_3DES, key_id=2)
    response, session = chip.handle(CATerminal(key.public_key(), CA_3DES, key_id=3).commands()[0])
    assert response.sw == 0x6A88 and session is None
    response, session = chip.handle(CATerminal(key.public_key(), CA_3DES, key_id=2).commands()[0])
    assert response.ok and session is not None


def test_off_curve_terminal_key_refused() -> None:
    key = _key()
    good = CATerminal(key.public_key(), CA_3DES).commands()[0]
    bad = good.data[:-1] + bytes([good.data[-1] ^ 1])
    response, session = CAChip(key, CA_3DES).handle(CommandAPDU(0, 0x22, 0x41, 0xA6, bad))
    assert response.sw == 0x6A80 and session is None


def test_ga_without_set_at_and_wrong_protocol() -> None:
    key = _key()
    chip = CAChip(key, CA_AES_128)
    set_at, ga = CATerminal(key.public_key(), CA_AES_128).commands()
    assert chip.handle(ga)[0].sw == 0x6985
    assert chip.handle(CATerminal(key.public_key(), CA_AES_256).commands()[0])[0].sw == 0x6A88
    assert chip.handle(CATerminal(key.public_key(), CA_3DES).commands()[0])[0].sw == 0x6A86
    assert chip.handle(CommandAPDU(0, 0xB0, 0, 0))[0].sw == 0x6D00
    assert chip.handle(set_at)[0].ok
    response, session = chip.handle(ga)
    assert response.data == b"\x7c\x00" and session is not None


def test_terminal_refuses_bad_chip_key_and_protocol() -> None:
    with pytest.raises(ProtocolError):
        CATerminal((by_name("brainpoolP256r1"), b"\x04" + bytes(64)), CA_AES_128)
    with pytest.raises(ProtocolError):
        CATerminal(_key().public_key(), "0.4.0.127.0.7.2.2.3.1.2")  # id-CA-DH


def test_deterministic_terminal_key_from_rng() -> None:
    key = _key()
    scalar = (12345).to_bytes(32, "big")
    terminal = CATerminal(key.public_key(), CA_AES_128, rng=lambda n: scalar)
    curve = by_name("brainpoolP256r1")
    assert terminal.ephemeral_public_key == ecpoint.encode_point(curve, ecpoint.generator(curve) * 12345)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=100), st.sampled_from([(0x22, 0x41, 0xA6), (0x22, 0x41, 0xA4), (0x86, 0, 0)]))
def test_garbage_gets_status_words(data: bytes, ins_p1_p2: tuple[int, int, int]) -> None:
    for protocol in (CA_3DES, CA_AES_128):
        chip = CAChip(_key(), protocol)
        response, session = chip.handle(CommandAPDU(0, *ins_p1_p2, data))
        assert session is None and (response.sw != 0x9000 or ins_p1_p2[2] == 0xA4)
