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
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cardlib.errors import CardlibError, ValidationError
from cardtool.counter.session import CardSource, CounterSession, SessionBusyError, watch

log = logging.getLogger(__name__)

BIND_ADDRESS = "127.0.0.1"
LOCAL_NAMES = frozenset({"127.0.0.1", "localhost"})
LONG_POLL_SECONDS = 15.0
MAX_BODY = 4096
_STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
           "/static/counter.css": ("counter.css", "text/css; charset=utf-8"),
           "/static/counter.js": ("counter.js", "text/javascript; charset=utf-8")}
_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class CounterServer(ThreadingHTTPServer):
    """An HTTP server for one :class:`CounterSession`, on 127.0.0.1 only (``port`` 0: any free port)."""

    daemon_threads = True

    def __init__(self, session: CounterSession, host: str = BIND_ADDRESS, port: int = 0) -> None:
        if host not in LOCAL_NAMES:
            raise CardlibError(f"the counter serves this computer only: bind address {host!r} refused "
                               f"(use {BIND_ADDRESS})")
        self.session = session
        super().__init__((BIND_ADDRESS, port), CounterHandler)

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        """The page's address."""
        return f"http://{BIND_ADDRESS}:{self.port}/"

    def allowed_origins(self) -> frozenset[str]:
        """The origins the page itself has (by IP address or by the name localhost)."""
        return frozenset(f"http://{name}:{self.port}" for name in LOCAL_NAMES)


class CounterHandler(BaseHTTPRequestHandler):
    """One request to the counter; see the module docstring for the endpoints and the checks."""

    server: CounterServer
    server_version = "cardtool-counter"
    sys_version = ""

    def do_GET(self) -> None:
        """Pages, the state feed and the portrait."""
        if not self._host_allowed():
            return
        url = urlsplit(self.path)
        if url.path in _STATIC:
            name, content_type = _STATIC[url.path]
            self._send(HTTPStatus.OK, resources.files(__package__).joinpath("static", name).read_bytes(),
                       content_type)
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
        if not self._host_allowed() or not self._same_origin():
            return
        actions = {"/api/read": self._read, "/api/clear": self._clear, "/api/save": self._save}
        action = actions.get(urlsplit(self.path).path)
        if action is None:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not_found"})
            return
        try:
            self._json(HTTPStatus.OK, action(self._body()))
        except ValidationError as exc:
            self._json(HTTPStatus.BAD_REQUEST, {"error": "bad_request" if exc.field == "request" else "bad_key",
                                              "message": exc.reason})
        except SessionBusyError as exc:
            self._json(HTTPStatus.CONFLICT, {"error": "busy", "message": str(exc)})
        except CardlibError as exc:
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "failed", "message": str(exc)})

    def log_message(self, format: str, *args: Any) -> None:
        """Requests go to the debug log, with the path only (no query string)."""
        log.debug("%s %s", self.command, urlsplit(self.path).path)

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
            return self.server.session.wait(int(since), LONG_POLL_SECONDS)
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

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValidationError(f"request body over {MAX_BODY} bytes", field="request")
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ValidationError("the request body is not JSON", field="request") from None
        if not isinstance(body, dict):
            raise ValidationError("the request body is not a JSON object", field="request")
        return body

    # -- responses ------------------------------------------------------------------------------------

    def _json(self, status: HTTPStatus, document: dict[str, Any]) -> None:
        self._send(status, json.dumps(document, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in _SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
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
