"""Chip Authentication with DH keys (ICAO 9303-11 §6.2, id-CA-DH-*): a known answer from App. G.2's numbers,
round trips for 3DES and AES with the key as a cryptography object or as DG14's DHPublicKeyInfo, and refusals
of hostile terminal values and of parameters without a prime-order subgroup."""

from __future__ import annotations

from functools import cache

import pytest
from cryptography.hazmat.primitives.asymmetric import dh
from pace_support import Vector, fixed

from cardlib.curves import MODP_GROUPS
from cardlib.errors import ProtocolError
from cardlib.lds.securityinfo import ChipAuthenticationPublicKeyInfo
from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU
from cardlib.protocols.ca import CAChip, CATerminal, modp_group
from cardlib.protocols.dh import encode_public
from cardlib.protocols.kdf import kdf_enc, kdf_mac
from cardlib.protocols.sm import SecureMessaging

CA_DH = {"3DES": "0.4.0.127.0.7.2.2.3.1.1", "AES-128": "0.4.0.127.0.7.2.2.3.1.2", "AES-256": "0.4.0.127.0.7.2.2.3.1.4"}
G2 = Vector("pace_dh_gm_icao_9303_11_app_g2.json")


@cache
def _key(parameter_id: int = 2) -> dh.DHPrivateKey:
    group = MODP_GROUPS[parameter_id]
    return dh.DHParameterNumbers(group.p, group.g, group.q).parameters().generate_private_key()


def _private(x: int, parameter_id: int) -> dh.DHPrivateKey:
    group = MODP_GROUPS[parameter_id]
    numbers = dh.DHParameterNumbers(group.p, group.g, group.q)
    return dh.DHPrivateNumbers(x, dh.DHPublicNumbers(pow(group.g, x, group.p), numbers)).private_key()


def _exchange(terminal: CATerminal, chip: CAChip) -> tuple[SecureMessaging, SecureMessaging]:
    """The CA commands inside an old AES session; both new sessions."""
    old_terminal = SecureMessaging(bytes(16), bytes(range(16)), 7, "AES")
    old_chip = SecureMessaging(bytes(16), bytes(range(16)), 7, "AES")
    new_chip = None
    for command in terminal.commands():
        plain = old_chip.unprotect_command(CommandAPDU.parse(old_terminal.protect_command(command).encode()))
        response, session = chip.handle(plain)
        assert response.sw == 0x9000
        new_chip = session or new_chip
    assert new_chip is not None
    return terminal.complete(), new_chip


def test_known_answer_from_app_g2() -> None:
    """Static chip key = G.2's chip mapping key, terminal ephemeral = G.2's terminal mapping key: K is G.2's H."""
    chip_key = _private(G2.int("chip_mapping_sk"), 0)
    terminal = CATerminal(chip_key.public_key(), CA_DH["AES-128"], rng=fixed(G2["terminal_mapping_sk"]))
    assert terminal.ephemeral_public_key == G2["terminal_mapping_pk"]
    assert encode_public(chip_key.public_key().public_numbers().y) == G2["chip_mapping_pk"]
    terminal_sm, chip_sm = _exchange(terminal, CAChip(chip_key, CA_DH["AES-128"]))
    select = CommandAPDU.parse(bytes.fromhex("00A4020C02011E"))
    protected = SecureMessaging(kdf_enc(G2["h"], "AES", 128), kdf_mac(G2["h"], "AES", 128), 0, "AES").protect_command(
        select)
    assert terminal_sm.protect_command(select) == protected
    assert chip_sm.unprotect_command(protected).data == select.data


@pytest.mark.parametrize("suite", CA_DH)
@pytest.mark.parametrize("as_info", [False, True], ids=["key-object", "dg14-info"])
def test_round_trip(suite: str, as_info: bool) -> None:
    key = _key()
    public = ChipAuthenticationPublicKeyInfo.for_key(key.public_key()).public_key if as_info else key.public_key()
    terminal_sm, chip_sm = _exchange(CATerminal(public, CA_DH[suite]), CAChip(key, CA_DH[suite]))
    assert terminal_sm.cipher == ("3DES" if suite == "3DES" else "AES")
    assert terminal_sm.unprotect_response(chip_sm.protect_response(ResponseAPDU(b"DG1", 0x9000))).data == b"DG1"


@pytest.mark.parametrize("value", [1, 0, "p-1", "p", 3])
def test_chip_refuses_hostile_terminal_values(value: int | str) -> None:
    group = MODP_GROUPS[2]
    number = {"p-1": group.p - 1, "p": group.p}.get(str(value), value)
    assert isinstance(number, int) and (number < 2 or number > group.p - 2 or pow(number, group.q, group.p) != 1)
    chip = CAChip(_key(), CA_DH["3DES"])
    data = bytes([0x91, 0x82]) + len(encode_public(number)).to_bytes(2, "big") + encode_public(number)
    response, session = chip.handle(CommandAPDU(0x00, 0x22, 0x41, 0xA6, data))
    assert response.sw == 0x6A80 and session is None


def test_mismatched_protocol_and_parameters_refused() -> None:
    with pytest.raises(ProtocolError, match="does not match"):
        CATerminal(_key().public_key(), "0.4.0.127.0.7.2.2.3.2.2")
    with pytest.raises(ProtocolError, match="does not match"):
        CAChip(_key(), "0.4.0.127.0.7.2.2.3.2.2")
    group = MODP_GROUPS[0]
    for q in (None, group.q + 2, 1):
        with pytest.raises(ProtocolError, match="subgroup"):
            modp_group(group.p, group.g, q)
    with pytest.raises(ProtocolError, match="subgroup"):
        modp_group(group.p, group.p - 1, group.q)
