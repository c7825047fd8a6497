"""LDS conformance: are the files of a card well-formed, in the spirit of BSI TR-03105 Part 5.1?

One named check per rule that matters, grouped like the TR-03105 test units: ``lds.com`` (LDS_A, EF.COM),
``lds.dg1`` (LDS_B, the MRZ and each of its check digits; ``lds.dg1.expiry`` says whether the card has
expired), ``lds.dg2`` (LDS_C, the face), ``lds.dg3`` (LDS_D, the fingers: ISO/IEC 19794-4 records), ``lds.dg13``
(the Vietnamese resident data, against the field table of ``cccd-chip.md``), ``lds.dg14`` (LDS_F), ``lds.dg15``
(LDS_I).  The DG3 checks live in :mod:`cardlib.verify.fingers`; the SOD and Document Signer rules of LDS_H in
:mod:`cardlib.verify.sod_conformance`, run next to the signature they concern.

EF.COM missing from a dump is a WARN (``lds.com``), for every LDS version: it is mandatory in LDS 1.7, the
CCCD's, and LDS 1.8 keeps it beside the SOD's own version info, so a complete dump has it; but a reader that
could not read it leaves a genuine card's dump without it, and the data groups are still proved by the SOD's
hashes, so its absence is no evidence of forgery (and FAIL would make a genuine card INVALID).

Each file is decoded once, by its own codec, into :class:`~cardlib.verify.decoded.DecodedLDS`; the
cross-checks and the holder summary reuse that.  A file that does not decode gives a FAIL naming the file, field
and offset, and the checks that needed its content become NOT_APPLICABLE pointing at that failure.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from cardlib.errors import DecodeError, ValidationError
from cardlib.lds.asn1 import ECPublicKeyInfo, RSAPublicKeyInfo
from cardlib.lds.dg13 import DG13, VERSION
from cardlib.lds.dg13_fields import CardKind, FieldNumber, field_table, is_no_expiry, parse_date
from cardlib.lds.face import FaceImage
from cardlib.lds.images import verify_image
from cardlib.lds.oids import ID_ISO10646_UTF8
from cardlib.limits import MAX_FACE_SIDE, LimitExceeded
from cardlib.model.mrz import MRZ, NO_EXPIRY, MRZFormat
from cardlib.model.resident import NO_EXPIRY_TEXT
from cardlib.model.vietnamese import foreign_characters, foreign_summary
from cardlib.verify.decoded import DecodedLDS, decoded_check, skipped_checks, worst_check
from cardlib.verify.decoded import conformance_result as _result
from cardlib.verify.fingers import dg3_checks
from cardlib.verify.holder import mrz_date
from cardlib.verify.report import CheckResult, Status

LDS_VERSIONS = ("0107", "0108")
EF_COM_MISSING = ("EF.COM is not in the dump, though LDS 1.7 (the CCCD's) makes it mandatory and LDS 1.8 keeps it: "
                  "the reader may have failed to read it; the data groups are still verified against the SOD, "
                  "but nothing confirms the SOD's list of data groups (com.sod_consistency)")
UNICODE_VERSION = "040000"
MIN_RSA_BITS = 1024
# A portrait narrower than this cannot hold the 90 pixels between the eyes ICAO 9303-9 asks for; wider than
# cardlib.limits.MAX_FACE_SIDE is no chip portrait at all (they are a few hundred pixels, a few tens of kilobytes).
MIN_FACE_PIXELS = 120
# Fields holding names: the holder (2), the parents (13), the spouse (14).
DG13_NAME_FIELDS = frozenset({FieldNumber.FULL_NAME, FieldNumber.PARENTS, FieldNumber.SPOUSE})
# The DG13 dates by field number, with the English label the field table gives them.
_DG13_DATES = {number: field_table(CardKind.CCCD_2021)[number].labels[0].en
               for number in (FieldNumber.DATE_OF_BIRTH, FieldNumber.DATE_OF_ISSUE, FieldNumber.DATE_OF_EXPIRY)}

# MRZ.check_digits() names → the stable check id of each digit.
CHECK_DIGIT_IDS = {
    "document number": "document_number",
    "date of birth": "date_of_birth",
    "date of expiry": "date_of_expiry",
    "optional data": "optional_data",
    "optional data (line 1 position 30)": "optional_data_line1",
    "composite": "composite",
}


# --- EF.COM (TR-03105 LDS_A) ----------------------------------------------------------------------------


def com_checks(lds: DecodedLDS) -> list[CheckResult]:
    """EF.COM is there and decodes (tag list holds data group tags only), LDS version 1.7/1.8, Unicode 4.0.0.

    EF.COM is not signed: an EF.COM that does not decode is a defect to report (WARN), not evidence against the
    signed data groups, which EF.SOD lists and proves on its own (as a missing EF.COM only warns).
    """
    absent = lds.com is None and "EF.COM" not in lds.errors and "EF.COM" not in lds.empty
    if "EF.COM" in lds.errors:
        results = [_result("lds.com", Status.WARN, f"EF.COM is malformed: {lds.errors['EF.COM']}; it is not "
                           "signed, so this proves nothing against the data groups EF.SOD lists")]
    else:
        results = [_com_missing() if absent else decoded_check("lds.com", "EF.COM", lds, lds.com)]
    com = lds.com
    if com is None:
        return results + skipped_checks(("lds.com.lds_version", "lds.com.unicode_version", "lds.com.tag_list"), lds,
                                  "EF.COM")
    version_ok = com.lds_version in LDS_VERSIONS
    results.append(_result("lds.com.lds_version", Status.PASS if version_ok else Status.FAIL,
                           f"LDS version {com.lds_version}" + ("" if version_ok else
                                                               f", expected one of {', '.join(LDS_VERSIONS)}")))
    unicode_ok = com.unicode_version == UNICODE_VERSION
    results.append(_result("lds.com.unicode_version", Status.PASS if unicode_ok else Status.FAIL,
                           f"Unicode version {com.unicode_version}" + ("" if unicode_ok else
                                                                       f", expected {UNICODE_VERSION}")))
    duplicates = sorted({n for n in com.data_groups if com.data_groups.count(n) > 1})
    if duplicates:
        results.append(_result("lds.com.tag_list", Status.FAIL,
                               f"tag list names {', '.join(f'DG{n}' for n in duplicates)} more than once"))
    else:
        listed = ", ".join(f"DG{n}" for n in com.data_groups) or "no data group"
        results.append(_result("lds.com.tag_list", Status.PASS, f"tag list: {listed}"))
    return results


def _com_missing() -> CheckResult:
    """``lds.com`` for a dump without EF.COM: WARN, whatever the LDS version (see the module docstring)."""
    return _result("lds.com", Status.WARN, EF_COM_MISSING)


# --- DG1 (TR-03105 LDS_B) -------------------------------------------------------------------------------


def dg1_checks(lds: DecodedLDS) -> list[CheckResult]:
    """DG1 decodes, is a TD1 ID card MRZ (document code I) or a TD3 passport, and every check digit verifies."""
    results = [decoded_check("lds.dg1", "DG1", lds, lds.dg1)]
    if lds.dg1 is None:
        return results + skipped_checks(["lds.dg1.document_type"], lds, "DG1")
    mrz = lds.dg1.mrz
    results.append(_document_type(mrz))
    for name, verifies in mrz.check_digits():
        check_id = f"lds.dg1.check_digit.{CHECK_DIGIT_IDS[name]}"
        if verifies:
            results.append(_result(check_id, Status.PASS, f"the {name} check digit verifies"))
        else:
            reason = f"the {name} check digit is wrong: the MRZ was mistyped or altered"
            results.append(_result(check_id, Status.FAIL, reason))
    return results


def document_expiry(lds: DecodedLDS, at: datetime) -> CheckResult:
    """``lds.dg1.expiry``: WARN when the card has expired at ``at`` (991231 means it never expires).

    An expired card is still a genuine one, so this never fails the verdict for the date itself; an expiry
    that is not a date at all fails.
    """
    if lds.dg1 is None:
        return _result("lds.dg1.expiry", Status.NOT_APPLICABLE, lds.unavailable("DG1"))
    printed = lds.dg1.mrz.date_of_expiry
    if printed == NO_EXPIRY:
        return _result("lds.dg1.expiry", Status.PASS, f"no expiry date ({NO_EXPIRY}, {NO_EXPIRY_TEXT})")
    expiry = mrz_date(printed, at.date(), future_years=50)
    if expiry is None:
        return _result("lds.dg1.expiry", Status.FAIL, f"date of expiry {printed!r} is not a YYMMDD date")
    if expiry < at.date():
        return _result("lds.dg1.expiry", Status.WARN,
                       f"the card expired on {expiry.isoformat()} (checked at {at.date().isoformat()}); "
                       "an expired card can still be genuine")
    return _result("lds.dg1.expiry", Status.PASS, f"valid until {expiry.isoformat()}")


def _document_type(mrz: MRZ) -> CheckResult:
    code, fmt = mrz.document_code, mrz.format.name
    if code.startswith("I") and mrz.format is MRZFormat.TD1:
        return _result("lds.dg1.document_type", Status.PASS, f"ID card ({code}) in TD1 format")
    if code.startswith("P") and mrz.format is MRZFormat.TD3:
        return _result("lds.dg1.document_type", Status.WARN,
                       f"a passport ({code}, TD3), not a CCCD: the ID-card rules do not apply")
    if code[:1] in ("I", "A", "C") and mrz.format is not MRZFormat.TD3:
        return _result("lds.dg1.document_type", Status.WARN, f"document code {code} in {fmt}: not a CCCD (ID, TD1)")
    return _result("lds.dg1.document_type", Status.FAIL,
                   f"document code {code!r} does not fit the {fmt} format (ICAO 9303-4/5/6)")


# --- DG2 (TR-03105 LDS_C) -------------------------------------------------------------------------------


def dg2_checks(lds: DecodedLDS) -> list[CheckResult]:
    """DG2 decodes, holds a face, whose image decodes as JPEG or JPEG 2000 at a sane, declared size."""
    results = [decoded_check("lds.dg2", "DG2", lds, lds.dg2)]
    if lds.dg2 is None:
        return results + skipped_checks(("lds.dg2.faces", "lds.dg2.image", "lds.dg2.size"), lds, "DG2")
    faces = lds.dg2.faces
    if not faces:
        return [*results, _result("lds.dg2.faces", Status.FAIL, "DG2 holds no face image"),
                _result("lds.dg2.image", Status.NOT_APPLICABLE, "no face image to decode"),
                _result("lds.dg2.size", Status.NOT_APPLICABLE, "no face image to measure")]
    results.append(_result("lds.dg2.faces", Status.PASS, f"{len(faces)} face image(s)"))
    opened = [(index, face, _pixel_size(face)) for index, face in enumerate(faces, 1)]
    results.append(worst_check("lds.dg2.image", [_image_check(index, face, size) for index, face, size in opened]))
    results.append(worst_check("lds.dg2.size", [_size_check(index, face, size) for index, face, size in opened]))
    return results


def _pixel_size(face: FaceImage) -> tuple[int, int] | DecodeError | LimitExceeded:
    """The decoded image's width and height, or why it was not decoded (pillow could not, or over a budget)."""
    try:
        size = verify_image(face.image)
    except (DecodeError, LimitExceeded) as error:
        return error
    return size


def _image_check(index: int, face: FaceImage, size: tuple[int, int] | DecodeError | LimitExceeded,
                 ) -> tuple[Status, str]:
    """FAIL when the image does not decode, or is over a decoding budget (no genuine portrait is: like an
    image that does not decode, it fails, and the verdict cannot be valid)."""
    detected = face.detected_format
    if detected is None:
        return Status.FAIL, f"face {index}: image is neither JPEG nor JPEG 2000"
    if isinstance(size, DecodeError):
        return Status.FAIL, f"face {index}: {detected.value} image does not decode ({size.reason})"
    if isinstance(size, LimitExceeded):
        return Status.FAIL, f"face {index}: {detected.value} image refused undecoded ({size})"
    if detected is not face.format:
        return Status.WARN, f"face {index}: record declares {face.format.value} but the image is {detected.value}"
    return Status.PASS, f"face {index}: {detected.value} image decodes"


def _size_check(index: int, face: FaceImage, size: tuple[int, int] | DecodeError | LimitExceeded,
                ) -> tuple[Status, str]:
    if not isinstance(size, tuple):
        return Status.NOT_APPLICABLE, f"face {index}: image not decoded (see lds.dg2.image)"
    width, height = size
    if not (MIN_FACE_PIXELS <= width <= MAX_FACE_SIDE and MIN_FACE_PIXELS <= height <= MAX_FACE_SIDE):
        return Status.FAIL, (f"face {index}: {width}x{height} pixels, outside {MIN_FACE_PIXELS}..{MAX_FACE_SIDE}"
                             " per side")
    if (width, height) != (face.width, face.height):
        return Status.WARN, f"face {index}: record declares {face.width}x{face.height}, image is {width}x{height}"
    return Status.PASS, f"face {index}: {width}x{height} pixels as declared"


# --- DG13 (CCCD resident data) --------------------------------------------------------------------------


def dg13_checks(lds: DecodedLDS) -> list[CheckResult]:
    """DG13 decodes with version 1 and the UTF-8 OID, the layout's fields present, string types per table, real dates,
    one value per field, and text in the Vietnamese alphabet."""
    results = [decoded_check("lds.dg13", "DG13", lds, lds.dg13)]
    dg13 = lds.dg13
    if dg13 is None:
        return results + skipped_checks(("lds.dg13.header", "lds.dg13.fields", "lds.dg13.types", "lds.dg13.dates",
                                   "lds.dg13.repeated", "lds.dg13.alphabet"), lds, "DG13")
    return [*results, _dg13_header(dg13), _dg13_fields(dg13), _dg13_types(dg13), _dg13_dates(dg13),
            _dg13_repeated(dg13), _dg13_alphabet(dg13)]


def _dg13_header(dg13: DG13) -> CheckResult:
    if dg13.version == VERSION and dg13.oid == ID_ISO10646_UTF8:
        return _result("lds.dg13.header", Status.PASS, f"version {VERSION}, character set {ID_ISO10646_UTF8}")
    return _result("lds.dg13.header", Status.WARN, f"version {dg13.version} and OID {dg13.oid}, real cards carry "
                   f"version {VERSION} and {ID_ISO10646_UTF8}")


def _dg13_fields(dg13: DG13) -> CheckResult:
    """Every field of the card kind's layout is there: FAIL without a required one (the resident record needs its
    value), WARN without an optional one (real cards carry those too, empty when unused)."""
    layout = field_table(dg13.kind)
    missing = [spec for number, spec in layout.items() if number not in dg13.fields]
    required = [str(spec.number) for spec in missing if spec.required]
    optional = [str(spec.number) for spec in missing if not spec.required]
    if required:
        also = f" (and optional {', '.join(optional)})" if optional else ""
        return _result("lds.dg13.fields", Status.FAIL, f"DG13 lacks required field(s) {', '.join(required)}{also}")
    if optional:
        return _result("lds.dg13.fields", Status.WARN, f"DG13 lacks optional field(s) {', '.join(optional)}, which "
                       "real cards carry (empty when unused)")
    return _result("lds.dg13.fields", Status.PASS, f"fields 1–{max(layout)} of the layout present")


def _dg13_types(dg13: DG13) -> CheckResult:
    """String types against the card kind's field table (cccd-chip.md; :data:`cardlib.lds.dg13_fields.FIELD_TABLES`)."""
    layout = field_table(dg13.kind)
    deviations = []
    for entry in dg13.entries:
        if entry.number not in layout:
            continue
        wanted = layout[entry.number].string_type
        for value in entry.values:
            for item in value if isinstance(value, tuple) else (value,):
                if item.string_type is not wanted:
                    deviations.append(f"field {entry.number} is {item.string_type.name}, usually {wanted.name}")
    if deviations:
        return _result("lds.dg13.types", Status.WARN, "; ".join(deviations))
    return _result("lds.dg13.types", Status.PASS, "string types as on real cards")


def _dg13_dates(dg13: DG13) -> CheckResult:
    parsed: dict[int, date] = {}
    problems = []
    for number, name in _DG13_DATES.items():
        text = dg13.text(number)
        if text is None or (number == FieldNumber.DATE_OF_EXPIRY and is_no_expiry(text)):
            continue
        try:
            parsed[number] = parse_date(text, name)
        except ValidationError as error:
            problems.append(f"field {number} ({name}): {error.reason}")
    if problems:
        return _result("lds.dg13.dates", Status.FAIL, "; ".join(problems))
    if 3 in parsed and 11 in parsed and parsed[11] < parsed[3]:
        return _result("lds.dg13.dates", Status.FAIL, "date of issue precedes the date of birth")
    if 11 in parsed and 12 in parsed and parsed[12] <= parsed[11]:
        return _result("lds.dg13.dates", Status.FAIL, "date of expiry is not after the date of issue")
    return _result("lds.dg13.dates", Status.PASS, "dates are real dd/mm/yyyy dates in order")


def _dg13_repeated(dg13: DG13) -> CheckResult:
    """FAIL for a field of the layout carrying several values, WARN for an unknown field doing so."""
    repeated = dg13.repeated
    if not repeated:
        return _result("lds.dg13.repeated", Status.PASS, "every field carries one value")
    described = [f"DG13 field {entry.number} holds {len(entry.texts)} values" for entry in repeated]
    if any(entry.number in field_table(dg13.kind) for entry in repeated):
        return _result("lds.dg13.repeated", Status.FAIL,
                       f"{'; '.join(described)}: the layout gives each one value, so the card says two things "
                       "(a reader showing the first hides the other)")
    return _result("lds.dg13.repeated", Status.WARN, f"{'; '.join(described)}, outside the known layout")


def _dg13_alphabet(dg13: DG13) -> CheckResult:
    """Names (2, 13, 14) in the Vietnamese alphabet, FAIL otherwise; other text WARN on foreign letters.

    A place of birth abroad may hold a foreign letter on a genuine card; a name cannot, since the MRZ, written
    from it, only has Vietnamese letters without their marks.
    """
    failures: list[str] = []
    warnings: list[str] = []
    for entry in dg13.entries:
        name = entry.number in DG13_NAME_FIELDS
        for text in entry.texts:
            foreign = foreign_characters(text, name=name)
            if foreign:
                (failures if name else warnings).append(f"field {entry.number}: {foreign_summary(foreign)}")
    if failures:
        return _result("lds.dg13.alphabet", Status.FAIL,
                       f"a name holds characters outside the Vietnamese alphabet: {'; '.join(failures + warnings)}")
    if warnings:
        return _result("lds.dg13.alphabet", Status.WARN, f"letters outside the Vietnamese alphabet: "
                       f"{'; '.join(warnings)}")
    return _result("lds.dg13.alphabet", Status.PASS, "all text is in the Vietnamese alphabet")


# --- DG14 and DG15 (TR-03105 LDS_F, LDS_I) ----------------------------------------------------------------


def dg14_checks(lds: DecodedLDS) -> list[CheckResult]:
    """DG14 decodes and carries a Chip Authentication public key (EC points are checked on their curve)."""
    decoded = decoded_check("lds.dg14", "DG14", lds, lds.dg14)
    if lds.dg14 is None:
        return [decoded, *skipped_checks(["lds.dg14.ca_key"], lds, "DG14")]
    keys = [info.public_key for info in lds.dg14.chip_authentication_public_key_infos]
    if not keys:
        return [decoded, _result("lds.dg14.ca_key", Status.FAIL, "DG14 has no ChipAuthenticationPublicKeyInfo")]
    described = [f"EC point on {key.curve.name}" if isinstance(key, ECPublicKeyInfo) else
                 f"DH key of {key.p.bit_length()} bits" for key in keys]
    return [decoded, _result("lds.dg14.ca_key", Status.PASS, "Chip Authentication key: " + ", ".join(described))]


def dg15_checks(lds: DecodedLDS) -> list[CheckResult]:
    """DG15 decodes; an RSA Active Authentication key has at least 1024 bits, an EC key a named curve."""
    decoded = decoded_check("lds.dg15", "DG15", lds, lds.dg15)
    if lds.dg15 is None:
        return [decoded, *skipped_checks(["lds.dg15.key"], lds, "DG15")]
    key = lds.dg15.public_key
    if not isinstance(key, RSAPublicKeyInfo):
        return [decoded, _result("lds.dg15.key", Status.PASS, f"EC key on {key.curve.name}")]
    if key.key_size < MIN_RSA_BITS:
        reason = f"RSA key of {key.key_size} bits, at least {MIN_RSA_BITS} required"
        return [decoded, _result("lds.dg15.key", Status.FAIL, reason)]
    return [decoded, _result("lds.dg15.key", Status.PASS, f"RSA key of {key.key_size} bits")]


def conformance_checks(lds: DecodedLDS, *, at: datetime | None = None) -> list[CheckResult]:
    """Every structural check of the data groups and EF.COM in TR-03105 order, and the expiry at ``at`` (now)."""
    expiry = document_expiry(lds, at or datetime.now(UTC))
    return [*com_checks(lds), *dg1_checks(lds), expiry, *dg2_checks(lds), *dg3_checks(lds), *dg13_checks(lds),
            *dg14_checks(lds), *dg15_checks(lds)]
