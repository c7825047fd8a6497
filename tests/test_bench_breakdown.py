"""The verify breakdown of ``bench_verify --breakdown`` (issue 18): its stages add up to the whole verify, each
stage counts only its own time, and the verifier is left as it was found."""

from __future__ import annotations

import sys
from functools import partial

from benchmarks.breakdown import DECODING, REST, STAGES, stage_times
from cardlib.pki.trust import TrustStore
from cardlib.testing.cards import sample_card_image
from cardlib.verify.decoded import DecodedLDS
from cardlib.verify.verifier import verify


def test_the_stages_of_a_real_verify_add_up_and_are_restored(trust: TrustStore) -> None:
    cards = [sample_card_image(index) for index in range(2)]
    originals = [getattr(sys.modules[module], name) for module, name, _ in STAGES]
    of = DecodedLDS.__dict__["of"]

    times = stage_times(partial(verify, trust=trust), cards, rounds=3)

    labels = {label for _, _, label in STAGES} | {DECODING, REST, "verify"}
    assert set(times) == labels
    stages = [ms for label, ms in times.items() if label != "verify"]
    assert abs(sum(stages) - times["verify"]) < 1e-9
    assert all(ms > 0 for label, ms in times.items() if label not in (REST, "verify"))
    # each stage counts only its own time: counting the signature inside passive authentication as well would
    # leave "the rest" a millisecond below zero
    assert times[REST] >= 0
    assert [getattr(sys.modules[module], name) for module, name, _ in STAGES] == originals
    assert DecodedLDS.__dict__["of"] is of
