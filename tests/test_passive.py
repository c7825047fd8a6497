"""Passive authentication checks one by one: SOD, signature, signer, chain mapping, hashes, LDS_H rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given, settings
from hypothesis import strategies as st

from cardlib.card.image import CardImage
from cardlib.lds.com import EFCOM
from cardlib.lds.dg1 import DG1
from cardlib.lds.oids import ID_DATA, ID_LDS_SECURITY_OBJECT_LEGACY
from cardlib.lds.sod import SOD, LDSSecurityObject
from cardlib.lds.tlv import encode_tlv, read_single
from cardlib.model.mrz import MRZ
from cardlib.model.resident import Resident, Sex
from cardlib.pki.certificates import Certificate, RevocationList
from cardlib.pki.profile import PKIConfig
from cardlib.pki.signatures import DocumentSigner, Scheme, SignatureAlgorithm
from cardlib.pki.trust import TrustStore
from cardlib.testing.pki import TestPKI
from cardlib.verify.chain import CHAIN_CHECK_IDS, SIGNING_TIME_SKEW, chain_checks
from cardlib.verify.passive import com_consistency, hash_checks, passive_checks
from cardlib.verify.report import CheckResult, Status
from cardlib.verify.sod_conformance import document_type_covers, dsc_conformance, sod_conformance

AT = datetime(2008, 6, 1, tzinfo=UTC)  # inside the BSI 2008 and LOES 2006 Document Signers' validity
GROUPS = {1: b"\x61\x03\x5f\x1f\x00", 2: b"\x75\x00", 13: b"\x6d\x00"}


def signed_sod(pki: TestPKI, groups: dict[int, bytes] = GROUPS) -> bytes:
    return SOD.sign(LDSSecurityObject.for_files("sha256", groups), pki.document_signer).encode()


def resign(sod: bytes, pki: TestPKI, **changes: Any) -> bytes:
    """The SOD with SignedData/SignerInfo fields changed and the signed attributes signed again by the DS."""
    info = cms.ContentInfo.load(read_single(sod, 0x77, file="EF.SOD").value)
    signed = info["content"]
    signer = signed["signer_infos"][0]
    if "econtent_type" in changes:
        signed["encap_content_info"]["content_type"] = changes["econtent_type"]
    if "serial" in changes:
        signer["sid"].chosen["serial_number"] = changes["serial"]
    if "sid" in changes:
        signer["sid"] = changes["sid"]
        signer["version"] = "v3" if changes["sid"].name == "subject_key_identifier" else "v1"
    if "digest_null" in changes:
        signer["digest_algorithm"] = algos.DigestAlgorithm({"algorithm": "sha384", "parameters": core.Null()})
    attributes = [attribute for attribute in signer["signed_attrs"]]
    for attribute in attributes:
        name = attribute["type"].native
        if name == "content_type" and "attribute_content_type" in changes:
            attribute["values"] = [changes["attribute_content_type"]]
        if name == "message_digest" and "message_digest" in changes:
            attribute["values"] = [changes["message_digest"]]
    signer["signed_attrs"] = cms.CMSAttributes(attributes)
    ds = changes.get("signer", pki.document_signer)
    signer["signature"] = ds.sign(b"\x31" + signer["signed_attrs"].dump(force=True)[1:])
    return encode_tlv(0x77, info.dump(force=True))


def outcome(files: dict[str, bytes]) -> dict[str, CheckResult]:
    result = passive_checks(files, TrustStore(), at=datetime.now(UTC), com=None, dg1=None,
                            protected=frozenset({"DG3"}))
    return {check.id: check for check in result.checks}


def test_specimen_sods_pass_every_sod_check(shared_data: Path) -> None:
    for folder in ("bsi2008", "loes2006"):
        files = dict(CardImage.load(shared_data / folder).files)
        result = passive_checks(files, TrustStore(), at=AT, com=EFCOM.decode(files["EF.COM"]), dg1=None,
                                protected=frozenset())
        checks = {check.id: check for check in result.checks}
        for check_id in ("sod.decode", "sod.content_type", "sod.signer", "sod.message_digest", "sod.signature"):
            assert checks[check_id].status is Status.PASS, (folder, checks[check_id])
        assert checks["chain.csca_found"].status is Status.UNKNOWN


def test_bsi_extras_outside_ef_com_and_sod_are_ignored_with_a_warning(shared_data: Path) -> None:
    files = dict(CardImage.load(shared_data / "bsi2008").files)
    result = passive_checks(files, TrustStore(), at=AT, com=EFCOM.decode(files["EF.COM"]), dg1=None,
                            protected=frozenset())
    assert result.unsigned_extras == {"DG4", "DG15"}
    assert {c.id: c.status for c in result.checks}["hash.DG4"] is Status.WARN


def test_bsi_sha1_and_null_parameters_are_warnings(shared_data: Path) -> None:
    sod = SOD.decode((shared_data / "bsi2008" / "EF_SOD.bin").read_bytes())
    checks = {check.id: check for check in sod_conformance(sod)}
    assert checks["lds.sod.hash_algorithm"].status is Status.WARN
    assert checks["lds.sod.version"].status is Status.PASS


def test_generated_sod_conforms(test_pki: TestPKI) -> None:
    checks = {check.id: check for check in sod_conformance(SOD.decode(signed_sod(test_pki)))}
    assert {check.status for check in checks.values()} == {Status.PASS}


def test_null_digest_parameters_warn(test_pki: TestPKI) -> None:
    sod = SOD.decode(resign(signed_sod(test_pki), test_pki, digest_null=1))
    checks = {check.id: check for check in sod_conformance(sod)}
    assert checks["lds.sod.digest_parameters"].status is Status.WARN
    assert "SignerInfo.digestAlgorithm" in checks["lds.sod.digest_parameters"].reason
    assert sod.digest_identifiers_with_parameters == ("SignerInfo.digestAlgorithm",)
    assert SOD.decode(signed_sod(test_pki)).digest_identifiers_with_parameters == ()


def test_legacy_content_type_warns_but_verifies(test_pki: TestPKI) -> None:
    sod = resign(signed_sod(test_pki), test_pki, econtent_type=ID_LDS_SECURITY_OBJECT_LEGACY,
                 attribute_content_type=ID_LDS_SECURITY_OBJECT_LEGACY)
    checks = outcome({"EF.SOD": sod})
    assert checks["sod.content_type"].status is Status.WARN
    assert checks["sod.signature"].status is Status.PASS


def test_content_type_attribute_must_equal_econtent_type(test_pki: TestPKI) -> None:
    sod = resign(signed_sod(test_pki), test_pki, attribute_content_type=ID_LDS_SECURITY_OBJECT_LEGACY)
    checks = outcome({"EF.SOD": sod})
    assert checks["sod.content_type"].status is Status.FAIL


def test_unknown_content_type_fails_the_content_type_check(test_pki: TestPKI) -> None:
    sod = resign(signed_sod(test_pki), test_pki, econtent_type="1.2.3.4", attribute_content_type="1.2.3.4")
    assert SOD.decode(sod).econtent_type == "1.2.3.4"
    checks = outcome({"EF.SOD": sod})
    assert checks["sod.decode"].status is Status.PASS
    assert checks["sod.content_type"].status is Status.FAIL
    assert "eContentType 1.2.3.4 is not ldsSecurityObject" in checks["sod.content_type"].reason
    assert checks["sod.signature"].status is Status.PASS


def test_wrong_message_digest_fails(test_pki: TestPKI) -> None:
    checks = outcome({"EF.SOD": resign(signed_sod(test_pki), test_pki, message_digest=b"\x00" * 48)})
    assert checks["sod.message_digest"].status is Status.FAIL
    assert checks["sod.signature"].status is Status.PASS


def test_altered_signature_fails(test_pki: TestPKI) -> None:
    sod = signed_sod(test_pki)
    checks = outcome({"EF.SOD": sod[:-1] + bytes([sod[-1] ^ 0x01])})
    assert checks["sod.signature"].status is Status.FAIL
    assert "does not verify" in checks["sod.signature"].reason


def test_signer_not_named_by_sid_fails(test_pki: TestPKI) -> None:
    checks = outcome({"EF.SOD": resign(signed_sod(test_pki), test_pki, serial=12345)})
    assert checks["sod.signer"].status is Status.FAIL
    assert checks["sod.signature"].status is Status.UNKNOWN
    assert {checks[check_id].status for check_id in CHAIN_CHECK_IDS} == {Status.NOT_APPLICABLE}


def test_missing_sod_cannot_tell() -> None:
    checks = outcome({"DG1": GROUPS[1]})
    assert checks["sod.decode"].status is Status.UNKNOWN
    assert checks["hash.DG1"].status is Status.UNKNOWN


def test_hash_checks_distinguish_protected_missing_and_unsigned(test_pki: TestPKI) -> None:
    sod = SOD.decode(signed_sod(test_pki, {**GROUPS, 3: b"\x63\x00", 14: b"\x6e\x00"}))
    files = {"DG1": GROUPS[1], "DG2": b"\x75\x01", "DG13": GROUPS[13], "DG15": b"\x6f\x00", "DG11": b"\x6b\x00"}
    com = EFCOM(data_groups=(1, 2, 3, 13, 14, 15))
    results, extras = hash_checks(files, sod, com, frozenset({"DG3"}))
    status = {check.id: check.status for check in results}
    assert status == {"hash.DG1": Status.PASS, "hash.DG2": Status.FAIL, "hash.DG3": Status.NOT_APPLICABLE,
                      "hash.DG11": Status.WARN, "hash.DG13": Status.PASS, "hash.DG14": Status.UNKNOWN,
                      "hash.DG15": Status.FAIL}
    assert extras == {"DG11"}


def test_com_consistency(test_pki: TestPKI) -> None:
    sod = SOD.decode(signed_sod(test_pki))
    assert com_consistency(EFCOM(data_groups=(1, 2, 13)), sod).status is Status.PASS
    mismatch = com_consistency(EFCOM(data_groups=(1, 2, 14)), sod)
    assert mismatch.status is Status.FAIL
    assert mismatch.reason == "EF.COM and the SOD disagree: DG14 only in EF.COM; DG13 only in the SOD"
    assert com_consistency(None, sod).status is Status.NOT_APPLICABLE


def test_chain_maps_every_trust_store_check(test_pki: TestPKI) -> None:
    ds = Certificate.from_cryptography(test_pki.ds_certificate)
    csca = Certificate.from_cryptography(test_pki.csca_certificate)
    trust = TrustStore([csca], [RevocationList.from_cryptography(test_pki.crl)])
    results = chain_checks(ds, trust, datetime.now(UTC), None)
    assert sorted(check.id for check in results) == sorted(CHAIN_CHECK_IDS)
    assert {check.status for check in results} == {Status.PASS}


def _dg1(state: str = "VNM") -> DG1:
    person = Resident(id_number="079303004821", full_name="Trần Thị Lan Anh", date_of_birth=date(2003, 5, 14),
                      sex=Sex.FEMALE, place_of_origin="Tiền Giang", place_of_residence="Hồ Chí Minh",
                      date_of_issue=date(2021, 6, 1), date_of_expiry=date(2028, 5, 14))
    return DG1(MRZ.from_resident(person, issuing_state=state))


def test_dsc_profile_of_the_test_pki_conforms(test_pki: TestPKI) -> None:
    checks = dsc_conformance(Certificate.from_cryptography(test_pki.ds_certificate), _dg1())
    assert {check.status for check in checks} == {Status.PASS}


def test_dsc_for_passports_only_warns_on_an_id_card() -> None:
    passports = TestPKI.generate(PKIConfig(document_types=("P",)))
    checks = {c.id: c for c in dsc_conformance(Certificate.from_cryptography(passports.ds_certificate), _dg1())}
    assert checks["lds.dsc.document_types"].status is Status.WARN


def test_dsc_of_another_country_fails(test_pki: TestPKI) -> None:
    checks = {c.id: c for c in dsc_conformance(Certificate.from_cryptography(test_pki.ds_certificate), _dg1("NLD"))}
    assert checks["lds.dsc.country"].status is Status.FAIL


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=300))
def test_garbage_sod_gives_results_only(data: bytes) -> None:
    checks = outcome({"EF.SOD": data, "DG1": GROUPS[1]})
    assert checks["sod.decode"].status is (Status.FAIL if data else Status.UNKNOWN)  # empty: no evidence
    assert checks["hash.DG1"].status is Status.UNKNOWN


def test_an_empty_sod_is_missing_evidence_not_a_forgery() -> None:
    checks = outcome({"EF.SOD": b"", "DG1": GROUPS[1]})
    assert checks["sod.decode"].status is Status.UNKNOWN
    assert checks["sod.decode"].reason.startswith("EF.SOD is empty (0 bytes)")
    assert checks["hash.DG1"].status is Status.UNKNOWN


def test_dsc_country_of_an_unmapped_state_is_left_to_a_person(test_pki: TestPKI) -> None:
    checks = {c.id: c for c in dsc_conformance(Certificate.from_cryptography(test_pki.ds_certificate), _dg1("CHN"))}
    assert checks["lds.dsc.country"].status is Status.WARN


# --- issue 12: variants genuine issuers produce ----------------------------------------------------------------


def test_id_data_content_type_around_a_valid_lds_security_object_warns(test_pki: TestPKI) -> None:
    sod = resign(signed_sod(test_pki), test_pki, econtent_type=ID_DATA, attribute_content_type=ID_DATA)
    assert SOD.decode(sod).lds_security_object == SOD.decode(signed_sod(test_pki)).lds_security_object
    checks = outcome({"EF.SOD": sod, **{f"DG{n}": data for n, data in GROUPS.items()}})
    assert checks["sod.content_type"].status is Status.WARN
    assert "id-data" in checks["sod.content_type"].reason
    assert {checks[i].status for i in ("sod.signer", "sod.message_digest", "sod.signature", "hash.DG1")} == {
        Status.PASS}


def test_id_data_content_type_must_still_agree_with_the_attribute(test_pki: TestPKI) -> None:
    sod = resign(signed_sod(test_pki), test_pki, econtent_type=ID_DATA)  # the attribute still says ldsSecurityObject
    assert outcome({"EF.SOD": sod})["sod.content_type"].status is Status.FAIL


def _issuer_of(pki: TestPKI) -> asn1_x509.Name:
    return asn1_x509.Certificate.load(pki.ds_certificate.public_bytes(Encoding.DER)).issuer


def _sid(issuer: asn1_x509.Name, serial: int) -> cms.SignerIdentifier:
    return cms.SignerIdentifier(name="issuer_and_serial_number",
                                value={"issuer": issuer, "serial_number": serial})


def _reordered(name: asn1_x509.Name) -> asn1_x509.Name:
    return asn1_x509.Name(name="", value=asn1_x509.RDNSequence(list(reversed(list(name.chosen)))))


def test_sid_naming_the_issuer_in_another_order_finds_the_signer_with_a_warning(test_pki: TestPKI,
                                                                               trust: TrustStore) -> None:
    issuer = _issuer_of(test_pki)
    sod = resign(signed_sod(test_pki), test_pki, sid=_sid(_reordered(issuer), test_pki.ds_certificate.serial_number))
    assert SOD.decode(sod).sid.issuer != issuer.dump()
    result = passive_checks({"EF.SOD": sod}, trust, at=datetime.now(UTC), com=None, dg1=None, protected=frozenset())
    checks = {check.id: check for check in result.checks}
    assert checks["sod.signer"].status is Status.WARN
    assert "not byte for byte" in checks["sod.signer"].reason
    assert "signer unknown" not in checks["sod.signer"].reason
    assert checks["sod.signature"].status is Status.PASS
    assert {checks[check_id].status for check_id in CHAIN_CHECK_IDS} == {Status.PASS}


def test_sid_with_other_string_types_case_and_spaces_finds_the_signer(test_pki: TestPKI) -> None:
    # RFC 5280 §7.1: UTF8String vs PrintableString, case and insignificant spaces do not make another name.
    config = PKIConfig()  # the names the fixture's CSCA carries, as UTF8String
    loose = asn1_x509.Name.build({"country_name": "vn",
                                  "organization_name": "  " + config.organisation.upper().replace(" ", "  "),
                                  "common_name": config.csca_common_name.lower()}, use_printable=True)
    sod = resign(signed_sod(test_pki), test_pki, sid=_sid(loose, test_pki.ds_certificate.serial_number))
    checks = outcome({"EF.SOD": sod})
    assert (checks["sod.signer"].status, checks["sod.signature"].status) == (Status.WARN, Status.PASS)


def test_equivalent_sid_with_another_serial_or_name_is_still_unknown(test_pki: TestPKI) -> None:
    issuer = _issuer_of(test_pki)
    for sid in (_sid(_reordered(issuer), test_pki.ds_certificate.serial_number + 1),
                _sid(asn1_x509.Name.build({"common_name": "Another CSCA"}), test_pki.ds_certificate.serial_number)):
        checks = outcome({"EF.SOD": resign(signed_sod(test_pki), test_pki, sid=sid)})
        assert checks["sod.signer"].status is Status.FAIL
        assert "signer unknown" in checks["sod.signer"].reason


def test_equivalent_sid_does_not_excuse_a_bad_signature(test_pki: TestPKI) -> None:
    sid = _sid(_reordered(_issuer_of(test_pki)), test_pki.ds_certificate.serial_number)
    sod = resign(signed_sod(test_pki), test_pki, sid=sid)
    checks = outcome({"EF.SOD": sod[:-1] + bytes([sod[-1] ^ 0x01])})
    assert checks["sod.signer"].status is Status.WARN
    assert checks["sod.signature"].status is Status.FAIL


def test_sid_as_subject_key_identifier_names_the_signer(test_pki: TestPKI) -> None:
    ski = test_pki.ds_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    sid = cms.SignerIdentifier(name="subject_key_identifier", value=ski)
    sod = resign(signed_sod(test_pki), test_pki, sid=sid)
    assert SOD.decode(sod).signer_version == 3
    checks = outcome({"EF.SOD": sod})
    assert (checks["sod.signer"].status, checks["sod.signature"].status) == (Status.PASS, Status.PASS)


def test_sid_key_identifier_of_a_certificate_without_one_is_computed(test_pki: TestPKI) -> None:
    # RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey, for a DS certificate lacking the extension.
    key = ec.generate_private_key(ec.BrainpoolP256R1())
    now = datetime.now(UTC)
    certificate = (x509.CertificateBuilder().subject_name(test_pki.ds_certificate.subject)
                   .issuer_name(test_pki.csca_certificate.subject).public_key(key.public_key()).serial_number(77)
                   .not_valid_before(now).not_valid_after(now + timedelta(days=30)).sign(key, hashes.SHA256()))
    ds = DocumentSigner(certificate, key, SignatureAlgorithm(Scheme.ECDSA, "sha256"))
    sod = SOD.sign(LDSSecurityObject.for_files("sha256", GROUPS), ds).encode()
    computed = x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest
    ski_sod = resign(sod, test_pki, signer=ds, sid=cms.SignerIdentifier(name="subject_key_identifier", value=computed))
    checks = outcome({"EF.SOD": ski_sod})
    assert (checks["sod.signer"].status, checks["sod.signature"].status) == (Status.WARN, Status.PASS)
    wrong = resign(sod, test_pki, signer=ds,
                   sid=cms.SignerIdentifier(name="subject_key_identifier", value=b"\x01" * 20))
    assert outcome({"EF.SOD": wrong})["sod.signer"].status is Status.FAIL


@pytest.mark.parametrize(("entries", "code", "covered"), [
    (("ID",), "ID", True), (("I",), "ID", True), (("I",), "IP", True), (("P",), "PP", True), (("P",), "P", True),
    (("A",), "AC", True), (("C",), "CR", True), (("IP",), "ID", False), (("P",), "ID", False),
    (("ID",), "I", False),
])
def test_document_type_list_entries_cover_mrz_codes_as_icao_9303_12_says(entries: tuple[str, ...], code: str,
                                                                          covered: bool) -> None:
    assert any(document_type_covers(entry, code) for entry in entries) is covered


def test_dsc_listing_i_covers_an_id_card_without_warning() -> None:
    pki = TestPKI.generate(PKIConfig(document_types=("I", "P")))
    checks = {c.id: c for c in dsc_conformance(Certificate.from_cryptography(pki.ds_certificate), _dg1())}
    assert checks["lds.dsc.document_types"].status is Status.PASS
    assert "'ID' (by I)" in checks["lds.dsc.document_types"].reason


def _ds_with_basic_constraints(pki: TestPKI, constraints: x509.BasicConstraints) -> Certificate:
    """The test DS certificate re-issued by its CSCA with a basicConstraints extension added."""
    real = pki.ds_certificate
    builder = x509.CertificateBuilder().subject_name(real.subject).issuer_name(real.issuer)
    builder = builder.public_key(real.public_key()).serial_number(x509.random_serial_number())
    builder = builder.not_valid_before(real.not_valid_before_utc).not_valid_after(real.not_valid_after_utc)
    for extension in real.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    builder = builder.add_extension(constraints, critical=True)
    key = pki.csca_key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return Certificate.from_cryptography(builder.sign(key, hashes.SHA512()))


def test_a_document_signer_that_is_a_ca_fails_the_ds_profile(test_pki: TestPKI) -> None:
    plain = {c.id: c for c in dsc_conformance(Certificate.from_cryptography(test_pki.ds_certificate), _dg1())}
    assert plain["lds.dsc.basic_constraints"].status is Status.PASS  # no extension at all
    ca_false = _ds_with_basic_constraints(test_pki, x509.BasicConstraints(ca=False, path_length=None))
    assert {c.id: c.status for c in dsc_conformance(ca_false, _dg1())}["lds.dsc.basic_constraints"] is Status.PASS
    ca_true = _ds_with_basic_constraints(test_pki, x509.BasicConstraints(ca=True, path_length=0))
    check = {c.id: c for c in dsc_conformance(ca_true, _dg1())}["lds.dsc.basic_constraints"]
    assert check.status is Status.FAIL and "cA=TRUE" in check.reason
    assert {c.id: c.status for c in dsc_conformance(None, None)}["lds.dsc.basic_constraints"] is Status.NOT_APPLICABLE


def _signed_at(pki: TestPKI, when: datetime | None) -> dict[str, CheckResult]:
    sod = SOD.sign(LDSSecurityObject.for_files("sha256", GROUPS), pki.document_signer, signing_time=when).encode()
    csca, crl = Certificate.from_cryptography(pki.csca_certificate), RevocationList.from_cryptography(pki.crl)
    trust = TrustStore([csca], [crl])
    files = {"EF.SOD": sod, **{f"DG{n}": data for n, data in GROUPS.items()}}
    result = passive_checks(files, trust, at=datetime.now(UTC), com=None, dg1=None, protected=frozenset())
    return {check.id: check for check in result.checks}


def test_signing_time_absent_or_now_passes_and_a_slow_clock_is_tolerated(test_pki: TestPKI) -> None:
    assert _signed_at(test_pki, None)["lds.sod.signing_time"].status is Status.PASS
    assert _signed_at(test_pki, datetime.now(UTC))["lds.sod.signing_time"].status is Status.PASS
    just_ahead = _signed_at(test_pki, datetime.now(UTC) + SIGNING_TIME_SKEW - timedelta(minutes=5))
    assert just_ahead["lds.sod.signing_time"].status is Status.PASS
    assert outcome({"DG1": GROUPS[1]})["lds.sod.signing_time"].status is Status.NOT_APPLICABLE


def test_signing_time_in_the_future_fails_and_is_not_trusted_for_the_chain(test_pki: TestPKI) -> None:
    ahead = _signed_at(test_pki, datetime.now(UTC) + SIGNING_TIME_SKEW + timedelta(hours=1))
    assert ahead["lds.sod.signing_time"].status is Status.FAIL
    assert "a SOD cannot be signed in the future" in ahead["lds.sod.signing_time"].reason
    # The DS is valid now: validity is judged at the time of verification, not at the forged date.
    assert ahead["chain.ds_validity"].status is Status.PASS
    assert "signed" not in ahead["chain.ds_validity"].reason


def test_signing_time_outside_the_document_signer_validity_fails(test_pki: TestPKI) -> None:
    before = _signed_at(test_pki, test_pki.ds_certificate.not_valid_before_utc - timedelta(days=1))
    assert before["lds.sod.signing_time"].status is Status.FAIL
    assert "before the Document Signer certificate was valid" in before["lds.sod.signing_time"].reason
    assert before["chain.ds_validity"].status is Status.FAIL  # the chain says the same, at the signing time
    after = _signed_at(test_pki, test_pki.ds_certificate.not_valid_after_utc + timedelta(days=1))
    reason = after["lds.sod.signing_time"].reason
    assert "after the Document Signer certificate expired" in reason and "in the future" in reason
