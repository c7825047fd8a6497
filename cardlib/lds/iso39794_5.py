"""ISO/IEC 39794-5 face records (tag ``A1``), decoded only.

The record is extensible ASN.1 (``...`` in every SEQUENCE) with implicit context tags; a declarative
asn1crypto model would reject the extension fields that the standard allows, so it is walked with the BER-TLV
reader instead, taking the fields a verifier needs (image, format, size, gender, eye and hair colour, colour
space, capture technology, MPEG-4 landmarks) and skipping the rest.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TypeVar

from cardlib.errors import DecodeError
from cardlib.lds.cbeff import BiometricHeader
from cardlib.lds.face import (
    ColourSpace,
    EyeColour,
    FaceImage,
    FeaturePoint,
    Gender,
    HairColour,
    RecordFormat,
    SourceType,
    check_face_count,
    checked_code,
)
from cardlib.lds.images import ImageFormat, image_size
from cardlib.lds.tlv import TLV, children, find, read_tlv

# CBEFF format type of ISO/IEC 39794-5 records (ICAO 9303-10 format owner/type pairs).
FORMAT_TYPE_39794_5 = 0x002A
TAG_39794_RECORD = 0xA1
TAG_FACE_IMAGE_DATA_BLOCK = 0x65

# ImageDataFormatCode: jpeg (2), jpeg2000Lossy (3), jpeg2000Lossless (4).
_FORMATS_39794 = {2: ImageFormat.JPEG, 3: ImageFormat.JPEG2000, 4: ImageFormat.JPEG2000}
# GenderCode: other (1), male (2), female (3).
_GENDERS_39794 = {1: Gender.UNKNOWN, 2: Gender.MALE, 3: Gender.FEMALE}
# EyeColourCode 0..9 (unknown, other, black, blue, brown, grey, green, hazel, multi-coloured, pink).
_EYES_39794 = {0: EyeColour.UNKNOWN, 1: EyeColour.UNKNOWN, 2: EyeColour.BLACK, 3: EyeColour.BLUE,
               4: EyeColour.BROWN, 5: EyeColour.GREY, 6: EyeColour.GREEN, 7: EyeColour.UNKNOWN,
               8: EyeColour.MULTI_COLOURED, 9: EyeColour.PINK}
# HairColourCode 0..9 (unknown, other, bald, black, blonde, brown, grey, white, red, knownColoured).
_HAIR_39794 = {0: HairColour.UNKNOWN, 1: HairColour.UNKNOWN, 2: HairColour.BALD, 3: HairColour.BLACK,
               4: HairColour.BLONDE, 5: HairColour.BROWN, 6: HairColour.GREY, 7: HairColour.WHITE,
               8: HairColour.RED, 9: HairColour.UNKNOWN}
# ImageColourSpaceCode: unknown, other, rgb24Bit, rgb48Bit, yuv422, greyscale8Bit, greyscale16Bit.
_COLOURS_39794 = {0: ColourSpace.UNSPECIFIED, 1: ColourSpace.OTHER, 2: ColourSpace.RGB24, 3: ColourSpace.OTHER,
                  4: ColourSpace.YUV422, 5: ColourSpace.GREY8, 6: ColourSpace.OTHER}
# MPEG4FeaturePointCode enumerates groups 2..12 in order; (group, points in group).
_MPEG4_GROUPS = ((2, 14), (3, 14), (4, 6), (5, 4), (6, 4), (7, 1), (8, 10), (9, 15), (10, 10), (11, 6), (12, 4))
_MPEG4_POINTS = tuple((major, minor) for major, size in _MPEG4_GROUPS for minor in range(1, size + 1))

T = TypeVar("T")
E = TypeVar("E", bound=IntEnum)


def decode_39794(record: bytes) -> list[FaceImage]:
    outer = read_tlv(record)
    if outer.end != len(record):
        raise DecodeError(f"{len(record) - outer.end} trailing bytes after the record", field="face record",
                          offset=outer.end)
    data_block = _only(children(outer), TAG_FACE_IMAGE_DATA_BLOCK, "FaceImageDataBlock", outer.offset)
    representations = _required(children(data_block), 0xA1, "representationBlocks", data_block.offset)
    blocks = children(representations)
    check_face_count(len(blocks))
    faces = [_decode_representation(block) for block in blocks]
    if not faces:
        raise DecodeError("no representation block", field="representationBlocks", offset=representations.offset)
    return faces


def _only(elements: list[TLV], tag: int, name: str, offset: int) -> TLV:
    if len(elements) != 1 or elements[0].tag != tag:
        raise DecodeError(f"exactly one {tag:X} expected", field=name, offset=offset)
    return elements[0]


def _required(elements: list[TLV], tag: int, name: str, offset: int) -> TLV:
    found = find(elements, tag)
    if found is None:
        raise DecodeError(f"mandatory element {tag:X} missing", field=name, offset=offset)
    return found


def _path(obj: TLV | None, *tags: int) -> TLV | None:
    """Follow nested context tags down from ``obj``; None when any step is absent."""
    for tag in tags:
        if obj is None:
            return None
        obj = find(children(obj), tag)
    return obj


def _integer(obj: TLV | None, name: str) -> int | None:
    if obj is None:
        return None
    if not obj.value:
        raise DecodeError("empty INTEGER", field=name, offset=obj.offset)
    return int.from_bytes(obj.value, "big", signed=True)


def _mapped(obj: TLV | None, table: dict[int, T], name: str, default: T) -> T:
    value = _integer(obj, name)
    if value is None:
        return default
    if value not in table:
        raise DecodeError(f"code {value} is not defined", field=name, offset=obj.offset if obj else None)
    return table[value]


def _decode_representation(block: TLV) -> FaceImage:
    if block.tag != 0x30:
        raise DecodeError(f"SEQUENCE expected, found tag {block.tag:X}", field="RepresentationBlock",
                          offset=block.offset)
    image_block = _path(block, 0xA1, 0xA0, 0xA0)
    data = _path(image_block, 0x80)
    info = _path(image_block, 0xA1)
    if image_block is None or data is None or info is None:
        raise DecodeError("2D image representation with data and information expected",
                          field="imageRepresentation", offset=block.offset)
    choice = _required(children(info), 0xA0, "imageDataFormat", info.offset)
    fmt = _mapped(_required(children(choice), 0x80, "imageDataFormat", choice.offset), _FORMATS_39794,
                  "imageDataFormat", ImageFormat.JPEG)
    width, height = _decode_size(info, data.value)
    identity = _path(block, 0xA8)
    technology = _path(image_block, 0xA2, 0xA1, 0xA1, 0x80)
    return FaceImage(
        image=data.value,
        format=fmt,
        width=width,
        height=height,
        gender=_mapped(_path(identity, 0xA0, 0xA1, 0x80), _GENDERS_39794, "gender", Gender.UNSPECIFIED),
        eye_colour=_mapped(_path(identity, 0xA1, 0xA1, 0x80), _EYES_39794, "eyeColour", EyeColour.UNSPECIFIED),
        hair_colour=_mapped(_path(identity, 0xA2, 0xA1, 0x80), _HAIR_39794, "hairColour", HairColour.UNSPECIFIED),
        feature_points=_decode_landmarks(_path(block, 0xA9)),
        colour_space=_mapped(_path(info, 0xA9, 0xA1, 0x80), _COLOURS_39794, "imageColourSpace",
                             ColourSpace.UNSPECIFIED),
        source_type=_checked(SourceType, technology, "captureDeviceTechnologyId2D", SourceType.UNSPECIFIED),
        header=BiometricHeader(format_type=FORMAT_TYPE_39794_5),
        record_format=RecordFormat.ISO_39794_5,
    )


def _checked(enum: type[E], obj: TLV | None, name: str, default: E) -> E:
    value = _integer(obj, name)
    return default if obj is None or value is None else checked_code(enum, value, name, obj.offset)


def _decode_size(info: TLV, image: bytes) -> tuple[int, int]:
    """Width and height from imageSizeBlock, else from the image header (0, 0 when neither says)."""
    size = _path(info, 0xA7)
    width, height = _integer(_path(size, 0x80), "width"), _integer(_path(size, 0x81), "height")
    if width is not None and height is not None:
        return width, height
    return image_size(image)


def _decode_landmarks(landmarks: TLV | None) -> tuple[FeaturePoint, ...]:
    """MPEG-4 landmarks with 2D coordinates, as 19794-5 feature points; other landmark kinds are skipped."""
    if landmarks is None:
        return ()
    points = []
    for landmark in children(landmarks):
        code = _integer(_path(landmark, 0xA0, 0xA0, 0xA0, 0xA1, 0x80), "mpeg4FeaturePoint")
        coordinates = _path(landmark, 0xA1, 0xA0, 0xA0)
        if code is None or coordinates is None:
            continue
        if not 0 <= code < len(_MPEG4_POINTS):
            raise DecodeError(f"MPEG-4 point code {code} is not defined", field="landmarkKind",
                              offset=landmark.offset)
        x, y = _integer(_path(coordinates, 0x80), "x"), _integer(_path(coordinates, 0x81), "y")
        major, minor = _MPEG4_POINTS[code]
        points.append(FeaturePoint(major=major, minor=minor, x=x or 0, y=y or 0))
    return tuple(points)


__all__ = ["FORMAT_TYPE_39794_5", "TAG_39794_RECORD", "decode_39794"]
