"""VerificationReport verdict rules and renderings."""

from __future__ import annotations

import json

import pytest

from cardlib.verify.report import CheckResult, Group, Status, Verdict, VerificationReport


def _check(check_id: str, status: Status) -> CheckResult:
    return CheckResult(check_id, Group.PASSIVE, status, f"{check_id} is {status.value}")


@pytest.mark.parametrize(
    ("statuses", "verdict"),
    [
        ([Status.PASS, Status.PASS], Verdict.VALID),
        ([Status.PASS, Status.WARN, Status.NOT_APPLICABLE], Verdict.VALID),
        ([Status.PASS, Status.UNKNOWN], Verdict.CANNOT_TELL),
        ([Status.UNKNOWN, Status.FAIL], Verdict.INVALID),
        ([], Verdict.CANNOT_TELL),
    ],
)
def test_verdict_rules(statuses: list[Status], verdict: Verdict) -> None:
    report = VerificationReport.of("x", [_check(f"c{i}", s) for i, s in enumerate(statuses)])
    assert report.verdict is verdict


def test_exit_codes() -> None:
    assert [v.exit_code for v in (Verdict.VALID, Verdict.INVALID, Verdict.CANNOT_TELL)] == [0, 1, 2]


def test_json_has_top_level_verdict_and_keeps_vietnamese() -> None:
    report = VerificationReport.of("card", [_check("hash.DG1", Status.FAIL)], {"full_name": "Đặng Thị Hà"})
    text = report.to_json()
    data = json.loads(text)
    assert data["verdict"] == "invalid"
    assert data["checks"][0] == {"id": "hash.DG1", "group": "passive authentication", "status": "fail",
                                 "reason": "hash.DG1 is fail"}
    assert "Đặng Thị Hà" in text


def test_text_puts_verdict_first_and_names_failures() -> None:
    report = VerificationReport.of("card", [_check("a", Status.PASS), _check("sod.signature", Status.FAIL)])
    first = report.to_text().splitlines()[0]
    assert first.startswith("INVALID") and "sod.signature is fail" in first
    assert report.check("a").status is Status.PASS
    with pytest.raises(KeyError):
        report.check("missing")
