"""The counter's session state machine over an in-process virtual chip: phases, verdicts, wiping, saving."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from cardtool.counter.command import SERVICE_FIX, start_warnings
from cardtool.counter.details import field_marks, title
from cardtool.counter.holder import view_of
from cardtool.counter.session import CardState, CounterSession, SessionBusyError, form_access_key, watch
from cardtool.counter.verdict import Outcome, counter_verdict

from cardlib.card.image import CardImage
from cardlib.card.perso import personalize
from cardlib.chip.chip import VirtualChip
from cardlib.chip.options import ChipOptions
from cardlib.errors import ValidationError
from cardlib.lds.dg13_fields import CardKind, field_labels
from cardlib.limits import LimitExceeded
from cardlib.model.resident import Resident
from cardlib.pki.trust import TrustStore
from cardlib.reader.pcsc import NoCardError
from cardlib.reader.reader import AccessKey, read_card
from cardlib.reader.transport import CardRemovedError, InProcessTransport
from cardlib.testing.cards import forge_dg13_expiry, sample_card_image, sample_resident
from cardlib.testing.faces import synthetic_portrait_jpeg
from cardlib.testing.pki import sample_pki
from cardlib.verify.holder import Holder
from cardlib.verify.live import verify_read
from cardlib.verify.report import CheckResult, Group, Status, Verdict
from cardlib.verify.verifier import LivenessPolicy, verify

TOOLS = Path(__file__).resolve().parents[1] / "tools"


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


# -- issue 12 / issue 16: expired cards, card kinds, marked fields, trust and service warnings, slow cards -----


def _card_of(resident: Resident, index: int) -> CardImage:
    return personalize(resident, synthetic_portrait_jpeg(index), sample_pki().document_signer)


def _checked(card: CardImage, trust: TrustStore, tmp_path: Path | None = None) -> tuple[CounterSession, dict[str, Any]]:
    """The session and its settled state after reading ``card`` with its CAN."""
    reader = VirtualReader()
    session = CounterSession(reader, trust, save_dir=tmp_path)
    _insert(session, reader, VirtualChip(card))
    session.submit(can=_can(card))
    return session, _settle(session)


def test_an_expired_genuine_card_says_so_on_the_verdict_line_and_at_the_top_of_the_saved_report(
        trust: TrustStore, tmp_path: Path) -> None:
    expired = _card_of(replace(sample_resident(0), date_of_expiry=date(2025, 7, 2)), 0)
    session, state = _checked(expired, trust, tmp_path)
    verdict = state["result"]["verdict"]
    assert verdict["outcome"] == "genuine" and verdict["expired_on"] == "2025-07-02"
    assert state["result"]["marks"] == {"date_of_expiry": "warn"}
    saved = json.loads(session.save_report().read_text(encoding="utf-8"))
    assert list(saved)[:3] == ["saved_at", "outcome", "expired_on"] and saved["expired_on"] == "2025-07-02"
    current = _card_of(sample_resident(0), 0)  # valid until 2030: nothing said about expiry
    assert _checked(current, trust)[1]["result"]["verdict"]["expired_on"] is None


def test_a_2024_can_cuoc_card_is_shown_under_its_own_field_names(trust: TrustStore) -> None:
    can_cuoc = replace(sample_resident(0), date_of_issue=date(2024, 9, 2), identification_marks="",
                       place_of_origin="Phường Hàng Bạc, Quận Hoàn Kiếm, Hà Nội")
    result = _checked(_card_of(can_cuoc, 0), trust)[1]["result"]
    assert result["card_kind"] == "can_cuoc_2024" and result["verdict"]["outcome"] == "genuine"
    assert result["holder"]["place_of_birth_registration"] == "Phường Hàng Bạc, Quận Hoàn Kiếm, Hà Nội"
    assert "place_of_origin" not in result["holder"]
    child = replace(sample_resident(0), id_number="001321000000", date_of_birth=date(2021, 3, 1),
                    date_of_issue=date(2025, 1, 6), date_of_expiry=date(2035, 3, 1), identification_marks="",
                    spouse_name="", old_id_number="")
    assert _checked(_card_of(child, 0), trust)[1]["result"]["card_kind"] == "can_cuoc_2024_under_6"
    assert _checked(_card_of(sample_resident(0), 0), trust)[1]["result"]["card_kind"] == "cccd_2021"


def test_the_page_gets_each_holder_field_s_labels_from_the_card_kind_s_table(trust: TrustStore) -> None:
    can_cuoc = replace(sample_resident(0), date_of_issue=date(2024, 9, 2), identification_marks="",
                       place_of_origin="Phường Hàng Bạc, Quận Hoàn Kiếm, Hà Nội")
    for card, kind in ((_card_of(can_cuoc, 0), CardKind.CAN_CUOC_2024), (_card_of(sample_resident(0), 0),
                                                                        CardKind.CCCD_2021)):
        result = _checked(card, trust)[1]["result"]
        table = field_labels(kind)
        assert result["labels"] == {key: table[key].to_dict() for key in result["holder"]}
        assert list(result["labels"]) == list(result["holder"]) and "father_name" in result["labels"]
    assert result["labels"]["place_of_origin"] == {"vi": "Quê quán", "en": "place of origin"}
    # a holder only the MRZ gives has no card kind: the 2021 CCCD's labels, the library's own names
    mrz_only = view_of(Holder(source="DG1", full_name="NGUYEN VAN AN", nationality="VNM"))
    assert mrz_only.labels() == {"full_name": {"vi": "Họ và tên", "en": "full name"},
                                 "nationality": {"vi": "Quốc tịch", "en": "nationality"}}


def test_a_forged_expiry_is_marked_on_its_field_and_failed_checks_come_first_in_both_languages(
        image: CardImage, trust: TrustStore) -> None:
    reader = VirtualReader()
    session = CounterSession(reader, trust)
    _insert(session, reader, VirtualChip(forge_dg13_expiry(image)))
    session.submit(can=_can(image))
    result = _settle(session)["result"]
    assert result["marks"]["date_of_expiry"] == "fail" and result["altered"] is True
    rows = result["details"]
    statuses = [row["status"] for row in rows]
    assert statuses == sorted(statuses, key=["fail", "cannot tell", "warn", "pass", "n/a"].index)
    assert {row["id"] for row in rows if row["status"] == "fail"} >= {"hash.DG13", "cross.date_of_expiry"}
    expiry = next(row for row in rows if row["id"] == "cross.date_of_expiry")
    assert expiry["title"]["vi"].startswith("Ngày hết hạn khớp") and expiry["title"]["en"].startswith("Expiry")
    assert "không khớp" in expiry["reason"]["vi"] and "DG1 says" in expiry["technical"]
    assert all(row["reason"] is None for row in rows if row["status"] == "pass")


def test_a_counter_without_trust_says_every_verdict_will_be_cannot_tell(trust: TrustStore, tmp_path: Path) -> None:
    reader = VirtualReader()
    session = CounterSession(reader, TrustStore.load())
    assert session.snapshot()["no_trust"] is True
    warnings = start_warnings(session, reader, given_trust=False)
    assert len(warnings) == 1 and "every verdict will be 'cannot tell'" in warnings[0] and "--trust" in warnings[0]
    sample_pki().save(tmp_path)
    crl_only = CounterSession(reader, TrustStore.load(tmp_path / "crl.pem"))  # --trust given, but no CSCA in it
    assert start_warnings(crl_only, reader, given_trust=True)[0].startswith("the --trust files give no trusted CSCA")
    assert CounterSession(reader, trust).snapshot()["no_trust"] is False


class NoService(VirtualReader):
    """A computer where the PC/SC service does not run."""

    def poll(self) -> CardState:
        return CardState.NO_SERVICE


def test_no_pcsc_service_is_its_own_phase_and_start_warning(trust: TrustStore) -> None:
    source = NoService()
    session = CounterSession(source, trust)
    session.observe(source.poll())
    assert session.snapshot()["phase"] == "no_service"
    warnings = start_warnings(session, source, given_trust=True)
    assert warnings == [f"the card reader service is not running. {SERVICE_FIX}"]
    assert "systemctl start pcscd" in SERVICE_FIX


def test_the_pcsc_source_tells_a_stopped_service_from_a_missing_reader(tmp_path: Path) -> None:
    code = ("from cardtool.counter.session import PCSCCardSource; "
            "print(PCSCCardSource('Any Reader').poll().value)")
    env = {**os.environ, "PCSCLITE_CSOCK_NAME": str(tmp_path / "no-pcscd.comm"),
           "PYTHONPATH": os.pathsep.join([str(TOOLS), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                          check=True)
    assert done.stdout.strip() == "no_service"


class StopsAnswering:
    """A slow card that is still on the reader but whose exchange the driver gave up on after ``limit`` APDUs."""

    def __init__(self, chip: VirtualChip, limit: int, error: Exception) -> None:
        self.chip, self.limit, self.error, self.count = chip, limit, error, 0

    def process(self, raw: bytes) -> bytes:
        self.count += 1
        if self.count > self.limit:
            raise self.error
        return self.chip.process(raw)


@pytest.mark.parametrize("error", [
    CardRemovedError("the card in 'Reader 0' stopped answering (Transaction failed.): it was moved or removed"),
    LimitExceeded("READ_DEADLINE_SECONDS", "reading DG2", 120.0),
])
def test_a_slow_card_still_on_the_reader_is_not_called_removed(image: CardImage, trust: TrustStore,
                                                               error: Exception) -> None:
    reader = VirtualReader()
    session = CounterSession(reader, trust)
    _insert(session, reader, StopsAnswering(VirtualChip(image, ChipOptions(extended_length=False)), 15, error))
    session.submit(can=_can(image))
    state = _settle(session)
    assert state["notice"] == "not_answering" and state["phase"] == "card" and state["result"] is None


def test_the_command_says_at_start_what_keeps_verdicts_from_being_given(tmp_path: Path) -> None:
    """`cardtool counter` without --trust, on a computer without pcscd: both problems and their fixes first."""
    env = {**os.environ, "PCSCLITE_CSOCK_NAME": str(tmp_path / "no-pcscd.comm")}
    command = [str(Path(sys.executable).with_name("cardtool")), "counter", "--port", "0"]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None and process.stderr is not None
            address = process.stdout.readline()
            assert address.startswith("counter page: http://127.0.0.1:") and "#token=" in address
        finally:
            process.terminate()
        warnings = process.stderr.read()
    assert "no --trust was given: every verdict will be 'cannot tell'" in warnings
    assert "--trust pki/csca.pem" in warnings
    assert "the card reader service is not running" in warnings and "systemctl start pcscd" in warnings


def test_every_check_of_a_live_read_has_a_title_in_both_languages_and_a_failure_outranks_a_warning(
        image: CardImage, trust: TrustStore) -> None:
    checks = [check for card, store in ((forge_dg13_expiry(image), trust), (image, TrustStore.load()))
              for check in verify_read(read_card(InProcessTransport(VirtualChip(card)), AccessKey.can(_can(image))),
                                       store).checks]
    for check in checks:
        named = title(check.id)
        assert named["vi"] != check.id and named["en"] != check.id, check.id
    assert title("no.such.check") == {"vi": "no.such.check", "en": "no.such.check"}
    warned = CheckResult("lds.dg1.expiry", Group.CONFORMANCE, Status.WARN, "expired")
    failed = CheckResult("cross.date_of_expiry", Group.CROSS, Status.FAIL, "differs")
    assert field_marks([failed, warned]) == field_marks([warned, failed]) == {"date_of_expiry": "fail"}


def test_a_portrait_changed_after_signing_is_marked_on_the_portrait(image: CardImage, trust: TrustStore) -> None:
    dg2 = bytearray(image.files["DG2"])
    dg2[len(dg2) // 2] ^= 0x01  # inside the JPEG's entropy-coded data
    forged = replace(image, files={**image.files, "DG2": bytes(dg2)})
    result = _checked(forged, trust)[1]["result"]
    assert result["verdict"]["outcome"] == "not_genuine" and result["marks"]["portrait"] == "fail"
    assert result["altered"] is False  # the holder's text came from DG13, which is intact
