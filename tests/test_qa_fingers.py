"""QA of DG3 (fingerprints): each card's outcome says whether DG3 was read and its hash verified, and the report
page says it for the batch; a DG3 the chip kept behind Terminal Authentication is "not read", never a failure."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from cardtool.qa_report import qa_page
from cardtool.qa_summary import BatchSummary

from cardlib.batch.outcome import CardOutcome
from cardlib.card.image import CardImage
from cardlib.card.perso import personalize, prepare_finger
from cardlib.lds.dg3 import FingerPosition
from cardlib.model.resident import Resident, Sex
from cardlib.pki.certificates import Certificate
from cardlib.pki.trust import TrustStore
from cardlib.testing.faces import synthetic_portrait_jpeg
from cardlib.testing.fingers import synthetic_finger_wsq
from cardlib.testing.pki import sample_pki
from cardlib.verify.report import Status, Verdict
from cardlib.verify.verifier import verify

PKI = sample_pki()
TRUST = TrustStore([Certificate.from_cryptography(PKI.csca_certificate)])
RESIDENT = Resident(id_number="001199012345", full_name="Đỗ Thị Lan Anh", date_of_birth=date(1999, 3, 14),
                    sex=Sex.FEMALE, place_of_origin="Hà Đông, Hà Nội", place_of_residence="12 Phố Huế, Hà Nội",
                    date_of_issue=date(2021, 5, 1), date_of_expiry=date(2039, 3, 14))


@pytest.fixture(scope="module")
def card() -> CardImage:
    fingers = [prepare_finger(synthetic_finger_wsq(1), FingerPosition.RIGHT_INDEX),
               prepare_finger(synthetic_finger_wsq(2), FingerPosition.LEFT_INDEX)]
    return personalize(RESIDENT, synthetic_portrait_jpeg(2), PKI.document_signer, fingers=fingers).dump()


def _outcome(card: CardImage, label: str) -> CardOutcome:
    return CardOutcome.of(label, verify(card, TRUST))


def test_dg3_read_and_its_hash_verified(card: CardImage) -> None:
    report = verify(card, TRUST)
    assert report.check("hash.DG3").status is Status.PASS and report.check("lds.dg3.image").status is Status.PASS
    outcome = CardOutcome.of("read", report)
    assert outcome.dg3 == "verified"
    assert CardOutcome.from_dict(outcome.__dict__).dg3 == "verified"  # kept through the results journal


def test_dg3_not_read_is_no_failure(card: CardImage) -> None:
    without = replace(card, files={name: data for name, data in card.files.items() if name != "DG3"})
    report = verify(without, TRUST)
    assert report.verdict is not Verdict.INVALID
    assert report.check("hash.DG3").status is Status.NOT_APPLICABLE
    assert report.check("lds.dg3").status is Status.NOT_APPLICABLE
    assert CardOutcome.of("no TA", report).dg3 == "not read"


def test_altered_dg3_fails_its_hash(card: CardImage) -> None:
    data = bytearray(card.files["DG3"])
    data[-3] ^= 0x01  # inside the last finger's WSQ image
    outcome = _outcome(replace(card, files={**card.files, "DG3": bytes(data)}), "forged")
    assert outcome.dg3 == "hash fails" and "hash.DG3" in outcome.failed_checks and outcome.verdict == "invalid"


def test_report_page_says_whether_dg3_was_read_and_verified(card: CardImage) -> None:
    without = replace(card, files={name: data for name, data in card.files.items() if name != "DG3"})
    summary = BatchSummary()
    for outcome in (_outcome(card, "a"), _outcome(card, "b"), _outcome(without, "c"),
                    CardOutcome.error("d", "pulled out")):
        summary.add(outcome)
    line = "Fingerprints (DG3): 2 read and hash verified; 1 not read (Terminal Authentication needed)"
    assert summary.dg3_line() == line
    assert line in qa_page(summary, "batch")
    assert BatchSummary().dg3_line() == "Fingerprints (DG3): no card's SOD lists DG3"
