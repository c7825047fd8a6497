"""Finding a card on the PC/SC stack: list readers, wait for a card, connect.

Uses pyscard's thin ``smartcard.scard`` layer so every PC/SC result code is seen and turned into an error
a person can act on: :class:`NoReaderError` (plug a reader in / start pcscd), :class:`NoCardError` (put the
card on the reader), :class:`~cardlib.reader.transport.CardRemovedError` and
:class:`~cardlib.reader.transport.ReaderGoneError`.  The PC/SC daemon used is the one libpcsclite finds,
so a private pcscd is selected with ``PCSCLITE_CSOCK_NAME`` before the first call in the process.
"""

from __future__ import annotations

import time
from typing import Any

from smartcard import scard

from cardlib.errors import CardError
from cardlib.reader.transport import CardRemovedError, PCSCTransport, pcsc_error

_NO_READERS = scard.SCARD_E_NO_READERS_AVAILABLE & 0xFFFFFFFF
_NO_SERVICE = frozenset(
    getattr(scard, name) & 0xFFFFFFFF
    for name in ("SCARD_E_NO_SERVICE", "SCARD_E_SERVICE_STOPPED")
    if hasattr(scard, name)
)
_TIMEOUT = scard.SCARD_E_TIMEOUT & 0xFFFFFFFF
_POLL_SECONDS = 0.05


class NoReaderError(CardError):
    """No PC/SC reader is attached (or no PC/SC service runs), or the named reader does not exist."""


class NoServiceError(NoReaderError):
    """The PC/SC service (pcscd) is not running, so no reader can be seen at all."""


class NoCardError(CardError):
    """The reader is there but no card is on it (within the time allowed)."""


def _establish() -> Any:
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        raise NoServiceError(f"no PC/SC service: {scard.SCardGetErrorMessage(hresult)}")
    return context


def _readers(context: Any) -> list[str]:
    hresult, readers = scard.SCardListReaders(context, [])
    code = hresult & 0xFFFFFFFF
    if code == _NO_READERS or (hresult == scard.SCARD_S_SUCCESS and not readers):
        return []
    if code in _NO_SERVICE:
        raise NoServiceError(f"no PC/SC service: {scard.SCardGetErrorMessage(hresult)}")
    if hresult != scard.SCARD_S_SUCCESS:
        raise NoReaderError(f"cannot list readers: {scard.SCardGetErrorMessage(hresult)}")
    return [str(name) for name in readers]


def list_readers() -> list[str]:
    """Names of the PC/SC readers attached now (empty when none)."""
    context = _establish()
    try:
        return _readers(context)
    finally:
        scard.SCardReleaseContext(context)


def _pick_reader(readers: list[str], reader: str | None) -> list[str]:
    if not readers:
        raise NoReaderError("no smart card reader is attached")
    if reader is None:
        return readers
    matching = [name for name in readers if name == reader or name.startswith(reader)]
    if not matching:
        raise NoReaderError(f"no reader named {reader!r} (attached: {', '.join(readers)})")
    return matching


def _card_present(context: Any, readers: list[str]) -> str | None:
    states = [(name, scard.SCARD_STATE_UNAWARE) for name in readers]
    hresult, new_states = scard.SCardGetStatusChange(context, 0, states)
    if hresult != scard.SCARD_S_SUCCESS and hresult & 0xFFFFFFFF != _TIMEOUT:
        raise pcsc_error(hresult, ", ".join(readers))
    for name, event_state, _atr in new_states:
        if event_state & scard.SCARD_STATE_PRESENT and not event_state & scard.SCARD_STATE_MUTE:
            return str(name)
    return None


def wait_for_card(reader: str | None = None, *, timeout: float = 0.0) -> str:
    """The name of a reader (``reader`` itself, or one whose name starts with it) holding a card.

    Waits up to ``timeout`` seconds for a card to be put on; raises NoReaderError or NoCardError.
    """
    context = _establish()
    try:
        deadline = time.monotonic() + timeout
        while True:
            candidates = _pick_reader(_readers(context), reader)
            found = _card_present(context, candidates)
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise NoCardError(f"no card on {', '.join(candidates)}")
            time.sleep(_POLL_SECONDS)
    finally:
        scard.SCardReleaseContext(context)


def connect(reader: str | None = None, *, timeout: float = 0.0) -> PCSCTransport:
    """Connect to the card on ``reader`` (default: the first reader holding a card) and return its transport.

    Waits up to ``timeout`` seconds for a card that can be powered (one just put on the reader may
    still be settling).  The transport owns the PC/SC context and card handle; close it (or use it as a
    context manager).
    """
    deadline = time.monotonic() + timeout
    while True:
        name = wait_for_card(reader, timeout=max(0.0, deadline - time.monotonic()))
        try:
            return _connect(name)
        except CardRemovedError as exc:
            if time.monotonic() >= deadline:
                raise NoCardError(f"no usable card on {name!r}: {exc.reason}") from None
        time.sleep(_POLL_SECONDS)


def _connect(name: str) -> PCSCTransport:
    context = _establish()
    protocols = scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
    hresult, card, active = scard.SCardConnect(context, name, scard.SCARD_SHARE_SHARED, protocols)
    if hresult != scard.SCARD_S_SUCCESS:
        scard.SCardReleaseContext(context)
        raise pcsc_error(hresult, name)
    header = scard.SCARD_PCI_T0 if active == scard.SCARD_PROTOCOL_T0 else scard.SCARD_PCI_T1
    return PCSCTransport(context, card, header, name)
