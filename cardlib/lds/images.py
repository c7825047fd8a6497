"""Face and finger images decoded with pillow within the decoding budgets of :mod:`cardlib.limits`.

The codecs of DG2 (:mod:`cardlib.lds.dg2`) and DG3 (:mod:`cardlib.lds.dg3`) keep image bytes as bytes; this
module is the one place that hands them to pillow: :func:`sniff_image_format` from the magic bytes,
:func:`open_image` (headers only), :func:`load_image` and :func:`decode_image` (pixels, budgeted),
:func:`verify_image` (decodes without keeping the pixels) and :func:`declared_image` (what the headers say).
"""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum

from PIL import Image, Jpeg2KImagePlugin

from cardlib.errors import CardlibError, DecodeError
from cardlib.limits import (
    MAX_DECLARED_PIXELS,
    MAX_DECODED_PIXELS,
    MAX_JPEG2000_TILES,
    MAX_JPEG_SCANS,
    LimitExceeded,
)

DEFAULT_SOURCE = "DG2"
"""What errors name when the caller names no source: the portrait, which most callers decode."""

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
_JPEG_SEQUENTIAL_FRAMES = frozenset({0xC0, 0xC1})  # SOF0 baseline, SOF1 extended sequential (Huffman)
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
    except CardlibError:
        raise
    except Exception as exc:  # image plugins (wsq) fail on garbage with any exception at all
        raise DecodeError(f"pillow cannot decode the image ({type(exc).__name__})", file=source,
                          field="image") from None


def open_image(image: bytes, *, source: str = DEFAULT_SOURCE,
               formats: tuple[str, ...] | None = FACE_IMAGE_FORMATS) -> Image.Image:
    """Open ``image`` with pillow, reading its headers only; DecodeError naming ``source`` when it cannot.

    ``formats`` limits the pillow formats tried (None: any).  Decode it with :func:`load_image`.
    """
    if image.startswith(JP2_MAGIC):
        _codestream_start(image, source)  # pillow asserts, instead of raising, on a JP2 without its header box
    with _pillow_errors(source):
        return Image.open(io.BytesIO(image), formats=formats)


def load_image(opened: Image.Image, image: bytes, *, source: str = DEFAULT_SOURCE,
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


def declared_image(opened: Image.Image, image: bytes, *, source: str = DEFAULT_SOURCE) -> DeclaredImage:
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
    """How many scans (SOS markers) the first JPEG image holds, walking its marker segments.

    A sequential frame (SOF0, SOF1) whose first scan holds every component is one scan: libjpeg refuses any SOS
    after it at once (it expects EOI), so its entropy-coded data need not be walked.  Any other frame — a
    progressive one above all, whose every scan walks the whole image again — has its scans counted.
    """
    pos, scans, sequential_components = 2, 0, 0
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
        if marker in _JPEG_SEQUENTIAL_FRAMES and pos + 9 < len(image):
            sequential_components = image[pos + 9]  # SOFn: Lf (2), P (1), Y (2), X (2), then Nf
        if marker == _JPEG_SOS and scans == 0 and pos + 4 < len(image) and image[pos + 4] == sequential_components:
            return 1  # SOS: Ls (2), then Ns
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


def decode_image(image: bytes, *, source: str = DEFAULT_SOURCE) -> Image.Image:
    """Decode JPEG, JP2 or raw J2K bytes with pillow within the decoding budgets (see :func:`load_image`).

    DecodeError when pillow cannot, LimitExceeded over a budget.
    """
    with open_image(image, source=source) as opened:
        return load_image(opened, image, source=source).copy()


def verify_image(image: bytes, *, source: str = DEFAULT_SOURCE) -> tuple[int, int]:
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
    "DEFAULT_SOURCE",
    "FACE_IMAGE_FORMATS",
    "DeclaredImage",
    "ImageFormat",
    "declared_image",
    "decode_image",
    "image_size",
    "load_image",
    "open_image",
    "sniff_image_format",
    "verify_image",
]
