"""PACE integrated mapping: ICAO 9303-11 App. H.1 (ECDH, brainpoolP256r1) and H.2 (DH, 1024-bit MODP) value by
value on both sides — R_p(s, t), f_G / f_g, key agreement, tokens — round trips with every cipher and curve,
and the hostile inputs: nonces of the wrong length, a non-empty DO 82, a curve without the point encoding."""

from __future__ import annotations

import pytest
from pace_support import Vector, assert_same_session, assert_session_keys, fixed, run, scalar

from cardlib.curves import CURVES, Curve, by_name, modp_group_by_parameter_id
from cardlib.errors import ProtocolError
from cardlib.protocols.kdf import kdf_enc, kdf_mac, kdf_pi
from cardlib.protocols.pace import PACEChip, PACEParameters, PACETerminal, authentication_token, password_key
from cardlib.protocols.pace.integrated import (
    nonce_lengths,
    point_encoding,
    pseudo_random,
    pseudo_random_octets,
    subgroup_encoding,
)
from cardlib.protocols.sm import cbc_decrypt, cbc_encrypt

H1 = Vector("pace_ecdh_im_icao_9303_11_app_h1.json")
H2 = Vector("pace_dh_im_icao_9303_11_app_h2.json")
EXAMPLES = {"H.1": H1, "H.2": H2}


def _params(vector: Vector) -> PACEParameters:
    return PACEParameters(vector.text("protocol"), vector.text("parameter_id"))


def _order(vector: Vector) -> int:
    return _params(vector).group.order


def _dynamic(tag: int, value: bytes) -> bytes:
    inner = bytes([tag]) + _length(value) + value
    return b"\x7c" + _length(inner) + inner


def _length(value: bytes) -> bytes:
    return bytes([len(value)]) if len(value) < 0x80 else bytes([0x81, len(value)])


@pytest.mark.parametrize("vector", EXAMPLES.values(), ids=EXAMPLES)
def test_password_and_nonce(vector: Vector) -> None:
    """K_pi is the KDF of the CAN 123456 (the appendix's remark about the MRZ key does not hold)."""
    assert kdf_pi(password_key(vector.text("can"), "CAN"), "AES", 128) == vector["k_pi"]
    assert cbc_decrypt("AES", vector["k_pi"], vector["encrypted_nonce"]) == vector["nonce"]
    assert cbc_encrypt("AES", vector["k_pi"], vector["nonce"]) == vector["encrypted_nonce"]


@pytest.mark.parametrize("vector", EXAMPLES.values(), ids=EXAMPLES)
def test_pseudo_random_function(vector: Vector) -> None:
    params = _params(vector)
    p = params.group.modulus
    assert pseudo_random_octets(vector["nonce"], vector["terminal_nonce"], "AES", 128, p) == vector["pseudo_random"]
    assert pseudo_random(vector["nonce"], vector["terminal_nonce"], "AES", 128, p) == vector.int("pseudo_random_mod_p")


def test_h1_point_encoding() -> None:
    curve = by_name("brainpoolP256r1")
    mapped = _params(H1).group.encode(point_encoding(curve, H1.int("pseudo_random_mod_p")))
    assert mapped == H1["mapped_generator"]


def test_h2_subgroup_encoding() -> None:
    group = modp_group_by_parameter_id(0)
    assert subgroup_encoding(group, H2.int("pseudo_random_mod_p")) == H2.int("mapped_generator")


@pytest.mark.parametrize("vector", EXAMPLES.values(), ids=EXAMPLES)
def test_key_agreement_and_tokens(vector: Vector) -> None:
    """Public keys from the published private keys (exponents act modulo the order), K, KSenc/KSmac, tokens."""
    params = _params(vector)
    group = params.group
    mapped = group.decode(vector["mapped_generator"], what="G̃")
    order = _order(vector)
    for side in ("terminal", "chip"):
        private = vector.int(f"{side}_ephemeral_sk")
        assert group.public_key(mapped, private) == group.public_key(mapped, private % order)
        assert group.public_key(mapped, private) == vector[f"{side}_ephemeral_pk"]
    secret = group.agree(vector.int("terminal_ephemeral_sk"), vector["chip_ephemeral_pk"], what="PK_IC")
    assert secret == vector["shared_secret"]
    assert kdf_enc(secret, "AES", 128) == vector["ks_enc"] and kdf_mac(secret, "AES", 128) == vector["ks_mac"]
    assert vector["t_ifd_input"].endswith(vector["chip_ephemeral_pk"])
    assert authentication_token(params, vector["ks_mac"], vector["chip_ephemeral_pk"]) == vector["t_ifd"]
    assert authentication_token(params, vector["ks_mac"], vector["terminal_ephemeral_pk"]) == vector["t_ic"]


@pytest.mark.parametrize("vector", EXAMPLES.values(), ids=EXAMPLES)
def test_terminal_reproduces_the_example(vector: Vector) -> None:
    terminal = PACETerminal(vector.text("can"), "CAN", _params(vector),
                            rng=fixed(vector["terminal_nonce"], scalar(vector.int("terminal_ephemeral_sk"),
                                                                       _order(vector))))
    assert terminal.general_authenticate_2(_dynamic(0x80, vector["encrypted_nonce"])) == _dynamic(
        0x81, vector["terminal_nonce"])
    assert terminal.general_authenticate_3(_dynamic(0x82, b"")) == _dynamic(0x83, vector["terminal_ephemeral_pk"])
    assert terminal.mapped_generator == vector["mapped_generator"]
    assert terminal.general_authenticate_4(_dynamic(0x84, vector["chip_ephemeral_pk"])) == _dynamic(
        0x85, vector["t_ifd"])
    assert_session_keys(terminal.complete(_dynamic(0x86, vector["t_ic"])), vector["ks_enc"], vector["ks_mac"])


@pytest.mark.parametrize("vector", EXAMPLES.values(), ids=EXAMPLES)
def test_chip_reproduces_the_example(vector: Vector) -> None:
    params = _params(vector)
    chip = PACEChip(vector.text("can"), "CAN", params,
                    rng=fixed(vector["nonce"], scalar(vector.int("chip_ephemeral_sk"), _order(vector))))
    chip.set_at(bytes.fromhex("800A") + params.oid_bytes + bytes.fromhex("830102"))
    assert chip.general_authenticate(b"\x7c\x00") == _dynamic(0x80, vector["encrypted_nonce"])
    assert chip.general_authenticate(_dynamic(0x81, vector["terminal_nonce"])) == b"\x7c\x02\x82\x00"
    assert chip.mapped_generator == vector["mapped_generator"]
    assert chip.general_authenticate(_dynamic(0x83, vector["terminal_ephemeral_pk"])) == _dynamic(
        0x84, vector["chip_ephemeral_pk"])
    assert chip.general_authenticate(_dynamic(0x85, vector["t_ifd"])) == _dynamic(0x86, vector["t_ic"])
    assert_session_keys(chip.secure_messaging, vector["ks_enc"], vector["ks_mac"])


SUITES = {"3DES": "1", "AES-128": "2", "AES-192": "3", "AES-256": "4"}
IM_CURVES = [curve for curve in CURVES if curve.parameter_id is not None and curve.name != "secp224r1"]


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize(("agreement", "parameter_id"), [("3", 0), ("3", 2), ("4", 13), ("4", 18)])
def test_round_trip_every_cipher(suite: str, agreement: str, parameter_id: int) -> None:
    params = PACEParameters(f"0.4.0.127.0.7.2.2.4.{agreement}.{SUITES[suite]}", parameter_id)
    chip = PACEChip("T22000129364081251010318", "MRZ", params)
    assert_same_session(run(PACETerminal("T22000129364081251010318", "MRZ", params), chip), chip)


@pytest.mark.parametrize("curve", IM_CURVES, ids=[curve.name for curve in IM_CURVES])
def test_round_trip_every_curve(curve: Curve) -> None:
    """Every standardized curve but NIST P-224: the mapped generator is a point of the curve, not G."""
    params = PACEParameters("0.4.0.127.0.7.2.2.4.4.2", curve.parameter_id or 0)
    chip = PACEChip("001044", "CAN", params)
    terminal = PACETerminal("001044", "CAN", params)
    assert_same_session(run(terminal, chip), chip)
    assert terminal.mapped_generator == chip.mapped_generator != params.group.encode(params.group.generator())


def test_nist_p224_has_no_integrated_mapping() -> None:
    with pytest.raises(ProtocolError, match="secp224r1"):
        PACEParameters("0.4.0.127.0.7.2.2.4.4.2", 10)
    with pytest.raises(ProtocolError):
        point_encoding(by_name("secp224r1"), 5)
    assert PACEParameters("0.4.0.127.0.7.2.2.4.2.2", 10).mapping == "GM"  # the generic mapping is fine


@pytest.mark.parametrize(("cipher", "bits", "lengths"), [("3DES", 112, (16, 16)), ("AES", 128, (16, 16)),
                                                         ("AES", 192, (32, 24)), ("AES", 256, (32, 32))])
def test_nonce_lengths(cipher: str, bits: int, lengths: tuple[int, int]) -> None:
    assert nonce_lengths(cipher, bits) == lengths  # type: ignore[arg-type]


@pytest.mark.parametrize("length", [0, 8, 15, 17, 24, 32])
def test_chip_refuses_a_terminal_nonce_of_the_wrong_length(length: int) -> None:
    chip = PACEChip(H1.text("can"), "CAN", _params(H1), rng=fixed(H1["nonce"]))
    chip.set_at(bytes.fromhex("800A") + _params(H1).oid_bytes + bytes.fromhex("830102"))
    chip.general_authenticate(b"\x7c\x00")
    with pytest.raises(ProtocolError, match="nonces"):
        chip.general_authenticate(_dynamic(0x81, bytes(range(length))))
    with pytest.raises(ProtocolError):  # the run is over
        chip.general_authenticate(_dynamic(0x81, H1["terminal_nonce"]))


def test_terminal_refuses_a_chip_nonce_of_the_wrong_length() -> None:
    """A 32-byte s for AES-128 (two blocks) decrypts, but is not the integrated mapping's 16 bytes."""
    k_pi = H1["k_pi"]
    terminal = PACETerminal(H1.text("can"), "CAN", _params(H1), rng=fixed(H1["terminal_nonce"]))
    with pytest.raises(ProtocolError, match="nonce s"):
        terminal.general_authenticate_2(_dynamic(0x80, cbc_encrypt("AES", k_pi, H1["nonce"] * 2)))


def test_terminal_refuses_mapping_data_from_the_chip() -> None:
    terminal = PACETerminal(H1.text("can"), "CAN", _params(H1), rng=fixed(H1["terminal_nonce"]))
    terminal.general_authenticate_2(_dynamic(0x80, H1["encrypted_nonce"]))
    with pytest.raises(ProtocolError, match="DO 82"):
        terminal.general_authenticate_3(_dynamic(0x82, H1["chip_ephemeral_pk"]))


def test_off_curve_ephemeral_key_refused_after_integrated_mapping() -> None:
    terminal = PACETerminal(H1.text("can"), "CAN", _params(H1),
                            rng=fixed(H1["terminal_nonce"], H1["terminal_ephemeral_sk"]))
    terminal.general_authenticate_2(_dynamic(0x80, H1["encrypted_nonce"]))
    terminal.general_authenticate_3(b"\x7c\x00")  # an absent DO 82 is accepted like an empty one
    bad = H1["chip_ephemeral_pk"][:-1] + bytes([H1["chip_ephemeral_pk"][-1] ^ 1])
    with pytest.raises(ProtocolError, match="not on"):
        terminal.general_authenticate_4(_dynamic(0x84, bad))


def test_field_element_outside_the_field_refused() -> None:
    curve = by_name("brainpoolP256r1")
    for bad in (0, curve.p, curve.p + 1):
        with pytest.raises(ProtocolError):
            point_encoding(curve, bad)
    group = modp_group_by_parameter_id(0)
    with pytest.raises(ProtocolError, match="neutral"):
        subgroup_encoding(group, 1)
