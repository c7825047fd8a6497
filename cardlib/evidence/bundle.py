"""The evidence bundle (format ``cardlib-evidence``, version :data:`EVIDENCE_VERSION`): what a reader sends a
verifier, and its JSON form (JSON schema ``cardlib/schemas/evidence.schema.json``, :func:`evidence_schema`).

Reading a bundle is strict and bounded: anything malformed or of another version is a
:class:`~cardlib.errors.DecodeError` naming the JSON path, anything over its budget a
:class:`~cardlib.limits.LimitExceeded`.  The package docstring (:mod:`cardlib.evidence`) describes the fields
and what each proves.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from cardlib.errors import DecodeError
from cardlib.lds.files import by_name
from cardlib.limits import MAX_EVIDENCE_BYTES, MAX_EVIDENCE_RESPONSES, MAX_FILE_BYTES, LimitExceeded
from cardlib.protocols.ca import CATranscript, ProtectedResponse
from cardlib.protocols.pace.cam import CAMProof
from cardlib.reader.reader import ReadResult

__all__ = ["EVIDENCE_FORMAT", "EVIDENCE_VERSION", "ActiveAuthEvidence", "Evidence", "evidence_schema"]

EVIDENCE_FORMAT = "cardlib-evidence"
EVIDENCE_VERSION = 1
SCHEMA_RESOURCE = "schemas/evidence.schema.json"


def evidence_schema() -> dict[str, Any]:
    """The JSON schema (draft 2020-12) every :meth:`Evidence.to_json` document satisfies."""
    schema: dict[str, Any] = json.loads(resources.files("cardlib").joinpath(SCHEMA_RESOURCE).read_text("utf-8"))
    return schema


@dataclass(frozen=True)
class ActiveAuthEvidence:
    """The challenge the chip was asked to sign and its signature."""

    challenge: bytes
    signature: bytes


@dataclass(frozen=True)
class Evidence:
    """What a reader sends a verifier: the files read, how the chip was opened, the CA transcript, the AA answer."""

    files: Mapping[str, bytes]
    access: str
    protected_files: tuple[str, ...] = ()
    chip_authentication: CATranscript | None = None
    active_authentication: ActiveAuthEvidence | None = None
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    pace_cam: CAMProof | None = None

    @classmethod
    def from_read(cls, read: ReadResult) -> Evidence:
        """The evidence of a finished read (its CA transcript only when CA passed; its AA answer when one came; its
        PACE-CAM proof as received when PACE-CAM completed, whatever the reader's check gave)."""
        if not isinstance(read, ReadResult):
            raise TypeError(f"Evidence.from_read(): read must be the ReadResult of read_card, got "
                            f"{type(read).__name__}")
        aa = read.active_auth
        answer = ActiveAuthEvidence(aa.challenge, aa.signature) if aa.signature else None
        return cls(dict(read.dump.files), read.access, read.protected_files, read.chip_auth.transcript, answer,
                   pace_cam=read.pace_cam.cam_proof)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (bytes in base64), per :func:`evidence_schema`."""
        ca, aa = self.chip_authentication, self.active_authentication
        return {
            "format": EVIDENCE_FORMAT, "version": EVIDENCE_VERSION, "created": self.created, "access": self.access,
            "files": {name: _b64(data) for name, data in self.files.items()},
            "protected_files": list(self.protected_files),
            "chip_authentication": None if ca is None else {
                "protocol": ca.protocol, "key_id": ca.key_id,
                "terminal_public_key": _b64(ca.terminal_public_key),
                "terminal_private_key": _b64(ca.terminal_private_key),
                "responses": [{"ssc": r.ssc, "data": _b64(r.data), "sw": f"{r.sw:04X}"} for r in ca.responses],
            },
            "active_authentication": None if aa is None else {
                "challenge": _b64(aa.challenge), "signature": _b64(aa.signature)},
            "pace_cam": None if self.pace_cam is None else {
                "protocol": self.pace_cam.protocol, "parameter_id": self.pace_cam.parameter_id,
                "chip_mapping_public_key": _b64(self.pace_cam.mapping_public_key),
                "chip_authentication_data": _b64(self.pace_cam.data)},
        }

    def to_json(self) -> str:
        """The bundle as a JSON document."""
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_json(cls, document: str | bytes) -> Evidence:
        """A bundle from its JSON; LimitExceeded over :data:`~cardlib.limits.MAX_EVIDENCE_BYTES`, DecodeError
        (``file`` "evidence", ``field`` the JSON path) for anything malformed or of another version."""
        if not isinstance(document, str | bytes):
            raise TypeError(f"Evidence.from_json(): a str or bytes document expected, got {type(document).__name__}")
        if len(document) > MAX_EVIDENCE_BYTES:
            raise LimitExceeded("MAX_EVIDENCE_BYTES", "the evidence bundle", MAX_EVIDENCE_BYTES, len(document))
        try:
            value = json.loads(document)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DecodeError(f"not JSON: {exc}", file="evidence") from None
        return cls.from_dict(value)

    @classmethod
    def from_dict(cls, value: object) -> Evidence:
        """A bundle from its decoded JSON (see :meth:`from_json`)."""
        top = _object(value, "")
        if top.get("format") != EVIDENCE_FORMAT:
            raise _bad("format", f"not a cardlib evidence bundle (format {top.get('format')!r})")
        if top.get("version") != EVIDENCE_VERSION:
            raise _bad("version", f"evidence version {top.get('version')!r} is not supported (this cardlib reads "
                                  f"version {EVIDENCE_VERSION})")
        files = {name: _file(name, data) for name, data in _object(top.get("files"), "files").items()}
        protected = _list(top.get("protected_files", []), "protected_files")
        return cls(files, _text(top.get("access"), "access"),
                   tuple(_text(name, "protected_files[]") for name in protected),
                   _transcript(top.get("chip_authentication")), _aa(top.get("active_authentication")),
                   _text(top.get("created", ""), "created"), _cam(top.get("pace_cam")))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _bad(where: str, reason: str) -> DecodeError:
    return DecodeError(reason, file="evidence", field=where or None)


def _object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(where, "a JSON object expected")
    return value


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _bad(where, "a JSON array expected")
    return value


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise _bad(where, "a string expected")
    return value


def _bytes(value: object, where: str) -> bytes:
    try:
        return base64.b64decode(_text(value, where), validate=True)
    except binascii.Error:
        raise _bad(where, "not base64") from None


def _file(name: str, data: object) -> bytes:
    try:
        by_name(name)
    except KeyError:
        raise _bad(f"files.{name}", "no LDS file has this name (use names like 'DG1', 'EF.SOD')") from None
    content = _bytes(data, f"files.{name}")
    if len(content) > MAX_FILE_BYTES:
        raise LimitExceeded("MAX_FILE_BYTES", f"{name} in the evidence bundle", MAX_FILE_BYTES, len(content))
    return content


def _transcript(value: object) -> CATranscript | None:
    if value is None:
        return None
    ca = _object(value, "chip_authentication")
    key_id = ca.get("key_id")
    if key_id is not None and (not isinstance(key_id, int) or isinstance(key_id, bool) or key_id < 0):
        raise _bad("chip_authentication.key_id", "a non-negative integer or null expected")
    responses = _list(ca.get("responses"), "chip_authentication.responses")
    if len(responses) > MAX_EVIDENCE_RESPONSES:
        raise LimitExceeded("MAX_EVIDENCE_RESPONSES", "the Chip Authentication transcript", MAX_EVIDENCE_RESPONSES,
                            len(responses))
    return CATranscript(_text(ca.get("protocol"), "chip_authentication.protocol"), key_id,
                        _bytes(ca.get("terminal_public_key"), "chip_authentication.terminal_public_key"),
                        _bytes(ca.get("terminal_private_key"), "chip_authentication.terminal_private_key"),
                        tuple(_response(item, n) for n, item in enumerate(responses)))


def _response(value: object, number: int) -> ProtectedResponse:
    where = f"chip_authentication.responses[{number}]"
    item = _object(value, where)
    ssc, sw = item.get("ssc"), _text(item.get("sw"), f"{where}.sw")
    if not isinstance(ssc, int) or isinstance(ssc, bool) or not 0 < ssc < 1 << 128:
        raise _bad(f"{where}.ssc", "a positive send sequence counter expected")
    if len(sw) != 4 or any(c not in "0123456789abcdefABCDEF" for c in sw):
        raise _bad(f"{where}.sw", "a status word of 4 hex digits expected")
    return ProtectedResponse(ssc, _bytes(item.get("data"), f"{where}.data"), int(sw, 16))


def _aa(value: object) -> ActiveAuthEvidence | None:
    if value is None:
        return None
    aa = _object(value, "active_authentication")
    return ActiveAuthEvidence(_bytes(aa.get("challenge"), "active_authentication.challenge"),
                              _bytes(aa.get("signature"), "active_authentication.signature"))


def _cam(value: object) -> CAMProof | None:
    if value is None:
        return None
    cam = _object(value, "pace_cam")
    parameter_id = cam.get("parameter_id")
    if not isinstance(parameter_id, int) or isinstance(parameter_id, bool) or not 0 <= parameter_id <= 31:
        raise _bad("pace_cam.parameter_id", "a standardized domain parameter ID (0-31) expected")
    return CAMProof(_text(cam.get("protocol"), "pace_cam.protocol"), parameter_id,
                    _bytes(cam.get("chip_mapping_public_key"), "pace_cam.chip_mapping_public_key"),
                    _bytes(cam.get("chip_authentication_data"), "pace_cam.chip_authentication_data"))
