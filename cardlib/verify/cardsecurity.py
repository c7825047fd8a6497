"""EF.CardSecurity checks: is the file signed by a trusted Document Signer, and does it agree with the rest?

EF.CardSecurity signs the key a PACE-CAM chip proves it holds, so a PACE-CAM result is worth what this file is
worth.  The checks, each its own named result (only ``cardsecurity.decode``, NOT_APPLICABLE, when the card has
no EF.CardSecurity, as chips without PACE-CAM have none):

* ``cardsecurity.decode``: the file decodes; ``cardsecurity.content_type``: its eContentType is id-SecurityObject
  (and the contentType signed attribute, when there are signed attributes, says the same);
* ``cardsecurity.signer``: the Document Signer certificate SignerInfo.sid names is in the file;
* ``cardsecurity.signature``: the signature verifies with its key, over the signed attributes whose messageDigest
  is the hash of the SecurityInfos, or, without signed attributes (RFC 5652 §5.4, as JMRTD's sample), over the
  SecurityInfos themselves;
* ``cardsecurity.chain.*``: the Document Signer chains to a trusted CSCA, judged as the SOD's is
  (:func:`cardlib.verify.chain.chain_checks`, the same rules and reasons);
* ``cardsecurity.card_access``: the PACEInfos of EF.CardAccess (unsigned, read in the clear) are those the file
  signs; a signed mapping better than any EF.CardAccess offers (CAM > IM > GM, the reader's preference) was
  removed from it, a downgrade (FAIL); other differences are warned about;
* ``cardsecurity.cam_key``: when PACE-CAM is offered, the file signs a Chip Authentication key on its curve;
* ``cardsecurity.dg14``: a Chip Authentication key in both files under the same key ID is the same key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from asn1crypto import algos

from cardlib.errors import CardlibError, PKIError, ValidationError
from cardlib.lds.asn1 import DHPublicKeyInfo, ECPublicKeyInfo, algorithm_identifier_der
from cardlib.lds.cardsecurity import CardSecurity
from cardlib.lds.files import DATA_GROUPS, EF_CARD_ACCESS, EF_CARD_SECURITY
from cardlib.lds.oids import ID_SECURITY_OBJECT, PROTOCOLS
from cardlib.lds.securityinfo import DG14, CardAccess, ChipAuthenticationPublicKeyInfo, SecurityInfos
from cardlib.lds.signeddata import digest
from cardlib.pki.certificates import Certificate
from cardlib.pki.signatures import verify_signature
from cardlib.pki.trust import TrustStore
from cardlib.reader.access import PACE_MAPPING_PREFERENCE
from cardlib.verify.chain import chain_checks, signing_time_credible
from cardlib.verify.report import CheckResult, Group, Status

PREFIX = "cardsecurity."
_NAME = EF_CARD_SECURITY.name


def _passive(check: str, status: Status, reason: str) -> CheckResult:
    return CheckResult(PREFIX + check, Group.PASSIVE, status, reason)


def _conformance(check: str, status: Status, reason: str) -> CheckResult:
    return CheckResult(PREFIX + check, Group.CONFORMANCE, status, reason)


def cardsecurity_checks(files: Mapping[str, bytes], trust: TrustStore, *, at: datetime) -> list[CheckResult]:
    """Every EF.CardSecurity check over the files of one card (module docstring); one NOT_APPLICABLE result
    when the card has no EF.CardSecurity."""
    data = files.get(_NAME)
    if data is None:
        return [_passive("decode", Status.NOT_APPLICABLE, f"no {_NAME} (only chips offering PACE-CAM need one)")]
    try:
        card_security = CardSecurity.decode(data)
    except CardlibError as error:
        return [_passive("decode", Status.FAIL, f"{_NAME} is malformed: {error}")]
    signer, signer_check = _signer(card_security)
    signed = card_security.signing_time
    credible = signed if signed is not None and signing_time_credible(signed, at) else None
    chain = [CheckResult(PREFIX + result.id, result.group, result.status, result.reason)
             for result in chain_checks(signer, trust, at, credible)]
    return [_passive("decode", Status.PASS, f"{_NAME} decodes: {len(card_security.security_infos.infos)} "
                     "SecurityInfos"),
            _content_type(card_security), signer_check, _signature(card_security, signer), *chain,
            *consistency_checks(card_security.security_infos, files)]


def _content_type(card_security: CardSecurity) -> CheckResult:
    found = card_security.econtent_type
    if found != ID_SECURITY_OBJECT:
        return _passive("content_type", Status.FAIL, f"eContentType {found} is not id-SecurityObject "
                        f"({ID_SECURITY_OBJECT}, BSI TR-03110-3 A.1.2.5)")
    attribute = card_security.content_type_attribute
    if card_security.signed_attributes is not None and attribute != found:
        return _passive("content_type", Status.FAIL, f"the contentType signed attribute ({attribute}) is not the "
                        f"eContentType ({found}): RFC 5652 §11.1")
    return _passive("content_type", Status.PASS, f"eContentType id-SecurityObject {found}")


def _signer(card_security: CardSecurity) -> tuple[Certificate | None, CheckResult]:
    """The Document Signer certificate SignerInfo.sid names, byte for byte."""
    entries = card_security.signer_certificates
    if not entries:
        return None, _passive("signer", Status.FAIL, f"{_NAME} carries no Document Signer certificate")
    try:
        named = [entry for entry in entries if card_security.sid.matches(entry)]
        certificate = Certificate.from_der(named[0].der) if named else None
    except (CardlibError, ValueError) as error:
        return None, _passive("signer", Status.FAIL, f"the Document Signer certificate is malformed: {error}")
    if certificate is None:
        return None, _passive("signer", Status.FAIL,
                              f"no certificate in {_NAME} is the one SignerInfo.sid names: signer unknown")
    return certificate, _passive("signer", Status.PASS, f"Document Signer {certificate.subject}")


def _signature(card_security: CardSecurity, signer: Certificate | None) -> CheckResult:
    if signer is None:
        return _passive("signature", Status.UNKNOWN, "no Document Signer certificate to verify (see "
                        "cardsecurity.signer)")
    covered, what = card_security.econtent, "the SecurityInfos (no signed attributes, RFC 5652 §5.4)"
    if card_security.signed_attributes is not None:
        try:
            hashed = digest(card_security.digest_algorithm, card_security.econtent)
        except ValidationError as error:
            return _passive("signature", Status.FAIL, f"digest algorithm not allowed: {error.reason}")
        if card_security.message_digest != hashed:
            return _passive("signature", Status.FAIL, "the messageDigest signed attribute is not the hash of the "
                            "SecurityInfos: they were altered after signing")
        covered, what = card_security.signed_attributes, "the signed attributes"
    algorithm = algos.SignedDigestAlgorithm.load(algorithm_identifier_der(
        card_security.signature_algorithm.oid, card_security.signature_algorithm.parameters))
    try:
        valid = verify_signature(signer.public_key, card_security.signature, covered, algorithm,
                                 digest_algorithm=card_security.digest_algorithm)
    except PKIError as error:
        return _passive("signature", Status.UNKNOWN, f"the signature cannot be checked: {error}")
    if not valid:
        return _passive("signature", Status.FAIL, f"the {_NAME} signature does not verify with the Document "
                        "Signer key: the file was altered or signed by another key")
    return _passive("signature", Status.PASS, f"{card_security.signature_algorithm.name} signature over {what} "
                    "verifies")


# --- consistency with EF.CardAccess and DG14 --------------------------------------------------------------------


def consistency_checks(signed: SecurityInfos, files: Mapping[str, bytes]) -> list[CheckResult]:
    """``cardsecurity.card_access``, ``cardsecurity.cam_key`` and ``cardsecurity.dg14`` for the SecurityInfos
    EF.CardSecurity signs."""
    card_access = _decoded(files, EF_CARD_ACCESS.name, CardAccess.decode)
    dg14 = _decoded(files, DATA_GROUPS[14].name, DG14.decode)
    return [_card_access(signed, card_access), _cam_key(signed, card_access), _dg14(signed, dg14)]


def _decoded(files: Mapping[str, bytes], name: str,
             decode: Callable[[bytes], SecurityInfos]) -> SecurityInfos | None:
    """The file's SecurityInfos, or None when it is absent or does not decode (its own checks say so)."""
    data = files.get(name)
    if data is None:
        return None
    try:
        return decode(data)
    except CardlibError:
        return None


def _offers(infos: SecurityInfos) -> set[tuple[str, int | None]]:
    return {(info.protocol, info.parameter_id) for info in infos.pace_infos}


def _names(offers: set[tuple[str, int | None]]) -> str:
    return ", ".join(f"{_protocol_name(info)} (parameter ID {parameter})"
                     for info, parameter in sorted(offers, key=lambda item: (item[0], item[1] or -1)))


def _protocol_name(oid: str) -> str:
    known = PROTOCOLS.get(oid)
    return known.name if known is not None else oid


def _card_access(signed: SecurityInfos, card_access: SecurityInfos | None) -> CheckResult:
    if card_access is None:
        return _passive("card_access", Status.NOT_APPLICABLE, "no decoded EF.CardAccess to compare with")
    offered, signs = _offers(card_access), _offers(signed)
    if not signs:
        return _passive("card_access", Status.WARN, f"{_NAME} signs no PACEInfo, so the PACE protocols "
                            "EF.CardAccess offers (read in the clear) cannot be checked against a signed list")
    if offered == signs:
        return _passive("card_access", Status.PASS, f"EF.CardAccess offers exactly the PACE protocols {_NAME} "
                            f"signs: {_names(signs)}")
    hidden, unsigned = signs - offered, offered - signs
    downgrade = _best_mapping(hidden) < _best_mapping(offered)
    if downgrade:
        return _passive("card_access", Status.FAIL, f"EF.CardAccess was altered: {_names(hidden)} signed but "
                        "missing from EF.CardAccess, which offers only weaker mappings (a downgrade)")
    problems = [f"{_names(unsigned)} offered in EF.CardAccess but not signed"] if unsigned else []
    problems += [f"{_names(hidden)} signed but not offered in EF.CardAccess"] if hidden else []
    return _passive("card_access", Status.WARN, f"EF.CardAccess and {_NAME} differ (BSI TR-03110-3 asks the "
                    f"signed file to hold what EF.CardAccess offers), though no better mapping is hidden: "
                    f"{'; '.join(problems)}")


def _best_mapping(offers: set[tuple[str, int | None]]) -> int:
    """The rank of the best PACE mapping among ``offers`` in the reader's preference (lower is better)."""
    ranks = [PACE_MAPPING_PREFERENCE.index(PROTOCOLS[oid].mapping or "") for oid, _ in offers
             if oid in PROTOCOLS and PROTOCOLS[oid].mapping in PACE_MAPPING_PREFERENCE]
    return min(ranks, default=len(PACE_MAPPING_PREFERENCE))


def _cam_curves(card_access: SecurityInfos | None, signed: SecurityInfos) -> set[str]:
    """The curves of the PACE-CAM protocols offered, in EF.CardAccess or EF.CardSecurity."""
    infos = [*signed.pace_infos, *(card_access.pace_infos if card_access is not None else ())]
    return {info.curve.name for info in infos if info.algorithm.mapping == "CAM" and info.curve is not None}


def _cam_key(signed: SecurityInfos, card_access: SecurityInfos | None) -> CheckResult:
    try:
        curves = _cam_curves(card_access, signed)
    except CardlibError as error:
        return _conformance("cam_key", Status.FAIL, f"a PACEInfo names an unknown protocol: {error}")
    if not curves:
        return _conformance("cam_key", Status.NOT_APPLICABLE, "PACE-CAM is not offered")
    keyed = {info.public_key.curve.name for info in signed.chip_authentication_public_key_infos
             if isinstance(info.public_key, ECPublicKeyInfo)}
    missing = sorted(curves - keyed)
    if missing:
        return _conformance("cam_key", Status.FAIL, f"PACE-CAM is offered on {', '.join(missing)} but {_NAME} "
                            "signs no Chip Authentication key on it (ICAO 9303-11 §4.4.3.5): the chip's proof "
                            "cannot be checked")
    return _conformance("cam_key", Status.PASS, f"{_NAME} signs the PACE-CAM key on {', '.join(sorted(curves))}")


def key_value(info: ChipAuthenticationPublicKeyInfo) -> tuple[int | bytes, ...]:
    """A Chip Authentication public key as numbers, equal for the same key however its parameters are written
    (named, standardized or explicit)."""
    key = info.public_key
    if isinstance(key, DHPublicKeyInfo):
        return key.p, key.g, key.q, key.y
    curve = key.curve
    return curve.p, curve.a, curve.b, curve.gx, curve.gy, curve.n, key.point


def _dg14(signed: SecurityInfos, dg14: SecurityInfos | None) -> CheckResult:
    if dg14 is None:
        return _passive("dg14", Status.NOT_APPLICABLE, "no decoded DG14 to compare with")
    ours = {info.key_id: key_value(info) for info in signed.chip_authentication_public_key_infos}
    theirs = {info.key_id: key_value(info) for info in dg14.chip_authentication_public_key_infos}
    common = sorted(set(ours) & set(theirs), key=lambda key_id: -1 if key_id is None else key_id)
    if not common:
        return _passive("dg14", Status.WARN, f"{_NAME} and DG14 hold no Chip Authentication key under the same "
                            "key ID: nothing to compare")
    differing = [key_id for key_id in common if ours[key_id] != theirs[key_id]]
    if differing:
        return _passive("dg14", Status.FAIL, f"the Chip Authentication key {_key_ids(differing)} differs between "
                            f"{_NAME} and DG14: one of them was replaced")
    return _passive("dg14", Status.PASS, f"the Chip Authentication key {_key_ids(common)} is the same in "
                        f"{_NAME} and DG14")


def _key_ids(key_ids: list[int | None]) -> str:
    return ", ".join("without key ID" if key_id is None else f"ID {key_id}" for key_id in key_ids)
