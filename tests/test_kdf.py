"""KDF of ICAO 9303-11 §9.7.1 against ICAO App. D / G.1 values and gmrtd's AES-192/256 values."""

from __future__ import annotations

from typing import Any

import pytest
from vectors import vector_json

from cardlib.errors import ProtocolError
from cardlib.protocols.kdf import adjust_parity, kdf, kdf_enc, kdf_mac, kdf_pi


def test_bac_document_keys_app_d() -> None:
    bac = vector_json("bac_icao_9303_11_app_d.json")
    seed = bytes.fromhex(bac["k_seed"])
    assert kdf_enc(seed, "3DES") == bytes.fromhex(bac["k_enc"])
    assert kdf_mac(seed, "3DES") == bytes.fromhex(bac["k_mac"])


def test_bac_session_keys_app_d() -> None:
    bac = vector_json("bac_icao_9303_11_app_d.json")
    seed = bytes(a ^ b for a, b in zip(bytes.fromhex(bac["k_ifd"]), bytes.fromhex(bac["k_ic"]), strict=True))
    assert kdf_enc(seed, "3DES") == bytes.fromhex(bac["ks_enc"])
    assert kdf_mac(seed, "3DES") == bytes.fromhex(bac["ks_mac"])


def test_pace_keys_app_g1() -> None:
    pace = vector_json("pace_ecdh_gm_icao_9303_11_app_g1.json")
    assert kdf_pi(bytes.fromhex(pace["k_seed"]), "AES", 128) == bytes.fromhex(pace["k_pi"])
    secret = bytes.fromhex(pace["shared_secret"])
    assert kdf_enc(secret, "AES", 128) == bytes.fromhex(pace["ks_enc"])
    assert kdf_mac(secret, "AES", 128) == bytes.fromhex(pace["ks_mac"])


@pytest.mark.parametrize("vector", vector_json("kdf_extra_gmrtd.json")["vectors"])
def test_aes_192_256_extra(vector: dict[str, Any]) -> None:
    key = kdf(bytes.fromhex(vector["secret"]), vector["counter"], vector["cipher"], vector["key_bits"])
    assert key == bytes.fromhex(vector["key"])


def test_parity_is_odd_in_every_byte() -> None:
    assert all(bin(byte).count("1") % 2 == 1 for byte in adjust_parity(bytes(range(256))))
    assert adjust_parity(bytes.fromhex("AB94FDECF2674FDF")) == bytes.fromhex("AB94FDECF2674FDF")


@pytest.mark.parametrize(("cipher", "bits"), [("AES", 64), ("3DES", 192), ("DES", 128)])
def test_unsupported_sizes_rejected(cipher: str, bits: int) -> None:
    with pytest.raises(ProtocolError):
        kdf(b"secret", 1, cipher, bits)
