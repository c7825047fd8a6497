"""DG15 codec: BSI 2008 and LOES 2006 Active Authentication keys, EC keys named and explicit, properties."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from asn1crypto import keys
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from cardlib.curves import by_name
from cardlib.errors import DecodeError
from cardlib.lds.asn1 import ECPublicKeyInfo, RSAPublicKeyInfo
from cardlib.lds.dg15 import DG15
from cardlib.lds.tlv import encode_tlv

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
EC_KEY = ec.generate_private_key(ec.BrainpoolP256R1()).public_key()


@pytest.mark.parametrize("path", ["bsi2008/Datagroup15.bin", "loes2006/ef010F.bin"])
def test_specimen_rsa_keys_reencode_byte_identically(shared_data: Path, path: str) -> None:
    raw = (shared_data / path).read_bytes()
    dg15 = DG15.decode(raw)
    assert isinstance(dg15.public_key, RSAPublicKeyInfo)
    assert dg15.public_key.key_size == 1024
    assert dg15.public_key.public_exponent == 65537
    assert dg15.public_key.cryptography_key().public_numbers().n == dg15.public_key.modulus
    assert dg15.encode() == raw


def test_bsi_modulus_without_sign_byte_is_read_unsigned(shared_data: Path) -> None:
    # The BSI 2008 modulus INTEGER starts with CF (no leading 00): a strict reader would see a negative number.
    dg15 = DG15.decode((shared_data / "bsi2008/Datagroup15.bin").read_bytes())
    assert isinstance(dg15.public_key, RSAPublicKeyInfo)
    assert hex(dg15.public_key.modulus).startswith("0xcf9a8ba6")


def test_rsa_key_from_cryptography_round_trips() -> None:
    dg15 = DG15.from_cryptography(RSA_KEY)
    decoded = DG15.decode(dg15.encode())
    assert decoded == dg15
    assert isinstance(decoded.public_key, RSAPublicKeyInfo)
    assert decoded.public_key.cryptography_key() == RSA_KEY


@pytest.mark.parametrize("explicit", [False, True])
def test_ec_key_named_or_explicit_round_trips(explicit: bool) -> None:
    dg15 = DG15.from_cryptography(EC_KEY, explicit_parameters=explicit)
    decoded = DG15.decode(dg15.encode())
    assert decoded == dg15
    key = decoded.public_key
    assert isinstance(key, ECPublicKeyInfo)
    assert key.curve == by_name("brainpoolP256r1")
    assert key.explicit_parameters is explicit
    assert key.cryptography_key() == EC_KEY


def test_dh_key_is_not_an_active_authentication_key() -> None:
    spki = keys.PublicKeyInfo({
        "algorithm": {"algorithm": "dh", "parameters": {"p": 23, "g": 5, "q": 11}},
        "public_key": keys.Integer(4),
    }).dump()
    with pytest.raises(DecodeError, match="RSA or EC") as info:
        DG15.decode(encode_tlv(0x6F, spki))
    assert info.value.file == "DG15"


def test_point_off_the_curve_is_rejected() -> None:
    good = DG15.from_cryptography(EC_KEY).encode()
    bad = good[:-1] + bytes([good[-1] ^ 1])
    with pytest.raises(DecodeError, match="not on brainpoolP256r1"):
        DG15.decode(bad)


def test_wrong_tag_names_file() -> None:
    raw = DG15.from_cryptography(EC_KEY).encode()
    with pytest.raises(DecodeError, match="outer tag 6E") as info:
        DG15.decode(b"\x6e" + raw[1:])
    assert info.value.file == "DG15"


@settings(max_examples=150)
@given(st.binary(max_size=200))
def test_garbage_raises_only_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        DG15.decode(data)
    with contextlib.suppress(DecodeError):
        DG15.decode(encode_tlv(0x6F, data))


@settings(max_examples=100)
@given(st.integers(0, 160), st.binary(max_size=4))
def test_truncated_or_corrupted_specimen_raises_only_decode_error(cut: int, junk: bytes) -> None:
    raw = DG15.from_cryptography(RSA_KEY).encode()
    with pytest.raises(DecodeError):
        DG15.decode(raw[:cut])
    with contextlib.suppress(DecodeError):
        DG15.decode(raw[:cut] + junk + raw[cut + len(junk):])
