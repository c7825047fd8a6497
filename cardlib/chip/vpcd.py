"""Plug a virtual card into pcscd's virtual reader (vsmartcard ``vpcd``) over TCP.

The vpcd driver inside pcscd listens on a TCP port; a virtual card connects to it as a client.  Every
message either way is a two-byte big-endian length followed by the payload.  A one-byte payload from
the driver is a control code (0 power off, 1 power on, 2 reset, 4 "send the ATR"); any longer payload
is a command APDU, answered with the response APDU.  Only the ATR request and APDUs get an answer.

Closing the connection removes the card from the reader, which is how :class:`VirtualChipQueue` swaps
cards like a production line.  Latency matters: the driver writes each message in two segments with
Nagle's algorithm on, so against a delayed ACK every round trip waits ~40 ms (about 20 APDU/s).  With
``nodelay`` (the default) we set TCP_NODELAY and acknowledge every segment at once (TCP_QUICKACK).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol

from cardlib.errors import CardlibError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 0x8C7B
POWER_OFF = 0
POWER_ON = 1
RESET = 2
GET_ATR = 4
_CONNECT_TIMEOUT = 10.0
_RETRY_INTERVAL = 0.05
_POLL_TIMEOUT = 0.2
_TCP_QUICKACK: int = getattr(socket, "TCP_QUICKACK", 12)


class VpcdError(CardlibError):
    """The vpcd reader could not be reached or broke the protocol."""


class VpcdCard(Protocol):
    """What the bridge needs from a card: the ATR, power control and the APDU processor."""

    @property
    def atr(self) -> bytes:
        """The answer to reset."""
        ...

    def power_on(self) -> bytes:
        """Power the card up (sessions dropped) and return its ATR."""
        ...

    def reset(self) -> None:
        """Warm reset: drop sessions and selections."""
        ...

    def process(self, raw: bytes) -> bytes:
        """Answer one command APDU with a response APDU (data + status word)."""
        ...


class _Connection:
    """One vpcd TCP connection: framed reads and writes."""

    def __init__(self, sock: socket.socket, quick_ack: bool) -> None:
        self.sock = sock
        self.quick_ack = quick_ack
        self._buffer = bytearray()

    def receive(self, stopped: Callable[[], bool]) -> bytes | None:
        """The next message payload, or None when the driver closed the connection or we were stopped."""
        header = self._read_exact(2, stopped)
        if header is None:
            return None
        return self._read_exact(int.from_bytes(header, "big"), stopped)

    def send(self, payload: bytes) -> bool:
        """Send one framed message in a single write (one TCP segment, no Nagle wait).

        False when the connection is gone (the card was ejected, or the driver went away meanwhile).
        """
        try:
            self.sock.sendall(len(payload).to_bytes(2, "big") + payload)
        except OSError:
            return False
        return True

    def _quick_ack(self) -> None:
        """Acknowledge at once (Linux TCP_QUICKACK, which the kernel clears again after use).

        The vpcd driver writes the length and the APDU in two segments without TCP_NODELAY, so the
        second waits for our ACK of the first: a delayed ACK would cost ~40 ms per APDU.
        """
        if self.quick_ack:
            self.sock.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)

    def _read_exact(self, count: int, stopped: Callable[[], bool]) -> bytes | None:
        while len(self._buffer) < count:
            if stopped():
                return None
            try:
                self._quick_ack()
                chunk = self.sock.recv(65538)
            except TimeoutError:
                continue
            except OSError:
                return None
            if not chunk:
                return None
            self._buffer += chunk
        payload = bytes(self._buffer[:count])
        del self._buffer[:count]
        return payload


def connect(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, nodelay: bool = True,
            timeout: float = _CONNECT_TIMEOUT, stop_event: threading.Event | None = None) -> socket.socket:
    """Connect to the vpcd driver, retrying until ``timeout`` (pcscd may still be starting)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            sock = socket.create_connection((host, port), timeout=_POLL_TIMEOUT)
        except OSError as exc:
            if time.monotonic() > deadline or (stop_event is not None and stop_event.is_set()):
                raise VpcdError(f"no vpcd reader listening on {host}:{port}: {exc}") from None
            time.sleep(_RETRY_INTERVAL)
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if nodelay else 0)  # also selects quick ACKs
        sock.settimeout(_POLL_TIMEOUT)
        return sock


def _never() -> bool:
    return False


def serve_card(card: VpcdCard, sock: socket.socket, *, stopped: Callable[[], bool] = _never,
               eject_on_power_off: bool = False) -> None:
    """Answer the driver on ``sock`` until it closes, ``stopped()`` turns true, or (when
    ``eject_on_power_off``) the card is powered off after having processed at least one APDU.
    The socket is closed on return.
    """
    connection = _Connection(sock, quick_ack=bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)))
    used = False
    try:
        while (message := connection.receive(stopped)) is not None:
            if len(message) != 1:
                if not connection.send(card.process(message)):
                    return
                used = True
            elif message[0] == GET_ATR:
                if not connection.send(card.atr):
                    return
            elif message[0] in (POWER_ON, RESET):
                card.power_on()
            elif message[0] == POWER_OFF:
                card.reset()
                if eject_on_power_off and used:
                    return
    finally:
        sock.close()


class VirtualChipQueue:
    """Cards waiting to be inserted into the vpcd reader one after another, as on a production line.

    A card stays in the reader until the terminal powers it off after using it (``SCardDisconnect``
    with ``SCARD_UNPOWER_CARD`` or ``SCARD_RESET_CARD``), or until :meth:`eject` is called; then its
    connection is closed (card removed) and the next card is inserted.  ``presented`` counts the cards
    that have been inserted so far.
    """

    def __init__(self, cards: Iterable[VpcdCard]) -> None:
        self._cards = iter(cards)
        self._eject = threading.Event()
        self._current: socket.socket | None = None
        self.presented = 0

    def eject(self) -> None:
        """Remove the card in the reader now (the next one follows)."""
        self._eject.set()
        current = self._current
        if current is not None:
            current.close()

    def serve(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
              stop_event: threading.Event | None = None, nodelay: bool = True) -> int:
        """Present every card in turn; returns the number presented (fewer when stopped early)."""
        for card in self._cards:
            if stop_event is not None and stop_event.is_set():
                break
            self._eject.clear()
            sock = connect(host, port, nodelay=nodelay, stop_event=stop_event)
            self._current = sock
            self.presented += 1
            serve_card(card, sock, stopped=lambda: self._eject.is_set() or _is_set(stop_event),
                       eject_on_power_off=True)
            self._current = None
        return self.presented


def _is_set(event: threading.Event | None) -> bool:
    return event is not None and event.is_set()


def serve_vpcd(card_or_queue: VpcdCard | VirtualChipQueue, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
               *, stop_event: threading.Event | None = None, nodelay: bool = True) -> None:
    """Present one card (until the reader closes or ``stop_event`` is set) or a whole queue to vpcd.

    This is the body of ``cardtool emulate``; it blocks, so run it in a thread next to a reader.
    """
    if isinstance(card_or_queue, VirtualChipQueue):
        card_or_queue.serve(host, port, stop_event=stop_event, nodelay=nodelay)
        return
    sock = connect(host, port, nodelay=nodelay, stop_event=stop_event)
    serve_card(card_or_queue, sock, stopped=lambda: _is_set(stop_event))


@contextmanager
def vpcd_card(card_or_queue: VpcdCard | VirtualChipQueue, port: int = DEFAULT_PORT, host: str = DEFAULT_HOST,
              *, nodelay: bool = True) -> Iterator[threading.Thread]:
    """Serve a card or queue in a background thread for the duration of the block (card inserted)."""
    stop = threading.Event()
    thread = threading.Thread(target=serve_vpcd, args=(card_or_queue, host, port),
                              kwargs={"stop_event": stop, "nodelay": nodelay}, daemon=True, name="vpcd-card")
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=5)
