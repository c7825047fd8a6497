"""verification(): the same report as verify() with the EF.SOD passive authentication decoded, which batch QA
uses to name the card's Document Signer instead of decoding the SOD a second time."""

from __future__ import annotations

from datetime import UTC, datetime

from cardlib.batch.checking import document_signer
from cardlib.card.image import CardImage
from cardlib.card.perso import personalize
from cardlib.lds.sod import SOD
from cardlib.pki.certificates import Certificate, RevocationList
from cardlib.pki.trust import TrustStore
from cardlib.testing.cards import sample_resident
from cardlib.testing.faces import synthetic_portrait_jpeg
from cardlib.testing.pki import sample_pki
from cardlib.verify import chain
from cardlib.verify.verifier import verification, verify


def card() -> CardImage:
    return personalize(sample_resident(3), synthetic_portrait_jpeg(3), sample_pki().document_signer).dump()


def trust() -> TrustStore:
    pki = sample_pki()
    return TrustStore([Certificate.from_cryptography(pki.csca_certificate)],
                      [RevocationList.from_cryptography(pki.crl)])


def test_verification_is_verify_with_the_decoded_sod() -> None:
    image, store = card(), trust()
    at = datetime.now(UTC)  # after the sample PKI is made
    verified = verification(image, store, at=at)
    assert verified.report.to_dict() == verify(image, store, at=at).to_dict()
    assert verified.report.verdict.value == "valid", verified.report.to_text()
    assert verified.sod == SOD.decode(image.files["EF.SOD"])
    described = document_signer(image.files, verified.sod)
    assert described == document_signer(image.files)
    assert "serial" in described


def test_a_malformed_sod_gives_no_sod_and_no_signer() -> None:
    image = card()
    at = datetime.now(UTC)  # after the sample PKI is made
    broken = CardImage({**image.files, "EF.SOD": image.files["EF.SOD"][:40]})
    verified = verification(broken, trust(), at=at)
    assert verified.sod is None
    assert verified.report.check("sod.decode").status.value == "fail"
    assert document_signer(broken.files, verified.sod) == ""


def test_chain_validation_is_reused_only_for_the_same_store_signer_and_time() -> None:
    image, store = card(), trust()
    at = datetime.now(UTC)  # after the sample PKI is made
    signer = verification(image, store, at=at).report.check("chain.ds_validity")
    assert signer.status.value == "pass"
    sod = SOD.decode(image.files["EF.SOD"])
    certificate = Certificate.from_der(sod.signer_certificates[0].der)
    first = chain._chain_results(store, certificate, at)[0]
    assert chain._chain_results(store, certificate, at)[0] is first
    assert chain._chain_results(trust(), certificate, at)[0] is not first  # another store is validated anew
    later = at.replace(year=at.year + 30)  # the Document Signer has expired by then
    assert chain._chain_results(store, certificate, later)[0].checks != first.checks
    expired = verification(image, store, at=later).report.check("chain.ds_validity")
    assert expired.status.value == "warn"
    assert "expired on" in expired.reason
    assert verification(image, store, at=at).report.check("chain.ds_validity").status.value == "pass"
