"""The forgery catalogue: every way we know to tamper with a CCCD card or dump, and the check that catches it.

Each entry starts from a genuine personalized card (:func:`sample_card_image`, signed under :func:`sample_pki`)
and changes one thing the way an attacker (or a careless issuer) would.  The table names the exact set of
checks that must FAIL, or, for a forgery a verifier cannot decide on, the checks left undecided ("cannot
tell").  Forgeries of the chip itself (clones) are read live from a virtual chip in process, because a dump
cannot show them.  Genuine cards of every chip profile must never be flagged.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache

import pytest
from asn1crypto import algos, cms
from cardtool.counter.holder import holder_view
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from cardlib.card.image import CardImage, ChipSecrets
from cardlib.card.perso import ChipKeys, ChipProfile, personalize, sign_data_groups
from cardlib.chip.chip import VirtualChip
from cardlib.chip.options import ChipOptions
from cardlib.lds.com import EFCOM
from cardlib.lds.dg1 import DG1
from cardlib.lds.dg13 import DG13, DG13Field, DG13Text
from cardlib.lds.oids import protocol_oid
from cardlib.lds.signeddata import digest
from cardlib.lds.sod import SOD
from cardlib.lds.tlv import encode_tlv, read_single
from cardlib.model.mrz import MRZ
from cardlib.pki.certificates import Certificate, RevocationList
from cardlib.pki.profile import FileKey, PKIConfig, next_crl
from cardlib.pki.trust import TrustStore
from cardlib.reader.reader import AccessKey, read_card
from cardlib.reader.transport import APDUProcessor, InProcessTransport
from cardlib.testing.cards import sample_card_image, sample_resident
from cardlib.testing.faces import synthetic_portrait_jpeg
from cardlib.testing.pki import TestPKI, sample_pki
from cardlib.verify.live import verify_read
from cardlib.verify.report import Status, Verdict, VerificationReport
from cardlib.verify.verifier import verify

# -- the genuine card and the tools of a forger -------------------------------------------------------------


@cache
def genuine() -> CardImage:
    """The genuine card every forgery starts from (with its chip secrets, for live forgeries)."""
    return sample_card_image(0)


@cache
def other_card() -> CardImage:
    """Another genuine card of the same issuer: a source of valid, signed data to transplant."""
    return sample_card_image(1)


def trust_of(*pkis: TestPKI) -> TrustStore:
    return TrustStore([Certificate.from_cryptography(pki.csca_certificate) for pki in pkis],
                      [RevocationList.from_cryptography(pki.crl) for pki in pkis])


def groups_of(files: dict[str, bytes]) -> dict[int, bytes]:
    return {int(name[2:]): data for name, data in files.items() if name.startswith("DG")}


def with_files(**changes: bytes) -> dict[str, bytes]:
    """The genuine card's files with some replaced (keyword names use _ for the dot: EF_SOD)."""
    return {**genuine().files, **{name.replace("_", "."): data for name, data in changes.items()}}


def resigned(files: dict[str, bytes], pki: TestPKI | None = None, **options: datetime) -> dict[str, bytes]:
    """``files`` with a new SOD over their data groups, signed by ``pki``'s DS (default: the genuine DS)."""
    signer = (pki or sample_pki()).document_signer
    return {**files, "EF.SOD": sign_data_groups(groups_of(files), signer, **options)}


def flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1 :]


def edit_sod(change: Callable[[cms.SignedData], None], *, resign: bool = False) -> bytes:
    """The genuine SOD with its CMS structure edited; ``resign`` signs the signed attributes again (insider)."""
    info = cms.ContentInfo.load(read_single(genuine().files["EF.SOD"], 0x77, file="EF.SOD").value)
    signed = info["content"]
    change(signed)
    signer = signed["signer_infos"][0]
    if resign:
        signer["signature"] = sample_pki().document_signer.sign(b"\x31" + signer["signed_attrs"].dump(force=True)[1:])
    return encode_tlv(0x77, info.dump(force=True))


def set_signed_attribute(signed: cms.SignedData, name: str, value: object) -> None:
    signer = signed["signer_infos"][0]
    attributes = list(signer["signed_attrs"])
    for attribute in attributes:
        if attribute["type"].native == name:
            attribute["values"] = [value]
    signer["signed_attrs"] = cms.CMSAttributes(attributes)


def issue_ds(*, self_signed: bool = False, key_usage: x509.KeyUsage | None = None, country: str | None = None,
             lifetime: tuple[datetime, datetime] | None = None,
             basic_constraints: x509.BasicConstraints | None = None) -> TestPKI:
    """A Document Signer certificate made by a forger (own key) or mis-issued by the genuine CSCA.

    It copies the genuine DS (names, extensions, key identifiers) with one thing changed (or added).
    """
    pki = sample_pki()
    real = pki.ds_certificate
    key = ec.generate_private_key(ec.BrainpoolP384R1())
    subject = real.subject if country is None else x509.Name(
        [attribute if attribute.oid != x509.NameOID.COUNTRY_NAME else x509.NameAttribute(attribute.oid, country)
         for attribute in real.subject])
    start, end = lifetime or (real.not_valid_before_utc, real.not_valid_after_utc)
    builder = x509.CertificateBuilder().subject_name(subject).issuer_name(real.issuer).public_key(key.public_key())
    builder = builder.serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
    for extension in real.extensions:
        if isinstance(extension.value, x509.KeyUsage) and key_usage is not None:
            builder = builder.add_extension(key_usage, critical=True)
        elif isinstance(extension.value, x509.SubjectKeyIdentifier):
            builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        else:
            builder = builder.add_extension(extension.value, extension.critical)
    if basic_constraints is not None:
        builder = builder.add_extension(basic_constraints, critical=True)
    issuer_key = key if self_signed else pki.csca_key
    assert isinstance(issuer_key, ec.EllipticCurvePrivateKey)
    certificate = builder.sign(issuer_key, hashes.SHA512())
    return replace(pki, ds_certificate=certificate, ds_key=key)


@cache
def stranger_pki() -> TestPKI:
    """A CSCA and DS with the genuine names but other keys: an impostor country signing authority."""
    return TestPKI.generate()


@cache
def unknown_pki() -> TestPKI:
    """A CSCA under another name, absent from the trust store."""
    return TestPKI.generate(PKIConfig(csca_common_name="Unknown CSCA", organisation="Nowhere Ministry"))


@cache
def old_pki() -> TestPKI:
    """A PKI set up eleven years ago: its Document Signer certificate has expired."""
    return TestPKI.generate(now=datetime.now(UTC) - timedelta(days=365 * 11))


def with_mrz(edit: Callable[[str], str]) -> dict[str, bytes]:
    """The genuine card with its MRZ text edited, re-signed by the genuine DS (an issuer's mistake or insider)."""
    mrz = DG1.decode(genuine().files["DG1"]).mrz
    return resigned(with_files(DG1=DG1(MRZ(mrz.format, edit(mrz.text))).encode()))


def with_dg13(**changes: object) -> dict[str, bytes]:
    """DG13 of a changed resident, re-signed by the genuine DS: DG1 and DG13 disagree."""
    resident = replace(sample_resident(0), **changes)  # type: ignore[arg-type]
    return resigned(with_files(DG13=DG13.from_resident(resident).encode()))


def with_dg13_values(number: int, *values: str | tuple[str, ...]) -> dict[str, bytes]:
    """The genuine DG13 with field ``number`` carrying ``values`` (a tuple is a nested SEQUENCE), re-signed."""
    typed = tuple(tuple(DG13Text(text) for text in value) if isinstance(value, tuple) else DG13Text(value)
                  for value in values)
    entries = DG13.decode(genuine().files["DG13"]).entries
    dg13 = DG13(tuple(DG13Field(number, typed) if entry.number == number else DG13Field(entry.number, entry.values)
                      for entry in entries))
    return resigned(with_files(DG13=dg13.encode()))


def without(name: str) -> dict[str, bytes]:
    """The genuine card's files without ``name``: a dump made by a reader that did not read it, or left it out."""
    return {file: data for file, data in genuine().files.items() if file != name}


def swap_lso_hash(name: str, data: bytes, *, fix_message_digest: bool) -> bytes:
    """The genuine SOD whose LDSSecurityObject lists the hash of ``data`` for ``name``; signature left as it was."""
    sod = SOD.decode(genuine().files["EF.SOD"])
    lso = sod.lds_security_object
    hashes_by_dg = {**lso.dg_hashes, int(name[2:]): digest(lso.hash_algorithm, data)}
    econtent = replace(lso, dg_hashes=hashes_by_dg).encode()

    def change(signed: cms.SignedData) -> None:
        signed["encap_content_info"]["content"] = econtent
        if fix_message_digest:
            set_signed_attribute(signed, "message_digest", digest(sod.digest_algorithm, econtent))

    return edit_sod(change)


class Withholding:
    """A chip that refuses one file with "security status not satisfied", in the clear, as if it were DG3.

    The file is recognised by the short file identifier of its READ BINARY (headers are not encrypted);
    the real chip still sees the command, so the secure messaging counters stay in step.
    """

    def __init__(self, chip: VirtualChip, sfi: int) -> None:
        self.chip = chip
        self.sfi = sfi

    def process(self, raw: bytes) -> bytes:
        answer = self.chip.process(raw)
        return b"\x69\x82" if raw[1:3] == bytes([0xB0, 0x80 | self.sfi]) else answer


def clone(*, keep_ca_key: bool) -> CardImage:
    """A blank chip loaded with the genuine card's files: the forger knows the access keys but not the AA key
    (and, unless ``keep_ca_key``, not the CA key either)."""
    real = genuine()
    assert real.secrets is not None
    fresh = ChipKeys.generate()
    secrets = ChipSecrets(real.secrets.mrz_information, real.secrets.can, fresh.aa,
                          real.secrets.ca_private_key if keep_ca_key else fresh.ca)
    return CardImage(real.files, secrets, "clone")


# -- the catalogue --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Forgery:
    """One way to tamper, and what must catch it.

    ``make`` gives the files of the tampered dump (or, when ``live``, the image loaded into a chip, wrapped by
    ``chip``, that is then read).  ``fails`` is the exact set of checks that must fail; when empty,
    ``undecided`` is the exact set that must be "cannot tell".  ``reason`` must appear in the first of them.
    ``trust`` builds the trust store the verifier uses (default: the genuine CSCA and CRL).  A gap that is no
    proof of forgery (``warned``) leaves the verdict VALID with exactly those checks warning.
    """

    name: str
    make: Callable[[], dict[str, bytes] | CardImage]
    fails: frozenset[str]
    reason: str
    undecided: frozenset[str] = frozenset()
    warned: frozenset[str] = frozenset()
    trust: Callable[[], TrustStore] = field(default=lambda: trust_of(sample_pki()))
    live: bool = False
    chip: Callable[[VirtualChip], APDUProcessor] = lambda chip: chip


def _f(name: str, make: Callable[[], dict[str, bytes] | CardImage], fails: set[str], reason: str,
       **options: object) -> Forgery:
    return Forgery(name, make, frozenset(fails), reason, **options)  # type: ignore[arg-type]


FORGERIES = [
    # data altered after signing: the SOD's hashes catch it
    _f("dg1_name_altered", lambda: with_files(DG1=DG1.decode(genuine().files["DG1"]).encode().replace(
        b"NGUYEN<<THI", b"NGUYEN<<THU")), {"hash.DG1", "cross.name"}, "DG1 hash does not match the SOD"),
    _f("dg1_birth_date_digit_flipped", lambda: with_files(DG1=flip(genuine().files["DG1"], 40)),
       {"hash.DG1", "lds.dg1.check_digit.date_of_birth", "lds.dg1.check_digit.composite", "cross.date_of_birth"},
       "the MRZ was altered after signing"),
    _f("dg2_portrait_byte_flipped", lambda: with_files(DG2=flip(genuine().files["DG2"], 3000)),
       {"hash.DG2"}, "the portrait was altered after signing"),
    _f("dg2_portrait_swapped_from_another_card", lambda: with_files(DG2=other_card().files["DG2"]),
       {"hash.DG2"}, "the portrait was altered after signing"),
    _f("dg13_address_altered", lambda: with_files(DG13=genuine().files["DG13"].replace(
        "Số 18".encode(), "Số 19".encode())), {"hash.DG13"}, "the resident data was altered after signing"),
    _f("dg13_swapped_from_another_card", lambda: with_files(DG13=other_card().files["DG13"]),
       {"hash.DG13", "cross.id_number"}, "the resident data was altered after signing"),
    _f("dg14_ca_key_swapped", lambda: with_files(DG14=other_card().files["DG14"]),
       {"hash.DG14"}, "the Chip Authentication key was altered after signing"),
    _f("dg15_aa_key_swapped", lambda: with_files(DG15=other_card().files["DG15"]),
       {"hash.DG15"}, "the Active Authentication key was altered after signing"),
    _f("holder_swapped_dg1_dg2_dg13_from_another_card",
       lambda: with_files(DG1=other_card().files["DG1"], DG2=other_card().files["DG2"],
                          DG13=other_card().files["DG13"]),
       {"hash.DG1", "hash.DG2", "hash.DG13"}, "DG1 hash does not match the SOD"),
    _f("sod_transplanted_from_another_card", lambda: with_files(EF_SOD=other_card().files["EF.SOD"]),
       {"hash.DG1", "hash.DG2", "hash.DG13", "hash.DG14", "hash.DG15"}, "DG1 hash does not match the SOD"),
    # the list of data groups tampered with
    _f("dg_removed_from_ef_com", lambda: with_files(EF_COM=EFCOM(data_groups=(1, 2, 3, 14, 15)).encode()),
       {"com.sod_consistency"}, "DG13 only in the SOD"),
    _f("dg_removed_from_the_sod", lambda: {**with_files(), "EF.SOD": sign_data_groups(
        {n: d for n, d in groups_of(dict(genuine().files)).items() if n != 15}, sample_pki().document_signer)},
       {"hash.DG15", "com.sod_consistency"}, "DG15 is on the chip but not in the SOD: unsigned data"),
    _f("unsigned_dg_added_and_listed", lambda: with_files(
        EF_COM=EFCOM(data_groups=(1, 2, 3, 11, 13, 14, 15)).encode(), DG11=encode_tlv(0x6B, b"\x5c\x00")),
       {"hash.DG11", "com.sod_consistency"}, "DG11 is on the chip but not in the SOD: unsigned data"),
    # the SOD itself tampered with
    _f("sod_signature_flipped", lambda: with_files(EF_SOD=flip(genuine().files["EF.SOD"],
                                                               len(genuine().files["EF.SOD"]) - 3)),
       {"sod.signature"}, "the SOD signature does not verify"),
    _f("sod_hash_list_rewritten", lambda: with_files(
        DG13=other_card().files["DG13"],
        EF_SOD=swap_lso_hash("DG13", other_card().files["DG13"], fix_message_digest=False)),
       {"sod.message_digest", "cross.id_number"}, "the messageDigest attribute is not the hash"),
    _f("sod_hash_list_and_message_digest_rewritten", lambda: with_files(
        DG13=other_card().files["DG13"],
        EF_SOD=swap_lso_hash("DG13", other_card().files["DG13"], fix_message_digest=True)),
       {"sod.signature", "cross.id_number"}, "the SOD signature does not verify"),
    _f("sod_signer_digest_algorithm_changed", lambda: with_files(EF_SOD=edit_sod(
        lambda signed: signed["signer_infos"][0].__setitem__("digest_algorithm",
                                                             algos.DigestAlgorithm({"algorithm": "sha512"})))),
       {"sod.message_digest"}, "the messageDigest attribute is not the hash"),
    _f("sod_signature_algorithm_claims_another_hash", lambda: with_files(EF_SOD=edit_sod(
        lambda signed: signed["signer_infos"][0].__setitem__("signature_algorithm", algos.SignedDigestAlgorithm(
            {"algorithm": "sha512_ecdsa"})))), {"sod.signature"}, "the SOD signature does not verify"),
    _f("sod_unknown_econtent_type_resigned", lambda: with_files(EF_SOD=edit_sod(
        lambda signed: (signed["encap_content_info"].__setitem__("content_type", "1.2.3.4"),
                        set_signed_attribute(signed, "content_type", cms.ContentType("1.2.3.4"))), resign=True)),
       {"sod.content_type"}, "eContentType 1.2.3.4 is not ldsSecurityObject"),
    _f("sod_content_type_attribute_mismatch", lambda: with_files(EF_SOD=edit_sod(
        lambda signed: set_signed_attribute(signed, "content_type", cms.ContentType("1.2.840.113549.1.7.1")),
        resign=True)), {"sod.content_type"}, "is not the eContentType"),
    _f("sod_sid_names_another_certificate", lambda: with_files(EF_SOD=edit_sod(
        lambda signed: signed["signer_infos"][0]["sid"].chosen.__setitem__("serial_number", 4242))),
       {"sod.signer"}, "no certificate in the SOD is the one SignerInfo.sid names"),
    _f("sod_truncated", lambda: with_files(EF_SOD=genuine().files["EF.SOD"][:-40]),
       {"sod.decode"}, "EF.SOD is malformed"),
    # the Document Signer certificate
    _f("sod_resigned_by_a_self_made_dsc", lambda: resigned(with_files(), issue_ds(self_signed=True)),
       {"chain.ds_signature"}, "the CSCA's signature on the Document Signer certificate does not verify"),
    # its AKI names a key the store lacks: a same-named CSCA with another key is not its issuer (issue 12)
    _f("dsc_from_another_csca_with_the_same_name", lambda: resigned(with_files(), stranger_pki()), set(),
       "with other keys", undecided=frozenset({"chain.csca_found"})),
    _f("dsc_of_an_unknown_csca", lambda: resigned(with_files(), unknown_pki()), set(),
       "the Document Signer's CSCA is not in the trust store", undecided=frozenset({"chain.csca_found"})),
    _f("expired_dsc", lambda: resigned(with_files(), old_pki()), {"chain.ds_validity"},
       "not valid at the time of verification", trust=lambda: trust_of(old_pki())),
    _f("signed_before_the_dsc_was_valid", lambda: resigned(
        with_files(), signing_time=sample_pki().ds_certificate.not_valid_before_utc - timedelta(days=30)),
       {"chain.ds_validity", "chain.csca_validity", "lds.sod.signing_time"}, "was not valid when the SOD was signed"),
    _f("signed_years_in_the_future", lambda: resigned(
        with_files(), signing_time=datetime.now(UTC) + timedelta(days=365 * 5)),
       {"lds.sod.signing_time"}, "a SOD cannot be signed in the future"),
    _f("signed_in_the_future_after_the_dsc_expires", lambda: resigned(
        with_files(), signing_time=sample_pki().ds_certificate.not_valid_after_utc + timedelta(days=30)),
       {"lds.sod.signing_time"}, "after the Document Signer certificate expired"),
    _f("signed_after_the_dsc_expired", lambda: resigned(
        with_files(), old_pki(), signing_time=datetime.now(UTC) - timedelta(days=30)),
       {"chain.ds_validity", "lds.sod.signing_time"}, "was not valid when the SOD was signed",
       trust=lambda: trust_of(old_pki())),
    _f("dsc_that_is_a_ca", lambda: resigned(with_files(), issue_ds(
        basic_constraints=x509.BasicConstraints(ca=True, path_length=None))),
       {"lds.dsc.basic_constraints"}, "must not be a CA"),
    _f("revoked_dsc", with_files, {"chain.ds_not_revoked"}, "revoked",
       trust=lambda: trust_of(sample_pki().revoke(sample_pki().ds_certificate))),
    _f("dsc_without_digital_signature", lambda: resigned(with_files(), issue_ds(key_usage=x509.KeyUsage(
        False, True, False, False, False, False, False, False, False))),
       {"chain.ds_key_usage", "lds.dsc.key_usage"}, "may not sign documents"),
    _f("dsc_of_another_country", lambda: resigned(with_files(), issue_ds(country="LA")),
       {"chain.country", "lds.dsc.country"}, "different countries"),
    # signed, but wrong: an insider with the DS key, or an issuer's mistake
    _f("dg1_and_dg13_names_disagree", lambda: with_dg13(full_name="Nguyễn Thị Thu Hà"), {"cross.name"},
       "is not DG13's"),
    _f("dg1_and_dg13_birth_dates_disagree", lambda: with_dg13(date_of_birth=sample_resident(0).date_of_birth
                                                              + timedelta(days=3)),
       {"cross.date_of_birth"}, "date of birth differs"),
    _f("dg1_and_dg13_expiry_disagree", lambda: with_dg13(date_of_expiry=None), {"cross.date_of_expiry"},
       "date of expiry differs"),
    _f("dg13_name_with_an_added_cyrillic_letter", lambda: with_dg13_values(2, "Nguyễn Thịы Thu Hương"),
       {"lds.dg13.alphabet", "cross.name", "cross.resident"}, "U+044B CYRILLIC SMALL LETTER YERU"),
    _f("dg13_name_with_an_extra_non_latin_word", lambda: with_dg13_values(2, "Nguyễn Thị Thu Hương Иван"),
       {"lds.dg13.alphabet", "cross.name", "cross.resident"}, "U+0418 CYRILLIC CAPITAL LETTER I"),
    _f("dg13_name_with_a_combining_overlay", lambda: with_dg13_values(2, "Nguyễn Thị T\u0336hu Hương"),
       {"lds.dg13.alphabet", "cross.name", "cross.resident"}, "U+0336 COMBINING LONG STROKE OVERLAY"),
    _f("dg13_mother_name_with_a_cyrillic_look_alike", lambda: with_dg13_values(
        13, ("Nguyễn Văn Hải", "Trần Thị L\u0430n")), {"lds.dg13.alphabet", "cross.resident"},
       "U+0430 CYRILLIC SMALL LETTER A"),
    _f("dg13_name_carrying_two_values", lambda: with_dg13_values(2, "Nguyễn Thị Thu Hương", "Trần Văn Bình"),
       {"lds.dg13.repeated", "cross.name"}, "DG13 field 2 holds 2 values"),
    _f("dg13_expiry_carrying_two_values", lambda: with_dg13_values(12, "02/07/2030", "Không thời hạn"),
       {"lds.dg13.repeated", "cross.date_of_expiry"}, "DG13 field 12 holds 2 values"),
    _f("dg13_two_spouses", lambda: with_dg13_values(14, ("Lê Minh Quân", "Phạm Văn Bé")),
       {"lds.dg13.repeated"}, "DG13 field 14 holds 2 values"),
    # gaps that are no proof of forgery: warned about, the verdict stays VALID
    _f("ef_com_left_out_of_the_dump", lambda: without("EF.COM"), set(), "LDS 1.7",
       warned=frozenset({"lds.com"})),
    _f("mrz_birth_check_digit_wrong", lambda: with_mrz(lambda text: text[:36] + str((int(text[36]) + 1) % 10)
                                                       + text[37:]),
       {"lds.dg1.check_digit.date_of_birth", "lds.dg1.check_digit.composite"}, "check digit is wrong"),
    _f("mrz_document_number_check_digit_wrong", lambda: with_mrz(
        lambda text: text[:14] + str((int(text[14]) + 1) % 10) + text[15:]),
       {"lds.dg1.check_digit.document_number", "lds.dg1.check_digit.composite"}, "check digit is wrong"),
    # the chip: only a live read can show these
    _f("chip_withholds_the_portrait", genuine, set(), "the chip refused to give DG2", live=True,
       undecided=frozenset({"hash.DG2"}), chip=lambda chip: Withholding(chip, sfi=0x02)),
    _f("chip_withholds_the_resident_data", genuine, set(), "the chip refused to give DG13", live=True,
       undecided=frozenset({"hash.DG13"}), chip=lambda chip: Withholding(chip, sfi=0x0D)),
    _f("cloned_chip_without_its_keys", lambda: clone(keep_ca_key=False), {"live.chip_authentication"},
       "the chip may be a clone", live=True),
    _f("cloned_chip_with_its_ca_key_but_not_its_aa_key", lambda: clone(keep_ca_key=True),
       {"live.active_authentication"}, "the chip may be a clone", live=True),
]


def _verify(forgery: Forgery) -> VerificationReport:
    made = forgery.make()
    if forgery.live:
        assert isinstance(made, CardImage) and made.secrets is not None
        read = read_card(InProcessTransport(forgery.chip(VirtualChip(made))), AccessKey.can(made.secrets.can))
        return verify_read(read, forgery.trust(), source=forgery.name)
    assert isinstance(made, dict)
    return verify(CardImage(made), forgery.trust(), source=forgery.name)


def test_the_catalogue_holds_at_least_25_distinct_forgeries() -> None:
    names = [forgery.name for forgery in FORGERIES]
    assert len(set(names)) == len(names) >= 25


@pytest.mark.parametrize("forgery", FORGERIES, ids=lambda forgery: forgery.name)
def test_forgery_is_caught_with_the_precise_reason(forgery: Forgery) -> None:
    report = _verify(forgery)
    if forgery.warned:
        assert report.verdict is Verdict.VALID, report.to_text()
        warnings = [check for check in report.checks if check.status is Status.WARN]
        assert {check.id for check in warnings} == forgery.warned, report.to_text()
        assert forgery.reason in warnings[0].reason, warnings[0]
        return
    if forgery.fails:
        assert report.verdict is Verdict.INVALID, report.to_text()
        assert {check.id for check in report.failures()} == forgery.fails, report.to_text()
        first = report.failures()[0]
    else:
        assert report.verdict is Verdict.CANNOT_TELL, report.to_text()
        assert {check.id for check in report.undecided()} == forgery.undecided, report.to_text()
        first = report.undecided()[0]
    assert forgery.reason in first.reason, first


# -- genuine cards are never flagged ------------------------------------------------------------------------

_3DES = ChipProfile(pace_protocol=protocol_oid("id-PACE-ECDH-GM-3DES-CBC-CBC"),
                    ca_protocol=protocol_oid("id-CA-ECDH-3DES-CBC-CBC"))
_AES_256 = ChipProfile(pace_protocol=protocol_oid("id-PACE-ECDH-GM-AES-CBC-CMAC-256"),
                       ca_protocol=protocol_oid("id-CA-ECDH-AES-CBC-CMAC-256"))
PROFILES = {  # name: (profile, chip options, access and cipher the read must use)
    "ec_aa_aes": (ChipProfile(), ChipOptions(), ("PACE-CAN", "AES")),
    "rsa_aa": (ChipProfile(aa_key_type="rsa"), ChipOptions(), ("PACE-CAN", "AES")),
    "3des": (_3DES, ChipOptions(), ("PACE-CAN", "3DES")),
    "aes_256": (_AES_256, ChipOptions(), ("PACE-CAN", "AES")),
    "bac_only_chip": (ChipProfile(), ChipOptions(pace=False), ("BAC", "3DES")),
    "jpeg2000_portrait": (ChipProfile(portrait_format="JPEG2000"), ChipOptions(), ("PACE-CAN", "AES")),
}


@pytest.mark.parametrize("profile", PROFILES, ids=str)
def test_genuine_card_of_every_profile_is_never_flagged(profile: str) -> None:
    chip_profile, options, (access, cipher) = PROFILES[profile]
    image = sample_card_image(7, profile=chip_profile)
    assert image.secrets is not None
    key = AccessKey.mrz(image.secrets.mrz_information) if not options.pace else AccessKey.can(image.secrets.can)
    read = read_card(InProcessTransport(VirtualChip(image, options)), key)
    assert (read.access, read.cipher) == (access, cipher)
    report = verify_read(read, trust_of(sample_pki()))
    assert report.verdict is Verdict.VALID, report.to_text()
    assert not report.failures() and not report.undecided()
    assert report.check("live.chip_authentication").status is Status.PASS
    assert report.check("live.active_authentication").status is Status.PASS
    assert verify(image.dump(), trust_of(sample_pki())).verdict is Verdict.VALID


def with_crl_issued_at(when: datetime) -> TestPKI:
    """The genuine PKI with a new CRL (nothing more revoked) issued at ``when``: current then."""
    pki = sample_pki()
    return replace(pki, crl=next_crl(pki.config, pki.csca_certificate, FileKey(pki.csca_key), pki.crl, [], when))


def test_an_expired_genuine_card_is_still_genuine_with_a_warning() -> None:
    expiry = sample_resident(0).date_of_expiry
    assert expiry is not None
    later = datetime(expiry.year + 1, 1, 1, tzinfo=UTC)
    report = verify(genuine().dump(), trust_of(with_crl_issued_at(later)), at=later)
    assert report.verdict is Verdict.VALID, report.to_text()
    check = report.check("lds.dg1.expiry")
    assert check.status is Status.WARN and expiry.isoformat() in check.reason
    assert verify(genuine().dump(), trust_of(sample_pki())).check("lds.dg1.expiry").status is Status.PASS


def test_a_card_without_expiry_never_expires() -> None:
    resident = replace(sample_resident(3), date_of_expiry=None)
    image = personalize(resident, synthetic_portrait_jpeg(3), sample_pki().document_signer)
    report = verify(image.dump(), trust_of(sample_pki()), at=datetime(2099, 1, 1, tzinfo=UTC))
    assert report.check("lds.dg1.expiry").status is Status.PASS
    assert "991231" in report.check("lds.dg1.expiry").reason


def test_a_genuine_card_signed_moments_ahead_of_a_slow_verifier_clock_is_not_flagged() -> None:
    files = resigned(with_files(), signing_time=datetime.now(UTC) + timedelta(hours=3))
    report = verify(CardImage(files), trust_of(sample_pki()))
    assert report.verdict is Verdict.VALID, report.to_text()
    assert report.check("lds.sod.signing_time").status is Status.PASS
    assert not [check for check in report.checks if check.status is Status.WARN], report.to_text()


def test_a_genuine_card_storing_dg13_in_nfd_is_not_flagged() -> None:
    entries = DG13.decode(genuine().files["DG13"]).entries
    nfd = tuple(DG13Field(entry.number, tuple(
        DG13Text(unicodedata.normalize("NFD", value.text), value.string_type) if isinstance(value, DG13Text)
        else tuple(DG13Text(unicodedata.normalize("NFD", item.text)) for item in value) for value in entry.values))
        for entry in entries)
    files = resigned(with_files(DG13=DG13(nfd).encode()))
    assert files["DG13"] != genuine().files["DG13"]
    report = verify(CardImage(files), trust_of(sample_pki()))
    assert report.verdict is Verdict.VALID, report.to_text()
    assert not [check for check in report.checks if check.status is Status.WARN], report.to_text()


def test_the_holder_of_a_field_carrying_two_values_is_shown_as_ambiguous() -> None:
    files = with_dg13_values(2, "Nguyễn Thị Thu Hương", "Trần Văn Bình")
    shown = "Nguyễn Thị Thu Hương | Trần Văn Bình (ambiguous: DG13 field 2 holds 2 values)"
    assert verify(CardImage(files), trust_of(sample_pki())).holder.display()["full name"] == shown
    assert holder_view(files).to_dict()["full_name"] == shown  # the counter page, too


def old_pki_with_a_current_crl() -> TestPKI:
    """The PKI of eleven years ago, its CSCA still valid, with a CRL issued today (nothing revoked)."""
    pki = old_pki()
    now = datetime.now(UTC)
    return replace(pki, crl=next_crl(pki.config, pki.csca_certificate, FileKey(pki.csca_key), pki.crl, [], now))


def card_of_the_old_pki(expiry: datetime) -> CardImage:
    """A card issued eleven years ago by the old PKI (no signingTime in its SOD), expiring on ``expiry``."""
    issued = old_pki().ds_certificate.not_valid_before_utc.date() + timedelta(days=1)
    resident = replace(sample_resident(0), date_of_issue=issued, date_of_expiry=expiry.date())
    return personalize(resident, synthetic_portrait_jpeg(0), old_pki().document_signer)


def test_an_expired_card_whose_document_signer_expired_after_it_is_genuine_with_warnings() -> None:
    ds_expiry = old_pki().ds_certificate.not_valid_after_utc
    card = card_of_the_old_pki(ds_expiry - timedelta(days=60))
    report = verify(card.dump(), trust_of(old_pki_with_a_current_crl()))
    assert report.verdict is Verdict.VALID, report.to_text()
    check = report.check("chain.ds_validity")
    assert check.status is Status.WARN and "an expired document, not a forgery" in check.reason
    assert report.check("lds.dg1.expiry").status is Status.WARN


def test_a_document_that_outlived_its_expired_document_signer_cannot_be_told() -> None:
    ds_expiry = old_pki().ds_certificate.not_valid_after_utc
    card = card_of_the_old_pki(min(ds_expiry + timedelta(days=200), datetime.now(UTC) - timedelta(days=2)))
    report = verify(card.dump(), trust_of(old_pki_with_a_current_crl()))
    assert report.verdict is Verdict.CANNOT_TELL, report.to_text()
    assert report.check("chain.ds_validity").status is Status.UNKNOWN
    assert not report.failures(), report.to_text()
