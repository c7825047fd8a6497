"""Fuzzing every decoder target in CI: TLV, MRZ, each DG, SOD and whole verifications, certificates, CRLs, PEM,
master lists, a file in a trust folder, APDUs on the chip and the reader side, CSV/JSONL input (the list lives in
``fuzz_targets``).

Hostile bytes give a result or a cardlib error, never another exception. A few dozen hypothesis examples per target
in CI; ``python -m benchmarks.fuzz --target NAME`` runs them long.
"""

from __future__ import annotations

import pytest
from fuzz_targets import TARGETS, check, hostile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize("name", sorted(TARGETS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_target_raises_only_cardlib_errors(name: str, data: st.DataObject) -> None:
    target = TARGETS[name]
    check(target, data.draw(hostile(target), label=name))
