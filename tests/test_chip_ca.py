"""Chip Authentication on the virtual chip: after PACE (AES) and BAC (3DES), the key switch of ICAO 9303-11
§6.2 (answer under the old keys, then new keys with SSC 0), refusals and hostile MSE/GENERAL AUTHENTICATE."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardlib.card.image import CardImage, ChipSecrets
from cardlib.card.perso import ChipProfile
from cardlib.chip.chip import VirtualChip
from cardlib.chip.options import ChipOptions
from cardlib.lds.asn1 import ECPublicKeyInfo
from cardlib.lds.files import EMRTD_AID
from cardlib.lds.oids import protocol_oid
from cardlib.lds.securityinfo import DG14, CardAccess, ChipAuthenticationInfo, ChipAuthenticationPublicKeyInfo
from cardlib.lds.tlv import encode_tlv
from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU
from cardlib.protocols.bac import BACTerminal
from cardlib.protocols.ca import CATerminal
from cardlib.protocols.pace import PACEParameters, PACETerminal
from cardlib.protocols.sm import SecureMessaging
from cardlib.testing.cards import sample_card_image

SELECT_AID = CommandAPDU(0x00, 0xA4, 0x04, 0x0C, EMRTD_AID)
SELECT_DG1 = CommandAPDU(0x00, 0xA4, 0x02, 0x0C, b"\x01\x01")
CA_AES_128 = protocol_oid("id-CA-ECDH-AES-CBC-CMAC-128")
CA_3DES = protocol_oid("id-CA-ECDH-3DES-CBC-CBC")


@cache
def aes_card() -> CardImage:
    """The default synthetic CCCD: PACE on brainpoolP256r1, CA id-CA-ECDH-AES-CBC-CMAC-128."""
    return sample_card_image()


@cache
def des_card() -> CardImage:
    """A synthetic card whose DG14 announces id-CA-ECDH-3DES-CBC-CBC."""
    return sample_card_image(1, profile=ChipProfile(ca_protocol=CA_3DES))


def send(chip: VirtualChip, cmd: CommandAPDU | bytes) -> ResponseAPDU:
    return ResponseAPDU.parse(chip.process(cmd if isinstance(cmd, bytes) else cmd.encode()))


def secure(chip: VirtualChip, sm: SecureMessaging, cmd: CommandAPDU) -> ResponseAPDU:
    return sm.unprotect_response(send(chip, sm.protect_command(cmd)))


def pace(chip: VirtualChip, image: CardImage) -> SecureMessaging:
    """PACE-CAN with the PACEInfo of the card's EF.CardAccess, as a terminal runs it."""
    assert image.secrets is not None
    info = CardAccess.decode(image.files["EF.CardAccess"]).pace_infos[0]
    assert info.parameter_id is not None
    terminal = PACETerminal(image.secrets.can, "CAN", PACEParameters(info.protocol, info.parameter_id))
    assert send(chip, CommandAPDU(0x00, 0x22, 0xC1, 0xA4, terminal.set_at_data())).sw == 0x9000
    steps = [terminal.general_authenticate_2, terminal.general_authenticate_3, terminal.general_authenticate_4]
    data = terminal.general_authenticate_1()
    for number, step in enumerate(steps):
        rsp = send(chip, CommandAPDU(0x10, 0x86, 0x00, 0x00, data, le=256))
        assert rsp.sw == 0x9000, f"PACE step {number + 1}: {rsp.sw:04X}"
        data = step(rsp.data)
    rsp = send(chip, CommandAPDU(0x00, 0x86, 0x00, 0x00, data, le=256))
    assert rsp.sw == 0x9000, f"PACE step 4: {rsp.sw:04X}"
    return terminal.complete(rsp.data)


def bac(chip: VirtualChip, image: CardImage) -> SecureMessaging:
    """BAC with the card's MRZ information."""
    assert image.secrets is not None
    assert send(chip, SELECT_AID).sw == 0x9000
    challenge = send(chip, CommandAPDU(0x00, 0x84, 0x00, 0x00, le=8))
    terminal = BACTerminal(image.secrets.mrz_information)
    data = terminal.mutual_authenticate_data(challenge.data)
    answer = send(chip, CommandAPDU(0x00, 0x82, 0x00, 0x00, data, le=40))
    assert answer.sw == 0x9000, f"{answer.sw:04X}"
    return terminal.complete(answer.data)


def ca_terminal(image: CardImage) -> CATerminal:
    """The terminal side keyed with DG14's ChipAuthenticationPublicKeyInfo and ChipAuthenticationInfo."""
    dg14 = DG14.decode(image.files["DG14"])
    key = dg14.chip_authentication_public_key_infos[0].public_key
    assert isinstance(key, ECPublicKeyInfo)
    return CATerminal(key, dg14.chip_authentication_infos[0].protocol)


def run_ca(chip: VirtualChip, sm: SecureMessaging, terminal: CATerminal) -> list[int]:
    """Send the CA commands under ``sm``; the status words of the (old-key protected) answers."""
    return [secure(chip, sm, command).sw for command in terminal.commands()]


def read_dg1(chip: VirtualChip, sm: SecureMessaging) -> bytes:
    assert secure(chip, sm, SELECT_AID).sw == 0x9000
    assert secure(chip, sm, SELECT_DG1).sw == 0x9000
    content = b""
    while True:
        rsp = secure(chip, sm, CommandAPDU(0x00, 0xB0, len(content) >> 8, len(content) & 0xFF, le=0x80))
        if rsp.sw == 0x6B00:
            return content
        assert rsp.sw in (0x9000, 0x6282), f"{rsp.sw:04X}"
        content += rsp.data
        if rsp.sw == 0x6282:
            return content


def off_curve(point: bytes) -> bytes:
    """``point`` with the last coordinate byte changed: same length, no longer on the curve."""
    return point[:-1] + bytes([point[-1] ^ 1])


# -- success ------------------------------------------------------------------------------------------


def test_ca_after_pace_switches_to_aes_keys_with_ssc_zero() -> None:
    image = aes_card()
    chip = VirtualChip(image)
    old = pace(chip, image)
    terminal = ca_terminal(image)
    assert terminal.protocol == CA_AES_128
    assert run_ca(chip, old, terminal) == [0x9000, 0x9000]
    new = terminal.complete()
    assert new.cipher == "AES" and new.ssc == 0
    assert chip.secure_messaging_active
    assert read_dg1(chip, new) == image.files["DG1"]


def test_ca_after_bac_with_3des_uses_mse_set_kat() -> None:
    image = des_card()
    chip = VirtualChip(image, ChipOptions(pace=False))
    old = bac(chip, image)
    terminal = ca_terminal(image)
    commands = terminal.commands()
    assert terminal.protocol == CA_3DES and [(c.ins, c.p1, c.p2) for c in commands] == [(0x22, 0x41, 0xA6)]
    assert run_ca(chip, old, terminal) == [0x9000]
    new = terminal.complete()
    assert new.cipher == "3DES"
    assert read_dg1(chip, new) == image.files["DG1"]


def test_the_ca_answer_is_protected_with_the_old_keys() -> None:
    image = aes_card()
    chip = VirtualChip(image)
    old = pace(chip, image)
    terminal = ca_terminal(image)
    set_at, general_authenticate = terminal.commands()
    assert secure(chip, old, set_at).sw == 0x9000
    answer = send(chip, old.protect_command(general_authenticate))
    assert old.unprotect_response(answer) == ResponseAPDU(b"\x7c\x00", 0x9000)
    new = terminal.complete()
    assert secure(chip, new, SELECT_AID).sw == 0x9000
    assert new.ssc == 2  # one command and one response since the switch: the chip started at 0 as well


def test_reading_with_the_old_keys_after_ca_fails_and_ends_the_session() -> None:
    image = aes_card()
    chip = VirtualChip(image)
    old = pace(chip, image)
    assert run_ca(chip, old, ca_terminal(image)) == [0x9000, 0x9000]
    assert send(chip, old.protect_command(SELECT_AID)).sw == 0x6988
    assert not chip.secure_messaging_active


def test_pace_still_works_after_a_session_with_ca_is_reset() -> None:
    image = aes_card()
    chip = VirtualChip(image)
    assert run_ca(chip, pace(chip, image), ca_terminal(image)) == [0x9000, 0x9000]
    chip.reset()
    fresh = pace(chip, image)
    assert read_dg1(chip, fresh) == image.files["DG1"]


def card_with_dg14(image: CardImage, *infos: ChipAuthenticationInfo, key_id: int | None = None) -> CardImage:
    """``image`` with a DG14 holding its CA public key (under ``key_id``) and just ``infos``, and that key id."""
    assert image.secrets is not None and image.secrets.ca_private_key is not None
    key_info = ChipAuthenticationPublicKeyInfo.for_key(image.secrets.ca_private_key.public_key(), key_id=key_id)
    files = {**image.files, "DG14": DG14((key_info, *infos)).encode()}
    secrets = ChipSecrets(image.secrets.mrz_information, image.secrets.can, image.secrets.aa_private_key,
                          image.secrets.ca_private_key, key_id)
    return CardImage(files, secrets)


def test_protocol_falls_back_to_card_access_then_to_3des() -> None:
    image = card_with_dg14(aes_card())  # DG14 without ChipAuthenticationInfo; EF.CardAccess says AES-128
    assert image.secrets is not None and image.secrets.ca_private_key is not None
    public_key = image.secrets.ca_private_key.public_key()
    chip = VirtualChip(image)
    terminal = CATerminal(public_key, CA_AES_128)
    assert run_ca(chip, pace(chip, image), terminal) == [0x9000, 0x9000]
    assert read_dg1(chip, terminal.complete()) == image.files["DG1"]
    bac_only = VirtualChip(image, ChipOptions(pace=False))  # no EF.CardAccess either: 3DES is implied
    terminal = CATerminal(public_key, CA_3DES)
    assert run_ca(bac_only, bac(bac_only, image), terminal) == [0x9000]
    assert read_dg1(bac_only, terminal.complete()) == image.files["DG1"]


def test_key_id_must_name_the_chips_key() -> None:
    image = card_with_dg14(aes_card(), ChipAuthenticationInfo(CA_AES_128, 1, 7), key_id=7)
    assert image.secrets is not None and image.secrets.ca_private_key is not None
    public_key = image.secrets.ca_private_key.public_key()
    chip = VirtualChip(image)
    sm = pace(chip, image)
    assert run_ca(chip, sm, CATerminal(public_key, CA_AES_128, 8)) == [0x6A88, 0x6985]
    terminal = CATerminal(public_key, CA_AES_128, 7)
    assert run_ca(chip, sm, terminal) == [0x9000, 0x9000]
    assert read_dg1(chip, terminal.complete()) == image.files["DG1"]


def test_a_dh_protocol_leaves_the_chip_without_ca() -> None:
    image = card_with_dg14(aes_card(), ChipAuthenticationInfo(protocol_oid("id-CA-DH-AES-CBC-CMAC-128"), 1))
    chip = VirtualChip(image)
    sm = pace(chip, image)
    assert run_ca(chip, sm, ca_terminal(aes_card())) == [0x6A88, 0x6985]
    assert read_dg1(chip, sm) == image.files["DG1"]


# -- refusals -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("p2", [0xA4, 0xA6])
def test_ca_before_authentication_gets_6982(p2: int) -> None:
    image = aes_card()
    chip = VirtualChip(image)
    assert send(chip, SELECT_AID).sw == 0x9000
    point = ca_terminal(image).ephemeral_public_key
    data = encode_tlv(0x80, bytes.fromhex("04007F00070202030202")) if p2 == 0xA4 else encode_tlv(0x91, point)
    assert send(chip, CommandAPDU(0x00, 0x22, 0x41, p2, data)).sw == 0x6982
    assert not chip.secure_messaging_active


def test_off_curve_key_after_pace_gets_6a80_and_keeps_the_old_keys() -> None:
    image = aes_card()
    chip = VirtualChip(image)
    old = pace(chip, image)
    terminal = ca_terminal(image)
    set_at, _ = terminal.commands()
    bad = encode_tlv(0x7C, encode_tlv(0x80, off_curve(terminal.ephemeral_public_key)))
    assert secure(chip, old, set_at).sw == 0x9000
    assert secure(chip, old, CommandAPDU(0x00, 0x86, 0x00, 0x00, bad, le=256)).sw == 0x6A80
    assert chip.secure_messaging_active
    assert read_dg1(chip, old) == image.files["DG1"]


def test_wrong_keys_in_mse_set_kat_get_6a80_and_keep_the_old_keys() -> None:
    image = des_card()
    chip = VirtualChip(image, ChipOptions(pace=False))
    old = bac(chip, image)
    point = ca_terminal(image).ephemeral_public_key
    for key in (off_curve(point), point[:-1], b"\x02" + point[1:33], bytes(65)):
        rsp = secure(chip, old, CommandAPDU(0x00, 0x22, 0x41, 0xA6, encode_tlv(0x91, key)))
        assert rsp.sw == 0x6A80, key.hex()
    assert read_dg1(chip, old) == image.files["DG1"]


def test_general_authenticate_without_mse_and_wrong_environment() -> None:
    image = aes_card()
    chip = VirtualChip(image)
    old = pace(chip, image)
    terminal = ca_terminal(image)
    _, general_authenticate = terminal.commands()
    assert secure(chip, old, general_authenticate).sw == 0x6985  # no MSE:Set AT for CA yet
    wrong_oid = encode_tlv(0x80, bytes.fromhex("04007F00070202030204"))  # ECDH-AES-256: not this chip's
    assert secure(chip, old, CommandAPDU(0x00, 0x22, 0x41, 0xA4, wrong_oid)).sw == 0x6A88
    assert secure(chip, old, CommandAPDU(0x00, 0x22, 0x41, 0xA6, encode_tlv(0x91, b"\x04"))).sw == 0x6A86
    assert secure(chip, old, CommandAPDU(0x00, 0x86, 0x00, 0x01, b"\x7c\x00", le=256)).sw == 0x6A86
    assert secure(chip, old, CommandAPDU(0x00, 0x22, 0xC1, 0xA4, b"\x83\x01\x02")).sw == 0x6985  # no PACE now
    assert read_dg1(chip, old) == image.files["DG1"]


def test_chip_without_a_ca_key_answers_6a88() -> None:
    image = aes_card()
    assert image.secrets is not None
    secrets = ChipSecrets(image.secrets.mrz_information, image.secrets.can, image.secrets.aa_private_key, None)
    chip = VirtualChip(CardImage(image.files, secrets))
    old = pace(chip, image)
    set_at, general_authenticate = ca_terminal(image).commands()
    assert secure(chip, old, set_at).sw == 0x6A88
    assert secure(chip, old, general_authenticate).sw == 0x6985
    assert read_dg1(chip, old) == image.files["DG1"]


# -- hostile input ------------------------------------------------------------------------------------

CA_HEADERS = st.sampled_from([(0x22, 0x41, 0xA4), (0x22, 0x41, 0xA6), (0x22, 0xC1, 0xA4), (0x86, 0x00, 0x00),
                              (0x86, 0x00, 0x01), (0x22, 0x81, 0xB6)])
CA_DATA = st.one_of(
    st.binary(max_size=80),
    st.binary(min_size=65, max_size=65).map(lambda key: encode_tlv(0x91, key)),
    st.binary(min_size=65, max_size=65).map(lambda key: encode_tlv(0x7C, encode_tlv(0x80, key))),
    st.just(encode_tlv(0x80, bytes.fromhex("04007F00070202030202"))),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(CA_HEADERS, CA_DATA, st.one_of(st.none(), st.integers(1, 256))), min_size=1, max_size=4),
       st.sampled_from(["AES", "3DES"]))
def test_random_mse_and_general_authenticate_in_a_session_never_raise(
        commands: list[tuple[tuple[int, int, int], bytes, int | None]], cipher: str) -> None:
    image = aes_card() if cipher == "AES" else des_card()
    chip = VirtualChip(image)
    sm = bac(chip, image)
    for (ins, p1, p2), data, le in commands:
        raw = sm.protect_command(CommandAPDU(0x00, ins, p1, p2, data, le)).encode()
        response = ResponseAPDU.parse(chip.process(raw))
        assert chip.secure_messaging_active
        assert sm.unprotect_response(response).sw != 0x6F00
