"""The counter's verdict in plain words: genuine, not genuine (which check failed), or cannot tell.

Officers act on one sentence, not on check identifiers: each failed or undecided check of a
:class:`~cardlib.verify.report.VerificationReport` becomes a sentence in Vietnamese and English saying what
it means for the card.  The outcome is the report's verdict: "genuine" needs the chip to have proved itself
live (Chip or Active Authentication) because :func:`~cardlib.verify.live.verify_read` asks it by default
(:class:`~cardlib.verify.verifier.LivenessPolicy`), so the counter, ``cardtool verify`` and the library give
the same answer for the same read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any

from cardlib.verify.report import CheckResult, Status, Verdict, VerificationReport
from cardlib.verify.verifier import CHIP_PROVEN

EXPIRY_CHECK = "lds.dg1.expiry"
"""The report's check that warns when the card has expired (an expired card can still be genuine)."""


class Outcome(Enum):
    """The one answer shown at the top of the page."""

    GENUINE = "genuine"
    NOT_GENUINE = "not_genuine"
    CANNOT_TELL = "cannot_tell"


@dataclass(frozen=True)
class Sentence:
    """One reason in both languages of the page, with the check it comes from."""

    check: str
    vi: str
    en: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"check": self.check, "vi": self.vi, "en": self.en}


# What each data group holds, in the officer's words (vi, en).
_CONTENT = {"DG1": ("dữ liệu vùng đọc máy (MRZ)", "machine-readable zone data"),
            "DG2": ("ảnh chân dung", "portrait"), "DG13": ("thông tin công dân", "personal data"),
            "DG14": ("khóa xác thực chip", "chip authentication key"),
            "DG15": ("khóa xác thực chủ động", "active authentication key")}

# Failed checks, by exact id or by id prefix (the longest matching entry wins).
_FAILED: dict[str, tuple[str, str]] = {
    "sod.signature": ("Chữ ký số của cơ quan cấp thẻ trên dữ liệu không hợp lệ.",
                      "The issuing authority's digital signature on the data is not valid."),
    "sod": ("Phần bảo mật dữ liệu (EF.SOD) trên chip bị lỗi.", "The chip's security data (EF.SOD) is faulty."),
    "chain.ds_not_revoked": ("Chứng thư dùng để ký thẻ này đã bị thu hồi.",
                             "The certificate that signed this card has been revoked."),
    "chain.ds_validity": ("Chứng thư dùng để ký thẻ này không còn hiệu lực.",
                          "The certificate that signed this card is not valid."),
    "chain": ("Chuỗi chứng thư của cơ quan cấp thẻ không hợp lệ.",
              "The issuing authority's certificate chain is not valid."),
    "live.chip_authentication": ("Chip không chứng minh được là chip gốc (có thể là chip sao chép).",
                                 "The chip could not prove it is the original chip (it may be a copy)."),
    "live.active_authentication": ("Chip không ký được phép thử xác thực chủ động (có thể là chip sao chép).",
                                   "The chip failed active authentication (it may be a copy)."),
    "cross": ("Thông tin vùng đọc máy (MRZ) và thông tin công dân trên chip không khớp nhau.",
              "The machine-readable zone and the personal data on the chip disagree."),
    "com.sod_consistency": ("Danh sách dữ liệu trên chip không khớp với phần đã được ký.",
                            "The list of data on the chip does not match what was signed."),
    "lds": ("Dữ liệu trên chip sai định dạng.", "The data on the chip is malformed."),
}

# Checks that could not be done.
_UNDECIDED: dict[str, tuple[str, str]] = {
    "chain.csca_found": ("Chứng thư gốc (CSCA) của cơ quan cấp không có trong kho tin cậy của máy này, nên không "
                         "xác định được thẻ thật hay giả.",
                         "The issuing authority's root certificate (CSCA) is not in this counter's trust store, "
                         "so the card cannot be confirmed."),
    "sod.signature": ("Không kiểm tra được chữ ký số của cơ quan cấp thẻ.",
                      "The issuing authority's digital signature could not be checked."),
    "sod.decode": ("Chip không có phần bảo mật dữ liệu (EF.SOD), nên không gì chứng minh dữ liệu là thật.",
                   "The chip has no security data (EF.SOD), so nothing proves the data is genuine."),
    CHIP_PROVEN: ("Chip không tự xác thực (không có xác thực chip hay xác thực chủ động), nên không loại trừ được "
                  "chip sao chép.",
                  "The chip did not authenticate itself (no chip or active authentication), so a copied chip "
                  "cannot be ruled out."),
}


def _lookup(table: dict[str, tuple[str, str]], check_id: str) -> tuple[str, str] | None:
    keys = [key for key in table if check_id == key or check_id.startswith(key + ".")]
    return table[max(keys, key=len)] if keys else None


def plain_reason(check: CheckResult) -> Sentence:
    """What a failed or undecided check means for the card, in Vietnamese and English."""
    failed = check.status is Status.FAIL
    if check.id.startswith("hash."):
        name = check.id.removeprefix("hash.")
        vi, en = _CONTENT.get(name, (f"dữ liệu {name}", f"data group {name}"))
        if failed:
            return Sentence(check.id, f"Phần {vi} trên chip đã bị thay đổi sau khi cấp thẻ.",
                            f"The {en} on the chip was changed after the card was issued.")
        return Sentence(check.id, f"Không đọc được phần {vi} để kiểm tra.", f"The {en} could not be read to check it.")
    found = _lookup(_FAILED if failed else _UNDECIDED, check.id)
    if found is not None:
        return Sentence(check.id, *found)
    if failed:
        return Sentence(check.id, f"Một bước kiểm tra kỹ thuật không đạt ({check.id}).",
                        f"A technical check failed ({check.id}).")
    return Sentence(check.id, f"Không thực hiện được một bước kiểm tra ({check.id}).",
                    f"A check could not be done ({check.id}).")


@dataclass(frozen=True)
class CounterVerdict:
    """The outcome, the plain reasons behind it (empty when genuine) and every check for the folded details.

    ``expired_on`` is the card's date of expiry when it has passed and the card is not called a forgery: the
    page's verdict line itself then says "genuine — expired on dd/mm/yyyy" (an expired card is still genuine).
    """

    outcome: Outcome
    reasons: tuple[Sentence, ...]
    checks: tuple[CheckResult, ...]
    expired_on: date | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the page (``expired_on`` as yyyy-mm-dd, or None)."""
        return {"outcome": self.outcome.value,
                "expired_on": self.expired_on.isoformat() if self.expired_on else None,
                "reasons": [reason.to_dict() for reason in self.reasons],
                "checks": [check.to_dict() for check in self.checks]}


def counter_verdict(report: VerificationReport) -> CounterVerdict:
    """The counter's answer for ``report``: one outcome and one sentence per distinct problem."""
    verdict = report.verdict
    if verdict is Verdict.INVALID:
        return CounterVerdict(Outcome.NOT_GENUINE, _distinct(report.failures()), report.checks)
    expired_on = expired(report)
    if verdict is Verdict.CANNOT_TELL:
        return CounterVerdict(Outcome.CANNOT_TELL, _distinct(report.undecided()), report.checks, expired_on)
    return CounterVerdict(Outcome.GENUINE, (), report.checks, expired_on)


def expired(report: VerificationReport) -> date | None:
    """The holder's date of expiry when the report's ``lds.dg1.expiry`` check says the card has expired."""
    warned = any(check.id == EXPIRY_CHECK and check.status is Status.WARN for check in report.checks)
    return report.holder.date_of_expiry if warned else None


def _distinct(checks: list[CheckResult]) -> tuple[Sentence, ...]:
    sentences: dict[str, Sentence] = {}
    for check in checks:
        sentence = plain_reason(check)
        sentences.setdefault(sentence.en, sentence)
    return tuple(sentences.values())
