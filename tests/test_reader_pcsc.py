"""End to end over a real PC/SC stack: a private pcscd with the vpcd virtual reader, the virtual chip
behind it, and :func:`read_card` through :class:`PCSCTransport` — plus the PC/SC errors a person meets."""

from __future__ import annotations

import pytest
from vpcd_cards import DelegatingCard

from cardlib.card.image import CardImage
from cardlib.chip.chip import VirtualChip
from cardlib.chip.options import ChipOptions
from cardlib.chip.vpcd import VirtualChipQueue, vpcd_card
from cardlib.reader.pcsc import NoCardError, NoReaderError, connect, list_readers, wait_for_card
from cardlib.reader.reader import AccessKey, read_card
from cardlib.reader.transport import CardRemovedError, InProcessTransport, PCSCTransport
from cardlib.testing.cards import sample_card_image
from cardlib.testing.pcscd import PcscdInstance

pytestmark = pytest.mark.pcsc  # every test here reads through a private pcscd


@pytest.fixture(scope="module")
def image() -> CardImage:
    return sample_card_image()


def _keys(image: CardImage) -> tuple[AccessKey, AccessKey]:
    assert image.secrets is not None
    return AccessKey.can(image.secrets.can), AccessKey.mrz(image.secrets.mrz_information)


def test_private_reader_is_listed_and_empty(pcscd: PcscdInstance) -> None:
    assert pcscd.reader_name in list_readers()
    with pytest.raises(NoCardError, match="no card"):
        wait_for_card(pcscd.reader_name, timeout=0.1)


def test_unknown_reader_name_is_no_reader_error(pcscd: PcscdInstance) -> None:
    with pytest.raises(NoReaderError, match="no reader named"):
        connect("No Such Reader 42")


def test_pace_and_bac_reads_through_pcscd_give_identical_files(image: CardImage, pcscd: PcscdInstance) -> None:
    can, mrz = _keys(image)
    results = []
    for options, key, access in ((ChipOptions(), can, "PACE-CAN"), (ChipOptions(pace=False), mrz, "BAC")):
        with vpcd_card(VirtualChip(image, options), port=pcscd.port), \
                connect(pcscd.reader_name, timeout=5) as transport:
            result = read_card(transport, key)
        assert result.access == access
        assert result.chip_auth.passed, result.chip_auth.reason
        assert result.active_auth.passed, result.active_auth.reason
        assert result.apdu_count <= 150
        results.append(result)
    pace, bac = results
    common = set(pace.dump.files) & set(bac.dump.files)
    assert common >= {"EF.COM", "DG1", "DG2", "DG13", "DG14", "DG15", "EF.SOD"}
    assert {name: pace.dump.files[name] for name in common} == {name: bac.dump.files[name] for name in common}
    baseline = read_card(InProcessTransport(VirtualChip(image)), can)
    assert dict(pace.dump.files) == dict(baseline.dump.files)
    assert pace.apdu_count == baseline.apdu_count


class _EjectingChip(DelegatingCard):
    """A virtual chip that pulls itself out of the reader after ``limit`` APDUs."""

    def __init__(self, chip: VirtualChip, limit: int) -> None:
        super().__init__(chip)
        self.limit = limit
        self.count = 0
        self.queue: VirtualChipQueue | None = None

    def process(self, raw: bytes) -> bytes:
        self.count += 1
        if self.count > self.limit and self.queue is not None:
            self.queue.eject()
        return self.chip.process(raw)


# The virtual card's server thread fails to send its last answer into the socket the ejection closed.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_card_pulled_mid_read_through_pcscd(image: CardImage, pcscd: PcscdInstance) -> None:
    can, _ = _keys(image)
    card = _EjectingChip(VirtualChip(image, ChipOptions(extended_length=False)), limit=20)
    queue = VirtualChipQueue([card])
    card.queue = queue
    with vpcd_card(queue, port=pcscd.port):
        transport: PCSCTransport = connect(pcscd.reader_name, timeout=5)
        with transport, pytest.raises(CardRemovedError) as caught:
            read_card(transport, can)
    assert caught.value.file is not None and caught.value.offset is not None
