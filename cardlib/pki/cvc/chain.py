"""Chains of CV certificates and their validation, as the chip runs it one certificate at a time and the
terminal runs it before talking to the chip (BSI TR-03110-1 2.6, 2.7; TR-03110-3 2.5, C.4).

A chain that does not validate is a :class:`CVCChainError` naming why (:class:`ChainFailure`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import Enum

from cardlib.curves import Curve
from cardlib.errors import CardlibError, PKIError
from cardlib.pki.cvc.certificate import CVCertificate
from cardlib.pki.cvc.chat import CHAT, AccessRight, Role
from cardlib.pki.cvc.keys import CVPublicKey


class ChainFailure(Enum):
    """Why a CV certificate was refused (the chip answers each with a status word, the terminal with a reason)."""

    UNKNOWN_AUTHORITY = "no trusted key is named by the certificate's CAR"
    BAD_SIGNATURE = "the signature does not verify under the CAR's key"
    EXPIRED = "the certificate expired before the current date"
    ROLE = "the certificate's role cannot follow its issuer's"
    UNUSABLE_KEY = "the issuer's key cannot be used"


class CVCChainError(PKIError):
    """A CV certificate chain that does not validate; ``failure`` says why, ``chr`` names the certificate."""

    def __init__(self, failure: ChainFailure, chr: str, detail: str = "") -> None:
        self.failure = failure
        self.chr = chr
        super().__init__(f"CV certificate {chr}: {failure.value}" + (f" ({detail})" if detail else ""))


@dataclass(frozen=True)
class TrustPoint:
    """A public key the chip trusts, with what it may sign: a CVCA key (trust anchor) or one imported from a
    verified certificate for the rest of the session."""

    chr: str
    public_key: CVPublicKey
    role: Role
    chat: CHAT
    expiration: date

    @classmethod
    def of(cls, certificate: CVCertificate, curve: Curve | None = None) -> TrustPoint:
        """The key ``certificate`` certifies, taking the EC domain parameters ``curve`` it inherits."""
        body = certificate.body
        return cls(body.chr, body.public_key.with_curve(curve), body.chat.role, body.chat, body.expiration)


# Which role may sign a certificate of which role (TR-03110-3 C.4 and 2.5): the CVCA signs link certificates
# and DV certificates, a DV signs terminal certificates.
_MAY_ISSUE: dict[Role, frozenset[Role]] = {
    Role.CVCA: frozenset({Role.CVCA, Role.DV_DOMESTIC, Role.DV_FOREIGN}),
    Role.DV_DOMESTIC: frozenset({Role.INSPECTION_SYSTEM}),
    Role.DV_FOREIGN: frozenset({Role.INSPECTION_SYSTEM}),
    Role.INSPECTION_SYSTEM: frozenset(),
}


@dataclass(frozen=True)
class Validated:
    """A certificate that passed :func:`validate_certificate`: the key it certifies and the chip's new date."""

    trust_point: TrustPoint
    current_date: date
    date_updated: bool


def validate_certificate(certificate: CVCertificate, issuer: TrustPoint, current_date: date) -> Validated:
    """Validate one certificate against the key named by its CAR, as the chip does (TR-03110-1 2.6, 2.7).

    Checks the role may follow the issuer's, the signature, and that the certificate has not expired by
    ``current_date`` (a chip has no clock: its date is the latest effective date it trusted).  The chip's
    current date moves to the effective date of a CVCA, DV or *accurate* terminal certificate (one issued by an
    official domestic DV) when that is later.  CVCChainError when any check fails.
    """
    chr = certificate.chr
    if certificate.car != issuer.chr:
        raise CVCChainError(ChainFailure.UNKNOWN_AUTHORITY, chr, f"CAR {certificate.car}, key {issuer.chr}")
    if certificate.role not in _MAY_ISSUE[issuer.role]:
        raise CVCChainError(ChainFailure.ROLE, chr, f"{certificate.role.name} under {issuer.role.name}")
    try:
        verified = certificate.verify_signature(issuer.public_key)
    except CardlibError as error:
        raise CVCChainError(ChainFailure.UNUSABLE_KEY, chr, str(error)) from None
    if not verified:
        raise CVCChainError(ChainFailure.BAD_SIGNATURE, chr)
    body = certificate.body
    if body.expiration < current_date:
        raise CVCChainError(ChainFailure.EXPIRED, chr, f"expired {body.expiration.isoformat()}, chip date "
                                                       f"{current_date.isoformat()}")
    accurate = certificate.role is not Role.INSPECTION_SYSTEM or issuer.role is Role.DV_DOMESTIC
    update = accurate and body.effective > current_date
    return Validated(TrustPoint.of(certificate, issuer.public_key.curve), body.effective if update else current_date,
                     update)


def validate_chain(certificates: list[CVCertificate], anchors: list[TrustPoint],
                   current_date: date) -> tuple[TrustPoint, AccessRight, date]:
    """Validate ``certificates`` (link certificates, DV, terminal, in that order) from one of ``anchors``.

    Returns the terminal's key, its effective rights (the AND of every CHAT on the way, TR-03110-3 C.4) and
    the current date after the updates.  The terminal side runs this before talking to the chip, so it knows
    what the chip will grant; the chip runs the same checks one certificate at a time.
    """
    if not certificates:
        raise PKIError("an empty CV certificate chain")
    by_name = {anchor.chr: anchor for anchor in anchors}
    issuer = by_name.get(certificates[0].car)
    if issuer is None:
        raise CVCChainError(ChainFailure.UNKNOWN_AUTHORITY, certificates[0].chr,
                            f"CAR {certificates[0].car} is not a trusted CVCA")
    rights = issuer.chat.rights
    for certificate in certificates:
        validated = validate_certificate(certificate, issuer, current_date)
        current_date, issuer = validated.current_date, validated.trust_point
        rights = effective_rights(rights, certificate)
    return issuer, rights, current_date


def effective_rights(so_far: AccessRight, certificate: CVCertificate) -> AccessRight:
    """The rights after ``certificate``: a link certificate makes its new CVCA's rights the start again, any
    other narrows them to its own CHAT (the effective authorization is the AND along the chain)."""
    rights = certificate.body.chat.rights
    return rights if certificate.role is Role.CVCA else so_far & rights



__all__ = [
    "CVCChainError",
    "ChainFailure",
    "TrustPoint",
    "Validated",
    "effective_rights",
    "validate_certificate",
    "validate_chain",
]
