"""The virtual chip, APDU by APDU: selection, reading, access conditions, BAC and secure messaging."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from cardlib.card.image import CardImage, ChipSecrets
from cardlib.chip.chip import VirtualChip
from cardlib.chip.options import ChipOptions
from cardlib.errors import CardlibError
from cardlib.lds.files import EMRTD_AID
from cardlib.protocols.aa import aa_verify
from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU
from cardlib.protocols.bac import BACTerminal
from cardlib.protocols.pace import PACEParameters, PACETerminal, PasswordType
from cardlib.protocols.sm import SecureMessaging

# ICAO 9303-11 App. D.2 (BAC worked example): the MRZ information of the specimen document.
MRZ_INFORMATION = "L898902C<369080619406236"
# ICAO 9303-11 App. G.1: EF.CardAccess with one PACEInfo (ECDH-GM-AES-CBC-CMAC-128, v2, brainpoolP256r1).
CARD_ACCESS = bytes.fromhex("31143012060A04007F0007020204020202010202010D")
CAN = "123456"
SELECT_AID = CommandAPDU(0x00, 0xA4, 0x04, 0x0C, EMRTD_AID)


def _select(fid: int, p2: int = 0x0C) -> CommandAPDU:
    return CommandAPDU(0x00, 0xA4, 0x02, p2, fid.to_bytes(2, "big"))


def _read(offset: int, le: int) -> CommandAPDU:
    return CommandAPDU(0x00, 0xB0, offset >> 8, offset & 0xFF, le=le)


@pytest.fixture(scope="module")
def bsi_image(shared_data: Path) -> CardImage:
    """The BSI 2008 specimen's files (public test data) with synthetic secrets and a PACE EF.CardAccess."""
    folder = shared_data / "bsi2008"
    files = {
        "EF.COM": (folder / "EF_COM.bin").read_bytes(),
        "DG1": (folder / "Datagroup1.bin").read_bytes(),
        "DG2": (folder / "Datagroup2.bin").read_bytes(),
        "DG3": (folder / "Datagroup3.bin").read_bytes(),
        "DG14": (folder / "Datagroup14.bin").read_bytes(),
        "DG15": (folder / "Datagroup15.bin").read_bytes(),
        "EF.SOD": (folder / "EF_SOD.bin").read_bytes(),
        "EF.CardAccess": CARD_ACCESS,
    }
    return CardImage(files, ChipSecrets(MRZ_INFORMATION, CAN, None, None))


@pytest.fixture()
def chip(bsi_image: CardImage) -> VirtualChip:
    chip = VirtualChip(bsi_image)
    chip.power_on()
    return chip


def send(chip: VirtualChip, cmd: CommandAPDU | bytes) -> ResponseAPDU:
    raw = cmd if isinstance(cmd, bytes) else cmd.encode()
    return ResponseAPDU.parse(chip.process(raw))


def bac(chip: VirtualChip, mrz: str = MRZ_INFORMATION) -> SecureMessaging:
    """Run BAC as a terminal would and return the terminal's session."""
    assert send(chip, SELECT_AID).sw == 0x9000
    challenge = send(chip, CommandAPDU(0x00, 0x84, 0x00, 0x00, le=8))
    terminal = BACTerminal(mrz)
    answer = send(chip, CommandAPDU(0x00, 0x82, 0x00, 0x00, terminal.mutual_authenticate_data(challenge.data), le=40))
    assert answer.sw == 0x9000, f"{answer.sw:04X}"
    return terminal.complete(answer.data)


def secure(chip: VirtualChip, sm: SecureMessaging, cmd: CommandAPDU) -> ResponseAPDU:
    return sm.unprotect_response(send(chip, sm.protect_command(cmd)))


def read_file(chip: VirtualChip, sm: SecureMessaging, fid: int, chunk: int = 0xDF) -> bytes:
    assert secure(chip, sm, _select(fid)).sw == 0x9000
    content = b""
    while True:
        rsp = secure(chip, sm, _read(len(content), chunk))
        if rsp.sw == 0x6B00:
            return content
        assert rsp.sw in (0x9000, 0x6282), f"{rsp.sw:04X}"
        content += rsp.data
        if rsp.sw == 0x6282:
            return content


# -- before authentication --------------------------------------------------------------------------


def test_power_on_returns_the_configured_atr(bsi_image: CardImage) -> None:
    atr = bytes.fromhex("3B8180018080")
    assert VirtualChip(bsi_image, ChipOptions(atr=atr)).power_on() == atr
    default = VirtualChip(bsi_image).atr
    assert default[0] == 0x3B and len(default) == 4 + (default[1] & 0x0F) + 1


def test_card_access_is_readable_in_plain(chip: VirtualChip) -> None:
    assert send(chip, _select(0x011C)).sw == 0x9000
    assert send(chip, _read(0, 256)) == ResponseAPDU(CARD_ACCESS, 0x6282)
    assert send(chip, _read(0, len(CARD_ACCESS))) == ResponseAPDU(CARD_ACCESS, 0x9000)


def test_card_access_by_sfi_and_with_fcp(chip: VirtualChip) -> None:
    assert send(chip, CommandAPDU(0x00, 0xB0, 0x9C, 0x02, le=4)) == ResponseAPDU(CARD_ACCESS[2:6], 0x9000)
    fcp = send(chip, _select(0x011C, p2=0x04))
    assert fcp.sw == 0x9000 and fcp.data.startswith(b"\x62") and bytes.fromhex("8302011C") in fcp.data
    assert bytes.fromhex("80020016") in fcp.data


def test_emrtd_files_are_protected_before_authentication(chip: VirtualChip) -> None:
    assert send(chip, SELECT_AID).sw == 0x9000
    assert send(chip, _select(0x011E)).sw == 0x6982
    assert send(chip, CommandAPDU(0x00, 0xB0, 0x81, 0x00, le=4)).sw == 0x6982


def test_selection_errors(chip: VirtualChip) -> None:
    assert send(chip, CommandAPDU(0x00, 0xA4, 0x04, 0x0C, bytes.fromhex("A0000002471002"))).sw == 0x6A82
    assert send(chip, _select(0x0101)).sw == 0x6A82  # DG1 is not in the master file
    assert send(chip, CommandAPDU(0x00, 0xA4, 0x08, 0x0C, b"\x01\x1c")).sw == 0x6A86
    assert send(chip, CommandAPDU(0x00, 0xA4, 0x02, 0x0C, b"\x01")).sw == 0x6700
    assert send(chip, CommandAPDU(0x00, 0xA4, 0x02, 0x7C, b"\x01\x1c")).sw == 0x6A86
    assert send(chip, _read(0, 4)).sw == 0x6986  # no current EF yet
    assert send(chip, CommandAPDU(0x00, 0xA4, 0x00, 0x0C, b"\x3f\x00")).sw == 0x9000


def test_application_fcp_names_the_aid(chip: VirtualChip) -> None:
    rsp = send(chip, CommandAPDU(0x00, 0xA4, 0x04, 0x00, EMRTD_AID, le=256))
    assert rsp.sw == 0x9000 and EMRTD_AID in rsp.data


def test_unsupported_instruction_class_and_length(chip: VirtualChip) -> None:
    assert send(chip, CommandAPDU(0x00, 0xCA, 0x00, 0x00, le=256)).sw == 0x6D00
    assert send(chip, CommandAPDU(0x80, 0xA4, 0x04, 0x0C, EMRTD_AID)).sw == 0x6E00
    assert send(chip, bytes.fromhex("00A4040C05A000")).sw == 0x6700  # Lc says 5, 2 bytes follow
    assert send(chip, b"\x00\xa4").sw == 0x6700
    assert send(chip, CommandAPDU(0x0C, 0xA4, 0x04, 0x0C, EMRTD_AID)).sw == 0x6988  # SM without a session


def test_read_offsets(chip: VirtualChip) -> None:
    send(chip, _select(0x011C))
    assert send(chip, _read(len(CARD_ACCESS), 1)).sw == 0x6B00
    assert send(chip, _read(0x7FFF, 1)).sw == 0x6B00
    assert send(chip, CommandAPDU(0x00, 0xB0, 0x00, 0x00)).sw == 0x6700  # no Le
    assert send(chip, CommandAPDU(0x00, 0xB0, 0xE0, 0x00, le=1)).sw == 0x6A86  # SFI with bits 7-6 set


def test_odd_read_binary_wraps_data_in_do53(chip: VirtualChip) -> None:
    send(chip, _select(0x011C))
    rsp = send(chip, CommandAPDU(0x00, 0xB1, 0x00, 0x00, bytes.fromhex("540102"), le=6))
    assert rsp == ResponseAPDU(b"\x53\x04" + CARD_ACCESS[2:6], 0x9000)
    rsp = send(chip, CommandAPDU(0x00, 0xB1, 0x00, 0x1C, bytes.fromhex("540114"), le=256))
    assert rsp == ResponseAPDU(b"\x53\x02" + CARD_ACCESS[20:], 0x6282)
    assert send(chip, CommandAPDU(0x00, 0xB1, 0x00, 0x00, bytes.fromhex("5301"), le=6)).sw == 0x6A80


def test_bac_only_and_pace_only_chips(bsi_image: CardImage) -> None:
    bac_only = VirtualChip(bsi_image, ChipOptions(pace=False))
    assert send(bac_only, _select(0x011C)).sw == 0x6A82
    pace_only = VirtualChip(bsi_image, ChipOptions(bac=False))
    send(pace_only, SELECT_AID)
    challenge = send(pace_only, CommandAPDU(0x00, 0x84, 0x00, 0x00, le=8))
    data = BACTerminal(MRZ_INFORMATION).mutual_authenticate_data(challenge.data)
    assert send(pace_only, CommandAPDU(0x00, 0x82, 0x00, 0x00, data, le=40)).sw == 0x6A88


def test_chip_needs_secrets(bsi_image: CardImage) -> None:
    with pytest.raises(CardlibError):
        VirtualChip(bsi_image.dump())


# -- BAC and secure messaging -----------------------------------------------------------------------


def test_bac_opens_a_session_and_files_read_back(chip: VirtualChip, bsi_image: CardImage) -> None:
    sm = bac(chip)
    assert read_file(chip, sm, 0x011E) == bsi_image.files["EF.COM"]
    assert read_file(chip, sm, 0x0102) == bsi_image.files["DG2"]
    assert secure(chip, sm, CommandAPDU(0x00, 0xB0, 0x81, 0x00, le=8)).data == bsi_image.files["DG1"][:8]


def test_bac_with_wrong_mrz_gives_6300(chip: VirtualChip) -> None:
    send(chip, SELECT_AID)
    challenge = send(chip, CommandAPDU(0x00, 0x84, 0x00, 0x00, le=8))
    data = BACTerminal("L898902C<369080619406237").mutual_authenticate_data(challenge.data)
    assert send(chip, CommandAPDU(0x00, 0x82, 0x00, 0x00, data, le=40)).sw == 0x6300
    assert send(chip, CommandAPDU(0x00, 0x82, 0x00, 0x00, data, le=40)).sw == 0x6985  # challenge used up
    assert not chip.secure_messaging_active


def test_bac_command_errors(chip: VirtualChip) -> None:
    assert send(chip, CommandAPDU(0x00, 0x84, 0x00, 0x00, le=4)).sw == 0x6700
    assert send(chip, CommandAPDU(0x00, 0x84, 0x01, 0x00, le=8)).sw == 0x6A86
    send(chip, CommandAPDU(0x00, 0x84, 0x00, 0x00, le=8))
    assert send(chip, CommandAPDU(0x00, 0x82, 0x00, 0x00, bytes(8), le=40)).sw == 0x6700


def test_dg3_is_never_readable(chip: VirtualChip) -> None:
    sm = bac(chip)
    assert secure(chip, sm, _select(0x0103)).sw == 0x9000
    assert secure(chip, sm, _read(0, 16)).sw == 0x6982
    assert secure(chip, sm, CommandAPDU(0x00, 0xB0, 0x83, 0x00, le=16)).sw == 0x6982


def test_plain_command_in_a_session_closes_it(chip: VirtualChip) -> None:
    bac(chip)
    assert send(chip, _select(0x011E)).sw == 0x6987
    assert not chip.secure_messaging_active
    assert send(chip, _select(0x011E)).sw == 0x6982


def test_wrong_mac_or_ssc_closes_the_session(chip: VirtualChip) -> None:
    sm = bac(chip)
    protected = sm.protect_command(_select(0x011E)).encode()
    tampered = protected[:-3] + bytes([protected[-3] ^ 1]) + protected[-2:]
    assert send(chip, tampered).sw == 0x6988
    assert not chip.secure_messaging_active
    sm = bac(chip)
    sm.protect_command(_select(0x011E))  # the terminal's SSC runs ahead of the chip's
    assert send(chip, sm.protect_command(_select(0x011E))).sw == 0x6988


def test_errors_inside_a_session_are_protected(chip: VirtualChip) -> None:
    sm = bac(chip)
    assert secure(chip, sm, _select(0x0105)).sw == 0x6A82
    assert secure(chip, sm, CommandAPDU(0x00, 0xCA, 0x00, 0x00, le=256)).sw == 0x6D00
    assert chip.secure_messaging_active
    assert secure(chip, sm, _select(0x011E)).sw == 0x9000


def test_short_sm_reads_above_the_plaintext_limit_get_6700(chip: VirtualChip, bsi_image: CardImage) -> None:
    sm = bac(chip)
    secure(chip, sm, _select(0x0102))
    assert secure(chip, sm, _read(0, sm.max_plain_read + 1)).sw == 0x6700
    rsp = secure(chip, sm, CommandAPDU(0x00, 0xB0, 0x00, 0x00, le=1000, extended=True))
    assert rsp == ResponseAPDU(bsi_image.files["DG2"][:1000], 0x9000)


def test_extended_length_and_le_limits(bsi_image: CardImage) -> None:
    big = CommandAPDU(0x00, 0xB0, 0x00, 0x00, le=600, extended=True)
    no_extended = VirtualChip(bsi_image, ChipOptions(extended_length=False))
    sm = bac(no_extended)
    secure(no_extended, sm, _select(0x0102))
    assert secure(no_extended, sm, big).sw == 0x6700
    limited = VirtualChip(bsi_image, ChipOptions(max_le=512))
    sm = bac(limited)
    secure(limited, sm, _select(0x0102))
    assert secure(limited, sm, big).sw == 0x6700
    truncating = VirtualChip(bsi_image, ChipOptions(max_le=512, truncate_le=True))
    sm = bac(truncating)
    secure(truncating, sm, _select(0x0102))
    assert secure(truncating, sm, big) == ResponseAPDU(bsi_image.files["DG2"][:512], 0x9000)


def test_reads_beyond_32767_use_odd_ins() -> None:
    long_file = bytes(range(256)) * 160  # 40,960 bytes
    image = CardImage({"DG2": long_file}, ChipSecrets(MRZ_INFORMATION, CAN, None, None))
    chip = VirtualChip(image)
    sm = bac(chip)
    secure(chip, sm, _select(0x0102))
    rsp = secure(chip, sm, CommandAPDU(0x00, 0xB1, 0x00, 0x00, bytes.fromhex("5403009C40"), le=0x104,
                                       extended=True))
    assert rsp == ResponseAPDU(b"\x53\x82\x01\x00" + long_file[40000:40256], 0x9000)


def test_reset_drops_the_session(chip: VirtualChip) -> None:
    bac(chip)
    chip.reset()
    assert not chip.secure_messaging_active
    assert send(chip, _select(0x011E)).sw == 0x6A82  # back in the master file


# -- hostile input ----------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_always_get_a_status_word(bsi_image: CardImage, raw: bytes) -> None:
    chip = VirtualChip(bsi_image)
    response = chip.process(raw)
    assert len(response) >= 2


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.binary(max_size=40),
       st.one_of(st.none(), st.integers(1, 65536)))
def test_random_commands_in_a_session_never_raise(bsi_image: CardImage, ins: int, p1: int, p2: int, data: bytes,
                                                   le: int | None) -> None:
    chip = VirtualChip(bsi_image)
    sm = bac(chip)
    raw = sm.protect_command(CommandAPDU(0x00, ins, p1, p2, data, le)).encode()
    response = ResponseAPDU.parse(chip.process(raw))
    if chip.secure_messaging_active:
        sm.unprotect_response(response)


# -- PACE -------------------------------------------------------------------------------------------


def pace(chip: VirtualChip, password: str = CAN, kind: PasswordType = "CAN"
         ) -> tuple[SecureMessaging | None, list[int]]:
    """Run PACE as a terminal would; returns its session (None on failure) and the GA status words."""
    terminal = PACETerminal(password, kind, PACE_PARAMETERS)
    assert send(chip, CommandAPDU(0x00, 0x22, 0xC1, 0xA4, terminal.set_at_data())).sw == 0x9000
    data = terminal.general_authenticate_1()
    steps = [terminal.general_authenticate_2, terminal.general_authenticate_3, terminal.general_authenticate_4]
    words: list[int] = []
    for number in range(4):
        rsp = send(chip, CommandAPDU(0x10 if number < 3 else 0x00, 0x86, 0x00, 0x00, data, le=256))
        words.append(rsp.sw)
        if rsp.sw != 0x9000:
            return None, words
        if number == 3:
            return terminal.complete(rsp.data), words
        data = steps[number](rsp.data)
    raise AssertionError("unreachable")


PACE_PARAMETERS = PACEParameters("0.4.0.127.0.7.2.2.4.2.2", 13)  # ICAO 9303-11 App. G.1 PACEInfo


@pytest.mark.parametrize(("password", "kind"), [(CAN, "CAN"), (MRZ_INFORMATION, "MRZ")])
def test_pace_opens_an_aes_session(chip: VirtualChip, bsi_image: CardImage, password: str,
                                   kind: PasswordType) -> None:
    sm, words = pace(chip, password, kind)
    assert words == [0x9000] * 4 and sm is not None
    assert sm.cipher == "AES" and chip.secure_messaging_active
    assert secure(chip, sm, SELECT_AID).sw == 0x9000
    assert read_file(chip, sm, 0x0101) == bsi_image.files["DG1"]


def test_pace_with_wrong_can_gives_6300(chip: VirtualChip) -> None:
    sm, words = pace(chip, "654321")
    assert sm is None
    assert words == [0x9000, 0x9000, 0x9000, 0x6300]
    assert not chip.secure_messaging_active
    assert send(chip, CommandAPDU(0x00, 0x86, 0x00, 0x00, b"\x7c\x00", le=256)).sw == 0x6985


def test_mse_set_at_errors(chip: VirtualChip) -> None:
    terminal = PACETerminal(CAN, "CAN", PACE_PARAMETERS)
    mse = bytes.fromhex("0022C1A4")
    # 41A4 is Chip Authentication's MSE:Set AT: refused before BAC/PACE; an unknown P1P2 is wrong parameters.
    assert send(chip, CommandAPDU(0x00, 0x22, 0x41, 0xA4, terminal.set_at_data())).sw == 0x6982
    assert send(chip, CommandAPDU(0x00, 0x22, 0x01, 0xB6, terminal.set_at_data())).sw == 0x6A86
    # 81B6 is Terminal Authentication's MSE:Set DST: like CA's, refused before BAC/PACE.
    assert send(chip, CommandAPDU(0x00, 0x22, 0x81, 0xB6, terminal.set_at_data())).sw == 0x6982
    wrong_oid = bytes.fromhex("800A04007F00070202040203830102")
    assert send(chip, mse + bytes([len(wrong_oid)]) + wrong_oid).sw == 0x6A80
    pin = bytes.fromhex("800A04007F00070202040202830103")
    assert send(chip, mse + bytes([len(pin)]) + pin).sw == 0x6A88
    assert send(chip, mse + b"\x02\x80\x05").sw == 0x6A80
    assert send(chip, CommandAPDU(0x00, 0x86, 0x00, 0x00, b"\x7c\x00", le=256)).sw == 0x6985


def test_pace_refused_on_a_bac_only_chip(bsi_image: CardImage) -> None:
    chip = VirtualChip(bsi_image, ChipOptions(pace=False))
    terminal = PACETerminal(CAN, "CAN", PACE_PARAMETERS)
    assert send(chip, CommandAPDU(0x00, 0x22, 0xC1, 0xA4, terminal.set_at_data())).sw == 0x6A80


# -- Active Authentication --------------------------------------------------------------------------


def test_internal_authenticate_signs_the_challenge(bsi_image: CardImage) -> None:
    key = ec.generate_private_key(ec.BrainpoolP256R1())
    chip = VirtualChip(CardImage(bsi_image.files, ChipSecrets(MRZ_INFORMATION, CAN, key, None)))
    challenge = bytes.fromhex("0102030405060708")
    command = CommandAPDU(0x00, 0x88, 0x00, 0x00, challenge, le=256)
    assert send(chip, command).sw == 0x6982  # not before BAC/PACE
    sm = bac(chip)
    rsp = secure(chip, sm, command)
    assert rsp.sw == 0x9000 and aa_verify(key.public_key(), challenge, rsp.data).ok
    assert secure(chip, sm, CommandAPDU(0x00, 0x88, 0x00, 0x00, challenge[:4], le=256)).sw == 0x6700


def test_internal_authenticate_absent_without_an_aa_key(chip: VirtualChip) -> None:
    sm = bac(chip)
    assert secure(chip, sm, CommandAPDU(0x00, 0x88, 0x00, 0x00, bytes(8), le=256)).sw == 0x6D00


# -- field behaviours (ChipOptions switches), APDU by APDU ---------------------------------------------


def _chip_with(bsi_image: CardImage, **options: object) -> VirtualChip:
    chip = VirtualChip(bsi_image, ChipOptions(**options))  # type: ignore[arg-type]
    chip.power_on()
    return chip


@pytest.mark.parametrize("sw", [0x6986, 0x6A82, 0x6F00])
def test_unreachable_card_access_answers_its_status_to_select_and_sfi(bsi_image: CardImage, sw: int) -> None:
    chip = _chip_with(bsi_image, card_access_sw=sw)
    assert send(chip, _select(0x011C)).sw == sw
    assert send(chip, CommandAPDU(0x00, 0xB0, 0x9C, 0x00, le=256)).sw == sw
    assert send(chip, CommandAPDU(0x00, 0xA4, 0x00, 0x0C, b"\x3f\x00")).sw == 0x9000


def test_select_mf_sfi_and_p2_0c_refusals(bsi_image: CardImage) -> None:
    chip = _chip_with(bsi_image, select_mf_sw=0x6A82, sfi_sw=0x6985, select_p2_0c_sw=0x6A86)
    assert send(chip, CommandAPDU(0x00, 0xA4, 0x00, 0x00, b"\x3f\x00")).sw == 0x6A82
    assert send(chip, CommandAPDU(0x00, 0xB0, 0x9C, 0x00, le=256)).sw == 0x6985
    assert send(chip, _select(0x011C)).sw == 0x6A86
    fcp = send(chip, CommandAPDU(0x00, 0xA4, 0x02, 0x04, b"\x01\x1c", le=256))
    assert fcp.sw == 0x9000 and fcp.data[:1] == b"\x62"
    assert send(chip, _read(0, 256)) == ResponseAPDU(CARD_ACCESS, 0x6282)


@pytest.mark.parametrize(("rule", "expected"), [
    ("6282", ResponseAPDU(CARD_ACCESS, 0x6282)), ("9000", ResponseAPDU(CARD_ACCESS, 0x9000)),
    ("6B00", ResponseAPDU(b"", 0x6B00)), ("6700", ResponseAPDU(b"", 0x6700)),
    ("6Cxx", ResponseAPDU(b"", 0x6C00 | len(CARD_ACCESS)))])
def test_read_past_the_end_of_file(bsi_image: CardImage, rule: str, expected: ResponseAPDU) -> None:
    chip = _chip_with(bsi_image, past_end=rule)
    assert send(chip, _select(0x011C)).sw == 0x9000
    assert send(chip, _read(0, 200)) == expected
    assert send(chip, _read(0, len(CARD_ACCESS))) == ResponseAPDU(CARD_ACCESS, 0x9000)


def test_get_response_chains_and_exact_length_resends(bsi_image: CardImage) -> None:
    chained = _chip_with(bsi_image, chaining=8)
    assert send(chained, _select(0x011C)).sw == 0x9000
    answer = send(chained, _read(0, 256))
    data = answer.data
    while answer.sw1 == 0x61:
        answer = send(chained, CommandAPDU(0x00, 0xC0, 0x00, 0x00, le=answer.sw2 or 256))
        data += answer.data
    assert (data, answer.sw) == (CARD_ACCESS, 0x6282)
    exact = _chip_with(bsi_image, exact_le=True)
    assert send(exact, _select(0x011C)).sw == 0x9000
    assert send(exact, _read(0, 256)).sw == 0x6C00 | len(CARD_ACCESS)
    assert send(exact, _read(0, len(CARD_ACCESS))) == ResponseAPDU(CARD_ACCESS, 0x6282)


def test_runtime_refusing_extended_length_in_a_session_counts_nothing(bsi_image: CardImage) -> None:
    """The JMRTD case: a plain 6700 from the runtime; the terminal steps its SSC back and reads on."""
    chip = _chip_with(bsi_image, extended_length=False, extended_refusal="runtime")
    sm = bac(chip)
    assert secure(chip, sm, _select(0x0101)).sw == 0x9000
    before = sm.ssc
    refused = send(chip, sm.protect_command(_read(0, 1000)))
    assert refused == ResponseAPDU(b"", 0x6700) and chip.secure_messaging_active
    sm.advance(before - sm.ssc)
    assert secure(chip, sm, _read(0, 4)).sw == 0x9000


@pytest.mark.parametrize("steps", [0, 1, 2])
def test_plain_errors_in_a_session_advance_the_chip_ssc_by_the_configured_steps(bsi_image: CardImage,
                                                                                 steps: int) -> None:
    chip = _chip_with(bsi_image, plain_errors=steps)
    sm = bac(chip)
    before = sm.ssc
    assert send(chip, sm.protect_command(_select(0x0109))) == ResponseAPDU(b"", 0x6A82)  # no DG9: plain 6A82
    sm.advance(before + steps - sm.ssc)
    assert secure(chip, sm, _select(0x0101)).sw == 0x9000


def test_active_authentication_variants(bsi_image: CardImage) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    image = CardImage(bsi_image.files, ChipSecrets(MRZ_INFORMATION, CAN, key, None))
    for options, length in ((ChipOptions(aa_hash="sha1"), 64), (ChipOptions(aa_ecdsa_der=True), None)):
        chip = VirtualChip(image, options)
        chip.power_on()
        sm = bac(chip)
        answer = secure(chip, sm, CommandAPDU(0x00, 0x88, 0x00, 0x00, b"12345678", le=256))
        assert answer.sw == 0x9000 and (length is None or len(answer.data) == length)
        assert aa_verify(key.public_key(), b"12345678", answer.data).ok
    short_only = VirtualChip(image, ChipOptions(aa_short_le_only=True))
    short_only.power_on()
    sm = bac(short_only)
    assert secure(short_only, sm, CommandAPDU(0x00, 0x88, 0x00, 0x00, b"12345678", le=1000)).sw == 0x6700
