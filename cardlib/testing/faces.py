"""Deterministic synthetic portraits: cartoon faces drawn with pillow, so no real person is ever on a sample card.

Every feature (background, skin and hair tone, head shape, eyes, nose, mouth, shoulders) is drawn from a
``random.Random(seed)``: the same seed gives the same pixels, so tests and benchmarks can make portraits on
demand and the committed samples can be regenerated with ``python -m cardlib.testing.faces DIR``.
"""

from __future__ import annotations

import io
import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from cardlib.testing.samples import write_samples_command

WIDTH, HEIGHT = 360, 480
SAMPLE_COUNT = 8
SAMPLE_QUALITY = 92

Colour = tuple[int, int, int]

SKIN_TONES: tuple[Colour, ...] = ((255, 224, 196), (241, 194, 160), (224, 172, 130), (198, 140, 100),
                                  (160, 110, 75), (120, 80, 55))
HAIR_TONES: tuple[Colour, ...] = ((25, 20, 20), (60, 40, 30), (100, 70, 40), (150, 120, 80), (180, 180, 180))
BACKGROUNDS: tuple[Colour, ...] = ((235, 238, 242), (222, 230, 240), (240, 240, 235), (215, 225, 235))
CLOTHES: tuple[Colour, ...] = ((40, 60, 110), (90, 90, 95), (230, 230, 230), (120, 40, 50), (40, 90, 70))


def _shade(colour: Colour, factor: float) -> Colour:
    r, g, b = (max(0, min(255, round(channel * factor))) for channel in colour)
    return r, g, b


def _draw_shoulders(draw: ImageDraw.ImageDraw, rng: random.Random, cx: int) -> None:
    clothes = rng.choice(CLOTHES)
    width = rng.randint(140, 175)
    draw.ellipse((cx - width, 380, cx + width, 640), fill=clothes)
    draw.polygon(((cx - 30, 382), (cx + 30, 382), (cx, 425)), fill=_shade(clothes, 0.8))


def _draw_head(draw: ImageDraw.ImageDraw, rng: random.Random, cx: int, skin: Colour, hair: Colour) -> tuple[int, int]:
    half_width, top, bottom = rng.randint(72, 88), rng.randint(112, 128), rng.randint(330, 350)
    neck = rng.randint(30, 40)
    draw.rectangle((cx - neck, bottom - 40, cx + neck, 395), fill=_shade(skin, 0.9))
    draw.ellipse((cx - half_width - 8, top - 18, cx + half_width + 8, top + 150), fill=hair)
    for side in (-1, 1):
        ear_x = cx + side * half_width
        draw.ellipse((ear_x - 14, 215, ear_x + 14, 260), fill=_shade(skin, 0.95))
    draw.ellipse((cx - half_width, top, cx + half_width, bottom), fill=skin)
    fringe = rng.randint(150, 175)
    draw.chord((cx - half_width - 4, top - 10, cx + half_width + 4, fringe + 40), 180, 360, fill=hair)
    return half_width, top


def _draw_features(draw: ImageDraw.ImageDraw, rng: random.Random, cx: int, skin: Colour, hair: Colour) -> None:
    eye_y, spacing = rng.randint(222, 234), rng.randint(30, 38)
    iris = rng.choice(((60, 40, 25), (30, 25, 20), (70, 90, 110)))
    for side in (-1, 1):
        ex = cx + side * spacing
        draw.ellipse((ex - 15, eye_y - 8, ex + 15, eye_y + 8), fill=(250, 250, 250))
        draw.ellipse((ex - 6, eye_y - 6, ex + 6, eye_y + 6), fill=iris)
        draw.ellipse((ex - 2, eye_y - 2, ex + 2, eye_y + 2), fill=(10, 10, 10))
        draw.line((ex - 16, eye_y - 18, ex + 16, eye_y - 20 + rng.randint(-2, 2)), fill=hair, width=4)
    nose_bottom = eye_y + rng.randint(45, 55)
    draw.line((cx, eye_y + 10, cx - 5, nose_bottom), fill=_shade(skin, 0.75), width=3)
    draw.line((cx - 5, nose_bottom, cx + 7, nose_bottom), fill=_shade(skin, 0.75), width=3)
    mouth_y, mouth_half = nose_bottom + rng.randint(25, 32), rng.randint(18, 26)
    draw.line((cx - mouth_half, mouth_y, cx + mouth_half, mouth_y), fill=(150, 70, 70), width=4)


def synthetic_portrait(seed: int) -> Image.Image:
    """A 360×480 RGB cartoon face, the same for the same ``seed``."""
    rng = random.Random(seed)
    skin, hair = rng.choice(SKIN_TONES), rng.choice(HAIR_TONES)
    image = Image.new("RGB", (WIDTH, HEIGHT), rng.choice(BACKGROUNDS))
    draw = ImageDraw.Draw(image)
    cx = WIDTH // 2 + rng.randint(-6, 6)
    _draw_shoulders(draw, rng, cx)
    _draw_head(draw, rng, cx, skin, hair)
    _draw_features(draw, rng, cx, skin, hair)
    return image.filter(ImageFilter.SMOOTH)


def synthetic_portrait_jpeg(seed: int, *, quality: int = SAMPLE_QUALITY) -> bytes:
    """The portrait for ``seed`` as baseline JPEG bytes (no EXIF), as a card sample would carry it."""
    out = io.BytesIO()
    synthetic_portrait(seed).save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def write_samples(directory: Path, count: int = SAMPLE_COUNT) -> list[Path]:
    """Write ``r01.jpg`` … as the sample residents' portraits; resident n uses seed n."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(1, count + 1):
        path = directory / f"r{number:02d}.jpg"
        path.write_bytes(synthetic_portrait_jpeg(number))
        paths.append(path)
    return paths


if __name__ == "__main__":
    sys.exit(write_samples_command(None, write_samples, "portraits (JPEG)"))
