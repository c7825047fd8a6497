"""Encode a card image onto a blank JMRTD passport applet, then read it back and verify it (issue 17).

The personalization commands, as measured on the real applet, are built by
:mod:`cardlib.protocols.personalization` (the virtual applet, :mod:`cardlib.chip.applet`, answers the same ones).

Two layers:

* sans-I/O: :func:`personalization_steps` builds the commands from an image (:class:`Step`: a command and
  words for it, never its secret content);
* a driver over any :class:`~cardlib.reader.transport.Transport`: :func:`identify` (ATR, UID), :func:`probe`
  (blank, holding files, locked), :func:`write_image`, :func:`read_back` (read over BAC with the MRZ key,
  files compared, verified, Active Authentication), and :func:`encode_card`, which decides from the card's
  state and the :class:`EncodeJournal` what is safe: a blank card is written; a card holding files, or a
  locked one, only when the journal says this very card (same UID) was being given this very image when it
  was pulled, and then it is finished (or only read back); any other card is refused untouched.

Nothing secret (AA private key, MRZ key) reaches an error message, the journal or a report: steps carrying
secrets are named, never shown, and the journal keeps a digest of the image's public files only.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from cardlib.batch.journal import JournalError, drop_torn_tail
from cardlib.card.image import CardImage
from cardlib.card.targets import JMRTD_APPLET, ChipTarget
from cardlib.errors import CardError, CardlibError
from cardlib.lds import files as lds_files
from cardlib.pki.trust import TrustStore
from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU
from cardlib.protocols.personalization import (
    GET_UID,
    TAG_AA_EXPONENT,
    TAG_AA_MODULUS,
    UPDATE_CHUNK,
    create_file,
    lock,
    put_key_part,
    put_mrz_seed,
    select_applet,
    select_file,
    update_binary,
)
from cardlib.protocols.status import SW_FILE_EXISTS, SW_NOT_FOUND, SW_SECURITY_STATUS, sw_meaning
from cardlib.reader.reader import AccessKey, ReadResult, read_card
from cardlib.reader.transport import CardRemovedError, ReaderGoneError, Transport, transport_atr
from cardlib.verify.live import verify_read
from cardlib.verify.report import Verdict, VerificationReport

WRITE_ORDER = (lds_files.EF_CARD_ACCESS.name, lds_files.EF_COM.name,
               *(spec.name for spec in lds_files.DATA_GROUPS.values()), lds_files.EF_SOD.name)
RESET_HINT = ("to reuse a test card, remove the applet and install it again with GlobalPlatformPro "
              "('gp --uninstall passport.cap', then 'gp --install passport.cap', the applet's .cap file; README, "
              "'Encoding physical test cards')")


class EncodeError(CardError):
    """The card refused a step of the encoding (the step and status word are named), or the card is unusable."""


class CardNotBlankError(EncodeError):
    """The card is locked or holds files of another image: nothing was written to it."""


@dataclass(frozen=True)
class Step:
    """One personalization command and what it does, in words that never show its content."""

    what: str
    command: CommandAPDU


def personalization_steps(image: CardImage, target: ChipTarget = JMRTD_APPLET) -> list[Step]:
    """Every command that writes ``image`` onto a blank applet and locks it, in order.

    TargetError (before any command exists) when the target cannot hold the image.
    """
    target.check(image)
    assert image.secrets is not None
    steps = [Step("SELECT applet", select_applet())]
    for name in (name for name in WRITE_ORDER if name in image.files):
        steps += _file_steps(name, image.files[name])
    steps.append(Step("PUT DATA BAC key seed", put_mrz_seed(image.secrets.mrz_information)))
    key = image.secrets.aa_private_key
    if isinstance(key, rsa.RSAPrivateKey):
        size = (key.key_size + 7) // 8
        numbers = key.private_numbers()
        steps.append(Step("PUT DATA AA modulus", put_key_part(TAG_AA_MODULUS, numbers.public_numbers.n, size)))
        steps.append(Step("PUT DATA AA private exponent", put_key_part(TAG_AA_EXPONENT, numbers.d, size)))
    steps.append(Step("PUT DATA lock", lock()))
    return steps


def _file_steps(name: str, content: bytes) -> list[Step]:
    fid = lds_files.by_name(name).fid
    steps = [Step(f"CREATE FILE {name}", create_file(fid, len(content))), Step(f"SELECT {name}", select_file(fid))]
    for offset in range(0, len(content), UPDATE_CHUNK):
        steps.append(Step(f"UPDATE BINARY {name} at offset {offset}",
                          update_binary(offset, content[offset : offset + UPDATE_CHUNK])))
    return steps


# -- the driver --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardIdentity:
    """Which physical card: its ATR, and its UID when the reader tells it (contactless)."""

    atr: bytes
    uid: bytes | None

    def to_dict(self) -> dict[str, str | None]:
        """Hex strings for the journal."""
        return {"atr": self.atr.hex().upper(), "uid": self.uid.hex().upper() if self.uid else None}

    def __str__(self) -> str:
        return f"UID {self.uid.hex().upper()}" if self.uid else f"ATR {self.atr.hex().upper()} (no UID)"


class CardState(Enum):
    """What a card's applet holds before encoding."""

    BLANK = "blank"
    HOLDS_FILES = "holds files"
    LOCKED = "locked"


def _exchange(transport: Transport, command: CommandAPDU) -> ResponseAPDU:
    return ResponseAPDU.parse(transport.transmit(command.encode()))


def identify(transport: Transport) -> CardIdentity:
    """The card's ATR and, when the reader answers GET DATA (``FF CA``), its UID."""
    response = _exchange(transport, GET_UID)
    return CardIdentity(transport_atr(transport), response.data if response.ok and response.data else None)


def probe(transport: Transport) -> CardState:
    """Select the applet and find out, without writing, whether it is blank, holds files or is locked.

    SELECT of EF.COM: 6A82 (no such file) on a blank applet, 9000 once files were created, 6982 once the
    applet is locked (files need BAC).  EncodeError when the card has no eMRTD applet or answers otherwise.
    """
    response = _exchange(transport, select_applet())
    if response.sw == SW_NOT_FOUND:
        raise EncodeError(f"the card has no eMRTD applet (AID {lds_files.EMRTD_AID.hex().upper()}): install JMRTD's "
                          "passport applet first (README, 'Encoding physical test cards')", sw=response.sw)
    _require(response, "SELECT applet")
    response = _exchange(transport, select_file(lds_files.EF_COM.fid))
    states = {SW_NOT_FOUND: CardState.BLANK, 0x9000: CardState.HOLDS_FILES, SW_SECURITY_STATUS: CardState.LOCKED}
    if response.sw not in states:
        raise EncodeError(f"SELECT EF.COM on the applet: unexpected answer ({sw_meaning(response.sw)})",
                          sw=response.sw)
    return states[response.sw]


def _require(response: ResponseAPDU, what: str) -> None:
    if not response.ok:
        raise EncodeError(f"{what} refused by the card ({sw_meaning(response.sw)})", sw=response.sw)


def write_image(transport: Transport, image: CardImage, target: ChipTarget = JMRTD_APPLET, *,
                resume: bool = False) -> int:
    """Send every personalization step; returns the number of APDUs.  ``resume`` takes "file exists" (6A89)
    to CREATE FILE as a file an interrupted run made (its content is written again in full)."""
    steps = personalization_steps(image, target)
    for step in steps:
        response = _exchange(transport, step.command)
        if resume and step.command.ins == 0xE0 and response.sw == SW_FILE_EXISTS:
            continue
        _require(response, step.what)
    return len(steps)


@dataclass(frozen=True)
class ReadBack:
    """The card read back over BAC with the image's MRZ key: file comparison, verification, AA."""

    read: ReadResult
    report: VerificationReport
    differing: tuple[str, ...]
    """Image files the card gave back different, or did not give (protected ones excepted)."""
    target: ChipTarget = JMRTD_APPLET

    @property
    def problems(self) -> list[str]:
        """Why the card is not good, in words; empty when it is."""
        found = []
        protocol = self.read.access.split("-")[0]
        if protocol not in self.target.access or (protocol == "BAC" and self.read.cipher != self.target.bac_cipher):
            found.append(f"the card opened with {self.read.access} ({self.read.cipher}), which {self.target.name} "
                         "does not offer")
        if self.differing:
            found.append(f"read back different from the image: {', '.join(self.differing)}")
        if self.report.verdict is not Verdict.VALID:
            found.append(f"verification: {self.report.summary()}")
        if not self.read.active_auth.passed:
            found.append(f"Active Authentication did not pass: {self.read.active_auth.reason}")
        return found

    @property
    def good(self) -> bool:
        """Files identical, VALID, Active Authentication passed."""
        return not self.problems


def read_back(transport: Transport, image: CardImage, trust: TrustStore, *, target: ChipTarget = JMRTD_APPLET,
              at: datetime | None = None) -> ReadBack:
    """Read the encoded card as any reader would (BAC with the MRZ key) and check it against ``image``."""
    assert image.secrets is not None
    result = read_card(transport, AccessKey.mrz(image.secrets.mrz_information))
    got = result.dump.files
    differing = tuple(name for name, content in image.files.items()
                      if got.get(name) != content and not (name in target.protected_files
                                                           and name in result.protected_files))
    extra = tuple(name for name in got if name not in image.files)
    return ReadBack(result, verify_read(result, trust, at=at), differing + extra, target)


def image_digest(image: CardImage) -> str:
    """SHA-256 over the image's file names and contents (public data only: no secret goes into it)."""
    digest = hashlib.sha256()
    for name, content in sorted(image.files.items()):
        digest.update(name.encode() + b"\0" + len(content).to_bytes(4, "big") + content)
    return digest.hexdigest()


# -- the journal and one card --------------------------------------------------------------------------------

Entry = dict[str, Any]


class EncodeJournal:
    """JSON Lines: one line per card attempt (image, card identity, status, stage reached, why, cost).

    ``status`` is ``encoded`` (written, locked, read back good), ``failed`` (the card was pulled, refused a
    step, or read back wrong: ``stage`` says how far it got) or ``refused`` (locked or another image's card:
    untouched).  A torn last line (a killed run) is cut when the journal is opened again.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            drop_torn_tail(self.path)
            self._entries = list(self._read())
        except (OSError, UnicodeDecodeError) as exc:
            raise JournalError(f"{self.path}: cannot open the encoding journal ({exc})") from None

    def _read(self) -> Iterator[Entry]:
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(entry, dict):
                    yield entry

    def encoded(self, digest: str) -> Entry | None:
        """The entry of the card that got image ``digest`` good, if any."""
        return next((e for e in reversed(self._entries) if e.get("image_sha256") == digest
                     and e.get("status") == "encoded"), None)

    def interrupted(self, digest: str, uid: bytes | None) -> Entry | None:
        """The latest attempt of image ``digest`` on the card with ``uid`` that may have written to it."""
        if uid is None:
            return None
        for entry in reversed(self._entries):
            if entry.get("card", {}).get("uid") == uid.hex().upper() and entry.get("image_sha256") == digest:
                return entry if entry.get("status") == "failed" and entry.get("stage") in ("write", "read-back") \
                    else None
        return None

    def append(self, entry: Entry) -> None:
        """Record one attempt now (written and flushed); JournalError when it cannot be (a full disk)."""
        try:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
                handle.flush()
        except OSError as exc:
            raise JournalError(f"{self.path}: cannot record the card of {entry.get('image')} ({exc.strerror}); "
                               "make room and run again (the card is recorded as not encoded)") from None
        self._entries.append(entry)


@dataclass
class EncodeOutcome:
    """What happened to one card: the journal entry, and the read-back when there was one."""

    entry: Entry
    read_back: ReadBack | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def good(self) -> bool:
        """True when the card was written (or finished), locked and read back good."""
        return bool(self.entry["status"] == "encoded")

    @property
    def card_spared(self) -> bool:
        """True when the card was refused untouched or pulled: the image may go onto the next card put on
        (the pulled card itself, to be finished, or a blank one); False after a read-back that failed."""
        return bool(self.entry["status"] == "refused" or self.entry.get("pulled"))


def encode_card(transport: Transport, image: CardImage, trust: TrustStore, journal: EncodeJournal, *,
                target: ChipTarget = JMRTD_APPLET, source: str = "", at: datetime | None = None) -> EncodeOutcome:
    """Encode ``image`` onto the card behind ``transport`` if that is safe, read it back, record it in ``journal``.

    The image is checked against ``target`` before any APDU (TargetError).  A pulled card (CardRemovedError)
    or a refused step is recorded as failed with the stage it reached, and the card can be given the same
    image again.  A reader gone (ReaderGoneError) is recorded too, then raised: the station cannot go on.
    """
    target.check(image)
    digest = image_digest(image)
    entry: Entry = {"time": datetime.now(UTC).isoformat(timespec="seconds"), "image": image.label,
                    "source": source, "image_sha256": digest, "target": target.name, "card": None,
                    "status": "failed", "stage": "probe", "pulled": False}
    outcome = EncodeOutcome(entry)
    apdus = _CountingTransport(transport)
    try:
        identity = identify(apdus)
        entry["card"] = identity.to_dict()
        state = probe(apdus)
        previous = journal.interrupted(digest, identity.uid)
        _refuse_unsafe(state, previous is not None, identity)
        if state is not CardState.LOCKED:
            entry["stage"] = "write"
            started = time.perf_counter()
            write_image(apdus, image, target, resume=state is CardState.HOLDS_FILES)
            outcome.seconds["write"] = time.perf_counter() - started
        entry["stage"] = "read-back"
        started = time.perf_counter()
        outcome.read_back = read_back(apdus, image, trust, target=target, at=at)
        outcome.seconds["read_back"] = time.perf_counter() - started
        problems = outcome.read_back.problems
        entry.update(status="failed" if problems else "encoded", stage="read-back" if problems else "done",
                     reason="; ".join(problems) or "files identical, VALID, Active Authentication passed")
    except CardNotBlankError as exc:
        entry.update(status="refused", reason=str(exc))
    except CardlibError as exc:
        pulled = isinstance(exc, CardRemovedError)
        entry.update(reason=("the card was pulled: " if pulled else "") + str(exc), pulled=pulled)
        if isinstance(exc, ReaderGoneError):
            raise
    finally:
        entry["apdus"] = apdus.count
        entry["seconds"] = {key: round(value, 3) for key, value in outcome.seconds.items()}
        journal.append(entry)
    return outcome


def _refuse_unsafe(state: CardState, interrupted_here: bool, identity: CardIdentity) -> None:
    """CardNotBlankError unless writing (or only reading back) this card is safe."""
    if state is CardState.BLANK or interrupted_here:
        return
    if state is CardState.LOCKED:
        raise CardNotBlankError(f"the card ({identity}) is already encoded and locked: a locked applet is never "
                                f"written again; {RESET_HINT}")
    who = "" if identity.uid else " (the reader gives no UID, so the card cannot be matched to an earlier run)"
    raise CardNotBlankError(f"the card ({identity}) holds files of another image or of an unrecorded run{who}: "
                            f"refused, nothing written; {RESET_HINT}")


class _CountingTransport:
    """Counts the APDUs sent through ``inner`` and passes its ATR on."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.count = 0

    @property
    def atr(self) -> bytes:
        """The ATR of the card behind the wrapped transport."""
        return transport_atr(self.inner)

    def transmit(self, command: bytes) -> bytes:
        """Forward and count one APDU."""
        self.count += 1
        return self.inner.transmit(command)
