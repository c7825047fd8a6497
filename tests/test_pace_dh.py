"""PACE with DH: ICAO 9303-11 App. G.2 (generic mapping, 1024-bit MODP group) value by value on both sides,
the RFC 5114 groups, round trips for every group and cipher, and hostile DH values."""

from __future__ import annotations

import pytest
from pace_support import Vector, assert_same_session, assert_session_keys, fixed, ga, run

from cardlib.curves import MODP_GROUPS, modp_group_by_parameter_id
from cardlib.errors import PKIError, ProtocolError
from cardlib.protocols import dh
from cardlib.protocols.apdu import ResponseAPDU
from cardlib.protocols.kdf import kdf_enc, kdf_mac, kdf_pi
from cardlib.protocols.pace import PACEChip, PACEParameters, PACETerminal, authentication_token, password_key
from cardlib.protocols.sm import cbc_decrypt, cbc_encrypt

G2 = Vector("pace_dh_gm_icao_9303_11_app_g2.json")
PARAMS = PACEParameters(G2.text("protocol"), G2.text("parameter_id"))
GROUP = modp_group_by_parameter_id(0)


def _terminal() -> PACETerminal:
    return PACETerminal(G2.text("mrz_information"), "MRZ", PARAMS,
                        rng=fixed(G2["terminal_mapping_sk"], G2["terminal_ephemeral_sk"]))


def _chip() -> PACEChip:
    chip = PACEChip(G2.text("mrz_information"), "MRZ", PARAMS,
                    rng=fixed(G2["nonce"], G2["chip_mapping_sk"], G2["chip_ephemeral_sk"]))
    chip.set_at(G2.command_data("mse_set_at"))
    return chip


def test_rfc5114_groups() -> None:
    """Parameter IDs 0-2: p and q of the announced sizes, g of order q, the G.2 group is ID 0."""
    sizes = [(group.p.bit_length(), group.q.bit_length()) for group in MODP_GROUPS]
    assert sizes == [(1024, 160), (2048, 224), (2048, 256)]
    for group in MODP_GROUPS:
        assert (group.p - 1) % group.q == 0 and pow(group.g, group.q, group.p) == 1 and group.g != 1
    assert PARAMS.group.modulus == GROUP.p and PARAMS.group.generator() == GROUP.g
    with pytest.raises(PKIError):
        modp_group_by_parameter_id(3)


def test_g2_password_nonce_and_pace_info() -> None:
    k_pi = kdf_pi(password_key(G2.text("mrz_information"), "MRZ"), "AES", 128)
    assert k_pi == G2["k_pi"]
    assert cbc_decrypt("AES", k_pi, G2["encrypted_nonce"]) == G2["nonce"]
    assert cbc_encrypt("AES", k_pi, G2["nonce"]) == G2["encrypted_nonce"]
    assert G2["pace_info"] == bytes.fromhex("3012060A") + PARAMS.oid_bytes + bytes.fromhex("020102020100")


def test_g2_group_arithmetic() -> None:
    """Every intermediate of the mapping and the key agreement, from the private keys."""
    g, p = GROUP.g, GROUP.p
    assert dh.encode_public(pow(g, G2.int("terminal_mapping_sk"), p)) == G2["terminal_mapping_pk"]
    assert dh.encode_public(pow(g, G2.int("chip_mapping_sk"), p)) == G2["chip_mapping_pk"]
    h = pow(dh.decode_public(GROUP, G2["chip_mapping_pk"]), G2.int("terminal_mapping_sk"), p)
    assert h == pow(dh.decode_public(GROUP, G2["terminal_mapping_pk"]), G2.int("chip_mapping_sk"), p) == G2.int("h")
    mapped = pow(g, G2.int("nonce"), p) * h % p
    assert mapped == G2.int("mapped_generator")
    assert dh.encode_public(pow(mapped, G2.int("terminal_ephemeral_sk"), p)) == G2["terminal_ephemeral_pk"]
    assert dh.encode_public(pow(mapped, G2.int("chip_ephemeral_sk"), p)) == G2["chip_ephemeral_pk"]
    secret = dh.shared_secret(GROUP, G2.int("terminal_ephemeral_sk"), G2.int("chip_ephemeral_pk"))
    assert secret == dh.shared_secret(GROUP, G2.int("chip_ephemeral_sk"), G2.int("terminal_ephemeral_pk"))
    assert secret == G2["shared_secret"]
    assert kdf_enc(secret, "AES", 128) == G2["ks_enc"] and kdf_mac(secret, "AES", 128) == G2["ks_mac"]


def test_g2_tokens() -> None:
    """Token inputs carry the peer's public value under tag 84 (7F49 81 8F …)."""
    assert G2["t_ifd_input"].endswith(bytes.fromhex("848180") + G2["chip_ephemeral_pk"])
    assert authentication_token(PARAMS, G2["ks_mac"], G2["chip_ephemeral_pk"]) == G2["t_ifd"]
    assert authentication_token(PARAMS, G2["ks_mac"], G2["terminal_ephemeral_pk"]) == G2["t_ic"]


def test_terminal_reproduces_g2() -> None:
    terminal = _terminal()
    assert ga(terminal.general_authenticate_1()) == G2.apdu("ga1_command")
    assert ga(terminal.general_authenticate_2(G2.response_data("ga1_response"))) == G2.apdu("ga2_command")
    assert ga(terminal.general_authenticate_3(G2.response_data("ga2_response"))) == G2.apdu("ga3_command")
    assert terminal.mapped_generator == G2["mapped_generator"]
    assert ga(terminal.general_authenticate_4(G2.response_data("ga3_response")), last=True) == G2.apdu("ga4_command")
    assert_session_keys(terminal.complete(G2.response_data("ga4_response")), G2["ks_enc"], G2["ks_mac"])
    assert terminal.set_at_data(include_parameter_id=False) == G2.command_data("mse_set_at")


def test_chip_reproduces_g2() -> None:
    """The chip answers ICAO's responses; in step 4 ICAO's chip also sends a CAR (DO 87), ours only T_IC."""
    chip = _chip()
    for step in ("ga1", "ga2", "ga3"):
        response = chip.general_authenticate(G2.command_data(f"{step}_command"))
        assert ResponseAPDU(response, 0x9000).encode() == G2.apdu(f"{step}_response"), step
    assert chip.mapped_generator == G2["mapped_generator"]
    assert chip.general_authenticate(G2.command_data("ga4_command")) == bytes.fromhex("7C0A8608") + G2["t_ic"]
    assert_session_keys(chip.secure_messaging, G2["ks_enc"], G2["ks_mac"])


SUITES = {"3DES": "1", "AES-128": "2", "AES-192": "3", "AES-256": "4"}


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("parameter_id", [0, 1, 2])
def test_round_trip_every_group_and_cipher(suite: str, parameter_id: int) -> None:
    params = PACEParameters(f"0.4.0.127.0.7.2.2.4.1.{SUITES[suite]}", parameter_id)
    chip = PACEChip("001044", "CAN", params)
    terminal_sm = run(PACETerminal("001044", "CAN", params), chip)
    assert terminal_sm.cipher == params.cipher
    assert_same_session(terminal_sm, chip)


def _bad_values() -> list[bytes]:
    p, q = GROUP.p, GROUP.q
    assert pow(3, q, p) != 1  # 3 generates more than the order-q subgroup
    return [b"", b"\x00", b"\x01", dh.encode_public(p - 1), dh.encode_public(p), dh.encode_public(p + 5),
            b"\x03", b"\x01" + bytes(GROUP.field_bytes)]


@pytest.mark.parametrize("bad", _bad_values(), ids=["empty", "0", "1", "p-1", "p", "p+5", "not-in-subgroup",
                                                    "too-long"])
def test_dh_values_outside_the_subgroup_are_refused(bad: bytes) -> None:
    with pytest.raises(ProtocolError):
        dh.decode_public(GROUP, bad)
    chip = _chip()
    chip.general_authenticate(b"\x7c\x00")
    with pytest.raises(ProtocolError):  # as mapping key
        chip.general_authenticate(b"\x7c" + bytes([len(bad) + 2]) + b"\x81" + bytes([len(bad)]) + bad)
    terminal = _terminal()
    terminal.general_authenticate_2(G2.response_data("ga1_response"))
    terminal.general_authenticate_3(G2.response_data("ga2_response"))
    with pytest.raises(ProtocolError):  # as ephemeral key
        terminal.general_authenticate_4(b"\x7c" + bytes([len(bad) + 2]) + b"\x84" + bytes([len(bad)]) + bad)


def test_reflected_dh_key_and_broken_run() -> None:
    chip = _chip()
    chip.general_authenticate(G2.command_data("ga1_command"))
    chip.general_authenticate(G2.command_data("ga2_command"))
    reflected = G2["chip_ephemeral_pk"]
    with pytest.raises(ProtocolError):
        chip.general_authenticate(b"\x7c\x81\x83\x83\x81\x80" + reflected)
    with pytest.raises(ProtocolError):  # reset: a new MSE:Set AT is needed
        chip.general_authenticate(G2.command_data("ga3_command"))


def test_wrong_password_fails_at_the_token() -> None:
    params = PACEParameters("0.4.0.127.0.7.2.2.4.1.2", 0)
    chip = PACEChip("123456", "CAN", params)
    with pytest.raises(ProtocolError, match="token"):
        run(PACETerminal("123457", "CAN", params), chip)
    assert chip.secure_messaging is None


@pytest.mark.parametrize(("protocol", "parameter_id"), [("0.4.0.127.0.7.2.2.4.1.2", 13),
                                                        ("0.4.0.127.0.7.2.2.4.1.2", 3),
                                                        ("0.4.0.127.0.7.2.2.4.1.5", 0),
                                                        ("0.4.0.127.0.7.2.2.4.6.1", 13),
                                                        ("0.4.0.127.0.7.2.2.3.1.2", 0)])
def test_unsupported_pairs(protocol: str, parameter_id: int) -> None:
    """A curve ID for DH, an RFU ID, unknown suites, CAM with 3DES (none defined), a CA OID: typed errors."""
    with pytest.raises(ProtocolError):
        PACEParameters(protocol, parameter_id)


def test_dh_private_exponent_draw_is_bounded() -> None:
    """A random source that never yields a value below q is refused, not looped on forever."""
    with pytest.raises(ProtocolError):
        dh.random_exponent(GROUP, lambda length: b"\xff" * length)
