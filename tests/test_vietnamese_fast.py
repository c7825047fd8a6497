"""foreign_characters decides texts made only of Vietnamese letters and neutral ASCII at once: the answer is the
character-by-character rule's, for names and other text, on every code point and on mixed texts."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from cardlib.errors import ValidationError
from cardlib.model import resident
from cardlib.model.vietnamese import LETTERS, NAME_PUNCTUATION, Foreign, foreign_characters


def by_character(text: str, *, name: bool) -> tuple[Foreign, ...]:
    """The rule of foreign_characters applied to each character of the NFC text."""
    normal = unicodedata.normalize("NFC", text)
    return tuple(Foreign(index, char) for index, char in enumerate(normal) if char not in LETTERS and not (
        char in NAME_PUNCTUATION if name else unicodedata.category(char)[0] in "NPSZ"))


def test_every_code_point_alone() -> None:
    for code in [*range(0x20, 0x3000), 0xFEFF, 0x1D400, 0x10FFFF]:
        for name in (True, False):
            assert foreign_characters(chr(code), name=name) == by_character(chr(code), name=name), hex(code)


VIETNAMESE = st.sampled_from(sorted(LETTERS) + list(" -'0123456789/,.()"))
ANY = st.characters(exclude_categories=["Cs"])


@settings(max_examples=300, deadline=None)
@given(text=st.lists(st.one_of(VIETNAMESE, VIETNAMESE, ANY), max_size=30).map("".join), name=st.booleans())
def test_mixed_texts(text: str, name: bool) -> None:
    assert foreign_characters(text, name=name) == by_character(text, name=name)


def test_a_vietnamese_name_and_a_place_have_nothing_foreign() -> None:
    assert foreign_characters("Nguyễn Thị Hồng-Nhung") == ()
    assert foreign_characters("Số 12, Phường 3, Quận 1 (TP. Hồ Chí Minh)", name=False) == ()
    assert [item.char for item in foreign_characters("Nguyễn Thị Hồng 2")] == ["2"]


def check_text_by_character(value: str, allowed: frozenset[str], digits_ok: bool) -> str | None:
    """The per-character rule of Resident text fields: the first refused character's message, or None."""
    for index, char in enumerate(value):
        category = unicodedata.category(char)
        if not (category[0] in "LM" or (digits_ok and category == "Nd") or char in allowed):
            return f"character {char!r} at position {index} is not allowed"
    return None


@settings(max_examples=300, deadline=None)
@given(text=st.lists(st.one_of(VIETNAMESE, VIETNAMESE, ANY), min_size=1, max_size=30).map("".join),
       place=st.booleans())
def test_resident_text_fields_refuse_what_the_per_character_rule_refuses(text: str, place: bool) -> None:
    allowed = resident._PLACE_PUNCTUATION if place else NAME_PUNCTUATION
    expected = check_text_by_character(text, allowed, place) or (
        "contains consecutive spaces" if "  " in text else None)
    try:
        resident._check_text(text, "field", allowed=allowed, max_length=1000, required=True)
    except ValidationError as error:
        assert error.reason == expected
    else:
        assert expected is None
