"""Verification of a card read live from a chip: the dump's checks plus what only the chip can prove."""

from __future__ import annotations

from datetime import datetime

from cardlib.pki.trust import TrustStore
from cardlib.reader.reader import ReadResult
from cardlib.verify.report import VerificationReport
from cardlib.verify.verifier import LivenessPolicy, verify


def verify_read(
    read: ReadResult,
    trust: TrustStore,
    *,
    at: datetime | None = None,
    source: str = "",
    policy: LivenessPolicy = LivenessPolicy.LIVE_READS,
) -> VerificationReport:
    """Every check of :func:`~cardlib.verify.verifier.verify` over the files read, with the live results.

    By default (:attr:`LivenessPolicy.LIVE_READS`) the answer is "valid" only when the chip also proved itself
    by a passed Chip or Active Authentication: the same answer the CLI and the counter give for the same read.
    """
    if not isinstance(read, ReadResult):
        raise TypeError(f"verify_read(): read must be the ReadResult of read_card, got {type(read).__name__}")
    return verify(read, trust, at=at, source=source, policy=policy)
