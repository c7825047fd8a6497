"""The conformance of DG3, the fingers (BSI TR-03105 LDS_D): ``lds.dg3.*``.

DG3 is protected by Extended Access Control: a chip gives it only to a terminal that passed Terminal
Authentication with the right to read it, so a dump without DG3 is the normal case and every ``lds.dg3`` check
is NOT_APPLICABLE ("not read"), never a failure.  A DG3 that was read holds ISO/IEC 19794-4 finger records,
whose images are decoded within the budgets of :mod:`cardlib.limits` (WSQ only by its header).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from cardlib.errors import DecodeError
from cardlib.lds.cbeff import FORMAT_OWNER_ISO_SC37
from cardlib.lds.dg3 import BIOMETRIC_TYPE_FINGER, FORMAT_TYPE_19794_4, Compression, FingerImage, FingerPosition
from cardlib.limits import MAX_DG3_DECODED_PIXELS, MAX_FINGER_SIDE, LimitExceeded
from cardlib.verify.decoded import DecodedLDS, decoded_check, skipped_checks, worst_check
from cardlib.verify.decoded import conformance_result as _result
from cardlib.verify.report import CheckResult, Status

DG3_CHECKS = ("lds.dg3.records", "lds.dg3.positions", "lds.dg3.image", "lds.dg3.size")
DG3_NOT_READ = ("DG3 was not read: the chip gives the fingerprints only after Terminal Authentication with the right "
                "to read DG3 (EAC), which this read did not have")
CCCD_FINGERS = (FingerPosition.RIGHT_INDEX, FingerPosition.LEFT_INDEX)
"""The fingers the CCCD's DG3 holds (shared docs, "Files on the chip")."""
_FINGER_MAGIC = {Compression.WSQ: (b"\xff\xa0",), Compression.JPEG: (b"\xff\xd8",), Compression.PNG: (b"\x89PNG",),
                 Compression.JPEG2000: (b"\x00\x00\x00\x0cjP  ", b"\xff\x4f\xff\x51")}
"""How an image of each compression the record may declare starts (WSQ SOI, JPEG SOI, PNG, JP2 or J2K)."""


def dg3_checks(lds: DecodedLDS) -> list[CheckResult]:
    """DG3 decodes; its records are finger records (CBEFF type, format 19794-4) at distinct finger positions; each
    image decodes within the budgets at the size its record declares.  A DG3 not read is NOT_APPLICABLE."""
    results = [decoded_check("lds.dg3", "DG3", lds, lds.dg3)]
    if results[0].status is Status.NOT_APPLICABLE:  # absent: kept behind Terminal Authentication
        return [_result(check_id, Status.NOT_APPLICABLE, DG3_NOT_READ) for check_id in ("lds.dg3", *DG3_CHECKS)]
    if lds.dg3 is None:
        return results + skipped_checks(DG3_CHECKS, lds, "DG3")
    fingers = lds.dg3.fingers
    if not fingers:
        return results + [_result(check_id, Status.NOT_APPLICABLE, "DG3 holds no finger image (none was enrolled)")
                          for check_id in DG3_CHECKS]
    decoded = list(zip(fingers, _fingersdecoded_check(fingers), strict=True))
    return [*results, _dg3_records(fingers), _dg3_positions(fingers),
            worst_check("lds.dg3.image", [_finger_image(finger, pixels) for finger, pixels in decoded]),
            worst_check("lds.dg3.size", [_finger_size(finger, pixels) for finger, pixels in decoded])]


def _finger_name(finger: FingerImage) -> str:
    return finger.position.name.lower().replace("_", " ")


def _hex(value: bytes | None) -> str:
    return value.hex() if value else "none"


def _dg3_records(fingers: tuple[FingerImage, ...]) -> CheckResult:
    """Each biometric header says finger (CBEFF type 08) and ISO/IEC 19794-4 (format owner 0101, type 0007)."""
    wrong = [f"{_finger_name(finger)}: header says biometric type {_hex(header.biometric_type)}, format "
             f"{header.format_owner:04X}/{header.format_type:04X}" for finger in fingers
             if (header := finger.header).biometric_type != bytes([BIOMETRIC_TYPE_FINGER])
             or (header.format_owner, header.format_type) != (FORMAT_OWNER_ISO_SC37, FORMAT_TYPE_19794_4)]
    if wrong:
        return _result("lds.dg3.records", Status.FAIL,
                       f"{'; '.join(wrong)}, not a finger record in ISO/IEC 19794-4 (type 08, format 0101/0007)")
    return _result("lds.dg3.records", Status.PASS, f"{len(fingers)} ISO/IEC 19794-4 finger record(s)")


def _dg3_positions(fingers: tuple[FingerImage, ...]) -> CheckResult:
    """FAIL for a finger given twice; WARN for a CBEFF subtype that disagrees with the record's finger position,
    or for fingers other than the two index fingers the CCCD keeps."""
    positions = [finger.position for finger in fingers]
    twice = sorted({_finger_name(finger) for finger in fingers if positions.count(finger.position) > 1})
    if twice:
        return _result("lds.dg3.positions", Status.FAIL, f"the {', '.join(twice)} finger comes more than once")
    subtypes = [f"{_finger_name(finger)}: CBEFF subtype {_hex(finger.header.subtype)}, "
                f"expected {finger.position.cbeff_subtype:02x}" for finger in fingers
                if finger.header.subtype != bytes([finger.position.cbeff_subtype])]
    if subtypes:
        return _result("lds.dg3.positions", Status.WARN, "; ".join(subtypes))
    named = ", ".join(_finger_name(finger) for finger in fingers)
    if tuple(sorted(positions)) != CCCD_FINGERS:
        return _result("lds.dg3.positions", Status.WARN, f"fingers {named}: the CCCD keeps the two index fingers")
    return _result("lds.dg3.positions", Status.PASS, f"fingers {named}")


_Decoded = tuple[int, int] | DecodeError | LimitExceeded


def _fingersdecoded_check(fingers: tuple[FingerImage, ...]) -> list[_Decoded]:
    """Each decoded finger image's width and height, or why it was not decoded: its header is unreadable, it is
    over a budget, or the images declare more than MAX_DG3_DECODED_PIXELS together (then none is decoded)."""
    declared = [_attempt(finger.declared_size) for finger in fingers]
    total = sum(size[0] * size[1] for size in declared if isinstance(size, tuple))
    if total > MAX_DG3_DECODED_PIXELS:
        refused = LimitExceeded("MAX_DG3_DECODED_PIXELS", "DG3 finger images together", MAX_DG3_DECODED_PIXELS, total)
        return [refused] * len(fingers)
    return [_attempt(partial(_decoded_size, finger)) if isinstance(size, tuple) and _decodes_in_part(finger)
            else size for finger, size in zip(fingers, declared, strict=True)]


def _decodes_in_part(finger: FingerImage) -> bool:
    """Whether checking that the image decodes is cheap: JPEG and JPEG 2000 decode at a reduced size.

    WSQ decodes only whole (about 50 ms a finger here, 40 times a card's cryptography), so a WSQ image is
    checked by its header; EF.SOD's hash is what proves its bytes.
    """
    return finger.compression is not Compression.WSQ


def _decoded_size(finger: FingerImage) -> tuple[int, int]:
    with finger.to_pil() as image:
        return image.size


def _attempt(size: Callable[[], tuple[int, int]]) -> _Decoded:
    try:
        return size()
    except (DecodeError, LimitExceeded) as error:
        return error


def _finger_image(finger: FingerImage, pixels: _Decoded) -> tuple[Status, str]:
    """FAIL when the image does not decode or is over a budget; WARN when it is not what the record declares."""
    name, declared = _finger_name(finger), finger.compression.name
    if isinstance(pixels, DecodeError):
        return Status.FAIL, f"{name}: {declared} image does not decode ({pixels.reason})"
    if isinstance(pixels, LimitExceeded):
        return Status.FAIL, f"{name}: image refused undecoded ({pixels})"
    if not finger.image.startswith(_FINGER_MAGIC.get(finger.compression, ())):
        return Status.WARN, f"{name}: the record declares {declared}, the image decodes as another format"
    if not _decodes_in_part(finger):
        return Status.PASS, f"{name}: {declared} header reads (WSQ decodes only whole, so it is not decoded here)"
    return Status.PASS, f"{name}: {declared} image decodes"


def _finger_size(finger: FingerImage, pixels: _Decoded) -> tuple[Status, str]:
    name = _finger_name(finger)
    if not isinstance(pixels, tuple):
        return Status.NOT_APPLICABLE, f"{name}: image not decoded (see lds.dg3.image)"
    width, height = pixels
    if max(width, height) > MAX_FINGER_SIDE:
        return Status.FAIL, f"{name}: {width}x{height} pixels, more than {MAX_FINGER_SIDE} per side"
    if (width, height) != (finger.width, finger.height):
        return Status.WARN, f"{name}: record declares {finger.width}x{finger.height}, image is {width}x{height}"
    return Status.PASS, f"{name}: {width}x{height} pixels at {finger.resolution} ppi as declared"
