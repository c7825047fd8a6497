"""read_card(on_progress=...): typed events in order, with bytes and totals; a raising callback costs no read;
the counter's progress bar follows the events."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from cardtool.counter.progress import PageProgress, Progress, Step
from cardtool.counter.session import CardState, CounterSession

from cardlib.card.image import CardImage
from cardlib.chip.chip import VirtualChip
from cardlib.pki.trust import TrustStore
from cardlib.reader.progress import ProgressCallback, ReadEvent, ReadPhase, ReadStage
from cardlib.reader.reader import AccessKey, ReadResult, read_card
from cardlib.reader.transport import InProcessTransport
from cardlib.testing.cards import sample_card_image


@pytest.fixture(scope="module")
def image() -> CardImage:
    return sample_card_image(7)


def _read(image: CardImage, **options: Any) -> ReadResult:
    assert image.secrets is not None
    return read_card(InProcessTransport(VirtualChip(image)), AccessKey.can(image.secrets.can), **options)


def test_events_come_in_order_with_bytes_and_totals(image: CardImage) -> None:
    events: list[ReadEvent] = []
    result = _read(image, on_progress=events.append)
    assert events[0] == ReadEvent(ReadPhase.ACCESS_CONTROL, ReadStage.STARTED)
    opened = next(n for n, e in enumerate(events) if e.phase is ReadPhase.ACCESS_CONTROL and e.stage is ReadStage.DONE)
    assert events[opened].protocol == "PACE-CAN"
    files = [e for e in events[opened:] if e.phase is ReadPhase.FILE]
    started = [e.file for e in files if e.stage is ReadStage.STARTED]
    assert started == ["EF.COM", "DG1", "DG2", "DG3", "DG13", "DG14", "DG15", "EF.SOD"]
    assert [e.file for e in files if e.stage is ReadStage.REFUSED] == ["DG3"]
    for name, content in result.dump.files.items():
        done = [e for e in events if e.file == name and e.stage is ReadStage.DONE]
        assert len(done) == 1 and done[0].bytes_read == done[0].total == len(content)
        steps = [e.bytes_read for e in events if e.file == name and e.stage is ReadStage.PROGRESS]
        assert steps == sorted(steps) and steps[-1] == len(content)
    tail = [(e.phase, e.stage, e.passed) for e in events if e.phase is not ReadPhase.FILE][-4:]
    assert tail == [(ReadPhase.CHIP_AUTHENTICATION, ReadStage.STARTED, None),
                    (ReadPhase.CHIP_AUTHENTICATION, ReadStage.DONE, True),
                    (ReadPhase.ACTIVE_AUTHENTICATION, ReadStage.STARTED, None),
                    (ReadPhase.ACTIVE_AUTHENTICATION, ReadStage.DONE, True)]


def test_small_reads_report_progress_inside_a_file(image: CardImage) -> None:
    events: list[ReadEvent] = []
    _read(image, on_progress=events.append, extended_length=False, max_read=128)
    dg2 = [e for e in events if e.file == "DG2" and e.stage is ReadStage.PROGRESS]
    assert len(dg2) > 10
    assert all(e.total == dg2[-1].total for e in dg2) and dg2[0].bytes_read < dg2[-1].bytes_read


def test_a_raising_callback_costs_no_read(image: CardImage, caplog: pytest.LogCaptureFixture) -> None:
    calls: list[ReadEvent] = []

    def broken(event: ReadEvent) -> None:
        calls.append(event)
        if event.file == "DG1":
            raise RuntimeError("progress bar bug")

    with caplog.at_level(logging.WARNING, logger="cardlib.reader.progress"):
        result = _read(image, on_progress=broken)
    assert result.dump.files == _read(image).dump.files
    assert result.chip_auth.passed and result.active_auth.passed
    assert calls[-1].file == "DG1"  # dropped after it raised
    assert any("on_progress callback raised RuntimeError" in note for note in result.notes)
    assert len([r for r in caplog.records if "on_progress raised" in r.getMessage()]) == 1


def test_the_counter_progress_follows_the_events(image: CardImage) -> None:
    seen: list[Progress] = []
    result = _read(image, on_progress=PageProgress(seen.append))
    steps = [progress.step for progress in seen]
    assert steps[0] is Step.OPENING and steps[-1] is Step.CHIP_CHECK
    assert steps.index(Step.READING) < steps.index(Step.CHIP_CHECK)
    files = list(dict.fromkeys(progress.file for progress in seen if progress.step is Step.READING))
    assert files[:3] == ["EF.COM", "DG1", "DG2"] and "EF.SOD" in files and "EF.CardAccess" not in files
    card_access = len(result.dump.files["EF.CardAccess"])
    assert seen[-1].bytes_received == result.bytes_read - card_access


class _OneCard:
    def __init__(self, image: CardImage) -> None:
        self.image = image

    def poll(self) -> CardState:
        return CardState.PRESENT

    def open(self) -> Any:
        from contextlib import nullcontext

        return nullcontext(InProcessTransport(VirtualChip(self.image)))


def test_the_counter_session_shows_reading_progress(image: CardImage) -> None:
    shown: list[dict[str, Any]] = []

    def read(transport: Any, key: AccessKey, *, on_progress: ProgressCallback) -> ReadResult:
        def tell(event: ReadEvent) -> None:
            on_progress(event)  # the session's callback, then what the page would see at that moment
            shown.append(session.snapshot()["progress"])

        return read_card(transport, key, on_progress=tell)

    session = CounterSession(_OneCard(image), TrustStore.load(), read=read)
    session.observe(CardState.PRESENT)
    assert image.secrets is not None
    session.submit(can=image.secrets.can)
    state = session.snapshot()
    while state["phase"] == "reading":
        state = session.wait(state["version"], 10)
    assert state["phase"] == "done"
    steps = [progress["step"] for progress in shown if progress]
    assert steps[0] == "opening" and steps[-1] == "chip_check" and "reading" in steps
    assert max(progress["bytes"] for progress in shown if progress) > 10_000
