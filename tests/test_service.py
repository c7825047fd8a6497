"""The verification service end to end: nonce → read with it → bundle → verify, over HTTP (Starlette's TestClient)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest
import uvicorn
from starlette.testclient import TestClient

import cardlib.service
from cardlib.card.image import CardImage
from cardlib.chip.chip import VirtualChip
from cardlib.evidence.bundle import Evidence
from cardlib.evidence.nonces import NonceStore
from cardlib.pki.trust import TrustStore
from cardlib.reader.reader import AccessKey, read_card
from cardlib.reader.transport import InProcessTransport
from cardlib.service import create_app
from cardlib.testing.cards import sample_card_image
from cardlib.verify.report import report_schema


@pytest.fixture(scope="module")
def image() -> CardImage:
    return sample_card_image(7)


@pytest.fixture
def client(trust: TrustStore) -> Iterator[TestClient]:
    with TestClient(create_app(trust)) as test_client:
        yield test_client


def _bundle(image: CardImage, nonce_hex: str) -> dict[str, Any]:
    """What the reading side does: read the card with the server's nonce as the AA challenge."""
    assert image.secrets is not None
    result = read_card(InProcessTransport(VirtualChip(image)), AccessKey.can(image.secrets.can),
                       aa_challenge=bytes.fromhex(nonce_hex))
    return Evidence.from_read(result).to_dict()


def _nonce(client: TestClient) -> str:
    response = client.post("/nonce")
    assert response.status_code == 200
    nonce: str = response.json()["nonce"]
    assert len(bytes.fromhex(nonce)) == 8
    return nonce


def _verify(client: TestClient, nonce: str, bundle: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/verify", json={"nonce": nonce, "evidence": bundle})
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    jsonschema.validate(report, report_schema())
    return report


def _check(report: dict[str, Any], check_id: str) -> dict[str, str]:
    return next(check for check in report["checks"] if check["id"] == check_id)


def test_nonce_read_verify_is_valid_and_a_replay_is_invalid(client: TestClient, image: CardImage) -> None:
    nonce = _nonce(client)
    bundle = _bundle(image, nonce)
    report = _verify(client, nonce, bundle)
    assert report["verdict"] == "valid", report["summary"]
    assert _check(report, "live.chip_proven")["status"] == "pass"
    replay = _verify(client, nonce, bundle)
    assert replay["verdict"] == "invalid"
    assert "already used" in _check(replay, "live.aa_challenge")["reason"]


def test_a_bundle_for_another_nonce_or_an_unissued_one_is_invalid(client: TestClient, image: CardImage) -> None:
    issued, other = _nonce(client), _nonce(client)
    bundle = _bundle(image, issued)
    report = _verify(client, other, bundle)
    assert report["verdict"] == "invalid"
    assert "another challenge" in _check(report, "live.aa_challenge")["reason"]
    made_up = "00112233445566AA"
    report = _verify(client, made_up, _bundle(image, made_up))
    assert report["verdict"] == "invalid"
    assert "not issued by this verifier" in _check(report, "live.aa_challenge")["reason"]


def test_a_swapped_dg1_is_invalid(client: TestClient, image: CardImage) -> None:
    nonce = _nonce(client)
    bundle = _bundle(image, nonce)
    bundle["files"]["DG1"] = base64.b64encode(sample_card_image(8).files["DG1"]).decode("ascii")
    report = _verify(client, nonce, bundle)
    assert report["verdict"] == "invalid"
    assert _check(report, "hash.DG1")["status"] == "fail"


def test_bad_requests_are_refused_with_the_reason(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    response = client.post("/verify", content=b"not json")
    assert response.status_code == 400 and "not JSON" in response.json()["error"]
    response = client.post("/verify", json={"nonce": "12", "evidence": {}})
    assert response.status_code == 400 and "nonce" in response.json()["error"]
    response = client.post("/verify", json={"nonce": "0011223344556677", "evidence": {"format": "x"}})
    assert response.status_code == 400 and "not a cardlib evidence bundle" in response.json()["error"]
    monkeypatch.setattr(cardlib.service, "MAX_EVIDENCE_BYTES", 100)
    response = client.post("/verify", content=json.dumps({"nonce": "00" * 8, "evidence": "x" * 200}))
    assert response.status_code == 413 and "MAX_EVIDENCE_BYTES" in response.json()["error"]
    assert client.get("/nonce").status_code == 405


def test_a_full_nonce_store_answers_503(trust: TrustStore) -> None:
    with TestClient(create_app(trust, nonces=NonceStore(capacity=1))) as client:
        assert client.post("/nonce").status_code == 200
        response = client.post("/nonce")
        assert response.status_code == 503 and "MAX_PENDING_NONCES" in response.json()["error"]


def test_served_by_uvicorn(trust: TrustStore, image: CardImage) -> None:
    server = uvicorn.Server(uvicorn.Config(create_app(trust), host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            nonce = http.post("/nonce").json()["nonce"]
            report = http.post("/verify", json={"nonce": nonce, "evidence": _bundle(image, nonce)}).json()
        assert report["verdict"] == "valid", report["summary"]
    finally:
        server.should_exit = True
        thread.join(10)
