"""VerificationReport: one verdict over many named checks, for machines (JSON) and people (text).

Each check is its own :class:`CheckResult` with a stable identifier (``sod.signature``,
``hash.DG13``, ``lds.dg1.check_digits``), a group in the spirit of BSI TR-03105 (passive authentication,
LDS conformance, cross-checks, live chip checks) and a reason a person can act on.

The verdict is:

* ``invalid`` when any check failed;
* ``cannot tell`` when none failed but a check that decides authenticity could not be done
  (e.g. the CSCA is not in the trust store, or a file was missing);
* ``valid`` otherwise.  Warnings never change the verdict.

:meth:`VerificationReport.to_json` follows the versioned JSON schema shipped with the package
(``cardlib/schemas/report.schema.json``, :data:`SCHEMA_VERSION`, :func:`report_schema`): a consumer reads
``schema_version`` first.  The version changes when a field is removed or changes meaning; new optional
fields keep it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from importlib import resources
from typing import Any, NamedTuple

from cardlib.verify.holder import Holder

SCHEMA_VERSION = 1
SCHEMA_RESOURCE = "schemas/report.schema.json"


def report_schema() -> dict[str, Any]:
    """The JSON schema (draft 2020-12) that every :meth:`VerificationReport.to_json` document satisfies."""
    text = resources.files("cardlib").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


class Status(Enum):
    """The outcome of one check."""

    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    UNKNOWN = "cannot tell"
    NOT_APPLICABLE = "n/a"


class Verdict(Enum):
    """The answer to "is this card genuine and well-formed?"."""

    VALID = "valid"
    INVALID = "invalid"
    CANNOT_TELL = "cannot tell"

    @property
    def exit_code(self) -> int:
        """Process exit status for command-line tools: 0 valid, 1 invalid, 2 cannot tell."""
        return {Verdict.VALID: 0, Verdict.INVALID: 1, Verdict.CANNOT_TELL: 2}[self]


class Group(Enum):
    """Families of checks, named after what they establish."""

    PASSIVE = "passive authentication"
    TRUST = "certificate chain"
    CONFORMANCE = "LDS conformance"
    CROSS = "cross-check"
    LIVE = "live chip"


class CheckResult(NamedTuple):
    """One named check with its outcome and a reason written for a person.

    An immutable named tuple rather than a frozen dataclass: a verification makes about a hundred, and a tuple
    is built in half the time.
    """

    id: str
    group: Group
    status: Status
    reason: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"id": self.id, "group": self.group.value, "status": self.status.value, "reason": self.reason}


@dataclass(frozen=True)
class VerificationReport:
    """Every check run over one card, the verdict they add up to, and who the card says it belongs to.

    ``holder`` is plain typed data (:class:`~cardlib.verify.holder.Holder`): ISO-able dates, the portrait's
    bytes; it is falsy when nothing of it (DG13, DG1, a DG2 portrait) could be read.
    """

    source: str
    checks: tuple[CheckResult, ...]
    holder: Holder = field(default_factory=Holder)

    @classmethod
    def of(cls, source: str, checks: Iterable[CheckResult], holder: Holder | None = None) -> VerificationReport:
        """Build a report from any iterable of check results."""
        if holder is not None and not isinstance(holder, Holder):
            raise TypeError(f"the holder must be a cardlib.verify.holder.Holder, got {type(holder).__name__}")
        return cls(source, tuple(checks), holder or Holder())

    @property
    def verdict(self) -> Verdict:
        """The single answer the checks add up to (see the module docstring)."""
        if any(check.status is Status.FAIL for check in self.checks):
            return Verdict.INVALID
        if any(check.status is Status.UNKNOWN for check in self.checks) or not self.checks:
            return Verdict.CANNOT_TELL
        return Verdict.VALID

    def failures(self) -> list[CheckResult]:
        """The checks that failed, in the order they ran."""
        return [check for check in self.checks if check.status is Status.FAIL]

    def undecided(self) -> list[CheckResult]:
        """The checks that could not be done."""
        return [check for check in self.checks if check.status is Status.UNKNOWN]

    def check(self, check_id: str) -> CheckResult:
        """The result of the check called ``check_id``; KeyError when it did not run."""
        for check in self.checks:
            if check.id == check_id:
                return check
        raise KeyError(check_id)

    def summary(self) -> str:
        """One line: the verdict and why."""
        verdict = self.verdict
        if verdict is Verdict.INVALID:
            return f"INVALID: {'; '.join(check.reason for check in self.failures())}"
        if verdict is Verdict.CANNOT_TELL:
            reasons = [check.reason for check in self.undecided()] or ["no checks could run"]
            return f"CANNOT TELL: {'; '.join(reasons)}"
        return f"VALID: {sum(check.status is Status.PASS for check in self.checks)} checks passed"

    def to_dict(self, *, include_portrait: bool = False) -> dict[str, Any]:
        """JSON-ready form with ``schema_version`` and a top-level ``verdict`` (see :func:`report_schema`).

        The portrait is described by type and size; ``include_portrait`` adds its bytes in base64.
        """
        return {
            "schema_version": SCHEMA_VERSION,
            "verdict": self.verdict.value,
            "summary": self.summary(),
            "source": self.source,
            "holder": self.holder.to_dict(include_portrait=include_portrait) if self.holder else None,
            "checks": [check.to_dict() for check in self.checks],
        }

    def to_json(self, *, include_portrait: bool = False) -> str:
        """The report as a JSON document (UTF-8 text, Vietnamese kept readable), per :func:`report_schema`."""
        return json.dumps(self.to_dict(include_portrait=include_portrait), ensure_ascii=False, indent=2)

    def to_text(self) -> str:
        """The report for a person: verdict first, then the holder, then every check grouped."""
        lines = [self.summary(), f"source: {self.source}"]
        lines += [f"  {key}: {value}" for key, value in self.holder.display().items()]
        for group in Group:
            members = [check for check in self.checks if check.group is group]
            if members:
                lines.append(f"{group.value}:")
                lines += [f"  [{_MARK[check.status]}] {check.id}: {check.reason}" for check in members]
        return "\n".join(lines)


_MARK = {Status.PASS: " ok ", Status.FAIL: "FAIL", Status.WARN: "warn", Status.UNKNOWN: " ?? ",
         Status.NOT_APPLICABLE: " -- "}
