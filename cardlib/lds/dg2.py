"""DG2, the encoded face: ICAO 9303-10 §4.7.2 biometric templates holding ISO/IEC 19794-5 or 39794-5 records.

Layout (tag ``75``)::

    75 { 7F61 { 02 count,
                7F60 { A1 { biometric header template: 80 version, 81 type, 82 subtype, 83 date,
                            85 validity, 86 creator, 87 format owner, 88 format type },
                       5F2E { ISO/IEC 19794-5:2005 record "FAC\\0" "010\\0" ... }    (or)
                       7F2E { ISO/IEC 39794-5 record: A1 { 65 FaceImageDataBlock } } } ... } }

We *encode* the 19794-5 form only, because that is what the CCCD chip carries (shared docs, "What real cards
carry"); we *decode* both.  Every 19794-5 header field is kept, so the BSI 2008 and LOES 2006 specimen DG2
files re-encode byte for byte.  The 39794-5 record is extensible ASN.1 (``...`` in every SEQUENCE) with
implicit context tags; a declarative asn1crypto model would reject the extension fields that the standard
allows, so it is walked with the BER-TLV reader instead, taking the fields a verifier needs (image, format,
size, gender, eye and hair colour, colour space, capture technology, MPEG-4 landmarks) and skipping the rest.
A face read from a 39794-5 record therefore re-encodes as a 19794-5 record, not as the bytes it came from.

Image bytes are not checked while decoding: a record whose structure is sound parses, and a corrupt image
only fails when it is decoded (:meth:`FaceImage.to_pil` raises :class:`DecodeError`).  A reader can then
still hash, store and report the file instead of losing it.  A DG2 holding more than MAX_FACES_PER_DG2
faces is refused (:class:`~cardlib.limits.LimitExceeded`) before any face is decoded, and every image
decode keeps to the budgets described at :func:`load_image`.
"""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from enum import Enum, IntEnum
from typing import TypeVar

from PIL import Image, Jpeg2KImagePlugin

from cardlib.errors import CardlibError, DecodeError, EncodeError
from cardlib.lds.cbeff import (
    TAG_BDB,
    TAG_BDB_CONSTRUCTED,
    BiometricHeader,
    decode_block,
    decode_group,
    encode_group,
)
from cardlib.lds.tlv import TLV, children, find, read_tlv
from cardlib.limits import (
    MAX_DECLARED_PIXELS,
    MAX_DECODED_PIXELS,
    MAX_FACES_PER_DG2,
    MAX_JPEG2000_TILES,
    MAX_JPEG_SCANS,
    LimitExceeded,
)

FILE = "DG2"

TAG_DG2 = 0x75

# CBEFF biometric type "facial features" (ISO/IEC 19785-3) and the format owner/type pairs of ICAO 9303-10.
FORMAT_TYPE_39794_5 = 0x002A

FAC_MAGIC = b"FAC\x00"
FAC_VERSION = b"010\x00"
GENERAL_HEADER = struct.Struct(">4s4sIH")  # format id, version, record length, number of images
FACIAL_HEADER = struct.Struct(">IHBBB3sH3s3s")  # block length, points, gender, eyes, hair, mask, expr, pose, unc
FEATURE_POINT = struct.Struct(">BBHHH")  # type, major<<4|minor, x, y, reserved
IMAGE_INFO = struct.Struct(">BBHHBBHH")  # face type, data type, width, height, colour, source, device, quality

TAG_39794_RECORD = 0xA1
TAG_FACE_IMAGE_DATA_BLOCK = 0x65

JPEG_MAGIC = b"\xff\xd8"
JP2_MAGIC = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
J2K_MAGIC = b"\xff\x4f\xff\x51"


class ImageFormat(Enum):
    """How the portrait is compressed (ISO/IEC 19794-5 §5.7.2 image data type)."""

    JPEG = "image/jpeg"
    JPEG2000 = "image/jp2"

    @property
    def mime_type(self) -> str:
        """The IANA media type of images in this format."""
        return self.value


class Gender(IntEnum):
    """ISO/IEC 19794-5 §5.5.3 gender codes."""

    UNSPECIFIED = 0x00
    MALE = 0x01
    FEMALE = 0x02
    UNKNOWN = 0xFF


class EyeColour(IntEnum):
    """ISO/IEC 19794-5 §5.5.4 eye colour codes."""

    UNSPECIFIED = 0x00
    BLACK = 0x01
    BLUE = 0x02
    BROWN = 0x03
    GREY = 0x04
    GREEN = 0x05
    MULTI_COLOURED = 0x06
    PINK = 0x07
    UNKNOWN = 0xFF


class HairColour(IntEnum):
    """ISO/IEC 19794-5 §5.5.5 hair colour codes."""

    UNSPECIFIED = 0x00
    BALD = 0x01
    BLACK = 0x02
    BLONDE = 0x03
    BROWN = 0x04
    GREY = 0x05
    WHITE = 0x06
    RED = 0x07
    GREEN = 0x08
    BLUE = 0x09
    UNKNOWN = 0xFF


class FaceImageType(IntEnum):
    """ISO/IEC 19794-5 §5.7.1 face image types; eMRTD portraits are full frontal."""

    BASIC = 0x00
    FULL_FRONTAL = 0x01
    TOKEN_FRONTAL = 0x02


class ColourSpace(IntEnum):
    """ISO/IEC 19794-5 §5.7.5 image colour space."""

    UNSPECIFIED = 0x00
    RGB24 = 0x01
    YUV422 = 0x02
    GREY8 = 0x03
    OTHER = 0x04


class SourceType(IntEnum):
    """ISO/IEC 19794-5 §5.7.6 image source type."""

    UNSPECIFIED = 0x00
    STATIC_PHOTO_UNKNOWN_SOURCE = 0x01
    STATIC_PHOTO_DIGITAL_CAMERA = 0x02
    STATIC_PHOTO_SCANNER = 0x03
    VIDEO_FRAME_UNKNOWN_SOURCE = 0x04
    VIDEO_FRAME_ANALOGUE_CAMERA = 0x05
    VIDEO_FRAME_DIGITAL_CAMERA = 0x06
    UNKNOWN = 0x07


class RecordFormat(Enum):
    """Which biometric record standard a face was read from."""

    ISO_19794_5 = "ISO/IEC 19794-5"
    ISO_39794_5 = "ISO/IEC 39794-5"


@dataclass(frozen=True)
class FeaturePoint:
    """One MPEG-4 facial feature point (ISO/IEC 19794-5 §5.6), e.g. 12.1 = right eye centre."""

    major: int
    minor: int
    x: int
    y: int
    point_type: int = 0x01
    reserved: int = 0


@dataclass(frozen=True)
class FaceImage:
    """One portrait with its facial record fields.

    ``format`` is what the record declares; :attr:`detected_format` is what the bytes themselves are.
    Pose angle bytes use the 19794-5 coding (0 = unspecified, else ``(degrees + 180) / 2 + 1``).
    """

    image: bytes = field(repr=False)
    format: ImageFormat
    width: int
    height: int
    gender: Gender = Gender.UNSPECIFIED
    eye_colour: EyeColour = EyeColour.UNSPECIFIED
    hair_colour: HairColour = HairColour.UNSPECIFIED
    feature_mask: int = 0
    expression: int = 0
    pose_angle: bytes = b"\x00\x00\x00"
    pose_angle_uncertainty: bytes = b"\x00\x00\x00"
    feature_points: tuple[FeaturePoint, ...] = ()
    face_image_type: FaceImageType = FaceImageType.FULL_FRONTAL
    colour_space: ColourSpace = ColourSpace.RGB24
    source_type: SourceType = SourceType.UNSPECIFIED
    device_type: int = 0
    quality: int = 0
    header: BiometricHeader = field(default_factory=BiometricHeader)
    record_format: RecordFormat = RecordFormat.ISO_19794_5

    @property
    def detected_format(self) -> ImageFormat | None:
        """The format the image bytes start with (JPEG, JP2 file or raw J2K codestream), or None."""
        return sniff_image_format(self.image)

    @property
    def mime_type(self) -> str:
        """Media type of the image bytes: detected from them when possible, else as declared."""
        return (self.detected_format or self.format).mime_type

    def to_pil(self) -> Image.Image:
        """Decode the image with pillow (JPEG, JP2, raw J2K codestream) within the decoding budgets.

        A large image comes back at a reduced resolution; DecodeError when it does not decode, LimitExceeded
        when it is over a budget (see :func:`load_image`).
        """
        return decode_image(self.image)

    @classmethod
    def from_image(cls, image: bytes, **fields: object) -> FaceImage:
        """A face for encoding from JPEG or JPEG 2000 bytes; format and size are read from the image."""
        detected = sniff_image_format(image)
        if detected is None:
            raise EncodeError("portrait is neither JPEG nor JPEG 2000")
        width, height = image_size(image)
        if width <= 0 or height <= 0:
            raise EncodeError("portrait image cannot be decoded")
        face = cls(image=image, format=detected, width=width, height=height)
        return replace(face, **fields)  # type: ignore[arg-type]


@dataclass(frozen=True)
class DG2:
    """Data group 2: the holder's face images, one biometric information template each.

    ``faces`` may be given as any sequence; it is kept as a tuple so that a DG2 is immutable and comparable.
    """

    faces: Sequence[FaceImage]

    def __post_init__(self) -> None:
        object.__setattr__(self, "faces", tuple(self.faces))

    def encode(self) -> bytes:
        """The whole DG2 file (tag 75); each face becomes a 19794-5 record under its own header."""
        if not self.faces:
            raise EncodeError("DG2 needs at least one face")
        return encode_group(TAG_DG2, [(face.header, encode_face_record(face)) for face in self.faces])

    @classmethod
    def decode(cls, data: bytes) -> DG2:
        """Decode a whole DG2 file; errors name the field and the offset within the file."""
        templates = decode_group(data, TAG_DG2, file=FILE, check_count=_check_face_count,
                                 block_tags=(TAG_BDB, TAG_BDB_CONSTRUCTED))
        faces = [replace(face, header=template.header) for template in templates
                 for face in decode_block(template, decode_face_record, file=FILE)]
        _check_face_count(len(faces))
        return cls(faces)


def _check_face_count(found: int) -> None:
    """LimitExceeded when a DG2 holds more faces than MAX_FACES_PER_DG2: checked before any image is decoded."""
    if found > MAX_FACES_PER_DG2:
        raise LimitExceeded("MAX_FACES_PER_DG2", f"{FILE} face images", MAX_FACES_PER_DG2, found)


def decode_face_record(record: bytes) -> list[FaceImage]:
    """Decode a bare face record: ISO/IEC 19794-5 (``FAC\\0``) or ISO/IEC 39794-5 (tag ``A1``)."""
    if record.startswith(FAC_MAGIC):
        return _decode_19794(record)
    if record[:1] == bytes([TAG_39794_RECORD]):
        return _decode_39794(record)
    raise DecodeError("neither an ISO/IEC 19794-5 nor a 39794-5 face record", field="face record", offset=0)


# --- ISO/IEC 19794-5:2005 ---------------------------------------------------------------------------------


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

E = TypeVar("E", bound=IntEnum)


def _code(enum: type[E], value: int, name: str, offset: int) -> E:
    try:
        return enum(value)
    except ValueError:
        raise DecodeError(f"code {value:#04x} is not defined", field=name, offset=offset) from None


def _decode_19794(record: bytes) -> list[FaceImage]:
    if len(record) < GENERAL_HEADER.size:
        raise DecodeError("truncated general header", field="general header", offset=0)
    _, version, total, count = GENERAL_HEADER.unpack_from(record)
    _check_face_count(count)
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
        gender=_code(Gender, gender, "gender", start + 6),
        eye_colour=_code(EyeColour, eyes, "eye colour", start + 7),
        hair_colour=_code(HairColour, hair, "hair colour", start + 8),
        feature_mask=int.from_bytes(mask, "big"),
        expression=expression,
        pose_angle=pose,
        pose_angle_uncertainty=uncertainty,
        feature_points=points,
        face_image_type=_code(FaceImageType, face_type, "face image type", info_at),
        colour_space=_code(ColourSpace, colour, "image colour space", info_at + 6),
        source_type=_code(SourceType, source, "source type", info_at + 7),
        device_type=device,
        quality=quality,
    )
    return face, end


def _decode_point(record: bytes, at: int) -> FeaturePoint:
    point_type, code, x, y, reserved = FEATURE_POINT.unpack_from(record, at)
    return FeaturePoint(major=code >> 4, minor=code & 0x0F, x=x, y=y, point_type=point_type, reserved=reserved)


# --- ISO/IEC 39794-5 --------------------------------------------------------------------------------------

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


def _decode_39794(record: bytes) -> list[FaceImage]:
    outer = read_tlv(record)
    if outer.end != len(record):
        raise DecodeError(f"{len(record) - outer.end} trailing bytes after the record", field="face record",
                          offset=outer.end)
    data_block = _only(children(outer), TAG_FACE_IMAGE_DATA_BLOCK, "FaceImageDataBlock", outer.offset)
    representations = _required(children(data_block), 0xA1, "representationBlocks", data_block.offset)
    blocks = children(representations)
    _check_face_count(len(blocks))
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
    return default if obj is None or value is None else _code(enum, value, name, obj.offset)


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


# --- images -----------------------------------------------------------------------------------------------
#
# A chip chooses its own DG2, and a failing hash does not stop anyone from decoding it, so every decode is
# budgeted before a pixel is touched (cardlib.limits): the size the headers declare (the JPEG 2000 SIZ
# marker itself, never only the JP2 box that may disagree with it), the JPEG 2000 tile count and the JPEG scan
# count; then at most MAX_DECODED_PIXELS are decoded, JPEG 2000 at a reduced resolution level and JPEG at a
# DCT scale (1/2 to 1/8) when the image is larger, which still proves that it decodes.  A multi-scan
# (progressive) JPEG keeps every coefficient in memory whatever the scale, so it must fit the budget whole.
#
# cardlib never changes PIL.Image.MAX_IMAGE_PIXELS, a process-wide setting that belongs to the application:
# its own budgets are checked on the declared header instead, and pillow's warning below its limit is
# silenced inside these decodes (MAX_DECLARED_PIXELS decides); an application that lowers pillow's limit
# still has it enforced, as LimitExceeded.

FACE_IMAGE_FORMATS = ("JPEG", "JPEG2000")
"""The pillow formats a face image may be decoded as (anything else in DG2 is not a portrait)."""

_J2K_SIZ = struct.Struct(">HHIIIIIIIIH")  # Lsiz Rsiz Xsiz Ysiz XOsiz YOsiz XTsiz YTsiz XTOsiz YTOsiz Csiz
_J2K_SOT, _J2K_COD, _J2K_COC = 0xFF90, 0xFF52, 0xFF53
_JPEG_SOS, _JPEG_EOI = 0xDA, 0xD9
_JPEG_MAX_HALVINGS = 3  # libjpeg scales by 1/2, 1/4 or 1/8 while decoding


def sniff_image_format(image: bytes) -> ImageFormat | None:
    """JPEG, JPEG 2000 (JP2 file or raw codestream) or None, from the leading magic bytes."""
    if image.startswith(JPEG_MAGIC):
        return ImageFormat.JPEG
    if image.startswith(JP2_MAGIC) or image.startswith(J2K_MAGIC):
        return ImageFormat.JPEG2000
    return None


@dataclass(frozen=True)
class DeclaredImage:
    """What an image's headers declare before any pixel is decoded.

    ``halvings`` is how often the decoder can halve both sides instead of decoding every pixel (JPEG 2000
    resolution levels, JPEG DCT scaling; 0 when it cannot).
    """

    width: int
    height: int
    halvings: int = 0
    tiles: int = 1
    scans: int = 1

    @property
    def pixels(self) -> int:
        """Width × height."""
        return self.width * self.height

    def reduced_pixels(self, halvings: int) -> int:
        """Pixels decoded when both sides are halved ``halvings`` times (rounded up, as the decoders do)."""
        step = 1 << halvings
        return -(-self.width // step) * -(-self.height // step)


@contextmanager
def _pillow_errors(source: str) -> Iterator[None]:
    """Pillow's failures as DecodeError, its own decompression bomb limit as LimitExceeded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    except Image.DecompressionBombError:
        pillow_limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)  # pillow raises above twice its limit
        if pillow_limit >= MAX_DECLARED_PIXELS:  # then the image is over our own budget as well
            raise LimitExceeded("MAX_DECLARED_PIXELS", f"{source} image", MAX_DECLARED_PIXELS) from None
        raise LimitExceeded("PIL.Image.MAX_IMAGE_PIXELS", f"{source} image", pillow_limit) from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise DecodeError(f"pillow cannot decode the image ({type(exc).__name__})", file=source,
                          field="image") from None


def open_image(image: bytes, *, source: str = FILE,
               formats: tuple[str, ...] | None = FACE_IMAGE_FORMATS) -> Image.Image:
    """Open ``image`` with pillow, reading its headers only; DecodeError naming ``source`` when it cannot.

    ``formats`` limits the pillow formats tried (None: any).  Decode it with :func:`load_image`.
    """
    if image.startswith(JP2_MAGIC):
        _codestream_start(image, source)  # pillow asserts, instead of raising, on a JP2 without its header box
    with _pillow_errors(source):
        return Image.open(io.BytesIO(image), formats=formats)


def load_image(opened: Image.Image, image: bytes, *, source: str = FILE,
               fit: tuple[int, int] | None = None) -> Image.Image:
    """Decode ``opened`` (from :func:`open_image` of ``image``) within the budgets of :mod:`cardlib.limits`.

    An image above MAX_DECODED_PIXELS comes back at a reduced resolution; one that declares more than
    MAX_DECLARED_PIXELS, too many tiles or scans, or that cannot be reduced enough raises LimitExceeded
    before any pixel is decoded.  ``fit``: the smallest size the caller needs, so that a JPEG may be decoded
    at a DCT scale and a JPEG 2000 image at a resolution level down to it (see :func:`_jpeg2000_reduction`).
    """
    what = f"{source} image"
    with _pillow_errors(source):
        declared = declared_image(opened, image, source=source)
        halvings = _halvings_within_budget(declared, what)
        if isinstance(opened, Jpeg2KImagePlugin.Jpeg2KImageFile):
            opened.reduce = _jpeg2000_reduction(declared, halvings, fit)
        elif opened.format in ("JPEG", "MPO") and (halvings or fit):
            opened.draft(opened.mode, _draft_size(opened.size, halvings, fit))
        opened.load()
        return opened


def declared_image(opened: Image.Image, image: bytes, *, source: str = FILE) -> DeclaredImage:
    """The declared size, tiles, scans and possible halvings of ``image`` (opened, not yet decoded)."""
    width, height = opened.size
    if opened.format == "JPEG2000":
        declared = _jpeg2000_declared(image, source)
        if (declared.width, declared.height) != (width, height):
            raise DecodeError(f"the JP2 header declares {width}x{height}, the codestream "
                              f"{declared.width}x{declared.height}", file=source, field="image")
        return declared
    if opened.format in ("JPEG", "MPO"):
        scans = _jpeg_scans(image)
        return DeclaredImage(width, height, _JPEG_MAX_HALVINGS if scans <= 1 else 0, scans=scans)
    return DeclaredImage(width, height)


def _halvings_within_budget(declared: DeclaredImage, what: str) -> int:
    """The fewest halvings that bring the decode within MAX_DECODED_PIXELS; LimitExceeded over any budget."""
    for budget, limit, found in (("MAX_DECLARED_PIXELS", MAX_DECLARED_PIXELS, declared.pixels),
                                 ("MAX_JPEG2000_TILES", MAX_JPEG2000_TILES, declared.tiles),
                                 ("MAX_JPEG_SCANS", MAX_JPEG_SCANS, declared.scans)):
        if found > limit:
            raise LimitExceeded(budget, what, limit, found)
    for halvings in range(declared.halvings + 1):
        if declared.reduced_pixels(halvings) <= MAX_DECODED_PIXELS:
            return halvings
    raise LimitExceeded("MAX_DECODED_PIXELS", what, MAX_DECODED_PIXELS, declared.reduced_pixels(declared.halvings))


def _jpeg2000_reduction(declared: DeclaredImage, halvings: int, fit: tuple[int, int] | None) -> int:
    """The resolution level to decode a JPEG 2000 image at: ``halvings`` (what the budget requires), or with
    ``fit`` the lowest level still at least that size, which decodes the least data (the coarsest subbands).

    Only levels that pillow sizes as OpenJPEG decodes them qualify: pillow rounds a reduced side to the nearest
    pixel, OpenJPEG rounds it up, and where they differ pillow reports a broken data stream.
    """
    if fit is None:
        return halvings
    usable = [level for level in range(halvings, declared.halvings + 1)
              if all(_openjpeg_side(side, level) == _pillow_side(side, level) and _openjpeg_side(side, level) >= least
                     for side, least in ((declared.width, fit[0]), (declared.height, fit[1])))]
    return max(usable, default=halvings)


def _openjpeg_side(side: int, level: int) -> int:
    return -(-side >> level)


def _pillow_side(side: int, level: int) -> int:
    return (side + ((1 << level) >> 1)) >> level


def _draft_size(size: tuple[int, int], halvings: int, fit: tuple[int, int] | None) -> tuple[int, int]:
    """The size to ask pillow's JPEG draft for, so that it scales by at least 2**halvings and down to ``fit``."""
    width, height = size[0] >> halvings, size[1] >> halvings
    if fit is not None:
        width, height = min(width, fit[0]), min(height, fit[1])
    return max(1, width), max(1, height)


def _codestream_start(image: bytes, source: str) -> int:
    """Offset of the JPEG 2000 codestream: 0 for a raw one, else the content of the JP2 file's ``jp2c`` box."""
    if image.startswith(J2K_MAGIC):
        return 0
    pos, header_seen = 0, False
    while pos + 8 <= len(image):
        length, kind = struct.unpack_from(">I4s", image, pos)
        header = 8
        if length == 1 and pos + 16 <= len(image):
            length, header = int.from_bytes(image[pos + 8 : pos + 16], "big"), 16
        elif length == 0:
            length = len(image) - pos
        if kind == b"jp2c" and header_seen:
            return pos + header
        if kind == b"jp2c" or length < header:
            break
        header_seen |= kind == b"jp2h"
        pos += length
    raise DecodeError("JP2 file without a header box (jp2h) followed by a codestream box (jp2c)", file=source,
                      field="image", offset=pos)


def _jpeg2000_declared(image: bytes, source: str) -> DeclaredImage:
    """Size and tiling from the SIZ marker, the fewest resolution levels from COD/COC (ISO/IEC 15444-1 A.5)."""
    start = _codestream_start(image, source)
    if image[start : start + 4] != J2K_MAGIC or len(image) < start + 4 + _J2K_SIZ.size:
        raise DecodeError("JPEG 2000 codestream without a complete SIZ marker", file=source, field="image",
                          offset=start)
    lsiz, _, xsiz, ysiz, xosiz, yosiz, xtsiz, ytsiz, xtosiz, ytosiz, csiz = _J2K_SIZ.unpack_from(image, start + 4)
    if not (xtosiz <= xosiz < xsiz and ytosiz <= yosiz < ysiz and xtsiz and ytsiz):
        raise DecodeError("SIZ marker declares an empty image or an impossible tiling", file=source,
                          field="image", offset=start + 2)
    tiles = -(-(xsiz - xtosiz) // xtsiz) * -(-(ysiz - ytosiz) // ytsiz)
    levels = _jpeg2000_levels(image, start + 4 + lsiz, csiz, source)
    return DeclaredImage(xsiz - xosiz, ysiz - yosiz, levels, tiles=tiles)


def _jpeg2000_levels(image: bytes, pos: int, components: int, source: str) -> int:
    """The fewest wavelet decomposition levels the main header's COD and COC markers give any component."""
    levels = []
    while pos + 4 <= len(image):
        marker, length = struct.unpack_from(">HH", image, pos)
        if marker == _J2K_SOT:
            break
        at = {_J2K_COD: pos + 9, _J2K_COC: pos + 6 + (components > 256)}.get(marker)
        if at is not None and at < len(image):
            levels.append(image[at])  # COD: Scod, SGcod (4); COC: Ccoc (1 or 2), Scoc; then the level count
        pos += 2 + length
    if not levels:
        raise DecodeError("JPEG 2000 main header without a COD marker", file=source, field="image")
    return min(levels)


def _jpeg_scans(image: bytes) -> int:
    """How many scans (SOS markers) the first JPEG image holds, walking its marker segments."""
    pos, scans = 2, 0
    while pos + 4 <= len(image):
        if image[pos] != 0xFF or image[pos + 1] in (0xFF, 0x00):
            pos += 1  # fill bytes and garbage between segments, which libjpeg skips too
            continue
        marker = image[pos + 1]
        if marker == _JPEG_EOI:
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # standalone markers: RSTn, TEM
            pos += 2
            continue
        pos += 2 + int.from_bytes(image[pos + 2 : pos + 4], "big")
        if marker == _JPEG_SOS:
            scans += 1
            pos = _entropy_coded_end(image, pos)
    return scans


def _entropy_coded_end(image: bytes, pos: int) -> int:
    """Where the entropy-coded data from ``pos`` ends: the next marker (FF00 stuffing and RSTn belong to it)."""
    while True:
        pos = image.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(image):
            return len(image)
        follower = image[pos + 1]
        if follower != 0x00 and not 0xD0 <= follower <= 0xD7 and follower != 0xFF:
            return pos
        pos += 1 if follower == 0xFF else 2


def decode_image(image: bytes, *, source: str = FILE) -> Image.Image:
    """Decode JPEG, JP2 or raw J2K bytes with pillow within the decoding budgets (see :func:`load_image`).

    DecodeError when pillow cannot, LimitExceeded over a budget.
    """
    with open_image(image, source=source) as opened:
        return load_image(opened, image, source=source).copy()


def verify_image(image: bytes, *, source: str = FILE) -> tuple[int, int]:
    """Check that the image decodes within the budgets; its full declared width and height.

    A JPEG is decoded at 1/8 scale, which still reads every block; a JPEG 2000 image at its lowest resolution
    level (its header, every tile and the coarsest subbands), or, should pillow refuse that level, as
    :func:`decode_image` decodes it.  DecodeError when pillow cannot decode it, LimitExceeded over a budget.
    For verification, where the pixels themselves are not needed.
    """
    with open_image(image, source=source) as opened:
        size = opened.size
        try:
            load_image(opened, image, source=source, fit=(1, 1))
        except DecodeError:
            if opened.format != "JPEG2000":
                raise
            decode_image(image, source=source)
        return size


def image_size(image: bytes) -> tuple[int, int]:
    """Width and height from the image header alone, or (0, 0) when pillow cannot read the header."""
    try:
        with open_image(image) as opened:
            return opened.size
    except CardlibError:
        return 0, 0


__all__ = [
    "DG2",
    "FACE_IMAGE_FORMATS",
    "BiometricHeader",
    "ColourSpace",
    "DeclaredImage",
    "EyeColour",
    "FaceImage",
    "FaceImageType",
    "FeaturePoint",
    "Gender",
    "HairColour",
    "ImageFormat",
    "RecordFormat",
    "SourceType",
    "declared_image",
    "decode_face_record",
    "decode_image",
    "encode_face_record",
    "image_size",
    "load_image",
    "open_image",
    "sniff_image_format",
    "verify_image",
]
