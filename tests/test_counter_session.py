"""The counter's session state machine over an in-process virtual chip: phases, verdicts, wiping, saving."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cardtool.counter.progress import Progress, ProgressTransport, Step
from cardtool.counter.session import CardState, CounterSession, SessionBusyError, form_access_key, watch
from cardtool.counter.verdict import Outcome, counter_verdict

from cardlib.card.image import CardImage
from cardlib.card.testing import forge_dg13_expiry, sample_card_image, sample_pki
from cardlib.chip.chip import ChipOptions, VirtualChip
from cardlib.errors import ValidationError
from cardlib.pki.trust import TrustStore
from cardlib.reader.pcsc import NoCardError
from cardlib.reader.transport import CardRemovedError, InProcessTransport
from cardlib.verify.report import Verdict
from cardlib.verify.verifier import LivenessPolicy, verify


class VirtualReader:
    """A card source in this process: a reader that holds at most one virtual chip."""

    def __init__(self) -> None:
        self.chip: Any = None
        self.attached = True

    def poll(self) -> CardState:
        if not self.attached:
            return CardState.NO_READER
        return CardState.PRESENT if self.chip is not None else CardState.EMPTY

    @contextmanager
    def open(self) -> Iterator[InProcessTransport]:
        if self.chip is None:
            raise NoCardError("no card on the virtual reader")
        yield InProcessTransport(self.chip)


class PulledChip:
    """A chip the holder lifts off the reader after ``limit`` APDUs."""

    def __init__(self, chip: VirtualChip, reader: VirtualReader, limit: int) -> None:
        self.chip, self.reader, self.limit, self.count = chip, reader, limit, 0

    def process(self, raw: bytes) -> bytes:
        self.count += 1
        if self.count > self.limit:
            self.reader.chip = None
            raise CardRemovedError("the card was removed from the virtual reader")
        return self.chip.process(raw)


@pytest.fixture(scope="module")
def image() -> CardImage:
    return sample_card_image(7)


@pytest.fixture(scope="module")
def trust(tmp_path_factory: pytest.TempPathFactory) -> TrustStore:
    folder = tmp_path_factory.mktemp("pki")
    sample_pki().save(folder)
    return TrustStore.load(folder / "csca.pem", folder / "crl.pem")


def _can(image: CardImage) -> str:
    assert image.secrets is not None
    return image.secrets.can


def _settle(session: CounterSession) -> dict[str, Any]:
    """The snapshot once the read that was started has ended."""
    state = session.snapshot()
    while state["phase"] == "reading":
        state = session.wait(state["version"], 10)
    return state


def _insert(session: CounterSession, reader: VirtualReader, chip: Any) -> None:
    reader.chip = chip
    session.observe(reader.poll())


def test_phases_from_no_reader_to_genuine_verdict_with_the_holder(image: CardImage, trust: TrustStore) -> None:
    reader = VirtualReader()
    session = CounterSession(reader, trust)
    assert session.snapshot()["phase"] == "no_reader"
    session.observe(reader.poll())
    assert session.snapshot()["phase"] == "waiting"
    _insert(session, reader, VirtualChip(image))
    assert session.snapshot()["phase"] == "card"
    session.submit(can=_can(image))
    state = _settle(session)
    assert state["phase"] == "done" and state["notice"] is None
    result = state["result"]
    assert result["verdict"]["outcome"] == "genuine" and result["verdict"]["reasons"] == []
    assert result["holder"]["full_name"] == "Nguyễn Thị Thu Hương"
    assert result["holder"]["id_number"] == "001190000007"
    assert result["holder"]["father_name"] == "Nguyễn Văn Hải" and result["holder"]["mother_name"] == "Trần Thị Lan"
    assert result["holder_source"] == "DG13" and result["access"] == "PACE-CAN"
    portrait = session.portrait()
    assert portrait is not None and portrait[1] == "image/jpeg" and portrait[0].startswith(b"\xff\xd8")


def test_card_removed_wipes_the_holder(image: CardImage, trust: TrustStore) -> None:
    reader = VirtualReader()
    session = CounterSession(reader, trust)
    _insert(session, reader, VirtualChip(image))
    session.submit(can=_can(image))
    assert _settle(session)["result"] is not None
    _insert(session, reader, None)
    state = session.snapshot()
    assert state["phase"] == "waiting" and state["result"] is None and state["notice"] is None
    assert session.portrait() is None
    assert "Hương" not in json.dumps(state, ensure_ascii=False)


def test_a_new_read_wipes_the_previous_holder_and_clear_forgets_now(image: CardImage, trust: TrustStore) -> None:
    reader = VirtualReader()
    session = CounterSession(reader, trust)
    _insert(session, reader, VirtualChip(image))
    session.submit(can=_can(image))
    _settle(session)
    session.submit(can="000000")  # wrong CAN on the same card: the earlier result must not survive
    state = _settle(session)
    assert state["phase"] == "card" and state["notice"] == "wrong_key" and state["result"] is None
    session.submit(can=_can(image))
    assert _settle(session)["phase"] == "done"
    session.clear()
    state = session.snapshot()
    assert state["phase"] == "card" and state["result"] is None and session.portrait() is None


def test_wrong_can_asks_again_and_never_echoes_the_can(image: CardImage, trust: TrustStore) -> None:
    reader = VirtualReader()
    session = CounterSession(reader, trust)
    _insert(session, reader, VirtualChip(image))
    session.submit(can="999999")
    state = _settle(session)
    assert state["phase"] == "card" and state["notice"] == "wrong_key"
    assert "999999" not in json.dumps(state)
    session.submit(can=_can(image))
    assert _settle(session)["result"]["verdict"]["outcome"] == "genuine"


def test_card_pulled_mid_read_says_so_and_keeps_nothing(image: CardImage, trust: TrustStore) -> None:
    reader = VirtualReader()
    session = CounterSession(reader, trust)
    _insert(session, reader, PulledChip(VirtualChip(image, ChipOptions(extended_length=False)), reader, limit=15))
    session.submit(can=_can(image))
    state = _settle(session)
    assert state["phase"] == "waiting" and state["notice"] == "removed" and state["result"] is None
    assert "removed" in state["detail"]
    _insert(session, reader, VirtualChip(image))
    state = session.snapshot()
    assert state["phase"] == "card" and state["notice"] == "removed"  # the officer still sees why


def test_removal_seen_during_a_read_discards_its_result(image: CardImage, trust: TrustStore) -> None:
    reader = VirtualReader()
    session = CounterSession(reader, trust)
    release = threading.Event()

    class SlowChip:
        def process(self, raw: bytes) -> bytes:
            release.wait(5)
            return chip.process(raw)

    chip = VirtualChip(image)
    _insert(session, reader, SlowChip())
    session.submit(can=_can(image))
    _insert(session, reader, None)
    release.set()
    state = _settle(session)
    assert state["phase"] == "waiting" and state["notice"] == "removed"
    state = session.wait(state["version"], 2)  # the read ends later: its result must not appear
    assert state["result"] is None and session.portrait() is None


def test_forged_card_is_not_genuine_naming_the_altered_data(image: CardImage, trust: TrustStore) -> None:
    reader = VirtualReader()
    session = CounterSession(reader, trust)
    _insert(session, reader, VirtualChip(forge_dg13_expiry(image)))
    session.submit(can=_can(image))
    verdict = _settle(session)["result"]["verdict"]
    assert verdict["outcome"] == "not_genuine"
    checks = {reason["check"] for reason in verdict["reasons"]}
    assert "hash.DG13" in checks
    dg13 = next(reason for reason in verdict["reasons"] if reason["check"] == "hash.DG13")
    assert dg13["en"] == "The personal data on the chip was changed after the card was issued."
    assert "thông tin công dân" in dg13["vi"]


def test_unknown_csca_cannot_tell(image: CardImage) -> None:
    reader = VirtualReader()
    session = CounterSession(reader, TrustStore.load())
    _insert(session, reader, VirtualChip(image))
    session.submit(can=_can(image))
    verdict = _settle(session)["result"]["verdict"]
    assert verdict["outcome"] == "cannot_tell"
    assert [reason["check"] for reason in verdict["reasons"]] == ["chain.csca_found"]


def test_valid_data_without_live_authentication_is_not_called_genuine(image: CardImage, trust: TrustStore) -> None:
    assert verify(image, trust).verdict is Verdict.VALID  # the data alone
    report = verify(image, trust, policy=LivenessPolicy.ALWAYS)  # not a live read: a copied chip looks the same
    verdict = counter_verdict(report)
    assert report.verdict is Verdict.CANNOT_TELL and verdict.outcome is Outcome.CANNOT_TELL
    assert [reason.check for reason in verdict.reasons] == ["live.chip_proven"]
    assert "copied chip" in verdict.reasons[0].en


def test_unreadable_card_and_reader_unplugged(image: CardImage, trust: TrustStore) -> None:
    reader = VirtualReader()
    session = CounterSession(reader, trust)

    class Mute:
        def process(self, raw: bytes) -> bytes:
            return b"\x6f\x00"

    _insert(session, reader, Mute())
    session.submit(can="123456")
    state = _settle(session)
    assert state["phase"] == "card" and state["notice"] == "unreadable" and state["detail"]
    reader.attached = False
    session.observe(reader.poll())
    assert session.snapshot()["phase"] == "no_reader"


def test_busy_and_malformed_keys_are_refused(image: CardImage, trust: TrustStore) -> None:
    reader = VirtualReader()
    session = CounterSession(reader, trust)
    with pytest.raises(SessionBusyError):
        session.submit(can=_can(image))
    for can, mrz in (("12345", ""), ("", ""), ("123456", "I<VNM"), ("abcdef", "")):
        with pytest.raises(ValidationError) as caught:
            form_access_key(can, mrz)
        assert can not in str(caught.value) or not can
    assert form_access_key(" 123456 ", "").kind == "CAN"
    assert image.secrets is not None
    assert form_access_key("", image.secrets.mrz_information).kind == "MRZ"


def test_mrz_opens_the_card_too(image: CardImage, trust: TrustStore) -> None:
    assert image.secrets is not None
    reader = VirtualReader()
    session = CounterSession(reader, trust)
    _insert(session, reader, VirtualChip(image))
    session.submit(mrz=image.secrets.mrz_information)
    result = _settle(session)["result"]
    assert result["access"] == "PACE-MRZ" and result["verdict"]["outcome"] == "genuine"


def test_save_writes_only_when_asked(image: CardImage, trust: TrustStore, tmp_path: Path) -> None:
    reader = VirtualReader()
    session = CounterSession(reader, trust, save_dir=tmp_path / "reports")
    _insert(session, reader, VirtualChip(image))
    session.submit(can=_can(image))
    _settle(session)
    assert not (tmp_path / "reports").exists()
    path = session.save_report()
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["outcome"] == "genuine" and saved["report"]["verdict"] == "valid"
    assert saved["holder"]["full_name"] == "Nguyễn Thị Thu Hương"
    assert session.snapshot()["saved"] == path.name
    assert session.save_report() != path  # a second save never overwrites the first
    _insert(session, reader, None)
    with pytest.raises(SessionBusyError, match="no card check"):
        session.save_report()
    with pytest.raises(SessionBusyError, match="--save-dir"):
        CounterSession(reader, trust).save_report()


def test_progress_follows_the_read_steps_and_files(image: CardImage) -> None:
    seen: list[Progress] = []
    from cardlib.reader.reader import AccessKey, read_card

    read_card(ProgressTransport(InProcessTransport(VirtualChip(image)), seen.append), AccessKey.can(_can(image)))
    steps = [progress.step for progress in seen]
    assert steps[0] is Step.OPENING and Step.CHIP_CHECK in steps
    assert steps.index(Step.READING) < steps.index(Step.CHIP_CHECK)
    files = [progress.file for progress in seen if progress.step is Step.READING]
    assert files[:3] == ["EF.COM", "DG1", "DG2"] and "EF.SOD" in files
    assert seen[-1].bytes_received > 10_000


def test_watch_reports_insertion_and_removal(image: CardImage, trust: TrustStore) -> None:
    reader = VirtualReader()
    session = CounterSession(reader, trust)
    stop = threading.Event()
    thread = threading.Thread(target=watch, args=(session, reader, stop, 0.01))
    thread.start()
    try:
        state = session.wait(1, 2)
        assert state["phase"] == "waiting"
        reader.chip = VirtualChip(image)
        assert session.wait(state["version"], 2)["phase"] == "card"
    finally:
        stop.set()
        thread.join(2)
    assert not thread.is_alive()
