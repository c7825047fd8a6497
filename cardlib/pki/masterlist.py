"""ICAO CSCA master lists (ICAO 9303-12 §9): CMS SignedData wrapping ``CscaMasterList``.

``CscaMasterList ::= SEQUENCE { version INTEGER (v0), certList SET OF Certificate }`` with eContentType
id-icao-cscaMasterList 2.23.136.1.1.2.  Parsing checks the CMS signature with the embedded signer
certificate and whether that signer was issued by a CSCA in the list.  Neither makes the list trusted: a
list whose signer chains only to a CSCA inside it vouches for itself, so only
:class:`~cardlib.pki.trust.TrustStore` decides, from anchors chosen outside the list.  CRLs the SignedData
carries are kept for revocation checks.  Certificates and CRLs that do not parse are reported as
:class:`LoadIssue`, neither dropped silently nor fatal.

A master list is hostile input: its size and certificate count are checked against
:data:`~cardlib.limits.MAX_MASTER_LIST_BYTES` and :data:`~cardlib.limits.MAX_MASTER_LIST_CERTIFICATES`
before any certificate is parsed, and the keys of the listed CSCAs are built only when used.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import cms, core
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509

from cardlib.errors import PKIError
from cardlib.lds.oids import ID_CSCA_MASTER_LIST, ID_MASTER_LIST_SIGNER
from cardlib.limits import MAX_MASTER_LIST_BYTES, MAX_MASTER_LIST_CERTIFICATES, LimitExceeded
from cardlib.pki.certificates import Certificate, IssuerIndex, RevocationList
from cardlib.pki.signatures import PrivateKey, SignatureAlgorithm, sign, signed_attributes_bytes, verify_signer_info


class _CertificateSet(core.SetOf):  # type: ignore[misc]
    """Kept as raw elements so that one bad certificate does not spoil the whole list."""

    _child_spec = core.Any


class CscaMasterList(core.Sequence):  # type: ignore[misc]
    """The eContent of a master list."""

    _fields = [("version", core.Integer), ("cert_list", _CertificateSet)]  # noqa: RUF012


@dataclass(frozen=True)
class LoadIssue:
    """Something in trust material that was not loaded or not trusted, and why."""

    source: str
    reason: str
    subject: str | None = None

    def __str__(self) -> str:
        return f"{self.source}: {self.subject + ': ' if self.subject else ''}{self.reason}"


@dataclass(frozen=True)
class MasterList:
    """A parsed master list with the outcome of its signature and signer checks."""

    source: str
    version: int
    certificates: tuple[Certificate, ...]
    signer: Certificate | None
    signing_time: datetime | None
    signature_valid: bool
    signer_issuer: Certificate | None
    issues: tuple[LoadIssue, ...]
    crls: tuple[RevocationList, ...] = ()

    @property
    def signer_chains_to_list(self) -> bool:
        """Whether the signer certificate verifies under a CSCA contained in this list."""
        return self.signer_issuer is not None

    @property
    def signer_has_master_list_eku(self) -> bool:
        """Whether the signer certificate carries the Master List Signer EKU 2.23.136.1.1.3 (ICAO 9303-12)."""
        return self.signer is not None and ID_MASTER_LIST_SIGNER in self.signer.extended_key_usage

    @property
    def intact(self) -> bool:
        """The CMS signature verifies and the signer chains to a CSCA in the list: the list is as its signer
        made it.  Not trust: anyone can make an intact list (see :class:`~cardlib.pki.trust.TrustStore`)."""
        return self.signature_valid and self.signer_chains_to_list

    @classmethod
    def parse(cls, data: bytes, source: str = "master list") -> MasterList:
        """Parse and check a master list.

        PKIError when the CMS / CscaMasterList structure is malformed; LimitExceeded when the list is larger
        than MAX_MASTER_LIST_BYTES or carries more than MAX_MASTER_LIST_CERTIFICATES certificates.
        """
        if len(data) > MAX_MASTER_LIST_BYTES:
            raise LimitExceeded("MAX_MASTER_LIST_BYTES", source, MAX_MASTER_LIST_BYTES, len(data))
        try:
            return cls._parse(data, source)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
            raise PKIError(f"{source}: malformed master list: {error}") from error

    @classmethod
    def _parse(cls, data: bytes, source: str) -> MasterList:
        signed_data, content = _signed_content(data, source)
        body = CscaMasterList.load(content, strict=True)
        listed = [element.dump() for element in body["cert_list"]]
        embedded = [c.chosen.dump() for c in signed_data["certificates"] if c.name == "certificate"]
        for where, items in (("certList", listed), ("SignedData.certificates", embedded)):
            if len(items) > MAX_MASTER_LIST_CERTIFICATES:
                raise LimitExceeded("MAX_MASTER_LIST_CERTIFICATES", f"{source} {where}", MAX_MASTER_LIST_CERTIFICATES,
                                    len(items))
        certificates, issues = _load_all(listed, source)
        signer_infos = list(signed_data["signer_infos"])
        if len(signer_infos) != 1:
            raise PKIError(f"{source}: expected one SignerInfo, found {len(signer_infos)}")
        signer, signer_issues = _signer(signer_infos[0], embedded, source)
        valid = signer is not None and _verify(signer_infos[0], signer, content, source)
        issuer = _issuer_in(signer, certificates) if signer is not None else None
        crls, crl_issues = _crls(signed_data, source)
        return cls(source, body["version"].native, tuple(certificates), signer, _signing_time(signer_infos[0]),
                   valid, issuer, tuple(issues + signer_issues + crl_issues), crls)


def _signed_content(data: bytes, source: str) -> tuple[cms.SignedData, bytes]:
    info = cms.ContentInfo.load(data, strict=True)
    if info["content_type"].native != "signed_data":
        raise PKIError(f"{source}: not a CMS SignedData")
    signed_data = info["content"]
    encapsulated = signed_data["encap_content_info"]
    if encapsulated["content_type"].dotted != ID_CSCA_MASTER_LIST:
        raise PKIError(f"{source}: eContentType {encapsulated['content_type'].dotted} is not id-icao-cscaMasterList")
    content = encapsulated["content"]
    if not isinstance(content, core.ParsableOctetString):
        raise PKIError(f"{source}: master list has no encapsulated content")
    return signed_data, bytes(content.native)


def _load_all(raw: list[bytes], source: str) -> tuple[list[Certificate], list[LoadIssue]]:
    """Parse each certificate; failures become issues.

    Keys are not built here: most CSCAs of a list never verify anything in a given run, and a key cardlib
    cannot use makes the checks that need it "cannot tell" when it is needed.
    """
    loaded: list[Certificate] = []
    issues: list[LoadIssue] = []
    for index, der in enumerate(raw):
        try:
            loaded.append(Certificate.from_der(der))
        except PKIError as error:
            issues.append(LoadIssue(source, f"certificate #{index} does not parse: {error}"))
    return loaded, issues


def _crls(signed_data: cms.SignedData, source: str) -> tuple[tuple[RevocationList, ...], list[LoadIssue]]:
    """The CRLs in SignedData.crls (RFC 5652 RevocationInfoChoices); other revocation formats are reported."""
    crls: list[RevocationList] = []
    issues: list[LoadIssue] = []
    for index, choice in enumerate(signed_data["crls"]):
        if choice.name != "crl":
            issues.append(LoadIssue(source, f"revocation info #{index} is not an X.509 CRL, ignored"))
            continue
        try:
            crls.append(RevocationList.from_der(choice.chosen.dump()))
        except PKIError as error:
            issues.append(LoadIssue(source, f"CRL #{index} does not parse: {error}"))
    return tuple(crls), issues


def _signer(
    signer_info: cms.SignerInfo, embedded: list[bytes], source: str
) -> tuple[Certificate | None, list[LoadIssue]]:
    """The embedded certificate the SignerInfo's sid names, or None with the reason."""
    certificates, issues = _load_all(embedded, source)
    sid = signer_info["sid"]
    for certificate in certificates:
        if sid.name == "subject_key_identifier" and sid.chosen.native == certificate.subject_key_identifier:
            return certificate, issues
        if sid.name == "issuer_and_serial_number" and (
            sid.chosen["serial_number"].native == certificate.serial_number
            and sid.chosen["issuer"] == certificate.issuer_name
        ):
            return certificate, issues
    return None, [*issues, LoadIssue(source, "signer certificate not found in the SignedData")]


def _verify(signer_info: cms.SignerInfo, signer: Certificate, content: bytes, source: str) -> bool:
    try:
        return verify_signer_info(signer_info, signer.public_key, content)
    except PKIError as error:
        raise PKIError(f"{source}: signature cannot be checked: {error}") from error


def _issuer_in(signer: Certificate, certificates: list[Certificate]) -> Certificate | None:
    """The CSCA in the list that issued ``signer`` (named by its AKI or issuer name, and verifying)."""
    named, possible = IssuerIndex(certificates).issuers(signer)
    return next((candidate for candidate in [*named, *possible] if _issued_by(signer, candidate)), None)


def _issued_by(certificate: Certificate, issuer: Certificate) -> bool:
    try:
        return certificate.verify_issued_by(issuer)
    except PKIError:
        return False


def _signing_time(signer_info: cms.SignerInfo) -> datetime | None:
    attributes = signer_info["signed_attrs"]
    if isinstance(attributes, core.Void):
        return None
    for attribute in attributes:
        if attribute["type"].native == "signing_time":
            value: datetime = attribute["values"][0].native
            return value
    return None


def encode_master_list(
    certificates: Sequence[Certificate],
    signer: Certificate,
    signer_key: PrivateKey,
    algorithm: SignatureAlgorithm,
    signing_time: datetime,
    crls: Sequence[RevocationList] = (),
) -> bytes:
    """A DER master list (CMS SignedData v3) of ``certificates``, signed by ``signer`` with ``algorithm``.

    Signed attributes are contentType, signingTime (mandatory for master lists) and messageDigest; the
    signer is identified by issuer and serial number and its certificate is embedded, and ``crls`` go into
    SignedData.crls.
    """
    content = CscaMasterList({
        "version": 0, "cert_list": [core.Any.load(certificate.der) for certificate in certificates],
    }).dump()
    digest = algorithm.digest_identifier()
    attributes = cms.CMSAttributes([
        {"type": "content_type", "values": [ID_CSCA_MASTER_LIST]},
        {"type": "signing_time", "values": [_time(signing_time)]},
        {"type": "message_digest", "values": [_digest(algorithm.hash_name, content)]},
    ])
    signer_info = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier({"issuer_and_serial_number": {
            "issuer": signer.issuer_name, "serial_number": signer.serial_number}}),
        "digest_algorithm": digest, "signed_attrs": attributes,
        "signature_algorithm": algorithm.identifier(), "signature": b"",
    })
    signer_info["signature"] = sign(signer_key, signed_attributes_bytes(signer_info), algorithm.scheme,
                                    algorithm.hash_name)
    signed_data = cms.SignedData({
        "version": "v3", "digest_algorithms": [digest],
        "encap_content_info": {"content_type": ID_CSCA_MASTER_LIST, "content": content},
        "certificates": [asn1_x509.Certificate.load(signer.der)], "signer_infos": [signer_info],
    })
    if crls:
        signed_data["crls"] = [asn1_crl.CertificateList.load(crl.der) for crl in crls]
    encoded: bytes = cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()
    return encoded


def _time(moment: datetime) -> cms.Time:
    """UTCTime through 2049, GeneralizedTime after, as RFC 5652 §11.3 requires for signingTime."""
    return cms.Time({"utc_time" if moment.year < 2050 else "general_time": moment})


def _digest(hash_name: str, data: bytes) -> bytes:
    return hashlib.new(hash_name, data).digest()
