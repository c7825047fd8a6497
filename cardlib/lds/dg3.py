"""DG3, the encoded fingers: ICAO 9303-10 §4.7.3 biometric templates holding ISO/IEC 19794-4:2005 records.

Layout (tag ``63``), the same biometric information group template as DG2, walked by :mod:`cardlib.lds.cbeff`::

    63 { 7F61 { 02 count,
                7F60 { A1 { 81 biometric type 08 (finger), 82 subtype (finger), 87 0101, 88 0007 },
                       5F2E { ISO/IEC 19794-4 record "FIR\\0" "010\\0" ... } } ... } }

A 19794-4 record is a 32-byte general header (record length in 6 bytes, capture device, acquisition level,
number of finger images, scale units, scan and image resolutions, pixel depth, compression algorithm) then one
14-byte finger image header and image per finger (position, views, quality, impression type, line lengths).
Images are WSQ (NBIS, through the ``wsq`` pillow plugin), JPEG, JPEG 2000 or PNG; like DG2, image bytes are not
decoded while the record is: :meth:`FingerImage.to_pil` does that within the budgets of :mod:`cardlib.limits`
(:meth:`FingerImage.declared_size` reads the image header alone, so that a verifier can hold the images of a
DG3 together to MAX_DG3_DECODED_PIXELS before decoding any: WSQ is always decoded whole).

The CCCD keeps two index fingers behind Terminal Authentication (shared docs, "Files on the chip"); a DG3 with
more than MAX_FINGERS_PER_DG3 finger images is refused before any image is touched.  ISO/IEC 39794-4 records
are not decoded yet (DecodeError names the format).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field, replace
from enum import IntEnum

from PIL import Image

from cardlib.errors import DecodeError, EncodeError
from cardlib.lds.cbeff import BiometricHeader, decode_block, decode_group, encode_group
from cardlib.lds.images import load_image, open_image
from cardlib.limits import MAX_FINGERS_PER_DG3, LimitExceeded

FILE = "DG3"

TAG_DG3 = 0x63

BIOMETRIC_TYPE_FINGER = 0x08
FORMAT_TYPE_19794_4 = 0x0007
FORMAT_TYPE_39794_4 = 0x0029

FIR_MAGIC = b"FIR\x00"
FIR_VERSION = b"010\x00"
GENERAL_HEADER = struct.Struct(">4s4s6sHHBBHHHHBB2s")  # id, version, length(6), device, level, count, units,
#                                                        scan h/v, image h/v, depth, compression, reserved
FINGER_HEADER = struct.Struct(">IBBBBBHHB")  # length, position, views, view, quality, impression, width, height, rsv
IMAGE_FORMATS = ("WSQ", "JPEG", "JPEG2000", "PNG")
"""The pillow formats a finger image may be decoded as."""


class Compression(IntEnum):
    """ISO/IEC 19794-4:2005 Table 3, image compression algorithm."""

    UNCOMPRESSED = 0
    UNCOMPRESSED_BIT_PACKED = 1
    WSQ = 2
    JPEG = 3
    JPEG2000 = 4
    PNG = 5


class FingerPosition(IntEnum):
    """ISO/IEC 19794-4:2005 Table 5, finger positions (plain multi-finger positions left out)."""

    UNKNOWN = 0
    RIGHT_THUMB = 1
    RIGHT_INDEX = 2
    RIGHT_MIDDLE = 3
    RIGHT_RING = 4
    RIGHT_LITTLE = 5
    LEFT_THUMB = 6
    LEFT_INDEX = 7
    LEFT_MIDDLE = 8
    LEFT_RING = 9
    LEFT_LITTLE = 10

    @property
    def cbeff_subtype(self) -> int:
        """The CBEFF biometric subtype (ISO/IEC 19785-3): right 01 / left 02, then the finger."""
        if self is FingerPosition.UNKNOWN:
            return 0
        side = 0x01 if self <= FingerPosition.RIGHT_LITTLE else 0x02
        finger = (self - 1) % 5  # thumb, index, middle, ring, little
        return side | (finger + 1) << 2


@dataclass(frozen=True)
class FingerImage:
    """One finger image with its 19794-4 finger header fields and the record fields around it."""

    image: bytes = field(repr=False)
    compression: Compression
    position: FingerPosition
    width: int
    height: int
    quality: int = 0
    impression_type: int = 0  # 0: live-scan plain
    view_number: int = 1
    view_count: int = 1
    resolution: int = 500
    """Scan and image resolution in pixels per inch (the record's scale units 01)."""
    pixel_depth: int = 8
    capture_device: int = 0
    acquisition_level: int = 31  # 500 ppi, 8-bit grey (19794-4 Table 1)
    header: BiometricHeader = field(default_factory=lambda: BiometricHeader(
        format_type=FORMAT_TYPE_19794_4, biometric_type=bytes([BIOMETRIC_TYPE_FINGER])))

    def declared_size(self) -> tuple[int, int]:
        """Width and height the image's own header declares (nothing is decoded); DecodeError when unreadable."""
        if self.compression is Compression.WSQ:
            register_wsq()
        with open_image(self.image, source=FILE, formats=IMAGE_FORMATS) as opened:
            return opened.size

    def to_pil(self) -> Image.Image:
        """Decode the image (WSQ, JPEG, JPEG 2000, PNG) within the decoding budgets; DecodeError when it does
        not decode, LimitExceeded over a budget."""
        if self.compression is Compression.WSQ:
            register_wsq()
        with open_image(self.image, source=FILE, formats=IMAGE_FORMATS) as opened:
            return load_image(opened, self.image, source=FILE).copy()

    @classmethod
    def for_finger(cls, image: bytes, compression: Compression, position: FingerPosition, width: int,
                   height: int, **fields: object) -> FingerImage:
        """A finger for encoding, its CBEFF subtype set from ``position``."""
        header = BiometricHeader(format_type=FORMAT_TYPE_19794_4, biometric_type=bytes([BIOMETRIC_TYPE_FINGER]),
                                 subtype=bytes([position.cbeff_subtype]))
        finger = cls(image=image, compression=compression, position=position, width=width, height=height,
                     header=header)
        return replace(finger, **fields)  # type: ignore[arg-type]


def register_wsq() -> None:
    """Register the WSQ codec with pillow: the plugin of the ``wsq`` package (NBIS), loaded on first use."""
    import wsq  # type: ignore[import-untyped]  # noqa: F401


WSQ_BITRATE = 0.75
"""Bits per pixel of WSQ compression (the FBI specification's usual rate, about 15:1)."""


def encode_wsq(image: Image.Image, *, bitrate: float = WSQ_BITRATE) -> bytes:
    """``image`` as 8-bit grey WSQ (converted to grey first), as DG3 stores fingers."""
    register_wsq()
    buffer = io.BytesIO()
    image.convert("L").save(buffer, "WSQ", bitrate=bitrate)
    return buffer.getvalue()


@dataclass(frozen=True)
class DG3:
    """Data group 3: finger images, one biometric information template (and one 19794-4 record) each."""

    fingers: tuple[FingerImage, ...]

    def encode(self) -> bytes:
        """The whole DG3 file (tag 63); an empty DG3 holds the count 0 and no template."""
        if len(self.fingers) > MAX_FINGERS_PER_DG3:
            raise EncodeError(f"{len(self.fingers)} fingers, at most {MAX_FINGERS_PER_DG3}")
        return encode_group(TAG_DG3, [(finger.header, encode_record(finger)) for finger in self.fingers])

    @classmethod
    def decode(cls, data: bytes) -> DG3:
        """Decode a whole DG3 file; errors name the field and the offset within the file."""
        templates = decode_group(data, TAG_DG3, file=FILE, check_count=_check_count)
        fingers = [replace(finger, header=template.header) for template in templates
                   for finger in decode_block(template, decode_record, file=FILE)]
        _check_count(len(fingers))
        return cls(tuple(fingers))


def _check_count(found: int) -> None:
    if found > MAX_FINGERS_PER_DG3:
        raise LimitExceeded("MAX_FINGERS_PER_DG3", f"{FILE} finger images", MAX_FINGERS_PER_DG3, found)


def encode_record(finger: FingerImage) -> bytes:
    """One ISO/IEC 19794-4:2005 record holding ``finger``."""
    try:
        image_header = FINGER_HEADER.pack(FINGER_HEADER.size + len(finger.image), finger.position,
                                          finger.view_count, finger.view_number, finger.quality,
                                          finger.impression_type, finger.width, finger.height, 0)
        total = GENERAL_HEADER.size + len(image_header) + len(finger.image)
        general = GENERAL_HEADER.pack(FIR_MAGIC, FIR_VERSION, total.to_bytes(6, "big"), finger.capture_device,
                                      finger.acquisition_level, 1, 1, finger.resolution, finger.resolution,
                                      finger.resolution, finger.resolution, finger.pixel_depth,
                                      finger.compression, b"\x00\x00")
    except (struct.error, OverflowError) as error:
        raise EncodeError(f"finger record field out of range: {error}") from None
    return general + image_header + finger.image


def decode_record(record: bytes) -> list[FingerImage]:
    """Decode a bare ISO/IEC 19794-4:2005 finger image record (``FIR\\0`` ``010\\0``)."""
    if not record.startswith(FIR_MAGIC):
        reason = "an ISO/IEC 39794-4 record, not decoded yet" if record[:1] == b"\xa1" else "not a 19794-4 record"
        raise DecodeError(reason, field="finger record", offset=0)
    if len(record) < GENERAL_HEADER.size:
        raise DecodeError("truncated general header", field="general header", offset=0)
    (_, version, length, device, level, count, units, scan_h, _, _, _, depth, compression,
     _) = GENERAL_HEADER.unpack_from(record)
    if version != FIR_VERSION:
        raise DecodeError(f"version {version!r}, expected '010'", field="version", offset=4)
    if int.from_bytes(length, "big") != len(record):
        raise DecodeError(f"record length says {int.from_bytes(length, 'big')} bytes, {len(record)} present",
                          field="record length", offset=8)
    _check_count(count)
    try:
        algorithm = Compression(compression)
    except ValueError:
        raise DecodeError(f"compression algorithm {compression} is not defined", field="compression",
                          offset=27) from None
    resolution = scan_h if units == 1 else round(scan_h * 2.54)
    fingers, pos = [], GENERAL_HEADER.size
    for _ in range(count):
        finger, pos = _decode_finger(record, pos, algorithm)
        fingers.append(replace(finger, resolution=resolution, pixel_depth=depth, capture_device=device,
                               acquisition_level=level))
    if pos != len(record):
        raise DecodeError(f"{len(record) - pos} bytes after the last finger image", field="finger record",
                          offset=pos)
    if not fingers:
        raise DecodeError("record holds no finger image", field="number of fingers", offset=18)
    return fingers


def _decode_finger(record: bytes, start: int, compression: Compression) -> tuple[FingerImage, int]:
    if start + FINGER_HEADER.size > len(record):
        raise DecodeError("truncated finger image header", field="finger image header", offset=start)
    length, position, views, view, quality, impression, width, height, _ = FINGER_HEADER.unpack_from(record, start)
    end = start + length
    if length < FINGER_HEADER.size or end > len(record):
        raise DecodeError(f"finger image length {length} does not fit", field="finger image length", offset=start)
    try:
        finger_position = FingerPosition(position)
    except ValueError:
        raise DecodeError(f"finger position {position} is not a single finger", field="finger position",
                          offset=start + 4) from None
    finger = FingerImage(image=bytes(record[start + FINGER_HEADER.size : end]), compression=compression,
                         position=finger_position, width=width, height=height, quality=quality,
                         impression_type=impression, view_number=view, view_count=views)
    return finger, end


__all__ = [
    "DG3",
    "IMAGE_FORMATS",
    "WSQ_BITRATE",
    "Compression",
    "FingerImage",
    "FingerPosition",
    "decode_record",
    "encode_record",
    "encode_wsq",
    "register_wsq",
]
