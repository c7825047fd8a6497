"""The counter's web server: localhost only, a long-polled state feed, same-origin JSON POSTs, no caching.

Endpoints::

    GET  /                 the page (static/index.html), /static/* its CSS and JS
    GET  /api/state?since=N   the session snapshot, held up to 15 s until its version passes N
    GET  /api/portrait     the current holder's portrait (404 when none)
    POST /api/read         {"can": "123456"} or {"mrz": "..."}: read the card on the reader
    POST /api/clear        forget the current card now
    POST /api/save         write the report to --save-dir

The server binds 127.0.0.1 and nothing else, and answers only requests whose Host header names localhost
or 127.0.0.1 with its own port (a DNS-rebinding page cannot reach it by another name).  POSTs must carry
``Content-Type: application/json`` and an ``Origin`` of the page itself, so another site cannot submit to
it (a cross-site JSON POST needs a CORS preflight this server never grants).  Every response says
``Cache-Control: no-store``; request lines are logged without query strings, and the CAN only ever
travels in a POST body.

Other programs on this computer can reach 127.0.0.1 too, so every ``/api`` request must also carry the
server's token (``X-Counter-Token``; 403 ``no_token`` without it): 32 random bytes drawn at each start and
handed to the officer only in the address ``cardtool counter`` prints, in its ``#token=`` fragment, which a
browser never sends to a server; the page (which holds no secret and is served to anyone) reads it from
its own address.  The token is never logged.

Hostile clients are bounded by the budgets of :mod:`cardlib.limits`: a request (line, headers and body)
must arrive within ``COUNTER_REQUEST_SECONDS`` in total, else the connection is closed (a long-polled answer
is held after the request was read, so it is not cut); ``Content-Length`` must be plain digits (400
``bad_length``), at most ``COUNTER_MAX_BODY_BYTES`` (413 ``too_large``, the body left unread) and present on
a POST (411); at most ``COUNTER_MAX_CONNECTIONS`` connections are served at once, more are answered 503 and
closed at once.
"""

from __future__ import annotations

import contextlib
import hmac
import io
import json
import logging
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cardlib.errors import CardlibError, ValidationError
from cardlib.limits import COUNTER_MAX_BODY_BYTES, COUNTER_MAX_CONNECTIONS, COUNTER_REQUEST_SECONDS
from cardtool.counter.session import CardSource, CounterSession, SessionBusyError, watch

log = logging.getLogger(__name__)

BIND_ADDRESS = "127.0.0.1"
LOCAL_NAMES = frozenset({"127.0.0.1", "localhost"})
LONG_POLL_SECONDS = 15.0
"""Longest the state feed holds an answer waiting for a change."""
TOKEN_HEADER = "X-Counter-Token"
"""The request header carrying the per-start token."""
_TOKEN_BYTES = 32
_DISCARD_BYTES = 65536
_DIGITS = re.compile(r"[0-9]+")
_BUSY_ANSWER = (b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 17\r\n"
                b"Connection: close\r\n\r\n{\"error\": \"busy\"}")
_STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
           "/static/counter.css": ("counter.css", "text/css; charset=utf-8"),
           "/static/counter.js": ("counter.js", "text/javascript; charset=utf-8")}
_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
                               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class _Refused(Exception):
    """A request this server answers with an error status before acting on it."""

    def __init__(self, status: HTTPStatus, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error


class CounterServer(ThreadingHTTPServer):
    """An HTTP server for one :class:`CounterSession`, on 127.0.0.1 only (``port`` 0: any free port).

    ``request_seconds`` and ``long_poll_seconds`` start as ``COUNTER_REQUEST_SECONDS`` and
    :data:`LONG_POLL_SECONDS`; ``token`` is this start's random token.
    """

    daemon_threads = True
    request_queue_size = COUNTER_MAX_CONNECTIONS  # the listen backlog: connections waiting to be accepted

    def __init__(self, session: CounterSession, host: str = BIND_ADDRESS, port: int = 0) -> None:
        if host not in LOCAL_NAMES:
            raise CardlibError(f"the counter serves this computer only: bind address {host!r} refused "
                               f"(use {BIND_ADDRESS})")
        self.session = session
        self.token = secrets.token_urlsafe(_TOKEN_BYTES)
        self.request_seconds = COUNTER_REQUEST_SECONDS
        self.long_poll_seconds = LONG_POLL_SECONDS
        self._slots = threading.BoundedSemaphore(COUNTER_MAX_CONNECTIONS)
        super().__init__((BIND_ADDRESS, port), CounterHandler)

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return int(self.server_address[1])

    @property
    def origin(self) -> str:
        """The server's origin, ``http://127.0.0.1:PORT``."""
        return f"http://{BIND_ADDRESS}:{self.port}"

    @property
    def url(self) -> str:
        """The address the officer opens: the page, with the token in the fragment (never sent to a server)."""
        return f"{self.origin}/#token={self.token}"

    def allowed_origins(self) -> frozenset[str]:
        """The origins the page itself has (by IP address or by the name localhost)."""
        return frozenset(f"http://{name}:{self.port}" for name in LOCAL_NAMES)

    def token_matches(self, presented: str) -> bool:
        """True when ``presented`` is this start's token (compared in constant time)."""
        return hmac.compare_digest(presented.encode("utf-8", "replace"), self.token.encode())

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve the connection in a thread if a slot is free; else answer 503 and close it at once."""
        if not self._slots.acquire(blocking=False):
            log.debug("connection refused: %d connections already open", COUNTER_MAX_CONNECTIONS)
            with contextlib.suppress(OSError):
                request.setblocking(False)
                request.send(_BUSY_ANSWER)
                request.recv(_DISCARD_BYTES)  # what already came, so closing does not reset the answer away
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Serve one connection, then free its slot."""
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A request that failed unexpectedly: one log line (no traceback on the console, nothing of the request)."""
        log.error("a counter request failed unexpectedly", exc_info=log.isEnabledFor(logging.DEBUG))


class _DeadlineReader(io.RawIOBase):
    """A connection's incoming bytes, each read allowed only the time left before ``deadline`` (monotonic):
    a client dripping a byte at a time cannot stretch a request past it."""

    def __init__(self, connection: socket.socket, deadline: float) -> None:
        super().__init__()
        self._connection = connection
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request did not arrive in time")
        self._connection.settimeout(left)
        return self._connection.recv_into(buffer)


class CounterHandler(BaseHTTPRequestHandler):
    """One request to the counter; see the module docstring for the endpoints and the checks."""

    server: CounterServer
    server_version = "cardtool-counter"
    sys_version = ""

    def setup(self) -> None:
        """The connection, its request to be read within the server's ``request_seconds``."""
        super().setup()
        deadline = time.monotonic() + self.server.request_seconds
        self.rfile.close()  # the plain socket file, replaced by one that keeps the deadline
        self.rfile = io.BufferedReader(_DeadlineReader(self.connection, deadline))

    def handle(self) -> None:
        """Serve the connection; a client too slow or gone just loses it."""
        try:
            super().handle()
        except (TimeoutError, ConnectionError):
            log.debug("connection closed: the client was too slow or left")

    def do_GET(self) -> None:
        """Pages, the state feed and the portrait."""
        if not self._host_allowed():
            return
        url = urlsplit(self.path)
        if url.path in _STATIC:
            name, content_type = _STATIC[url.path]
            self._send(HTTPStatus.OK, resources.files(__package__).joinpath("static", name).read_bytes(),
                       content_type)
        elif not self._token_presented():
            return
        elif url.path == "/api/state":
            self._json(HTTPStatus.OK, self._state(parse_qs(url.query).get("since", [""])[0]))
        elif url.path == "/api/portrait":
            portrait = self.server.session.portrait()
            if portrait is None:
                self._json(HTTPStatus.NOT_FOUND, {"error": "no_portrait"})
            else:
                self._send(HTTPStatus.OK, portrait[0], portrait[1])
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not_found"})

    def do_POST(self) -> None:
        """The officer's actions: read, clear, save."""
        if not self._host_allowed() or not self._token_presented() or not self._same_origin():
            return
        actions = {"/api/read": self._read, "/api/clear": self._clear, "/api/save": self._save}
        action = actions.get(urlsplit(self.path).path)
        if action is None:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not_found"})
            return
        try:
            self._json(HTTPStatus.OK, action(self._body()))
        except _Refused as exc:
            self._json(exc.status, {"error": exc.error, "message": str(exc)})
        except ValidationError as exc:
            self._json(HTTPStatus.BAD_REQUEST, {"error": "bad_request" if exc.field == "request" else "bad_key",
                                              "message": exc.reason})
        except SessionBusyError as exc:
            self._json(HTTPStatus.CONFLICT, {"error": "busy", "message": str(exc)})
        except CardlibError as exc:
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "failed", "message": str(exc)})

    def log_message(self, format: str, *args: Any) -> None:
        """Requests go to the debug log, with the path only (no query string, no header)."""
        log.debug("%s %s", getattr(self, "command", None), urlsplit(getattr(self, "path", "")).path)

    # -- actions --------------------------------------------------------------------------------------

    def _read(self, body: dict[str, Any]) -> dict[str, Any]:
        can, mrz = body.get("can", ""), body.get("mrz", "")
        if not isinstance(can, str) or not isinstance(mrz, str):
            raise ValidationError("the CAN and the MRZ are text", field="CAN")
        self.server.session.submit(can=can, mrz=mrz)
        return {"ok": True}

    def _clear(self, body: dict[str, Any]) -> dict[str, Any]:
        self.server.session.clear()
        return {"ok": True}

    def _save(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "file": self.server.session.save_report().name}

    def _state(self, since: str) -> dict[str, Any]:
        if since.isdigit():
            return self.server.session.wait(int(since), self.server.long_poll_seconds)
        return self.server.session.snapshot()

    # -- request checks -------------------------------------------------------------------------------

    def _host_allowed(self) -> bool:
        """Only ``localhost:PORT`` or ``127.0.0.1:PORT`` (DNS rebinding gives another Host)."""
        allowed = {f"{name}:{self.server.port}" for name in LOCAL_NAMES}
        if self.headers.get("Host", "").lower() in allowed:
            return True
        self._json(HTTPStatus.FORBIDDEN, {"error": "host_not_allowed"})
        return False

    def _same_origin(self) -> bool:
        """A POST from the page itself: JSON content and the page's own Origin."""
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if self.headers.get("Origin", "") in self.server.allowed_origins() and content_type == "application/json":
            return True
        self._json(HTTPStatus.FORBIDDEN, {"error": "cross_origin"})
        return False

    def _token_presented(self) -> bool:
        """The request carries this start's token (see the module docstring)."""
        if self.server.token_matches(self.headers.get(TOKEN_HEADER, "")):
            return True
        self._json(HTTPStatus.FORBIDDEN, {"error": "no_token",
                                          "message": "open the page at the address 'cardtool counter' printed"})
        return False

    def _body(self) -> dict[str, Any]:
        """The POST's JSON object, read only if its declared length is plain digits within the body budget."""
        declared = self.headers.get_all("Content-Length")
        if declared is None or "Transfer-Encoding" in self.headers:
            raise _Refused(HTTPStatus.LENGTH_REQUIRED, "length_required", "the request body needs a Content-Length")
        if len(declared) != 1 or not _DIGITS.fullmatch(declared[0]):
            raise _Refused(HTTPStatus.BAD_REQUEST, "bad_length", "Content-Length is not a number of bytes")
        if len(declared[0]) > len(str(COUNTER_MAX_BODY_BYTES)) or int(declared[0]) > COUNTER_MAX_BODY_BYTES:
            raise _Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "too_large",
                           f"request body over the COUNTER_MAX_BODY_BYTES budget of {COUNTER_MAX_BODY_BYTES} bytes")
        length = int(declared[0])
        try:
            data = self.rfile.read(length)
        except TimeoutError:
            raise _Refused(HTTPStatus.REQUEST_TIMEOUT, "timeout", "the request body did not arrive in time") from None
        if len(data) < length:
            raise _Refused(HTTPStatus.BAD_REQUEST, "bad_request", "the request body is shorter than its length")
        try:
            body = json.loads(data or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ValidationError("the request body is not JSON", field="request") from None
        if not isinstance(body, dict):
            raise ValidationError("the request body is not a JSON object", field="request")
        return body

    # -- responses ------------------------------------------------------------------------------------

    def _json(self, status: HTTPStatus, document: dict[str, Any]) -> None:
        self._send(status, json.dumps(document, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.connection.settimeout(self.server.request_seconds)  # a client that stops reading is let go
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in _SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            log.debug("the browser left before the answer to %s", urlsplit(self.path).path)


@contextmanager
def running_counter(session: CounterSession, source: CardSource, *, host: str = BIND_ADDRESS,
                    port: int = 0) -> Iterator[CounterServer]:
    """The counter serving in background threads (the web server and the reader watcher) for the block."""
    server = CounterServer(session, host, port)
    stop = threading.Event()
    watcher = threading.Thread(target=watch, args=(session, source, stop), daemon=True, name="counter-watch")
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True,
                               name="counter-http")
    watcher.start()
    serving.start()
    try:
        yield server
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        watcher.join(timeout=5)
        serving.join(timeout=5)
