"""Verify a CCCD card image or dump: passive authentication, chain, LDS conformance, DG1↔DG13, live results.

:func:`verify` never raises for bad card data: every file that does not decode becomes a FAIL naming the
file and offset, and every check that could not run is reported UNKNOWN or NOT_APPLICABLE with its reason.
What a dump cannot show (that the chip is genuine rather than a clone) is taken from :class:`LiveResults`
when the caller read the card live.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cardlib.card.image import CardImage
from cardlib.lds.dg1 import DG1
from cardlib.lds.dg13 import DG13, FieldNumber
from cardlib.pki.trust import TrustStore
from cardlib.verify.conformance import DecodedLDS, conformance_checks
from cardlib.verify.crosscheck import cross_checks
from cardlib.verify.passive import passive_checks
from cardlib.verify.report import CheckResult, Group, Status, VerificationReport

# CCCD chips refuse DG3 (fingerprints) without Terminal Authentication, so a dump never has it.
PROTECTED_IN_DUMPS = frozenset({"DG3"})
DUMP_CANNOT_PROVE = "a dump cannot prove the chip genuine (clone detection needs a live read)"


@dataclass(frozen=True)
class LiveResults:
    """What a live read established about the chip itself.

    ``chip_authentication`` and ``active_authentication`` are (outcome, reason): True passed, False failed,
    None not performed (the reason says why).  ``protected_files`` names the files the chip refused to
    give (e.g. ``"DG3"`` without Terminal Authentication).
    """

    chip_authentication: tuple[bool | None, str] = (None, "not performed")
    active_authentication: tuple[bool | None, str] = (None, "not performed")
    protected_files: frozenset[str] = frozenset()


def verify(
    image: CardImage,
    trust: TrustStore,
    *,
    at: datetime | None = None,
    live: LiveResults | None = None,
    source: str = "",
) -> VerificationReport:
    """Every check over ``image`` against ``trust`` at time ``at`` (default now, UTC), as one report."""
    when = at or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    files = dict(image.files)
    protected = live.protected_files if live is not None else PROTECTED_IN_DUMPS
    decoded = DecodedLDS.of(files)
    passive = passive_checks(files, trust, at=when, com=decoded.com, dg1=decoded.dg1, protected=protected)
    if passive.unsigned_extras:
        decoded = DecodedLDS.of({name: data for name, data in files.items() if name not in passive.unsigned_extras})
    checks = [*passive.checks, *conformance_checks(decoded, at=when), *cross_checks(decoded), *live_checks(live)]
    return VerificationReport.of(source or image.label, checks, holder_summary(decoded.dg1, decoded.dg13))


def live_checks(live: LiveResults | None) -> list[CheckResult]:
    """Chip and Active Authentication from a live read; NOT_APPLICABLE for a dump."""
    if live is None:
        return [CheckResult(check_id, Group.LIVE, Status.NOT_APPLICABLE, DUMP_CANNOT_PROVE)
                for check_id in ("live.chip_authentication", "live.active_authentication")]
    return [_live("live.chip_authentication", "Chip Authentication", live.chip_authentication),
            _live("live.active_authentication", "Active Authentication", live.active_authentication)]


def _live(check_id: str, protocol: str, outcome: tuple[bool | None, str]) -> CheckResult:
    passed, reason = outcome
    if passed is True:
        return CheckResult(check_id, Group.LIVE, Status.PASS, f"{protocol} succeeded: {reason}")
    if passed is False:
        return CheckResult(check_id, Group.LIVE, Status.FAIL, f"{protocol} failed, the chip may be a clone: {reason}")
    return CheckResult(check_id, Group.LIVE, Status.NOT_APPLICABLE, f"{protocol} not performed: {reason}")


def holder_summary(dg1: DG1 | None, dg13: DG13 | None) -> dict[str, str]:
    """Who the card says it belongs to: from DG13 when it decodes, else from the MRZ of DG1.

    A DG13 field carrying several values shows them all, marked ambiguous (:meth:`DG13.shown`).
    """
    if dg13 is not None:
        fields = {"full name": FieldNumber.FULL_NAME, "ID number": FieldNumber.ID_NUMBER,
                  "date of birth": FieldNumber.DATE_OF_BIRTH, "sex": FieldNumber.SEX,
                  "date of expiry": FieldNumber.DATE_OF_EXPIRY}
        return {label: dg13.shown(number) or "" for label, number in fields.items()}
    if dg1 is not None:
        mrz = dg1.mrz
        return {"full name": mrz.name, "ID number": mrz.id_number or mrz.document_number,
                "date of birth": mrz.date_of_birth, "sex": mrz.sex, "date of expiry": mrz.date_of_expiry}
    return {}
