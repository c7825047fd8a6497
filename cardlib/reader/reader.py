"""Reading a CCCD chip: access control, secure file reads, Chip and Active Authentication.

:func:`read_card` runs the inspection procedure of ICAO 9303-11 over any :class:`Transport`:

1. EF.CardAccess is read in the clear from the master file.  When it lists a PACEInfo the chip is opened
   with PACE (CAN or MRZ); otherwise with BAC (MRZ only).  A failed PACE is reported, never retried as BAC.
   Among the PACEInfos the reader prefers the chip authentication mapping, then the integrated, then the
   generic (ECDH before DH, AES-128 first); a mapping the chip refuses at MSE:Set AT as not supported is
   noted and the next is tried, any other failure stops the read.  :attr:`ReadResult.pace_protocol` names the
   protocol used.  After PACE-CAM, EF.CardSecurity is read from the master file and the chip's authentication
   data is checked against the static key it holds (:attr:`ReadResult.pace_cam`, a live check like CA/AA).
2. The eMRTD application is selected and EF.COM, the data groups it lists and EF.SOD are read under
   secure messaging with an adaptive read size (:class:`FileReader`), so a ~25 KB card takes a handful of
   APDUs when the chip takes extended length, and still reads when it does not.
3. Chip Authentication (DG14) switches the session keys; Active Authentication (DG15) signs a fresh
   challenge.  Both are *live checks*: their outcome is a result object, not an exception.
4. With EAC terminal credentials (``eac``, :class:`EACCredentials`) and a chip that refused DG3 or DG4,
   Terminal Authentication follows a passed Chip Authentication (BSI TR-03110 v1, :mod:`cardlib.protocols.ta`):
   the chip's EF.CVCA is read to see whether it trusts the chain's CVCA, the chain is presented and the
   chip's challenge signed; then the refused data groups are read again.  Its outcome is
   :attr:`ReadResult.terminal_auth`; a missing or refused TA never stops the read of the other files.

A chip is hostile input: every read runs under a :class:`ReadBudget` (a deadline and an APDU count for the
whole read, checked before each command; a byte cap per file, checked on its TLV header before its body is
read, and per card), so a chip that declares a huge file or dribbles a few bytes per answer is stopped with
:class:`~cardlib.limits.LimitExceeded` in bounded time.

Everything that stops a read raises a typed :class:`~cardlib.errors.CardlibError` a person can act on:
it names the step (EF.CardAccess, BAC, PACE step n, SELECT, READ BINARY of a file at an offset, CA, AA),
the command (INS, P1-P2), the status word in hex, and what to try next.  A half-read card is never
returned as a result.

Chips in the field differ (the catalogue of ``tests/test_field_chips.py``); the reader adapts without
being told: an EF.CardAccess that cannot be read means BAC (noted in :attr:`ReadResult.notes`; when PACE
was offered and failed for any reason but "not supported" the read stops rather than downgrade); READ
BINARY by short file identifier refused (the SFI refusals of :mod:`cardlib.reader.files`) means SELECT by
file identifier; SELECT with P2=0C refused means P2=04; extended length refused (6700, 6D00, 6F00, or the
reader's own SCardTransmit failure) means short reads; 61xx and a plain 6Cxx are followed in :class:`Channel`
(GET RESPONSE, resend with the exact Le), each counted and under the budget.  A malformed EF.COM is kept
as read and the data groups come from EF.SOD (or, without a usable one, DG1-DG16 are probed); a file that
gives nothing at offset 0, even for one byte, is an empty file; a chip without EF.SOD is read to the end.
Each of these is noted: the verifier, not the reader, judges such a card.

Keeping the send sequence counter in step on plain answers inside a session: :mod:`cardlib.reader.channel`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial

from cardlib.card.image import CardImage
from cardlib.errors import CardlibError, ValidationError
from cardlib.lds.files import EF_CARD_ACCESS, EF_CARD_SECURITY, by_name
from cardlib.lds.oids import PROTOCOL_OIDS, PROTOCOLS
from cardlib.reader.access import AccessKey, AccessMethod, open_session
from cardlib.reader.channel import Channel, ReadBudget
from cardlib.reader.contents import read_files
from cardlib.reader.errors import ChipRefusedError, SecureMessagingError, UnsupportedAccessError, WrongAccessKeyError
from cardlib.reader.files import EXTENDED_READ_SIZE, MIN_READ_SIZE, FileReader
from cardlib.reader.live import (
    NO_EAC,
    NO_PACE_CAM,
    ActiveAuthResult,
    ChipAuthResult,
    EACCredentials,
    TerminalAuthResult,
    active_authentication,
    check_pace_cam,
    chip_authentication,
    ta_id_picc,
    terminal_authentication,
)
from cardlib.reader.models import ChipModels, model_id
from cardlib.reader.progress import ProgressCallback, ProgressReporter, ReadEvent, ReadPhase, ReadStage
from cardlib.reader.trace import APDUTrace
from cardlib.reader.transport import RecordingTransport, Transport, transport_atr

# The read's API: read_card, what it takes, returns and raises (defined in the modules of its steps).
__all__ = [
    "NO_EAC",
    "AccessKey",
    "ActiveAuthResult",
    "ChipAuthResult",
    "ChipRefusedError",
    "EACCredentials",
    "PhaseTimings",
    "ReadBudget",
    "ReadResult",
    "SecureMessagingError",
    "TerminalAuthResult",
    "UnsupportedAccessError",
    "WrongAccessKeyError",
    "read_card",
]

_CHALLENGE_LENGTH = 8  # bytes of the Active Authentication challenge (ICAO 9303-11 §6.1)


@dataclass(frozen=True)
class PhaseTimings:
    """Seconds spent in each phase of the read."""

    access: float = 0.0
    read: float = 0.0
    chip_auth: float = 0.0
    active_auth: float = 0.0
    terminal_auth: float = 0.0

    @property
    def total(self) -> float:
        """All phases together."""
        return self.access + self.read + self.chip_auth + self.active_auth + self.terminal_auth


@dataclass(frozen=True)
class ReadResult:
    """A complete read of a chip: the dump, how it was opened, the live checks and the cost of the read."""

    dump: CardImage
    access: AccessMethod
    cipher: str
    chip_auth: ChipAuthResult
    active_auth: ActiveAuthResult
    protected_files: tuple[str, ...]
    timings: PhaseTimings
    apdu_count: int
    bytes_read: int
    read_size: int
    read_size_fallbacks: int
    notes: tuple[str, ...] = ()
    chip_model: str = ""
    pace_protocol: str = ""
    pace_cam: ChipAuthResult = NO_PACE_CAM
    terminal_auth: TerminalAuthResult = NO_EAC

    @property
    def pace_mapping(self) -> str:
        """The PACE mapping used, ``"GM"``, ``"IM"`` or ``"CAM"``; empty after BAC."""
        protocol = PROTOCOLS.get(self.pace_protocol_oid)
        return (protocol.mapping or "") if protocol is not None else ""

    @property
    def pace_protocol_oid(self) -> str:
        """The OID of :attr:`pace_protocol` (the TR-03110 name), empty after BAC."""
        return PROTOCOL_OIDS.get(self.pace_protocol, "")

    @property
    def bytes_per_apdu(self) -> float:
        """File bytes obtained per APDU exchanged (the whole session, access and checks included)."""
        return self.bytes_read / self.apdu_count if self.apdu_count else 0.0


@contextmanager
def _timed(timings: dict[str, float], phase: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[phase] = timings.get(phase, 0.0) + time.perf_counter() - start


class _Model:
    """The chip model of this read (ATR + EF.CardAccess) and the memory of read paths, when one is kept."""

    def __init__(self, models: ChipModels | None, atr: bytes) -> None:
        self.models = models
        self.atr = atr
        self.id = ""

    def recognise(self, card_access: bytes | None, refusal: int | None, reader: FileReader) -> None:
        self.id = model_id(self.atr, card_access, refusal)
        known = self.models.recall(self.id) if self.models is not None else None
        if known is not None:
            reader.adopt(known)
            reader.channel.notes.append(f"chip model {self.id[:8]} is known: its read path was taken first")

    def learnt(self, reader: FileReader) -> None:
        if self.models is not None and self.id:
            self.models.remember(self.id, reader.path())


def read_card(
    transport: Transport,
    key: AccessKey,
    *,
    files: Sequence[str] | None = None,
    active_auth: bool = True,
    chip_auth: bool = True,
    extended_length: bool = True,
    max_read: int | None = None,
    budget: ReadBudget | None = None,
    models: ChipModels | None = None,
    trace: APDUTrace | None = None,
    on_progress: ProgressCallback | None = None,
    aa_challenge: bytes | None = None,
    eac: EACCredentials | None = None,
) -> ReadResult:
    """Open the chip with ``key``, read its files under secure messaging, and run Chip/Active Authentication.

    ``files`` limits the data groups read (names such as ``"DG1"``); EF.COM and EF.SOD are always read, and
    DG14/DG15 whenever the check that needs them is requested.  ``extended_length`` False never asks for
    more than a short response; ``max_read`` caps the bytes asked per READ BINARY.  ``budget`` bounds the
    whole read (default: the :mod:`cardlib.limits` budgets).  What the reader had to work around is in
    :attr:`ReadResult.notes`.  ``models`` remembers per chip model what worked (:mod:`cardlib.reader.models`)
    and starts each read from it.  ``trace`` is told every plain exchange (:mod:`cardlib.reader.trace`:
    never a secret).  ``on_progress`` is called with a :class:`~cardlib.reader.progress.ReadEvent` at each
    step (a callback that raises is logged and dropped, the read goes on: :mod:`cardlib.reader.progress`).
    ``aa_challenge`` is the 8-byte challenge Active Authentication signs (default: random), e.g. a verifier's
    nonce so that the signature proves this read happened after the verifier asked (:mod:`cardlib.evidence`).
    ``eac`` are the terminal's Terminal Authentication credentials: with them the DG3/DG4 the chip refused are
    read after TA (:attr:`ReadResult.terminal_auth` says how it went; a refusal never stops the read).
    Raises WrongAccessKeyError, ChipRefusedError, SecureMessagingError, CardRemovedError,
    LimitExceeded and the other CardlibErrors; never returns a partial dump.
    """
    if not callable(getattr(transport, "transmit", None)):
        raise TypeError(f"read_card(): transport must have transmit(bytes) -> bytes (e.g. connect(...)), "
                        f"got {type(transport).__name__}")
    if not isinstance(key, AccessKey):
        raise TypeError(f"read_card(): key must be an AccessKey (AccessKey.can(...)), got {type(key).__name__}")
    if aa_challenge is not None and (not isinstance(aa_challenge, bytes) or len(aa_challenge) != _CHALLENGE_LENGTH):
        raise ValidationError(f"the Active Authentication challenge is {_CHALLENGE_LENGTH} bytes (ICAO 9303-11 "
                              "§6.1)", field="aa_challenge")
    wanted = _wanted_files(files, chip_auth=chip_auth, active_auth=active_auth)
    recorder = RecordingTransport(transport, keep_records=False)
    channel = Channel(recorder, budget or ReadBudget())
    channel.trace = trace
    channel.progress = progress = ProgressReporter(on_progress)
    if max_read is not None and not MIN_READ_SIZE <= max_read <= EXTENDED_READ_SIZE:
        raise ValidationError(f"between {MIN_READ_SIZE} and {EXTENDED_READ_SIZE} bytes per READ BINARY",
                              field="max_read")
    reader = FileReader(channel, extended=extended_length, max_read=max_read)
    timings: dict[str, float] = {}
    model = _Model(models, transport_atr(transport))
    progress(ReadEvent(ReadPhase.ACCESS_CONTROL, ReadStage.STARTED))
    with _timed(timings, "access"):
        access, card_access = open_session(channel, reader, key, partial(model.recognise, reader=reader))
    progress(ReadEvent(ReadPhase.ACCESS_CONTROL, ReadStage.DONE, protocol=access))
    channel.phase = "files"
    pace_terminal = channel.pace_terminal if access != "BAC" else None
    with _timed(timings, "access"):
        pace_cam, card_security = check_pace_cam(channel, reader, pace_terminal)
    with _timed(timings, "read"):
        contents, protected = read_files(reader, wanted)
    if card_access is not None:
        contents[EF_CARD_ACCESS.name] = card_access
    if card_security is not None:
        contents[EF_CARD_SECURITY.name] = card_security
    cipher = channel.sm.cipher if channel.sm is not None else ""
    ca_result = ChipAuthResult(False, False, "not requested")
    if chip_auth:
        channel.phase = "Chip Authentication"
        progress(ReadEvent(ReadPhase.CHIP_AUTHENTICATION, ReadStage.STARTED))
        with _timed(timings, "chip_auth"):
            ca_result = chip_authentication(channel, reader, contents.get("DG14") or None)
        progress(ReadEvent(ReadPhase.CHIP_AUTHENTICATION, ReadStage.DONE, passed=ca_result.passed))
    channel.phase = "Terminal Authentication"
    with _timed(timings, "terminal_auth"):
        ta_result = terminal_authentication(channel, reader, eac, ta_id_picc(pace_terminal, key), ca_result,
                                            contents, protected)
    aa_result = ActiveAuthResult(False, False, "not requested")
    if active_auth and channel.sm is not None:
        channel.phase = "Active Authentication"
        progress(ReadEvent(ReadPhase.ACTIVE_AUTHENTICATION, ReadStage.STARTED))
        with _timed(timings, "active_auth"):
            aa_result = active_authentication(channel, reader, contents.get("DG15") or None,
                                              aa_challenge or os.urandom(_CHALLENGE_LENGTH))
        progress(ReadEvent(ReadPhase.ACTIVE_AUTHENTICATION, ReadStage.DONE, passed=aa_result.passed))
    elif active_auth:
        aa_result = ActiveAuthResult(False, False, "skipped: secure messaging was lost when Chip Authentication failed")
    if ca_result.passed and channel.ca_terminal is not None and channel.after_switch is not None:
        ca_result = replace(ca_result, transcript=channel.ca_terminal.transcript(channel.after_switch))
    if progress.failure:
        channel.notes.append(progress.failure)
    model.learnt(reader)
    return ReadResult(
        dump=CardImage(contents),
        access=access,
        cipher=cipher,
        chip_auth=ca_result,
        active_auth=aa_result,
        protected_files=tuple(protected),
        timings=PhaseTimings(**timings),
        apdu_count=recorder.statistics.apdus,
        bytes_read=sum(len(data) for data in contents.values()),
        read_size=reader.size,
        read_size_fallbacks=reader.fallbacks,
        notes=tuple(channel.notes),
        chip_model=model.id,
        pace_protocol=pace_terminal.params.algorithm.name if pace_terminal is not None else "",
        pace_cam=pace_cam,
        terminal_auth=ta_result,
    )


def _wanted_files(files: Sequence[str] | None, *, chip_auth: bool, active_auth: bool) -> list[str] | None:
    if files is None:
        return None
    for name in files:
        try:
            by_name(name)
        except KeyError:
            raise CardlibError(f"no LDS file is called {name!r} (use names like 'DG1', 'DG13')") from None
    return [*files, *(["DG14"] if chip_auth else []), *(["DG15"] if active_auth else [])]
