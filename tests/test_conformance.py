"""LDS conformance checks (TR-03105 LDS_A/B/C/F/I in spirit, DG13 per the field table of cccd-chip.md)."""

from __future__ import annotations

import io
import unicodedata
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from cardlib.card.image import CardImage
from cardlib.lds.com import EFCOM
from cardlib.lds.dg1 import DG1
from cardlib.lds.dg2 import DG2
from cardlib.lds.dg3 import DG3, Compression, FingerImage, FingerPosition, encode_wsq
from cardlib.lds.dg13 import DG13, DG13Field, DG13Text
from cardlib.lds.dg13_fields import StringType
from cardlib.lds.dg15 import DG15
from cardlib.lds.face import FaceImage
from cardlib.lds.securityinfo import DG14, ChipAuthenticationInfo
from cardlib.lds.tlv import encode_tlv
from cardlib.limits import MAX_FINGER_SIDE
from cardlib.model.mrz import MRZ
from cardlib.model.resident import Resident, Sex
from cardlib.testing.faces import synthetic_portrait_jpeg
from cardlib.testing.fingers import HEIGHT, WIDTH, synthetic_finger, synthetic_finger_wsq
from cardlib.verify.conformance import CHECK_DIGIT_IDS, conformance_checks
from cardlib.verify.decoded import DecodedLDS
from cardlib.verify.report import CheckResult, Status

PERSON = Resident(
    id_number="079303004821", full_name="Trần Thị Lan Anh", date_of_birth=date(2003, 5, 14), sex=Sex.FEMALE,
    place_of_origin="Tiền Giang", place_of_residence="Quận 1, Hồ Chí Minh", date_of_issue=date(2021, 6, 1),
    date_of_expiry=date(2028, 5, 14), father_name="Trần Văn Hùng", mother_name="Lê Thị Mai",
)


def checks_of(files: dict[str, bytes]) -> dict[str, CheckResult]:
    return {check.id: check for check in conformance_checks(DecodedLDS.of(files))}


def statuses(files: dict[str, bytes]) -> dict[str, Status]:
    return {check_id: check.status for check_id, check in checks_of(files).items()}


def cccd_files() -> dict[str, bytes]:
    return {
        "EF.COM": EFCOM(data_groups=(1, 2, 3, 13, 14, 15)).encode(),
        "DG1": DG1(MRZ.from_resident(PERSON)).encode(),
        "DG2": DG2((FaceImage.from_image(synthetic_portrait_jpeg(5)),)).encode(),
        "DG13": DG13.from_resident(PERSON).encode(),
    }


def test_cccd_files_conform() -> None:
    result = statuses(cccd_files())
    failing = {check_id: status for check_id, status in result.items()
               if status not in (Status.PASS, Status.NOT_APPLICABLE)}
    assert failing == {}
    assert result["lds.dg1.check_digit.optional_data_line1"] is Status.PASS
    assert result["lds.dg14"] is Status.NOT_APPLICABLE


@pytest.mark.parametrize("folder", ["bsi2008", "loes2006"])
def test_specimens_fail_nothing(shared_data: Path, folder: str) -> None:
    result = checks_of(dict(CardImage.load(shared_data / folder).files))
    assert [check for check in result.values() if check.status is Status.FAIL] == []
    assert result["lds.dg1.document_type"].status is Status.WARN  # a passport, not a CCCD


def test_bsi_portrait_size_differs_from_its_record(shared_data: Path) -> None:
    result = checks_of(dict(CardImage.load(shared_data / "bsi2008").files))
    assert result["lds.dg2.size"].status is Status.WARN
    assert result["lds.dg2.size"].reason == "face 1: record declares 337x449, image is 413x531"
    assert result["lds.dg14.ca_key"].reason == "Chip Authentication key: EC point on brainpoolP224r1"


def test_truncated_com_warns_with_offset() -> None:
    """EF.COM is unsigned: malformed, it is reported where it breaks, never as proof against the signed files."""
    com = EFCOM(data_groups=(1, 2)).encode()
    check = checks_of({"EF.COM": com[:-1]})["lds.com"]
    assert check.status is Status.WARN
    assert "EF.COM" in check.reason and "offset" in check.reason and "not signed" in check.reason
    assert checks_of({"EF.COM": com[:-1]})["lds.com.lds_version"].status is Status.NOT_APPLICABLE


def test_com_versions_and_duplicates() -> None:
    result = statuses({"EF.COM": EFCOM("0106", "050000", (1, 1, 2)).encode()})
    assert (result["lds.com.lds_version"], result["lds.com.unicode_version"], result["lds.com.tag_list"]) == (
        Status.FAIL, Status.FAIL, Status.FAIL)


@pytest.mark.parametrize(("position", "name"), [(14, "document number"), (36, "date of birth"),
                                                 (44, "date of expiry"), (29, "optional data (line 1 position 30)"),
                                                 (59, "composite")])
def test_each_wrong_check_digit_has_its_own_check(position: int, name: str) -> None:
    text = MRZ.from_resident(PERSON).text
    wrong = text[:position] + str((int(text[position]) + 1) % 10) + text[position + 1 :]
    result = statuses({"DG1": encode_tlv(0x61, encode_tlv(0x5F1F, wrong.encode()))})
    assert result[f"lds.dg1.check_digit.{CHECK_DIGIT_IDS[name]}"] is Status.FAIL
    assert result["lds.dg1.document_type"] is Status.PASS


def test_td1_with_passport_code_fails_document_type() -> None:
    text = "P" + MRZ.from_resident(PERSON).text[1:]
    result = statuses({"DG1": encode_tlv(0x61, encode_tlv(0x5F1F, text.encode()))})
    assert result["lds.dg1.document_type"] is Status.FAIL


def test_undecodable_portrait_fails() -> None:
    face = FaceImage.from_image(synthetic_portrait_jpeg(5))
    broken = replace(face, image=face.image[:40])
    result = statuses({"DG2": DG2((broken,)).encode()})
    assert result["lds.dg2.image"] is Status.FAIL
    assert result["lds.dg2.size"] is Status.NOT_APPLICABLE


def test_dg13_without_an_optional_field_warns_and_without_a_required_one_fails() -> None:
    # The field table (lds/dg13_fields.py) decides which fields are required: here, not a second list.
    dg13 = DG13.from_resident(PERSON)
    without_spouse = checks_of({"DG13": DG13(tuple(e for e in dg13.entries if e.number != 14)).encode()})
    assert without_spouse["lds.dg13.fields"].status is Status.WARN
    assert "optional field(s) 14" in without_spouse["lds.dg13.fields"].reason
    without_both = checks_of({"DG13": DG13(tuple(e for e in dg13.entries if e.number not in (1, 14))).encode()})
    assert without_both["lds.dg13.fields"].status is Status.FAIL
    assert without_both["lds.dg13.fields"].reason == "DG13 lacks required field(s) 1 (and optional 14)"
    assert checks_of({"DG13": dg13.encode()})["lds.dg13.fields"].status is Status.PASS


def test_dg13_missing_field_wrong_type_and_bad_date() -> None:
    dg13 = DG13.from_resident(PERSON)
    entries = [entry for entry in dg13.entries if entry.number != 7]
    entries = [DG13Field(3, (DG13Text("31/02/2003", StringType.UTF8),)) if e.number == 3 else e for e in entries]
    result = checks_of({"DG13": DG13(tuple(entries)).encode()})
    assert result["lds.dg13.fields"].status is Status.FAIL
    assert result["lds.dg13.fields"].reason == "DG13 lacks required field(s) 7"
    assert result["lds.dg13.types"].status is Status.WARN
    assert result["lds.dg13.dates"].status is Status.FAIL
    assert result["lds.dg13.header"].status is Status.PASS


def test_dg13_with_other_version_warns() -> None:
    dg13 = DG13.from_resident(PERSON)
    assert statuses({"DG13": DG13(dg13.entries, version=2).encode()})["lds.dg13.header"] is Status.WARN


def test_dg14_without_ca_key_fails() -> None:
    dg14 = DG14((ChipAuthenticationInfo("0.4.0.127.0.7.2.2.3.2.2", 1),)).encode()
    assert statuses({"DG14": dg14})["lds.dg14.ca_key"] is Status.FAIL


def test_dg15_rsa_key_size() -> None:
    small = rsa.generate_private_key(65537, 1024).public_key()
    assert statuses({"DG15": DG15.from_cryptography(small).encode()})["lds.dg15.key"] is Status.PASS
    weak = rsa.RSAPublicNumbers(65537, (1 << 767) | 1).public_key()
    assert statuses({"DG15": DG15.from_cryptography(weak).encode()})["lds.dg15.key"] is Status.FAIL


_NAMES = st.sampled_from(("EF.COM", "DG1", "DG2", "DG3", "DG13", "DG14", "DG15"))


@settings(max_examples=150, deadline=None)
@given(name=_NAMES, data=st.binary(max_size=200))
def test_garbage_gives_failures_never_exceptions(name: str, data: bytes) -> None:
    result = checks_of({name: data})
    decode_id = {"EF.COM": "lds.com"}.get(name, f"lds.{name.lower()}")
    # empty: WARN; EF.COM is unsigned, so malformed it warns too
    decoded = (Status.WARN, Status.PASS) if name == "EF.COM" else (Status.FAIL, Status.PASS)
    assert result[decode_id].status in (decoded if data else (Status.WARN,))


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(("EF.COM", "DG1", "DG13")), cut=st.integers(1, 400))
def test_truncated_files_fail_their_decode_check(name: str, cut: int) -> None:
    files = cccd_files()
    data = files[name][: -1 - cut % (len(files[name]) - 1)]  # at least a byte: an empty file is a WARN
    decode_id = {"EF.COM": "lds.com"}.get(name, f"lds.{name.lower()}")
    assert checks_of({name: data})[decode_id].status is (Status.WARN if name == "EF.COM" else Status.FAIL)


def _with_values(number: int, *values: DG13Text | tuple[DG13Text, ...]) -> bytes:
    entries = DG13.from_resident(PERSON).entries
    return DG13(tuple(DG13Field(number, values) if e.number == number else e for e in entries)).encode()


def test_missing_ef_com_warns_and_says_why_it_is_no_forgery() -> None:
    files = cccd_files()
    del files["EF.COM"]
    check = checks_of(files)["lds.com"]
    assert check.status is Status.WARN
    assert "LDS 1.7" in check.reason and "verified against the SOD" in check.reason
    assert checks_of(files)["lds.com.lds_version"].status is Status.NOT_APPLICABLE
    assert checks_of(cccd_files())["lds.com"].status is Status.PASS


@pytest.mark.parametrize("number", [1, 2, 4, 12, 16])
def test_a_layout_field_carrying_two_values_fails(number: int) -> None:
    dg13 = _with_values(number, DG13Text("001044009271"), DG13Text("079303004821"))
    check = checks_of({"DG13": dg13})["lds.dg13.repeated"]
    assert check.status is Status.FAIL
    assert check.reason.startswith(f"DG13 field {number} holds 2 values")


def test_surplus_parent_and_spouse_names_fail_and_unknown_fields_only_warn() -> None:
    three_parents = _with_values(13, (DG13Text("Trần Văn Hùng"), DG13Text("Lê Thị Mai"), DG13Text("Lê Thị Hà")))
    assert statuses({"DG13": three_parents})["lds.dg13.repeated"] is Status.FAIL
    two_spouses = _with_values(14, (DG13Text("Lê Văn An"), DG13Text("Phạm Văn Bé")))
    assert statuses({"DG13": two_spouses})["lds.dg13.repeated"] is Status.FAIL
    entries = (*DG13.from_resident(PERSON).entries, DG13Field(20, (DG13Text("A"), DG13Text("B"))))
    unknown = checks_of({"DG13": DG13(entries).encode()})["lds.dg13.repeated"]
    assert unknown.status is Status.WARN and "outside the known layout" in unknown.reason
    assert statuses(cccd_files())["lds.dg13.repeated"] is Status.PASS


@pytest.mark.parametrize(("number", "text", "status"), [
    (2, "Trần Thị Lan Anhы", Status.FAIL),
    (2, "Trần T\u0336hị Lan Anh", Status.FAIL),
    (13, ("Trần Văn Hùng", "Lе Thị Mai"), Status.FAIL),  # Cyrillic е in the mother's name
    (14, ("Иван Петров",), Status.FAIL),
    (9, "Zürich, Thụy Sĩ", Status.WARN),  # a place abroad may carry a foreign letter
    (8, "Tiền Giang\u202e", Status.WARN),
])
def test_foreign_characters_in_dg13_text_are_named(number: int, text: str | tuple[str, ...], status: Status) -> None:
    value: DG13Text | tuple[DG13Text, ...] = (tuple(DG13Text(t) for t in text) if isinstance(text, tuple)
                                              else DG13Text(text))
    check = checks_of({"DG13": _with_values(number, value)})["lds.dg13.alphabet"]
    assert check.status is status
    assert f"field {number}: U+" in check.reason


def test_dg13_stored_in_nfd_is_in_the_alphabet() -> None:
    nfd = DG13(tuple(DG13Field(e.number, tuple(
        DG13Text(unicodedata.normalize("NFD", v.text), v.string_type) if isinstance(v, DG13Text) else
        tuple(DG13Text(unicodedata.normalize("NFD", i.text)) for i in v) for v in e.values))
        for e in DG13.from_resident(PERSON).entries))
    assert nfd.text(2) != PERSON.full_name
    assert statuses({"DG13": nfd.encode()})["lds.dg13.alphabet"] is Status.PASS


# --- DG3 (fingers, EAC-protected) -------------------------------------------------------------------------

DG3_IDS = ("lds.dg3", "lds.dg3.records", "lds.dg3.positions", "lds.dg3.image", "lds.dg3.size")


def _finger(seed: int, position: FingerPosition, **fields: object) -> FingerImage:
    return FingerImage.for_finger(synthetic_finger_wsq(seed), Compression.WSQ, position, WIDTH, HEIGHT, **fields)


def _index_fingers() -> list[FingerImage]:
    return [_finger(1, FingerPosition.RIGHT_INDEX), _finger(2, FingerPosition.LEFT_INDEX)]


def dg3_results(fingers: list[FingerImage]) -> dict[str, CheckResult]:
    result = checks_of({**cccd_files(), "DG3": DG3(tuple(fingers)).encode()})
    return {check_id: result[check_id] for check_id in DG3_IDS}


def test_dg3_not_read_is_not_applicable_never_a_failure() -> None:
    result = checks_of(cccd_files())  # the chip refused DG3: no Terminal Authentication
    for check_id in DG3_IDS:
        assert result[check_id].status is Status.NOT_APPLICABLE
        assert "not read" in result[check_id].reason and "Terminal Authentication" in result[check_id].reason


def test_cccd_index_fingers_conform() -> None:
    result = dg3_results(_index_fingers())
    assert {check_id: check.status for check_id, check in result.items()} == dict.fromkeys(DG3_IDS, Status.PASS)
    assert result["lds.dg3.positions"].reason == "fingers right index, left index"
    assert result["lds.dg3.size"].reason.startswith("right index: 256x320 pixels at 500 ppi as declared")


def test_bsi_specimen_dg3_conforms(shared_data: Path) -> None:
    result = checks_of(dict(CardImage.load(shared_data / "bsi2008").files))
    assert [result[check_id].status for check_id in DG3_IDS] == [Status.PASS] * 5
    assert "620x620" in result["lds.dg3.size"].reason


def test_malformed_dg3_fails_and_the_rest_say_why_not_checked() -> None:
    data = DG3(tuple(_index_fingers())).encode()
    result = checks_of({"DG3": data[:-1]})
    assert result["lds.dg3"].status is Status.FAIL and "DG3" in result["lds.dg3"].reason
    assert all(result[check_id].status is Status.NOT_APPLICABLE and "does not decode" in result[check_id].reason
               for check_id in DG3_IDS[1:])


def test_empty_dg3_has_nothing_to_check() -> None:
    result = dg3_results([])
    assert result["lds.dg3"].status is Status.PASS
    assert all(result[check_id].status is Status.NOT_APPLICABLE for check_id in DG3_IDS[1:])


def test_a_finger_twice_fails_and_other_fingers_or_subtypes_warn() -> None:
    twice = dg3_results([_finger(1, FingerPosition.RIGHT_INDEX), _finger(2, FingerPosition.RIGHT_INDEX)])
    assert twice["lds.dg3.positions"].status is Status.FAIL
    assert twice["lds.dg3.positions"].reason == "the right index finger comes more than once"
    thumbs = dg3_results([_finger(1, FingerPosition.RIGHT_THUMB), _finger(2, FingerPosition.LEFT_THUMB)])
    assert thumbs["lds.dg3.positions"].status is Status.WARN and "index fingers" in thumbs["lds.dg3.positions"].reason
    mislabelled = replace(_index_fingers()[0], header=replace(_index_fingers()[0].header, subtype=b"\x0a"))
    subtype = dg3_results([mislabelled, _index_fingers()[1]])["lds.dg3.positions"]
    assert subtype.status is Status.WARN and subtype.reason == "right index: CBEFF subtype 0a, expected 09"


def test_a_record_that_is_no_finger_record_fails() -> None:
    face_header = replace(_index_fingers()[0].header, biometric_type=b"\x02", format_type=0x0008)
    result = dg3_results([replace(_index_fingers()[0], header=face_header), _index_fingers()[1]])["lds.dg3.records"]
    assert result.status is Status.FAIL
    assert result.reason.startswith("right index: header says biometric type 02, format 0101/0008")


def test_finger_images_must_decode_as_declared_within_the_budgets() -> None:
    right, left = _index_fingers()
    corrupt = replace(right, image=b"\xff\xa0" + bytes(60))
    result = dg3_results([corrupt, left])
    assert result["lds.dg3.image"].status is Status.FAIL and "right index: WSQ image does not decode" in \
        result["lds.dg3.image"].reason
    assert result["lds.dg3.size"].reason == ("right index: image not decoded (see lds.dg3.image); "
                                             "left index: 256x320 pixels at 500 ppi as declared")
    buffer = io.BytesIO()
    synthetic_finger(2).save(buffer, "PNG")
    png_as_wsq = replace(left, image=buffer.getvalue())
    assert dg3_results([right, png_as_wsq])["lds.dg3.image"].status is Status.WARN
    bomb = Image.new("L", (MAX_FINGER_SIDE + 8, 8))
    wide = replace(left, image=encode_wsq(bomb), width=MAX_FINGER_SIDE + 8, height=8)
    size = dg3_results([right, wide])["lds.dg3.size"]
    assert size.status is Status.FAIL and f"more than {MAX_FINGER_SIDE} per side" in size.reason
    misdeclared = dg3_results([right, replace(left, width=300)])["lds.dg3.size"]
    assert misdeclared.status is Status.WARN and "record declares 300x320, image is 256x320" in misdeclared.reason


def test_finger_images_declaring_too_many_pixels_together_are_refused_undecoded() -> None:
    big = encode_wsq(Image.new("L", (1000, 1000), 128))  # each within every per-image budget
    fingers = [FingerImage.for_finger(big, Compression.WSQ, position, 1000, 1000)
               for position in (FingerPosition.RIGHT_INDEX, FingerPosition.LEFT_INDEX, FingerPosition.RIGHT_THUMB)]
    image = dg3_results(fingers)["lds.dg3.image"]
    assert image.status is Status.FAIL and "MAX_DG3_DECODED_PIXELS" in image.reason
    assert "3,000,000 found" in image.reason
    assert dg3_results(fingers[:2])["lds.dg3.image"].status is Status.PASS  # 2,000,000: at the budget
    liar = replace(_index_fingers()[1], image=big)  # the record says 256x320, the WSQ header 1000x1000
    result = dg3_results([*fingers[:2], liar])["lds.dg3.image"]
    assert result.status is Status.FAIL and "MAX_DG3_DECODED_PIXELS" in result.reason
