"""Encoding a blank JMRTD applet (issue 17): the protocol byte for byte, the applet's rules, the safety of
the station (locked cards, other images, pulled cards), and encode → read → verify through pcscd + vpcd."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cardtool.main import main
from cryptography.hazmat.primitives.asymmetric import rsa

from cardlib.batch.encode import CardState, EncodeError, EncodeJournal, encode_card, personalization_steps, probe
from cardlib.card.image import CardImage
from cardlib.card.perso import personalize
from cardlib.card.targets import JMRTD_APPLET, TargetError
from cardlib.chip.blank import BlankAppletChip
from cardlib.chip.vpcd import VirtualChipQueue, vpcd_card
from cardlib.pki.trust import TrustStore
from cardlib.reader.reader import AccessKey, read_card
from cardlib.reader.transport import CardRemovedError, InProcessTransport
from cardlib.testing.cards import sample_card_image, sample_resident
from cardlib.testing.faces import synthetic_portrait_jpeg
from cardlib.testing.pcscd import private_pcscd
from cardlib.testing.pki import sample_pki

PERSO_INS = {0xE0, 0xD6, 0xDA}


def jmrtd_image(index: int = 0) -> CardImage:
    return personalize(sample_resident(index), synthetic_portrait_jpeg(index), sample_pki().document_signer,
                       target=JMRTD_APPLET)


class Recorder:
    """The chip put on a reader (powered on), every command kept; the card is pulled after ``pull_after``."""

    def __init__(self, chip: BlankAppletChip, pull_after: int | None = None) -> None:
        self.chip = chip
        chip.power_on()
        self.commands: list[bytes] = []
        self.pull_after = pull_after
        self._inner = InProcessTransport(chip)

    @property
    def atr(self) -> bytes:
        return self.chip.atr

    def transmit(self, command: bytes) -> bytes:
        if self.pull_after is not None and len(self.commands) >= self.pull_after:
            raise CardRemovedError("the card was removed from 'test reader'")
        self.commands.append(bytes(command))
        return self._inner.transmit(command)

    def sent(self, ins: set[int]) -> list[bytes]:
        return [command for command in self.commands if command[1] in ins and command[0] == 0x00]


def test_the_encoder_speaks_the_measured_protocol_byte_for_byte() -> None:
    image = jmrtd_image()
    assert image.secrets is not None
    key = image.secrets.aa_private_key
    assert isinstance(key, rsa.RSAPrivateKey)
    expected = ["00A4040C07A0000002471001"]
    for name, fid in (("EF.COM", "011E"), ("DG1", "0101"), ("DG2", "0102"), ("DG3", "0103"), ("DG13", "010D"),
                      ("DG15", "010F"), ("EF.SOD", "011D")):
        content = image.files[name]
        expected += [f"00E00000066304{len(content):04X}{fid}", f"00A4020C02{fid}"]
        for offset in range(0, len(content), 255):
            chunk = content[offset : offset + 255]
            expected.append(f"00D6{offset:04X}{len(chunk):02X}{chunk.hex().upper()}")
    info = image.secrets.mrz_information  # e.g. 0011900000<... : number, birth, expiry with check digits
    seed = "".join(f"04{len(part):02X}{part.encode().hex().upper()}"
                   for part in (info[:9].rstrip("<"), info[10:16], info[17:23]))
    expected.append(f"00DA0062{len(seed) // 2 + 2:02X}62{len(seed) // 2:02X}{seed}")
    numbers = key.private_numbers()
    for tag, value in (("60", numbers.public_numbers.n), ("61", numbers.d)):
        expected.append(f"00DA00{tag}85{tag}00048180{value.to_bytes(128, 'big').hex().upper()}")
    expected.append("00DADEAD")
    got = [step.command.encode().hex().upper() for step in personalization_steps(image)]
    assert got == expected
    assert 60 <= len(got) <= 80  # the issue measured 70 APDUs for a 12 KB image


def test_the_blank_applet_enforces_the_personalization_rules() -> None:
    chip = BlankAppletChip()
    send: Callable[[str], str] = lambda apdu: chip.process(bytes.fromhex(apdu)).hex().upper()  # noqa: E731
    assert send("00E000000663040010011E") == "6985"  # applet not selected
    assert send("00A4040C07A0000002471001") == "9000"
    assert send("00B0000010") == "6982"  # nothing is read before the lock
    assert send("0084000008") == "6982"  # no BAC before the lock
    assert send("00E000000663040010011C") == "6A80"  # no master file: no EF.CardAccess
    assert send("00E000000663048000011E") == "6A84"  # larger than the applet addresses
    assert send("00E000000663040010011E") == "9000"
    assert send("00E000000663040010011E") == "6A89"  # exists
    assert send("00D600000101") == "6986"  # no file selected
    assert send("00A4020C02011E") == "9000"
    assert send("00D6000F0201FF") == "6B00"  # past the end of the 16-byte file
    assert send("00DADEAD") == "6985"  # no BAC key seed yet
    assert send("00DA0062046204" + "0401") == "6A80"
    chip.power_on()  # EEPROM keeps what was written; the selection is gone
    assert send("00A4020C02011E") == "6A82"
    assert send("00A4040C07A0000002471001") == "9000"
    assert send("00A4020C02011E") == "9000"
    seed = "0409" + b"123456789".hex() + "0406" + b"900702".hex() + "0406" + b"300702".hex()
    assert send("00DA0062" + "1D" + "621B" + seed) == "9000"
    assert send("00DADEAD") == "9000"
    assert chip.applet.locked and chip.chip is not None
    assert send("00E000000663040010010F") == "6982"  # locked: personalization refused
    assert send("00DA00620100") == "6982"
    assert send("00A4040C07A0000002471001") == "9000"
    assert send("00A4020C02011E") == "6982"  # files need BAC now
    assert len(bytes.fromhex(send("FFCA000000"))) == 7 + 2  # the UID, as a contactless reader answers


def test_encode_then_read_over_bac_and_verify(trust: TrustStore, tmp_path: Path) -> None:
    image = jmrtd_image()
    chip = BlankAppletChip()
    journal = EncodeJournal(tmp_path / "journal.jsonl")
    outcome = encode_card(Recorder(chip), image, trust, journal, source="cards/00001")
    assert outcome.good, outcome.entry
    assert outcome.read_back is not None
    read = outcome.read_back.read
    assert read.access == "BAC" and read.cipher.startswith("3DES")
    assert read.active_auth.passed and "SHA1" in read.active_auth.reason
    assert read.protected_files == ("DG3",) and "EF.CardAccess" not in read.dump.files
    assert {name: data for name, data in image.files.items() if name != "DG3"} == dict(read.dump.files)
    assert chip.chip is not None and chip.chip.secure_messaging_active  # the read-back session
    entry = json.loads((tmp_path / "journal.jsonl").read_text(encoding="utf-8"))
    assert entry["status"] == "encoded" and entry["card"]["uid"] == chip.uid.hex().upper()
    assert entry["apdus"] == outcome.entry["apdus"] > len(personalization_steps(image))
    _assert_no_secret(image, (tmp_path / "journal.jsonl").read_text(encoding="utf-8") + repr(outcome.entry))


def _assert_no_secret(image: CardImage, text: str) -> None:
    assert image.secrets is not None
    key = image.secrets.aa_private_key
    assert isinstance(key, rsa.RSAPrivateKey)
    numbers = key.private_numbers()
    for secret in (image.secrets.mrz_information, image.secrets.mrz_information[:10],
                   f"{numbers.d:X}"[:16], f"{numbers.d:x}"[:16], f"{numbers.public_numbers.n:X}"[:16]):
        assert secret not in text.upper() and secret not in text


def test_a_locked_card_is_refused_untouched(trust: TrustStore, tmp_path: Path) -> None:
    image, other = jmrtd_image(0), jmrtd_image(1)
    chip = BlankAppletChip()
    assert encode_card(Recorder(chip), image, trust, EncodeJournal(tmp_path / "first.jsonl")).good
    for attempt in (image, other):  # even its own image: a locked card is only read back after an interrupted run
        recorder = Recorder(chip)
        outcome = encode_card(recorder, attempt, trust, EncodeJournal(tmp_path / "second.jsonl"))
        assert outcome.entry["status"] == "refused" and outcome.read_back is None
        assert "already encoded and locked" in outcome.entry["reason"] and "gp --uninstall" in outcome.entry["reason"]
        assert recorder.sent(PERSO_INS) == []


def test_a_card_holding_another_image_is_refused(trust: TrustStore, tmp_path: Path) -> None:
    chip = BlankAppletChip()
    journal = EncodeJournal(tmp_path / "journal.jsonl")
    pulled = encode_card(Recorder(chip, pull_after=20), jmrtd_image(0), trust, journal)
    assert pulled.entry["status"] == "failed" and pulled.entry["stage"] == "write"
    recorder = Recorder(chip)
    outcome = encode_card(recorder, jmrtd_image(1), trust, journal)
    assert outcome.entry["status"] == "refused" and "holds files of another image" in outcome.entry["reason"]
    assert recorder.sent(PERSO_INS) == [] and not chip.applet.locked


@pytest.mark.parametrize("pull_after", [1, 3, 12, 40, 70])
def test_a_card_pulled_mid_encode_is_recorded_failed_and_finished_safely(
        trust: TrustStore, tmp_path: Path, pull_after: int) -> None:
    image = jmrtd_image()
    chip = BlankAppletChip()
    journal = EncodeJournal(tmp_path / "journal.jsonl")
    pulled = encode_card(Recorder(chip, pull_after=pull_after), image, trust, journal)
    assert pulled.entry["status"] == "failed" and "the card was pulled" in pulled.entry["reason"]
    again = encode_card(Recorder(chip), image, trust, EncodeJournal(tmp_path / "journal.jsonl"))
    assert again.good, again.entry
    _assert_no_secret(image, (tmp_path / "journal.jsonl").read_text(encoding="utf-8"))


def test_a_card_pulled_during_the_read_back_is_only_read_back(trust: TrustStore, tmp_path: Path) -> None:
    image = jmrtd_image()
    chip = BlankAppletChip()
    journal = EncodeJournal(tmp_path / "journal.jsonl")
    steps = len(personalization_steps(image))
    pulled = encode_card(Recorder(chip, pull_after=steps + 8), image, trust, journal)
    assert pulled.entry["stage"] == "read-back" and chip.applet.locked
    recorder = Recorder(chip)
    again = encode_card(recorder, image, trust, journal)
    assert again.good and recorder.sent(PERSO_INS) == []


def test_a_card_that_reads_back_wrong_is_failed_then_only_read_back(trust: TrustStore, tmp_path: Path) -> None:
    image = jmrtd_image()
    chip = BlankAppletChip()
    journal = EncodeJournal(tmp_path / "journal.jsonl")
    untrusted = TrustStore.load()  # no CSCA: the read-back cannot be VALID
    wrong = encode_card(Recorder(chip), image, untrusted, journal)
    assert wrong.entry["status"] == "failed" and wrong.entry["stage"] == "read-back"
    assert "verification: CANNOT TELL" in wrong.entry["reason"] and chip.applet.locked
    recorder = Recorder(chip)
    assert encode_card(recorder, image, trust, journal).good and recorder.sent(PERSO_INS) == []


def test_an_image_the_target_cannot_hold_is_refused_before_any_apdu(trust: TrustStore, tmp_path: Path) -> None:
    recorder = Recorder(BlankAppletChip())
    with pytest.raises(TargetError, match="EC-256"):
        encode_card(recorder, sample_card_image(), trust, EncodeJournal(tmp_path / "journal.jsonl"))
    assert recorder.commands == []


class NoApplet:
    """A Java Card without the passport applet: every SELECT by AID answers 6A82."""

    def transmit(self, command: bytes) -> bytes:
        return b"\x6a\x82"


def test_a_card_without_the_applet_is_named() -> None:
    with pytest.raises(EncodeError, match=r"no eMRTD applet .* install JMRTD's passport applet"):
        probe(NoApplet())
    assert probe(Recorder(BlankAppletChip())) is CardState.BLANK


@pytest.mark.pcsc  # starts a private pcscd
def test_cardtool_encode_through_pcscd_and_vpcd(test_pki_folder: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "batch"
    residents = Path(__file__).resolve().parents[1] / "tools" / "cardtool" / "samples" / "residents.csv"
    assert main(["perso", str(residents), "--pki", str(test_pki_folder), "--out", str(out), "--workers", "1",
                 "--target", "jmrtd-applet"]) == 0
    cards = sorted((out / "cards").iterdir())[:2]
    journal = tmp_path / "encode.jsonl"
    used = BlankAppletChip()  # a card encoded earlier, put on the reader by mistake: refused, the next one used
    assert encode_card(Recorder(used), jmrtd_image(7),
                       TrustStore.load(test_pki_folder / "csca.pem", test_pki_folder / "crl.pem"),
                       EncodeJournal(tmp_path / "elsewhere.jsonl")).good
    blank = [BlankAppletChip(), BlankAppletChip()]
    trust = ["--trust", str(test_pki_folder / "csca.pem"), str(test_pki_folder / "crl.pem")]
    with private_pcscd() as pcscd, vpcd_card(VirtualChipQueue([used, *blank]), pcscd.port):
        status = main(["encode", *map(str, cards), "--reader", pcscd.reader_name, *trust,
                       "--journal", str(journal), "--wait", "10"])
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert printed.count("GOOD on card UID") == 2 and "2 encoded, 0 not encoded" in printed
    assert f"REFUSED on card UID {used.uid.hex().upper()} (probe): the card" in printed
    entries = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
    assert [(e["status"], e["card"]["uid"]) for e in entries] == [
        ("refused", used.uid.hex().upper()), *(("encoded", chip.uid.hex().upper()) for chip in blank)]
    for chip, folder in zip(blank, cards, strict=True):  # each card holds its own image, readable over BAC
        image = CardImage.load(folder)
        assert image.secrets is not None
        assert chip.chip is not None
        chip.power_on()
        read = read_card(InProcessTransport(chip), AccessKey.mrz(image.secrets.mrz_information))
        assert read.dump.files["DG13"] == image.files["DG13"]
        _assert_no_secret(image, journal.read_text(encoding="utf-8") + printed)
    assert main(["encode", *map(str, cards), "--reader", "no such reader", *trust, "--journal", str(journal)]) == 0
    assert capsys.readouterr().out.count("already encoded on card UID") == 2  # resumed: no card needed


def test_cardtool_encode_refuses_images_the_target_cannot_hold(test_pki_folder: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    sample_card_image().save(tmp_path / "cccd")
    jmrtd_image().save(tmp_path / "jmrtd")
    status = main(["encode", str(tmp_path / "jmrtd"), str(tmp_path / "cccd"), "--reader", "none",
                   "--trust", str(test_pki_folder / "csca.pem"), "--journal", str(tmp_path / "j.jsonl")])
    error = capsys.readouterr().err
    assert status == 2 and "nothing was written: 1 image(s) cannot be held by a jmrtd-applet chip" in error
    assert str(tmp_path / "cccd") in error and "EC-256" in error and not (tmp_path / "j.jsonl").exists()
