"""verification(): the same report as verify() with the EF.SOD passive authentication decoded, which batch QA
uses to name the card's Document Signer instead of decoding the SOD a second time."""

from __future__ import annotations

from datetime import UTC, datetime

from cardlib.batch.checking import document_signer
from cardlib.card.image import CardImage
from cardlib.card.perso import personalize
from cardlib.card.synthetic_faces import synthetic_portrait_jpeg
from cardlib.card.testing import sample_pki, sample_resident
from cardlib.lds.sod import SOD
from cardlib.pki.certificates import Certificate, RevocationList
from cardlib.pki.trust import TrustStore
from cardlib.verify.verifier import verification, verify

AT = datetime.now(UTC)


def card() -> CardImage:
    return personalize(sample_resident(3), synthetic_portrait_jpeg(3), sample_pki().document_signer).dump()


def trust() -> TrustStore:
    pki = sample_pki()
    return TrustStore([Certificate.from_cryptography(pki.csca_certificate)],
                      [RevocationList.from_cryptography(pki.crl)])


def test_verification_is_verify_with_the_decoded_sod() -> None:
    image, store = card(), trust()
    verified = verification(image, store, at=AT)
    assert verified.report.to_dict() == verify(image, store, at=AT).to_dict()
    assert verified.report.verdict.value == "valid"
    assert verified.sod == SOD.decode(image.files["EF.SOD"])
    described = document_signer(image.files, verified.sod)
    assert described == document_signer(image.files)
    assert "serial" in described


def test_a_malformed_sod_gives_no_sod_and_no_signer() -> None:
    image = card()
    broken = CardImage({**image.files, "EF.SOD": image.files["EF.SOD"][:40]})
    verified = verification(broken, trust(), at=AT)
    assert verified.sod is None
    assert verified.report.check("sod.decode").status.value == "fail"
    assert document_signer(broken.files, verified.sod) == ""
