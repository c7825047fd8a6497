"""The verifier's single-use challenges: the nonce a reader must have the chip sign by Active Authentication,
so that a recorded answer cannot pass for a live chip (:mod:`cardlib.evidence`).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable

from cardlib.limits import MAX_PENDING_NONCES, LimitExceeded

__all__ = ["CHALLENGE_LENGTH", "ChallengeCheck", "NonceStore"]

CHALLENGE_LENGTH = 8  # ICAO 9303-11 §6.1: the Active Authentication challenge RND.IFD
ChallengeCheck = Callable[[bytes], str | None]
"""Given the bundle's challenge: None when the verifier issued it and it is still good (consuming it), else why not."""


class NonceStore:
    """Single-use challenges that expire after ``lifetime`` seconds, at most ``capacity`` pending (thread-safe).

    :meth:`issue` gives a fresh 8-byte nonce (LimitExceeded when ``capacity`` are pending and none expired:
    a flood cannot push out the nonces of genuine clients); :meth:`redeem` consumes it.
    """

    def __init__(self, *, lifetime: float = 120.0, capacity: int = MAX_PENDING_NONCES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.lifetime = lifetime
        self.capacity = capacity
        self._clock = clock
        self._pending: dict[bytes, float] = {}  # nonce → when it expires, oldest first
        self._lock = threading.Lock()

    def issue(self) -> bytes:
        """A new nonce, pending until redeemed or expired."""
        with self._lock:
            now = self._clock()
            self._drop_expired(now)
            if len(self._pending) >= self.capacity:
                raise LimitExceeded("MAX_PENDING_NONCES", "the challenges issued and not yet used", self.capacity)
            nonce = secrets.token_bytes(CHALLENGE_LENGTH)
            self._pending[nonce] = now + self.lifetime
            return nonce

    def redeem(self, nonce: bytes) -> str | None:
        """Consume ``nonce``: None when it was issued here and is still good, else why it is not."""
        with self._lock:
            expires = self._pending.pop(nonce, None)
            if expires is None:
                return "this challenge was not issued by this verifier, or was already used (a replay)"
            if self._clock() >= expires:
                return f"this challenge expired ({self.lifetime:g} s after it was issued)"
            return None

    def redeemer(self, nonce: bytes) -> ChallengeCheck:
        """A :data:`ChallengeCheck` for a client that says it answers ``nonce``: consumes it, and refuses a bundle
        whose challenge is another one."""
        def check(challenge: bytes) -> str | None:
            refusal = self.redeem(nonce)
            if refusal is None and not hmac.compare_digest(nonce, challenge):
                return f"the evidence answers another challenge than the nonce {nonce.hex().upper()} it came with"
            return refusal
        return check

    def _drop_expired(self, now: float) -> None:
        while self._pending:
            nonce, expires = next(iter(self._pending.items()))
            if expires > now:
                return
            del self._pending[nonce]
