"""The reading procedure against the in-process virtual chip: access control, adaptive reads, live checks,
and every error a person at the reader can meet."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from cardtool.access import access_key
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from cardlib.card.image import CardImage, ChipSecrets
from cardlib.chip.chip import VirtualChip
from cardlib.chip.options import ChipOptions
from cardlib.errors import CardError, CardlibError, DecodeError, ValidationError
from cardlib.lds.com import EFCOM
from cardlib.lds.dg15 import DG15
from cardlib.lds.securityinfo import (
    DG14,
    CardAccess,
    ChipAuthenticationInfo,
    ChipAuthenticationPublicKeyInfo,
    PACEInfo,
    TerminalAuthenticationInfo,
)
from cardlib.lds.tlv import encode_tlv
from cardlib.protocols.status import sw_meaning
from cardlib.reader.files import declared_size
from cardlib.reader.reader import (
    AccessKey,
    ChipAuthResult,
    ChipRefusedError,
    ReadResult,
    SecureMessagingError,
    UnsupportedAccessError,
    WrongAccessKeyError,
    read_card,
)
from cardlib.reader.transport import CardRemovedError, InProcessTransport, RecordingTransport
from cardlib.testing.cards import sample_card_image

# ICAO 9303-11 App. D.2: document L898902C<, born 690806, expires 940623.
ICAO_MRZ_INFORMATION = "L898902C<369080619406236"


# EF.CardAccess of the real card (shared docs): PACE-ECDH-GM-AES-128 on brainpoolP256r1, CA ECDH-AES-128, TA v1.
PACE_AES_128 = "0.4.0.127.0.7.2.2.4.2.2"
CA_AES_128 = "0.4.0.127.0.7.2.2.3.2.2"
TEST_CAN = "270915"
TEST_MRZ = AccessKey.from_document("C11T002JM", "640812", "101031").secret  # BSI 2008 specimen (public)


@pytest.fixture(scope="module")
def image() -> CardImage:
    """The project's synthetic personalized CCCD card (about 13 KB)."""
    return sample_card_image()


@pytest.fixture(scope="module")
def large_image(shared_data: Path) -> CardImage:
    """A ~25 KB CCCD-shaped card: BSI 2008 specimen DG1/DG2/DG3/EF.SOD, an 8 KB filler DG13, fresh keys."""
    bsi = shared_data / "bsi2008"
    ca_key = ec.generate_private_key(ec.BrainpoolP256R1())
    aa_key = ec.generate_private_key(ec.BrainpoolP256R1())
    card_access = CardAccess((PACEInfo(PACE_AES_128, 2, 13), ChipAuthenticationInfo(CA_AES_128, 1),
                              TerminalAuthenticationInfo(1))).encode()
    dg14 = DG14((ChipAuthenticationPublicKeyInfo.for_key(ca_key.public_key()), ChipAuthenticationInfo(CA_AES_128, 1)))
    dg14_bytes = dg14.encode()
    files = {
        "EF.CardAccess": card_access,
        "EF.COM": EFCOM(data_groups=(1, 2, 3, 13, 14, 15)).encode(),
        "DG1": (bsi / "Datagroup1.bin").read_bytes(),
        "DG2": (bsi / "Datagroup2.bin").read_bytes(),
        "DG3": (bsi / "Datagroup3.bin").read_bytes(),
        "DG13": encode_tlv(0x6D, bytes(range(256)) * 32),
        "DG14": dg14_bytes,
        "DG15": DG15.from_cryptography(aa_key.public_key()).encode(),
        "EF.SOD": (bsi / "EF_SOD.bin").read_bytes(),
    }
    return CardImage(files, ChipSecrets(TEST_MRZ, TEST_CAN, aa_key, ca_key))


def _key(image: CardImage, kind: str) -> AccessKey:
    assert image.secrets is not None
    return AccessKey.can(image.secrets.can) if kind == "CAN" else AccessKey.mrz(image.secrets.mrz_information)


def _chip(image: CardImage, **options: object) -> VirtualChip:
    return VirtualChip(image, ChipOptions(**options))  # type: ignore[arg-type]


class _RemovedAfter:
    """A transport whose card leaves the reader after ``limit`` exchanges."""

    def __init__(self, inner: InProcessTransport, limit: int) -> None:
        self.inner = inner
        self.limit = limit
        self.count = 0

    def transmit(self, command: bytes) -> bytes:
        self.count += 1
        if self.count > self.limit:
            raise CardRemovedError("the card was removed")
        return self.inner.transmit(command)


class _GarbageAfter:
    """A transport whose chip starts answering noise after ``limit`` exchanges."""

    def __init__(self, inner: InProcessTransport, limit: int, noise: bytes) -> None:
        self.inner = inner
        self.limit = limit
        self.noise = noise
        self.count = 0

    def transmit(self, command: bytes) -> bytes:
        self.count += 1
        answer = self.inner.transmit(command)
        return self.noise if self.count > self.limit else answer


def _expected_dump(image: CardImage, protected: tuple[str, ...]) -> dict[str, bytes]:
    return {name: data for name, data in image.files.items() if name not in protected}


# -- access keys ----------------------------------------------------------------------------------------


def test_access_key_from_document_adds_icao_check_digits() -> None:
    key = AccessKey.from_document("L898902C", "690806", "940623")
    assert key.secret == ICAO_MRZ_INFORMATION
    assert key.kind == "MRZ"


def test_access_key_never_shows_its_secret() -> None:
    can = AccessKey.can("123456")
    mrz = AccessKey.mrz(ICAO_MRZ_INFORMATION)
    for text in (repr(can), str(can), repr(mrz), f"{mrz}", repr([can, mrz])):
        assert "123456" not in text and "L898902C" not in text


@pytest.mark.parametrize("bad", ["12345", "1234567", "12345a", "١٢٣٤٥٦"])
def test_access_key_rejects_a_malformed_can(bad: str) -> None:
    with pytest.raises(CardlibError) as caught:
        AccessKey.can(bad)
    assert bad not in str(caught.value)


# ICAO 9303-4 and 9303-5 specimens: the passport's TD3 lines and the ID card's TD1 lines
TD3_LINES = ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10")
TD1_LINES = ("I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<")


@pytest.mark.parametrize(("mrz", "information"), [
    (TD3_LINES[1], "L898902C3674081221204159"),
    ("\n".join(TD3_LINES), "L898902C3674081221204159"),
    (f"  {TD3_LINES[1].lower()}\n", "L898902C3674081221204159"),
    ("\n".join(TD1_LINES), "D23145890774081221204159"),
    ("\r\n".join(TD1_LINES[:2]), "D23145890774081221204159"),
    (ICAO_MRZ_INFORMATION, ICAO_MRZ_INFORMATION),
])
def test_access_key_mrz_takes_the_printed_lines_or_the_mrz_information(mrz: str, information: str) -> None:
    assert AccessKey.mrz(mrz).secret == information
    assert access_key(argparse.Namespace(mrz=mrz, can=None)).secret == information  # cardtool --mrz


@pytest.mark.parametrize(("mrz", "wrong"), [
    (TD3_LINES[1].replace("7408122", "7408123"), "date of birth, composite"),
    (TD3_LINES[1][:-1] + "1", "composite"),
    ("\n".join(TD1_LINES).replace("D231458907", "D231458917"), "document number, composite"),
    ("L898902C<369080619406237", "date of expiry"),
    ("L898902C<469080619406236", "document number"),
])
def test_access_key_mrz_names_the_wrong_check_digit_never_the_characters(mrz: str, wrong: str) -> None:
    with pytest.raises(ValidationError) as caught:
        AccessKey.mrz(mrz)
    message = str(caught.value)
    assert f"wrong check digit: {wrong} (" in message
    assert not any(part in message for part in ("L898902", "D2314", "7408", "6908", "1204", "9406"))


def test_access_key_mrz_refuses_other_characters_as_a_typed_error() -> None:
    with pytest.raises(ValidationError, match="not an MRZ character"):
        AccessKey.mrz(TD3_LINES[1].replace("<", "-"))


def test_sw_meanings() -> None:
    assert sw_meaning(0x6982) == "security status not satisfied"
    assert sw_meaning(0x6C10) == "wrong Le, 16 bytes available"
    assert sw_meaning(0x63C2) == "verification failed, 2 tries left"


# -- the declared size of a file, from the first bytes read ---------------------------------------------


@settings(max_examples=100)
@given(tag=st.sampled_from([0x60, 0x61, 0x75, 0x6D, 0x77, 0x31, 0x5F1F, 0x7F61]),
       length=st.integers(0, 70000), probe=st.integers(1, 8))
def test_declared_size_matches_the_encoded_file(tag: int, length: int, probe: int) -> None:
    header = encode_tlv(tag, bytes(length))[: len(encode_tlv(tag, bytes(length))) - length]
    head = (header + b"\xAA" * 8)[:probe]
    size = declared_size(head)
    if probe >= len(header):
        assert size == len(header) + length
    else:
        assert size is None


@settings(max_examples=200)
@given(st.binary(max_size=8))
def test_declared_size_of_garbage_is_a_number_none_or_decode_error(head: bytes) -> None:
    try:
        size = declared_size(head)
    except DecodeError:
        return
    assert size is None or size >= 2


# -- transports -----------------------------------------------------------------------------------------


def test_recording_transport_counts_without_keeping_content(image: CardImage) -> None:
    recorder = RecordingTransport(InProcessTransport(_chip(image)))
    recorder.transmit(bytes.fromhex("00A4040C07A0000002471001"))
    stats = recorder.statistics
    assert stats.apdus == 1 and stats.bytes_sent == 12 and stats.bytes_received >= 2
    assert stats.records[0].ins == 0xA4
    assert "A0000002471001" not in repr(stats).upper()


# -- full reads -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "access"), [("CAN", "PACE-CAN"), ("MRZ", "PACE-MRZ")])
def test_pace_read_with_chip_and_active_authentication(image: CardImage, kind: str, access: str) -> None:
    result = read_card(InProcessTransport(_chip(image)), _key(image, kind))
    assert result.access == access
    assert result.cipher == "AES"
    assert result.chip_auth.performed and result.chip_auth.passed, result.chip_auth.reason
    assert result.active_auth.performed and result.active_auth.passed, result.active_auth.reason
    assert result.protected_files == ("DG3",)
    assert dict(result.dump.files) == _expected_dump(image, ("DG3",))
    assert result.dump.secrets is None


@pytest.mark.parametrize(("extended", "most_apdus"), [(True, 30), (False, 150)])
def test_full_read_of_a_25kb_card_with_pace_ca_aa(large_image: CardImage, extended: bool, most_apdus: int) -> None:
    result = _read_all(large_image, extended_length=extended)
    assert result.chip_auth.passed and result.active_auth.passed
    assert dict(result.dump.files) == _expected_dump(large_image, ("DG3",))
    assert result.bytes_read >= 24_000
    assert result.apdu_count <= most_apdus
    assert result.bytes_per_apdu == result.bytes_read / result.apdu_count
    assert result.timings.total > 0 and result.timings.read > 0


def test_bac_on_a_chip_without_pace(image: CardImage) -> None:
    result = read_card(InProcessTransport(_chip(image, pace=False)), _key(image, "MRZ"))
    assert result.access == "BAC"
    assert result.chip_auth.passed and result.active_auth.passed
    assert "EF.CardAccess" not in result.dump.files or result.dump.files["EF.CardAccess"] == image.files[
        "EF.CardAccess"]
    for name in ("EF.COM", "DG1", "DG2", "DG13", "DG14", "DG15", "EF.SOD"):
        assert result.dump.files[name] == image.files[name]


def test_can_alone_cannot_open_a_bac_only_chip(image: CardImage) -> None:
    with pytest.raises(UnsupportedAccessError, match="MRZ"):
        read_card(InProcessTransport(_chip(image, pace=False)), _key(image, "CAN"))


def _read_all(image: CardImage, **options: object) -> ReadResult:
    return read_card(InProcessTransport(_chip(image, **options)), _key(image, "CAN"))


def test_chip_without_extended_length_still_reads(image: CardImage) -> None:
    full = _read_all(image)
    short = _read_all(image, extended_length=False)
    assert dict(short.dump.files) == dict(full.dump.files)
    assert short.read_size <= 223
    assert short.read_size_fallbacks <= 1
    assert short.apdu_count > full.apdu_count


@pytest.mark.parametrize("max_le", [128, 100])
def test_chip_limiting_le_falls_back_once_and_remembers(image: CardImage, max_le: int) -> None:
    recorder = RecordingTransport(InProcessTransport(_chip(image, extended_length=False, max_le=max_le)))
    result = read_card(recorder, _key(image, "CAN"))
    assert dict(result.dump.files) == _expected_dump(image, ("DG3",))
    assert max_le - 16 < result.read_size <= max_le
    reads = [record for record in recorder.statistics.records if record.ins == 0xB0]
    largest = max(record.response_length for record in reads if record.sw == 0x9000)
    learnt = next(index for index, record in enumerate(reads) if record.response_length == largest)
    assert all(record.sw != 0x6700 for record in reads[learnt:])  # remembered once a full-size read worked
    assert result.read_size_fallbacks == sum(record.sw == 0x6700 for record in reads)


def test_chip_delivering_less_than_asked_is_followed_without_errors(image: CardImage) -> None:
    result = _read_all(image, max_le=1000, truncate_le=True)
    assert dict(result.dump.files) == _expected_dump(image, ("DG3",))
    assert result.read_size == 1000
    assert result.read_size_fallbacks == 0


@pytest.mark.parametrize("extended", [True, False])
def test_file_beyond_32k_is_read_with_odd_ins(image: CardImage, extended: bool) -> None:
    assert image.secrets is not None
    big_dg2 = encode_tlv(0x75, bytes(range(256)) * 160)  # 40964 bytes: offsets above 32767 need B1
    big = CardImage({**image.files, "DG2": big_dg2}, image.secrets)
    recorder = RecordingTransport(InProcessTransport(_chip(big, extended_length=extended)))
    result = read_card(recorder, _key(image, "CAN"), chip_auth=False, active_auth=False)
    assert result.dump.files["DG2"] == big_dg2
    odd_reads = sum(record.ins == 0xB1 for record in recorder.statistics.records)
    if extended:
        assert odd_reads == 0  # one extended READ BINARY at offset 0 takes the whole file
    else:
        assert 1 <= odd_reads <= (len(big_dg2) - 32767) // 200 + 1


def test_reader_never_asks_for_more_than_short_reads_when_told(image: CardImage) -> None:
    recorder = RecordingTransport(InProcessTransport(_chip(image)))
    result = read_card(recorder, _key(image, "CAN"), extended_length=False)
    assert result.read_size <= 223
    assert max(record.response_length for record in recorder.statistics.records) <= 258


def test_chip_refusing_short_file_identifiers_is_read_with_select(image: CardImage) -> None:
    class _NoSFIBeforeAccess:
        """Refuses the clear READ BINARY by SFI (6A86): EF.CardAccess is selected, the application's files
        are still read by SFI (what the master file refuses says nothing about the application)."""

        def __init__(self, inner: InProcessTransport) -> None:
            self.inner = inner

        def transmit(self, command: bytes) -> bytes:
            if command[:2] == b"\x00\xb0" and command[2] & 0x80:
                return b"\x6a\x86"
            return self.inner.transmit(command)

    with_sfi = RecordingTransport(InProcessTransport(_chip(image)))
    without_sfi = RecordingTransport(_NoSFIBeforeAccess(InProcessTransport(_chip(image))))
    expected = read_card(with_sfi, _key(image, "CAN"))
    result = read_card(without_sfi, _key(image, "CAN"))
    assert dict(result.dump.files) == dict(expected.dump.files)
    selects = [sum(record.ins == 0xA4 for record in recorder.statistics.records)
               for recorder in (with_sfi, without_sfi)]
    assert selects[1] == selects[0] + 1


def test_exact_length_hint_6cxx_is_followed_without_shrinking_reads(image: CardImage) -> None:
    card_access = image.files["EF.CardAccess"]

    class _ExactLengthOnly:
        """Answers a clear READ BINARY asking for more than EF.CardAccess holds with 6Cxx (ISO 7816-4 §5.6)."""

        def __init__(self, inner: InProcessTransport) -> None:
            self.inner = inner
            self.hints = 0

        def transmit(self, command: bytes) -> bytes:
            if command[:2] == b"\x00\xb0" and command[4:] != bytes([len(card_access)]):
                self.hints += 1
                return bytes([0x6C, len(card_access)])
            return self.inner.transmit(command)

    transport = _ExactLengthOnly(InProcessTransport(_chip(image)))
    result = read_card(transport, _key(image, "CAN"))
    assert transport.hints == 1
    assert result.dump.files["EF.CardAccess"] == card_access
    assert result.read_size_fallbacks == 0 and result.read_size == 0xFF00


def test_selected_files_only(image: CardImage) -> None:
    result = read_card(InProcessTransport(_chip(image)), _key(image, "CAN"), files=["DG1"],
                       chip_auth=False, active_auth=False)
    assert set(result.dump.files) == {"EF.CardAccess", "EF.COM", "DG1", "EF.SOD"}
    assert not result.chip_auth.performed and not result.active_auth.performed


def test_unknown_file_name_is_a_clear_error(image: CardImage) -> None:
    with pytest.raises(CardlibError, match="DG99"):
        read_card(InProcessTransport(_chip(image)), _key(image, "CAN"), files=["DG99"])


# -- errors a person can act on -------------------------------------------------------------------------


def test_wrong_can_is_reported_not_downgraded(image: CardImage) -> None:
    assert image.secrets is not None
    wrong = "000000" if image.secrets.can != "000000" else "111111"
    recorder = RecordingTransport(InProcessTransport(_chip(image)))
    with pytest.raises(WrongAccessKeyError, match="the CAN does not match this card") as caught:
        read_card(recorder, AccessKey.can(wrong))
    assert wrong not in str(caught.value)
    assert 0x82 not in {record.ins for record in recorder.statistics.records}  # no BAC attempt


def test_wrong_mrz_on_a_bac_chip(image: CardImage) -> None:
    with pytest.raises(WrongAccessKeyError, match="the MRZ does not match this card"):
        read_card(InProcessTransport(_chip(image, pace=False)), AccessKey.mrz(ICAO_MRZ_INFORMATION))


def test_card_removed_at_any_point_is_an_error_naming_file_and_offset(image: CardImage) -> None:
    recorder = RecordingTransport(InProcessTransport(_chip(image, extended_length=False)))
    read_card(recorder, _key(image, "CAN"))
    places: list[tuple[str | None, int | None]] = []
    for limit in range(recorder.statistics.apdus):
        transport = _RemovedAfter(InProcessTransport(_chip(image, extended_length=False)), limit)
        with pytest.raises(CardRemovedError) as caught:
            read_card(transport, _key(image, "CAN"))
        error = caught.value
        assert isinstance(error, CardError)
        if error.file is not None:
            assert error.offset is not None and 0 <= error.offset < len(image.files[error.file])
            assert f"{error.file} at offset {error.offset}" in str(error)
        places.append((error.file, error.offset))
    dg2_offsets = [offset for file, offset in places if file == "DG2"]
    assert dg2_offsets == [223 * index for index in range(len(dg2_offsets))]  # every secure read of DG2
    assert len(dg2_offsets) == -(-len(image.files["DG2"]) // 223)
    assert (None, None) in places  # removal during access control or the live checks


@pytest.mark.parametrize("noise", [b"", b"\x90", b"\x90\x00", b"\x12\x34\x56\x90\x00", b"\x87\x05\x01\x02\x90\x00"])
@pytest.mark.parametrize("limit", [0, 3, 8])
def test_chip_answering_garbage_gives_only_cardlib_errors(image: CardImage, noise: bytes, limit: int) -> None:
    with pytest.raises(CardlibError):
        read_card(_GarbageAfter(InProcessTransport(_chip(image)), limit, noise), _key(image, "CAN"))


@settings(max_examples=60, deadline=None)
@given(limit=st.integers(0, 14), noise=st.binary(max_size=40))
def test_any_noise_from_the_chip_gives_only_cardlib_errors(image: CardImage, limit: int, noise: bytes) -> None:
    try:
        read_card(_GarbageAfter(InProcessTransport(_chip(image)), limit, noise), _key(image, "CAN"))
    except CardlibError:
        return
    raise AssertionError("a read with a chip answering noise cannot succeed")


def test_bad_mac_from_the_chip_is_secure_messaging_error(image: CardImage) -> None:
    noise = bytes.fromhex("990290008E0801234567")  # ICAO 9303-11 App. D.4 negative vector, MAC replaced
    noise = noise + bytes.fromhex("89ABCDEF9000")
    with pytest.raises(SecureMessagingError):
        read_card(_GarbageAfter(InProcessTransport(_chip(image)), 8, noise), _key(image, "CAN"))


def test_chip_refusing_the_application_is_reported_with_its_status(image: CardImage) -> None:
    class _NoApplication:
        def __init__(self, inner: InProcessTransport) -> None:
            self.inner = inner

        def transmit(self, command: bytes) -> bytes:
            return b"\x6a\x82" if command[1:3] == b"\xa4\x04" else self.inner.transmit(command)

    with pytest.raises(ChipRefusedError, match="file or application not found") as caught:
        read_card(_NoApplication(InProcessTransport(_chip(image, pace=False))), _key(image, "MRZ"))
    assert caught.value.sw == 0x6A82


@pytest.mark.parametrize("empty_sod", [False, True])
def test_a_malformed_com_reads_only_the_wanted_groups_from_the_sod_or_by_probing(image: CardImage,
                                                                                  empty_sod: bool) -> None:
    options = {"malformed_com": True, "empty_files": ("EF.SOD",) if empty_sod else ()}
    result = read_card(InProcessTransport(_chip(image, **options)), _key(image, "CAN"), files=["DG1"])
    assert sorted(result.dump.files) == ["DG1", "DG14", "DG15", "EF.COM", "EF.CardAccess", "EF.SOD"]
    assert result.dump.files["DG1"] == image.files["DG1"]
    assert result.dump.files["EF.SOD"] == (b"" if empty_sod else image.files["EF.SOD"])
    assert result.chip_auth.passed and result.active_auth.passed
    source = "EF.SOD is empty: DG1-DG16 were probed" if empty_sod else "the data groups EF.SOD lists were read"
    assert any(note.startswith("EF.COM does not decode (") and note.endswith(source) for note in result.notes)


def test_empty_dg14_and_dg15_are_no_keys_not_a_crash(image: CardImage) -> None:
    result = read_card(InProcessTransport(_chip(image, empty_files=("DG14", "DG15"))), _key(image, "CAN"))
    assert result.dump.files["DG14"] == result.dump.files["DG15"] == b""
    assert result.chip_auth == ChipAuthResult(False, False, "no DG14 on the chip")
    assert (result.active_auth.performed, result.active_auth.reason) == (False, "no DG15 on the chip")
    assert {"DG14 is empty (0 bytes)", "DG15 is empty (0 bytes)"} <= set(result.notes)


def test_a_chip_without_ef_sod_is_read_and_noted(image: CardImage) -> None:
    unsigned = CardImage({name: data for name, data in image.files.items() if name != "EF.SOD"}, image.secrets)
    result = read_card(InProcessTransport(_chip(unsigned)), _key(image, "CAN"))
    assert "EF.SOD" not in result.dump.files and result.dump.files["DG1"] == image.files["DG1"]
    assert "the chip has no EF.SOD (file not found, SW 6A82): nothing signed was read" in result.notes
