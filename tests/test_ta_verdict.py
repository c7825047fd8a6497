"""``live.terminal_authentication`` (Z, item 2): verify_read reports Terminal Authentication, PASS when the chip
accepted the terminal, NOT_APPLICABLE when not attempted, WARN when refused; never FAIL, never the verdict."""

from __future__ import annotations

from test_ta_wiring import image, in_process, other_pki, pki

from cardlib.reader.reader import EACCredentials
from cardlib.testing.pki import sample_trust
from cardlib.verify.live import verify_read
from cardlib.verify.report import Status, Verdict
from cardlib.verify.verifier import LiveResults, verify

CHECK = "live.terminal_authentication"


def test_passed_terminal_authentication_passes() -> None:
    report = verify_read(in_process(EACCredentials.of(pki())), sample_trust())
    check = report.check(CHECK)
    assert check.status is Status.PASS and "DG3" in check.reason
    assert report.verdict is Verdict.VALID


def test_read_without_credentials_is_not_applicable() -> None:
    report = verify_read(in_process(None), sample_trust())
    check = report.check(CHECK)
    assert check.status is Status.NOT_APPLICABLE and "no EAC terminal credentials" in check.reason
    assert report.verdict is Verdict.VALID


def test_refused_terminal_authentication_warns_and_never_fails_the_card() -> None:
    genuine = EACCredentials.of(pki())
    impostor = EACCredentials(genuine.chain, EACCredentials.of(other_pki()).signer)
    report = verify_read(in_process(impostor), sample_trust())
    check = report.check(CHECK)
    assert check.status is Status.WARN
    assert "EXTERNAL AUTHENTICATE" in check.reason and "says nothing against the card" in check.reason
    assert report.verdict is Verdict.VALID


def test_a_dump_cannot_tell_and_given_live_results_are_reported() -> None:
    assert verify(image(), sample_trust()).check(CHECK).status is Status.NOT_APPLICABLE
    refused = LiveResults(terminal_authentication=(False, "6985"))
    assert verify(image(), sample_trust(), live=refused).check(CHECK).status is Status.WARN
