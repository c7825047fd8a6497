"""Attacks on trust material (issue 10 items 1-2, issue 12 rollover), run through ``cardtool pki trust`` and
``cardtool verify`` on a trust folder, as an operator would.

Each attack is built with the project's test PKI: a genuine country (the CSCA of :func:`sample_pki`, given as a
PEM file, which makes it the operator's anchor) and an attacker who copies its names with keys of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import NamedTuple

import pytest
from cardtool.main import main
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cardlib.card.image import CardImage
from cardlib.card.perso import sign_data_groups
from cardlib.lds.oids import ID_MASTER_LIST_SIGNER
from cardlib.pki.anchoring import ListTrust
from cardlib.pki.certificates import Certificate, RevocationList
from cardlib.pki.masterlist import MasterList, encode_master_list
from cardlib.pki.profile import FileKey, issue_crl
from cardlib.pki.signatures import Scheme, SignatureAlgorithm
from cardlib.pki.trust import TrustStore
from cardlib.testing.cards import sample_card_image
from cardlib.testing.pki import TestPKI, sample_pki

PEM = serialization.Encoding.PEM


@cache
def attacker() -> TestPKI:
    """A CSCA and Document Signer carrying the genuine CSCA's names, with the attacker's own keys."""
    return TestPKI.generate()


def _master_list_signer(pki: TestPKI) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A Master List Signer (EKU 2.23.136.1.1.3) issued by ``pki``'s CSCA."""
    key = ec.generate_private_key(ec.SECP256R1())
    csca = pki.csca_certificate
    ski = csca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, pki.config.country),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Master List Signer")])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(csca.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(csca.not_valid_before_utc).not_valid_after(csca.not_valid_after_utc)
               .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), True)
               .add_extension(x509.ExtendedKeyUsage([x509.ObjectIdentifier(ID_MASTER_LIST_SIGNER)]), False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False))
    assert isinstance(pki.csca_key, ec.EllipticCurvePrivateKey)
    return builder.sign(pki.csca_key, hashes.SHA512()), key


def _master_list(pki: TestPKI, crls: tuple[RevocationList, ...] = ()) -> bytes:
    """A master list of ``pki``'s CSCA, signed by a Master List Signer under that same CSCA."""
    signer, key = _master_list_signer(pki)
    return encode_master_list([Certificate.from_cryptography(pki.csca_certificate)],
                              Certificate.from_cryptography(signer), key, SignatureAlgorithm(Scheme.ECDSA, "sha256"),
                              datetime.now(UTC), crls)


def _trust_folder(folder: Path, *, crl: bytes | None = None, **extra: bytes) -> Path:
    """A trust folder with the genuine CSCA (the anchor), its CRL unless ``crl`` replaces it, and ``extra`` files."""
    folder.mkdir()
    (folder / "csca.pem").write_bytes(sample_pki().csca_certificate.public_bytes(PEM))
    (folder / "crl.pem").write_bytes(crl if crl is not None else sample_pki().crl.public_bytes(PEM))
    for name, data in extra.items():
        (folder / name.replace("_", ".")).write_bytes(data)
    return folder


def _dump(image: CardImage, folder: Path) -> Path:
    image.save(folder)
    return folder


def _groups(files: dict[str, bytes]) -> dict[int, bytes]:
    return {int(name[2:]): data for name, data in files.items() if name.startswith("DG")}


class Verified(NamedTuple):
    """What ``cardtool verify DUMP --trust TRUST --json`` said: exit status, checks by id, stderr."""

    code: int
    checks: dict[str, dict[str, str]]
    err: str


def _verify(capsys: pytest.CaptureFixture[str], dump: Path, trust: Path) -> Verified:
    code = main(["verify", str(dump), "--trust", str(trust), "--json"])
    captured = capsys.readouterr()
    return Verified(code, {check["id"]: check for check in json.loads(captured.out)["checks"]}, captured.err)


def _timed(action: Callable[[], object]) -> tuple[object, float]:
    started = datetime.now(UTC)
    result = action()
    return result, (datetime.now(UTC) - started).total_seconds()


# --- a master list that trusts itself ---------------------------------------------------------------------


def test_self_made_master_list_cannot_make_a_forged_card_valid(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The attacker's list (a CSCA named like the genuine one, a Master List Signer under it) beside the genuine
    CSCA; a card of another person's data signed by the attacker's DS.  Before: VALID.  Now: cannot tell."""
    evil_list = _master_list(attacker())
    trust = _trust_folder(tmp_path / "trust", evil_ml=evil_list)
    victim = sample_card_image(1)
    forged_files = {**victim.files, "EF.SOD": sign_data_groups(_groups(dict(victim.files)), attacker().document_signer)}
    forged = _dump(CardImage(forged_files), tmp_path / "forged")

    assert main(["pki", "trust", str(trust)]) == 0
    out = capsys.readouterr().out
    listed = next(line for line in out.splitlines() if "evil.ml" in line and line.startswith("master list"))
    assert "UNANCHORED, NOT trusted" in listed and "only to a CSCA inside the list itself" in listed
    assert "anchored, its CSCAs trusted" not in out
    assert "1 anchor certificates given; 1 CSCA certificates trusted" in out

    code, checks, err = _verify(capsys, forged, trust)
    assert code == 2  # cannot tell, never valid
    assert checks["chain.csca_found"]["status"] == "cannot tell"
    assert "evil.ml" in checks["chain.csca_found"]["reason"] and "not anchored" in checks["chain.csca_found"]["reason"]
    assert checks["sod.signature"]["status"] == "pass" and checks["hash.DG1"]["status"] == "pass"
    assert "evil.ml: master list signer chains to no CSCA given as an anchor" in err  # said on stderr too

    genuine = _dump(sample_card_image(1), tmp_path / "genuine")
    code, checks, _err = _verify(capsys, genuine, trust)
    assert code == 0, checks  # the impostor list beside it does not harm the genuine card


def test_master_list_anchored_by_the_genuine_csca_adds_its_cscas(tmp_path: Path) -> None:
    """The same construction by the genuine country: the signer chains to the anchor, the list is anchored."""
    genuine_list = _master_list(sample_pki())
    store = TrustStore.load(_trust_folder(tmp_path / "trust", country_ml=genuine_list))
    assert [status.trust for status in store.master_list_statuses] == [ListTrust.ANCHORED]
    assert store.load_report == ()


# --- CSCA key rollover (issue 12) -----------------------------------------------------------------------------


def test_same_named_csca_with_a_new_key_never_makes_a_genuine_card_invalid(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    genuine = _dump(sample_card_image(0), tmp_path / "genuine")
    new_key = attacker().csca_certificate.public_bytes(PEM)  # same name, another key: what a rollover looks like
    both = _trust_folder(tmp_path / "both", csca_2_pem=new_key)
    code, checks, _err = _verify(capsys, genuine, both)
    assert code == 0 and checks["chain.ds_signature"]["status"] == "pass"
    only_new = tmp_path / "only-new"
    only_new.mkdir()
    (only_new / "csca-2.pem").write_bytes(new_key)
    code, checks, _err = _verify(capsys, genuine, only_new)
    assert code == 2, checks
    assert checks["chain.csca_found"]["status"] == "cannot tell" and "rollover" in checks["chain.csca_found"]["reason"]
    assert checks["chain.ds_signature"]["status"] == "n/a"


# --- revocation -------------------------------------------------------------------------------------------------


def test_document_signer_revoked_by_a_crl_inside_a_master_list(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Before: the CRL in the list was ignored and the revoked DS verified VALID.  Now: INVALID, revoked."""
    revoked = RevocationList.from_cryptography(sample_pki().revoke(sample_pki().ds_certificate).crl)
    trust = tmp_path / "trust"
    trust.mkdir()
    (trust / "csca.pem").write_bytes(sample_pki().csca_certificate.public_bytes(PEM))
    (trust / "country.ml").write_bytes(_master_list(sample_pki(), (revoked,)))
    code, checks, _err = _verify(capsys, _dump(sample_card_image(0), tmp_path / "card"), trust)
    assert code == 1
    assert checks["chain.ds_not_revoked"]["status"] == "fail" and "revoked" in checks["chain.ds_not_revoked"]["reason"]
    assert checks["chain.crl"]["status"] == "pass"


def test_crl_inside_an_unanchored_list_still_counts_when_it_verifies() -> None:
    """A CRL proves itself by its CSCA's signature, whoever carried it."""
    revoked = RevocationList.from_cryptography(sample_pki().revoke(sample_pki().ds_certificate).crl)
    carrier = MasterList.parse(_master_list(attacker(), (revoked,)), "carrier.ml")
    store = TrustStore([Certificate.from_cryptography(sample_pki().csca_certificate)], master_lists=[carrier])
    assert store.status_of(carrier).trust is ListTrust.UNANCHORED
    result = store.validate_document_signer(Certificate.from_cryptography(sample_pki().ds_certificate),
                                            datetime.now(UTC) + timedelta(minutes=1))
    assert [check.name for check in result.failures] == ["DS not revoked"]


def _forged_crl() -> bytes:
    """A CRL naming the genuine CSCA (name and key identifier) that revokes the genuine DS, signed by another key."""
    pki, other = sample_pki(), attacker()
    crl = issue_crl(pki.config, pki.csca_certificate, FileKey(other.csca_key), datetime.now(UTC), 99,
                    [x509.RevokedCertificateBuilder().serial_number(pki.ds_certificate.serial_number)
                     .revocation_date(datetime.now(UTC)).build()])
    return crl.public_bytes(PEM)


def test_forged_crl_never_turns_a_genuine_card_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: INVALID.  Now: beside the genuine CRL it is ignored (VALID); alone it leaves revocation unknown."""
    card = _dump(sample_card_image(0), tmp_path / "card")
    code, checks, err = _verify(capsys, card, _trust_folder(tmp_path / "with-genuine", forged_crl_pem=_forged_crl()))
    assert code == 0, checks
    assert "do not verify under its key, ignored" in checks["chain.crl"]["reason"]
    code, checks, err = _verify(capsys, card, _trust_folder(tmp_path / "forged-only", crl=_forged_crl()))
    assert code == 2
    assert checks["chain.crl"]["status"] == "cannot tell" and "forged or corrupt" in checks["chain.crl"]["reason"]
    assert "signature does not verify under the CSCA it names: ignored" in err
    assert checks["chain.ds_not_revoked"]["status"] == "cannot tell"
    main(["pki", "trust", str(tmp_path / "forged-only")])
    assert "signature does not verify under the CSCA it names: ignored" in capsys.readouterr().out


def test_expired_crl_makes_revocation_cannot_tell(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A CRL whose nextUpdate passed 20 days ago (issued 110 days ago).  Before: VALID with a warning."""
    pki = sample_pki()
    issued = datetime.now(UTC) - timedelta(days=110)
    stale = issue_crl(pki.config, pki.csca_certificate, FileKey(pki.csca_key), issued, 7, []).public_bytes(PEM)
    code, checks, _err = _verify(capsys, _dump(sample_card_image(0), tmp_path / "card"),
                           _trust_folder(tmp_path / "trust", crl=stale))
    assert code == 2
    assert checks["chain.crl"]["status"] == "cannot tell" and "not current" in checks["chain.crl"]["reason"]
    assert checks["chain.ds_not_revoked"]["status"] == "cannot tell"


def test_no_crl_at_all_keeps_the_documented_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trust = tmp_path / "trust"
    trust.mkdir()
    (trust / "csca.pem").write_bytes(sample_pki().csca_certificate.public_bytes(PEM))
    code, checks, _err = _verify(capsys, _dump(sample_card_image(0), tmp_path / "card"), trust)
    assert code == 0
    assert checks["chain.crl"]["status"] == "warn" and checks["chain.ds_not_revoked"]["status"] == "warn"


# --- budgets on trust files --------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "budget"), [("huge.ml", "MAX_MASTER_LIST_BYTES"),
                                              ("huge.pem", "MAX_TRUST_FILE_BYTES")])
def test_oversized_trust_file_is_refused_by_its_size_alone(tmp_path: Path, name: str, budget: str) -> None:
    """A sparse 1 GiB file: refused from stat, in well under a second, and the rest of the folder loads."""
    folder = _trust_folder(tmp_path / "trust")
    with (folder / name).open("wb") as handle:
        handle.truncate(1 << 30)
    store, seconds = _timed(lambda: TrustStore.load(folder))
    assert isinstance(store, TrustStore)
    assert seconds < 1.0
    assert [(Path(issue.source).name, budget in issue.reason) for issue in store.load_report] == [(name, True)]
    assert len(store.cscas) == 1
