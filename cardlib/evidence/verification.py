"""Verifying an evidence bundle offline: every check of :func:`~cardlib.verify.verifier.verify` over its files,
plus the ``live.*`` checks of what only a live chip could have produced (the security argument is in
:mod:`cardlib.evidence`).
"""

from __future__ import annotations

import hmac
from datetime import datetime

from cardlib.card.image import CardImage
from cardlib.errors import CardlibError, ProtocolError
from cardlib.evidence.bundle import Evidence
from cardlib.evidence.nonces import ChallengeCheck
from cardlib.lds.cardsecurity import CardSecurity
from cardlib.lds.dg15 import DG15
from cardlib.lds.securityinfo import DG14
from cardlib.pki.trust import TrustStore
from cardlib.protocols.aa import aa_verify
from cardlib.protocols.ca import check_transcript
from cardlib.protocols.pace import PACEParameters
from cardlib.protocols.pace.cam import keys_on, verify_proof
from cardlib.verify.report import CheckResult, Group, Status, VerificationReport
from cardlib.verify.verifier import CHIP_PROVEN, LivenessPolicy, LiveResults, verify

__all__ = ["AA_CHALLENGE", "CA_TRANSCRIPT", "verify_evidence"]

AA_CHALLENGE = "live.aa_challenge"
CA_TRANSCRIPT = "live.ca_transcript"


def verify_evidence(
    bundle: Evidence | str | bytes,
    trust: TrustStore,
    *,
    expected_challenge: bytes | ChallengeCheck | None,
    at: datetime | None = None,
    source: str = "evidence",
) -> VerificationReport:
    """Every check of :func:`~cardlib.verify.verifier.verify` over the bundle's files, plus its live evidence.

    ``expected_challenge`` is the nonce the verifier issued for this read, or a :data:`.nonces.ChallengeCheck` (such as
    :meth:`.nonces.NonceStore.redeemer`) that says whether the bundle's challenge was issued and is unused; None means
    the verifier issued none, so a recorded answer cannot be ruled out ("cannot tell").  Valid needs the chip
    proven live by Active Authentication over that challenge (:mod:`cardlib.evidence`).  A malformed bundle raises
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
