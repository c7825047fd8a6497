"""The virtual chip on the real PC/SC stack: pyscard → private pcscd → vpcd driver → our vpcd bridge."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from smartcard.CardConnection import CardConnection
from smartcard.Exceptions import CardConnectionException
from smartcard.scard import SCARD_LEAVE_CARD, SCARD_UNPOWER_CARD
from smartcard.System import readers

from cardlib.card.image import CardImage, ChipSecrets
from cardlib.chip.chip import VirtualChip
from cardlib.chip.vpcd import VirtualChipQueue, vpcd_card
from cardlib.lds.files import EMRTD_AID
from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU
from cardlib.protocols.bac import BACTerminal
from cardlib.testing.pcscd import PcscdInstance, reader_conf

pytestmark = pytest.mark.pcsc  # vpcd cards behind a private pcscd

# ICAO 9303-11 App. D.2 (BAC worked example) MRZ information; App. G.1 EF.CardAccess.
MRZ_INFORMATION = "L898902C<369080619406236"
CARD_ACCESS = bytes.fromhex("31143012060A04007F0007020204020202010202010D")
CONNECT_TIMEOUT = 10.0


def _image(shared_data: Path, document: str = MRZ_INFORMATION) -> CardImage:
    folder = shared_data / "bsi2008"
    files = {"EF.COM": (folder / "EF_COM.bin").read_bytes(), "DG1": (folder / "Datagroup1.bin").read_bytes(),
             "EF.CardAccess": CARD_ACCESS}
    return CardImage(files, ChipSecrets(document, "123456", None, None))


def _connect(instance: PcscdInstance, disposition: int = SCARD_LEAVE_CARD) -> CardConnection:
    """Wait for the card to show up in the private reader and connect; ``disposition`` applies on disconnect."""
    deadline = time.monotonic() + CONNECT_TIMEOUT
    while True:
        found = [r for r in readers() if str(r) == instance.reader_name]
        if found:
            connection = found[0].createConnection()
            try:
                connection.connect(disposition=disposition)
                return connection
            except Exception:
                if time.monotonic() > deadline:
                    raise
        elif time.monotonic() > deadline:
            raise AssertionError(f"reader {instance.reader_name} not listed")
        time.sleep(0.05)


def _connect_to_card(instance: PcscdInstance, queue: VirtualChipQueue, number: int) -> CardConnection:
    """Connect to the ``number``-th card of the queue once pcscd has seen the swap (SELECT AID answers)."""
    deadline = time.monotonic() + CONNECT_TIMEOUT
    while queue.presented < number and time.monotonic() < deadline:
        time.sleep(0.02)
    while True:
        connection = _connect(instance, SCARD_UNPOWER_CARD)
        try:
            if transmit(connection, CommandAPDU(0x00, 0xA4, 0x04, 0x0C, EMRTD_AID)).sw == 0x9000:
                return connection
        except CardConnectionException:
            connection.release()
        if time.monotonic() > deadline:
            raise AssertionError(f"card {number} of the queue never answered")
        time.sleep(0.05)


def transmit(connection: CardConnection, cmd: CommandAPDU) -> ResponseAPDU:
    data, sw1, sw2 = connection.transmit(list(cmd.encode()))
    return ResponseAPDU(bytes(data), (sw1 << 8) | sw2)


def test_reader_conf_names_the_port() -> None:
    assert "CHANNELID    0x9000" in reader_conf(0x9000) and "libifdvpcd.so" in reader_conf(0x9000)


def test_bac_through_pcscd(pcscd: PcscdInstance, shared_data: Path) -> None:
    image = _image(shared_data)
    with vpcd_card(VirtualChip(image), pcscd.port):
        connection = _connect(pcscd)
        assert bytes(connection.getATR()) == VirtualChip(image).atr
        assert transmit(connection, CommandAPDU(0x00, 0xA4, 0x04, 0x0C, EMRTD_AID)).sw == 0x9000
        challenge = transmit(connection, CommandAPDU(0x00, 0x84, 0x00, 0x00, le=8))
        terminal = BACTerminal(MRZ_INFORMATION)
        answer = transmit(connection, CommandAPDU(0x00, 0x82, 0x00, 0x00,
                                                  terminal.mutual_authenticate_data(challenge.data), le=40))
        sm = terminal.complete(answer.data)
        select = sm.protect_command(CommandAPDU(0x00, 0xA4, 0x02, 0x0C, b"\x01\x01"))
        assert sm.unprotect_response(transmit(connection, select)).sw == 0x9000
        read = sm.protect_command(CommandAPDU(0x00, 0xB0, 0x00, 0x00, le=0x100))
        assert sm.unprotect_response(transmit(connection, read)).data == image.files["DG1"]
        connection.disconnect()
        connection.release()


def test_queue_presents_cards_one_after_another(pcscd: PcscdInstance, shared_data: Path) -> None:
    documents = ["L898902C<369080619406236", "T22000129364081251010318"]
    queue = VirtualChipQueue(VirtualChip(_image(shared_data, doc)) for doc in documents)
    with vpcd_card(queue, pcscd.port):
        for number, document in enumerate(documents, start=1):
            connection = _connect_to_card(pcscd, queue, number)
            challenge = transmit(connection, CommandAPDU(0x00, 0x84, 0x00, 0x00, le=8))
            data = BACTerminal(document).mutual_authenticate_data(challenge.data)
            assert transmit(connection, CommandAPDU(0x00, 0x82, 0x00, 0x00, data, le=40)).sw == 0x9000
            connection.disconnect()
            connection.release()
    assert queue.presented == 2
