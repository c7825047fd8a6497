"""Personalization: a resident and a portrait become a complete, decodable, signed CCCD file set."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cardlib.card.perso import ChipKeys, ChipProfile, personalize
from cardlib.card.synthetic_faces import synthetic_portrait_jpeg
from cardlib.errors import DecodeError
from cardlib.lds.com import EFCOM
from cardlib.lds.dg1 import DG1
from cardlib.lds.dg2 import DG2
from cardlib.lds.dg13 import DG13
from cardlib.lds.dg15 import DG15
from cardlib.lds.securityinfo import DG14, CardAccess
from cardlib.lds.sod import SOD
from cardlib.model.resident import Resident, Sex
from cardlib.pki.certificates import Certificate
from cardlib.pki.signatures import verify_signature
from cardlib.pki.testpki import TestPKI

PKI = TestPKI.generate()


def _resident() -> Resident:
    return Resident(
        id_number="001199012345", full_name="Đỗ Thị Lan Anh", date_of_birth=date(1999, 3, 14), sex=Sex.FEMALE,
        place_of_origin="Hà Đông, Hà Nội", place_of_residence="12 Phố Huế, Hai Bà Trưng, Hà Nội",
        date_of_issue=date(2021, 5, 1), date_of_expiry=date(2039, 3, 14),
    )


def test_personalized_card_decodes_and_is_signed() -> None:
    resident = _resident()
    image = personalize(resident, synthetic_portrait_jpeg(3), PKI.document_signer)
    assert set(image.files) == {"EF.CardAccess", "EF.COM", "DG1", "DG2", "DG3", "DG13", "DG14", "DG15", "EF.SOD"}
    assert EFCOM.decode(image.files["EF.COM"]).data_groups == (1, 2, 3, 13, 14, 15)
    assert DG1.decode(image.files["DG1"]).mrz.id_number == resident.id_number
    assert DG13.decode(image.files["DG13"]).to_resident() == resident
    assert DG2.decode(image.files["DG2"]).faces[0].to_pil().size == (360, 480)
    pace = CardAccess.decode(image.files["EF.CardAccess"]).pace_infos[0]
    assert (pace.protocol, pace.parameter_id) == ("0.4.0.127.0.7.2.2.4.2.2", 13)
    dg14 = DG14.decode(image.files["DG14"])
    assert dg14.chip_authentication_public_key_infos and dg14.active_authentication_infos
    sod = SOD.decode(image.files["EF.SOD"])
    lso = sod.lds_security_object
    assert lso.hash_algorithm == "sha256"
    assert lso.dg_hashes == {n: hashlib.sha256(image.files[f"DG{n}"]).digest() for n in (1, 2, 3, 13, 14, 15)}
    ds = Certificate.from_cryptography(PKI.ds_certificate)
    assert sod.signed_attributes is not None
    assert verify_signature(ds.public_key, sod.signature, sod.signed_attributes, sod.signature_algorithm.oid,
                            digest_algorithm=sod.digest_algorithm)


def test_secrets_match_the_public_files() -> None:
    resident = _resident()
    image = personalize(resident, synthetic_portrait_jpeg(4), PKI.document_signer)
    assert image.secrets is not None
    assert image.secrets.can == "012345"
    assert image.secrets.mrz_information == DG1.decode(image.files["DG1"]).mrz.mrz_information
    assert image.secrets.aa_private_key is not None
    aa_public = DG15.decode(image.files["DG15"]).public_key.cryptography_key()
    assert aa_public == image.secrets.aa_private_key.public_key()


def test_rsa_active_authentication_key_selectable() -> None:
    profile = ChipProfile(aa_key_type="rsa", aa_rsa_bits=2048)
    keys = ChipKeys.generate(profile)
    assert isinstance(keys.aa, rsa.RSAPrivateKey) and isinstance(keys.ca, ec.EllipticCurvePrivateKey)
    image = personalize(_resident(), synthetic_portrait_jpeg(5), PKI.document_signer, profile=profile, keys=keys)
    assert not DG14.decode(image.files["DG14"]).active_authentication_infos  # only EC AA is announced in DG14
    assert DG15.decode(image.files["DG15"]).public_key.cryptography_key() == keys.aa.public_key()


def test_unreadable_portrait_is_a_typed_error(tmp_path: Path) -> None:
    broken = tmp_path / "face.jpg"
    broken.write_bytes(b"not an image")
    with pytest.raises(DecodeError, match=r"face\.jpg"):
        personalize(_resident(), broken, PKI.document_signer)
