"""DG2 face codec against the public specimen files in shared data (README there names their sources)."""

from __future__ import annotations

import contextlib
import io
import struct
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from cardlib.errors import CardlibError, DecodeError, EncodeError
from cardlib.lds.dg2 import DG2, decode_face_record
from cardlib.lds.face import (
    ColourSpace,
    EyeColour,
    FaceImage,
    FeaturePoint,
    Gender,
    HairColour,
    RecordFormat,
    SourceType,
)
from cardlib.lds.images import ImageFormat, sniff_image_format
from cardlib.lds.iso19794_5 import GENERAL_HEADER, encode_face_record
from cardlib.lds.iso39794_5 import FORMAT_TYPE_39794_5
from cardlib.limits import MAX_FACES_PER_DG2, LimitExceeded


def _jpeg(size: tuple[int, int] = (36, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 150, 120)).save(out, "JPEG", quality=80)
    return out.getvalue()


# BSI 2008 (JMRTD test resources) and LOES 2006 (Dutch specimen): DG2 with a 19794-5 record, JPEG 2000.
@pytest.mark.parametrize("name", ["bsi2008/Datagroup2.bin", "loes2006/ef0102.bin"])
def test_specimen_19794_dg2_reencodes_byte_identical(shared_data: Path, name: str) -> None:
    data = (shared_data / name).read_bytes()
    dg2 = DG2.decode(data)
    assert len(dg2.faces) == 1
    face = dg2.faces[0]
    assert face.format is ImageFormat.JPEG2000
    assert face.record_format is RecordFormat.ISO_19794_5
    assert (face.header.format_owner, face.header.format_type) == (0x0101, 0x0008)
    assert face.to_pil().mode == "RGB"
    assert dg2.encode() == data


def test_bsi_header_values(shared_data: Path) -> None:
    face = DG2.decode((shared_data / "bsi2008/Datagroup2.bin").read_bytes()).faces[0]
    assert (face.width, face.height) == (337, 449)  # as the header declares; the image itself is 413x531
    assert face.to_pil().size == (413, 531)
    assert face.image.startswith(b"\x00\x00\x00\x0cjP  ")


# gmrtd / JMRTD "silver" DG2 files: 39794-5 records (7F2E) holding silver.jp2 verbatim.
@pytest.mark.parametrize("name", ["dg2_silver_all_fields.bin", "dg2_silver_mandatory_fields.bin"])
def test_silver_39794_dg2_extracts_image(shared_data: Path, name: str) -> None:
    dg2 = DG2.decode((shared_data / "dg2" / name).read_bytes())
    assert [face.image for face in dg2.faces] == [(shared_data / "dg2/silver.jp2").read_bytes()]
    face = dg2.faces[0]
    assert face.record_format is RecordFormat.ISO_39794_5
    assert face.header.format_type == FORMAT_TYPE_39794_5
    assert face.format is ImageFormat.JPEG2000


def test_silver_all_fields_metadata(shared_data: Path) -> None:
    face = DG2.decode((shared_data / "dg2/dg2_silver_all_fields.bin").read_bytes()).faces[0]
    assert (face.width, face.height) == (572, 731)  # imageSizeBlock
    assert (face.gender, face.eye_colour, face.hair_colour) == (Gender.FEMALE, EyeColour.BLUE, HairColour.BROWN)
    assert face.colour_space is ColourSpace.RGB24
    assert face.source_type is SourceType.STATIC_PHOTO_DIGITAL_CAMERA
    assert face.feature_points == (FeaturePoint(major=2, minor=11, x=90, y=22),)
    assert face.header.creation_date == bytes.fromhex("21240105112345")


def test_mandatory_fields_size_comes_from_image(shared_data: Path) -> None:
    face = decode_face_record((shared_data / "dg2/ICAO_39794_5_AP_MandFields.dat").read_bytes())[0]
    assert (face.width, face.height) == (413, 531)


@pytest.mark.parametrize("name", ["ICAO_39794_5_AP_AllFields.dat", "ICAO_39794_5_AP_MandFields.dat"])
def test_bare_39794_records(shared_data: Path, name: str) -> None:
    faces = decode_face_record((shared_data / "dg2" / name).read_bytes())
    assert [face.image for face in faces] == [(shared_data / "dg2/ICAO_39794_5_AP_Face.jpg").read_bytes()]
    assert faces[0].to_pil().size == (413, 531)


def test_bare_19794_record(shared_data: Path) -> None:
    record = (shared_data / "dg2/ISO19794_Test1_Data.bin").read_bytes()
    face = decode_face_record(record)[0]
    assert face.image == (shared_data / "dg2/ISO19794_Test1_Face.jpg").read_bytes()
    # The record declares JPEG 2000 but carries a JFIF image: the bytes win for mime type and decoding.
    assert face.format is ImageFormat.JPEG2000
    assert face.detected_format is ImageFormat.JPEG
    assert face.mime_type == "image/jpeg"
    assert face.to_pil().size == (148, 70) == (face.width, face.height)
    assert encode_face_record(face) == record


@pytest.mark.parametrize(
    "name", ["ICAO_39794_5_AP_MandFields_InvalidImage.dat", "ISO19794_Test2_Data_InvalidImage.bin"]
)
def test_invalid_image_parses_but_does_not_decode(shared_data: Path, name: str) -> None:
    faces = decode_face_record((shared_data / "dg2" / name).read_bytes())
    assert len(faces) == 1 and faces[0].image
    with pytest.raises(DecodeError) as caught:
        faces[0].to_pil()
    assert caught.value.field == "image"


def test_round_trip_jpeg_with_fields() -> None:
    face = FaceImage.from_image(
        _jpeg(),
        gender=Gender.MALE,
        eye_colour=EyeColour.BROWN,
        hair_colour=HairColour.BLACK,
        feature_points=(FeaturePoint(12, 1, 10, 20), FeaturePoint(12, 2, 26, 20)),
        pose_angle=bytes([91, 91, 91]),
    )
    assert (face.format, face.width, face.height) == (ImageFormat.JPEG, 36, 48)
    data = DG2([face]).encode()
    assert data[:1] == b"\x75"
    decoded = DG2.decode(data)
    assert decoded.faces == (face,)
    assert decoded.encode() == data


def test_round_trip_jpeg2000_codestream_and_two_faces() -> None:
    out = io.BytesIO()
    Image.new("RGB", (30, 40), (10, 90, 200)).save(out, "JPEG2000", no_jp2=True)
    j2k = out.getvalue()
    assert sniff_image_format(j2k) is ImageFormat.JPEG2000 and j2k.startswith(b"\xff\x4f\xff\x51")
    faces = [FaceImage.from_image(j2k), FaceImage.from_image(_jpeg())]
    decoded = DG2.decode(DG2(faces).encode())
    assert decoded.faces == tuple(faces)
    assert decoded.faces[0].to_pil().size == (30, 40)


def test_encode_rejects_bad_faces() -> None:
    with pytest.raises(EncodeError):
        DG2([]).encode()
    with pytest.raises(EncodeError):
        FaceImage.from_image(b"GIF89a not a portrait")
    with pytest.raises(EncodeError):
        DG2([replace(FaceImage.from_image(_jpeg()), width=70000)]).encode()


def test_errors_name_field_and_offset(shared_data: Path) -> None:
    data = bytearray((shared_data / "bsi2008/Datagroup2.bin").read_bytes())
    data[0x2E:0x32] = (1).to_bytes(4, "big")  # the 19794-5 record length now lies
    with pytest.raises(DecodeError) as caught:
        DG2.decode(bytes(data))
    assert (caught.value.file, caught.value.field, caught.value.offset) == ("DG2", "record length", 0x2E)
    data = bytearray((shared_data / "bsi2008/Datagroup2.bin").read_bytes())
    data[11] = 2  # count says two templates, one present
    with pytest.raises(DecodeError, match="count says 2"):
        DG2.decode(bytes(data))


def test_truncated_specimen_raises_decode_error(shared_data: Path) -> None:
    data = (shared_data / "dg2/dg2_silver_all_fields.bin").read_bytes()
    for cut in (1, 20, 70, 15100, len(data) - 1):
        with pytest.raises(DecodeError):
            DG2.decode(data[:cut])


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_cardlib_errors(data: bytes) -> None:
    for decode in (DG2.decode, decode_face_record):
        with contextlib.suppress(CardlibError):
            decode(data)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=120), st.sampled_from([b"FAC\x00010\x00", b"\xa1\x82", b"\x75\x81\x80\x7f\x61"]))
def test_prefixed_garbage_raises_only_cardlib_errors(tail: bytes, prefix: bytes) -> None:
    for decode in (DG2.decode, decode_face_record):
        with contextlib.suppress(CardlibError):
            decode(prefix + tail)


@settings(max_examples=60, deadline=None)
@given(
    image=st.binary(min_size=0, max_size=64),
    gender=st.sampled_from(Gender),
    eyes=st.sampled_from(EyeColour),
    width=st.integers(0, 0xFFFF),
    points=st.lists(st.tuples(st.integers(0, 15), st.integers(0, 15), st.integers(0, 0xFFFF)), max_size=4),
    fmt=st.sampled_from(ImageFormat),
)
def test_codec_round_trip(
    image: bytes, gender: Gender, eyes: EyeColour, width: int, points: list[tuple[int, int, int]], fmt: ImageFormat
) -> None:
    face = FaceImage(
        image=image, format=fmt, width=width, height=width // 2 + 1, gender=gender, eye_colour=eyes,
        feature_points=tuple(FeaturePoint(major, minor, xy, xy) for major, minor, xy in points),
    )
    assert DG2.decode(DG2([face]).encode()) == DG2((face,))
    assert decode_face_record(encode_face_record(face)) == [face]


def test_one_record_with_too_many_faces_is_refused_before_decoding_them() -> None:
    face = FaceImage.from_image(_jpeg())
    record = bytearray(encode_face_record(face))
    block = record[GENERAL_HEADER.size :]
    count = MAX_FACES_PER_DG2 + 1
    record = record[: GENERAL_HEADER.size] + block * count
    struct.pack_into(">IH", record, 8, len(record), count)  # record length, number of images
    with pytest.raises(LimitExceeded) as caught:
        decode_face_record(bytes(record))
    assert (caught.value.budget, caught.value.found) == ("MAX_FACES_PER_DG2", count)
    assert "DG2" in str(caught.value)


def test_image_that_is_neither_jpeg_nor_jpeg2000_is_not_decoded_as_a_face() -> None:
    out = io.BytesIO()
    Image.new("RGB", (40, 40)).save(out, "PNG")
    with pytest.raises(DecodeError, match="DG2, image: pillow cannot decode"):
        FaceImage(image=out.getvalue(), format=ImageFormat.JPEG, width=40, height=40).to_pil()
