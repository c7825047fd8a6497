"""Read here, verify there: an evidence bundle a reader produces and a verifier elsewhere re-checks offline.

The most common deployment reads the chip on one machine (a phone, a counter PC, a kiosk) and decides on a
server.  A dump proves nothing about the chip (it can be copied), so the bundle carries what only a live
chip could have produced, bound to a challenge the verifier chose:

1. the verifier issues a single-use nonce (:class:`NonceStore`);
2. the reader reads with it as the Active Authentication challenge (``read_card(..., aa_challenge=nonce)``)
   and sends :meth:`Evidence.from_read` as JSON (:meth:`Evidence.to_json`);
3. the verifier calls :func:`verify_evidence`, which re-checks everything: passive authentication of the
   files, the AA signature with DG15's key over the challenge, that the challenge is the one it issued
   (``live.aa_challenge``), the Chip Authentication transcript against DG14's key (``live.ca_transcript``),
   and a PACE-CAM proof against EF.CardSecurity's key (``live.pace_cam``).

Format (version :data:`EVIDENCE_VERSION`; JSON schema ``cardlib/schemas/evidence.schema.json``, see
:func:`evidence_schema`): ``format`` "cardlib-evidence", ``version``, ``created`` (the reader's clock, only
informative), ``access`` (PACE-CAN, PACE-MRZ, BAC), ``files`` (name → base64 of the file as read),
``protected_files`` (files the chip refused), ``chip_authentication`` (protocol OID, key id, the terminal's
ephemeral public and private key, and the protected responses after the key switch: SSC, data objects,
status word), ``active_authentication`` (challenge and signature) and, optional (absent or null when the chip
was not opened with PACE-CAM; a version 1 bundle without it stays valid), ``pace_cam`` (protocol OID,
parameter ID, the chip's mapping public key and decrypted chip authentication data: :class:`CAMProof`).  The
version changes when a field is removed or changes meaning.  The bundle holds no reader secret: no CAN or MRZ,
no BAC/PACE session keys.

Security argument.  *Active Authentication* is what proves a live chip to a remote verifier: only the holder
of DG15's private key (inside the chip; DG15 itself is signed by the issuer through the SOD) can sign the
verifier's fresh nonce, so a recorded bundle cannot answer a new nonce (``live.aa_challenge`` fails on a
replay, a foreign or an expired nonce).  *Chip Authentication* is re-checked but does not, alone, prove
liveness to anyone but the terminal: its MACs come from K, the ECDH secret of the terminal's ephemeral key
and DG14's key, and the verifier can recompute K only because the bundle reveals the ephemeral private key;
whoever holds that key (the reader, or anyone forging a bundle from a dump) can compute the same MACs.  What
the transcript does prove is consistency: the session keys were agreed with *this* DG14 key and the AA
signature was received inside that session (a transcript that does not fit the chip key, or an AA answer
taken from another session, fails ``live.ca_transcript``).  Revealing the ephemeral key is safe once the
session is over: it opens only that session's traffic (the SELECT and AA answers, whose content the bundle
carries anyway; cardlib reads every file before Chip Authentication), never the chip's key, the CAN/MRZ
or the BAC/PACE keys.  So ``live.chip_proven`` passes only on an AA signature over the expected challenge;
a chip without DG15 gives "cannot tell" here (CA-only remote liveness needs the verifier to take part in the
key agreement: not done).  *PACE-CAM* is re-checked the same way and for the same reason proves consistency
only: PK_Map,IC = CA_IC · PK_IC with EF.CardSecurity's key (whose signature ``cardsecurity.*`` checks), but
anyone can choose CA_IC and compute PK_Map,IC, so it never makes ``live.chip_proven`` pass here.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from cardlib.card.image import CardImage
from cardlib.errors import CardlibError, DecodeError, ProtocolError
from cardlib.lds.cardsecurity import CardSecurity
from cardlib.lds.dg15 import DG15
from cardlib.lds.files import by_name
from cardlib.lds.securityinfo import DG14
from cardlib.limits import (
    MAX_EVIDENCE_BYTES,
    MAX_EVIDENCE_RESPONSES,
    MAX_FILE_BYTES,
    MAX_PENDING_NONCES,
    LimitExceeded,
)
from cardlib.pki.trust import TrustStore
from cardlib.protocols.aa import aa_verify
from cardlib.protocols.ca import CATranscript, ProtectedResponse, check_transcript
from cardlib.protocols.pace import PACEParameters
from cardlib.protocols.pace.cam import CAMProof, keys_on, verify_proof
from cardlib.reader.reader import ReadResult
from cardlib.verify.report import CheckResult, Group, Status, VerificationReport
from cardlib.verify.verifier import CHIP_PROVEN, LivenessPolicy, LiveResults, verify

EVIDENCE_FORMAT = "cardlib-evidence"
EVIDENCE_VERSION = 1
SCHEMA_RESOURCE = "schemas/evidence.schema.json"
CHALLENGE_LENGTH = 8  # ICAO 9303-11 §6.1: the Active Authentication challenge RND.IFD
AA_CHALLENGE = "live.aa_challenge"
CA_TRANSCRIPT = "live.ca_transcript"
ChallengeCheck = Callable[[bytes], str | None]
"""Given the bundle's challenge: None when the verifier issued it and it is still good (consuming it), else why not."""


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


# --- verification ------------------------------------------------------------------------------------------

def verify_evidence(
    bundle: Evidence | str | bytes,
    trust: TrustStore,
    *,
    expected_challenge: bytes | ChallengeCheck | None,
    at: datetime | None = None,
    source: str = "evidence",
) -> VerificationReport:
    """Every check of :func:`~cardlib.verify.verifier.verify` over the bundle's files, plus its live evidence.

    ``expected_challenge`` is the nonce the verifier issued for this read, or a :data:`ChallengeCheck` (such as
    :meth:`NonceStore.redeemer`) that says whether the bundle's challenge was issued and is unused; None means
    the verifier issued none, so a recorded answer cannot be ruled out ("cannot tell").  Valid needs the chip
    proven live by Active Authentication over that challenge (module docstring).  A malformed bundle raises
    DecodeError/LimitExceeded; bad evidence is a FAIL naming the check.
    """
    evidence = bundle if isinstance(bundle, Evidence) else Evidence.from_json(bundle)
    image = CardImage(evidence.files)
    aa_outcome = _aa_outcome(evidence)
    challenge = _challenge_check(evidence, expected_challenge)
    transcript, ca_outcome = _ca_check(evidence)
    live = LiveResults(chip_authentication=ca_outcome, active_authentication=aa_outcome,
                       pace_cam=_cam_outcome(evidence), protected_files=frozenset(evidence.protected_files))
    report = verify(image, trust, at=at, live=live, source=source, policy=LivenessPolicy.NEVER)
    proven = _proven(aa_outcome[0] is True and challenge.status is Status.PASS)
    checks = [check for check in report.checks if check.id != CHIP_PROVEN]
    return VerificationReport.of(source, [*checks, challenge, transcript, proven], report.holder)


def _live(check_id: str, status: Status, reason: str) -> CheckResult:
    return CheckResult(check_id, Group.LIVE, status, reason)


def _aa_outcome(evidence: Evidence) -> tuple[bool | None, str]:
    """(passed, reason) of the AA signature checked with DG15's key over the bundle's challenge."""
    aa, dg15 = evidence.active_authentication, evidence.files.get("DG15")
    if aa is None:
        return None, "the evidence carries no Active Authentication answer"
    if dg15 is None:
        return None, "the evidence carries an Active Authentication answer but no DG15 to check it with"
    try:
        key = DG15.decode(dg15).public_key.cryptography_key()
    except CardlibError as exc:
        return None, f"DG15 does not decode: {exc}"
    if key is None:
        return None, "the DG15 key's curve is not supported for signature checks"
    result = aa_verify(key, aa.challenge, aa.signature)
    return result.ok, f"{result.reason} (the signature over the bundle's challenge, with DG15's key)"


def _challenge_check(evidence: Evidence, expected: bytes | ChallengeCheck | None) -> CheckResult:
    """``live.aa_challenge``: the AA challenge is the verifier's own, fresh one."""
    aa = evidence.active_authentication
    if aa is None:
        return _live(AA_CHALLENGE, Status.NOT_APPLICABLE, "no Active Authentication answer in the evidence")
    shown = aa.challenge.hex().upper()
    if expected is None:
        return _live(AA_CHALLENGE, Status.UNKNOWN, f"no expected challenge was given: the answer to {shown} may "
                     "be a recorded one (issue a nonce and read with it as aa_challenge)")
    if isinstance(expected, bytes):
        if hmac.compare_digest(expected, aa.challenge):
            return _live(AA_CHALLENGE, Status.PASS, f"the chip signed the expected challenge {shown}")
        return _live(AA_CHALLENGE, Status.FAIL, f"the chip signed {shown}, not the expected challenge "
                     f"{expected.hex().upper()}: a replayed or foreign bundle")
    refusal = expected(aa.challenge)
    if refusal is None:
        return _live(AA_CHALLENGE, Status.PASS, f"the chip signed {shown}, a challenge this verifier issued")
    return _live(AA_CHALLENGE, Status.FAIL, f"the chip signed {shown}: {refusal}")


def _ca_check(evidence: Evidence) -> tuple[CheckResult, tuple[bool | None, str]]:
    """``live.ca_transcript`` and the Chip Authentication outcome it gives."""
    transcript = evidence.chip_authentication
    if transcript is None:
        reason = "the evidence carries no Chip Authentication transcript"
        return _live(CA_TRANSCRIPT, Status.NOT_APPLICABLE, reason), (None, reason)
    dg14 = evidence.files.get("DG14")
    if dg14 is None:
        reason = "a Chip Authentication transcript but no DG14 to check it against"
        return _live(CA_TRANSCRIPT, Status.UNKNOWN, reason), (None, reason)
    try:
        infos = DG14.decode(dg14).chip_authentication_public_key_infos
    except CardlibError as exc:
        reason = f"DG14 does not decode, so the transcript cannot be checked: {exc}"
        return _live(CA_TRANSCRIPT, Status.UNKNOWN, reason), (None, reason)
    key = next((info for info in infos if transcript.key_id in (None, info.key_id)), None)
    if key is None:
        reason = f"DG14 has no Chip Authentication key with key id {transcript.key_id}"
        return _live(CA_TRANSCRIPT, Status.FAIL, reason), (False, reason)
    try:
        plain = check_transcript(transcript, key.public_key)
    except ProtocolError as exc:
        reason = f"the transcript does not fit the chip's DG14 key: {exc}"
        return _live(CA_TRANSCRIPT, Status.FAIL, reason), (False, reason)
    aa = evidence.active_authentication
    if aa is not None and all(response.data != aa.signature for response in plain):
        reason = "the Active Authentication answer was not received in the chip-authenticated session"
        return _live(CA_TRANSCRIPT, Status.FAIL, reason), (False, reason)
    reason = (f"{len(plain)} response(s) after the key switch verify under keys agreed with DG14's key; this shows "
              "consistency, not liveness (the revealed ephemeral key could compute them)")
    return _live(CA_TRANSCRIPT, Status.PASS, reason), (True, "the transcript fits the DG14 key")


def _cam_outcome(evidence: Evidence) -> tuple[bool | None, str]:
    """(passed, reason) of the PACE-CAM proof against EF.CardSecurity's Chip Authentication keys on its curve:
    None (cannot tell) without a proof, without EF.CardSecurity or without a key to check it with."""
    proof = evidence.pace_cam
    if proof is None:
        return None, "the evidence carries no PACE-CAM proof"
    try:
        curve = PACEParameters(proof.protocol, proof.parameter_id).curve
    except CardlibError as exc:
        return None, f"the PACE-CAM proof names no PACE-CAM protocol cardlib knows: {exc}"
    card_security = evidence.files.get("EF.CardSecurity")
    if card_security is None:
        return None, "a PACE-CAM proof but no EF.CardSecurity to check it against"
    try:
        keys = CardSecurity.decode(card_security).chip_authentication_keys
    except CardlibError as exc:
        return None, f"EF.CardSecurity does not decode, so the PACE-CAM proof cannot be checked: {exc}"
    candidates = keys_on(curve, (info.public_key for info in keys))
    if not candidates:
        return None, f"EF.CardSecurity holds no Chip Authentication key on {curve.name}"
    try:
        verify_proof(curve, proof, candidates)
    except ProtocolError as exc:
        return False, f"the PACE-CAM proof does not fit EF.CardSecurity's key: {exc}"
    return True, ("the PACE-CAM proof fits EF.CardSecurity's key (re-checked here; this shows consistency, not "
                  "liveness: anyone can compute such a pair)")


def _proven(proven: bool) -> CheckResult:
    if proven:
        return _live(CHIP_PROVEN, Status.PASS, "the chip proved itself live: Active Authentication over the "
                     "verifier's challenge")
    return _live(CHIP_PROVEN, Status.UNKNOWN, "the evidence does not prove a live chip: that needs a verified "
                 "Active Authentication over the verifier's own challenge (a Chip Authentication transcript "
                 "cannot prove it to a third party)")


# --- nonces ------------------------------------------------------------------------------------------------

class NonceStore:
    """Single-use challenges that expire after ``lifetime`` seconds, at most ``capacity`` pending (thread-safe).

    :meth:`issue` gives a fresh 8-byte nonce (LimitExceeded when ``capacity`` are pending and none expired:
    a flood cannot push out the nonces of genuine clients); :meth:`redeem` consumes it.
    """

    def __init__(self, *, lifetime: float = 120.0, capacity: int = MAX_PENDING_NONCES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.lifetime = lifetime
        self.capacity = capacity
        self._clock = clock
        self._pending: dict[bytes, float] = {}  # nonce → when it expires, oldest first
        self._lock = threading.Lock()

    def issue(self) -> bytes:
        """A new nonce, pending until redeemed or expired."""
        with self._lock:
            now = self._clock()
            self._drop_expired(now)
            if len(self._pending) >= self.capacity:
                raise LimitExceeded("MAX_PENDING_NONCES", "the challenges issued and not yet used", self.capacity)
            nonce = secrets.token_bytes(CHALLENGE_LENGTH)
            self._pending[nonce] = now + self.lifetime
            return nonce

    def redeem(self, nonce: bytes) -> str | None:
        """Consume ``nonce``: None when it was issued here and is still good, else why it is not."""
        with self._lock:
            expires = self._pending.pop(nonce, None)
            if expires is None:
                return "this challenge was not issued by this verifier, or was already used (a replay)"
            if self._clock() >= expires:
                return f"this challenge expired ({self.lifetime:g} s after it was issued)"
            return None

    def redeemer(self, nonce: bytes) -> ChallengeCheck:
        """A :data:`ChallengeCheck` for a client that says it answers ``nonce``: consumes it, and refuses a bundle
        whose challenge is another one."""
        def check(challenge: bytes) -> str | None:
            refusal = self.redeem(nonce)
            if refusal is None and not hmac.compare_digest(nonce, challenge):
                return f"the evidence answers another challenge than the nonce {nonce.hex().upper()} it came with"
            return refusal
        return check

    def _drop_expired(self, now: float) -> None:
        while self._pending:
            nonce, expires = next(iter(self._pending.items()))
            if expires > now:
                return
            del self._pending[nonce]
