"""The Vietnamese alphabet and honest transliteration: real-looking synthetic names pass, look-alikes are named."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardlib.errors import EncodeError, ValidationError
from cardlib.model.mrz import MRZ, transliterate
from cardlib.model.resident import Resident, Sex
from cardlib.model.vietnamese import LETTERS, TONE_MARKS, VOWELS, base_letter, describe, foreign_characters

# Synthetic names in the shapes real cards carry: Kinh names with every tone on every vowel, đ/Đ, the
# surname-first order, two-word surnames, and names of ethnic minorities (apostrophes, f/j/w/z, no tones).
NAMES = [
    "Nguyễn Thị Thu Hương", "Trần Văn Đức", "Lê Hoàng Phúc", "Phạm Ngọc Ánh", "Hoàng Thị Huyền Trang",
    "Huỳnh Tấn Phát", "Phan Thanh Giản", "Vũ Đình Quý", "Võ Thị Sáu", "Đặng Thùy Trâm", "Bùi Xuân Phái",
    "Đỗ Mười", "Hồ Xuân Hương", "Ngô Bảo Châu", "Dương Thu Hà", "Lý Công Uẩn", "Đinh Bộ Lĩnh",
    "Trương Mỹ Lan", "Lương Thế Vinh", "Tạ Quang Bửu", "Quách Thị Hồ", "Mạc Đĩnh Chi", "Ưng Hoàng Phúc",
    "Lò Văn Giàng", "Tôn Nữ Thị Ninh", "Âu Dương Lệ Quyên", "Ông Ích Khiêm", "Khổng Tú Quỳnh",
    "Nguyễn Thị Ẩn", "Lê Thị Ỷ", "Trần Ỳ", "Phạm Thị Ỹ", "Đoàn Thị Điểm", "Cù Huy Cận",
    "Nguyễn Ngọc Ngạn", "Lữ Thị Ỏn", "Kiều Thị Ửng", "Hà Thị Ợi", "Tô Thị Ẽ", "Thái Thị Ễ",
    "Hờ A Dế", "Sùng Thị Mỷ", "Ksor H'Yim", "Rơ Mah Blơi", "Y Moan Enuol", "H'Hen Niê", "Giàng A Páo",
    "Nguyễn Văn Zũng", "Bế Văn Đàn", "Nông Đức Mạnh", "Triệu Thị Trinh", "Lã Văn Wến", "Nguyễn-Phan Minh Jun",
]


def _person(name: str) -> Resident:
    return Resident(id_number="001090123456", full_name=name, date_of_birth=date(1990, 1, 2), sex=Sex.MALE,
                    place_of_origin="Hà Nội", place_of_residence="Hà Nội", date_of_issue=date(2021, 1, 2),
                    date_of_expiry=date(2030, 1, 2))


def test_the_alphabet_is_every_vowel_with_every_tone_in_both_cases() -> None:
    assert all(len(letter) == 1 for letter in LETTERS)  # each one precomposed in NFC
    vowels_with_tones = {unicodedata.normalize("NFC", v + t) for v in VOWELS for t in TONE_MARKS}
    assert len(vowels_with_tones) == 72 and vowels_with_tones <= LETTERS
    assert {"đ", "Đ", "ư", "Ự", "ỹ", "Ỵ"} <= LETTERS
    assert {base_letter(letter) for letter in LETTERS} == set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_genuine_names_have_nothing_foreign_and_match_their_mrz(name: str, form: str) -> None:
    stored = unicodedata.normalize(form, name)
    assert foreign_characters(stored) == ()
    written = transliterate(stored)
    assert written == transliterate(name) and set(written) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ ")
    assert MRZ.from_resident(_person(name)).matches_name(stored)


@pytest.mark.parametrize(("name", "char", "position"), [
    ("Nguyễn Thịы Thu", "\u044b", 10),                 # an extra Cyrillic letter
    ("Nguyễn Thị Thu Hương Иван", "\u0418", 21),       # an extra non-Latin word
    ("Nguyễn T\u0336hị", "\u0336", 8),                 # a combining overlay
    ("Nguyễn Thị 李", "\u674e", 11),                    # a Han character
    ("Nguyễn Thị Thu Hư\u200dơng", "\u200d", 17),      # an invisible zero width joiner
    ("\u00d0ặng Thị Mai", "\u00d0", 0),                # Icelandic Eth, the look-alike of Đ
    ("Nguyễn Thị Müller", "\u00fc", 12),               # a Latin letter Vietnamese does not use
    ("Nguyễn Thị Ń", "\u0143", 11),                    # a tone mark on a consonant
    ("Nguyễn Thị Hà\u0301", "\u0301", 13),             # a second tone that does not compose
    ("Lê\u00a0Văn Tám", "\u00a0", 2),                  # a no-break space
])
def test_foreign_characters_are_named_never_dropped(name: str, char: str, position: int) -> None:
    foreign = foreign_characters(name)
    assert [(item.char, item.position) for item in foreign][:1] == [(char, position)]
    with pytest.raises(EncodeError) as error:
        transliterate(name)
    assert describe(char) in str(error.value) and f"U+{ord(char):04X}" in str(error.value)
    with pytest.raises(ValidationError, match=f"U\\+{ord(char):04X}"):
        _person(name)


def test_describe_names_the_code_point_and_its_unicode_name() -> None:
    assert describe("\u0430") == "U+0430 CYRILLIC SMALL LETTER A"
    assert describe("\U000e0001") == "U+E0001 LANGUAGE TAG"


def test_places_may_hold_digits_and_punctuation_but_not_look_alike_letters() -> None:
    assert foreign_characters("Số 18/3A, Ngõ 42 – Phường Dịch Vọng Hậu (Tổ 5); #2", name=False) == ()
    assert [item.char for item in foreign_characters("Số 18, Phường Dịch Vọng Hậu", name=True)] == list("18,")
    assert [item.char for item in foreign_characters("Сầu Giấy", name=False)] == ["\u0421"]


@settings(max_examples=200)
@given(st.lists(st.sampled_from(sorted(LETTERS)), min_size=1, max_size=12).map("".join),
       st.sampled_from(["NFC", "NFD"]))
def test_any_vietnamese_word_transliterates_to_letters_of_the_same_length(word: str, form: str) -> None:
    assert transliterate(unicodedata.normalize(form, word)) == "".join(base_letter(letter) for letter in word)


@settings(max_examples=300)
@given(st.text(max_size=30))
def test_transliteration_is_total_letters_or_a_named_error(text: str) -> None:
    foreign = foreign_characters(text)
    try:
        written = transliterate(text)
    except EncodeError as error:
        assert foreign and str(foreign[0]) in str(error)
        return
    assert not foreign and set(written) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ ")
