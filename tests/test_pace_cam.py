"""PACE with Chip Authentication Mapping: ICAO 9303-11 App. I.1 (ECDH, brainpoolP256r1, AES-128) value by value on
both sides — the generic mapping, the tokens, A_IC = E(KSenc, CA_IC) and the terminal's check against the static
key of EF.CardSecurity — round trips for every AES size, and the failures: a chip without the key, a forged or
missing A_IC, a static key that is not the chip's."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from pace_support import Vector, assert_same_session, assert_session_keys, fixed, ga, run, scalar

from cardlib.curves import Curve, by_name, by_parameter_id
from cardlib.errors import ProtocolError
from cardlib.lds.asn1 import ECPublicKeyInfo
from cardlib.lds.securityinfo import ChipAuthenticationPublicKeyInfo, decode_security_info
from cardlib.protocols import ecpoint
from cardlib.protocols.apdu import ResponseAPDU
from cardlib.protocols.kdf import kdf_enc, kdf_mac, kdf_pi
from cardlib.protocols.pace import PACEChip, PACEParameters, PACETerminal, authentication_token, cam, password_key
from cardlib.protocols.sm import cbc_decrypt, ecb_encrypt_block

I1 = Vector("pace_ecdh_cam_icao_9303_11_app_i1.json")
PARAMS = PACEParameters(I1.text("protocol"), I1.text("parameter_id"))
CURVE = by_parameter_id(13)


def _static_private() -> int:
    """SK_IC = SK_Map,IC · CA_IC⁻¹ mod n: the appendix gives CA_IC and SK_Map,IC but not SK_IC."""
    return I1.int("chip_mapping_sk") * pow(I1.int("chip_authentication_data"), -1, CURVE.n) % CURVE.n


def _terminal() -> PACETerminal:
    return PACETerminal(I1.text("mrz_information"), "MRZ", PARAMS,
                        rng=fixed(I1["terminal_mapping_sk"], I1["terminal_ephemeral_sk"]))


def _completed_terminal() -> PACETerminal:
    terminal = _terminal()
    terminal.general_authenticate_2(I1.response_data("ga1_response"))
    terminal.general_authenticate_3(I1.response_data("ga2_response"))
    terminal.general_authenticate_4(I1.response_data("ga3_response"))
    terminal.complete(I1.response_data("ga4_response"))
    return terminal


def _chip(key: ec.EllipticCurvePrivateKey | int) -> PACEChip:
    """The chip of the appendix; its ephemeral key CD626EF3… exceeds n and is drawn reduced modulo n."""
    chip = PACEChip(I1.text("mrz_information"), "MRZ", PARAMS, chip_key=key,
                    rng=fixed(I1["nonce"], I1["chip_mapping_sk"], scalar(I1.int("chip_ephemeral_sk"), CURVE.n)))
    chip.set_at(I1.command_data("mse_set_at"))
    return chip


def test_password_and_nonce() -> None:
    k = password_key(I1.text("mrz_information"), "MRZ")
    assert k == I1["k_seed"] and kdf_pi(k, "AES", 128) == I1["k_pi"]
    assert cbc_decrypt("AES", I1["k_pi"], I1["encrypted_nonce"]) == I1["nonce"]


def test_mapping_agreement_and_tokens() -> None:
    g = ecpoint.generator(CURVE)
    for side in ("terminal", "chip"):
        assert ecpoint.encode_point(CURVE, g * I1.int(f"{side}_mapping_sk")) == I1[f"{side}_mapping_pk"]
    h = ecpoint.decode_point(CURVE, I1["chip_mapping_pk"]) * I1.int("terminal_mapping_sk")
    assert ecpoint.encode_point(CURVE, h) == I1["h"]
    mapped = ecpoint.add(g * I1.int("nonce"), h)
    assert ecpoint.encode_point(CURVE, mapped) == I1["mapped_generator"]
    for side in ("terminal", "chip"):
        assert ecpoint.encode_point(CURVE, mapped * I1.int(f"{side}_ephemeral_sk")) == I1[f"{side}_ephemeral_pk"]
    secret = ecpoint.shared_secret(CURVE, I1.int("chip_ephemeral_sk"), I1["terminal_ephemeral_pk"])
    assert secret == I1["shared_secret"]
    assert kdf_enc(secret, "AES", 128) == I1["ks_enc"] and kdf_mac(secret, "AES", 128) == I1["ks_mac"]
    assert authentication_token(PARAMS, I1["ks_mac"], I1["chip_ephemeral_pk"]) == I1["t_ifd"]
    assert authentication_token(PARAMS, I1["ks_mac"], I1["terminal_ephemeral_pk"]) == I1["t_ic"]


def test_chip_authentication_data() -> None:
    """IV = E(KSenc, -1), A_IC decrypts to CA_IC, CA_IC · PK_IC = PK_Map,IC; the derived SK_IC is PK_IC's."""
    assert ecb_encrypt_block("AES", I1["ks_enc"], b"\xff" * 16) == I1["chip_authentication_iv"]
    decrypted = cam.decrypt_chip_authentication_data(CURVE, I1["ks_enc"], I1["encrypted_chip_authentication_data"])
    assert decrypted == I1["chip_authentication_data"]
    cam.verify_chip_authentication(CURVE, decrypted, I1["chip_static_pk"], I1["chip_mapping_pk"])
    static = _static_private()
    assert ecpoint.encode_point(CURVE, ecpoint.generator(CURVE) * static) == I1["chip_static_pk"]
    assert cam.chip_authentication_data(CURVE, static, I1.int("chip_mapping_sk")) == decrypted
    assert cam.encrypt_chip_authentication_data(I1["ks_enc"], decrypted) == I1["encrypted_chip_authentication_data"]


def test_static_key_from_the_published_public_key_info() -> None:
    info = decode_security_info(I1["chip_authentication_public_key_info"], file="EF.CardSecurity")
    assert isinstance(info, ChipAuthenticationPublicKeyInfo) and info.key_id == 13
    terminal = _completed_terminal()
    assert isinstance(info.public_key, ECPublicKeyInfo)
    terminal.verify_chip_authentication(info.public_key)


def test_terminal_reproduces_i1() -> None:
    terminal = _terminal()
    assert terminal.set_at_data(include_parameter_id=False) == I1.command_data("mse_set_at")
    assert ga(terminal.general_authenticate_1()) == I1.apdu("ga1_command")
    assert ga(terminal.general_authenticate_2(I1.response_data("ga1_response"))) == I1.apdu("ga2_command")
    assert ga(terminal.general_authenticate_3(I1.response_data("ga2_response"))) == I1.apdu("ga3_command")
    assert terminal.mapped_generator == I1["mapped_generator"]
    assert ga(terminal.general_authenticate_4(I1.response_data("ga3_response")), last=True) == I1.apdu("ga4_command")
    assert terminal.chip_authentication_data is None
    assert_session_keys(terminal.complete(I1.response_data("ga4_response")), I1["ks_enc"], I1["ks_mac"])
    assert terminal.chip_authentication_data == I1["chip_authentication_data"]
    terminal.verify_chip_authentication(I1["chip_static_pk"])
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.BrainpoolP256R1(), I1["chip_static_pk"])
    terminal.verify_chip_authentication(public)


@pytest.mark.parametrize("as_object", [False, True], ids=["scalar", "key-object"])
def test_chip_reproduces_i1(as_object: bool) -> None:
    """Every response of the appendix, the last one with ICAO's encrypted chip authentication data."""
    key = ec.derive_private_key(_static_private(), ec.BrainpoolP256R1()) if as_object else _static_private()
    chip = _chip(key)
    for step in ("ga1", "ga2", "ga3", "ga4"):
        response = chip.general_authenticate(I1.command_data(f"{step}_command"))
        assert ResponseAPDU(response, 0x9000).encode() == I1.apdu(f"{step}_response"), step
    assert chip.mapped_generator == I1["mapped_generator"]
    assert_session_keys(chip.secure_messaging, I1["ks_enc"], I1["ks_mac"])


def test_another_static_key_is_refused() -> None:
    """A genuine-looking point that is not the chip's key (G.1's chip mapping key): the chip is not that chip."""
    terminal = _completed_terminal()
    with pytest.raises(ProtocolError, match="does not match"):
        terminal.verify_chip_authentication(I1["terminal_mapping_pk"])
    off_curve = I1["chip_static_pk"][:-1] + bytes([I1["chip_static_pk"][-1] ^ 1])
    with pytest.raises(ProtocolError, match="not on"):
        terminal.verify_chip_authentication(off_curve)
    other_curve = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(ProtocolError, match="secp256r1"):
        terminal.verify_chip_authentication(other_curve)


def test_forged_or_missing_chip_authentication_data() -> None:
    terminal = _terminal()
    terminal.general_authenticate_2(I1.response_data("ga1_response"))
    terminal.general_authenticate_3(I1.response_data("ga2_response"))
    terminal.general_authenticate_4(I1.response_data("ga3_response"))
    token = bytes.fromhex("8608") + I1["t_ic"]
    with pytest.raises(ProtocolError, match="8A"):
        terminal.complete(bytes([0x7C, len(token)]) + token)
    forged = I1["encrypted_chip_authentication_data"][:-1] + b"\x00"
    with pytest.raises(ProtocolError):
        terminal.complete(bytes([0x7C, len(token) + 2 + len(forged)]) + token + bytes([0x8A, len(forged)]) + forged)
    short = cam.encrypt_chip_authentication_data(I1["ks_enc"], I1["chip_authentication_data"][:31])
    with pytest.raises(ProtocolError, match="31 bytes"):
        terminal.complete(bytes([0x7C, len(token) + 2 + len(short)]) + token + bytes([0x8A, len(short)]) + short)
    zero = cam.encrypt_chip_authentication_data(I1["ks_enc"], bytes(32))
    terminal.complete(bytes([0x7C, len(token) + 2 + len(zero)]) + token + bytes([0x8A, len(zero)]) + zero)
    with pytest.raises(ProtocolError, match="scalar"):
        terminal.verify_chip_authentication(I1["chip_static_pk"])


def test_verification_needs_a_completed_cam() -> None:
    with pytest.raises(ProtocolError, match="not completed"):
        _terminal().verify_chip_authentication(I1["chip_static_pk"])
    generic = PACETerminal("001044", "CAN", PACEParameters("0.4.0.127.0.7.2.2.4.2.2", 13))
    with pytest.raises(ProtocolError, match="not completed"):
        generic.verify_chip_authentication(I1["chip_static_pk"])


def test_chip_needs_its_key_on_the_right_curve() -> None:
    with pytest.raises(ProtocolError, match="needs"):
        PACEChip("001044", "CAN", PARAMS)
    with pytest.raises(ProtocolError, match="not on"):
        PACEChip("001044", "CAN", PARAMS, chip_key=ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(ProtocolError, match="outside"):
        PACEChip("001044", "CAN", PARAMS, chip_key=CURVE.n)


CAM_CURVES = [by_name(name) for name in ("brainpoolP192r1", "secp224r1", "brainpoolP256r1", "secp384r1",
                                         "brainpoolP512r1")]


@pytest.mark.parametrize("suite", ["2", "3", "4"], ids=["AES-128", "AES-192", "AES-256"])
@pytest.mark.parametrize("curve", CAM_CURVES, ids=[curve.name for curve in CAM_CURVES])
def test_round_trip(suite: str, curve: Curve) -> None:
    params = PACEParameters(f"0.4.0.127.0.7.2.2.4.6.{suite}", curve.parameter_id or 0)
    static = ecpoint.random_scalar(curve, os.urandom)
    chip = PACEChip("T22000129364081251010318", "MRZ", params, chip_key=static)
    terminal = PACETerminal("T22000129364081251010318", "MRZ", params)
    assert_same_session(run(terminal, chip), chip)
    terminal.verify_chip_authentication(ecpoint.encode_point(curve, ecpoint.generator(curve) * static))
    with pytest.raises(ProtocolError):
        terminal.verify_chip_authentication(ecpoint.encode_point(curve, ecpoint.generator(curve) * (static + 1)))
