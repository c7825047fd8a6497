"""The work QA does for one card, wherever it runs (this process, a worker process, a Dask worker).

:func:`check_item` loads a card, verifies it with :func:`cardlib.verify.verifier.verify` and returns a
:class:`CheckedCard`: the outcome plus the SHA-256 of every file, which batch accounting compares with
what was meant to be personalized.  Cards that do not verify valid get a portrait thumbnail.  Each outcome
names the Document Signer its SOD carries (:func:`document_signer`), so a report says which signers a batch saw.
:func:`check_chunk` is the task sent to workers: each worker process loads the trust store once.
"""

from __future__ import annotations

import base64
import hashlib
import io
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from PIL import Image

from cardlib.batch.outcome import CardOutcome
from cardlib.batch.sources import BatchItem
from cardlib.card.image import CardImage
from cardlib.errors import CardlibError
from cardlib.lds.dg2 import DG2
from cardlib.lds.sod import SOD
from cardlib.pki.certificates import Certificate
from cardlib.pki.trust import TrustStore
from cardlib.verify.report import VerificationReport
from cardlib.verify.verifier import PROTECTED_IN_DUMPS, verification

THUMBNAIL_SIZE = (72, 96)
THUMBNAIL_QUALITY = 60


@dataclass(frozen=True)
class CheckedCard:
    """A card's outcome, the SHA-256 (hex) of each file it holds (empty when it could not be loaded), and
    the files it may lack without differing from its image (DG3, which chips refuse without Terminal
    Authentication).
    """

    outcome: CardOutcome
    file_hashes: Mapping[str, str] = field(default_factory=dict)
    protected: frozenset[str] = PROTECTED_IN_DUMPS
    dg2: bytes | None = field(default=None, repr=False)

    def portrait_for(self, outcome: CardOutcome) -> CardOutcome:
        """``outcome`` (this card's, after batch findings) with a thumbnail if it failed and has none yet.

        The portrait comes from :attr:`dg2` when the card was read here, else from the card folder the
        outcome is keyed by: only failing cards pay for it.
        """
        if outcome.passed or outcome.thumbnail:
            return outcome
        dg2 = self.dg2
        if dg2 is None and Path(outcome.key).is_dir():
            try:
                dg2 = CardImage.load(Path(outcome.key)).file("DG2")
            except CardlibError:
                return outcome
        return replace(outcome, thumbnail=thumbnail(dg2))


def file_hashes(files: Mapping[str, bytes]) -> dict[str, str]:
    """SHA-256 of each file, as the card image manifest (``card.json``) records them."""
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}


def thumbnail(dg2: bytes | None) -> str:
    """A small JPEG of the first DG2 portrait, base64; ``""`` when there is none or it does not decode."""
    if dg2 is None:
        return ""
    try:
        picture = DG2.decode(dg2).faces[0].to_pil()
        picture.thumbnail(THUMBNAIL_SIZE, Image.Resampling.BILINEAR)
        buffer = io.BytesIO()
        picture.convert("RGB").save(buffer, "JPEG", quality=THUMBNAIL_QUALITY)
    except (CardlibError, IndexError, OSError, ValueError):
        return ""
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def describe_certificate(certificate: Certificate) -> str:
    """A certificate as a person compares it with another: subject, serial number and key identifier (public)."""
    key_id = certificate.subject_key_identifier.hex(":") if certificate.subject_key_identifier else "none"
    return f"{certificate.subject}; serial {certificate.serial_number:X}; key id {key_id}"


def document_signer(files: Mapping[str, bytes], sod: SOD | None = None) -> str:
    """The Document Signer certificate the card's EF.SOD carries (the one its SignerInfo names, else the first),
    described by :func:`describe_certificate`; ``""`` when the SOD or its certificate cannot be decoded
    (verification says why).  ``sod`` is that EF.SOD when the caller has already decoded it."""
    try:
        sod = sod if sod is not None else SOD.decode(files["EF.SOD"])
        named = [entry for entry in sod.signer_certificates if sod.sid.matches(entry)]
        return _described((named or list(sod.signer_certificates))[0].der)
    except (CardlibError, KeyError, IndexError, ValueError):
        return ""


@lru_cache(maxsize=64)
def _described(der: bytes) -> str:
    """One parse per distinct certificate: a batch has a handful of signers and thousands of cards."""
    return describe_certificate(Certificate.from_der(der))


def outcome_of(report: VerificationReport, files: Mapping[str, bytes], *, sod: SOD | None = None,
               **fields: Any) -> CardOutcome:
    """The outcome of a verification report, with its Document Signer (from ``sod``, the EF.SOD verification
    decoded, when given), and a thumbnail when the card did not verify valid."""
    picture = "" if report.verdict.value == "valid" else thumbnail(files.get("DG2"))
    return CardOutcome.of(report.source, report, thumbnail=picture, signer=document_signer(files, sod), **fields)


def check_item(item: BatchItem, trust: TrustStore, at: datetime) -> CheckedCard:
    """Load and verify one card as of ``at``; a card that cannot be loaded becomes an ``error`` outcome."""
    started = time.perf_counter()
    try:
        image = item.load()
    except CardlibError as exc:
        return CheckedCard(CardOutcome.error(item.label, str(exc), key=item.key))
    loaded = time.perf_counter()
    verified = verification(image, trust, at=at, source=item.label)
    checked = time.perf_counter()
    outcome = outcome_of(verified.report, image.files, sod=verified.sod, key=item.key,
                         read_ms=round((loaded - started) * 1000, 2),
                         check_ms=round((checked - loaded) * 1000, 2))
    return CheckedCard(outcome, file_hashes(image.files))


@cache
def trust_store(paths: tuple[str, ...]) -> TrustStore:
    """The trust store made of ``paths``, loaded once per process."""
    return TrustStore.load(*(Path(path) for path in paths))


def check_chunk(trust_paths: tuple[str, ...], at: datetime, items: Sequence[BatchItem]) -> list[CheckedCard]:
    """Check a few cards in a worker (the task of the process pool and of Dask)."""
    trust = trust_store(trust_paths)
    return [check_item(item, trust, at) for item in items]
