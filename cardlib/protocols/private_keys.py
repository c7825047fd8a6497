"""Drawing a private key for key agreement: an integer in [1, order-1], for EC scalars and DH exponents alike."""

from __future__ import annotations

from collections.abc import Callable

from cardlib.errors import ProtocolError

MAX_DRAWS = 64
"""Draws before a random source that keeps returning values out of range is refused (it is broken, or hostile)."""


def random_private(order: int, rng: Callable[[int], bytes], *, name: str = "order") -> int:
    """A private key in [1, ``order``-1] drawn from ``rng``: bits above those of ``order`` masked off, then
    rejection, so an injected value below ``order`` is used as is.  ``name`` names the order in the error."""
    bits = order.bit_length()
    for _ in range(MAX_DRAWS):
        candidate = int.from_bytes(rng((bits + 7) // 8), "big") & ((1 << bits) - 1)
        if 1 <= candidate < order:
            return candidate
    raise ProtocolError(f"random source keeps returning values outside [1, {name}-1]")


__all__ = ["MAX_DRAWS", "random_private"]
