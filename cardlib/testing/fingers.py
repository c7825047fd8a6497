"""Deterministic synthetic fingerprints: ridge patterns drawn from a seed, so no real person's finger is ever on a
sample card.

Each image is an 8-bit grey 500 ppi impression: sinusoidal ridges around a core (a loop or a whorl, with a
seed-chosen ridge spacing, orientation and warp) inside an elliptical fingertip, on a white background.  The same
seed gives the same pixels; :func:`synthetic_finger_wsq` compresses it as DG3 stores it.  :func:`write_samples`
makes the index fingers of cardtool's sample residents (``tools/cardtool/samples/fingers``).
"""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path

from PIL import Image

from cardlib.lds.dg3 import encode_wsq
from cardlib.testing.samples import write_samples_command

WIDTH, HEIGHT = 256, 320
"""About 13 × 16 mm at 500 ppi: a plain index-finger impression."""
RESOLUTION_PPI = 500
SAMPLE_COUNT = 8
"""Sample residents shipped with cardtool (``tools/cardtool/samples``)."""


def synthetic_finger(seed: int) -> Image.Image:
    """A WIDTH × HEIGHT grey ("L") ridge pattern, the same for the same ``seed``."""
    rng = random.Random(seed)
    core_x, core_y = WIDTH / 2 + rng.uniform(-20, 20), HEIGHT * rng.uniform(0.4, 0.55)
    period = rng.uniform(8.5, 11.0)  # ridge spacing in pixels (about 0.45 mm at 500 ppi)
    warp, whorl = rng.uniform(0.15, 0.35), rng.random() < 0.4
    tilt = rng.uniform(-0.3, 0.3)
    half_w, half_h = WIDTH * 0.42, HEIGHT * 0.46
    pixels = bytearray(WIDTH * HEIGHT)
    for y in range(HEIGHT):
        for x in range(WIDTH):
            dx, dy = x - core_x, y - core_y
            if ((x - WIDTH / 2) / half_w) ** 2 + ((y - HEIGHT / 2) / half_h) ** 2 > 1:
                pixels[y * WIDTH + x] = 255
                continue
            radius = math.hypot(dx, dy * (1.0 if whorl else 0.6))
            angle = math.atan2(dy, dx) + tilt
            phase = radius + warp * period * math.sin(2 * angle) + (0 if whorl else 0.35 * dy)
            ridge = 0.5 + 0.5 * math.sin(2 * math.pi * phase / period)
            pixels[y * WIDTH + x] = int(40 + 200 * ridge)
    return Image.frombytes("L", (WIDTH, HEIGHT), bytes(pixels))


def synthetic_finger_wsq(seed: int) -> bytes:
    """The synthetic finger of ``seed`` as a WSQ file at :data:`~cardlib.lds.dg3.WSQ_BITRATE`."""
    return encode_wsq(synthetic_finger(seed))


def write_samples(directory: Path, count: int = SAMPLE_COUNT) -> list[Path]:
    """Write ``r01-right-index.wsq``, ``r01-left-index.wsq`` … as the sample residents' index fingers; resident
    n's right index finger uses seed 2n - 1, the left one seed 2n."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(1, count + 1):
        for seed, hand in ((2 * number - 1, "right"), (2 * number, "left")):
            path = directory / f"r{number:02d}-{hand}-index.wsq"
            path.write_bytes(synthetic_finger_wsq(seed))
            paths.append(path)
    return paths


__all__ = ["HEIGHT", "RESOLUTION_PPI", "WIDTH", "synthetic_finger", "synthetic_finger_wsq", "write_samples"]

if __name__ == "__main__":
    sys.exit(write_samples_command(None, write_samples, "index fingers (WSQ)"))
