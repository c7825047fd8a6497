"""DG14 decoded with what a batch repeats already learnt (the protocol infos, OIDs, the EC AlgorithmIdentifier of
the Chip Authentication key) gives exactly what a cold decode gives: the same infos, or the same error, on the
CCCD profiles, the BSI 2008 specimen, keys on other curves and named or explicit, and hostile mutations."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mutations import mutated

from cardlib.errors import DecodeError
from cardlib.lds import asn1, securityinfo
from cardlib.lds.dg15 import DG15
from cardlib.lds.oids import protocol_oid
from cardlib.lds.securityinfo import (
    DG14,
    ActiveAuthenticationInfo,
    ChipAuthenticationInfo,
    ChipAuthenticationPublicKeyInfo,
    PACEInfo,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def dg14(key: ec.EllipticCurvePublicKey, explicit: bool) -> bytes:
    """A CCCD-like DG14 around ``key``."""
    return DG14((
        ChipAuthenticationPublicKeyInfo.for_key(key, explicit_parameters=explicit),
        ChipAuthenticationInfo(protocol_oid("id-CA-ECDH-AES-CBC-CMAC-128"), 1),
        PACEInfo(protocol_oid("id-PACE-ECDH-GM-AES-CBC-CMAC-128"), 2, 13),
        ActiveAuthenticationInfo(1, "0.4.0.127.0.7.1.1.4.1.3"),
    )).encode()


BASES = [dg14(ec.generate_private_key(curve).public_key(), explicit)
         for curve in (ec.BrainpoolP256R1(), ec.SECP384R1()) for explicit in (False, True) for _ in range(2)]
if (SHARED / "bsi2008" / "Datagroup14.bin").is_file():
    BASES.append((SHARED / "bsi2008" / "Datagroup14.bin").read_bytes())


def outcome(data: bytes) -> DG14 | str:
    """The decoded DG14, or the text of its DecodeError."""
    try:
        return DG14.decode(data)
    except DecodeError as error:
        return str(error)


def cold(data: bytes) -> DG14 | str:
    """The outcome with nothing learnt from earlier files."""
    securityinfo._decode_repeated.cache_clear()
    securityinfo._oid_of.cache_clear()
    asn1._EC_ALGORITHMS.clear()
    return outcome(data)


def warm(data: bytes) -> DG14 | str:
    """The outcome after every base DG14 has been decoded (as a batch would have)."""
    for base in BASES:
        DG14.decode(base)
    return outcome(data)


@pytest.mark.parametrize("index", range(len(BASES)))
def test_warm_decode_is_the_cold_decode(index: int) -> None:
    first = cold(BASES[index])
    assert not isinstance(first, str)
    assert warm(BASES[index]) == first
    assert first.encode() == BASES[index]


def test_the_ca_key_of_another_card_reuses_only_the_curve() -> None:
    warm(BASES[0])
    other = dg14(ec.generate_private_key(ec.BrainpoolP256R1()).public_key(), False)
    decoded = outcome(other)
    assert not isinstance(decoded, str)
    assert decoded == cold(other)
    assert decoded.chip_authentication_public_key_infos[0].public_key.der != DG14.decode(BASES[0]) \
        .chip_authentication_public_key_infos[0].public_key.der


def test_a_point_off_the_curve_fails_as_cold() -> None:
    raw = bytearray(BASES[0])
    raw[raw.index(b"\x03\x42\x00\x04") + 10] ^= 1  # an x coordinate no longer on brainpoolP256r1
    warmed = warm(bytes(raw))
    assert isinstance(warmed, str)
    assert "not on brainpoolP256r1" in warmed
    assert warmed == cold(bytes(raw))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=mutated(BASES))
def test_mutated_dg14_decodes_warm_as_cold(raw: bytes) -> None:
    assert warm(raw) == cold(raw)


DG15_BASES = [DG15.from_cryptography(ec.generate_private_key(curve).public_key(), explicit_parameters=explicit).encode()
              for curve in (ec.BrainpoolP256R1(), ec.SECP256R1()) for explicit in (False, True)]


def dg15_outcome(data: bytes, *, learnt: bool) -> DG15 | str:
    """DG15 decoded with every base key learnt first, or with nothing learnt."""
    asn1._EC_ALGORITHMS.clear()
    for base in DG15_BASES if learnt else ():
        DG15.decode(base)
    try:
        return DG15.decode(data)
    except DecodeError as error:
        return str(error)


@pytest.mark.parametrize("index", range(len(DG15_BASES)))
def test_dg15_keys_read_with_a_learnt_algorithm_are_the_general_decode(index: int) -> None:
    other = DG15.from_cryptography(ec.generate_private_key(ec.BrainpoolP256R1()).public_key()).encode()
    for data in (DG15_BASES[index], other):
        assert dg15_outcome(data, learnt=True) == dg15_outcome(data, learnt=False)
    assert asn1._learnt_ec_key(DG15.decode(other).public_key.der) is not None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.sampled_from(DG15_BASES).flatmap(lambda base: st.tuples(
    st.just(base), st.integers(0, len(base) - 1), st.integers(0, 255))))
def test_mutated_dg15_decodes_learnt_as_general(data: tuple[bytes, int, int]) -> None:
    base, where, value = data
    mutated = bytearray(base)
    mutated[where] = value
    assert dg15_outcome(bytes(mutated), learnt=True) == dg15_outcome(bytes(mutated), learnt=False)
