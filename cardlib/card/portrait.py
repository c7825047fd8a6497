"""Portrait normalisation: any photo pillow reads → a DG2-ready face image of fixed geometry under a byte budget.

Geometry: 360×480 pixels, 3:4 as ICAO 9303-3 and ISO/IEC 19794-5 full-frontal portraits.  A head filling
about 55 % of that width is ~200 px wide, which puts ~90 px between the eye centres, the ICAO minimum for
machine face comparison, while JPEG at that size fits the 20 000-byte budget at good quality (DG2 is read
over a slow contactless link, so every kilobyte costs read time).  The source is cropped centred to 3:4
and scaled uniformly: never stretched.

A source that already is a JPEG (or JPEG 2000, when that is the target) of exactly this geometry, within the
budget and without EXIF metadata, is passed through untouched: personalization speed is benchmarked and the
sample portraits are made that way.

Sources are decoded within the image budgets of :mod:`cardlib.limits` (:func:`cardlib.lds.images.load_image`):
a JPEG or JPEG 2000 photo larger than MAX_DECODED_PIXELS is decoded at a reduced resolution, which is
plenty for 360×480; a photo in another format above it, or any declaring more than MAX_DECLARED_PIXELS,
is refused with LimitExceeded naming it.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Literal

from PIL import Image, ImageOps

from cardlib.errors import DecodeError, EncodeError
from cardlib.lds.face import ColourSpace, FaceImage, SourceType
from cardlib.lds.images import ImageFormat, load_image, open_image

PORTRAIT_WIDTH = 360
PORTRAIT_HEIGHT = 480
DEFAULT_MAX_BYTES = 20_000
MIN_JPEG_QUALITY = 10
MAX_JPEG_QUALITY = 90
MAX_J2K_RATIO = 400.0

PortraitFormat = Literal["JPEG", "JPEG2000"]
Source = Path | bytes | Image.Image

_PILLOW_FORMATS: dict[str, ImageFormat] = {"JPEG": ImageFormat.JPEG, "JPEG2000": ImageFormat.JPEG2000}


def normalise_portrait(
    source: Source, *, format: PortraitFormat = "JPEG", max_bytes: int = DEFAULT_MAX_BYTES
) -> FaceImage:
    """Normalise ``source`` to a 360×480 RGB portrait encoded in ``format`` within ``max_bytes``.

    Raises :class:`DecodeError` (naming the path) when the source is not an image pillow can read,
    :class:`~cardlib.limits.LimitExceeded` when it is over a decoding budget, and :class:`EncodeError` when
    even the lowest quality does not fit ``max_bytes``.
    """
    if format not in _PILLOW_FORMATS:
        raise EncodeError(f"portrait format must be JPEG or JPEG2000, not {format!r}")
    name = str(source) if isinstance(source, Path) else "portrait"
    data = _read(source, name)
    image = source if isinstance(source, Image.Image) else open_image(data or b"", source=name, formats=None)
    passthrough = _passthrough(data, image, format, max_bytes)
    encoded = passthrough if passthrough is not None else _encode(_normalised(image, data, name), format, max_bytes)
    return FaceImage(
        image=encoded,
        format=_PILLOW_FORMATS[format],
        width=PORTRAIT_WIDTH,
        height=PORTRAIT_HEIGHT,
        colour_space=ColourSpace.RGB24,
        source_type=SourceType.STATIC_PHOTO_DIGITAL_CAMERA,
    )


def _read(source: Source, name: str) -> bytes | None:
    """The encoded source bytes (None for an already decoded image)."""
    if isinstance(source, Image.Image):
        return None
    if isinstance(source, bytes):
        return source
    try:
        return source.read_bytes()
    except OSError as exc:
        raise DecodeError(f"cannot read the file ({type(exc).__name__})", file=name) from None


def _passthrough(data: bytes | None, image: Image.Image, format: PortraitFormat, max_bytes: int) -> bytes | None:
    """The source bytes themselves when they already are a finished portrait, else None."""
    if data is None or len(data) > max_bytes:
        return None
    if image.format != format or image.size != (PORTRAIT_WIDTH, PORTRAIT_HEIGHT) or image.mode != "RGB":
        return None
    return None if "exif" in image.info or "icc_profile" in image.info else data


def _normalised(image: Image.Image, data: bytes | None, name: str) -> Image.Image:
    """Upright, flattened RGB, centre-cropped to 3:4 and scaled to 360×480 (``data``: the encoded source)."""
    if data is not None:
        image = load_image(image, data, source=name, fit=(PORTRAIT_WIDTH, PORTRAIT_HEIGHT))
    try:
        image = ImageOps.exif_transpose(image)
        rgb = _flatten(image)
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise DecodeError(f"image data cannot be decoded ({type(exc).__name__})", file=name) from None
    if rgb.size == (PORTRAIT_WIDTH, PORTRAIT_HEIGHT):
        return rgb
    return rgb.resize((PORTRAIT_WIDTH, PORTRAIT_HEIGHT), Image.Resampling.LANCZOS, box=_crop_box(rgb.size),
                      reducing_gap=3.0)


def _flatten(image: Image.Image) -> Image.Image:
    """RGB with any transparency composited on white; greyscale, palette, CMYK and 16-bit modes converted."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = image.point(lambda value: value / 256).convert("L")
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if not has_alpha:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    canvas = Image.new("RGB", rgba.size, (255, 255, 255))
    canvas.paste(rgba, mask=rgba.getchannel("A"))
    return canvas


def _crop_box(size: tuple[int, int]) -> tuple[float, float, float, float]:
    """The largest centred 3:4 box inside an image of ``size``."""
    width, height = size
    if width * PORTRAIT_HEIGHT > height * PORTRAIT_WIDTH:
        crop_width = height * PORTRAIT_WIDTH / PORTRAIT_HEIGHT
        return (width - crop_width) / 2, 0.0, (width + crop_width) / 2, float(height)
    crop_height = width * PORTRAIT_HEIGHT / PORTRAIT_WIDTH
    return 0.0, (height - crop_height) / 2, float(width), (height + crop_height) / 2


def _encode(image: Image.Image, format: PortraitFormat, max_bytes: int) -> bytes:
    return _encode_jpeg(image, max_bytes) if format == "JPEG" else _encode_jpeg2000(image, max_bytes)


def _save(image: Image.Image, format: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format, **options)
    return out.getvalue()


def _encode_jpeg(image: Image.Image, max_bytes: int) -> bytes:
    """The highest JPEG quality (binary search) whose output fits ``max_bytes``."""
    low, high, best = MIN_JPEG_QUALITY, MAX_JPEG_QUALITY, None
    while low <= high:
        quality = (low + high) // 2
        data = _save(image, "JPEG", quality=quality, optimize=True)
        if len(data) <= max_bytes:
            best, low = data, quality + 1
        else:
            high = quality - 1
    if best is None:
        raise EncodeError(f"portrait does not fit {max_bytes} bytes even at JPEG quality {MIN_JPEG_QUALITY}")
    return best


def _encode_jpeg2000(image: Image.Image, max_bytes: int) -> bytes:
    """Irreversible JPEG 2000 (JP2 file) at the compression ratio the budget implies, raised until it fits."""
    raw_size = image.width * image.height * 3
    ratio = max(1.0, raw_size / max_bytes)
    while ratio <= MAX_J2K_RATIO:
        data = _save(image, "JPEG2000", irreversible=True, quality_mode="rates", quality_layers=[ratio])
        if len(data) <= max_bytes:
            return data
        ratio *= 1.25
    raise EncodeError(f"portrait does not fit {max_bytes} bytes even at JPEG 2000 ratio {MAX_J2K_RATIO:.0f}")
