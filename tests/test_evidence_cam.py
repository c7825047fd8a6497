"""PACE-CAM in the evidence bundle (Z, item 3): the proof as the reader got it (PK_Map,IC and CA_IC) travels
in the optional ``pace_cam`` field (format version 1 kept), and verify_evidence re-checks it against
EF.CardSecurity's key: ``live.pace_cam`` passes when it fits, fails when it does not, cannot tell without
EF.CardSecurity; it never proves liveness alone."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache

import jsonschema
import pytest

from cardlib.card.image import CardImage
from cardlib.card.perso import ChipProfile, personalize
from cardlib.chip.chip import VirtualChip
from cardlib.errors import DecodeError, ProtocolError
from cardlib.evidence.bundle import Evidence, evidence_schema
from cardlib.evidence.verification import verify_evidence
from cardlib.lds.cardsecurity import CardSecurity
from cardlib.lds.oids import protocol_oid
from cardlib.protocols.pace import PACEChip, PACEParameters, PACETerminal
from cardlib.protocols.pace.cam import CAMProof, keys_on, verify_proof
from cardlib.reader.reader import AccessKey, read_card
from cardlib.reader.transport import InProcessTransport
from cardlib.testing.cards import sample_resident
from cardlib.testing.faces import synthetic_portrait_jpeg
from cardlib.testing.pki import sample_pki, sample_trust
from cardlib.verify.report import Status, Verdict

CAM = protocol_oid("id-PACE-ECDH-CAM-AES-CBC-CMAC-128")
NONCE = bytes.fromhex("A1A2A3A4A5A6A7A8")


@cache
def image() -> CardImage:
    return personalize(sample_resident(9), synthetic_portrait_jpeg(9), sample_pki().document_signer,
                       profile=ChipProfile(pace_protocol=CAM))


@cache
def proof() -> CAMProof:
    """A PACE-CAM between a terminal and the image's chip key, sans I/O: the terminal's proof."""
    secrets = image().secrets
    assert secrets is not None and secrets.ca_private_key is not None
    params = PACEParameters(CAM, 13)
    terminal = PACETerminal(secrets.can, "CAN", params)
    chip = PACEChip(secrets.can, "CAN", params, chip_key=secrets.ca_private_key)
    chip.set_at(terminal.set_at_data())
    response = chip.general_authenticate(terminal.general_authenticate_1())
    response = chip.general_authenticate(terminal.general_authenticate_2(response))
    response = chip.general_authenticate(terminal.general_authenticate_3(response))
    terminal.complete(chip.general_authenticate(terminal.general_authenticate_4(response)))
    found = terminal.cam_proof
    assert found is not None and found.protocol == CAM and found.parameter_id == 13
    return found


@cache
def evidence() -> Evidence:
    """A real read of the CAM chip (AA over NONCE), its PACE-CAM proof as the reader got it."""
    secrets = image().secrets
    assert secrets is not None
    read = read_card(InProcessTransport(VirtualChip(image())), AccessKey.can(secrets.can), aa_challenge=NONCE)
    assert read.pace_mapping == "CAM" and "EF.CardSecurity" in read.dump.files and read.pace_cam.passed
    return Evidence.from_read(read)


def test_the_reader_keeps_the_proof_it_got() -> None:
    got = evidence().pace_cam
    assert got is not None and got.protocol == CAM and got.parameter_id == 13
    assert len(got.mapping_public_key) == 65 and len(got.data) == 32  # brainpoolP256r1: 04||x||y, a scalar
    assert got != proof()  # another session, another mapping key
    gm = read_card(InProcessTransport(VirtualChip(sample_gm())), AccessKey.can(sample_gm_can()))
    assert gm.pace_mapping == "GM" and Evidence.from_read(gm).pace_cam is None


@cache
def sample_gm() -> CardImage:
    return personalize(sample_resident(11), synthetic_portrait_jpeg(11), sample_pki().document_signer)


def sample_gm_can() -> str:
    secrets = sample_gm().secrets
    assert secrets is not None
    return secrets.can


def test_the_proof_travels_in_version_1_and_follows_the_schema() -> None:
    document = json.loads(evidence().to_json())
    jsonschema.validate(document, evidence_schema())
    assert document["version"] == 1
    assert set(document["pace_cam"]) == {"protocol", "parameter_id", "chip_mapping_public_key",
                                         "chip_authentication_data"}
    assert Evidence.from_json(evidence().to_json()) == evidence()


def test_a_version_1_bundle_without_the_field_is_still_read() -> None:
    document = json.loads(evidence().to_json())
    del document["pace_cam"]
    jsonschema.validate(document, evidence_schema())
    assert Evidence.from_dict(document).pace_cam is None


def test_a_proof_from_a_sans_io_run_also_fits() -> None:
    report = verify_evidence(replace(evidence(), pace_cam=proof()), sample_trust(), expected_challenge=NONCE)
    assert report.check("live.pace_cam").status is Status.PASS


def test_a_fitting_proof_passes_live_pace_cam_but_does_not_prove_liveness_alone() -> None:
    report = verify_evidence(evidence(), sample_trust(), expected_challenge=NONCE)
    assert report.check("live.pace_cam").status is Status.PASS, report.check("live.pace_cam").reason
    assert "EF.CardSecurity" in report.check("live.pace_cam").reason
    assert report.verdict is Verdict.VALID, report.summary()
    no_aa = replace(evidence(), active_authentication=None)
    report = verify_evidence(no_aa, sample_trust(), expected_challenge=NONCE)
    assert report.check("live.pace_cam").status is Status.PASS
    assert report.check("live.chip_proven").status is Status.UNKNOWN  # anyone can compute such a pair


def test_a_proof_that_does_not_fit_the_key_is_invalid() -> None:
    got = evidence().pace_cam
    assert got is not None
    data = bytearray(got.data)
    data[-1] ^= 1
    forged = replace(evidence(), pace_cam=replace(got, data=bytes(data)))
    report = verify_evidence(forged, sample_trust(), expected_challenge=NONCE)
    assert report.check("live.pace_cam").status is Status.FAIL
    assert "does not fit EF.CardSecurity's key" in report.check("live.pace_cam").reason
    assert report.verdict is Verdict.INVALID


def test_a_proof_from_another_chip_is_invalid() -> None:
    other = personalize(sample_resident(10), synthetic_portrait_jpeg(10), sample_pki().document_signer,
                        profile=ChipProfile(pace_protocol=CAM))
    swapped = replace(evidence(), files={**evidence().files, "EF.CardSecurity": other.files["EF.CardSecurity"]})
    report = verify_evidence(swapped, sample_trust(), expected_challenge=NONCE)
    assert report.check("live.pace_cam").status is Status.FAIL


def test_without_ef_cardsecurity_it_cannot_tell() -> None:
    files = {name: data for name, data in evidence().files.items() if name != "EF.CardSecurity"}
    check = verify_evidence(replace(evidence(), files=files), sample_trust(),
                            expected_challenge=NONCE).check("live.pace_cam")
    assert check.status is Status.NOT_APPLICABLE and "no EF.CardSecurity" in check.reason


@pytest.mark.parametrize(("field", "value", "where"), [
    ("parameter_id", -1, "pace_cam.parameter_id"),
    ("parameter_id", True, "pace_cam.parameter_id"),
    ("chip_authentication_data", "%%", "pace_cam.chip_authentication_data"),
    ("protocol", 5, "pace_cam.protocol"),
])
def test_a_malformed_proof_is_a_decode_error_naming_the_field(field: str, value: object, where: str) -> None:
    document = json.loads(evidence().to_json())
    document["pace_cam"][field] = value
    with pytest.raises(DecodeError) as caught:
        Evidence.from_dict(document)
    assert caught.value.field == where


def test_verify_proof_names_every_key_it_tried() -> None:
    curve = PACEParameters(CAM, 13).curve
    with pytest.raises(ProtocolError, match="no static key"):
        verify_proof(curve, proof(), [])
    card_security = CardSecurity.decode(image().files["EF.CardSecurity"])
    keys = keys_on(curve, (info.public_key for info in card_security.chip_authentication_keys))
    assert len(keys) == 1
    verify_proof(curve, proof(), keys)
    other = CardSecurity.decode(sample_gm_cam_security())
    with pytest.raises(ProtocolError, match="does not match its static public key"):
        verify_proof(curve, proof(), keys_on(curve, (info.public_key for info in other.chip_authentication_keys)))


def sample_gm_cam_security() -> bytes:
    other = personalize(sample_resident(12), synthetic_portrait_jpeg(12), sample_pki().document_signer,
                        profile=ChipProfile(pace_protocol=CAM))
    return other.files["EF.CardSecurity"]
