"""The Vietnamese Latin alphabet: what a Vietnamese name may be written with, and how to name what is foreign.

Vietnamese writes with the letters a ă â b c d đ e ê g h i k l m n o ô ơ p q r s t u ư v x y (f j w z appear in
names of ethnic minorities and borrowed words), and puts one of five tone marks (huyền, sắc, ngã, hỏi, nặng)
on the twelve vowels a ă â e ê i o ô ơ u ư y.  Every such letter, in either case, is one precomposed code
point in Unicode Normalization Form C.

Cards store names in NFC or NFD; both are compared in NFC, where a Vietnamese letter with its marks is one
character.  Whatever is left over is foreign: a letter of another script (Cyrillic ``а`` looks like Latin
``a``), a Latin letter Vietnamese does not use (``ñ``, ``ü``, Icelandic ``Ð`` that looks like ``Đ``), a mark
that did not compose (a tone on a consonant, a doubled mark, U+0336 COMBINING LONG STROKE OVERLAY), or an
invisible format character (U+202E RIGHT-TO-LEFT OVERRIDE).  Such characters cannot be transliterated into
an MRZ, so a comparison that dropped them would let two different names "match".
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

BASE_LETTERS = "abcdefghijklmnopqrstuvwxyzđ"
VOWELS = "aăâeêioôơuưy"
# No tone (ngang), then the combining grave, acute, tilde, hook above and dot below.
TONE_MARKS = ("", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323")
# Besides letters, a name holds spaces between its words, hyphens and apostrophes (ICAO 9303-3 §4.6).
NAME_PUNCTUATION = frozenset(" -'")
# Unicode categories that are text rather than letters: digits, punctuation, symbols, spaces.  Places and
# marks may use them freely; letters, combining marks and format/control characters must be Vietnamese.
_NEUTRAL_CATEGORIES = frozenset("NPSZ")


def _alphabet() -> frozenset[str]:
    lower = set(BASE_LETTERS) | {unicodedata.normalize("NFC", vowel + tone) for vowel in VOWELS for tone in TONE_MARKS}
    return frozenset(lower | {letter.upper() for letter in lower})


LETTERS = _alphabet()
# Characters never foreign in a name, and in other text (printable ASCII digits, punctuation, symbols, space too):
# a text made of them only is decided without looking at each character's category.
_NAME_CHARACTERS = LETTERS | NAME_PUNCTUATION
_TEXT_CHARACTERS = LETTERS | frozenset(char for char in map(chr, range(0x20, 0x7F))
                                       if unicodedata.category(char)[0] in _NEUTRAL_CATEGORIES)


def describe(char: str) -> str:
    """``U+0434 CYRILLIC SMALL LETTER DE``: a character named so a reader can see what it is."""
    return f"U+{ord(char):04X} {unicodedata.name(char, 'unnamed character')}"


@dataclass(frozen=True)
class Foreign:
    """A character outside the Vietnamese alphabet, at ``position`` of the NFC text."""

    position: int
    char: str

    def __str__(self) -> str:
        return f"{describe(self.char)} at position {self.position}"


def foreign_characters(text: str, *, name: bool = True) -> tuple[Foreign, ...]:
    """Every character of ``text`` (compared in NFC) that is not Vietnamese Latin, in order.

    In a ``name`` only Vietnamese letters and :data:`NAME_PUNCTUATION` are allowed; in other text (places,
    identification marks) digits, punctuation, symbols and spaces are too, but letters, marks and format
    characters must still be Vietnamese.
    """
    normal = unicodedata.normalize("NFC", text)
    if (_NAME_CHARACTERS if name else _TEXT_CHARACTERS).issuperset(normal):
        return ()
    return tuple(Foreign(index, char) for index, char in enumerate(normal)
                 if char not in LETTERS and not _neutral(char, name=name))


def _neutral(char: str, *, name: bool) -> bool:
    if name:
        return char in NAME_PUNCTUATION
    return unicodedata.category(char)[0] in _NEUTRAL_CATEGORIES


def foreign_summary(foreign: tuple[Foreign, ...]) -> str:
    """The foreign characters as one reason: ``U+0434 CYRILLIC SMALL LETTER DE at position 7, ...``."""
    return ", ".join(str(item) for item in foreign)


def base_letter(letter: str) -> str:
    """The letter without its marks, upper case: ``ầ`` → ``A``, ``đ`` → ``D``; only for :data:`LETTERS`."""
    if letter in "đĐ":
        return "D"
    return unicodedata.normalize("NFD", letter)[0].upper()
