"""The face record model shared by ISO/IEC 19794-5 and ISO/IEC 39794-5: :class:`FaceImage` and its codes.

:mod:`cardlib.lds.iso19794_5` and :mod:`cardlib.lds.iso39794_5` decode records into these types and
:mod:`cardlib.lds.dg2` wraps them in the DG2 file; the image bytes are decoded by :mod:`cardlib.lds.images`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum, IntEnum
from typing import TypeVar

from PIL import Image

from cardlib.errors import DecodeError, EncodeError
from cardlib.lds.cbeff import BiometricHeader
from cardlib.lds.images import ImageFormat, decode_image, image_size, sniff_image_format
from cardlib.limits import MAX_FACES_PER_DG2, LimitExceeded


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


def check_face_count(found: int) -> None:
    """LimitExceeded when a DG2 holds more faces than MAX_FACES_PER_DG2: checked before any image is decoded."""
    if found > MAX_FACES_PER_DG2:
        raise LimitExceeded("MAX_FACES_PER_DG2", "DG2 face images", MAX_FACES_PER_DG2, found)


E = TypeVar("E", bound=IntEnum)


def checked_code(enum: type[E], value: int, name: str, offset: int) -> E:
    """``value`` as a member of ``enum``; DecodeError naming the field and offset when it is not defined."""
    try:
        return enum(value)
    except ValueError:
        raise DecodeError(f"code {value:#04x} is not defined", field=name, offset=offset) from None


__all__ = [
    "ColourSpace",
    "EyeColour",
    "FaceImage",
    "FaceImageType",
    "FeaturePoint",
    "Gender",
    "HairColour",
    "RecordFormat",
    "SourceType",
    "check_face_count",
    "checked_code",
]
