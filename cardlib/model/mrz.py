"""The machine readable zone: compose the CCCD's TD1 MRZ, parse TD1, TD2 and TD3 (ICAO 9303-3/4/5/6).

An :class:`MRZ` is its lines of text; every field is read from fixed positions, so a parsed MRZ prints back
exactly as it came in, check digits right or wrong (:meth:`MRZ.check_digit_errors` says which are wrong).

The CCCD TD1 layout (shared docs, "Card and MRZ"), positions 1-based::

    line 1: 1–2 "ID", 3–5 "VNM", 6–14 last 9 digits of the ID number, 15 their check digit,
            16–27 the full 12-digit ID number, 28–29 "<<",
            30 check digit over positions 16–29 (the optional data, i.e. the 12-digit number)
    line 2: 1–6 birth YYMMDD, 7 cd, 8 sex, 9–14 expiry YYMMDD (991231 = no expiry), 15 cd, 16–18 "VNM",
            19–29 optional data (fillers), 30 composite cd over line 1 6–30, line 2 1–7, 9–15, 19–29
    line 3: name, surname first, "<<" before the given names

Position 30 of line 1 is not part of the TD1 standard's fixed fields (ICAO 9303-5 leaves 16–30 optional);
Vietnam uses it as a check digit over 16–29, which the real example in the docs confirms: ``001044009271<<``
gives 2, and the composite over the standard ranges gives 4 — both as printed.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from enum import Enum

from cardlib.errors import DecodeError, EncodeError
from cardlib.model.resident import Resident
from cardlib.model.vietnamese import LETTERS, base_letter, foreign_characters, foreign_summary

FILLER = "<"
NO_EXPIRY = "991231"
# ICAO 9303-3 §4.9 character values (0–9, A–Z = 10–35, ``<`` = 0); every other byte maps to _NOT_MRZ.
_NOT_MRZ = 0xFF
_CHARACTER_VALUES = bytes(
    byte - ord("0") if ord("0") <= byte <= ord("9") else byte - ord("A") + 10 if ord("A") <= byte <= ord("Z")
    else 0 if byte == ord(FILLER) else _NOT_MRZ for byte in range(256))
_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<")
DOCUMENT_NUMBER_LENGTH = 9
MRZ_INFORMATION_TAIL = 15
"""What follows the document number in the MRZ information: its check digit, then birth date and expiry, each with
its check digit (ICAO 9303-11 §9.7.1.1)."""


def check_digit(text: str) -> str:
    """The ICAO 9303-3 §4.9 check digit: weights 7-3-1, A–Z = 10–35, ``<`` = 0, sum modulo 10.

    Each character is mapped to its value by one table lookup over the whole text, and the three weight classes
    summed as strided slices: a batch computes several per card.
    """
    values = text.encode("ascii", "replace").translate(_CHARACTER_VALUES)
    bad = values.find(_NOT_MRZ)
    if bad >= 0:
        raise EncodeError(f"character {text[bad]!r} cannot appear in an MRZ")
    return str((7 * sum(values[0::3]) + 3 * sum(values[1::3]) + sum(values[2::3])) % 10)


# What transliterate makes of each character a Vietnamese name may hold (NFC): a letter its base letter, a hyphen a
# space, an apostrophe nothing (ICAO 9303-3 §4.6).
_MRZ_NAME_CHARACTERS = str.maketrans({**{letter: base_letter(letter) for letter in LETTERS}, " ": " ", "-": " ",
                                      "'": None})


def transliterate(name: str) -> str:
    """A Vietnamese name in MRZ characters: ``Thân Quang Bảo`` → ``THAN QUANG BAO``.

    Every Vietnamese letter (NFC or NFD) becomes its base letter, upper case (Đ/đ become D); hyphens become
    spaces and apostrophes are omitted (ICAO 9303-3 §4.6).  Spaces separate name components and are
    preserved, single.  Nothing is dropped silently: a character outside the Vietnamese alphabet
    (:mod:`cardlib.model.vietnamese`) raises EncodeError naming it, since a name that lost it could "match"
    a different one.
    """
    foreign = foreign_characters(name)
    if foreign:
        raise EncodeError(f"not Vietnamese Latin, no MRZ character for: {foreign_summary(foreign)}")
    return " ".join(unicodedata.normalize("NFC", name).translate(_MRZ_NAME_CHARACTERS).split())


class MRZFormat(Enum):
    """ICAO document sizes with an MRZ: (line count, line length)."""

    TD1 = (3, 30)
    TD2 = (2, 36)
    TD3 = (2, 44)

    @property
    def lines(self) -> int:
        """Number of MRZ lines."""
        return self.value[0]

    @property
    def width(self) -> int:
        """Characters per line."""
        return self.value[1]


@dataclass(frozen=True)
class _Layout:
    """Where each field sits in the MRZ text of one format, as offsets into the concatenated lines."""

    document_number: slice
    document_number_cd: int
    birth: slice
    birth_cd: int
    sex: int
    expiry: slice
    expiry_cd: int
    nationality: slice
    name: slice
    optional: slice
    optional_cd: int | None
    optional_2: slice | None
    composite_cd: int


_LAYOUTS = {
    MRZFormat.TD1: _Layout(
        document_number=slice(5, 14), document_number_cd=14, birth=slice(30, 36), birth_cd=36, sex=37,
        expiry=slice(38, 44), expiry_cd=44, nationality=slice(45, 48), name=slice(60, 90),
        optional=slice(15, 30), optional_cd=None, optional_2=slice(48, 59), composite_cd=59,
    ),
    MRZFormat.TD2: _Layout(
        document_number=slice(36, 45), document_number_cd=45, birth=slice(49, 55), birth_cd=55, sex=56,
        expiry=slice(57, 63), expiry_cd=63, nationality=slice(46, 49), name=slice(5, 36),
        optional=slice(64, 71), optional_cd=None, optional_2=None, composite_cd=71,
    ),
    MRZFormat.TD3: _Layout(
        document_number=slice(44, 53), document_number_cd=53, birth=slice(57, 63), birth_cd=63, sex=64,
        expiry=slice(65, 71), expiry_cd=71, nationality=slice(54, 57), name=slice(5, 44),
        optional=slice(72, 86), optional_cd=86, optional_2=None, composite_cd=87,
    ),
}


def _composite_input(fmt: MRZFormat, text: str) -> str:
    """The characters the composite check digit covers (ICAO 9303-4 §4.2.2.2, 9303-5 §4.2.2.2, 9303-6)."""
    if fmt is MRZFormat.TD1:
        return text[5:30] + text[30:37] + text[38:45] + text[48:59]
    if fmt is MRZFormat.TD2:
        return text[36:46] + text[49:56] + text[57:71]
    return text[44:54] + text[57:64] + text[65:87]


@dataclass(frozen=True)
class MRZ:
    """A TD1, TD2 or TD3 machine readable zone, kept as its exact text.

    The text is left out of ``repr``: it holds the BAC/PACE key seed (document number, birth, expiry).
    """

    format: MRZFormat
    text: str = field(repr=False)

    def __post_init__(self) -> None:
        expected = self.format.lines * self.format.width
        if len(self.text) != expected:
            raise DecodeError(f"{self.format.name} needs {expected} characters, got {len(self.text)}", file="MRZ")
        for index, char in enumerate(self.text):
            if char not in _ALPHABET:
                raise DecodeError(f"character {char!r} is not an MRZ character", file="MRZ", offset=index)

    # -- construction ---------------------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str) -> MRZ:
        """An MRZ from its lines, separated by line breaks or concatenated; surrounding blanks are ignored.

        The format follows from the length (90 → TD1, 72 → TD2, 88 → TD3).  Wrong check digits do not
        stop parsing: see :meth:`check_digit_errors`.  Anything else wrong raises DecodeError(file="MRZ").
        """
        if not isinstance(text, str):
            raise DecodeError(f"expected text, got {type(text).__name__}", file="MRZ")
        joined = "".join(text.split())
        for fmt in MRZFormat:
            if len(joined) == fmt.lines * fmt.width:
                return cls(fmt, joined)
        raise DecodeError(f"{len(joined)} MRZ characters fit neither TD1 (90), TD2 (72) nor TD3 (88)", file="MRZ")

    @classmethod
    def from_resident(cls, resident: Resident, *, issuing_state: str = "VNM") -> MRZ:
        """The TD1 MRZ printed on the back of the CCCD for ``resident`` (layout in the module docstring)."""
        short_number = resident.id_number[-DOCUMENT_NUMBER_LENGTH:]
        optional = resident.id_number + FILLER * 2
        line1 = f"ID{issuing_state}{short_number}{check_digit(short_number)}{optional}{check_digit(optional)}"
        birth = resident.date_of_birth.strftime("%y%m%d")
        expiry = NO_EXPIRY if resident.date_of_expiry is None else resident.date_of_expiry.strftime("%y%m%d")
        line2 = (f"{birth}{check_digit(birth)}{resident.sex.mrz_code}{expiry}{check_digit(expiry)}"
                 f"{issuing_state}{FILLER * 11}")
        line3 = name_field(resident.full_name, MRZFormat.TD1.width)
        partial = line1 + line2 + FILLER + line3
        return cls(MRZFormat.TD1, line1 + line2 + check_digit(_composite_input(MRZFormat.TD1, partial)) + line3)

    # -- text -----------------------------------------------------------------------------------------

    @property
    def lines(self) -> tuple[str, ...]:
        """The MRZ lines, top to bottom."""
        width = self.format.width
        return tuple(self.text[i : i + width] for i in range(0, len(self.text), width))

    def __str__(self) -> str:
        return "\n".join(self.lines)

    # -- fields ---------------------------------------------------------------------------------------

    @property
    def _layout(self) -> _Layout:
        return _LAYOUTS[self.format]

    @property
    def document_code(self) -> str:
        """Document code, fillers removed (``ID``, ``P``, ``I``)."""
        return self.text[0:2].rstrip(FILLER)

    @property
    def issuing_state(self) -> str:
        """Issuing state or organisation (ISO 3166-1 alpha-3 or ICAO code, e.g. ``VNM``, ``D``)."""
        return self.text[2:5].rstrip(FILLER)

    def _extended_number(self) -> tuple[str, str] | None:
        """Document number longer than 9 characters: (remaining characters, check digit) from the optional data.

        ICAO 9303-5 §4.2.2 note j / 9303-6: the number-field check digit position holds ``<`` and the number
        continues in the optional data, followed by its check digit.
        """
        layout = self._layout
        if self.format is MRZFormat.TD3 or self.text[layout.document_number_cd] != FILLER:
            return None
        head = self.text[layout.optional].split(FILLER, 1)[0]
        if len(head) < 2:
            return None
        return head[:-1], head[-1]

    @property
    def document_number(self) -> str:
        """The full document number, fillers removed (continued from the optional data when longer than 9)."""
        base = self.text[self._layout.document_number]
        extended = self._extended_number()
        return (base + extended[0]) if extended else base.rstrip(FILLER)

    @property
    def document_number_check_digit(self) -> str:
        """The check digit printed for the (full) document number."""
        extended = self._extended_number()
        return extended[1] if extended else self.text[self._layout.document_number_cd]

    @property
    def date_of_birth(self) -> str:
        """Date of birth as printed, YYMMDD."""
        return self.text[self._layout.birth]

    @property
    def date_of_expiry(self) -> str:
        """Date of expiry as printed, YYMMDD (``991231`` on CCCDs that never expire)."""
        return self.text[self._layout.expiry]

    @property
    def sex(self) -> str:
        """``M``, ``F`` or ``<`` (unspecified), as printed."""
        return self.text[self._layout.sex]

    @property
    def nationality(self) -> str:
        """Nationality code, fillers removed."""
        return self.text[self._layout.nationality].rstrip(FILLER)

    @property
    def primary_identifier(self) -> str:
        """Surname(s): the name field before ``<<``, components joined by spaces."""
        return _components(self.text[self._layout.name].split(FILLER * 2, 1)[0])

    @property
    def secondary_identifier(self) -> str:
        """Given name(s): the name field after the first ``<<``, components joined by spaces."""
        parts = self.text[self._layout.name].split(FILLER * 2, 1)
        return _components(parts[1]) if len(parts) == 2 else ""

    @property
    def name(self) -> str:
        """Surname then given names, space-separated, as :func:`transliterate` would write a full name."""
        return " ".join(part for part in (self.primary_identifier, self.secondary_identifier) if part)

    def matches_name(self, full_name: str) -> bool:
        """True when the name field is exactly what :meth:`from_resident` writes for ``full_name``.

        The DG1/DG13 cross-check: transliteration and ICAO truncation are applied before comparing, so long
        names compare correctly.  A name with no MRZ letters, or with a character outside the Vietnamese
        alphabet, never matches.
        """
        name = self._layout.name
        try:
            return self.text[name] == name_field(full_name, name.stop - name.start)
        except EncodeError:
            return False

    @property
    def optional_data(self) -> str:
        """Optional data (TD1 line 1, TD2/TD3 line 2), trailing fillers removed; holds the 12-digit ID on CCCDs."""
        return self.text[self._layout.optional].rstrip(FILLER)

    @property
    def id_number(self) -> str:
        """The 12-digit CCCD personal ID number from TD1 optional data (positions 16–27); empty if there is none."""
        head = self.text[15:27] if self.format is MRZFormat.TD1 else ""
        return head if head.isdigit() else ""

    @property
    def optional_data_2(self) -> str:
        """TD1 line 2 optional data (positions 19–29), trailing fillers removed; empty for TD2/TD3."""
        field = self._layout.optional_2
        return "" if field is None else self.text[field].rstrip(FILLER)

    @property
    def mrz_information(self) -> str:
        """The BAC/PACE key seed of ICAO 9303-11 §9.7.1.1: document number, birth date, expiry, each + cd.

        Short document numbers keep their fillers up to 9 characters; longer ones are used in full with the
        check digit from the optional data.  A secret: never log it.
        """
        layout = self._layout
        number = self.document_number.ljust(DOCUMENT_NUMBER_LENGTH, FILLER)
        return (number + self.document_number_check_digit + self.date_of_birth + self.text[layout.birth_cd]
                + self.date_of_expiry + self.text[layout.expiry_cd])

    # -- checks ---------------------------------------------------------------------------------------

    def check_digits(self) -> list[tuple[str, bool]]:
        """Every check digit this MRZ's format carries, in print order, with whether it verifies.

        The names are stable: ``document number``, ``date of birth``, ``date of expiry``, ``optional data``
        (TD3), ``optional data (line 1 position 30)`` (Vietnamese TD1) and ``composite``.
        """
        return [(name, _matches(covered, printed)) for name, covered, printed in self._check_digits()]

    def check_digit_errors(self) -> list[str]:
        """The names of the check digits that do not match what they cover; empty when all verify."""
        return [name for name, verifies in self.check_digits() if not verifies]

    def _check_digits(self) -> list[tuple[str, str, str]]:
        layout, text = self._layout, self.text
        number = self.document_number if self._extended_number() else text[layout.document_number]
        digits = [
            ("document number", number, self.document_number_check_digit),
            ("date of birth", text[layout.birth], text[layout.birth_cd]),
            ("date of expiry", text[layout.expiry], text[layout.expiry_cd]),
        ]
        if layout.optional_cd is not None:
            digits.append(("optional data", text[layout.optional], text[layout.optional_cd]))
        if self.format is MRZFormat.TD1 and self.issuing_state == "VNM":
            digits.append(("optional data (line 1 position 30)", text[15:29], text[29]))
        digits.append(("composite", _composite_input(self.format, text), text[layout.composite_cd]))
        return digits


def _matches(covered: str, printed: str) -> bool:
    """ICAO 9303-3 §4.9: an all-filler field may carry ``<`` instead of the check digit 0."""
    if printed == FILLER:
        return set(covered) <= {FILLER}
    return check_digit(covered) == printed


def _components(field: str) -> str:
    return " ".join(part for part in field.split(FILLER) if part)


def name_field(full_name: str, width: int) -> str:
    """The MRZ name field of ``width`` characters for a Vietnamese full name (surname first).

    The first word is the primary identifier, the rest the secondary identifier, ``<<`` between them and
    ``<`` between components.  Too long a name is truncated per ICAO 9303-3 §4.6.4: given-name components
    are shortened from the last one backwards, down to their initial, then surname components likewise; a
    name that still does not fit is cut at ``width`` (its last character is then a letter, marking the cut).
    """
    words = transliterate(full_name).split()
    if not words:
        raise EncodeError("the name has no characters that can be written in an MRZ")
    primary, secondary = words[:1], words[1:]
    for group in (secondary, primary):
        for index in reversed(range(len(group))):
            excess = len(_join_name(primary, secondary)) - width
            if excess <= 0:
                break
            group[index] = group[index][: max(1, len(group[index]) - excess)]
    return _join_name(primary, secondary)[:width].ljust(width, FILLER)


def _join_name(primary: list[str], secondary: list[str]) -> str:
    return FILLER.join(primary) + (FILLER * 2 + FILLER.join(secondary) if secondary else "")
