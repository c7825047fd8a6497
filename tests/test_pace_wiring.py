"""Every PACE mapping wired into the reader and the virtual chip (issue 14): the reader's preference
CAM > IM > GM among what EF.CardAccess offers, the mapping reported, no silent downgrade, PACE-CAM checked
against EF.CardSecurity and counted as a live chip check; the chip offering each mapping with its CA key.
(The same chips through pcscd + vpcd are rows of ``test_field_chips.py``.)"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from cardlib.card.image import CardImage
from cardlib.card.perso import ChipProfile
from cardlib.chip.chip import VirtualChip
from cardlib.chip.options import ChipOptions
from cardlib.lds.cardsecurity import CardSecurity
from cardlib.lds.oids import protocol_oid
from cardlib.lds.securityinfo import (
    CardAccess,
    ChipAuthenticationInfo,
    ChipAuthenticationPublicKeyInfo,
    PACEInfo,
    SecurityInfos,
    TerminalAuthenticationInfo,
)
from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU
from cardlib.protocols.pace import offered_parameters
from cardlib.reader.access import pace_candidates
from cardlib.reader.reader import (
    AccessKey,
    ChipRefusedError,
    ReadResult,
    UnsupportedAccessError,
    WrongAccessKeyError,
    read_card,
)
from cardlib.reader.transport import InProcessTransport
from cardlib.testing.cards import sample_card_image
from cardlib.testing.pki import sample_pki, sample_trust
from cardlib.verify.live import verify_read
from cardlib.verify.report import Status, Verdict
from cardlib.verify.verifier import LivenessPolicy

GM = protocol_oid("id-PACE-ECDH-GM-AES-CBC-CMAC-128")
GM_3DES = protocol_oid("id-PACE-ECDH-GM-3DES-CBC-CBC")
IM = protocol_oid("id-PACE-ECDH-IM-AES-CBC-CMAC-128")
CAM = protocol_oid("id-PACE-ECDH-CAM-AES-CBC-CMAC-128")
DH_GM = protocol_oid("id-PACE-DH-GM-AES-CBC-CMAC-128")
CA_AES = protocol_oid("id-CA-ECDH-AES-CBC-CMAC-128")


@cache
def card(protocol: str, parameter_id: int = 13) -> CardImage:
    return sample_card_image(3, profile=ChipProfile(pace_protocol=protocol, pace_parameter_id=parameter_id))


def read(image: CardImage, options: ChipOptions | None = None, *, key: str = "CAN", chip_auth: bool = True,
         active_auth: bool = True) -> ReadResult:
    assert image.secrets is not None
    access = AccessKey.can(image.secrets.can) if key == "CAN" else AccessKey.mrz(image.secrets.mrz_information)
    return read_card(InProcessTransport(VirtualChip(image, options)), access, chip_auth=chip_auth,
                     active_auth=active_auth)


def signed_card_security(image: CardImage, key: ec.EllipticCurvePublicKey, *offers: PACEInfo) -> bytes:
    """EF.CardSecurity as perso writes it, signed by the genuine Document Signer, for ``key`` and ``offers``."""
    infos = SecurityInfos((*offers, ChipAuthenticationInfo(CA_AES, 1),
                           ChipAuthenticationPublicKeyInfo.for_key(key, explicit_parameters=True),
                           TerminalAuthenticationInfo(1)))
    return CardSecurity.sign(infos, sample_pki().document_signer).encode()


@cache
def offering_every_mapping() -> CardImage:
    """A CAM card whose EF.CardAccess (and signed EF.CardSecurity) offer GM, IM and CAM, GM first."""
    image = card(CAM)
    assert image.secrets is not None and image.secrets.ca_private_key is not None
    offers = (PACEInfo(GM, 2, 13), PACEInfo(IM, 2, 13), PACEInfo(CAM, 2, 13))
    files = {**image.files, "EF.CardAccess": CardAccess(offers).encode(),
             "EF.CardSecurity": signed_card_security(image, image.secrets.ca_private_key.public_key(), *offers)}
    return replace(image, files=files)


# --- the preference -------------------------------------------------------------------------------------------


def test_candidates_rank_mapping_then_key_agreement_then_cipher() -> None:
    offers = [PACEInfo(DH_GM, 2, 0), PACEInfo(GM_3DES, 2, 13), PACEInfo(GM, 2, 13), PACEInfo(IM, 2, 13),
              PACEInfo(CAM, 2, 13)]
    assert [params.protocol for params in pace_candidates(offers)] == [CAM, IM, GM, GM_3DES, DH_GM]


def test_candidates_leave_out_what_cardlib_cannot_run() -> None:
    offers = [PACEInfo(GM, 2), PACEInfo(IM, 2, 10), PACEInfo(DH_GM, 2, 13), PACEInfo(GM_3DES, 2, 12)]
    assert [(params.protocol, params.parameter_id) for params in pace_candidates(offers)] == [(GM_3DES, 12)]
    with pytest.raises(UnsupportedAccessError, match="no PACE protocol cardlib supports"):
        pace_candidates(offers[:3])


def test_chip_and_reader_take_the_offered_variants_from_one_place() -> None:
    offers = [PACEInfo(GM, 2), PACEInfo(DH_GM, 2, 0), PACEInfo(IM, 2, 10), PACEInfo(CAM, 2, 13), PACEInfo(GM, 2, 13)]
    offered = offered_parameters(offers)  # EF.CardAccess order, as the chip answers MSE:Set AT
    assert [(params.protocol, params.parameter_id) for params in offered] == [(DH_GM, 0), (CAM, 13), (GM, 13)]
    assert sorted(pace_candidates(offers), key=offered.index) == list(offered)


def test_the_reader_takes_cam_among_gm_im_cam_and_reports_it() -> None:
    result = read(offering_every_mapping())
    assert (result.pace_protocol, result.pace_mapping) == ("id-PACE-ECDH-CAM-AES-CBC-CMAC-128", "CAM")
    assert result.pace_protocol_oid == CAM
    assert result.pace_cam.performed and result.pace_cam.passed, result.pace_cam.reason
    report = verify_read(result, sample_trust())
    assert report.verdict is Verdict.VALID, report.to_text()
    assert report.check("cardsecurity.card_access").status is Status.PASS


def test_the_reader_takes_im_over_gm() -> None:
    image = card(IM)
    files = {**image.files, "EF.CardAccess": CardAccess((PACEInfo(GM, 2, 13), PACEInfo(IM, 2, 13))).encode()}
    result = read(replace(image, files=files))
    assert result.pace_mapping == "IM" and not result.pace_cam.performed


@pytest.mark.parametrize(("protocol", "parameter_id", "mapping"), [
    (GM, 13, "GM"), (IM, 13, "IM"), (CAM, 13, "CAM"), (DH_GM, 0, "GM"),
    (protocol_oid("id-PACE-DH-IM-AES-CBC-CMAC-256"), 1, "IM"), (protocol_oid("id-PACE-ECDH-CAM-AES-CBC-CMAC-256"), 13,
                                                              "CAM"),
])
def test_every_mapping_reads_valid_with_can_and_mrz(protocol: str, parameter_id: int, mapping: str) -> None:
    for key in ("CAN", "MRZ"):
        result = read(card(protocol, parameter_id), key=key)
        assert result.access == f"PACE-{key}"
        assert result.pace_protocol_oid == protocol and result.pace_mapping == mapping
        assert ("EF.CardSecurity" in result.dump.files) is (mapping == "CAM")
        assert verify_read(result, sample_trust()).verdict is Verdict.VALID


def test_bac_reports_no_pace_protocol() -> None:
    result = read(card(GM), ChipOptions(pace=False), key="MRZ")
    assert (result.access, result.pace_protocol, result.pace_mapping) == ("BAC", "", "")


# --- never a silent downgrade -------------------------------------------------------------------------------------


def test_a_wrong_can_on_a_cam_chip_is_the_wrong_key_not_a_fallback_to_gm() -> None:
    image = offering_every_mapping()
    with pytest.raises(WrongAccessKeyError):
        read_card(InProcessTransport(VirtualChip(image)), AccessKey.can("000000"))


def test_a_chip_error_during_cam_stops_the_read() -> None:
    with pytest.raises(ChipRefusedError, match="PACE step 1"):
        read(offering_every_mapping(), ChipOptions(internal_errors=((0x86, 0x6F00),)))


def test_a_mapping_refused_at_set_at_falls_back_with_a_note() -> None:
    image = card(GM)  # CAM on P-256: this chip's CA key is on brainpoolP256r1, so MSE:Set AT answers 6A88
    offers = CardAccess((PACEInfo(CAM, 2, 12), PACEInfo(GM, 2, 13))).encode()
    result = read(replace(image, files={**image.files, "EF.CardAccess": offers}))
    assert result.pace_mapping == "GM"
    assert any("refused id-PACE-ECDH-CAM-AES-CBC-CMAC-128 (parameter ID 12)" in note for note in result.notes)


# --- PACE-CAM checked against EF.CardSecurity, a live chip check ------------------------------------------------


def test_pace_cam_alone_proves_the_chip() -> None:
    result = read(card(CAM), chip_auth=False, active_auth=False)
    report = verify_read(result, sample_trust())
    assert report.check("live.pace_cam").status is Status.PASS
    assert report.check("live.chip_proven").status is Status.PASS
    assert "PACE-CAM" in report.check("live.chip_proven").reason
    assert report.verdict is Verdict.VALID


def test_gm_alone_proves_nothing_about_the_chip() -> None:
    report = verify_read(read(card(GM), chip_auth=False, active_auth=False), sample_trust())
    assert report.check("live.pace_cam").status is Status.NOT_APPLICABLE
    assert report.check("live.chip_proven").status is Status.UNKNOWN
    assert report.verdict is Verdict.CANNOT_TELL


def test_a_card_security_for_another_key_fails_pace_cam() -> None:
    image = card(CAM)
    other = ec.generate_private_key(ec.BrainpoolP256R1()).public_key()
    forged = signed_card_security(image, other, PACEInfo(CAM, 2, 13))
    result = read(replace(image, files={**image.files, "EF.CardSecurity": forged}), chip_auth=False)
    assert result.pace_cam.performed and not result.pace_cam.passed
    report = verify_read(result, sample_trust())
    assert report.check("live.pace_cam").status is Status.FAIL
    assert report.verdict is Verdict.INVALID


def test_a_cam_chip_without_card_security_is_not_checked_and_falls_back_to_ca() -> None:
    image = card(CAM)
    result = read(replace(image, files={k: v for k, v in image.files.items() if k != "EF.CardSecurity"}))
    assert result.pace_mapping == "CAM"
    assert not result.pace_cam.performed and "EF.CardSecurity" in result.pace_cam.reason
    report = verify_read(result, sample_trust(), policy=LivenessPolicy.LIVE_READS)
    assert report.check("live.pace_cam").status is Status.NOT_APPLICABLE
    assert report.verdict is Verdict.VALID  # Chip Authentication proved the chip


# --- the chip side ------------------------------------------------------------------------------------------------


def _exchange(chip: VirtualChip, hex_apdu: str) -> ResponseAPDU:
    return ResponseAPDU.parse(chip.process(bytes.fromhex(hex_apdu)))


def test_the_chip_keeps_card_security_closed_before_pace() -> None:
    chip = VirtualChip(card(CAM))
    assert _exchange(chip, "00A4000C023F00").sw == 0x9000
    assert _exchange(chip, "00A4020C02011D").sw == 0x6982
    assert _exchange(chip, "00B09D0000").sw == 0x6982  # READ BINARY by SFI 1D


def test_the_chip_refuses_cam_without_a_key_on_its_curve() -> None:
    image = card(GM)
    offers = CardAccess((PACEInfo(CAM, 2, 12),)).encode()
    chip = VirtualChip(replace(image, files={**image.files, "EF.CardAccess": offers}))
    set_at = CommandAPDU(0x00, 0x22, 0xC1, 0xA4, bytes.fromhex("800a") + bytes.fromhex("04007f00070202040602")
                         + bytes.fromhex("830102"))
    assert ResponseAPDU.parse(chip.process(set_at.encode())).sw == 0x6A88


def test_a_cam_chip_refusing_select_mf_is_not_checked_and_the_read_goes_on() -> None:
    result = read(card(CAM), ChipOptions(select_mf_sw=0x6A82))
    assert result.pace_mapping == "CAM" and not result.pace_cam.performed
    assert "SELECT of the master file" in result.pace_cam.reason
    assert "EF.CardSecurity" not in result.dump.files
    # Chip and Active Authentication proved the chip
    assert verify_read(result, sample_trust()).verdict is Verdict.VALID
