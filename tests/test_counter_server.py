"""The counter's HTTP surface: localhost only, DNS-rebinding and cross-site requests refused, no caching."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from contextlib import AbstractContextManager

import pytest
from cardtool.counter.server import CounterServer, running_counter
from cardtool.counter.session import CardState, CounterSession
from cardtool.main import build_parser

from cardlib.errors import CardlibError
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


def _request(server: CounterServer, method: str, path: str, *, body: object = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    sent = {"Host": f"127.0.0.1:{server.port}", **(headers or {})}
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
