"""Genuine documents cardlib did not make (testvectors/genuine/README.md): no check may FAIL on any of them.

Each document is verified as a whole (passive authentication, DS→CSCA chain against the public master lists,
profile and LDS checks).  A genuine document is VALID, or CANNOT TELL only because its CSCA is not anchored
(the specimens' test CSCAs are unpublished) or because its data groups were not published with the SOD.
The legitimate variants of issue 12 that real states produce are named per document and must stay warnings.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from vectors import TESTVECTORS

from cardlib.card.image import CardImage
from cardlib.lds.sod import SOD
from cardlib.pki.trust import TrustStore
from cardlib.verify.report import Status, Verdict, VerificationReport
from cardlib.verify.verifier import verify

CORPUS = TESTVECTORS / "genuine"
GMRTD_SODS = sorted((CORPUS / "gmrtd").glob("*_EF_SOD.bin"))
# The specimens' Document Signers expired in 2009 and 2011 and their SODs state no signing time: they are
# verified at a date inside their validity, as a counter would have on the day.
SPECIMENS = {"bsi2008": datetime(2008, 6, 1, tzinfo=UTC), "loes2006": datetime(2008, 6, 1, tzinfo=UTC)}
# A fixed day on which every gmrtd Document Signer and CSCA is valid, so the test does not age.
SODS_AT = datetime(2026, 6, 1, tzinfo=UTC)
# Legitimate variants real states produce (issue 12), each a warning of its exact check.
VARIANTS = {
    "CN": ("sod.content_type", "id-data"),
    "MY": ("sod.signer", "not byte for byte"),
    "ID": ("lds.dsc.document_types", "no version"),
    "PH": ("lds.dsc.document_types", "no version"),
}


@pytest.fixture(scope="module")
def trust(shared_data: Path) -> TrustStore:
    """The public master lists, anchored by the German and Dutch CSCAs published apart from them, and Indonesia's."""
    return TrustStore.load(shared_data / "masterlists", CORPUS / "anchors", CORPUS / "gmrtd" / "csca")


def undecided(report: VerificationReport) -> set[str]:
    return {check.id for check in report.checks if check.status is Status.UNKNOWN}


def test_the_corpus_lists_every_file_it_holds() -> None:
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    assert len(GMRTD_SODS) == 14
    for path in [*GMRTD_SODS, *(CORPUS / "anchors").iterdir()]:
        assert f"{path.parent.name}/{path.name}" in readme, path.name
    assert "MIT" in readme and "LGPL" in readme


@pytest.mark.parametrize("folder", sorted(SPECIMENS))
def test_specimen_passports_fail_nothing(shared_data: Path, trust: TrustStore, folder: str) -> None:
    report = verify(CardImage.load(shared_data / folder), trust, at=SPECIMENS[folder])
    assert not report.failures(), report.to_text()
    assert report.verdict is Verdict.CANNOT_TELL
    assert undecided(report) == {"chain.csca_found"}  # the specimens' test CSCAs are not published
    assert all(report.check(check_id).status is Status.PASS
               for check_id in ("sod.signer", "sod.signature", "sod.message_digest", "hash.DG1", "hash.DG2"))


@pytest.mark.parametrize("path", GMRTD_SODS, ids=lambda path: path.name[:2])
def test_real_sods_verify_and_chain_to_a_public_csca(trust: TrustStore, path: Path) -> None:
    data = path.read_bytes()
    sod = SOD.decode(data)
    report = verify(CardImage({"EF.SOD": data}, label=path.name), trust, at=SODS_AT)
    assert not report.failures(), report.to_text()
    for check_id in ("sod.decode", "sod.message_digest", "sod.signature", "chain.csca_found", "chain.ds_signature",
                     "chain.ds_validity", "chain.csca_validity", "chain.country"):
        assert report.check(check_id).status is Status.PASS, (check_id, report.check(check_id).reason)
    unpublished = {f"hash.DG{number}" for number in sod.lds_security_object.dg_hashes}
    assert {"hash.DG1", "hash.DG2"} <= undecided(report) <= unpublished  # DG3 of a dump: not applicable (EAC)
    assert report.verdict is Verdict.CANNOT_TELL


@pytest.mark.parametrize(("state", "variant"), sorted(VARIANTS.items()))
def test_variants_of_real_states_are_warnings(trust: TrustStore, state: str, variant: tuple[str, str]) -> None:
    check_id, words = variant
    data = (CORPUS / "gmrtd" / f"{state}_EF_SOD.bin").read_bytes()
    check = verify(CardImage({"EF.SOD": data}, label=state), trust, at=SODS_AT).check(check_id)
    assert check.status is Status.WARN, check
    assert words in check.reason


@pytest.mark.parametrize(("folder", "ds_validity"), [
    # the Dutch specimen expired (2011-10-01) just inside its DS certificate (to 2011-10-04), as 9303-12 asks
    ("loes2006", Status.WARN),
    # the German one outlived its DS certificate (2009) by years: when it was signed cannot be told
    ("bsi2008", Status.UNKNOWN),
])
def test_specimens_verified_today_fail_nothing(shared_data: Path, trust: TrustStore, folder: str,
                                               ds_validity: Status) -> None:
    """Their Document Signers expired long ago and their SODs state no signing time: never a forgery today."""
    report = verify(CardImage.load(shared_data / folder), trust)
    assert not report.failures(), report.to_text()
    assert report.check("chain.ds_validity").status is ds_validity
