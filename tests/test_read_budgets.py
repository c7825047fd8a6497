"""A hostile chip cannot keep the reader busy: per-read deadline, APDU budget, per-file and per-card byte caps.

The hostile chip announces a 16 MB DG1 (its TLV header declares it, the chip serves zero filler) and answers
16 bytes per READ BINARY: without budgets a read of it takes some 1.1 million APDUs.  Each budget must stop
it within a bounded number of APDUs and a bounded time, in-process, through pcscd + vpcd, and on every
command-line path that reads a chip (one plain line, exit status 2 like every other read error).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from cardtool.counter.session import CardState, CounterSession
from cardtool.main import main
from test_qa import card_folders, make_batch, outcomes, trust_args

from cardlib.card.image import CardImage
from cardlib.chip.chip import VirtualChip
from cardlib.chip.options import ChipOptions
from cardlib.chip.vpcd import VirtualChipQueue, vpcd_card
from cardlib.errors import DecodeError
from cardlib.lds.tlv import read_tlv
from cardlib.limits import MAX_CARD_BYTES, MAX_FILE_BYTES, LimitExceeded
from cardlib.pki.trust import TrustStore
from cardlib.reader.files import MAX_ADDRESSABLE_FILE_SIZE
from cardlib.reader.pcsc import connect
from cardlib.reader.reader import AccessKey, ReadBudget, read_card
from cardlib.reader.transport import InProcessTransport, Transport
from cardlib.testing.cards import sample_card_image
from cardlib.testing.pcscd import PcscdInstance, private_pcscd
from cardlib.testing.pki import sample_pki

DECLARED = 16_000_000
DRIBBLE = ChipOptions(max_le=16, truncate_le=True)
HOSTILE = replace(DRIBBLE, oversized=(("DG1", DECLARED),))
# Budgets wide enough for the 16 MB DG1, so that only the budget under test can stop the read.
NO_BYTE_CAPS = ReadBudget(max_file_bytes=1 << 24, max_card_bytes=1 << 25)
SFI_DG1 = 0x81  # READ BINARY P1 naming DG1 by its short file identifier
# Generous bounds for a machine three times slower than the one these were measured on.
SECONDS = 5.0


class CountingTransport:
    """Forwards APDUs and keeps each command's INS and P1 (headers stay in the clear under SM)."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.headers: list[tuple[int, int]] = []

    def transmit(self, command: bytes) -> bytes:
        self.headers.append((command[1], command[2]))
        return self.inner.transmit(command)

    def count(self, ins: int, p1: int) -> int:
        return self.headers.count((ins, p1))


@pytest.fixture(scope="module")
def image() -> CardImage:
    return sample_card_image()


def _can(image: CardImage) -> AccessKey:
    assert image.secrets is not None
    return AccessKey.can(image.secrets.can)


def _hostile_read(image: CardImage, budget: ReadBudget | None,
                  options: ChipOptions = HOSTILE) -> tuple[LimitExceeded, CountingTransport, float]:
    transport = CountingTransport(InProcessTransport(VirtualChip(image, options)))
    start = time.monotonic()
    with pytest.raises(LimitExceeded) as caught:
        read_card(transport, _can(image), budget=budget)
    return caught.value, transport, time.monotonic() - start


def test_the_hostile_chip_serves_its_declared_16_mb(image: CardImage) -> None:
    chip = VirtualChip(image, replace(HOSTILE, max_le=65536))
    result = read_card(InProcessTransport(chip), _can(image), files=["DG1"], chip_auth=False, active_auth=False,
                       budget=replace(NO_BYTE_CAPS, max_apdus=1000))
    dg1, genuine = result.dump.files["DG1"], read_tlv(image.files["DG1"])
    assert len(dg1) == 5 + DECLARED and dg1[:5] == b"\x61\x83" + DECLARED.to_bytes(3, "big")
    assert dg1[5 : 5 + len(genuine.value)] == genuine.value and dg1.endswith(bytes(100))


def test_real_file_cap_refuses_a_16_mb_declaration_at_its_first_read(image: CardImage) -> None:
    error, transport, elapsed = _hostile_read(image, None)
    assert error.budget == "MAX_FILE_BYTES" and error.limit == MAX_FILE_BYTES and error.found == DECLARED + 5
    assert "DG1" in error.what and "MAX_FILE_BYTES" in str(error) and "1,048,576" in str(error)
    assert transport.count(0xB0, SFI_DG1) == 1  # refused on its header: the body was never asked for
    assert len(transport.headers) < 40 and elapsed < SECONDS


def test_deadline_stops_the_hostile_chip_naming_the_file(image: CardImage) -> None:
    error, transport, elapsed = _hostile_read(image, replace(NO_BYTE_CAPS, deadline_seconds=0.5))
    assert error.budget == "READ_DEADLINE_SECONDS" and error.limit == 0.5
    assert error.found is not None and 0.5 <= error.found < SECONDS
    assert "DG1 offset" in error.what
    assert 0.5 <= elapsed < 0.5 + SECONDS and len(transport.headers) > 20


def test_apdu_budget_counts_every_command_and_stops_the_hostile_chip(image: CardImage) -> None:
    error, transport, elapsed = _hostile_read(image, replace(NO_BYTE_CAPS, max_apdus=300))
    assert error.budget == "MAX_READ_APDUS" and error.limit == 300 and "DG1 offset" in error.what
    assert len(transport.headers) == 300 and elapsed < SECONDS


def test_per_file_cap_given_per_read(image: CardImage) -> None:
    options = replace(ChipOptions(), oversized=(("DG13", 70_000),))
    error, _, elapsed = _hostile_read(image, ReadBudget(max_file_bytes=65_536), options)
    assert error.budget == "MAX_FILE_BYTES" and error.limit == 65_536 and "DG13" in error.what
    assert elapsed < SECONDS


def test_a_file_beyond_what_read_binary_can_address_is_a_decode_error_whatever_the_budget(image: CardImage) -> None:
    options = replace(ChipOptions(), oversized=(("DG1", MAX_ADDRESSABLE_FILE_SIZE),))
    with pytest.raises(DecodeError, match="more than READ BINARY can address") as caught:
        read_card(InProcessTransport(VirtualChip(image, options)), _can(image),
                  budget=ReadBudget(max_file_bytes=1 << 30, max_card_bytes=1 << 30))
    assert caught.value.file == "DG1"


def test_real_card_cap_stops_files_each_under_the_file_cap(image: CardImage) -> None:
    """Five files of a million bytes each: every one is under MAX_FILE_BYTES, the fifth goes over MAX_CARD_BYTES."""
    big = tuple((name, 1_000_000) for name in ("DG1", "DG2", "DG13", "DG14", "DG15"))
    transport = CountingTransport(InProcessTransport(VirtualChip(image, ChipOptions(oversized=big))))
    start = time.monotonic()
    with pytest.raises(LimitExceeded) as caught:
        read_card(transport, _can(image))
    error = caught.value
    assert error.budget == "MAX_CARD_BYTES" and error.limit == MAX_CARD_BYTES and "DG15" in error.what
    assert error.found is not None and MAX_CARD_BYTES < error.found < MAX_CARD_BYTES + 1_100_000
    assert transport.count(0xB0, 0x80 | 15) == 1  # DG15 refused on its header
    assert len(transport.headers) < 150 and time.monotonic() - start < 4 * SECONDS


def test_a_genuine_read_fits_the_budgets_and_every_apdu_is_counted(image: CardImage) -> None:
    genuine = read_card(InProcessTransport(VirtualChip(image, DRIBBLE)), _can(image))
    assert genuine.chip_auth.passed and genuine.bytes_read == sum(len(data) for data in genuine.dump.files.values())
    exact = read_card(InProcessTransport(VirtualChip(image, DRIBBLE)), _can(image),
                      budget=ReadBudget(max_apdus=genuine.apdu_count, max_card_bytes=genuine.bytes_read))
    assert dict(exact.dump.files) == dict(genuine.dump.files)
    with pytest.raises(LimitExceeded, match="MAX_READ_APDUS"):
        read_card(InProcessTransport(VirtualChip(image, DRIBBLE)), _can(image),
                  budget=ReadBudget(max_apdus=genuine.apdu_count - 1))
    with pytest.raises(LimitExceeded, match="MAX_CARD_BYTES"):
        read_card(InProcessTransport(VirtualChip(image, DRIBBLE)), _can(image),
                  budget=ReadBudget(max_card_bytes=genuine.bytes_read - 1))


def test_budgets_stop_the_hostile_chip_through_pcscd(image: CardImage, pcscd: PcscdInstance) -> None:
    for budget, name in ((None, "MAX_FILE_BYTES"), (replace(NO_BYTE_CAPS, deadline_seconds=0.5),
                                                    "READ_DEADLINE_SECONDS")):
        with vpcd_card(VirtualChip(image, HOSTILE), port=pcscd.port), \
                connect(pcscd.reader_name, timeout=5) as transport:
            counting = CountingTransport(transport)
            start = time.monotonic()
            with pytest.raises(LimitExceeded) as caught:
                read_card(counting, _can(image), budget=budget)
            elapsed = time.monotonic() - start
        assert caught.value.budget == name and "DG1" in caught.value.what
        assert elapsed < 0.5 + SECONDS and counting.count(0xB0, SFI_DG1) >= 1


def _one_line_error(capsys: pytest.CaptureFixture[str], command: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"cardtool {command}: ") and "Traceback" not in err
    return err


def test_cli_read_and_verify_say_which_budget_stopped_the_read(
        image: CardImage, pcscd: PcscdInstance, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert image.secrets is not None
    sample_pki().save(tmp_path / "pki")
    access = ["--reader", pcscd.reader_name, "--can", image.secrets.can, "--timeout", "5"]
    with vpcd_card(VirtualChip(image, HOSTILE), port=pcscd.port):
        assert main(["read", *access, "--out", str(tmp_path / "dump")]) == 2
        read_error = _one_line_error(capsys, "read")
        assert main(["verify", "--trust", str(tmp_path / "pki" / "csca.pem"), *access]) == 2
        verify_error = _one_line_error(capsys, "verify")
    for error in (read_error, verify_error):
        assert "DG1" in error and "MAX_FILE_BYTES budget of 1,048,576" in error
    assert not (tmp_path / "dump").exists()


class _OneChipReader:
    """A counter card source holding one in-process chip."""

    def __init__(self, chip: VirtualChip) -> None:
        self.chip = chip

    def poll(self) -> CardState:
        return CardState.PRESENT

    @contextmanager
    def open(self) -> Iterator[InProcessTransport]:
        yield InProcessTransport(self.chip)


def test_counter_shows_the_budget_as_an_unreadable_card(image: CardImage, tmp_path: Path) -> None:
    assert image.secrets is not None
    sample_pki().save(tmp_path)
    session = CounterSession(_OneChipReader(VirtualChip(image, HOSTILE)), TrustStore.load(tmp_path / "csca.pem"))
    session.observe(CardState.PRESENT)
    session.submit(can=image.secrets.can)
    state = session.snapshot()
    while state["phase"] == "reading":
        state = session.wait(state["version"], 10)
    assert state["phase"] == "card" and state["notice"] == "unreadable" and state["result"] is None
    assert "DG1" in state["detail"] and "MAX_FILE_BYTES" in state["detail"]


@pytest.mark.pcsc  # starts a private pcscd
def test_live_qa_records_the_budget_and_goes_on_with_the_line(tmp_path: Path) -> None:
    pki, perso = make_batch(tmp_path)
    first = CardImage.load(card_folders(perso)[0])
    line = [VirtualChip(first, HOSTILE), VirtualChip(first)]
    report = tmp_path / "report"
    with private_pcscd() as instance, vpcd_card(VirtualChipQueue(line), instance.port):
        status = main(["qa", str(perso), *trust_args(pki), "--report", str(report), "--readers", "all",
                       "--idle-timeout", "2"])
    assert status == 1
    results = {outcome.verdict: outcome for outcome in outcomes(report)}
    assert results["valid"].label == card_folders(perso)[0].name
    assert "read failed" in results["error"].summary and "MAX_FILE_BYTES" in results["error"].summary
    assert "DG1" in results["error"].summary
