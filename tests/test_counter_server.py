"""The counter's HTTP surface: localhost only, DNS-rebinding and cross-site requests refused, no caching; strict
request parsing, timeouts, bounded connections and the per-start token against hostile local clients."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest
from cardtool.counter.server import TOKEN_HEADER, CounterServer, running_counter
from cardtool.counter.session import CardState, CounterSession
from cardtool.main import build_parser

from cardlib.errors import CardlibError
from cardlib.limits import COUNTER_MAX_BODY_BYTES, COUNTER_MAX_CONNECTIONS
from cardlib.pki.trust import TrustStore
from cardlib.reader.pcsc import NoCardError
from cardlib.reader.transport import Transport


class EmptyReader:
    """A reader with no card on it."""

    def poll(self) -> CardState:
        return CardState.EMPTY

    def open(self) -> AbstractContextManager[Transport]:
        raise NoCardError("no card")


@pytest.fixture()
def server() -> Iterator[CounterServer]:
    reader = EmptyReader()
    with running_counter(CounterSession(reader, TrustStore.load()), reader) as running:
        yield running


_SERVER_TOKEN = object()


def _request(server: CounterServer, method: str, path: str, *, body: object = None,
             headers: dict[str, str] | None = None,
             token: str | object | None = _SERVER_TOKEN) -> tuple[int, dict[str, str], bytes]:
    """One request as the page sends it (with the server's token unless ``token`` says otherwise)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    sent = {"Host": f"127.0.0.1:{server.port}", **(headers or {})}
    if token is not None:
        sent[TOKEN_HEADER] = server.token if token is _SERVER_TOKEN else str(token)
    payload = json.dumps(body).encode() if body is not None else None
    connection.request(method, path, body=payload, headers=sent)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, {key.lower(): value for key, value in response.getheaders()}, data


def _origin(server: CounterServer) -> dict[str, str]:
    return {"Origin": f"http://127.0.0.1:{server.port}", "Content-Type": "application/json"}


def test_binding_anything_but_localhost_is_refused() -> None:
    reader = EmptyReader()
    for host in ("0.0.0.0", "192.168.1.10", "::"):
        with pytest.raises(CardlibError, match="this computer only"):
            CounterServer(CounterSession(reader, TrustStore.load()), host)


def test_page_and_assets_are_served_with_strict_headers(server: CounterServer) -> None:
    assert server.server_address[0] == "127.0.0.1"
    for path, kind in (("/", "text/html"), ("/static/counter.js", "text/javascript"),
                       ("/static/counter.css", "text/css")):
        status, headers, body = _request(server, "GET", path)
        assert status == 200 and headers["content-type"].startswith(kind) and body
        assert headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"


def test_state_feed_and_missing_portrait(server: CounterServer) -> None:
    status, _, body = _request(server, "GET", "/api/state")
    state = json.loads(body)
    assert status == 200 and state["result"] is None and state["can_save"] is False
    status, _, _ = _request(server, "GET", "/api/portrait")
    assert status == 404


def test_foreign_host_header_is_refused(server: CounterServer) -> None:
    for host in ("attacker.example", f"attacker.example:{server.port}", "127.0.0.1:1", ""):
        status, _, body = _request(server, "GET", "/api/state", headers={"Host": host})
        assert status == 403 and json.loads(body)["error"] == "host_not_allowed"
    status, _, _ = _request(server, "GET", "/", headers={"Host": f"localhost:{server.port}"})
    assert status == 200


def test_posts_need_the_page_origin_and_json(server: CounterServer) -> None:
    bad = ({"Content-Type": "application/json"},
           {"Origin": "http://evil.example", "Content-Type": "application/json"},
           {"Origin": f"http://127.0.0.1:{server.port}", "Content-Type": "text/plain"},
           {"Origin": "null", "Content-Type": "application/json"})
    for headers in bad:
        status, _, body = _request(server, "POST", "/api/read", body={"can": "123456"}, headers=headers)
        assert status == 403 and json.loads(body)["error"] == "cross_origin"


def test_post_outcomes_for_the_page(server: CounterServer) -> None:
    status, _, body = _request(server, "POST", "/api/read", body={"can": "12a"}, headers=_origin(server))
    assert status == 400 and json.loads(body)["error"] == "bad_key" and "12a" not in body.decode()
    status, _, body = _request(server, "POST", "/api/read", body={"can": "123456"}, headers=_origin(server))
    assert status == 409 and json.loads(body)["error"] == "busy"
    status, _, body = _request(server, "POST", "/api/read", body=["x"], headers=_origin(server))
    assert status == 400 and json.loads(body)["error"] == "bad_request"
    status, _, body = _request(server, "POST", "/api/save", body={}, headers=_origin(server))
    assert status == 409 and "--save-dir" in json.loads(body)["message"]
    status, _, _ = _request(server, "POST", "/api/nothing", body={}, headers=_origin(server))
    assert status == 404


def test_counter_command_is_registered() -> None:
    args = build_parser().parse_args(["counter", "--port", "0", "--trust", "a.pem", "b.pem"])
    assert args.command == "counter" and args.host == "127.0.0.1" and len(args.trust) == 2


# -- hostile clients on raw sockets


def _raw(server: CounterServer, data: bytes, *, wait: float = 5.0) -> tuple[bytes, float]:
    """Send ``data`` on a new connection; everything the server answers until it closes, and how long it took."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait) as connection:
        connection.sendall(data)
        answer = b""
        try:
            while chunk := connection.recv(65536):
                answer += chunk
        except TimeoutError:
            answer += b"<still open>"
    return answer, time.monotonic() - started


def _post_head(server: CounterServer, length: str | None, *, extra: str = "") -> bytes:
    head = (f"POST /api/clear HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nOrigin: http://127.0.0.1:{server.port}\r\n"
            f"Content-Type: application/json\r\n{TOKEN_HEADER}: {server.token}\r\n{extra}")
    if length is not None:
        head += f"Content-Length: {length}\r\n"
    return (head + "\r\n").encode()


def _status_and_error(answer: bytes) -> tuple[int, str]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)["error"]


@pytest.mark.parametrize(("length", "status", "error"), [
    ("abc", 400, "bad_length"), ("-1", 400, "bad_length"), ("+2", 400, "bad_length"), (" 2 ,2", 400, "bad_length"),
    ("0x10", 400, "bad_length"), ("1e3", 400, "bad_length"), ("٣", 400, "bad_length"),
    (str(COUNTER_MAX_BODY_BYTES + 1), 413, "too_large"), ("209715200", 413, "too_large"), ("9" * 40, 413, "too_large"),
    (None, 411, "length_required")])
def test_content_length_is_parsed_strictly_without_reading_the_body(server: CounterServer, length: str | None,
                                                                    status: int, error: str) -> None:
    answer, took = _raw(server, _post_head(server, length))  # no body follows: the server must not wait for it
    assert _status_and_error(answer) == (status, error) and took < 2


def test_a_chunked_body_is_refused(server: CounterServer) -> None:
    answer, _ = _raw(server, _post_head(server, None, extra="Transfer-Encoding: chunked\r\n") + b"2\r\n{}\r\n0\r\n\r\n")
    assert _status_and_error(answer) == (411, "length_required")


def test_a_huge_body_behind_a_negative_length_is_not_read(server: CounterServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
        connection.sendall(_post_head(server, "-1"))
        sent = 0
        with contextlib.suppress(OSError):  # the server answers and closes while the body is still coming
            for _ in range(200):
                connection.sendall(b" " * (1 << 20))
                sent += 1 << 20
        assert sent < 200 << 20, "the server read the whole 200 MB body"


def test_a_good_post_still_works_on_a_raw_socket(server: CounterServer) -> None:
    answer, _ = _raw(server, _post_head(server, "2") + b"{}")
    assert answer.startswith(b"HTTP/1.0 200") and answer.endswith(b'{"ok": true}')


@pytest.mark.parametrize("drip", [False, True])
def test_slow_requests_are_cut_off(server: CounterServer, monkeypatch: pytest.MonkeyPatch, drip: bool) -> None:
    monkeypatch.setattr(server, "request_seconds", 0.5)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
        connection.sendall(f"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n".encode())
        closed = b"<open>"
        with contextlib.suppress(OSError):
            while time.monotonic() - started < 4:
                if drip:  # slowloris: a header byte every 0.1 s, each one well within any per-read timeout
                    connection.sendall(b"X")
                    connection.settimeout(0.1)
                with contextlib.suppress(TimeoutError):
                    closed = connection.recv(65536)
                    break
    assert closed != b"<open>" and time.monotonic() - started < 2


def test_a_slow_body_is_cut_off(server: CounterServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "request_seconds", 0.5)
    answer, took = _raw(server, _post_head(server, "10") + b"{")
    assert _status_and_error(answer) == (408, "timeout") and took < 2


def test_the_long_poll_outlives_the_request_timeout(server: CounterServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "request_seconds", 0.3)
    monkeypatch.setattr(server, "long_poll_seconds", 1.5)
    version = json.loads(_request(server, "GET", "/api/state")[2])["version"]
    started = time.monotonic()
    status, _, body = _request(server, "GET", f"/api/state?since={version}")
    assert status == 200 and json.loads(body)["version"] == version and 1.4 < time.monotonic() - started < 3


def test_connections_are_bounded(server: CounterServer) -> None:
    held = [socket.create_connection(("127.0.0.1", server.port), timeout=5)
            for _ in range(COUNTER_MAX_CONNECTIONS)]
    try:
        for connection in held:
            connection.sendall(b"GET / HTTP/1.1\r\n")  # each one takes a slot until its request is read
        assert _wait_until(lambda: _raw(server, b"GET / HTTP/1.1\r\n\r\n")[0].startswith(b"HTTP/1.0 503"))
        answer, took = _raw(server, b"GET / HTTP/1.1\r\n\r\n")
        assert answer == b'HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 17' \
            b'\r\nConnection: close\r\n\r\n{"error": "busy"}' and took < 0.5
    finally:
        for connection in held:
            connection.close()
    assert _wait_until(lambda: _request(server, "GET", "/api/state")[0] == 200)


def _wait_until(condition: Callable[[], bool], seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


# -- the per-start token


def test_every_api_endpoint_needs_the_token(server: CounterServer) -> None:
    calls = [("GET", "/api/state", None), ("GET", "/api/state?since=0", None), ("GET", "/api/portrait", None),
             ("POST", "/api/read", {"can": "123456"}), ("POST", "/api/clear", {}), ("POST", "/api/save", {}),
             ("GET", "/api/nothing", None)]
    for token in (None, "", "x" * len(server.token), server.token[:-1], server.token + "x"):
        for method, path, body in calls:
            status, _, answer = _request(server, method, path, body=body, headers=_origin(server), token=token)
            assert status == 403 and json.loads(answer)["error"] == "no_token", (token, path)
    assert _request(server, "GET", "/api/state", token=server.token)[0] == 200


def test_the_page_does_not_give_the_token_away(server: CounterServer) -> None:
    for path in ("/", "/static/counter.js", "/static/counter.css"):
        assert server.token.encode() not in _request(server, "GET", path, token=None)[2]
    assert server.url.endswith(f"/#token={server.token}") and len(server.token) >= 32


def test_each_start_has_its_own_token() -> None:
    reader = EmptyReader()
    tokens = {CounterServer(CounterSession(reader, TrustStore.load())).token for _ in range(3)}
    assert len(tokens) == 3


def test_the_token_never_reaches_the_log(server: CounterServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    _request(server, "GET", f"/api/state?token={server.token}")
    _request(server, "POST", "/api/clear", body={}, headers=_origin(server))
    _raw(server, _post_head(server, "abc"))
    assert caplog.records and server.token not in caplog.text
