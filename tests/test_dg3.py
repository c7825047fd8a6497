"""DG3 (ISO/IEC 19794-4 finger records): the BSI 2008 specimen, synthetic fingers, malformed records."""

from __future__ import annotations

import io
import random
import struct
from pathlib import Path

import pytest

from cardlib.errors import CardlibError, DecodeError, EncodeError
from cardlib.lds.cbeff import BiometricHeader, encode_group
from cardlib.lds.dg3 import DG3, Compression, FingerImage, FingerPosition, decode_record, encode_record, encode_wsq
from cardlib.lds.tlv import encode_tlv
from cardlib.limits import MAX_FINGERS_PER_DG3, LimitExceeded
from cardlib.testing.fingers import HEIGHT, WIDTH, synthetic_finger, synthetic_finger_wsq, write_samples

BSI_DG3 = Path(__file__).resolve().parents[2] / "shared" / "data" / "bsi2008" / "Datagroup3.bin"


def test_bsi_specimen_dg3_decodes_reencodes_and_its_wsq_images_decode() -> None:
    data = BSI_DG3.read_bytes()
    dg3 = DG3.decode(data)
    assert [finger.position for finger in dg3.fingers] == [FingerPosition.RIGHT_INDEX, FingerPosition.LEFT_INDEX]
    assert {(f.compression, f.width, f.height, f.resolution, f.quality) for f in dg3.fingers} == {
        (Compression.WSQ, 620, 620, 500, 100)}
    assert [f.header.subtype for f in dg3.fingers] == [bytes([f.position.cbeff_subtype]) for f in dg3.fingers]
    assert dg3.encode() == data
    image = dg3.fingers[0].to_pil()
    assert image.size == (620, 620) and image.mode == "L"


def _fingers() -> tuple[FingerImage, ...]:
    return tuple(FingerImage.for_finger(synthetic_finger_wsq(seed), Compression.WSQ, position, WIDTH, HEIGHT)
                 for seed, position in ((1, FingerPosition.RIGHT_INDEX), (2, FingerPosition.LEFT_INDEX)))


def test_synthetic_fingers_round_trip() -> None:
    assert synthetic_finger(7).tobytes() == synthetic_finger(7).tobytes() != synthetic_finger(8).tobytes()
    dg3 = DG3(_fingers())
    decoded = DG3.decode(dg3.encode())
    assert decoded == dg3
    assert decoded.fingers[1].to_pil().size == (WIDTH, HEIGHT)


def test_empty_dg3_is_the_protected_placeholder() -> None:
    assert DG3(()).encode() == bytes.fromhex("63067F6103020100")  # what perso writes without fingers
    assert DG3.decode(DG3(()).encode()).fingers == ()


def test_jpeg2000_fingers_are_supported() -> None:
    buffer = io.BytesIO()
    synthetic_finger(3).save(buffer, "JPEG2000", irreversible=True, quality_mode="rates", quality_layers=[20])
    finger = FingerImage.for_finger(buffer.getvalue(), Compression.JPEG2000, FingerPosition.RIGHT_INDEX, WIDTH,
                                    HEIGHT)
    assert DG3.decode(DG3((finger,)).encode()).fingers[0].to_pil().size == (WIDTH, HEIGHT)


def test_malformed_records_are_named() -> None:
    record = encode_record(_fingers()[0])
    cases = {
        "version": record[:4] + b"020\x00" + record[8:],
        "record length": record[:-1],
        "compression": record[:29] + b"\x09" + record[30:],
        "finger position": record[:36] + b"\x0d" + record[37:],
        "finger image length": record[:32] + struct.pack(">I", len(record)) + record[36:],
        "finger record": b"\xa1\x00",
    }
    for field, broken in cases.items():
        with pytest.raises(DecodeError) as caught:
            decode_record(broken)
        assert caught.value.field == field, field
    with pytest.raises(DecodeError, match="39794-4"):
        decode_record(b"\xa1\x03\x01\x02\x03")


def test_errors_inside_dg3_point_into_the_file() -> None:
    data = DG3(_fingers()[:1]).encode()
    position = data.index(b"FIR\x00") + 4
    with pytest.raises(DecodeError) as caught:
        DG3.decode(data[:position] + b"999" + data[position + 3 :])
    assert (caught.value.file, caught.value.field, caught.value.offset) == ("DG3", "version", position)


def test_too_many_fingers_are_refused_before_any_image() -> None:
    record = bytearray(encode_record(_fingers()[0]))
    record[18] = MAX_FINGERS_PER_DG3 + 1
    with pytest.raises(LimitExceeded, match="MAX_FINGERS_PER_DG3"):
        decode_record(bytes(record))


def test_corrupt_image_fails_only_when_decoded() -> None:
    finger = FingerImage.for_finger(b"\xff\xa0" + bytes(40), Compression.WSQ, FingerPosition.LEFT_INDEX, 10, 10)
    decoded = DG3.decode(DG3((finger,)).encode()).fingers[0]
    with pytest.raises(DecodeError):
        decoded.to_pil()


SAMPLE_FINGERS = Path(__file__).resolve().parents[1] / "tools" / "cardtool" / "samples" / "fingers"


def test_committed_sample_fingers_are_what_write_samples_makes(tmp_path: Path) -> None:
    written = write_samples(tmp_path, count=1)
    assert [path.name for path in written] == ["r01-right-index.wsq", "r01-left-index.wsq"]
    assert [path.read_bytes() for path in written] == [(SAMPLE_FINGERS / path.name).read_bytes() for path in written]
    committed = sorted(SAMPLE_FINGERS.iterdir())
    assert len(committed) == 16 and all(4_000 < path.stat().st_size < 12_000 for path in committed)
    assert synthetic_finger_wsq(16) == (SAMPLE_FINGERS / "r08-left-index.wsq").read_bytes()


def test_encode_wsq_makes_grey_wsq_that_decodes_close_to_the_source() -> None:
    source = synthetic_finger(5)
    wsq = encode_wsq(source.convert("RGB"))  # colour in, grey WSQ out
    assert wsq.startswith(b"\xff\xa0")
    finger = FingerImage.for_finger(wsq, Compression.WSQ, FingerPosition.RIGHT_INDEX, WIDTH, HEIGHT)
    decoded = finger.to_pil()
    assert (decoded.mode, decoded.size) == ("L", (WIDTH, HEIGHT))
    error = sum(abs(a - b) for a, b in zip(decoded.tobytes(), source.tobytes(), strict=True)) / (WIDTH * HEIGHT)
    assert error < 12  # lossy, but the ridges are there (they swing 40..240)


def test_a_header_error_in_dg3_names_dg3() -> None:
    data = DG3(_fingers()[:1]).encode()
    at = data.index(b"\x87\x02\x01\x01")  # the format owner, mandatory in the biometric header
    broken = data[:at] + b"\x84\x02\x01\x01" + data[at + 4 :]
    with pytest.raises(DecodeError) as caught:
        DG3.decode(broken)
    assert (caught.value.file, caught.value.field) == ("DG3", "biometric header template")


def test_template_count_and_block_are_checked_by_the_shared_walk() -> None:
    data = bytearray(DG3(_fingers()).encode())
    count_at = data.index(b"\x02\x01\x02")
    data[count_at + 2] = 3
    with pytest.raises(DecodeError, match="count says 3 templates, 2 present") as caught:
        DG3.decode(bytes(data))
    assert (caught.value.file, caught.value.field, caught.value.offset) == ("DG3", "count", count_at)
    header = BiometricHeader(format_type=0x0007, biometric_type=b"\x08")
    no_block = encode_tlv(0x63, encode_tlv(0x7F61, encode_tlv(0x02, b"\x01") + encode_tlv(0x7F60, header.encode())))
    with pytest.raises(DecodeError, match=r"biometric data block \(5F2E\) missing"):
        DG3.decode(no_block)
    with pytest.raises(EncodeError, match="one-byte count"):
        encode_group(0x63, [(header, b"")] * 256)


def test_more_than_the_budget_of_templates_is_refused_before_any_record() -> None:
    header = BiometricHeader(format_type=0x0007, biometric_type=b"\x08")
    templates = [(header, b"not even a record")] * (MAX_FINGERS_PER_DG3 + 1)
    with pytest.raises(LimitExceeded, match="MAX_FINGERS_PER_DG3"):
        DG3.decode(encode_group(0x63, templates))


def test_mutated_wsq_images_fail_only_with_cardlib_errors() -> None:
    """The wsq plugin fails on garbage with any exception (UnboundLocalError seen); cardlib names it DecodeError."""
    wsq = synthetic_finger_wsq(3)
    rng = random.Random(1)
    failures: set[str] = set()
    for _ in range(60):
        mutated = bytearray(wsq)
        for _ in range(rng.randint(1, 8)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        finger = FingerImage.for_finger(bytes(mutated[: rng.randint(2, len(mutated))]), Compression.WSQ,
                                        FingerPosition.RIGHT_INDEX, WIDTH, HEIGHT)
        try:
            finger.to_pil().close()
        except CardlibError as error:
            failures.add(type(error).__name__)
    assert failures <= {"DecodeError", "LimitExceeded"} and failures
