"""Personalization: a resident and a portrait become a complete, decodable, signed CCCD file set."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from cardtool.perso_command import MANIFEST, personalize_batch
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from PIL import Image

from cardlib.card.image import CardImage
from cardlib.card.perso import ChipKeys, ChipProfile, personalize, prepare_finger
from cardlib.errors import DecodeError, ValidationError
from cardlib.lds.com import EFCOM
from cardlib.lds.dg1 import DG1
from cardlib.lds.dg2 import DG2
from cardlib.lds.dg3 import DG3, Compression, FingerImage, FingerPosition
from cardlib.lds.dg13 import DG13
from cardlib.lds.dg15 import DG15
from cardlib.lds.securityinfo import DG14, CardAccess
from cardlib.lds.sod import SOD
from cardlib.limits import MAX_FILE_BYTES, MAX_FINGER_SIDE
from cardlib.model.resident import Resident, Sex
from cardlib.pki.certificates import Certificate
from cardlib.pki.signatures import verify_signature
from cardlib.testing.faces import synthetic_portrait_jpeg
from cardlib.testing.fingers import HEIGHT, WIDTH, synthetic_finger, synthetic_finger_wsq
from cardlib.testing.pki import sample_pki

PKI = sample_pki()
SAMPLES = Path(__file__).resolve().parents[1] / "tools" / "cardtool" / "samples"


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


def _png(image: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **options)
    return buffer.getvalue()


def test_fingers_go_to_dg3_under_the_sod() -> None:
    right = prepare_finger(synthetic_finger_wsq(1), FingerPosition.RIGHT_INDEX)
    left = prepare_finger(_png(synthetic_finger(2), dpi=(500, 500)), FingerPosition.LEFT_INDEX)
    image = personalize(_resident(), synthetic_portrait_jpeg(3), PKI.document_signer, fingers=[right, left])
    dg3 = DG3.decode(image.files["DG3"])
    assert dg3.fingers == (right, left)
    assert [finger.position for finger in dg3.fingers] == [FingerPosition.RIGHT_INDEX, FingerPosition.LEFT_INDEX]
    assert right.image == synthetic_finger_wsq(1)  # a WSQ file is stored as it is
    assert left.image.startswith(b"\xff\xa0") and (left.width, left.height, left.resolution) == (WIDTH, HEIGHT, 500)
    lso = SOD.decode(image.files["EF.SOD"]).lds_security_object
    assert lso.dg_hashes[3] == hashlib.sha256(image.files["DG3"]).digest()


def test_without_fingers_dg3_is_the_empty_template() -> None:
    image = personalize(_resident(), synthetic_portrait_jpeg(3), PKI.document_signer)
    assert image.files["DG3"] == DG3(()).encode() == bytes.fromhex("63067F6103020100")


def test_a_finger_given_twice_is_refused() -> None:
    finger = prepare_finger(synthetic_finger_wsq(1), FingerPosition.RIGHT_INDEX)
    with pytest.raises(ValidationError, match="more than one image of the right_index finger") as caught:
        personalize(_resident(), synthetic_portrait_jpeg(3), PKI.document_signer, fingers=[finger, finger])
    assert caught.value.field == "right_index"


def test_finger_file_resolution_is_the_one_it_states(tmp_path: Path) -> None:
    path = tmp_path / "thumb.png"
    path.write_bytes(_png(synthetic_finger(4).resize((128, 160)), dpi=(250, 250)))
    finger = prepare_finger(path, FingerPosition.LEFT_INDEX)
    assert (finger.width, finger.height, finger.resolution, finger.compression) == (128, 160, 250, Compression.WSQ)
    assert finger.header.subtype == bytes([FingerPosition.LEFT_INDEX.cbeff_subtype])
    assert finger.to_pil().size == (128, 160)


@pytest.mark.parametrize(("content", "reason"), [
    (b"", "pillow cannot decode"),
    (b"GIF89a" + bytes(40), "pillow cannot decode"),  # not a format DG3 holds
    (b"\xff\xa0" + bytes(40), "pillow cannot decode"),  # a WSQ start, then nothing
    (None, "MAX_FINGER_SIDE"),
], ids=["empty", "gif", "wsq-start-only", "too-wide"])
def test_bad_finger_files_are_typed_errors_naming_the_column(tmp_path: Path, content: bytes | None,
                                                             reason: str) -> None:
    path = tmp_path / "finger.png"
    path.write_bytes(content if content is not None else _png(Image.new("L", (MAX_FINGER_SIDE + 1, 10))))
    with pytest.raises(ValidationError, match=reason) as caught:
        prepare_finger(path, FingerPosition.RIGHT_INDEX, field="right_index_finger")
    assert caught.value.field == "right_index_finger"
    with pytest.raises(ValidationError, match=r"cannot read missing\.png") as missing:
        prepare_finger(tmp_path / "missing.png", FingerPosition.RIGHT_INDEX)
    assert missing.value.field == "right_index"


def test_perso_batch_puts_the_input_fingers_on_the_card_or_rejects_the_row(tmp_path: Path) -> None:
    rows = list(csv.DictReader((SAMPLES / "residents.csv").open(encoding="utf-8")))[:2]
    shutil.copytree(SAMPLES / "portraits", tmp_path / "portraits")
    shutil.copytree(SAMPLES / "fingers", tmp_path / "fingers")
    (tmp_path / "fingers" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(20))
    rows[1]["left_index_finger"] = "fingers/broken.png"
    source = tmp_path / "in.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    summary = personalize_batch(source, PKI.document_signer, tmp_path / "out")
    assert (summary.personalized, summary.rejected) == (1, 1)
    entries = [json.loads(line) for line in (tmp_path / "out" / MANIFEST).read_text(encoding="utf-8").splitlines()]
    assert entries[1]["status"] == "rejected" and entries[1]["field"] == "left_index_finger"
    card = CardImage.load(tmp_path / "out" / entries[0]["card"])
    fingers = DG3.decode(card.files["DG3"]).fingers
    assert [finger.image for finger in fingers] == [(SAMPLES / "fingers" / f"r01-{hand}-index.wsq").read_bytes()
                                                    for hand in ("right", "left")]


def test_fingers_too_large_for_a_reader_are_refused() -> None:
    wsq = synthetic_finger_wsq(1)
    padded = wsq + bytes(MAX_FILE_BYTES // 2)  # what the record holds is not decoded by personalize
    fingers = [FingerImage.for_finger(padded, Compression.WSQ, position, WIDTH, HEIGHT)
               for position in (FingerPosition.RIGHT_INDEX, FingerPosition.LEFT_INDEX)]
    with pytest.raises(ValidationError, match="MAX_FILE_BYTES") as caught:
        personalize(_resident(), synthetic_portrait_jpeg(3), PKI.document_signer, fingers=fingers)
    assert caught.value.field == "fingers"
    assert personalize(_resident(), synthetic_portrait_jpeg(3), PKI.document_signer, fingers=fingers[:1])
