"""ISO/IEC 19794-5:2005 face records (``FAC\\0`` ``010\\0``): the form the CCCD chip carries in DG2.

Every header field is kept, so the BSI 2008 and LOES 2006 specimen DG2 files re-encode byte for byte.
"""

from __future__ import annotations

import struct

from cardlib.errors import DecodeError, EncodeError
from cardlib.lds.face import (
    ColourSpace,
    EyeColour,
    FaceImage,
    FaceImageType,
    FeaturePoint,
    Gender,
    HairColour,
    SourceType,
    check_face_count,
    checked_code,
)
from cardlib.lds.images import ImageFormat

FAC_MAGIC = b"FAC\x00"
FAC_VERSION = b"010\x00"
GENERAL_HEADER = struct.Struct(">4s4sIH")  # format id, version, record length, number of images
FACIAL_HEADER = struct.Struct(">IHBBB3sH3s3s")  # block length, points, gender, eyes, hair, mask, expr, pose, unc
FEATURE_POINT = struct.Struct(">BBHHH")  # type, major<<4|minor, x, y, reserved
IMAGE_INFO = struct.Struct(">BBHHBBHH")  # face type, data type, width, height, colour, source, device, quality


def encode_face_record(face: FaceImage) -> bytes:
    """One ISO/IEC 19794-5:2005 record holding ``face`` (general header, facial header, points, image)."""
    points = b"".join(FEATURE_POINT.pack(p.point_type, (p.major << 4) | p.minor, p.x, p.y, p.reserved)
                      for p in face.feature_points)
    try:
        info = IMAGE_INFO.pack(face.face_image_type, _DATA_TYPE_CODES[face.format], face.width, face.height,
                               face.colour_space, face.source_type, face.device_type, face.quality)
        block_length = FACIAL_HEADER.size + len(points) + len(info) + len(face.image)
        facial = FACIAL_HEADER.pack(block_length, len(face.feature_points), face.gender, face.eye_colour,
                                    face.hair_colour, face.feature_mask.to_bytes(3, "big"), face.expression,
                                    face.pose_angle, face.pose_angle_uncertainty)
        total = GENERAL_HEADER.size + block_length
        general = GENERAL_HEADER.pack(FAC_MAGIC, FAC_VERSION, total, 1)
    except (struct.error, OverflowError) as exc:
        raise EncodeError(f"face record field out of range: {exc}") from None
    return general + facial + points + info + face.image


_DATA_TYPE_CODES = {ImageFormat.JPEG: 0x00, ImageFormat.JPEG2000: 0x01}
_FORMATS_BY_CODE = {code: fmt for fmt, code in _DATA_TYPE_CODES.items()}

def decode_19794(record: bytes) -> list[FaceImage]:
    if len(record) < GENERAL_HEADER.size:
        raise DecodeError("truncated general header", field="general header", offset=0)
    _, version, total, count = GENERAL_HEADER.unpack_from(record)
    check_face_count(count)
    if version != FAC_VERSION:
        raise DecodeError(f"version {version!r}, expected '010'", field="version", offset=4)
    if total != len(record):
        raise DecodeError(f"record length says {total} bytes, {len(record)} present", field="record length", offset=8)
    faces, pos = [], GENERAL_HEADER.size
    for _ in range(count):
        face, pos = _decode_facial_block(record, pos)
        faces.append(face)
    if pos != len(record):
        raise DecodeError(f"{len(record) - pos} bytes after the last facial block", field="face record", offset=pos)
    if not faces:
        raise DecodeError("record holds no face image", field="number of images", offset=12)
    return faces


def _decode_facial_block(record: bytes, start: int) -> tuple[FaceImage, int]:
    if start + FACIAL_HEADER.size > len(record):
        raise DecodeError("truncated facial record header", field="facial record header", offset=start)
    length, n_points, gender, eyes, hair, mask, expression, pose, uncertainty = FACIAL_HEADER.unpack_from(record, start)
    end = start + length
    info_at = start + FACIAL_HEADER.size + n_points * FEATURE_POINT.size
    if end > len(record) or info_at + IMAGE_INFO.size > end:
        raise DecodeError(f"facial block length {length} does not fit", field="facial record length", offset=start)
    points = tuple(_decode_point(record, start + FACIAL_HEADER.size + i * FEATURE_POINT.size) for i in range(n_points))
    face_type, data_type, width, height, colour, source, device, quality = IMAGE_INFO.unpack_from(record, info_at)
    if data_type not in _FORMATS_BY_CODE:
        raise DecodeError(f"image data type {data_type:#04x} is not defined", field="image data type",
                          offset=info_at + 1)
    face = FaceImage(
        image=bytes(record[info_at + IMAGE_INFO.size : end]),
        format=_FORMATS_BY_CODE[data_type],
        width=width,
        height=height,
        gender=checked_code(Gender, gender, "gender", start + 6),
        eye_colour=checked_code(EyeColour, eyes, "eye colour", start + 7),
        hair_colour=checked_code(HairColour, hair, "hair colour", start + 8),
        feature_mask=int.from_bytes(mask, "big"),
        expression=expression,
        pose_angle=pose,
        pose_angle_uncertainty=uncertainty,
        feature_points=points,
        face_image_type=checked_code(FaceImageType, face_type, "face image type", info_at),
        colour_space=checked_code(ColourSpace, colour, "image colour space", info_at + 6),
        source_type=checked_code(SourceType, source, "source type", info_at + 7),
        device_type=device,
        quality=quality,
    )
    return face, end


def _decode_point(record: bytes, at: int) -> FeaturePoint:
    point_type, code, x, y, reserved = FEATURE_POINT.unpack_from(record, at)
    return FeaturePoint(major=code >> 4, minor=code & 0x0F, x=x, y=y, point_type=point_type, reserved=reserved)


__all__ = ["FAC_MAGIC", "FAC_VERSION", "GENERAL_HEADER", "decode_19794", "encode_face_record"]
