"""VerificationReport verdict rules and renderings."""

from __future__ import annotations

import json
from datetime import date

import pytest

from cardlib.model.resident import Sex
from cardlib.verify.holder import Holder, Portrait
from cardlib.verify.report import SCHEMA_VERSION, CheckResult, Group, Status, Verdict, VerificationReport


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
    holder = Holder(source="DG13", full_name="Đặng Thị Hà", date_of_birth=date(1990, 2, 1), sex=Sex.FEMALE,
                    never_expires=True, portrait=Portrait(b"\xff\xd8\xff", "image/jpeg"))
    report = VerificationReport.of("card", [_check("hash.DG1", Status.FAIL)], holder)
    text = report.to_json()
    data = json.loads(text)
    assert data["schema_version"] == SCHEMA_VERSION and data["verdict"] == "invalid"
    assert data["holder"]["date_of_birth"] == "1990-02-01" and data["holder"]["sex"] == "female"
    assert data["holder"]["date_of_expiry"] is None and data["holder"]["never_expires"] is True
    assert data["holder"]["portrait"] == {"mime_type": "image/jpeg", "size": 3}
    assert json.loads(report.to_json(include_portrait=True))["holder"]["portrait"]["base64"] == "/9j/"
    assert data["checks"][0] == {"id": "hash.DG1", "group": "passive authentication", "status": "fail",
                                 "reason": "hash.DG1 is fail"}
    assert "Đặng Thị Hà" in text


def test_text_puts_verdict_first_and_names_failures() -> None:
    report = VerificationReport.of("card", [_check("a", Status.PASS), _check("sod.signature", Status.FAIL)])
    assert VerificationReport.of("card", []).to_dict()["holder"] is None
    first = report.to_text().splitlines()[0]
    assert first.startswith("INVALID") and "sod.signature is fail" in first
    assert report.check("a").status is Status.PASS
    with pytest.raises(KeyError):
        report.check("missing")
