"""The catalogue of field behaviours (issue 11): chips and readers that differ from cardlib's own chip.

Each :data:`CATALOGUE` row is a chip profile, a combination of :class:`ChipOptions` switches, read once in
process (fast, with the APDU count it may cost) and once through a private pcscd + vpcd (one daemon for the
module, every chip inserted in turn), and each read must give every file of the card and a VALID dump.
The rows start with the three behaviours that stopped a read of the JMRTD applet.  Below the table:
failures that must stay failures (chip errors during BAC/PACE are chip errors, never "the key does not
match"; PACE that fails is never silently replaced by BAC), the SSC kept in step both ways, a reader that
cannot carry extended length, slow chips under the counter, and the errors a person can act on.
"""

from __future__ import annotations

import io
import json
import threading
import time
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

import pytest
from cardtool.counter.session import CounterSession, PCSCCardSource, Phase, watch
from cardtool.main import main
from smartcard import scard
from vpcd_cards import DelegatingCard

from cardlib.card.image import CardImage
from cardlib.card.perso import ChipProfile
from cardlib.chip.chip import VirtualChip
from cardlib.chip.options import JMRTD_APPLET_OPTIONS, ChipOptions, PastEnd
from cardlib.chip.vpcd import vpcd_card
from cardlib.errors import CardError, CardlibError
from cardlib.lds.com import EFCOM
from cardlib.lds.oids import protocol_oid
from cardlib.lds.securityinfo import CardAccess, PACEInfo
from cardlib.limits import MAX_CHIP_MODELS
from cardlib.reader.models import ChipModels, ReadPath
from cardlib.reader.pcsc import connect
from cardlib.reader.reader import (
    AccessKey,
    ChipRefusedError,
    ReadResult,
    UnsupportedAccessError,
    WrongAccessKeyError,
    read_card,
)
from cardlib.reader.trace import APDUTrace
from cardlib.reader.transport import InProcessTransport, RecordingTransport, Transport
from cardlib.testing.cards import sample_card_image
from cardlib.testing.pcscd import PcscdInstance
from cardlib.testing.pki import sample_trust
from cardlib.verify.live import verify_read
from cardlib.verify.report import Verdict

# id-PACE-ECDH-GM-AES-CBC-CMAC-128 with brainpoolP256r1 (13, the CCCD's) and NIST P-256 (12)
PACE_AES128 = "0.4.0.127.0.7.2.2.4.2.2"


@dataclass(frozen=True)
class FieldChip:
    """One row of the catalogue: a chip as met in the field, and what a read of it must show."""

    name: str
    options: ChipOptions = field(default_factory=ChipOptions)
    key: str = "CAN"
    access: str = "PACE-CAN"
    image: str = "default"
    max_apdus: int = 40
    note: str = ""
    mapping: str = "GM"
    verdict: Verdict = Verdict.VALID
    failed: tuple[str, ...] = ()  # the checks that fail, exactly (for a chip whose files are not as issued)

    def __str__(self) -> str:
        return self.name


CATALOGUE = [
    # the three behaviours that stopped the JMRTD applet, alone and together
    FieldChip("card-access-6986", ChipOptions(card_access_sw=0x6986, pace=False), "MRZ", "BAC",
              note="EF.CardAccess could not be read (command not allowed, SW 6986)"),
    FieldChip("sfi-6985", ChipOptions(sfi_sw=0x6985), max_apdus=45),
    FieldChip("extended-runtime-6700-under-sm", ChipOptions(extended_length=False, extended_refusal="runtime"),
              max_apdus=100, note="the chip refuses extended length (wrong length, SW 6700)"),
    FieldChip("jmrtd-applet", JMRTD_APPLET_OPTIONS, "MRZ", "BAC", max_apdus=110),
    # EF.CardAccess absent or unreachable (no master file, applet-only chips), SELECT MF refused
    *(FieldChip(f"card-access-{sw:04X}", ChipOptions(card_access_sw=sw, pace=False), "MRZ", "BAC")
      for sw in (0x6A82, 0x6985, 0x6D00, 0x6E00, 0x6A86, 0x6700, 0x6F00)),
    FieldChip("select-mf-6A82", ChipOptions(select_mf_sw=0x6A82)),
    FieldChip("no-mf-no-card-access", ChipOptions(select_mf_sw=0x6A82, card_access_sw=0x6A82, pace=False),
              "MRZ", "BAC"),
    # READ BINARY by short file identifier unsupported → SELECT by file identifier
    *(FieldChip(f"sfi-{sw:04X}", ChipOptions(sfi_sw=sw), max_apdus=45)
      for sw in (0x6986, 0x6A81, 0x6A86, 0x6B00, 0x6D00, 0x6E00, 0x6F00)),
    FieldChip("sfi-6A82", ChipOptions(sfi_sw=0x6A82), max_apdus=45),  # files without SFIs (vsmartcard's ePass)
    FieldChip("select-p2-0c-refused", ChipOptions(select_p2_0c_sw=0x6A86, sfi_sw=0x6A86), max_apdus=50),
    # extended length refused (plain, under SM, with 6D00/6F00) or truncated silently
    *(FieldChip(f"extended-{where}-{sw:04X}", ChipOptions(extended_length=False, extended_refusal=where,
                                                          extended_sw=sw), max_apdus=100)
      for where in ("runtime", "applet") for sw in (0x6700, 0x6D00, 0x6F00)),
    FieldChip("extended-truncated-1000", ChipOptions(max_le=1000, truncate_le=True), max_apdus=45),
    # response size caps under SM
    *(FieldChip(f"sm-cap-{cap}", ChipOptions(max_le=cap), max_apdus=100) for cap in (223, 224, 231, 239, 255, 256)),
    *(FieldChip(f"sm-cap-{cap}-bac", ChipOptions(max_le=cap, pace=False), "MRZ", "BAC", max_apdus=100)
      for cap in (231, 239)),
    # end of file: 6282, 6B00 or 6700 past the end, 6Cxx with the exact length, fewer bytes without a warning
    *(FieldChip(f"past-end-{rule}", ChipOptions(past_end=rule), max_apdus=90 if rule == "6700" else 40)
      for rule in ("6282", "9000", "6B00", "6700", "6Cxx")),
    FieldChip("past-end-6B00-short", ChipOptions(past_end="6B00", extended_length=False), max_apdus=110),
    # T=0-style transport answers: 61xx GET RESPONSE chains and 6Cxx resends
    FieldChip("get-response-chains", ChipOptions(chaining=64, extended_length=False), max_apdus=400),
    FieldChip("exact-le-6cxx", ChipOptions(exact_le=True, extended_length=False), max_apdus=220),
    # DO99 never, DO8E only on 9000, 6282 data in a DO87 without MAC (vsmartcard's ePass emulator)
    FieldChip("sm-mac-only-9000", ChipOptions(mac_only_9000=True), max_apdus=60),
    FieldChip("sm-mac-only-9000-bac-no-sfi", ChipOptions(mac_only_9000=True, sfi_sw=0x6A82, pace=False), "MRZ",
              "BAC", max_apdus=80),
    # a slow chip
    FieldChip("slow-50ms", ChipOptions(latency=0.05)),
    # plain error status words under SM, the chip counting them 0, 1 or 2 times (DG3 answers 6982)
    *(FieldChip(f"plain-errors-ssc+{steps}", ChipOptions(plain_errors=steps), max_apdus=60)
      for steps in (0, 1, 2)),
    FieldChip("plain-errors-ssc+1-bac", ChipOptions(plain_errors=1, pace=False), "MRZ", "BAC", max_apdus=60),
    # Active Authentication: short Le only; RSA 1024/1536/2048 with SHA-1/SHA-2 trailers; ECDSA plain and DER
    FieldChip("aa-short-le", ChipOptions(aa_short_le_only=True)),
    *(FieldChip(f"aa-rsa{bits}-{digest}", ChipOptions(aa_hash=digest), image=f"rsa{bits}")
      for bits in (1024, 1536, 2048) for digest in ("sha1", "sha256")),
    FieldChip("aa-rsa2048-short-le-chained", ChipOptions(aa_short_le_only=True, chaining=128), image="rsa2048",
              max_apdus=200),
    FieldChip("aa-ecdsa-der", ChipOptions(aa_ecdsa_der=True)),
    FieldChip("aa-ecdsa-sha1", ChipOptions(aa_hash="sha1")),
    # MSE:Set AT with or without DO84, one or several PACEInfos
    FieldChip("mse-do84-required", ChipOptions(mse_do84="required")),
    FieldChip("mse-do84-refused-two-paceinfos", ChipOptions(mse_do84="refused"), image="two-paceinfos"),
    FieldChip("two-paceinfos", image="two-paceinfos"),
    FieldChip("two-paceinfos-mrz", key="MRZ", access="PACE-MRZ", image="two-paceinfos"),
    # every PACE mapping (issue 14): integrated, chip authentication (EF.CardSecurity read after PACE), DH;
    # CAM offered next to GM by a chip without the CAM key: refused at MSE:Set AT, GM with a note
    FieldChip("pace-ecdh-im", image="pace-ecdh-im", mapping="IM"),
    FieldChip("pace-ecdh-cam", image="pace-ecdh-cam", mapping="CAM", max_apdus=45),
    FieldChip("pace-ecdh-cam-mrz", key="MRZ", access="PACE-MRZ", image="pace-ecdh-cam", mapping="CAM", max_apdus=45),
    FieldChip("pace-dh-gm", image="pace-dh-gm"),
    FieldChip("pace-dh-im-3des", image="pace-dh-im-3des", mapping="IM"),
    FieldChip("pace-cam-refused-gm-offered", image="cam-refused", note="the chip refused id-PACE-ECDH-CAM"),
    # PACE offered but MSE:Set AT "not supported": BAC, with a note (never silent)
    FieldChip("pace-offered-mse-6D00", ChipOptions(internal_errors=((0x22, 0x6D00),)), "MRZ", "BAC",
              note="EF.CardAccess offers PACE but the chip refused MSE"),
    # malformed EF.COM (vsmartcard's ePass emulator): kept, and warned about (it is unsigned); the data groups
    # come from EF.SOD, or without one every DG is probed.  Empty files: an empty EF.SOD is no evidence, an empty
    # DG2 fails its hash
    FieldChip("malformed-com", ChipOptions(malformed_com=True),
              note="EF.COM does not decode (EF.COM, offset 26: tag 36 claims 68 bytes but only 4 remain): the "
                   "data groups EF.SOD lists were read"),
    FieldChip("malformed-com-empty-sod", ChipOptions(malformed_com=True, empty_files=("EF.SOD",)), max_apdus=50,
              verdict=Verdict.CANNOT_TELL, note="and EF.SOD is empty: DG1-DG16 were probed"),
    FieldChip("empty-sod", ChipOptions(empty_files=("EF.SOD",)), verdict=Verdict.CANNOT_TELL,
              note="EF.SOD is empty (0 bytes)"),
    FieldChip("empty-dg2", ChipOptions(empty_files=("DG2",)), verdict=Verdict.INVALID, failed=("hash.DG2",),
              note="DG2 is empty (0 bytes)"),
    FieldChip("epass-emulator", ChipOptions(mac_only_9000=True, sfi_sw=0x6A82, pace=False, bac_wrong_key_sw=0x6988,
                                            malformed_com=True, empty_files=("EF.SOD", "DG2")), "MRZ", "BAC",
              max_apdus=80, verdict=Verdict.CANNOT_TELL, note="DG2 is empty (0 bytes)"),
]


# The PACE protocol (and parameter ID) of the rows that are not the CCCD's ECDH generic mapping.
PACE_PROFILES = {
    "pace-ecdh-im": ("id-PACE-ECDH-IM-AES-CBC-CMAC-128", 13),
    "pace-ecdh-cam": ("id-PACE-ECDH-CAM-AES-CBC-CMAC-128", 13),
    "pace-dh-gm": ("id-PACE-DH-GM-AES-CBC-CMAC-128", 0), "pace-dh-im-3des": ("id-PACE-DH-IM-3DES-CBC-CBC", 2),
}


@cache
def card(kind: str) -> CardImage:
    """The card image a row names: the default CCCD, RSA Active Authentication keys, two PACEInfos, another
    PACE protocol, or PACE-CAM offered before GM by a chip that does not run it."""
    if kind.startswith("rsa"):
        return sample_card_image(profile=ChipProfile(aa_key_type="rsa", aa_rsa_bits=int(kind[3:])))
    if kind in PACE_PROFILES:
        name, parameter_id = PACE_PROFILES[kind]
        return sample_card_image(profile=ChipProfile(pace_protocol=protocol_oid(name), pace_parameter_id=parameter_id))
    image = sample_card_image()
    if kind == "two-paceinfos":
        infos = CardAccess.decode(image.files["EF.CardAccess"]).infos
        two = CardAccess((PACEInfo(PACE_AES128, 2, 12), *infos)).encode()  # not signed: EF.CardAccess is not in the SOD
        return replace(image, files={**image.files, "EF.CardAccess": two})
    if kind == "cam-refused":  # MSE:Set AT of CAM on P-256 answers 6A88: the chip's CA key is on brainpoolP256r1
        cam = PACEInfo(protocol_oid("id-PACE-ECDH-CAM-AES-CBC-CMAC-128"), 2, 12)
        infos = CardAccess.decode(image.files["EF.CardAccess"]).infos
        return replace(image, files={**image.files, "EF.CardAccess": CardAccess((cam, *infos)).encode()})
    return image


def key_for(image: CardImage, kind: str) -> AccessKey:
    assert image.secrets is not None
    return AccessKey.can(image.secrets.can) if kind == "CAN" else AccessKey.mrz(image.secrets.mrz_information)


def check_read(row: FieldChip, image: CardImage, result: ReadResult) -> None:
    """Every file of the card as the chip holds it (DG3 refused, EF.CardAccess when the chip gave it), both
    live checks, the row's verdict with exactly its failed checks (VALID, none, by default)."""
    expected = {name: data for name, data in image.files.items() if name != "DG3"}
    expected.update(dict.fromkeys(row.options.empty_files, b""))
    if row.options.malformed_com:  # kept as read: the tag list as hex text, as the ePass emulator writes it
        tags = image.files["EF.COM"][-len(EFCOM.decode(image.files["EF.COM"]).data_groups):]
        assert result.dump.files["EF.COM"].endswith(tags.hex().upper().encode())
        expected["EF.COM"] = result.dump.files["EF.COM"]
    if "EF.CardAccess" not in result.dump.files:
        assert row.access == "BAC"
        del expected["EF.CardAccess"]
    assert dict(result.dump.files) == expected
    assert result.access == row.access
    assert result.pace_mapping == ("" if row.access == "BAC" else row.mapping)
    assert result.pace_cam.passed is (row.mapping == "CAM"), result.pace_cam.reason
    assert result.chip_auth.passed, result.chip_auth.reason
    assert result.active_auth.passed, result.active_auth.reason
    assert row.note in " / ".join(result.notes)
    report = verify_read(result, sample_trust(), source=row.name)
    assert report.verdict is row.verdict, report.to_text()
    assert [check.id for check in report.failures()] == list(row.failed)


@pytest.mark.parametrize("row", CATALOGUE, ids=str)
def test_field_chip_reads_in_process(row: FieldChip) -> None:
    image = card(row.image)
    recorder = RecordingTransport(InProcessTransport(VirtualChip(image, row.options)))
    result = read_card(recorder, key_for(image, row.key))
    check_read(row, image, result)
    assert result.apdu_count == recorder.statistics.apdus <= row.max_apdus


# -- the same chips through pcscd + vpcd -----------------------------------------------------------------


def read_through_pcscd(pcscd: PcscdInstance, chip: VirtualChip, key: AccessKey) -> ReadResult:
    with vpcd_card(chip, port=pcscd.port), connect(pcscd.reader_name, timeout=5) as transport:
        return read_card(transport, key)


@pytest.mark.parametrize("row", CATALOGUE, ids=str)
def test_field_chip_reads_through_pcscd(pcscd: PcscdInstance, row: FieldChip) -> None:
    image = card(row.image)
    check_read(row, image, read_through_pcscd(pcscd, VirtualChip(image, row.options), key_for(image, row.key)))


# -- chip errors during access control are chip errors; PACE that failed is never replaced by BAC ----------

ACCESS_ERRORS = [
    # (chip, key, INS answered with SW, the step the error names)
    (ChipOptions(pace=False), "MRZ", 0x84, 0x6F00, "BAC step 1"),
    (ChipOptions(pace=False), "MRZ", 0x82, 0x6A80, "BAC step 2"),
    (ChipOptions(pace=False), "MRZ", 0x82, 0x6F00, "BAC step 2"),
    (ChipOptions(), "CAN", 0x22, 0x6F00, "PACE step 0"),
    (ChipOptions(), "CAN", 0x86, 0x6A80, "PACE step 1"),
    (ChipOptions(), "MRZ", 0x86, 0x6F00, "PACE step 1"),
]


@pytest.mark.parametrize("through", ["in-process", "pcscd"])
@pytest.mark.parametrize(("options", "kind", "ins", "sw", "step"), ACCESS_ERRORS,
                         ids=[f"{step}-{sw:04X}" for *_, sw, step in ACCESS_ERRORS])
def test_chip_errors_during_access_control_are_chip_errors(options: ChipOptions, kind: str, ins: int, sw: int,
                                                           step: str, through: str,
                                                           request: pytest.FixtureRequest) -> None:
    image = card("default")
    chip = VirtualChip(image, replace(options, internal_errors=((ins, sw),)))
    recorder = RecordingTransport(InProcessTransport(chip))
    with pytest.raises(ChipRefusedError) as caught:
        if through == "pcscd":
            pcscd: PcscdInstance = request.getfixturevalue("pcscd")
            with vpcd_card(chip, port=pcscd.port), connect(pcscd.reader_name, timeout=5) as transport:
                recorder = RecordingTransport(transport)
                read_card(recorder, key_for(image, kind))
        else:
            read_card(recorder, key_for(image, kind))
    error = caught.value
    assert not isinstance(error, WrongAccessKeyError)
    assert error.sw == sw
    message = str(error)
    assert message.startswith(f"{step}: the chip refused ")
    assert f"INS {ins:02X}" in message and f"SW {sw:04X}" in message and "does not match" not in message
    assert "put it back and read again" in message  # what to try next
    if step.startswith("PACE"):
        assert not any(record.ins in (0x84, 0x82) for record in recorder.statistics.records)  # no BAC after PACE


@pytest.mark.parametrize(("sw", "error"), [(0x6300, WrongAccessKeyError), (0x63C2, WrongAccessKeyError),
                                           (0x6A80, ChipRefusedError), (0x6F00, ChipRefusedError)])
def test_only_a_failed_verification_at_pace_step_4_is_a_wrong_key(sw: int, error: type[Exception]) -> None:
    class _Step4Answers:
        """The last GENERAL AUTHENTICATE (CLA 00, not chained) answered ``sw``."""

        def __init__(self, inner: Transport) -> None:
            self.inner = inner

        def transmit(self, command: bytes) -> bytes:
            answer = self.inner.transmit(command)
            return sw.to_bytes(2, "big") if command[:2] == b"\x00\x86" else answer

    image = card("default")
    with pytest.raises(error) as caught:
        read_card(_Step4Answers(InProcessTransport(VirtualChip(image))), key_for(image, "CAN"))
    message = str(caught.value)
    assert ("the CAN does not match this card" in message) == (error is WrongAccessKeyError)
    assert f"SW {sw:04X}" in message


@pytest.mark.parametrize(("options", "why"), [
    (ChipOptions(internal_errors=((0x22, 0x6D00),)), r"offers PACE but the chip refused MSE .*SW 6D00"),
    (ChipOptions(card_access_sw=0x6986), r"EF.CardAccess could not be read \(command not allowed, SW 6986\)")])
def test_a_can_on_a_chip_left_with_bac_is_unsupported_access_naming_why(options: ChipOptions, why: str) -> None:
    image = card("default")
    with pytest.raises(UnsupportedAccessError, match=f"only BAC.*{why}"):
        read_card(InProcessTransport(VirtualChip(image, options)), key_for(image, "CAN"))


@pytest.mark.parametrize("sw", [0x6300, 0x6988])  # 6988: vsmartcard's ePass emulator (BAC's cryptogram MAC)
def test_wrong_mrz_at_mutual_authenticate_is_a_wrong_key(sw: int) -> None:
    image = card("default")
    chip = VirtualChip(image, ChipOptions(pace=False, bac_wrong_key_sw=sw))
    wrong = AccessKey.from_document("B12345678", "900702", "300702")
    with pytest.raises(WrongAccessKeyError, match="MRZ does not match") as caught:
        read_card(InProcessTransport(chip), wrong)
    assert caught.value.sw == sw


# -- the send sequence counter after plain answers, both ways ----------------------------------------------


@pytest.mark.parametrize("kind", ["CAN", "MRZ"])
@pytest.mark.parametrize("steps", [0, 1, 2])
@pytest.mark.parametrize("past_end", ["6282", "6B00"])
def test_plain_answers_keep_the_ssc_in_step_or_the_session_is_opened_again(steps: int, kind: str,
                                                                           past_end: PastEnd) -> None:
    """A chip counting a plain answer 0 times reads straight on; one counting it 1 or 2 times breaks the
    session at the next command, and the reader opens it again (noted), counting one step more each time.
    Only DG3's 6982 is plain with ``past_end`` 6282; with 6B00 every file's first read is plain too."""
    image = card("default")
    chip = VirtualChip(image, ChipOptions(plain_errors=steps, pace=kind == "CAN", past_end=past_end))
    recorder = RecordingTransport(InProcessTransport(chip))
    result = read_card(recorder, key_for(image, kind))
    check_read(FieldChip("plain", access="BAC" if kind == "MRZ" else "PACE-CAN"), image, result)
    reopened = [note for note in result.notes if "opened again" in note]
    assert len(reopened) == (steps if past_end == "6B00" else min(steps, 1))
    authentications = sum(record.ins in (0x82, 0x22) and record.sw == 0x9000 for record in recorder.statistics.records)
    assert authentications == 2 + len(reopened)  # BAC or PACE, each opening again, and Chip Authentication


def test_runtime_6700_under_sm_does_not_advance_the_ssc() -> None:
    """The JMRTD case: the extended READ BINARY answered plain 6700 by the runtime, the shorter retry verifies."""
    image = card("default")
    recorder = RecordingTransport(InProcessTransport(VirtualChip(image, JMRTD_APPLET_OPTIONS)))
    result = read_card(recorder, key_for(image, "MRZ"))
    plain_6700 = [index for index, record in enumerate(recorder.statistics.records)
                  if record.sw == 0x6700 and record.response_length == 2]
    assert plain_6700, "the runtime answered an extended READ BINARY inside the session"
    after = recorder.statistics.records[plain_6700[0] + 1]
    assert after.ins == 0xB0 and after.response_length > 2  # the next command was protected and verified
    assert not any("opened again" in note for note in result.notes)


# -- a reader that cannot carry extended-length APDUs -------------------------------------------------------


class _ShortAPDUReader:
    """A reader (driver) that fails every extended-length APDU as SCardTransmit does, the card still there."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.failures = 0

    def transmit(self, command: bytes) -> bytes:
        if len(command) >= 7 and command[4] == 0:
            self.failures += 1
            raise CardError("PC/SC failure on 'reader': Transaction failed. (0x80100016)")
        return self.inner.transmit(command)


def test_reader_without_extended_length_in_process() -> None:
    image = card("default")
    reader = _ShortAPDUReader(InProcessTransport(VirtualChip(image)))
    result = read_card(reader, key_for(image, "CAN"))
    check_read(FieldChip("reader-short-apdus", note="the reader cannot carry extended-length APDUs"), image, result)
    assert reader.failures == 1


def test_reader_without_extended_length_through_pcscd(pcscd: PcscdInstance, monkeypatch: pytest.MonkeyPatch) -> None:
    """SCardTransmit fails every extended APDU as a short-APDU reader's driver does ("transaction failed"),
    the card still present: PCSCTransport tells that from a removal and the read goes on with short APDUs."""
    failures = []
    transmit = scard.SCardTransmit

    def short_apdu_reader(card: object, protocol: object, command: list[int]) -> tuple[int, list[int]]:
        if len(command) >= 7 and command[4] == 0:
            failures.append(len(command))
            return scard.SCARD_E_NOT_TRANSACTED, []
        return transmit(card, protocol, command)  # type: ignore[no-any-return]

    monkeypatch.setattr(scard, "SCardTransmit", short_apdu_reader)
    image = card("default")
    result = read_through_pcscd(pcscd, VirtualChip(image), key_for(image, "CAN"))
    check_read(FieldChip("reader-short-apdus", note="the reader cannot carry extended-length APDUs"), image, result)
    assert len(failures) == 1


# -- slow chips: the reader and the counter wait for them --------------------------------------------------


@pytest.mark.slow  # over 5 s here
def test_slow_chip_300ms_per_apdu_through_pcscd(pcscd: PcscdInstance) -> None:
    image = card("default")
    start = time.monotonic()
    result = read_through_pcscd(pcscd, VirtualChip(image, ChipOptions(latency=0.3)), key_for(image, "CAN"))
    assert time.monotonic() - start >= 0.3 * result.apdu_count >= 5.0  # a whole read of several seconds
    check_read(FieldChip("slow-300ms"), image, result)


def test_counter_does_not_call_a_slow_card_removed(pcscd: PcscdInstance) -> None:
    image = card("default")
    assert image.secrets is not None
    source = PCSCCardSource(pcscd.reader_name)
    session = CounterSession(source, sample_trust())
    stop = threading.Event()
    with vpcd_card(VirtualChip(image, ChipOptions(latency=0.2)), port=pcscd.port):
        watcher = threading.Thread(target=watch, args=(session, source, stop), kwargs={"interval": 0.05},
                                   daemon=True)
        watcher.start()
        try:
            deadline = time.monotonic() + 10
            while session.snapshot()["phase"] != Phase.CARD.value and time.monotonic() < deadline:
                time.sleep(0.05)
            session.submit(can=image.secrets.can)
            deadline = time.monotonic() + 60
            while session.snapshot()["phase"] == Phase.READING.value and time.monotonic() < deadline:
                time.sleep(0.1)
            snapshot = session.snapshot()
        finally:
            stop.set()
            watcher.join(timeout=5)
    assert snapshot["notice"] is None, snapshot["detail"]
    assert snapshot["phase"] == Phase.DONE.value
    assert snapshot["result"] is not None


# -- errors a person can act on: step, command, status word, what to try --------------------------------------


class _AnswersWith:
    """Answers the ``nth`` command with INS ``ins`` (counting from 1) with ``sw`` alone, in plain."""

    def __init__(self, inner: Transport, ins: int, nth: int, sw: int) -> None:
        self.inner, self.ins, self.nth, self.sw = inner, ins, nth, sw
        self.seen = 0

    def transmit(self, command: bytes) -> bytes:
        if command[1] == self.ins:
            self.seen += 1
            if self.seen == self.nth:
                return self.sw.to_bytes(2, "big")
        return self.inner.transmit(command)


ERRORS = [
    # (INS, nth, SW, what the message must say, in order)
    (0xA4, 2, 0x6A82, ("SELECT of the eMRTD application", "SELECT (INS A4, P1P2 040C)", "SW 6A82",
                       "no ICAO eMRTD application")),
    (0xB0, 2, 0x6A80, ("READ BINARY of EF.COM at offset 0", "READ BINARY (INS B0, P1P2 9E00)", "SW 6A80",
                       "--no-extended-length")),
    (0xB0, 3, 0x6988, ("at DG1 offset 0", "READ BINARY (INS B0, P1P2 8100)", "SW 6988",
                       "put the card back on the reader")),
    (0x86, 2, 0x6A80, ("PACE step 2", "GENERAL AUTHENTICATE (INS 86, P1P2 0000)", "SW 6A80", "put it back")),
]


@pytest.mark.parametrize(("ins", "nth", "sw", "says"), ERRORS, ids=[says[0] for *_, says in ERRORS])
def test_reader_errors_name_step_command_status_and_what_to_try(ins: int, nth: int, sw: int,
                                                                says: tuple[str, ...]) -> None:
    image = card("default")
    transport = _AnswersWith(InProcessTransport(VirtualChip(image)), ins, nth, sw)
    with pytest.raises(CardlibError) as caught:
        read_card(transport, key_for(image, "CAN"))
    message = str(caught.value)
    positions = [message.find(part) for part in says]
    assert -1 not in positions and positions == sorted(positions), message
    assert image.secrets is not None and image.secrets.can not in message


# -- remembered per chip model ---------------------------------------------------------------------------------

REMEMBERED = [
    FieldChip("jmrtd-applet", JMRTD_APPLET_OPTIONS, "MRZ", "BAC"),
    FieldChip("sm-cap-128-p2-04", ChipOptions(max_le=128, select_p2_0c_sw=0x6A86, sfi_sw=0x6A81)),
    FieldChip("plain-errors-ssc+2", ChipOptions(plain_errors=2, past_end="6B00")),
]


@pytest.mark.parametrize("row", REMEMBERED, ids=str)
def test_the_next_card_of_a_known_model_takes_the_working_path_first(row: FieldChip, tmp_path: Path) -> None:
    image = card(row.image)
    models = ChipModels(tmp_path / "chip-models.json")
    reads = []
    for _ in range(2):
        recorder = RecordingTransport(InProcessTransport(VirtualChip(image, row.options)))
        result = read_card(recorder, key_for(image, row.key), models=models)
        check_read(row, image, result)
        reads.append((result, [record.sw for record in recorder.statistics.records]))
    (first, first_sws), (second, second_sws) = reads
    assert first.chip_model == second.chip_model and models.recall(first.chip_model) is not None
    assert second.apdu_count < first.apdu_count
    refusals = {0x6700, 0x6985, 0x6986, 0x6A81, 0x6A86, 0x6988}
    assert sum(sw in refusals for sw in second_sws) < sum(sw in refusals for sw in first_sws)
    assert not any("opened again" in note for note in second.notes)
    assert any("is known" in note for note in second.notes)
    other = read_card(InProcessTransport(VirtualChip(card("default"))), key_for(image, "CAN"), models=models)
    assert other.chip_model != first.chip_model and other.apdu_count <= 25  # another model keeps its own path


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"version": 1, "models": {"x": {"read_size": 1}}}',
                                     b'{"version": 1, "models": []}', b"[" * 100_000])
def test_a_damaged_model_memory_is_ignored_and_replaced(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "chip-models.json"
    path.write_bytes(content)
    image = card("default")
    result = read_card(InProcessTransport(VirtualChip(image)), key_for(image, "CAN"), models=ChipModels(path))
    assert ChipModels(path).recall(result.chip_model) is not None
    assert ChipModels(path).recall("x") is None


def test_model_memory_keeps_the_most_recent_models(tmp_path: Path) -> None:
    models = ChipModels(tmp_path / "chip-models.json")
    path = ReadPath(False, 223, True, 0x0C, 0)
    for number in range(MAX_CHIP_MODELS + 3):
        models.remember(f"model-{number}", path)
    assert models.recall("model-0") is None and models.recall("model-2") is None
    assert models.recall("model-3") == path and models.recall(f"model-{MAX_CHIP_MODELS + 2}") == path


class _Watched(DelegatingCard):
    """Records the longest answer and whether an extended-length command came."""

    longest = 0
    extended = False

    def process(self, raw: bytes) -> bytes:
        answer = self.chip.process(raw)
        self.longest = max(self.longest, len(answer))
        self.extended = self.extended or (len(raw) >= 7 and raw[4] == 0)
        return answer


def test_cardtool_read_options_through_pcscd(pcscd: PcscdInstance, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    image = card("default")
    assert image.secrets is not None
    options = ["--reader", pcscd.reader_name, "--mrz", image.secrets.mrz_information, "--max-read", "128",
               "--no-extended-length", "--chip-models", str(tmp_path / "chip-models.json")]
    for number in range(2):
        watched = _Watched(VirtualChip(image, JMRTD_APPLET_OPTIONS))
        with vpcd_card(watched, port=pcscd.port):
            assert main(["read", *options, "--out", str(tmp_path / f"dump{number}")]) == 0
        assert not watched.extended and 0 < watched.longest <= 128 + 40  # 128 bytes and the SM wrapping
    out = capsys.readouterr().out
    assert "note: EF.CardAccess could not be read (command not allowed, SW 6986)" in out
    assert "is known: its read path was taken first" in out
    assert image.secrets.mrz_information not in out
    dump = CardImage.load(tmp_path / "dump1")
    assert dict(dump.files) == {name: data for name, data in image.files.items()
                                if name not in ("DG3", "EF.CardAccess")}


# -- the plain-APDU trace: every exchange, never a secret ---------------------------------------------------


@pytest.mark.parametrize(("kind", "options"), [("CAN", ChipOptions()), ("MRZ", JMRTD_APPLET_OPTIONS)])
@pytest.mark.parametrize("personal", [False, True])
def test_trace_shows_every_plain_exchange_and_no_secret(kind: str, options: ChipOptions, personal: bool) -> None:
    image = card("default")
    assert image.secrets is not None
    stream = io.StringIO()
    recorder = RecordingTransport(InProcessTransport(VirtualChip(image, options)))
    result = read_card(recorder, key_for(image, kind), trace=APDUTrace(stream, personal_data=personal))
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert 0 < len(lines) <= result.apdu_count == recorder.statistics.apdus
    assert {line["ins"] for line in lines} >= {"A4", "B0", "88"}
    text = stream.getvalue()
    assert all(line["ins"] in ("A4", "B0", "B1") for line in lines if "data" in line)  # file ids and contents only
    headers = "".join(json.dumps({key: value for key, value in line.items() if key != "data"}) for line in lines)
    assert image.secrets.can not in headers and image.secrets.mrz_information not in headers
    authentication = [line for line in lines if line["ins"] in ("84", "82", "22", "86", "88")]
    assert authentication and all("data" not in line for line in authentication)
    read = {line["step"]: "" for line in lines if line["ins"] == "B0"}
    for line in lines:
        if line["ins"] == "B0" and "data" in line:
            read[line["step"]] += line["data"]
    assert read["EF.SOD"] == image.files["EF.SOD"].hex().upper()
    for name in ("DG1", "DG2", "DG13"):
        assert (read[name] == image.files[name].hex().upper()) is personal
        assert (image.files[name][4:40].hex().upper() in text) is personal


def test_cardtool_read_trace_of_a_failed_read_is_kept(pcscd: PcscdInstance, tmp_path: Path) -> None:
    image = card("default")
    assert image.secrets is not None
    chip = VirtualChip(image, ChipOptions(internal_errors=((0x86, 0x6F00),)))
    with vpcd_card(chip, port=pcscd.port):
        status = main(["read", "--reader", pcscd.reader_name, "--can", image.secrets.can, "--out",
                       str(tmp_path / "dump"), "--trace", str(tmp_path / "trace.jsonl")])
    assert status != 0 and not (tmp_path / "dump").exists()
    last = json.loads((tmp_path / "trace.jsonl").read_text().splitlines()[-1])
    assert (last["step"], last["ins"], last["sw"]) == ("access control", "86", "6F00")
