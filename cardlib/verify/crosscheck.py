"""Cross-checks between DG1 (the MRZ) and DG13 (the Vietnamese resident data) of a CCCD.

Both groups are signed by the same Document Signer, so a card whose hashes all verify can still carry
contradictory data if it was personalised wrongly or re-signed by someone holding a DS key.  These checks
catch that: the ID number, name, birth date, sex and expiry must say the same thing in both, and the DG13
record must be a valid :class:`~cardlib.model.resident.Resident` (province code, century/sex digit and
birth-year digits of the ID number agree with the birth date and sex; Circular 07/2016/TT-BCA).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from cardlib.errors import EncodeError, ValidationError
from cardlib.lds.dg1 import DG1
from cardlib.lds.dg13 import DG13
from cardlib.lds.dg13_fields import FieldNumber, parse_date
from cardlib.model.mrz import DOCUMENT_NUMBER_LENGTH, NO_EXPIRY, name_field, transliterate
from cardlib.model.resident import NO_EXPIRY_TEXT, Sex, nfc
from cardlib.verify.decoded import DecodedLDS
from cardlib.verify.report import CheckResult, Group, Status

CROSS_CHECK_IDS = ("cross.id_number", "cross.name", "cross.date_of_birth", "cross.sex", "cross.date_of_expiry",
                   "cross.resident")


def _result(check_id: str, status: Status, reason: str) -> CheckResult:
    return CheckResult(check_id, Group.CROSS, status, reason)


def _agree(check_id: str, what: str, dg1_value: str, dg13_value: str) -> CheckResult:
    if dg1_value == dg13_value:
        return _result(check_id, Status.PASS, f"{what} agrees: {dg1_value}")
    return _result(check_id, Status.FAIL, f"{what} differs: DG1 says {dg1_value!r}, DG13 says {dg13_value!r}")


def _yymmdd(day: date) -> str:
    return day.strftime("%y%m%d")


def check_id_number(dg1: DG1, dg13: DG13) -> CheckResult:
    """The MRZ document number is the last 9 digits of DG13's ID number, the optional data the whole of it."""
    id_number = dg13.text(FieldNumber.ID_NUMBER) or ""
    mrz = dg1.mrz
    if mrz.document_number != id_number[-DOCUMENT_NUMBER_LENGTH:]:
        return _result("cross.id_number", Status.FAIL,
                       f"DG1 document number {mrz.document_number!r} is not the last 9 digits of DG13's "
                       f"ID number {id_number!r}")
    if mrz.id_number != id_number:
        return _result("cross.id_number", Status.FAIL,
                       f"DG1 optional data holds {mrz.optional_data!r}, DG13's ID number is {id_number!r}")
    return _result("cross.id_number", Status.PASS, f"ID number {id_number} in both")


def check_name(dg1: DG1, dg13: DG13) -> CheckResult:
    """The MRZ name is DG13's full name transliterated, truncated as ICAO 9303-3 §4.6.4 truncates.

    A DG13 name holding a character outside the Vietnamese alphabet (a Cyrillic look-alike, an extra
    non-Latin word, an overlay mark) fails, naming the character: transliteration drops nothing silently.
    """
    full_name = dg13.text(FieldNumber.FULL_NAME) or ""
    mrz = dg1.mrz
    try:
        expected = _mrz_name(name_field(full_name, mrz.format.width))
    except EncodeError as error:
        return _result("cross.name", Status.FAIL, f"DG13 name cannot be written in an MRZ: {error}")
    if mrz.name == expected:
        return _result("cross.name", Status.PASS, f"MRZ name {mrz.name!r} is DG13's {full_name!r}")
    if _truncation_of(mrz.name, transliterate(full_name)):
        return _result("cross.name", Status.WARN,
                       f"MRZ name {mrz.name!r} is a truncation of {full_name!r}, though not the ICAO 9303-3 one")
    return _result("cross.name", Status.FAIL, f"MRZ name {mrz.name!r} is not DG13's {full_name!r}")


def _mrz_name(field: str) -> str:
    """A name field (``SURNAME<<GIVEN<NAMES<<<``) as MRZ.name reads it: components joined by spaces."""
    return " ".join(part for part in field.replace("<<", "<").split("<") if part)


def _truncation_of(mrz_name: str, transliterated: str) -> bool:
    printed, full = mrz_name.split(), transliterated.split()
    return len(printed) == len(full) and all(whole.startswith(part) for part, whole in zip(printed, full, strict=True))


def check_date_of_birth(dg1: DG1, dg13: DG13) -> CheckResult:
    """The MRZ birth date YYMMDD is DG13's dd/mm/yyyy date of birth."""
    born = parse_date(dg13.text(FieldNumber.DATE_OF_BIRTH) or "", "date of birth")
    return _agree("cross.date_of_birth", "date of birth", dg1.mrz.date_of_birth, _yymmdd(born))


def check_sex(dg1: DG1, dg13: DG13) -> CheckResult:
    """The MRZ sex code (M/F) is DG13's Nam/Nữ."""
    sex = Sex.parse(dg13.text(FieldNumber.SEX) or "")
    return _agree("cross.sex", "sex", dg1.mrz.sex, sex.mrz_code)


def check_date_of_expiry(dg1: DG1, dg13: DG13) -> CheckResult:
    """The MRZ expiry is DG13's date of expiry, and 991231 exactly when DG13 says "Không thời hạn"."""
    text = nfc(dg13.text(FieldNumber.DATE_OF_EXPIRY) or "")
    expected = NO_EXPIRY if text.casefold() == NO_EXPIRY_TEXT.casefold() else _yymmdd(parse_date(text, "expiry"))
    return _agree("cross.date_of_expiry", "date of expiry", dg1.mrz.date_of_expiry, expected)


def check_resident(dg13: DG13) -> CheckResult:
    """DG13 describes a valid resident: the ID number's century/sex and year digits fit the data.

    A first-three-digit code that is no province is the country of a birth registered abroad: WARN, since no
    published table lets us check it, never FAIL.
    """
    try:
        resident = dg13.to_resident()
    except ValidationError as error:
        return _result("cross.resident", Status.FAIL, f"DG13 is not a valid resident record: {error}")
    if resident.province is None:  # Decree 137/2015/NĐ-CP Art. 13: a country code, whose table is not published
        return _result("cross.resident", Status.WARN,
                       f"ID number fits the holder (born {resident.date_of_birth}); birth registered "
                       f"{resident.birth_registration}")
    reason = f"ID number fits the holder (birth registered in {resident.province}, born {resident.date_of_birth})"
    return _result("cross.resident", Status.PASS, reason)


# Each pair check, the DG13 field it reads, and the check itself.
_PAIR_CHECKS: tuple[tuple[str, FieldNumber, Callable[[DG1, DG13], CheckResult]], ...] = (
    ("cross.id_number", FieldNumber.ID_NUMBER, check_id_number), ("cross.name", FieldNumber.FULL_NAME, check_name),
    ("cross.date_of_birth", FieldNumber.DATE_OF_BIRTH, check_date_of_birth),
    ("cross.sex", FieldNumber.SEX, check_sex),
    ("cross.date_of_expiry", FieldNumber.DATE_OF_EXPIRY, check_date_of_expiry),
)


def _guarded(check_id: str, number: FieldNumber, check: Callable[[DG1, DG13], CheckResult], dg1: DG1, dg13: DG13
             ) -> CheckResult:
    """Run one pair check; a DG13 value too malformed to compare, or repeated, fails the check with the reason.

    A repeated field cannot agree with DG1: whichever value a reader shows, the card also says another.
    """
    entry = dg13.fields.get(number)
    if entry is not None and entry.repeated:
        return _result(check_id, Status.FAIL, f"DG13 field {number} holds {len(entry.texts)} values "
                       f"({', '.join(map(repr, entry.texts))}): which one the card means is ambiguous "
                       "(see lds.dg13.repeated)")
    try:
        return check(dg1, dg13)
    except ValidationError as error:
        return _result(check_id, Status.FAIL, f"DG13 {error.field or 'value'} cannot be compared: {error.reason}")


def cross_checks(lds: DecodedLDS) -> list[CheckResult]:
    """Every DG1↔DG13 check; NOT_APPLICABLE with the reason when either group is missing or malformed."""
    if lds.dg13 is None:
        return [_result(check_id, Status.NOT_APPLICABLE, f"{lds.unavailable('DG13')}: nothing to cross-check")
                for check_id in CROSS_CHECK_IDS]
    resident = check_resident(lds.dg13)
    if lds.dg1 is None:
        reason = f"{lds.unavailable('DG1')}: nothing to compare DG13 with"
        return [*(_result(check_id, Status.NOT_APPLICABLE, reason) for check_id, _, _ in _PAIR_CHECKS), resident]
    return [*(_guarded(check_id, number, check, lds.dg1, lds.dg13) for check_id, number, check in _PAIR_CHECKS),
            resident]
