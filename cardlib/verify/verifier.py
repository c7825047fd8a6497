"""Verify a CCCD card image or dump: passive authentication, chain, LDS conformance, DG1↔DG13, live results.

:func:`verify` never raises for bad card data: every file that does not decode becomes a FAIL naming the
file and offset, and every check that could not run is reported UNKNOWN or NOT_APPLICABLE with its reason.
What a dump cannot show (that the chip is genuine rather than a clone) is taken from :class:`LiveResults`
when the caller read the card live; :class:`LivenessPolicy` says whether "valid" needs that proof.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

from cardlib.card.image import CardImage
from cardlib.lds.sod import SOD
from cardlib.pki.trust import TrustStore
from cardlib.reader.reader import ActiveAuthResult, ChipAuthResult, ReadResult, TerminalAuthResult
from cardlib.verify.cardsecurity import cardsecurity_checks
from cardlib.verify.conformance import conformance_checks
from cardlib.verify.crosscheck import cross_checks
from cardlib.verify.decoded import DecodedLDS
from cardlib.verify.holder import holder_of
from cardlib.verify.passive import passive_checks
from cardlib.verify.report import CheckResult, Group, Status, VerificationReport

# CCCD chips refuse DG3 (fingerprints) without Terminal Authentication, so a dump never has it.
PROTECTED_IN_DUMPS = frozenset({"DG3"})
DUMP_CANNOT_PROVE = "a dump cannot prove the chip genuine (clone detection needs a live read)"
LIVE_CHECKS = ("live.chip_authentication", "live.active_authentication", "live.pace_cam",
               "live.terminal_authentication")
CHIP_PROVEN = "live.chip_proven"
CardSource = str | os.PathLike[str] | CardImage | ReadResult


class LivenessPolicy(Enum):
    """Whether "valid" needs the chip to have proved itself live: a passed Chip or Active Authentication, or a
    PACE-CAM whose chip authentication data verified against the key of EF.CardSecurity.

    A copied chip carries a perfectly valid signature, so a live read that proved nothing about the chip is
    "cannot tell" by default.  ``LIVE_READS`` (the default) asks it of live reads and judges a dump on its
    data (its report says a dump cannot prove the chip); ``ALWAYS`` asks it of everything, so a dump is
    "cannot tell" (a server receiving dumps); ``NEVER`` judges the data alone.
    """

    LIVE_READS = "live-reads"
    ALWAYS = "always"
    NEVER = "never"


@dataclass(frozen=True)
class LiveResults:
    """What a live read established about the chip itself.

    ``chip_authentication``, ``active_authentication`` and ``pace_cam`` (the chip authentication mapping of
    PACE) are (outcome, reason): True passed, False failed, None not performed (the reason says why).
    ``protected_files`` names the files the chip refused to give (e.g. ``"DG3"`` without Terminal
    Authentication).  ``terminal_authentication`` is the same for Terminal Authentication (EAC): it says what
    the chip let the terminal read, never whether the chip is genuine, so a refusal warns and never fails.
    """

    chip_authentication: tuple[bool | None, str] = (None, "not performed")
    active_authentication: tuple[bool | None, str] = (None, "not performed")
    pace_cam: tuple[bool | None, str] = (None, "not performed")
    terminal_authentication: tuple[bool | None, str] = (None, "not performed")
    protected_files: frozenset[str] = frozenset()


def live_results(read: ReadResult) -> LiveResults:
    """The live checks a read established: Chip and Active Authentication, PACE-CAM, and the files the chip
    refused."""
    return LiveResults(
        chip_authentication=_outcome(read.chip_auth),
        active_authentication=_outcome(read.active_auth),
        pace_cam=_outcome(read.pace_cam),
        terminal_authentication=_outcome(read.terminal_auth),
        protected_files=frozenset(read.protected_files),
    )


def _outcome(result: ChipAuthResult | ActiveAuthResult | TerminalAuthResult) -> tuple[bool | None, str]:
    return (result.passed if result.performed else None), result.reason


def verify(
    card: CardSource,
    trust: TrustStore,
    *,
    at: datetime | None = None,
    live: LiveResults | None = None,
    source: str = "",
    policy: LivenessPolicy = LivenessPolicy.LIVE_READS,
) -> VerificationReport:
    """Every check over ``card`` against ``trust`` at time ``at`` (default now, UTC), as one report.

    ``card`` is a path to a dump or card image folder (str or path), a :class:`CardImage`, or the
    :class:`ReadResult` of a live read (whose Chip and Active Authentication become ``live``).  ``policy``
    decides whether "valid" needs the chip to have proved itself (:class:`LivenessPolicy`).  A wrong
    argument type raises TypeError naming it; an unreadable folder CardImageError.
    """
    return verification(card, trust, at=at, live=live, source=source, policy=policy).report


@dataclass(frozen=True)
class Verification:
    """A report and the EF.SOD its passive authentication decoded (None when absent or malformed), for callers
    that also describe the card's Document Signer (batch QA) without decoding the SOD a second time."""

    report: VerificationReport
    sod: SOD | None


def verification(
    card: CardSource,
    trust: TrustStore,
    *,
    at: datetime | None = None,
    live: LiveResults | None = None,
    source: str = "",
    policy: LivenessPolicy = LivenessPolicy.LIVE_READS,
) -> Verification:
    """:func:`verify` (same arguments, same checks and errors), with the decoded EF.SOD beside the report."""
    image, live, source = _card_of(card, live, source)
    if not isinstance(trust, TrustStore):
        raise TypeError(f"verify(): trust must be a TrustStore (TrustStore.load(...)), got {type(trust).__name__}")
    if not isinstance(policy, LivenessPolicy):
        raise TypeError(f"verify(): policy must be a LivenessPolicy, got {type(policy).__name__}")
    when = at or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    files = dict(image.files)
    protected = live.protected_files if live is not None else PROTECTED_IN_DUMPS
    decoded = DecodedLDS.of(files)
    passive = passive_checks(files, trust, at=when, com=decoded.com, dg1=decoded.dg1, protected=protected)
    if passive.unsigned_extras:
        decoded = decoded.without(passive.unsigned_extras)
    checks = [*passive.checks, *cardsecurity_checks(files, trust, at=when), *conformance_checks(decoded, at=when),
              *cross_checks(decoded), *live_checks(live), chip_proven(live, policy)]
    holder = holder_of(decoded.dg1, decoded.dg13, decoded.dg2, today=when.date())
    return Verification(VerificationReport.of(source or image.label, checks, holder), passive.sod)


def _card_of(card: CardSource, live: LiveResults | None, source: str) -> tuple[CardImage, LiveResults | None, str]:
    """The files to check, the live results and the report's source for any accepted form of ``card``."""
    if isinstance(card, ReadResult):
        if live is not None:
            raise TypeError("verify(): a ReadResult carries its own live results; do not pass live= as well")
        return card.dump, live_results(card), source
    if isinstance(card, CardImage):
        return card, live, source
    if isinstance(card, str | os.PathLike):
        return CardImage.load(Path(card)), live, source or os.fspath(card)
    raise TypeError(f"verify(): card must be a path to a dump or card image folder, a CardImage or a ReadResult, "
                    f"got {type(card).__name__}")


def chip_proven(live: LiveResults | None, policy: LivenessPolicy) -> CheckResult:
    """Whether the chip proved itself live as ``policy`` asks: UNKNOWN (cannot tell) when asked and not proven."""
    outcomes = {} if live is None else {"Chip Authentication": live.chip_authentication[0],
                                        "Active Authentication": live.active_authentication[0],
                                        "PACE-CAM": live.pace_cam[0]}
    passed = [protocol for protocol, outcome in outcomes.items() if outcome is True]
    if passed:
        return CheckResult(CHIP_PROVEN, Group.LIVE, Status.PASS, f"the chip proved itself live ({', '.join(passed)})")
    asked = policy is LivenessPolicy.ALWAYS or (policy is LivenessPolicy.LIVE_READS and live is not None)
    if asked:
        return CheckResult(CHIP_PROVEN, Group.LIVE, Status.UNKNOWN,
                           "the chip did not prove itself (no Chip or Active Authentication or PACE-CAM passed), "
                           f"so a copied chip cannot be ruled out (liveness policy: {policy.value})")
    why = DUMP_CANNOT_PROVE if live is None else "not proven"
    return CheckResult(CHIP_PROVEN, Group.LIVE, Status.NOT_APPLICABLE,
                       f"{why}; not asked by the liveness policy ({policy.value})")


def live_checks(live: LiveResults | None) -> list[CheckResult]:
    """Chip and Active Authentication, PACE-CAM and Terminal Authentication from a live read; NOT_APPLICABLE for a
    dump."""
    if live is None:
        return [CheckResult(check_id, Group.LIVE, Status.NOT_APPLICABLE, DUMP_CANNOT_PROVE) for check_id in LIVE_CHECKS]
    return [_live("live.chip_authentication", "Chip Authentication", live.chip_authentication),
            _live("live.active_authentication", "Active Authentication", live.active_authentication),
            _live("live.pace_cam", "PACE-CAM", live.pace_cam),
            terminal_authentication_check(live.terminal_authentication)]


def terminal_authentication_check(outcome: tuple[bool | None, str]) -> CheckResult:
    """``live.terminal_authentication``: PASS when the chip accepted the terminal, NOT_APPLICABLE when TA was not
    attempted, WARN when the chip refused it.  Never FAIL: TA proves the terminal to the chip, not the chip to
    anyone, and a refusal only leaves the EAC-protected data groups (DG3, DG4) unread."""
    passed, reason = outcome
    check_id = "live.terminal_authentication"
    if passed is True:
        return CheckResult(check_id, Group.LIVE, Status.PASS, f"Terminal Authentication succeeded: {reason}")
    if passed is False:
        return CheckResult(check_id, Group.LIVE, Status.WARN, f"Terminal Authentication refused, so the data groups "
                           f"behind EAC (DG3, DG4) were not read; this says nothing against the card: {reason}")
    return CheckResult(check_id, Group.LIVE, Status.NOT_APPLICABLE, f"Terminal Authentication not performed: {reason}")


def _live(check_id: str, protocol: str, outcome: tuple[bool | None, str]) -> CheckResult:
    passed, reason = outcome
    if passed is True:
        return CheckResult(check_id, Group.LIVE, Status.PASS, f"{protocol} succeeded: {reason}")
    if passed is False:
        return CheckResult(check_id, Group.LIVE, Status.FAIL, f"{protocol} failed, the chip may be a clone: {reason}")
    return CheckResult(check_id, Group.LIVE, Status.NOT_APPLICABLE, f"{protocol} not performed: {reason}")
