"""Certificate extensions read once, as TLVs, by :class:`Certificate`: which are critical and their values.

Found by fuzzing ``verify`` (tests/fuzz/corpus/verify_sod): a Document Signer whose PrivateKeyUsagePeriod was
malformed crashed the verifier with a bare ValueError, because the key-usage checks asked asn1crypto, whose
accessors parse every extension of the certificate.  The readings are compared with asn1crypto's own on every
certificate of the public master lists, the specimens and 14 states' passports (what we did not write).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization

from cardlib.card.image import CardImage
from cardlib.errors import PKIError
from cardlib.lds.oids import ID_DOCUMENT_TYPE_LIST, ID_KEY_USAGE, ID_PRIVATE_KEY_USAGE_PERIOD
from cardlib.lds.signeddata import SignerCertificate, SignerIdentifier
from cardlib.lds.sod import SOD
from cardlib.pki.certificates import Certificate
from cardlib.pki.lint import lint_certificate
from cardlib.pki.masterlist import MasterList
from cardlib.pki.trust import TrustStore
from cardlib.testing.cards import sample_card_image
from cardlib.testing.pki import TestPKI
from cardlib.verify.verifier import verify

# The PrivateKeyUsagePeriod extension as our profile writes it: OID 2.5.29.16, then extnValue OCTET STRING of a
# SEQUENCE.  Its SEQUENCE made a SET keeps every length: a malformed extension in an otherwise intact certificate.
_PKUP_OID = bytes.fromhex("0603551d10")
GENUINE = Path(__file__).resolve().parents[1] / "testvectors" / "genuine"


def _malformed_usage_period(der: bytes) -> bytes:
    at = der.index(_PKUP_OID) + len(_PKUP_OID)
    assert der[at] == 0x04 and der[at + 2] == 0x30, "the profile's PrivateKeyUsagePeriod is not where expected"
    return der[: at + 2] + b"\x31" + der[at + 3 :]


@pytest.fixture(scope="module")
def signer_der(test_pki: TestPKI) -> bytes:
    return test_pki.ds_certificate.public_bytes(serialization.Encoding.DER)


def test_a_malformed_extension_nothing_needs_leaves_the_others_readable(signer_der: bytes) -> None:
    signer = Certificate.from_der(_malformed_usage_period(signer_der))
    assert signer.has_key_usage and signer.key_usage == {"digital_signature"}
    assert ID_KEY_USAGE in signer.critical_extensions
    assert ID_DOCUMENT_TYPE_LIST in signer.extension_values
    with pytest.raises(PKIError, match="malformed private key usage period"):
        _ = signer.private_key_usage_period
    findings = {finding.check: finding.message for finding in lint_certificate(signer).findings}
    assert "malformed private key usage period" in findings["private key usage period"]


def test_a_sod_carrying_it_gets_a_report_not_a_traceback(signer_der: bytes, trust: TrustStore) -> None:
    card = sample_card_image(0).dump()
    sod = card.files["EF.SOD"]
    assert signer_der in sod
    forged = CardImage({**card.files, "EF.SOD": sod.replace(signer_der, _malformed_usage_period(signer_der))})
    report = verify(forged, trust)
    checks = {check.id: check for check in report.checks}
    assert report.verdict.value == "invalid"
    assert checks["chain.ds_signature"].status.value == "fail"  # the DSC's bytes changed under its signature
    assert checks["lds.dsc.key_usage"].status.value == "pass"


def test_the_genuine_profile_reads_as_asn1crypto_reads_it(signer_der: bytes) -> None:
    signer = Certificate.from_der(signer_der)
    assert signer.private_key_usage_period is not None
    assert ID_PRIVATE_KEY_USAGE_PERIOD not in signer.critical_extensions
    _same_as_asn1crypto(signer)
    with pytest.raises(TypeError):  # the certificate is cached and shared by every card of its batch
        signer.extension_values[ID_DOCUMENT_TYPE_LIST] = b""  # type: ignore[index]


def _public_certificates(shared_data: Path) -> list[Certificate]:
    found = [Certificate.from_der((shared_data / "csca" / "VN_CSCA_ePassport.cer").read_bytes())]
    for path in sorted((shared_data / "masterlists").glob("*.ml")):
        found += MasterList.parse(path.read_bytes(), path.name).certificates
    sods = [CardImage.load(shared_data / folder).files["EF.SOD"] for folder in ("bsi2008", "loes2006")]
    sods += [path.read_bytes() for path in sorted(GENUINE.glob("gmrtd/*_EF_SOD.bin"))]  # 14 states' passports
    for sod in sods:
        found += [Certificate.from_der(entry.der) for entry in SOD.decode(sod).signer_certificates]
    found += [Certificate.from_der(path.read_bytes()) for path in sorted(GENUINE.glob("anchors/*.cer"))]
    return found


def _same_as_asn1crypto(certificate: Certificate) -> None:
    extensions = asn1_x509.Certificate.load(certificate.der)["tbs_certificate"]["extensions"]
    assert certificate.critical_extensions == {ext["extn_id"].dotted for ext in extensions if ext["critical"].native}
    assert dict(certificate.extension_values) == {ext["extn_id"].dotted: ext["extn_value"].contents
                                                  for ext in extensions}
    assert certificate.has_key_usage == ("2.5.29.15" in certificate.extension_values)


def test_every_public_certificate_reads_as_asn1crypto_reads_it(shared_data: Path) -> None:
    certificates = _public_certificates(shared_data)
    assert len(certificates) > 500
    for certificate in certificates:
        _same_as_asn1crypto(certificate)


def test_a_sod_naming_its_signer_by_key_identifier_finds_it_despite_another_malformed_extension(
        signer_der: bytes) -> None:
    """SignerInfo.sid as a subjectKeyIdentifier (CMS v3): the SKI is read alone, so a Document Signer whose
    PrivateKeyUsagePeriod is malformed is still the one the sid names (asn1crypto's ``key_identifier`` raised)."""
    signer = Certificate.from_der(signer_der)
    assert signer.subject_key_identifier is not None
    malformed = _malformed_usage_period(signer_der)
    sid = SignerIdentifier(subject_key_identifier=signer.subject_key_identifier)
    assert sid.matches(SignerCertificate(malformed, None))
    assert not SignerIdentifier(subject_key_identifier=bytes(20)).matches(SignerCertificate(malformed, None))
