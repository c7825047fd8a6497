"""``cardtool read`` names the PACE mapping it used (Z, item 4): generic, integrated or chip authentication
mapping with the protocol's name, PACE-CAM's outcome, and no PACE line after BAC."""

from __future__ import annotations

from functools import cache

from cardtool.chip_commands import describe_read

from cardlib.card.image import CardImage
from cardlib.card.perso import ChipProfile, personalize
from cardlib.chip.chip import VirtualChip
from cardlib.chip.options import ChipOptions
from cardlib.lds.oids import protocol_oid
from cardlib.reader.reader import AccessKey, ReadResult, read_card
from cardlib.reader.transport import InProcessTransport
from cardlib.testing.cards import sample_resident
from cardlib.testing.faces import synthetic_portrait_jpeg
from cardlib.testing.pki import sample_pki


@cache
def image(protocol: str) -> CardImage:
    return personalize(sample_resident(4), synthetic_portrait_jpeg(4), sample_pki().document_signer,
                       profile=ChipProfile(pace_protocol=protocol_oid(protocol)))


def read(protocol: str, options: ChipOptions | None = None) -> ReadResult:
    card = image(protocol)
    assert card.secrets is not None
    key = AccessKey.mrz(card.secrets.mrz_information) if options else AccessKey.can(card.secrets.can)
    return read_card(InProcessTransport(VirtualChip(card, options)), key)


def test_generic_mapping_is_named() -> None:
    text = describe_read(read("id-PACE-ECDH-GM-AES-CBC-CMAC-128"))
    assert "\nPACE: generic mapping (id-PACE-ECDH-GM-AES-CBC-CMAC-128)\n" in text + "\n"
    assert "PACE-CAM" not in text


def test_integrated_mapping_is_named() -> None:
    text = describe_read(read("id-PACE-ECDH-IM-AES-CBC-CMAC-256"))
    assert "PACE: integrated mapping (id-PACE-ECDH-IM-AES-CBC-CMAC-256)" in text


def test_chip_authentication_mapping_is_named_with_its_outcome() -> None:
    result = read("id-PACE-ECDH-CAM-AES-CBC-CMAC-128")
    assert result.pace_cam.passed
    text = describe_read(result)
    line = f"PACE: chip authentication mapping (id-PACE-ECDH-CAM-AES-CBC-CMAC-128); PACE-CAM: {result.pace_cam.reason}"
    assert line in text


def test_no_pace_line_after_bac() -> None:
    result = read("id-PACE-ECDH-GM-AES-CBC-CMAC-128", ChipOptions(pace=False))
    assert result.access == "BAC"
    assert "PACE:" not in describe_read(result)
