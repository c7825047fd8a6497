"""Verification of a card read live from a chip: the dump's checks plus what only the chip can prove."""

from __future__ import annotations

from datetime import datetime

from cardlib.pki.trust import TrustStore
from cardlib.reader.reader import ActiveAuthResult, ChipAuthResult, ReadResult
from cardlib.verify.report import VerificationReport
from cardlib.verify.verifier import LiveResults, verify


def _outcome(result: ChipAuthResult | ActiveAuthResult) -> tuple[bool | None, str]:
    return (result.passed if result.performed else None), result.reason


def live_results(read: ReadResult) -> LiveResults:
    """The live checks a read established: Chip and Active Authentication, and the files the chip refused."""
    return LiveResults(
        chip_authentication=_outcome(read.chip_auth),
        active_authentication=_outcome(read.active_auth),
        protected_files=frozenset(read.protected_files),
    )


def verify_read(
    read: ReadResult, trust: TrustStore, *, at: datetime | None = None, source: str = ""
) -> VerificationReport:
    """Every check of :func:`~cardlib.verify.verifier.verify` over the files read, with the live results."""
    return verify(read.dump, trust, at=at, live=live_results(read), source=source)
