"""PACE ECDH generic mapping: ICAO 9303-11 App. G.1 reproduced on both sides, round trips, rejections."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vectors import vector_json

from cardlib.curves import CURVES, Curve, by_parameter_id
from cardlib.errors import CardlibError, ProtocolError
from cardlib.protocols import ecpoint
from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU
from cardlib.protocols.kdf import kdf_pi
from cardlib.protocols.pace import PACEChip, PACEParameters, PACETerminal, authentication_token, password_key
from cardlib.protocols.sm import SecureMessaging, cbc_decrypt

V: dict[str, Any] = vector_json("pace_ecdh_gm_icao_9303_11_app_g1.json")
PARAMS = PACEParameters(V["protocol"], V["parameter_id"])
CURVE = by_parameter_id(13)


def _h(name: str) -> bytes:
    return bytes.fromhex(V[name])


def _apdu(name: str) -> bytes:
    return bytes.fromhex(V["apdus"][name])


def _fixed(*values: bytes) -> Callable[[int], bytes]:
    queue = list(values)
    return lambda length: queue.pop(0)


def _terminal() -> PACETerminal:
    return PACETerminal(V["mrz_information"], "MRZ", PARAMS,
                        rng=_fixed(_h("terminal_mapping_sk"), _h("terminal_ephemeral_sk")))


def _chip() -> PACEChip:
    chip = PACEChip(V["mrz_information"], "MRZ", PARAMS,
                    rng=_fixed(_h("nonce"), _h("chip_mapping_sk"), _h("chip_ephemeral_sk")))
    chip.set_at(CommandAPDU.parse(_apdu("mse_set_at_icao")).data)
    return chip


def _ga(data: bytes, last: bool = False) -> bytes:
    return CommandAPDU(0x00 if last else 0x10, 0x86, 0, 0, data, 256).encode()


def _assert_session(sm: SecureMessaging | None) -> None:
    """Equal to App. G.1's KSenc/KSmac with SSC 0: protects a command exactly as a reference session."""
    reference = SecureMessaging(_h("ks_enc"), _h("ks_mac"), 0, "AES")
    assert sm is not None and sm.ssc == 0 and sm.cipher == "AES"
    select = CommandAPDU.parse(bytes.fromhex("00A4020C02011E"))
    assert sm.protect_command(select) == reference.protect_command(select)


def test_password_key_and_nonce() -> None:
    k = password_key(V["mrz_information"], "MRZ")
    assert k == _h("k_seed")
    assert kdf_pi(k, "AES", 128) == _h("k_pi")
    assert cbc_decrypt("AES", _h("k_pi"), _h("encrypted_nonce")) == _h("nonce")
    assert password_key("123456", "CAN") == b"123456"


def test_mapping_intermediates() -> None:
    g = ecpoint.generator(CURVE)
    sk_t, sk_c = int.from_bytes(_h("terminal_mapping_sk"), "big"), int.from_bytes(_h("chip_mapping_sk"), "big")
    assert ecpoint.encode_point(CURVE, ecpoint.multiply(g, sk_t)) == _h("terminal_mapping_pk")
    assert ecpoint.encode_point(CURVE, ecpoint.multiply(g, sk_c)) == _h("chip_mapping_pk")
    h = ecpoint.multiply(ecpoint.decode_point(CURVE, _h("chip_mapping_pk")), sk_t)
    assert ecpoint.encode_point(CURVE, h) == _h("h")
    mapped = ecpoint.add(ecpoint.multiply(g, int.from_bytes(_h("nonce"), "big")), h)
    assert ecpoint.encode_point(CURVE, mapped) == _h("mapped_generator")
    secret = ecpoint.shared_secret(CURVE, int.from_bytes(_h("terminal_ephemeral_sk"), "big"), _h("chip_ephemeral_pk"))
    assert secret == _h("shared_secret")


def test_tokens() -> None:
    assert authentication_token(PARAMS, _h("ks_mac"), _h("chip_ephemeral_pk")) == _h("t_ifd")
    assert authentication_token(PARAMS, _h("ks_mac"), _h("terminal_ephemeral_pk")) == _h("t_ic")
    assert bytes.fromhex(V["t_ifd_input"]).endswith(_h("chip_ephemeral_pk")[1:])


def test_set_at_data_both_forms() -> None:
    terminal = _terminal()
    assert CommandAPDU(0x00, 0x22, 0xC1, 0xA4, terminal.set_at_data()).encode() == _apdu(
        "mse_set_at_with_parameter_id")
    assert CommandAPDU(0x00, 0x22, 0xC1, 0xA4, terminal.set_at_data(include_parameter_id=False)).encode() == _apdu(
        "mse_set_at_icao")


def test_terminal_reproduces_app_g1() -> None:
    terminal = _terminal()
    assert _ga(terminal.general_authenticate_1()) == _apdu("ga1_command")
    ga2 = terminal.general_authenticate_2(ResponseAPDU.parse(_apdu("ga1_response")).data)
    assert _ga(ga2) == _apdu("ga2_command")
    ga3 = terminal.general_authenticate_3(ResponseAPDU.parse(_apdu("ga2_response")).data)
    assert terminal.mapped_generator == _h("mapped_generator")
    assert _ga(ga3) == _apdu("ga3_command")
    ga4 = terminal.general_authenticate_4(ResponseAPDU.parse(_apdu("ga3_response")).data)
    assert _ga(ga4, last=True) == _apdu("ga4_command")
    _assert_session(terminal.complete(ResponseAPDU.parse(_apdu("ga4_response")).data))


def test_chip_reproduces_app_g1() -> None:
    chip = _chip()
    for step in ("ga1", "ga2", "ga3", "ga4"):
        response = chip.general_authenticate(CommandAPDU.parse(_apdu(f"{step}_command")).data)
        assert ResponseAPDU(response, 0x9000).encode() == _apdu(f"{step}_response"), step
        if step == "ga2":
            assert chip.mapped_generator == _h("mapped_generator")
    _assert_session(chip.secure_messaging)


def _run(terminal: PACETerminal, chip: PACEChip) -> SecureMessaging:
    chip.set_at(terminal.set_at_data())
    response = chip.general_authenticate(terminal.general_authenticate_1())
    response = chip.general_authenticate(terminal.general_authenticate_2(response))
    response = chip.general_authenticate(terminal.general_authenticate_3(response))
    response = chip.general_authenticate(terminal.general_authenticate_4(response))
    return terminal.complete(response)


SUITES = {"3DES": "1", "AES-128": "2", "AES-192": "3", "AES-256": "4"}


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("parameter_id", [13, 12, 15])  # brainpoolP256r1, NIST P-256, NIST P-384
@pytest.mark.parametrize(("password", "kind"), [("001044", "CAN"), ("T22000129364081251010318", "MRZ")])
def test_round_trip(suite: str, parameter_id: int, password: str, kind: Literal["CAN", "MRZ"]) -> None:
    params = PACEParameters(f"0.4.0.127.0.7.2.2.4.2.{SUITES[suite]}", parameter_id)
    chip = PACEChip(password, kind, params)
    terminal_sm = _run(PACETerminal(password, kind, params), chip)
    chip_sm = chip.secure_messaging
    assert chip_sm is not None and terminal_sm.cipher == params.cipher
    command = chip_sm.unprotect_command(terminal_sm.protect_command(CommandAPDU(0, 0xB0, 0, 0, le=5)))
    assert command.le == 5
    assert terminal_sm.unprotect_response(chip_sm.protect_response(ResponseAPDU(b"DG13", 0x9000))).data == b"DG13"


def test_wrong_password_fails_at_step_4() -> None:
    chip = PACEChip("123456", "CAN", PARAMS)
    with pytest.raises(ProtocolError):
        _run(PACETerminal("123457", "CAN", PARAMS), chip)
    assert chip.secure_messaging is None
    with pytest.raises(ProtocolError):  # the chip has reset: a new MSE:Set AT is needed
        chip.general_authenticate(b"\x7c\x00")


def test_tampered_chip_token_rejected() -> None:
    terminal = _terminal()
    terminal.general_authenticate_2(ResponseAPDU.parse(_apdu("ga1_response")).data)
    terminal.general_authenticate_3(ResponseAPDU.parse(_apdu("ga2_response")).data)
    terminal.general_authenticate_4(ResponseAPDU.parse(_apdu("ga3_response")).data)
    with pytest.raises(ProtocolError):
        terminal.complete(bytes.fromhex("7C0A86083ABB9674BCE93C09"))


def _off_curve(point: bytes) -> bytes:
    return point[:-1] + bytes([point[-1] ^ 1])


def test_off_curve_and_infinity_mapping_keys_rejected_by_chip() -> None:
    for bad in (_off_curve(_h("terminal_mapping_pk")), b"\x00", _h("terminal_mapping_pk")[:33]):
        chip = _chip()
        chip.general_authenticate(b"\x7c\x00")
        with pytest.raises(ProtocolError):
            chip.general_authenticate(b"\x7c" + bytes([len(bad) + 2]) + b"\x81" + bytes([len(bad)]) + bad)


def test_off_curve_ephemeral_key_rejected_by_terminal() -> None:
    terminal = _terminal()
    terminal.general_authenticate_2(ResponseAPDU.parse(_apdu("ga1_response")).data)
    terminal.general_authenticate_3(ResponseAPDU.parse(_apdu("ga2_response")).data)
    bad = _off_curve(_h("chip_ephemeral_pk"))
    with pytest.raises(ProtocolError):
        terminal.general_authenticate_4(b"\x7c\x43\x84\x41" + bad)


def test_reflected_ephemeral_key_rejected() -> None:
    chip = _chip()
    chip.general_authenticate(CommandAPDU.parse(_apdu("ga1_command")).data)
    chip.general_authenticate(CommandAPDU.parse(_apdu("ga2_command")).data)
    with pytest.raises(ProtocolError):
        chip.general_authenticate(b"\x7c\x43\x83\x41" + _h("chip_ephemeral_pk"))


@pytest.mark.parametrize("data", ["800A04007F0007020204020283010184010C", "800A04007F00070202040202830102",
                                  "800A04007F00070202040203830101", "830101", "80"])
def test_set_at_refuses_what_the_chip_does_not_offer(data: str) -> None:
    chip = PACEChip(V["mrz_information"], "MRZ", PARAMS)
    with pytest.raises(ProtocolError):
        chip.set_at(bytes.fromhex(data))


@pytest.mark.parametrize(("protocol", "parameter_id"), [("0.4.0.127.0.7.2.2.4.1.2", 13),
                                                        ("0.4.0.127.0.7.2.2.4.2.5", 13),
                                                        ("0.4.0.127.0.7.2.2.4.2.2", 2)])
def test_unsupported_parameters(protocol: str, parameter_id: int) -> None:
    with pytest.raises(ProtocolError):
        PACEParameters(protocol, parameter_id)


def test_terminal_steps_out_of_order_rejected() -> None:
    with pytest.raises(ProtocolError):
        _terminal().complete(ResponseAPDU.parse(_apdu("ga4_response")).data)
    with pytest.raises(ProtocolError):
        _terminal().general_authenticate_4(ResponseAPDU.parse(_apdu("ga3_response")).data)


def test_repr_hides_password() -> None:
    assert "T22000129" not in repr(_terminal()) and "T22000129" not in repr(_chip())


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=80))
def test_garbage_to_chip_raises_only_cardlib_errors(data: bytes) -> None:
    chip = _chip()
    chip.general_authenticate(CommandAPDU.parse(_apdu("ga1_command")).data)
    with pytest.raises(CardlibError):
        chip.general_authenticate(data)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=80))
def test_garbage_to_terminal_raises_only_cardlib_errors(data: bytes) -> None:
    with pytest.raises(CardlibError):
        _terminal().general_authenticate_3(data)


STANDARDIZED_CURVES = [curve for curve in CURVES if curve.parameter_id is not None]


@pytest.mark.parametrize("curve", STANDARDIZED_CURVES, ids=[curve.name for curve in STANDARDIZED_CURVES])
def test_generic_mapping_on_every_standardized_curve(curve: Curve) -> None:
    """IDs 8-18, P-521 included (its 521-bit order once made the scalar draw fail most of the time)."""
    params = PACEParameters("0.4.0.127.0.7.2.2.4.2.2", curve.parameter_id or 0)
    chip = PACEChip("001044", "CAN", params)
    terminal_sm = _run(PACETerminal("001044", "CAN", params), chip)
    chip_sm = chip.secure_messaging
    assert chip_sm is not None
    assert terminal_sm.unprotect_response(chip_sm.protect_response(ResponseAPDU(b"DG1", 0x9000))).data == b"DG1"


def test_scalar_draw_masks_excess_bits() -> None:
    """A draw for P-521 reads 66 bytes; the 7 bits above n's 521 are dropped, not rejected."""
    curve = by_parameter_id(18)
    assert ecpoint.random_scalar(curve, lambda length: b"\xfe" + bytes(length - 2) + b"\x01") == (
        int.from_bytes(b"\xfe" + bytes(64) + b"\x01", "big") & ((1 << 521) - 1))
