"""Active Authentication: RSA ISO/IEC 9796-2 scheme 1 (1024/2048-bit) and ECDSA, signed by the chip side
and checked by the terminal side, including the message layout and rejection of forgeries."""

from __future__ import annotations

from functools import cache

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from ecdsa.numbertheory import next_prime
from hypothesis import given, settings
from hypothesis import strategies as st

from cardlib.errors import ProtocolError
from cardlib.protocols.aa import aa_sign, aa_verify

CHALLENGE = bytes.fromhex("0102030405060708")


@cache
def _rsa(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@cache
def _ec(curve_name: str) -> ec.EllipticCurvePrivateKey:
    curve = {"secp256r1": ec.SECP256R1(), "brainpoolP256r1": ec.BrainpoolP256R1(),
             "brainpoolP384r1": ec.BrainpoolP384R1()}[curve_name]
    return ec.generate_private_key(curve)


@pytest.mark.parametrize("bits", [1024, 2048])
@pytest.mark.parametrize(("hash_name", "trailer"), [("sha1", "BC"), ("sha224", "38CC"), ("sha256", "34CC"),
                                                    ("sha384", "36CC"), ("sha512", "35CC")])
def test_rsa_iso9796_2_round_trip_and_layout(bits: int, hash_name: str, trailer: str) -> None:
    key = _rsa(bits)
    signature = aa_sign(key, CHALLENGE, hash_name=hash_name)
    assert len(signature) == bits // 8
    result = aa_verify(key.public_key(), CHALLENGE, signature)
    assert result.ok and result.hash_name == hash_name, result.reason
    numbers = key.public_key().public_numbers()
    encoded = pow(int.from_bytes(signature, "big"), numbers.e, numbers.n).to_bytes(bits // 8, "big")
    assert encoded[0] == 0x6A and encoded.hex().upper().endswith(trailer)


def test_rsa_m1_comes_from_the_random_source() -> None:
    key = _rsa(1024)
    signature = aa_sign(key, CHALLENGE, hash_name="sha1", rng=lambda n: b"\x55" * n)
    numbers = key.public_key().public_numbers()
    encoded = pow(int.from_bytes(signature, "big"), numbers.e, numbers.n).to_bytes(128, "big")
    assert encoded[1:107] == b"\x55" * 106  # 128 - 1 header - 20 SHA-1 - 1 trailer


def test_rsa_alternative_signature_n_minus_s_accepted() -> None:
    key = _rsa(1024)
    numbers = key.public_key().public_numbers()
    encoded = pow(int.from_bytes(aa_sign(key, CHALLENGE), "big"), numbers.e, numbers.n)
    alternative = pow(numbers.n - encoded, key.private_numbers().d, numbers.n).to_bytes(128, "big")
    assert aa_verify(key.public_key(), CHALLENGE, alternative).ok


@pytest.mark.parametrize("curve_name", ["secp256r1", "brainpoolP256r1", "brainpoolP384r1"])
def test_ecdsa_plain_and_der(curve_name: str) -> None:
    key = _ec(curve_name)
    signature = aa_sign(key, CHALLENGE)
    assert len(signature) == 2 * ((key.curve.key_size + 7) // 8)
    assert aa_verify(key.public_key(), CHALLENGE, signature, hash_name="sha256").ok
    assert aa_verify(key.public_key(), CHALLENGE, signature).hash_name == "sha256"
    der = key.sign(CHALLENGE, ec.ECDSA(hashes.SHA384()))
    decode_dss_signature(der)
    assert aa_verify(key.public_key(), CHALLENGE, der).ok


def test_wrong_challenge_and_key_rejected() -> None:
    for key in (_rsa(1024), _ec("brainpoolP256r1")):
        signature = aa_sign(key, CHALLENGE)
        assert not aa_verify(key.public_key(), CHALLENGE[::-1], signature).ok
        other = _rsa(2048) if isinstance(key, rsa.RSAPrivateKey) else _ec("secp256r1")
        assert not aa_verify(other.public_key(), CHALLENGE, signature).ok


def test_explicit_hash_must_match_for_ecdsa() -> None:
    key = _ec("secp256r1")
    assert not aa_verify(key.public_key(), CHALLENGE, aa_sign(key, CHALLENGE, hash_name="sha1"),
                         hash_name="sha256").ok


def test_unsupported_hash_and_short_key_raise() -> None:
    with pytest.raises(ProtocolError):
        aa_sign(_rsa(1024), CHALLENGE, hash_name="md5")
    with pytest.raises(ProtocolError):
        aa_sign(_small_rsa(), CHALLENGE, hash_name="sha512")


def _small_rsa() -> rsa.RSAPrivateKey:
    """A 512-bit RSA key (too short for ISO 9796-2 with SHA-512); cryptography only loads such keys."""
    p, q, e = next_prime(2**255 + 2**200), next_prime(2**255 + 2**190), 65537
    d = pow(e, -1, (p - 1) * (q - 1))
    public = rsa.RSAPublicNumbers(e, p * q)
    return rsa.RSAPrivateNumbers(p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q),
                                 public).private_key()


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_signatures_are_reported_not_raised(signature: bytes) -> None:
    assert not aa_verify(_rsa(1024).public_key(), CHALLENGE, signature).ok
    assert not aa_verify(_ec("brainpoolP256r1").public_key(), CHALLENGE, signature).ok


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 127), st.integers(0, 7))
def test_single_bit_flips_rejected(position: int, bit: int) -> None:
    key = _rsa(1024)
    signature = bytearray(aa_sign(key, CHALLENGE))
    signature[position] ^= 1 << bit
    assert not aa_verify(key.public_key(), CHALLENGE, bytes(signature)).ok
