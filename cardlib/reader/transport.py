"""How raw APDUs reach a chip: the :class:`Transport` protocol and its implementations.

A transport moves one command APDU (bytes) to the chip and returns its response APDU (data + SW1 SW2).
It knows nothing about secure messaging or files; the reading procedure (:mod:`cardlib.reader.reader`)
builds on it.  :class:`PCSCTransport` talks to a PC/SC reader through pyscard, :class:`InProcessTransport`
drives a virtual chip in the same process, and :class:`RecordingTransport` wraps either to count APDUs,
bytes and time (the statistics a benchmark prints) without storing any APDU content, so no key material
ends up in a trace.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from smartcard import scard

from cardlib.errors import CardError


class CardRemovedError(CardError):
    """The card left the reader (or stopped answering) before the procedure finished.

    ``file`` and ``offset`` say where a file read was interrupted, so the person at the reader knows
    that the dump is incomplete and what to re-read; both are None when no file was being read.
    """

    def __init__(self, reason: str, *, file: str | None = None, offset: int | None = None) -> None:
        self.file = file
        self.offset = offset
        where = f" while reading {file} at offset {offset}" if file is not None else ""
        super().__init__(f"{reason}{where}")
        self.reason = reason


class ReaderGoneError(CardError):
    """The PC/SC reader itself disappeared (unplugged, or the PC/SC service stopped)."""


_REMOVED = frozenset({"SCARD_W_REMOVED_CARD", "SCARD_E_NO_SMARTCARD", "SCARD_W_RESET_CARD",
                      "SCARD_W_UNPOWERED_CARD", "SCARD_W_UNRESPONSIVE_CARD", "SCARD_E_CARD_UNSUPPORTED"})
_READER_GONE = frozenset({"SCARD_E_READER_UNAVAILABLE", "SCARD_E_UNKNOWN_READER", "SCARD_E_NO_SERVICE",
                          "SCARD_E_SERVICE_STOPPED", "SCARD_E_NO_READERS_AVAILABLE", "SCARD_E_INVALID_HANDLE"})


def _codes(names: frozenset[str]) -> frozenset[int]:
    return frozenset(getattr(scard, name) & 0xFFFFFFFF for name in names if hasattr(scard, name))


_REMOVED_CODES = _codes(_REMOVED)
# vpcd (and some contactless drivers) report a card that left mid-exchange as a failed transaction.
_TRANSACTION_FAILED_CODES = _codes(frozenset({"SCARD_E_NOT_TRANSACTED"}))
_READER_GONE_CODES = _codes(_READER_GONE)
_SCARD_PRESENT = 0x0004  # SCardStatus state bit (pcsc-lite; pyscard does not export the name)


def pcsc_error(hresult: int, reader: str) -> CardError:
    """The typed error for a failed PC/SC call during an exchange with the card in ``reader``."""
    code = hresult & 0xFFFFFFFF
    message = scard.SCardGetErrorMessage(hresult)
    if code in _REMOVED_CODES:
        return CardRemovedError(f"the card was removed from {reader!r} ({message})")
    if code in _TRANSACTION_FAILED_CODES:
        return CardRemovedError(f"the card in {reader!r} stopped answering ({message}): it was moved or removed")
    if code in _READER_GONE_CODES:
        return ReaderGoneError(f"the reader {reader!r} is no longer available ({message})")
    return CardError(f"PC/SC failure on {reader!r}: {message} (0x{code:08X})")


def _service_running() -> bool:
    """Whether a PC/SC service answers now (a dying daemon makes exchanges fail with misleading codes)."""
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return False
    scard.SCardReleaseContext(context)
    return True


class Transport(Protocol):
    """One APDU exchange with a chip: raw command bytes in, raw response bytes (data + SW) out."""

    def transmit(self, command: bytes) -> bytes:
        """Send ``command`` and return the chip's response; raise CardRemovedError if the card is gone."""
        ...


class APDUProcessor(Protocol):
    """Anything that answers raw APDUs in-process, such as ``cardlib.chip.chip.VirtualChip``."""

    def process(self, raw: bytes) -> bytes:
        """Answer one raw command APDU with a raw response APDU."""
        ...


def transport_atr(transport: object) -> bytes:
    """The ATR of the card behind ``transport`` when the transport tells it (PC/SC, a virtual chip), else empty."""
    atr = getattr(transport, "atr", b"")
    return atr if isinstance(atr, bytes) else b""


class InProcessTransport:
    """A transport that hands each APDU straight to a virtual chip in this process (no PC/SC stack)."""

    def __init__(self, chip: APDUProcessor) -> None:
        self._chip = chip

    @property
    def atr(self) -> bytes:
        """The virtual chip's ATR (empty for a processor that has none)."""
        return transport_atr(self._chip)

    def transmit(self, command: bytes) -> bytes:
        """Let the virtual chip answer ``command``."""
        return self._chip.process(bytes(command))


def _extended(command: bytes) -> bool:
    """Whether ``command`` uses extended length fields (ISO 7816-3: a zero byte after the header, then more)."""
    return len(command) >= 7 and command[4] == 0


class PCSCTransport:
    """A transport over a connected PC/SC card handle (pyscard's ``smartcard.scard`` layer).

    Built by :func:`cardlib.reader.pcsc.connect`; translates PC/SC failures into typed errors: a removed
    or reset card into :class:`CardRemovedError`, a vanished reader into :class:`ReaderGoneError`.
    """

    def __init__(self, context: Any, card: Any, protocol: int, reader: str) -> None:
        self._context = context
        self._card = card
        self._protocol = protocol
        self.reader = reader

    def transmit(self, command: bytes) -> bytes:
        """Send ``command`` with SCardTransmit and return the response bytes."""
        hresult, response = scard.SCardTransmit(self._card, self._protocol, list(command))
        if hresult != scard.SCARD_S_SUCCESS:
            error = pcsc_error(hresult, self.reader)
            if isinstance(error, CardRemovedError) and _extended(command) and self._card_present():
                raise CardError(f"the reader {self.reader!r} could not carry an extended-length APDU "
                                f"({scard.SCardGetErrorMessage(hresult)})") from None
            if type(error) is CardError and not _service_running():
                raise ReaderGoneError(f"the PC/SC service stopped while reading from {self.reader!r}: start it (pcscd) "
                                      "and put the card on the reader again") from None
            raise error
        if len(response) < 2:  # a driver whose card vanished mid-exchange may return nothing at all
            raise CardRemovedError(f"the card in {self.reader!r} stopped answering")
        return bytes(response)

    @property
    def atr(self) -> bytes:
        """The card's answer to reset, as the reader reports it (empty when it cannot tell)."""
        hresult, _reader, _state, _protocol, atr = scard.SCardStatus(self._card)
        return bytes(atr) if hresult == scard.SCARD_S_SUCCESS else b""

    def _card_present(self) -> bool:
        """Whether the card is still powered in the reader (a failed exchange may be the reader's doing)."""
        hresult, _reader, state, _protocol, _atr = scard.SCardStatus(self._card)
        return bool(hresult == scard.SCARD_S_SUCCESS and state & _SCARD_PRESENT)

    def close(self) -> None:
        """Power the card down and release the PC/SC context (safe to call twice)."""
        if self._card is not None:
            scard.SCardDisconnect(self._card, scard.SCARD_UNPOWER_CARD)
            self._card = None
        if self._context is not None:
            scard.SCardReleaseContext(self._context)
            self._context = None

    def __enter__(self) -> PCSCTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class APDURecord:
    """What a trace keeps of one exchange: the instruction, sizes, status word and duration — never content."""

    ins: int
    command_length: int
    response_length: int
    sw: int
    seconds: float


@dataclass
class TransportStatistics:
    """Totals over the exchanges a :class:`RecordingTransport` has seen."""

    apdus: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    seconds: float = 0.0
    records: list[APDURecord] = field(default_factory=list)


class RecordingTransport:
    """Wraps a transport and records every exchange's size, status and time (the APDU trace).

    ``keep_records`` False keeps only the totals (cheaper for long batch runs).
    """

    def __init__(self, inner: Transport, *, keep_records: bool = True) -> None:
        self.inner = inner
        self.keep_records = keep_records
        self.statistics = TransportStatistics()

    def transmit(self, command: bytes) -> bytes:
        """Forward ``command`` to the wrapped transport and account for the exchange."""
        start = time.perf_counter()
        response = self.inner.transmit(command)
        elapsed = time.perf_counter() - start
        stats = self.statistics
        stats.apdus += 1
        stats.bytes_sent += len(command)
        stats.bytes_received += len(response)
        stats.seconds += elapsed
        if self.keep_records:
            sw = int.from_bytes(response[-2:], "big") if len(response) >= 2 else -1
            ins = command[1] if len(command) > 1 else -1
            stats.records.append(APDURecord(ins, len(command), len(response), sw, elapsed))
        return response
