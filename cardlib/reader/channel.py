"""The APDU channel of one read: secure messaging, GET RESPONSE and 6Cxx resends, the SSC rule, the budget.

:class:`Channel` carries every APDU of a read, counted against the :class:`ReadBudget`; the file reading
(:mod:`cardlib.reader.files`), access control and live checks all send through it.

Keeping the send sequence counter in step (ICAO 9303-11 §9.8): a response that is only a status word
inside a session carries no MAC, and peers differ on whether they counted it.  cardlib's rule: a plain
answer means the chip did not count the exchange at all (its runtime refused the command before secure
messaging saw it, as a Java Card runtime does for an extended APDU the applet does not take), so the
terminal goes back to the SSC it had before the command.  A chip that did count (it unwrapped the command,
and maybe its unsent response, then answered an error in plain) is found out at the next protected
exchange, which it rejects; the reader then opens the session again (BAC/PACE) and from then on counts
one step more for each plain answer of that chip (at most twice), and says so in the notes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from cardlib.errors import CardError, ProtocolError
from cardlib.limits import MAX_CARD_BYTES, MAX_FILE_BYTES, MAX_READ_APDUS, READ_DEADLINE_SECONDS, LimitExceeded
from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU
from cardlib.protocols.ca import CATerminal, ProtectedResponse
from cardlib.protocols.instructions import Ins
from cardlib.protocols.pace import PACETerminal
from cardlib.protocols.sm import SecureMessaging, carries_mac
from cardlib.protocols.status import SW_SM_MISSING, SW_SM_WRONG, sw_meaning
from cardlib.reader.errors import (
    HINT_CHIP_ERROR,
    HINT_SM,
    SecureMessagingError,
    describe_command,
    refused,
)
from cardlib.reader.progress import ProgressReporter
from cardlib.reader.trace import APDUTrace
from cardlib.reader.transport import CardRemovedError, ReaderGoneError, RecordingTransport

_MAX_PLAIN_SSC_STEPS = 2  # a chip counts a plain answer 0, 1 (the command) or 2 (and its response) times


@dataclass(frozen=True)
class ReadBudget:
    """What one read may cost before it stops with LimitExceeded; each default is the :mod:`cardlib.limits` budget.

    An integrator can give a shorter deadline (a counter) or a longer one (a slow reader); tests give small
    budgets to stop a hostile chip quickly.
    """

    deadline_seconds: float = READ_DEADLINE_SECONDS
    max_apdus: int = MAX_READ_APDUS
    max_file_bytes: int = MAX_FILE_BYTES
    max_card_bytes: int = MAX_CARD_BYTES


class ExtendedUnsupportedError(Exception):
    """Internal signal: the reader (PC/SC driver) failed to carry an extended-length APDU."""


class Channel:
    """APDU exchange with or without secure messaging, under the read's deadline and APDU budget.

    Every APDU of the read goes through :meth:`exchange` (GET RESPONSE and resends included), so each is
    counted.  Turns card removal into an error naming the file; the budget is spent from the moment it is
    made.  Keeps the SSC in step on plain answers (module docstring) and re-opens the session with
    ``reopen`` when a chip counted them differently.
    """

    def __init__(self, transport: RecordingTransport, budget: ReadBudget) -> None:
        self.transport = transport
        self.budget = budget
        self.deadline = time.monotonic() + budget.deadline_seconds
        self.sm: SecureMessaging | None = None
        self.file: str | None = None
        self.offset: int | None = None
        self.select_p2 = 0x0C
        self.plain_ssc_steps = 0
        self.after_plain = False
        self.reopen: Callable[[], SecureMessaging] | None = None
        self.notes: list[str] = []
        self.trace: APDUTrace | None = None
        self.phase = "access control"
        self.progress = ProgressReporter(None)
        self.ca_terminal: CATerminal | None = None
        self.pace_terminal: PACETerminal | None = None  # of the PACE that opened the session, once it succeeded
        self.after_switch: list[ProtectedResponse] | None = None  # responses under the CA session, kept

    def exchange(self, command: CommandAPDU) -> ResponseAPDU:
        """Send ``command`` (protected when a session is open) and return the plain response (traced)."""
        start, protected = time.perf_counter(), self.sm is not None
        response = self._exchange(command)
        if self.trace is not None:
            self.trace.record(self.file or self.phase, command, response, protected=protected,
                              seconds=time.perf_counter() - start)
        return response

    def _exchange(self, command: CommandAPDU) -> ResponseAPDU:
        sent = self.sm.protect_command(command) if self.sm is not None else command
        response = self._transmit(sent)
        if self.sm is None:
            return response
        if response.sw in (SW_SM_MISSING, SW_SM_WRONG):
            raise SecureMessagingError(f"{self.where()}: the chip answered {describe_command(command)} with "
                                       f"{sw_meaning(response.sw)} (SW {response.sw:04X}): {HINT_SM}")
        if not response.ok and not carries_mac(response.data):  # its data, if any, is unauthenticated: dropped
            self.sm.advance(self.plain_ssc_steps - 1)  # protect_command counted one step already
            self.after_plain = True
            return ResponseAPDU(b"", response.sw)
        try:
            plain = self.sm.unprotect_response(response)
        except ProtocolError as exc:
            raise SecureMessagingError(f"{self.where()}: the answer to {describe_command(command)} breaks secure "
                                       f"messaging ({exc}, SW {response.sw:04X}): {HINT_SM}") from None
        if self.after_switch is not None:
            self.after_switch.append(ProtectedResponse(self.sm.ssc, response.data, response.sw))
        self.after_plain = False
        return plain

    def _transmit(self, command: CommandAPDU) -> ResponseAPDU:
        """One command and what its transport-level answers ask for: 61xx GET RESPONSE, a plain 6Cxx resend."""
        response = self._send(command)
        if response.sw1 == 0x6C and not response.data and command.le is not None:
            command = CommandAPDU(command.cla, command.ins, command.p1, command.p2, command.data,
                                  response.sw2 or 256)
            response = self._send(command)
        data = bytearray()
        while response.sw1 == 0x61:
            data += response.data
            response = self._send(CommandAPDU(command.cla & 0x03, Ins.GET_RESPONSE, 0, 0, le=response.sw2 or 256))
        return ResponseAPDU(bytes(data) + response.data, response.sw) if data else response

    def _send(self, command: CommandAPDU) -> ResponseAPDU:
        self._check_budget()
        try:
            raw = self.transport.transmit(command.encode())
        except CardRemovedError as exc:
            raise CardRemovedError(exc.reason, file=self.file, offset=self.offset) from None
        except ReaderGoneError:
            raise
        except CardError:
            if command.is_extended:  # the card is still there (PCSCTransport checks): the reader failed
                raise self._extended_failed() from None
            raise
        return ResponseAPDU.parse(raw)

    def _extended_failed(self) -> ExtendedUnsupportedError:
        """The reader could not carry an extended APDU: the chip never saw it, so the SSC goes back."""
        if self.sm is not None:
            self.sm.advance(-1)
        return ExtendedUnsupportedError()

    def resync(self) -> bool:
        """After a plain answer the chip broke the session: it counts plain answers one step more than
        assumed.  Re-open the session with that count; False when there is nothing left to try."""
        if not self.after_plain or self.reopen is None or self.plain_ssc_steps >= _MAX_PLAIN_SSC_STEPS:
            return False
        self.plain_ssc_steps += 1
        self.after_plain = False
        self.notes.append(f"the chip counts a plain answer inside secure messaging as {self.plain_ssc_steps} "
                          "step(s) of the send sequence counter: the session was opened again")
        self.sm = None
        self.sm = self.reopen()
        return True

    def _check_budget(self) -> None:
        """LimitExceeded when the read is past its deadline or has sent all the APDUs it may."""
        overdue = time.monotonic() - self.deadline
        if overdue >= 0:
            raise LimitExceeded("READ_DEADLINE_SECONDS", self.where(), self.budget.deadline_seconds,
                                round(self.budget.deadline_seconds + overdue, 1))
        if self.transport.statistics.apdus >= self.budget.max_apdus:
            raise LimitExceeded("MAX_READ_APDUS", self.where(), self.budget.max_apdus)

    def where(self) -> str:
        """The read and, while a file is being read, which file and offset (for errors)."""
        return "the chip read" if self.file is None else f"the chip read, at {self.file} offset {self.offset}"

    def require_ok(self, command: CommandAPDU, step: str, hint: str = HINT_CHIP_ERROR) -> ResponseAPDU:
        """Exchange and insist on 9000; ChipRefusedError naming ``step``, the command and the SW otherwise."""
        response = self.exchange(command)
        if not response.ok:
            raise refused(step, command, response.sw, hint)
        return response
