"""The hand-written decode of canonical EF.SODs against the general asn1crypto decode, which it must never
contradict: on every SOD cardlib signs, the public specimens, the genuine SODs of other states and hostile
mutations of them, it gives the very same object or declines (and then the general decode decides)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from mutations import OPERATIONS, mutated
from test_sod import EC_SIGNER, RSA_PKCS1_SIGNER, RSA_PSS_SIGNER
from vectors import TESTVECTORS

from cardlib.errors import DecodeError
from cardlib.lds import der
from cardlib.lds.sod import SOD, TAG_SOD, LDSSecurityObject, _decode_canonical
from cardlib.lds.tlv import read_single

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
HASHES = {n: hashlib.sha256(bytes([n])).digest() for n in (1, 2, 13, 14, 15)}
SIGNED = {
    "ecdsa": SOD.sign(LDSSecurityObject("sha256", HASHES), EC_SIGNER).encode(),
    "ecdsa-utctime": SOD.sign(LDSSecurityObject("sha256", HASHES), EC_SIGNER,
                              signing_time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)).encode(),
    "ecdsa-generalizedtime": SOD.sign(LDSSecurityObject("sha256", HASHES), EC_SIGNER,
                                      signing_time=datetime(2051, 1, 2, 3, 4, 5, tzinfo=UTC)).encode(),
    "lds-1.8": SOD.sign(LDSSecurityObject("sha256", HASHES, 1, "0108", "040000"), EC_SIGNER).encode(),
    "rsa-pss": SOD.sign(LDSSecurityObject("sha256", HASHES), RSA_PSS_SIGNER).encode(),
    "rsa-pkcs1": SOD.sign(LDSSecurityObject("sha384", {1: bytes(48)}), RSA_PKCS1_SIGNER).encode(),
}
PUBLIC = {"bsi2008": SHARED / "bsi2008" / "EF_SOD.bin", "loes2006": SHARED / "loes2006" / "ef011D.bin"}
GENUINE = sorted((TESTVECTORS / "genuine" / "gmrtd").glob("*_EF_SOD.bin"))
CORPUS = sorted((ROOT / "tests" / "fuzz" / "corpus" / "sod").iterdir())


def canonical(raw: bytes) -> SOD | None:
    """The fast decode's SOD, or None when it declines."""
    outer = read_single(raw, TAG_SOD, file="EF.SOD")
    try:
        return _decode_canonical(raw, outer.offset + outer.header_length)
    except der.Unusual:
        return None


def general(raw: bytes) -> SOD:
    """The asn1crypto decode alone."""
    return SOD._decode_general(raw, read_single(raw, TAG_SOD, file="EF.SOD").value)


def assert_agrees(raw: bytes) -> SOD | None:
    """The fast decode declines, or gives exactly what the general decode gives (which must then succeed)."""
    try:
        outer = read_single(raw, TAG_SOD, file="EF.SOD")
    except DecodeError:
        return None
    fast = canonical(raw)
    if fast is None:
        return None
    assert outer.end == len(raw)
    assert fast == general(raw)
    assert SOD.decode(raw) == fast
    return fast


@pytest.mark.parametrize("name", sorted(SIGNED))
def test_every_sod_cardlib_signs_takes_the_fast_path_and_agrees(name: str) -> None:
    fast = assert_agrees(SIGNED[name])
    assert fast is not None
    assert fast.encode() == SIGNED[name]


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_specimens_take_the_fast_path_and_agree(shared_data: Path, name: str) -> None:
    assert PUBLIC[name].is_file(), f"{PUBLIC[name]} is missing from the shared data"
    raw = PUBLIC[name].read_bytes()
    fast = assert_agrees(raw)
    assert fast is not None
    assert fast.encode() == raw


@pytest.mark.parametrize("path", GENUINE + CORPUS, ids=lambda path: path.name)
def test_genuine_and_corpus_sods_agree_or_decline(path: Path) -> None:
    assert_agrees(path.read_bytes())


def test_the_genuine_sods_mostly_take_the_fast_path() -> None:
    fast = [path.name for path in GENUINE if assert_agrees(path.read_bytes()) is not None]
    assert len(fast) >= len(GENUINE) - 3, fast


@pytest.mark.parametrize("encoded", [
    bytes.fromhex("02810103"),  # long form for a short length
    bytes.fromhex("0282000103"),  # a leading zero length octet
    bytes.fromhex("3080020103 0000"),  # indefinite length (BER)
    bytes.fromhex("0284000000010300"),  # more length octets than any LDS file needs
    bytes.fromhex("020203"),  # runs past its end
])
def test_non_canonical_elements_are_declined(encoded: bytes) -> None:
    with pytest.raises(der.Unusual):
        der.element(encoded, 0, len(encoded), encoded[0])


def test_multi_byte_tags_and_unexpected_shapes_are_declined() -> None:
    with pytest.raises(der.Unusual):
        der.elements(bytes.fromhex("1f2001 00"), 0, 4)
    with pytest.raises(der.Unusual):
        der.shaped(bytes.fromhex("020101 020102"), 0, 6, der.INTEGER)
    assert der.shaped(bytes.fromhex("020101 0400"), 0, 5, der.INTEGER, der.OCTET_STRING)[1] == (4, 3, 5, 5)


def test_duplicate_data_group_and_unknown_hash_are_declined_to_the_general_errors() -> None:
    twice = SOD.sign(LDSSecurityObject("sha256", {1: bytes(32), 2: bytes(32)}), EC_SIGNER).encode()
    mangled = twice.replace(bytes.fromhex("3025020102"), bytes.fromhex("3025020101"), 1)
    assert canonical(mangled) is None
    with pytest.raises(DecodeError, match="DG1 hashed twice"):
        SOD.decode(mangled)


BASES = [*SIGNED.values(), *(path.read_bytes() for path in PUBLIC.values() if path.is_file()),
         *(path.read_bytes() for path in GENUINE)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=mutated(BASES, (*OPERATIONS, "truncate")))
def test_mutated_sods_agree_or_decline(raw: bytes) -> None:
    assert_agrees(raw)
