"""cardlib: encode, sign, write, read and verify the chip of Vietnam's citizen identity card (CCCD).

The names an integrator needs are here (:data:`__all__`); everything else stays importable from its module
(``cardlib.lds.dg13``, ``cardlib.pki.masterlist`` …).  ``import cardlib`` loads nothing heavy: each name is
imported from its module the first time it is used.

``cardlib.verify`` is the :func:`~cardlib.verify.verifier.verify` function; the modules of the
``cardlib/verify/`` package import as always with ``from cardlib.verify.report import ...``.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the idiom)

if TYPE_CHECKING:
    from cardlib.batch.perso import personalize_batch
    from cardlib.card.image import CardImage
    from cardlib.card.perso import personalize
    from cardlib.errors import (
        CardError,
        CardlibError,
        DecodeError,
        InputError,
        PKIError,
        ProtocolError,
        ValidationError,
    )
    from cardlib.evidence.bundle import Evidence
    from cardlib.evidence.nonces import NonceStore
    from cardlib.evidence.verification import verify_evidence
    from cardlib.limits import LimitExceeded
    from cardlib.model.resident import Resident, Sex
    from cardlib.pki.trust import TrustStore
    from cardlib.reader.pcsc import connect
    from cardlib.reader.progress import ReadEvent, ReadPhase, ReadStage
    from cardlib.reader.reader import AccessKey, EACCredentials, ReadResult, WrongAccessKeyError, read_card
    from cardlib.verify.holder import Holder, Portrait
    from cardlib.verify.live import verify_read
    from cardlib.verify.report import CheckResult, Status, Verdict, VerificationReport
    from cardlib.verify.verifier import LivenessPolicy, verify

    __version__: str

# Public name → the module that defines it.
_HOMES = {
    "personalize": "cardlib.card.perso",
    "personalize_batch": "cardlib.batch.perso",
    "CardImage": "cardlib.card.image",
    "read_card": "cardlib.reader.reader",
    "AccessKey": "cardlib.reader.reader",
    "EACCredentials": "cardlib.reader.reader",
    "ReadResult": "cardlib.reader.reader",
    "WrongAccessKeyError": "cardlib.reader.reader",
    "connect": "cardlib.reader.pcsc",
    "ReadEvent": "cardlib.reader.progress",
    "ReadPhase": "cardlib.reader.progress",
    "ReadStage": "cardlib.reader.progress",
    "Evidence": "cardlib.evidence.bundle",
    "NonceStore": "cardlib.evidence.nonces",
    "verify_evidence": "cardlib.evidence.verification",
    "verify": "cardlib.verify.verifier",
    "verify_read": "cardlib.verify.live",
    "LivenessPolicy": "cardlib.verify.verifier",
    "TrustStore": "cardlib.pki.trust",
    "Resident": "cardlib.model.resident",
    "Sex": "cardlib.model.resident",
    "VerificationReport": "cardlib.verify.report",
    "Verdict": "cardlib.verify.report",
    "CheckResult": "cardlib.verify.report",
    "Status": "cardlib.verify.report",
    "Holder": "cardlib.verify.holder",
    "Portrait": "cardlib.verify.holder",
    "CardlibError": "cardlib.errors",
    "DecodeError": "cardlib.errors",
    "ValidationError": "cardlib.errors",
    "InputError": "cardlib.errors",
    "PKIError": "cardlib.errors",
    "ProtocolError": "cardlib.errors",
    "CardError": "cardlib.errors",
    "LimitExceeded": "cardlib.limits",
}

__all__ = [
    "AccessKey",
    "CardError",
    "CardImage",
    "CardlibError",
    "CheckResult",
    "DecodeError",
    "EACCredentials",
    "Evidence",
    "Holder",
    "InputError",
    "LimitExceeded",
    "LivenessPolicy",
    "NonceStore",
    "PKIError",
    "Portrait",
    "ProtocolError",
    "ReadEvent",
    "ReadPhase",
    "ReadResult",
    "ReadStage",
    "Resident",
    "Sex",
    "Status",
    "TrustStore",
    "ValidationError",
    "Verdict",
    "VerificationReport",
    "WrongAccessKeyError",
    "__version__",
    "connect",
    "personalize",
    "personalize_batch",
    "read_card",
    "verify",
    "verify_evidence",
    "verify_read",
]

# Importing the subpackage now binds ``cardlib.verify`` to it once; dropping that binding lets __getattr__ give
# the function, and later imports of cardlib.verify.* find the package in sys.modules and leave the name alone.
importlib.import_module("cardlib.verify")
globals().pop("verify", None)


def _version() -> str:
    """The installed distribution's version: pyproject.toml is its one home (read from the package metadata)."""
    from importlib import metadata  # costs ~30 ms, so only when asked

    try:
        return metadata.version("cardlib")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


def __getattr__(name: str) -> object:
    """Import a public name from its module on first use, then keep it here."""
    if name == "__version__":
        globals()[name] = version = _version()
        return version
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'cardlib' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
