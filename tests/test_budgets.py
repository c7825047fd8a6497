"""Decoding budgets against the bombs of issue 10: image bombs in DG2, faces, and card folders that lie.

Each bomb is built here: a JPEG 2000 portrait whose SIZ marker (and JP2 header) declares 9400×9400 pixels in
a couple of hundred bytes, tiled and many-scan variants, and card folders whose files are a link to
/dev/zero or a FIFO.  Time and memory are measured in a child process (its own ``VmHWM``, read from
/proc as it exits) against the same command on the genuine card, so the bounds hold on a slower machine.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from PIL import Image

from cardlib.batch.checking import thumbnail
from cardlib.batch.engine import check_offline
from cardlib.batch.sources import iter_items
from cardlib.card.image import CardImage, CardImageError
from cardlib.errors import DecodeError
from cardlib.lds.dg2 import DG2
from cardlib.lds.face import FaceImage
from cardlib.lds.images import ImageFormat, decode_image, verify_image
from cardlib.limits import (
    MAX_DECODED_PIXELS,
    MAX_FACES_PER_DG2,
    MAX_FILE_BYTES,
    MAX_JPEG2000_TILES,
    MAX_JPEG_SCANS,
    LimitExceeded,
)
from cardlib.testing.cards import sample_card_image
from cardlib.testing.pki import sample_pki

BOMB_SIDE = 9400  # 88 million pixels: just under pillow's own warning limit, as in the issue
MAX_SECONDS = 5.0
MAX_EXTRA_BYTES = 200 * 2**20


def _saved(image: Image.Image, format: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format, **options)
    return out.getvalue()


def jpeg2000_bomb(side: int = BOMB_SIDE, *, tile: int | None = None, jp2: bool = True,
                  levels: int = 6) -> bytes:
    """A uniform 64×64 JPEG 2000 image whose headers are rewritten to declare ``side``×``side`` pixels.

    openjpeg decodes it as that large an image (the missing data decode as flat grey): 1.6 GB, 8 s.
    """
    small = Image.new("RGB", (64, 64), (120, 130, 140))
    data = bytearray(_saved(small, "JPEG2000", no_jp2=not jp2, irreversible=True, quality_mode="rates",
                            quality_layers=[100.0], num_resolutions=levels))
    if jp2:
        struct.pack_into(">II", data, data.index(b"ihdr") + 4, side, side)
    siz = data.index(b"\xff\x4f\xff\x51") + 8  # Xsiz Ysiz XOsiz YOsiz XTsiz YTsiz
    struct.pack_into(">IIIIII", data, siz, side, side, 0, 0, tile or side, tile or side)
    return bytes(data)


def progressive_jpeg(size: tuple[int, int] = (64, 64), *, extra_scans: int = 0) -> bytes:
    """A progressive JPEG; ``extra_scans`` repeats its last scan (each one walks the whole image again)."""
    data = _saved(Image.new("RGB", size, (120, 130, 140)), "JPEG", quality=10, progressive=True)
    last = data.rindex(b"\xff\xda")
    return data[:last] + data[last:-2] * (1 + extra_scans) + b"\xff\xd9"


def with_declared_size(jpeg: bytes, side: int) -> bytes:
    """``jpeg`` with its SOF marker declaring ``side``×``side`` pixels."""
    data = bytearray(jpeg)
    sof = max(data.find(b"\xff\xc0"), data.find(b"\xff\xc2"))
    struct.pack_into(">HH", data, sof + 5, side, side)
    return bytes(data)


def face(image: bytes) -> FaceImage:
    return FaceImage(image=image, format=ImageFormat.JPEG2000, width=BOMB_SIDE, height=BOMB_SIDE)


# -- images ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("jp2", [True, False], ids=["jp2", "j2k"])
def test_jpeg2000_bomb_decodes_at_a_reduced_resolution(jp2: bool) -> None:
    bomb = jpeg2000_bomb(jp2=jp2)
    assert len(bomb) < 500
    decoded = decode_image(bomb)
    assert decoded.width * decoded.height <= MAX_DECODED_PIXELS
    assert decoded.size == (BOMB_SIDE // 8, BOMB_SIDE // 8)  # three resolution levels dropped
    assert verify_image(bomb) == (BOMB_SIDE, BOMB_SIDE)  # the verifier still sees the declared size


def test_large_baseline_jpeg_decodes_at_a_dct_scale() -> None:
    jpeg = _saved(Image.new("RGB", (3000, 2000), (90, 60, 30)), "JPEG", quality=50)
    assert decode_image(jpeg).size == (1500, 1000)
    assert verify_image(jpeg) == (3000, 2000)


@pytest.mark.parametrize(("bomb", "budget"), [
    (lambda: jpeg2000_bomb(10_001), "MAX_DECLARED_PIXELS"),
    (lambda: jpeg2000_bomb(20_000), "MAX_DECLARED_PIXELS"),  # pillow refuses it first: named as ours
    (lambda: jpeg2000_bomb(2000, tile=8), "MAX_JPEG2000_TILES"),
    (lambda: jpeg2000_bomb(3000, levels=1), "MAX_DECODED_PIXELS"),  # no resolution level to drop
    (lambda: with_declared_size(progressive_jpeg(), 9400), "MAX_DECODED_PIXELS"),  # progressive: all in memory
    (lambda: progressive_jpeg(extra_scans=MAX_JPEG_SCANS), "MAX_JPEG_SCANS"),
], ids=["declared", "declared-pillow", "tiles", "no-levels", "progressive", "scans"])
def test_image_over_a_budget_is_refused_before_decoding(bomb: Callable[[], bytes], budget: str) -> None:
    image = bomb()
    started = time.perf_counter()
    with pytest.raises(LimitExceeded) as caught:
        verify_image(image)
    assert caught.value.budget == budget and "DG2 image" in str(caught.value)
    with pytest.raises(LimitExceeded):
        decode_image(image)
    assert time.perf_counter() - started < 1.0


def test_repeated_scans_of_a_sequential_jpeg_are_refused_by_the_decoder_at_once() -> None:
    # A baseline JPEG whose one scan holds every component is one scan to the budget: libjpeg expects EOI after it
    # and refuses any further SOS, so the repeated scans of a progressive bomb cost nothing here.
    baseline = _saved(Image.new("RGB", (256, 256), (120, 130, 140)), "JPEG", quality=90)
    scan = baseline.rindex(b"\xff\xda")
    repeated = baseline[:scan] + baseline[scan:-2] * (10 * MAX_JPEG_SCANS) + b"\xff\xd9"
    started = time.perf_counter()
    with pytest.raises(DecodeError):
        verify_image(repeated)
    assert time.perf_counter() - started < 1.0
    assert verify_image(baseline) == (256, 256)


def test_limits_on_tiles_and_scans_leave_genuine_encoders_alone() -> None:
    tiled = _saved(Image.new("RGB", (512, 512), (1, 2, 3)), "JPEG2000", tile_size=(64, 64))
    assert decode_image(tiled).size == (512, 512) and MAX_JPEG2000_TILES >= (512 // 64) ** 2
    assert decode_image(progressive_jpeg((300, 400))).size == (300, 400)


def test_jp2_header_disagreeing_with_its_codestream_is_refused() -> None:
    bomb = bytearray(jpeg2000_bomb())
    struct.pack_into(">II", bomb, bomb.index(b"ihdr") + 4, 64, 64)  # the box says 64×64, SIZ 9400×9400
    with pytest.raises(DecodeError, match="JP2 header declares 64x64, the codestream 9400x9400"):
        verify_image(bytes(bomb))


def test_jp2_without_header_box_is_a_decode_error() -> None:
    bomb = jpeg2000_bomb()
    with pytest.raises(DecodeError, match="jp2h"):
        decode_image(bomb.replace(b"jp2h", b"xxxx"))


def test_pillow_global_limit_is_left_alone() -> None:
    before = Image.MAX_IMAGE_PIXELS
    decode_image(jpeg2000_bomb())
    assert before == Image.MAX_IMAGE_PIXELS


# -- faces -------------------------------------------------------------------------------------------------


def test_too_many_faces_are_refused_before_any_image_is_decoded() -> None:
    dg2 = DG2([face(jpeg2000_bomb())] * (MAX_FACES_PER_DG2 + 2)).encode()
    with pytest.raises(LimitExceeded, match=r"DG2 face images: over the MAX_FACES_PER_DG2 budget of 4 \(6 found\)"):
        DG2.decode(dg2)
    assert len(DG2.decode(DG2([face(jpeg2000_bomb())] * MAX_FACES_PER_DG2).encode()).faces) == MAX_FACES_PER_DG2


def test_thumbnail_of_a_bomb_is_bounded() -> None:
    assert thumbnail(DG2([face(jpeg2000_bomb())]).encode())


# -- the attacks, end to end through the command line, measured in a child process ------------------


@cache
def dumps(root: Path) -> dict[str, Path]:
    """The genuine dump, and dumps whose DG2 holds one, four or six 9400×9400 faces (hashes fail)."""
    genuine = sample_card_image(0).dump()
    (root / "csca.pem").write_bytes(sample_pki().csca_certificate.public_bytes(serialization.Encoding.PEM))
    folders = {"genuine": root / "genuine"}
    genuine.save(folders["genuine"])
    for count in (1, MAX_FACES_PER_DG2, MAX_FACES_PER_DG2 + 2):
        folders[f"faces{count}"] = root / f"faces{count}"
        files = {**genuine.files, "DG2": DG2([face(jpeg2000_bomb())] * count).encode()}
        CardImage(files, None, f"faces{count}").save(folders[f"faces{count}"])
    return folders


@pytest.fixture(scope="module")
def attack_dumps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return dumps(tmp_path_factory.mktemp("bombs"))


# The child reports its own peak resident set size (VmHWM, kilobytes) as its last line.  Not ru_maxrss: Linux
# keeps that across execve, so a child of a large pytest process would report the parent's peak.
CHILD = """
import sys
from cardtool.main import main
try:
    status = main(sys.argv[1:])
finally:
    with open("/proc/self/status") as status_file:
        peak = next(line.split()[1] for line in status_file if line.startswith("VmHWM:"))
    print(f"\\npeak-rss-kb {peak}", file=sys.stderr)
sys.exit(status)
"""


def run_measured(*arguments: str, timeout: float = 60.0) -> tuple[int, float, int, str]:
    """Run ``cardtool`` in a child: exit status, wall seconds, peak RSS in bytes, stdout + stderr.

    A child that does not finish within ``timeout`` (a hang) is killed and fails the test.
    """
    started = time.perf_counter()
    child = subprocess.run([sys.executable, "-c", CHILD, *arguments], capture_output=True, text=True,
                           timeout=timeout, check=False)
    elapsed = time.perf_counter() - started
    output, _, peak = (child.stdout + child.stderr).rpartition("peak-rss-kb ")
    return child.returncode, elapsed, int(peak) * 1024, output.strip()


def verify_measured(folder: Path, trust: Path) -> tuple[int, float, int, str]:
    return run_measured("verify", str(folder), "--trust", str(trust))


@pytest.mark.parametrize("count", [1, MAX_FACES_PER_DG2])
def test_verify_of_a_portrait_bomb_stays_within_time_and_memory(attack_dumps: dict[str, Path], count: int) -> None:
    trust = attack_dumps["genuine"].parent / "csca.pem"
    _, base_seconds, base_bytes, _ = verify_measured(attack_dumps["genuine"], trust)
    status, seconds, peak, output = verify_measured(attack_dumps[f"faces{count}"], trust)
    assert status == 1 and "hash.DG2" in output and "Traceback" not in output
    assert seconds - base_seconds < MAX_SECONDS, f"{seconds:.1f} s against {base_seconds:.1f} s for the genuine card"
    assert peak - base_bytes < MAX_EXTRA_BYTES, f"{peak >> 20} MB against {base_bytes >> 20} MB"


def test_verify_of_six_faces_refuses_the_dg2(attack_dumps: dict[str, Path]) -> None:
    trust = attack_dumps["genuine"].parent / "csca.pem"
    status, seconds, _, output = verify_measured(attack_dumps[f"faces{MAX_FACES_PER_DG2 + 2}"], trust)
    assert status == 1 and "MAX_FACES_PER_DG2" in output and "VALID:" not in output.replace("INVALID:", "")
    assert seconds < 3 * MAX_SECONDS


def test_qa_checks_a_bomb_and_shows_its_thumbnail(attack_dumps: dict[str, Path]) -> None:
    trust = attack_dumps["genuine"].parent / "csca.pem"
    [checked] = check_offline(iter_items(attack_dumps["faces1"]), (str(trust),), datetime.now(UTC), workers=1)
    assert checked.outcome.verdict == "invalid" and checked.outcome.thumbnail


# -- card folders that lie ------------------------------------------------------------------------------------


def hostile_folder(root: Path, genuine: Path, name: str, kind: str) -> Path:
    """A copy of ``genuine`` whose ``name`` is a link to /dev/zero or a FIFO."""
    folder = root / f"{kind}-{name}"
    folder.mkdir()
    for file in genuine.iterdir():
        (folder / file.name).write_bytes(file.read_bytes())
    (folder / name).unlink()
    if kind == "zero":
        (folder / name).symlink_to("/dev/zero")
    else:
        os.mkfifo(folder / name)
    return folder


@pytest.mark.parametrize(("name", "kind", "message"), [
    ("DG2.bin", "zero", "a symbolic link, refused"),
    ("DG1.bin", "fifo", "a FIFO, refused"),
])
@pytest.mark.parametrize("manifest", [True, False], ids=["card-image", "foreign"])
def test_card_folder_with_a_device_or_fifo_is_a_typed_error_at_once(
        attack_dumps: dict[str, Path], tmp_path: Path, name: str, kind: str, message: str, manifest: bool) -> None:
    folder = hostile_folder(tmp_path, attack_dumps["genuine"], name, kind)
    if not manifest:
        (folder / "card.json").unlink()
    started = time.perf_counter()
    with pytest.raises(CardImageError, match=message):
        CardImage.load(folder)
    assert time.perf_counter() - started < 1.0


def test_cardtool_verify_reports_them_without_a_traceback(attack_dumps: dict[str, Path], tmp_path: Path) -> None:
    trust = attack_dumps["genuine"].parent / "csca.pem"
    for name, kind in (("DG2.bin", "zero"), ("DG1.bin", "fifo")):
        folder = hostile_folder(tmp_path, attack_dumps["genuine"], name, kind)
        status, seconds, peak, output = run_measured("verify", str(folder), "--trust", str(trust), timeout=20)
        assert status == 2 and output.startswith(f"cardtool verify: {folder / name}: ") and "Traceback" not in output
        assert seconds < MAX_SECONDS and peak < MAX_EXTRA_BYTES


def test_qa_records_hostile_folders_as_errors_and_keeps_going(attack_dumps: dict[str, Path], tmp_path: Path) -> None:
    batch = tmp_path / "batch"
    batch.mkdir()
    hostile_folder(batch, attack_dumps["genuine"], "DG2.bin", "zero")
    hostile_folder(batch, attack_dumps["genuine"], "DG1.bin", "fifo")
    oversized = hostile_folder(batch, attack_dumps["genuine"], "DG3.bin", "fifo")
    (oversized / "DG3.bin").unlink()
    with (oversized / "DG3.bin").open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)  # sparse: costs no disk
    (batch / "genuine").symlink_to(attack_dumps["genuine"])  # the card folder itself may be a link
    trust = attack_dumps["genuine"].parent / "csca.pem"
    results = {checked.outcome.label: checked.outcome for checked in
               check_offline(iter_items(batch), (str(trust),), datetime.now(UTC), workers=1)}
    assert results["genuine"].verdict == "valid"
    assert {label: outcome.verdict for label, outcome in results.items() if label != "genuine"} == {
        "zero-DG2.bin": "error", "fifo-DG1.bin": "error", "fifo-DG3.bin": "error"}
    assert "MAX_FILE_BYTES" in results["fifo-DG3.bin"].summary
