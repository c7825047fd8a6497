"""CardOutcome: what QA established for one card, as one JSON object (one line of the results journal).

An outcome names the card (``key`` is its identity in the journal, ``label`` what a person reads), the
verdict, each failed or undecided check with its reason, and who the card says it belongs to.  It never
holds keys, CANs or MRZ key seeds.  Failed cards carry a small JPEG thumbnail of their portrait (base64)
so a supervisor sees at once whose card it is.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cardlib.verify.report import Status, VerificationReport

ERROR = "error"
INVALID = "invalid"
VALID = "valid"
READ = "read"
"""The check of a card that could not be read or loaded at all (verdict :data:`ERROR`, "unreadable")."""
UNREADABLE = "unreadable"

DG3_STATES: Mapping[Status, str] = {Status.PASS: "verified", Status.NOT_APPLICABLE: "not read",
                                    Status.FAIL: "hash fails", Status.UNKNOWN: "not verified"}
"""What QA says of a card's DG3 (fingerprints) by its ``hash.DG3`` check: read and its hash verified, not read
(the chip keeps it behind Terminal Authentication), read but altered, or listed and not verifiable."""


@dataclass(frozen=True)
class CardOutcome:
    """What QA established for one card.

    ``verdict`` is a :class:`~cardlib.verify.report.Verdict` value, or ``"error"`` when the card could not
    be read or loaded at all.  ``reasons`` maps each failed or undecided check to its reason.  ``read_ms``
    is the time taken to get the card's files (off the chip, or off the disk), ``check_ms`` the time
    verification took, ``finished`` the wall-clock time (seconds since the epoch) the outcome was made.
    ``signer`` names the Document Signer certificate the card's SOD carries (subject, serial, key id).
    ``manifest_id`` is the ID number the batch manifest gives a card that could not be read (matched by its
    card folder), so an unreadable card of the batch is counted once, as unreadable, never also as missing.
    ``dg3`` is one of :data:`DG3_STATES`' values, ``""`` when the card's SOD lists no DG3.
    """

    label: str
    verdict: str
    summary: str
    failed_checks: tuple[str, ...]
    undecided_checks: tuple[str, ...]
    holder: dict[str, str] = field(default_factory=dict)
    access: str = ""
    apdus: int = 0
    read_ms: float = 0.0
    key: str = ""
    reasons: dict[str, str] = field(default_factory=dict)
    check_ms: float = 0.0
    finished: float = 0.0
    reader: str = ""
    thumbnail: str = ""
    signer: str = ""
    manifest_id: str = ""
    dg3: str = ""

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", self.label)
        if not self.finished:
            object.__setattr__(self, "finished", round(time.time(), 3))

    @classmethod
    def of(cls, label: str, report: VerificationReport, *, access: str = "", apdus: int = 0,
           read_ms: float = 0.0, **extra: Any) -> CardOutcome:
        """The outcome of ``report`` for the card called ``label`` (``extra``: any other field)."""
        undecided = report.undecided()
        reasons = {check.id: check.reason for check in [*report.failures(), *undecided]}
        return cls(label, report.verdict.value, report.summary(), tuple(c.id for c in report.failures()),
                   tuple(c.id for c in undecided), report.holder.display(), access, apdus, round(read_ms, 1),
                   reasons=reasons, dg3=dg3_state(report), **extra)

    @classmethod
    def error(cls, label: str, message: str, **extra: Any) -> CardOutcome:
        """A card that could not be read or verified at all; ``message`` says why (summary "unreadable: why")."""
        return cls(label, ERROR, f"{UNREADABLE}: {message}", (READ,), (), reasons={READ: message}, **extra)

    @property
    def id_number(self) -> str:
        """The ID number the card carries (from DG13, else DG1), or ``""`` when none could be read."""
        return self.holder.get("ID number", "")

    @property
    def batch_id(self) -> str:
        """The ID number read from the card, else the one the manifest gives it (``""`` when neither)."""
        return self.id_number or self.manifest_id

    @property
    def passed(self) -> bool:
        """True when the card verified valid."""
        return self.verdict == VALID

    def with_findings(self, findings: Mapping[str, str]) -> CardOutcome:
        """This outcome with the batch-level ``findings`` (check id → reason) added as failed checks."""
        if not findings:
            return self
        failed = (*self.failed_checks, *findings)
        verdict = self.verdict if self.verdict == ERROR else INVALID
        reasons = {**self.reasons, **findings}
        summary = "INVALID: " + "; ".join(reasons[check] for check in failed if check in reasons)
        return replace(self, verdict=verdict, failed_checks=failed, reasons=reasons,
                       summary=self.summary if verdict == ERROR else summary)

    def to_json(self) -> str:
        """One line of JSON (Vietnamese kept readable), no newline."""
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}  # plain values: no deep copy
        return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CardOutcome:
        """Rebuild an outcome from :meth:`to_json`'s object; unknown keys are ignored (newer writers)."""
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        known["failed_checks"] = tuple(known.get("failed_checks", ()))
        known["undecided_checks"] = tuple(known.get("undecided_checks", ()))
        return cls(**known)


def dg3_state(report: VerificationReport) -> str:
    """The :data:`DG3_STATES` value of ``report``'s ``hash.DG3`` check; ``""`` when it has none (no DG3 listed)."""
    try:
        return DG3_STATES[report.check("hash.DG3").status]
    except KeyError:
        return ""
