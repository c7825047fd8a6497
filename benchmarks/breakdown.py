"""Where a :func:`~cardlib.verify.verifier.verify` spends its time: the real function, its stages timed in place.

Each stage function that :mod:`cardlib.verify.verifier` (and, inside them, passive authentication and the
conformance checks) calls through a module name is wrapped, for the duration of :func:`stage_times`, in a timer
that adds its time to the stage and takes it out of the stage that called it.  ``verify`` itself is not copied or
re-ordered: what is measured is what a batch runs, plus about a microsecond of timers a card.  The floor's own
work appears as the SOD signature stage (and the hashing inside the data-group hash checks).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from cardlib.verify.decoded import DecodedLDS

# (module, function name, what the stage is), outermost stages first.  ``verify`` is the whole.
STAGES = (
    ("cardlib.verify.verifier", "passive_checks", "passive authentication, beyond the two stages below"),
    ("cardlib.verify.passive", "_decode_sod", "EF.SOD decoding"),
    ("cardlib.verify.passive", "verify_signature", "SOD signature (OpenSSL)"),
    ("cardlib.verify.verifier", "cardsecurity_checks", "EF.CardAccess / EF.CardSecurity"),
    ("cardlib.verify.verifier", "conformance_checks", "conformance checks, beyond the portrait"),
    ("cardlib.verify.conformance", "verify_image", "portrait decode (pillow, libjpeg / OpenJPEG)"),
    ("cardlib.verify.verifier", "cross_checks", "DG1 ↔ DG13 cross-checks"),
    ("cardlib.verify.verifier", "holder_of", "holder summary"),
)
DECODING = "decoding EF.COM, DG1, DG2, DG3, DG13, DG14, DG15"
REST = "the rest of verify (arguments, live checks, the report)"


@dataclass
class _Clock:
    """Seconds per stage, exclusive of the stages nested in it."""

    spent: dict[str, float] = field(default_factory=dict)
    nested: list[float] = field(default_factory=list)

    def timed(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        """``function`` adding its own time (its nested stages' taken out) to ``label``."""

        def stage(*args: Any, **kwargs: Any) -> Any:
            self.nested.append(0.0)
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                inner = self.nested.pop()
                self.spent[label] = self.spent.get(label, 0.0) + elapsed - inner
                if self.nested:
                    self.nested[-1] += elapsed

        return stage


@contextmanager
def _instrumented(clock: _Clock) -> Iterator[None]:
    """Every stage wrapped in ``clock``'s timer, restored afterwards."""
    originals: list[tuple[Any, str, Any]] = []
    for module_name, name, label in STAGES:
        module = sys.modules[module_name]
        originals.append((module, name, getattr(module, name)))
        setattr(module, name, clock.timed(label, getattr(module, name)))
    of = DecodedLDS.__dict__["of"]
    originals.append((DecodedLDS, "of", of))
    DecodedLDS.of = classmethod(clock.timed(DECODING, of.__func__))  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        for owner, name, original in reversed(originals):
            setattr(owner, name, original)


def stage_times(verify_one: Callable[[Any], object], items: Sequence[Any], rounds: int) -> dict[str, float]:
    """Milliseconds per item of every stage of ``verify_one`` in the round of median total time (one round, so
    that the stages add up to it), with ``verify`` the whole and :data:`REST` what no stage holds.

    Each round takes its own slice of ``items`` (the whole of it when there are fewer items than rounds), as a
    batch verifies each card once.
    """
    size = max(1, len(items) // rounds)
    measured = []
    for number in range(rounds):
        batch = items[number * size : (number + 1) * size] or items
        clock = _Clock()
        with _instrumented(clock):
            started = time.perf_counter()
            for item in batch:
                verify_one(item)
            whole = time.perf_counter() - started
        clock.spent[REST] = whole - sum(clock.spent.values())
        clock.spent["verify"] = whole
        measured.append({label: seconds / len(batch) * 1000 for label, seconds in clock.spent.items()})
    measured.sort(key=lambda times: times["verify"])
    return measured[len(measured) // 2]


def print_breakdown(times: dict[str, float], floor_ms: float) -> None:
    """The stages, largest first, in ms per card and as a share of the whole ``verify``."""
    whole = times["verify"]
    print(f"  where a verify's {whole:.3f} ms go (the round of median time; the floor alone: {floor_ms:.3f} ms):")
    for label, ms in sorted(((label, ms) for label, ms in times.items() if label != "verify"),
                            key=lambda pair: -pair[1]):
        print(f"    {ms:7.3f} ms  {100 * ms / whole:5.1f} %  {label}")
