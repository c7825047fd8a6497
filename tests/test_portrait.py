"""Portrait normalisation and the synthetic sample portraits."""

from __future__ import annotations

import contextlib
import io
import random
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from cardlib.card.portrait import DEFAULT_MAX_BYTES, PORTRAIT_HEIGHT, PORTRAIT_WIDTH, normalise_portrait
from cardlib.errors import DecodeError, EncodeError
from cardlib.lds.dg2 import DG2
from cardlib.lds.images import ImageFormat
from cardlib.limits import LimitExceeded
from cardlib.testing.faces import synthetic_portrait, synthetic_portrait_jpeg, write_samples

SAMPLES = Path(__file__).resolve().parents[1] / "tools" / "cardtool" / "samples" / "portraits"
SIZE = (PORTRAIT_WIDTH, PORTRAIT_HEIGHT)


def _encoded(image: Image.Image, format: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format, **options)  # type: ignore[arg-type]
    return out.getvalue()


def _noise(size: tuple[int, int], seed: int = 1) -> Image.Image:
    """Seeded RGB noise: hard to compress, and the same on every run."""
    return Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3))


def _close(pixel: object, expected: tuple[int, int, int], tolerance: int = 40) -> bool:
    assert isinstance(pixel, tuple)
    return all(abs(int(a) - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


def test_png_with_alpha_is_flattened_on_white() -> None:
    image = Image.new("RGBA", (300, 400), (0, 0, 0, 0))
    image.paste((200, 0, 0, 255), (100, 100, 200, 300))
    face = normalise_portrait(_encoded(image, "PNG"))
    decoded = face.to_pil()
    assert decoded.size == SIZE and decoded.mode == "RGB"
    assert _close(decoded.getpixel((5, 5)), (255, 255, 255))
    assert _close(decoded.getpixel((180, 240)), (200, 0, 0))


def test_exif_orientation_is_applied() -> None:
    stored = Image.new("RGB", (480, 360), (220, 0, 0))
    stored.paste((0, 0, 220), (240, 0, 480, 360))  # left red, right blue as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90° clockwise: left edge becomes the top
    face = normalise_portrait(_encoded(stored, "JPEG", exif=exif.tobytes(), quality=95))
    decoded = face.to_pil()
    assert decoded.size == SIZE
    assert _close(decoded.getpixel((180, 60)), (220, 0, 0))
    assert _close(decoded.getpixel((180, 420)), (0, 0, 220))


def test_wide_image_is_cropped_centred_not_stretched() -> None:
    image = Image.new("RGB", (720, 480), (220, 0, 0))
    image.paste((0, 200, 0), (180, 0, 540, 480))  # the centred 3:4 box is all green
    decoded = normalise_portrait(image).to_pil()
    assert all(_close(decoded.getpixel((x, 240)), (0, 200, 0)) for x in (2, 180, 357))


@pytest.mark.parametrize(
    ("mode", "colour"), [("L", 128), ("CMYK", (0, 255, 255, 0)), ("P", 3), ("I;16", 30000), ("LA", (90, 255))]
)
def test_other_modes_become_rgb(mode: str, colour: object) -> None:
    image = Image.new(mode, (90, 120), colour)  # type: ignore[arg-type]
    face = normalise_portrait(image)
    assert face.to_pil().mode == "RGB" and face.to_pil().size == SIZE


@pytest.mark.parametrize("size", [(3, 4), (1, 1), (4000, 3000)])
def test_tiny_and_huge_images(size: tuple[int, int]) -> None:
    face = normalise_portrait(_encoded(Image.new("RGB", size, (10, 120, 10)), "JPEG"))
    assert (face.width, face.height) == SIZE == face.to_pil().size
    assert len(face.image) <= DEFAULT_MAX_BYTES


@pytest.mark.parametrize("budget", [4_000, 8_000, 20_000])
def test_jpeg_budget_is_honoured(budget: int) -> None:
    noisy = Image.blend(synthetic_portrait(2), _noise(SIZE), 0.2)  # a grainy photo, not pure noise
    face = normalise_portrait(noisy, max_bytes=budget)
    assert len(face.image) <= budget
    assert face.format is ImageFormat.JPEG and face.detected_format is ImageFormat.JPEG


def test_jpeg2000_budget_is_honoured() -> None:
    face = normalise_portrait(synthetic_portrait(3), format="JPEG2000", max_bytes=6_000)
    assert len(face.image) <= 6_000
    assert face.format is ImageFormat.JPEG2000 and face.image.startswith(b"\x00\x00\x00\x0cjP  ")
    assert face.to_pil().size == SIZE


def test_impossible_budget_raises_encode_error() -> None:
    with pytest.raises(EncodeError, match="does not fit 300 bytes"):
        normalise_portrait(_noise(SIZE), max_bytes=300)


def test_unreadable_image_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(DecodeError) as caught:
        normalise_portrait(path)
    assert caught.value.file == str(path)
    with pytest.raises(DecodeError):
        normalise_portrait(tmp_path / "missing.jpg")


def test_truncated_image_data_raises_decode_error() -> None:
    data = _encoded(_noise((400, 600)), "PNG")
    with pytest.raises(DecodeError):
        normalise_portrait(data[: len(data) // 2])


def test_finished_portrait_passes_through_unchanged() -> None:
    data = (SAMPLES / "r01.jpg").read_bytes()
    assert normalise_portrait(SAMPLES / "r01.jpg").image == data
    assert normalise_portrait(data, max_bytes=len(data) - 1).image != data  # over budget: re-encoded
    face = normalise_portrait(data)
    assert DG2.decode(DG2([face]).encode()).faces == (face,)


def test_synthetic_portraits_are_deterministic_and_varied() -> None:
    assert synthetic_portrait_jpeg(5) == synthetic_portrait_jpeg(5)
    assert synthetic_portrait(5).tobytes() != synthetic_portrait(6).tobytes()
    assert synthetic_portrait(1).size == SIZE


def test_committed_samples(tmp_path: Path) -> None:
    written = write_samples(tmp_path, count=2)
    assert [path.name for path in written] == ["r01.jpg", "r02.jpg"]
    for number in range(1, 9):
        with Image.open(SAMPLES / f"r{number:02d}.jpg") as sample:
            assert (sample.format, sample.size, sample.mode) == ("JPEG", SIZE, "RGB")
            assert "exif" not in sample.info
        assert 5_000 <= (SAMPLES / f"r{number:02d}.jpg").stat().st_size <= DEFAULT_MAX_BYTES


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"BM"]))
def test_garbage_raises_only_decode_error(tail: bytes, prefix: bytes) -> None:
    with contextlib.suppress(DecodeError):
        normalise_portrait(prefix + tail)


def test_jpeg2000_bomb_source_is_normalised_from_a_reduced_decode() -> None:
    small = _encoded(Image.new("RGB", (64, 64), (120, 130, 140)), "JPEG2000", irreversible=True,
                     quality_mode="rates", quality_layers=[100.0])
    bomb = bytearray(small)
    struct.pack_into(">II", bomb, bomb.index(b"ihdr") + 4, 9400, 9400)
    struct.pack_into(">IIIIII", bomb, bomb.index(b"\xff\x4f\xff\x51") + 8, 9400, 9400, 0, 0, 9400, 9400)
    face = normalise_portrait(bytes(bomb))
    assert face.to_pil().size == SIZE


def test_source_over_the_decoding_budget_in_another_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    Image.new("L", (2100, 2000)).save(path)  # 4.2 million pixels: PNG cannot be decoded at a reduced size
    with pytest.raises(LimitExceeded) as caught:
        normalise_portrait(path)
    assert caught.value.budget == "MAX_DECODED_PIXELS" and str(path) in caught.value.what
