"""Fuzzing APDUs on both sides: the parsers, the virtual chip fed any command sequence, and the reader facing a
chip that answers noise.

Hostile bytes give a result or a cardlib error, never another exception. A few dozen hypothesis examples per target
in CI; ``python -m benchmarks.fuzz --target NAME`` runs them long.
"""

from __future__ import annotations

import pytest
from fuzz_targets import TARGETS, check, hostile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FAMILY = ("command_apdu", "response_apdu", "chip", "reader")


@pytest.mark.parametrize("name", FAMILY)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_apdu_handling_raise_only_cardlib_errors(name: str, data: st.DataObject) -> None:
    target = TARGETS[name]
    check(target, data.draw(hostile(target), label=name))
