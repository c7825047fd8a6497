"""A small verification service for "read here, verify there" (ASGI, Starlette; ``pip install cardlib[service]``).

``POST /nonce`` issues a single-use challenge that expires (``{"nonce": hex, "expires_in": seconds}``);
``POST /verify`` takes ``{"nonce": hex, "evidence": <bundle>}`` (:mod:`cardlib.evidence`) and answers the
verification report as JSON (``cardlib/schemas/report.schema.json``) with status 200 whatever the verdict.
The nonce is consumed by the first bundle that answers it: a replayed bundle, a bundle answering another
challenge, or a nonce this service never issued (or that expired) is "invalid" with ``live.aa_challenge``
saying which.  A body over :data:`~cardlib.limits.MAX_EVIDENCE_BYTES` is refused with 413, a malformed one
with 400 naming what is wrong, a nonce store full of pending nonces with 503.

Run it: ``python -m cardlib.service --trust csca.pem crl.pem [--host 127.0.0.1] [--port 8480]`` (uvicorn),
or mount :func:`create_app` in any ASGI server.  It keeps nothing but the pending nonces; put it behind TLS.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cardlib.errors import CardlibError, DecodeError
from cardlib.evidence.bundle import Evidence
from cardlib.evidence.nonces import CHALLENGE_LENGTH, NonceStore
from cardlib.evidence.verification import verify_evidence
from cardlib.limits import MAX_EVIDENCE_BYTES, LimitExceeded
from cardlib.pki.trust import TrustStore

DEFAULT_PORT = 8480


class _RequestError(Exception):
    """A request the service refuses: its HTTP status and the reason sent back."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def create_app(trust: TrustStore, *, nonces: NonceStore | None = None) -> Starlette:
    """The ASGI app verifying bundles against ``trust`` with challenges from ``nonces`` (default: a new store)."""
    if not isinstance(trust, TrustStore):
        raise TypeError(f"create_app(): trust must be a TrustStore, got {type(trust).__name__}")
    store = nonces if nonces is not None else NonceStore()

    async def issue_nonce(request: Request) -> JSONResponse:
        try:
            nonce = store.issue()
        except LimitExceeded as exc:
            return JSONResponse({"error": str(exc)}, status_code=503, headers={"Retry-After": "10"})
        return JSONResponse({"nonce": nonce.hex().upper(), "expires_in": store.lifetime})

    async def verify_bundle(request: Request) -> JSONResponse:
        try:
            nonce, evidence = _parse(await _body(request))
        except _RequestError as exc:
            return JSONResponse({"error": exc.reason}, status_code=exc.status)
        report = await run_in_threadpool(verify_evidence, evidence, trust, expected_challenge=store.redeemer(nonce),
                                         source="evidence")
        return JSONResponse(report.to_dict())

    return Starlette(routes=[Route("/nonce", issue_nonce, methods=["POST"]),
                             Route("/verify", verify_bundle, methods=["POST"])])


async def _body(request: Request) -> bytes:
    """The request body, refused (413) as soon as it passes the evidence budget."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_EVIDENCE_BYTES:
        raise _RequestError(413, str(LimitExceeded("MAX_EVIDENCE_BYTES", "the request body", MAX_EVIDENCE_BYTES,
                                                   int(declared))))
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_EVIDENCE_BYTES:
            raise _RequestError(413, str(LimitExceeded("MAX_EVIDENCE_BYTES", "the request body",
                                                       MAX_EVIDENCE_BYTES)))
    return bytes(body)


def _parse(body: bytes) -> tuple[bytes, Evidence]:
    """The nonce and the bundle of a /verify body; 400 naming what is malformed."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _RequestError(400, 'the body is not JSON: send {"nonce": "<hex>", "evidence": {...}}') from None
    if not isinstance(document, dict):
        raise _RequestError(400, 'the body is not a JSON object: send {"nonce": "<hex>", "evidence": {...}}')
    text = document.get("nonce")
    try:
        nonce = bytes.fromhex(text) if isinstance(text, str) else b""
    except ValueError:
        nonce = b""
    if len(nonce) != CHALLENGE_LENGTH:
        raise _RequestError(400, f"nonce: the {CHALLENGE_LENGTH}-byte challenge from POST /nonce, in hex, expected")
    try:
        return nonce, Evidence.from_dict(document.get("evidence"))
    except (DecodeError, LimitExceeded) as exc:
        raise _RequestError(400, str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m cardlib.service``: serve the app with uvicorn until interrupted."""
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m cardlib.service", description=__doc__.split("\n")[0])
    parser.add_argument("--trust", type=Path, nargs="+", required=True,
                        help="CSCA certificates, CRLs, master lists: files or folders")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    args = parser.parse_args(argv)
    try:
        trust = TrustStore.load(*args.trust)
    except CardlibError as exc:
        parser.error(str(exc))
    uvicorn.run(create_app(trust), host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
