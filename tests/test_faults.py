"""Faults: what breaks around a read or a write, and that each gives a clear typed error and loses nothing.

The card pulled at every APDU (PACE-CAN with short reads is in test_reader.py; here BAC and extended length),
the reader gone and pcscd restarted mid-read through a private pcscd, a chip answering wrong status words at
every step, secure messaging desynchronised by a dropped, replayed or duplicated exchange, and a card image
written to a full disk.  (Faults of the batch tools — disk full while writing reports, a batch killed and
restarted — are tested with those tools.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from vpcd_cards import DelegatingCard

from cardlib.card.image import CardImage, CardImageError
from cardlib.chip.chip import VirtualChip
from cardlib.chip.options import ChipOptions
from cardlib.chip.vpcd import VirtualChipQueue, vpcd_card
from cardlib.errors import CardError, CardlibError
from cardlib.reader.pcsc import connect
from cardlib.reader.reader import AccessKey, ReadResult, SecureMessagingError, read_card
from cardlib.reader.transport import CardRemovedError, InProcessTransport, ReaderGoneError, RecordingTransport
from cardlib.testing import pcscd as pcscd_module
from cardlib.testing.cards import sample_card_image
from cardlib.testing.pcscd import private_pcscd

SM_CLA = 0x0C


@pytest.fixture(scope="module")
def image() -> CardImage:
    return sample_card_image(2)


def _key(image: CardImage, options: ChipOptions) -> AccessKey:
    assert image.secrets is not None
    return AccessKey.can(image.secrets.can) if options.pace else AccessKey.mrz(image.secrets.mrz_information)


def _genuine_read(image: CardImage, options: ChipOptions) -> ReadResult:
    return read_card(InProcessTransport(VirtualChip(image, options)), _key(image, options))


class _FaultyChip:
    """The virtual chip behind a transport whose exchange number ``at`` (0-based) goes wrong as ``fault`` says."""

    def __init__(self, chip: VirtualChip, at: int, fault: Callable[[_FaultyChip, bytes], bytes]) -> None:
        self.chip = chip
        self.at = at
        self.fault = fault
        self.count = 0
        self.previous = b""

    def transmit(self, command: bytes) -> bytes:
        index, self.count = self.count, self.count + 1
        answer = self.fault(self, command) if index == self.at else self.chip.process(command)
        self.previous = answer
        return answer


def _removed(chip: _FaultyChip, command: bytes) -> bytes:
    raise CardRemovedError("the card was removed")


# -- the card pulled at every APDU ---------------------------------------------------------------------------

READS = {"bac_short_reads": ChipOptions(pace=False, extended_length=False),
         "pace_extended_length": ChipOptions()}


@pytest.mark.parametrize("options", READS.values(), ids=READS.keys())
def test_card_removed_at_every_apdu_then_a_fresh_read_is_complete(image: CardImage, options: ChipOptions) -> None:
    genuine = _genuine_read(image, options)
    for at in range(genuine.apdu_count):
        with pytest.raises(CardRemovedError) as caught:
            read_card(_FaultyChip(VirtualChip(image, options), at, _removed), _key(image, options))
        error = caught.value
        if error.file is not None:
            assert f"while reading {error.file} at offset {error.offset}" in str(error)
            assert 0 <= (error.offset or 0) < len(image.files[error.file])
    assert dict(_genuine_read(image, options).dump.files) == dict(genuine.dump.files)


# -- a chip answering wrong status words ---------------------------------------------------------------------

WRONG_STATUS = (0x6A82, 0x6982, 0x6700, 0x6F00, 0x6D00, 0x6988, 0x9000)


def _status(sw: int) -> Callable[[_FaultyChip, bytes], bytes]:
    def answer(chip: _FaultyChip, command: bytes) -> bytes:
        chip.chip.process(command)
        return sw.to_bytes(2, "big")
    return answer


@pytest.mark.parametrize("sw", WRONG_STATUS, ids=lambda sw: f"{sw:04X}")
def test_wrong_status_word_at_every_step_is_a_typed_error_or_a_failed_live_check(image: CardImage, sw: int) -> None:
    options = ChipOptions()
    genuine = _genuine_read(image, options)
    assert image.secrets is not None
    for at in range(genuine.apdu_count):
        try:
            result = read_card(_FaultyChip(VirtualChip(image, options), at, _status(sw)), _key(image, options))
        except CardlibError as error:
            assert str(error) and image.secrets.can not in str(error)
            continue
        # a read that completes holds the card's files, less those the chip refused, which the read names
        missing = set(genuine.dump.files) - set(result.dump.files)
        assert missing <= set(result.protected_files), at
        assert {name: result.dump.files[name] for name in result.dump.files} == {
            name: genuine.dump.files[name] for name in result.dump.files}, at


# -- secure messaging desynchronised --------------------------------------------------------------------------


def _replayed(chip: _FaultyChip, command: bytes) -> bytes:
    chip.chip.process(command)
    return chip.previous


def _dropped(chip: _FaultyChip, command: bytes) -> bytes:
    return chip.previous


def _duplicated(chip: _FaultyChip, command: bytes) -> bytes:
    chip.chip.process(command)
    return chip.chip.process(command)


@pytest.mark.parametrize("fault", [_replayed, _dropped, _duplicated], ids=["replayed", "dropped", "duplicated"])
def test_desynchronised_secure_messaging_is_a_clear_error(image: CardImage,
                                                         fault: Callable[[_FaultyChip, bytes], bytes]) -> None:
    options = ChipOptions()
    recorder = RecordingTransport(InProcessTransport(VirtualChip(image, options)))
    commands: list[int] = []
    inner = recorder.inner

    class _Watch:
        def transmit(self, command: bytes) -> bytes:
            commands.append(command[0])
            return inner.transmit(command)

    recorder.inner = _Watch()
    read_card(recorder, _key(image, options))
    protected = [index for index, cla in enumerate(commands) if cla & SM_CLA == SM_CLA]
    assert len(protected) > 10
    for at in protected:
        try:
            result = read_card(_FaultyChip(VirtualChip(image, options), at, fault), _key(image, options))
        except SecureMessagingError as error:
            assert "secure messaging" in str(error)
            continue
        assert result.chip_auth.performed and not result.chip_auth.passed, at  # the exchange hit Chip Authentication
        assert "secure messaging" in result.chip_auth.reason


# -- the reader gone and pcscd restarted, through a private pcscd ------------------------------------------


class _StopsPcscdAfter(DelegatingCard):
    """A virtual chip that stops the running private pcscd after ``limit`` APDUs (the PC/SC service restarts)."""

    def __init__(self, chip: VirtualChip, limit: int) -> None:
        super().__init__(chip)
        self.limit = limit
        self.count = 0

    def process(self, raw: bytes) -> bytes:
        self.count += 1
        if self.count == self.limit:
            running = pcscd_module._running  # the daemon private_pcscd started for this test
            assert running is not None
            threading.Thread(target=running.process.terminate, daemon=True).start()
        return self.chip.process(raw)


class _DroppedAfter(_StopsPcscdAfter):
    """A virtual chip whose vpcd connection is cut after ``limit`` APDUs (the card leaves the reader)."""

    queue: VirtualChipQueue | None = None

    def process(self, raw: bytes) -> bytes:
        self.count += 1
        if self.count == self.limit and self.queue is not None:
            self.queue.eject()
        return self.chip.process(raw)


@pytest.mark.parametrize("phase", ["access_control", "active_authentication"])
@pytest.mark.pcsc  # starts a private pcscd
def test_vpcd_connection_dropped_mid_read_is_card_removed(image: CardImage, phase: str) -> None:
    """The card's connection to the reader is cut during PACE, or during the last exchange (AA)."""
    key = _key(image, ChipOptions())
    limit = 3 if phase == "access_control" else _genuine_read(image, ChipOptions()).apdu_count
    dropped = _DroppedAfter(VirtualChip(image), limit)
    queue = VirtualChipQueue([dropped])
    dropped.queue = queue
    with (private_pcscd() as instance, vpcd_card(queue, port=instance.port),
          connect(instance.reader_name, timeout=10) as transport, pytest.raises(CardRemovedError) as caught):
        read_card(transport, key)
    assert caught.value.file is None  # no file was being read: the dump is not partial, there is none
    assert image.secrets is not None and image.secrets.can not in str(caught.value)


# The virtual card's server thread fails to answer a daemon that is gone.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.pcsc  # starts a private pcscd
def test_pcscd_dying_mid_read_is_a_typed_error_and_a_restarted_pcscd_reads_again(image: CardImage) -> None:
    key = _key(image, ChipOptions())
    with (private_pcscd() as instance,
          vpcd_card(_StopsPcscdAfter(VirtualChip(image), limit=12), port=instance.port),
          connect(instance.reader_name, timeout=5) as transport,
          pytest.raises(CardError) as caught):
        read_card(transport, key)
    assert isinstance(caught.value, ReaderGoneError), caught.value
    assert image.secrets is not None and image.secrets.can not in str(caught.value)
    with (private_pcscd() as restarted, vpcd_card(VirtualChip(image), port=restarted.port),
          connect(restarted.reader_name, timeout=5) as transport):
        result = read_card(transport, key)
    assert dict(result.dump.files) == dict(_genuine_read(image, ChipOptions()).dump.files)


# -- a card image written to a full disk -----------------------------------------------------------------------


def test_card_image_on_a_full_disk_is_a_typed_error_leaving_nothing_behind(image: CardImage, full_disk: Path) -> None:
    target = full_disk / "card-001"
    with pytest.raises(CardImageError, match="No space left on device") as caught:
        image.save(target)
    assert str(target) in str(caught.value)
    assert list(full_disk.iterdir()) == []  # neither the image nor its staging folder
    small = CardImage({"EF.COM": image.files["EF.COM"]}, label="small")
    small.save(full_disk / "small")
    assert CardImage.load(full_disk / "small").files == small.files
