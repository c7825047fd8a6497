"""Evidence bundles: a read turned into evidence, re-checked offline; replays, swaps and forged transcripts fail."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest
from cardtool.main import main

from cardlib.card.image import CardImage
from cardlib.chip.chip import VirtualChip
from cardlib.chip.vpcd import vpcd_card
from cardlib.errors import DecodeError, ValidationError
from cardlib.evidence.bundle import ActiveAuthEvidence, Evidence, evidence_schema
from cardlib.evidence.nonces import NonceStore
from cardlib.evidence.verification import verify_evidence
from cardlib.limits import MAX_EVIDENCE_BYTES, LimitExceeded
from cardlib.pki.trust import TrustStore
from cardlib.reader.reader import AccessKey, ReadResult, read_card
from cardlib.reader.transport import InProcessTransport
from cardlib.testing.cards import sample_card_image
from cardlib.testing.pcscd import PcscdInstance
from cardlib.verify.report import Status, Verdict, report_schema

NONCE = bytes.fromhex("0102030405060708")


@pytest.fixture(scope="module")
def image() -> CardImage:
    return sample_card_image(7)


def _read(image: CardImage, challenge: bytes | None = NONCE) -> ReadResult:
    assert image.secrets is not None
    return read_card(InProcessTransport(VirtualChip(image)), AccessKey.can(image.secrets.can), aa_challenge=challenge)


@pytest.fixture(scope="module")
def evidence(image: CardImage) -> Evidence:
    return Evidence.from_read(_read(image))


def _status(evidence: Evidence, trust: TrustStore, check: str, expected: bytes | None = NONCE) -> Status:
    return verify_evidence(evidence, trust, expected_challenge=expected).check(check).status


def test_bundle_round_trips_follows_its_schema_and_holds_no_reader_secret(evidence: Evidence,
                                                                          image: CardImage) -> None:
    text = evidence.to_json()
    document = json.loads(text)
    jsonschema.validate(document, evidence_schema())
    assert document["version"] == 1 and document["access"] == "PACE-CAN"
    assert set(document["files"]) >= {"EF.COM", "DG1", "DG2", "DG13", "DG14", "DG15", "EF.SOD", "EF.CardAccess"}
    assert document["protected_files"] == ["DG3"]
    again = Evidence.from_json(text)
    assert again == evidence
    assert image.secrets is not None and image.secrets.can not in text
    assert base64.b64decode(document["active_authentication"]["challenge"]) == NONCE


def test_evidence_with_the_expected_challenge_is_valid(evidence: Evidence, trust: TrustStore) -> None:
    report = verify_evidence(evidence.to_json(), trust, expected_challenge=NONCE)
    assert report.verdict is Verdict.VALID, report.summary()
    for check in ("live.aa_challenge", "live.ca_transcript", "live.chip_proven", "live.active_authentication",
                  "live.chip_authentication"):
        assert report.check(check).status is Status.PASS
    jsonschema.validate(report.to_dict(), report_schema())
    assert report.holder.full_name == "Nguyễn Thị Thu Hương"


def test_a_bundle_answering_another_challenge_is_invalid(evidence: Evidence, trust: TrustStore) -> None:
    report = verify_evidence(evidence, trust, expected_challenge=bytes(8))
    assert report.verdict is Verdict.INVALID
    assert [check.id for check in report.failures()] == ["live.aa_challenge"]
    assert "not the expected challenge 0000000000000000" in report.check("live.aa_challenge").reason


def test_without_an_expected_challenge_the_answer_is_cannot_tell(evidence: Evidence, trust: TrustStore) -> None:
    report = verify_evidence(evidence, trust, expected_challenge=None)
    assert report.verdict is Verdict.CANNOT_TELL
    assert report.check("live.aa_challenge").status is Status.UNKNOWN


def test_a_swapped_data_group_is_invalid(evidence: Evidence, trust: TrustStore) -> None:
    other = sample_card_image(8).files["DG1"]
    report = verify_evidence(replace(evidence, files={**evidence.files, "DG1": other}), trust,
                             expected_challenge=NONCE)
    assert report.verdict is Verdict.INVALID
    assert report.check("hash.DG1").status is Status.FAIL


def test_a_forged_signature_is_invalid(evidence: Evidence, trust: TrustStore) -> None:
    assert evidence.active_authentication is not None
    forged = ActiveAuthEvidence(NONCE, bytes(len(evidence.active_authentication.signature)))
    report = verify_evidence(replace(evidence, active_authentication=forged), trust, expected_challenge=NONCE)
    assert report.verdict is Verdict.INVALID
    assert report.check("live.active_authentication").status is Status.FAIL
    assert report.check("live.chip_proven").status is Status.UNKNOWN


def test_a_transcript_that_does_not_fit_the_chip_key_is_invalid(evidence: Evidence, trust: TrustStore) -> None:
    transcript = evidence.chip_authentication
    assert transcript is not None
    first = transcript.responses[0]
    tampered = replace(first, data=first.data[:-1] + bytes([first.data[-1] ^ 1]))
    bad_mac = replace(transcript, responses=(tampered, *transcript.responses[1:]))
    report = verify_evidence(replace(evidence, chip_authentication=bad_mac), trust, expected_challenge=NONCE)
    assert report.verdict is Verdict.INVALID
    check = report.check("live.ca_transcript")
    assert check.status is Status.FAIL and "does not fit the chip's DG14 key" in check.reason
    assert "MAC" in check.reason
    other_key = replace(transcript, terminal_private_key=(1).to_bytes(32, "big"))
    reason = verify_evidence(replace(evidence, chip_authentication=other_key), trust,
                             expected_challenge=NONCE).check("live.ca_transcript").reason
    assert "not the one of the revealed private key" in reason
    assert _status(replace(evidence, chip_authentication=replace(transcript, responses=())), trust,
                   "live.ca_transcript") is Status.FAIL


def test_an_answer_from_another_session_does_not_fit_the_transcript(image: CardImage, evidence: Evidence,
                                                                     trust: TrustStore) -> None:
    second = Evidence.from_read(_read(image))  # same card, same challenge, another CA session
    spliced = replace(evidence, chip_authentication=second.chip_authentication)
    report = verify_evidence(spliced, trust, expected_challenge=NONCE)
    assert report.verdict is Verdict.INVALID
    assert "not received in the chip-authenticated session" in report.check("live.ca_transcript").reason


def test_a_bundle_without_live_evidence_is_cannot_tell_not_invalid(evidence: Evidence, trust: TrustStore) -> None:
    dump_only = replace(evidence, chip_authentication=None, active_authentication=None)
    report = verify_evidence(dump_only, trust, expected_challenge=NONCE)
    assert report.verdict is Verdict.CANNOT_TELL
    assert report.check("live.chip_proven").status is Status.UNKNOWN
    assert report.check("live.ca_transcript").status is Status.NOT_APPLICABLE


def test_malformed_bundles_are_decode_errors_naming_the_field(evidence: Evidence) -> None:
    document = evidence.to_dict()
    with pytest.raises(DecodeError, match="version 2 is not supported"):
        Evidence.from_dict({**document, "version": 2})
    with pytest.raises(DecodeError, match=r"files\.DG1: not base64"):
        Evidence.from_dict({**document, "files": {**document["files"], "DG1": "***"}})
    with pytest.raises(DecodeError, match=r"files\.DG99"):
        Evidence.from_dict({**document, "files": {"DG99": ""}})
    bad_sw = {**document["chip_authentication"], "responses": [{"ssc": 2, "data": "", "sw": "90"}]}
    with pytest.raises(DecodeError, match=r"responses\[0\]\.sw"):
        Evidence.from_dict({**document, "chip_authentication": bad_sw})
    with pytest.raises(DecodeError, match="not JSON"):
        Evidence.from_json(b"\xff{")
    with pytest.raises(LimitExceeded, match="MAX_EVIDENCE_BYTES"):
        Evidence.from_json(b" " * (MAX_EVIDENCE_BYTES + 1))


def test_read_card_takes_only_an_eight_byte_challenge(image: CardImage) -> None:
    with pytest.raises(ValidationError, match="aa_challenge"):
        _read(image, b"short")


def test_the_revealed_key_stays_out_of_reprs(image: CardImage) -> None:
    result = _read(image)
    transcript = result.chip_auth.transcript
    assert transcript is not None
    assert transcript.terminal_private_key.hex() not in repr(result).encode().hex()
    assert "terminal_private_key" not in repr(transcript)


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_nonces_are_single_use_expire_and_are_bounded() -> None:
    clock = _Clock()
    store = NonceStore(lifetime=60, capacity=2, clock=clock)
    first, second = store.issue(), store.issue()
    assert len(first) == 8 and first != second
    with pytest.raises(LimitExceeded, match="MAX_PENDING_NONCES"):
        store.issue()
    assert store.redeem(first) is None
    assert "already used" in (store.redeem(first) or "")
    clock.now = 61
    assert "expired" in (store.redeem(second) or "")
    clock.now = 200
    third = store.issue()
    store.issue()  # the expired ones made room
    assert "another challenge" in (store.redeemer(third)(first) or "")
    assert "not issued" in (store.redeemer(third)(third) or "")  # consumed by the mismatching bundle


def test_cardtool_read_evidence_then_verify_evidence(image: CardImage, tmp_path: Path, pcscd: PcscdInstance,
                                                      test_pki_folder: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert image.secrets is not None
    bundle = tmp_path / "evidence.json"
    with vpcd_card(VirtualChip(image), port=pcscd.port):
        assert main(["read", "--reader", pcscd.reader_name, "--can", image.secrets.can, "--out",
                     str(tmp_path / "dump"), "--evidence", str(bundle), "--challenge", NONCE.hex()]) == 0
    assert image.secrets.can not in bundle.read_text()
    trust = ["--trust", str(test_pki_folder / "csca.pem"), str(test_pki_folder / "crl.pem")]
    capsys.readouterr()
    assert main(["verify", "--evidence", str(bundle), *trust, "--challenge", NONCE.hex(), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "valid"
    assert main(["verify", "--evidence", str(bundle), *trust, "--challenge", "00" * 8]) == 1
    assert "live.aa_challenge" in capsys.readouterr().out
    assert main(["verify", "--evidence", str(bundle), *trust]) == 2  # no challenge: cannot tell
    with pytest.raises(SystemExit):
        main(["verify", "--evidence", str(bundle), *trust, "--challenge", "abc"])
