"""Province codes that open a 12-digit CCCD personal identification number, and the 2025 merger of provinces.

Source: Circular 07/2016/TT-BCA (Ministry of Public Security, 1 February 2016), Appendix: "Danh sách mã
tỉnh, thành phố trực thuộc trung ương nơi công dân đăng ký khai sinh" — the 63 provinces and centrally
governed cities, three digits each.  The same numbers are the administrative-unit codes of Decision
124/2004/QĐ-TTg, hence the gaps (003, 005, … belong to no province).

Birth registered abroad: Circular 07/2016/TT-BCA Art. 7 (implementing Decree 137/2015/NĐ-CP Art. 13) says the
first three digits are the code of the province *or of the country* where the birth was registered.  The
country-code table is not published with the circular's public text, and none was found (searched: the
circular on thuvienphapluat.vn and luatvietnam.vn, the Hải Phòng city portal's summary of Art. 7 at
https://thanhphohaiphong.gov.vn/3-so-dau-the-can-cuoc-the-hien-noi-sinh-cong-dan.html, which states the
"province or country" rule but lists only the provinces).  So no country code is invented here: a code that is
not a province is a country code we cannot verify (:func:`birth_registration_place`).

The 63 codes stay valid forever: the code is the birth-registration province *at the time of registration*,
so the 2025 merger (below) changes no ID number, no card and no DG13 address.

Digit 4 of the ID number encodes century of birth and sex (Circular 07/2016/TT-BCA, Article 7): 1900s male 0,
female 1; 2000s 2/3; 2100s 4/5; 2200s 6/7; 2300s 8/9.  Digits 5–6 are the last two digits of the birth year.
"""

from __future__ import annotations

PROVINCES: dict[str, str] = {
    "001": "Hà Nội", "002": "Hà Giang", "004": "Cao Bằng", "006": "Bắc Kạn", "008": "Tuyên Quang",
    "010": "Lào Cai", "011": "Điện Biên", "012": "Lai Châu", "014": "Sơn La", "015": "Yên Bái",
    "017": "Hòa Bình", "019": "Thái Nguyên", "020": "Lạng Sơn", "022": "Quảng Ninh", "024": "Bắc Giang",
    "025": "Phú Thọ", "026": "Vĩnh Phúc", "027": "Bắc Ninh", "030": "Hải Dương", "031": "Hải Phòng",
    "033": "Hưng Yên", "034": "Thái Bình", "035": "Hà Nam", "036": "Nam Định", "037": "Ninh Bình",
    "038": "Thanh Hóa", "040": "Nghệ An", "042": "Hà Tĩnh", "044": "Quảng Bình", "045": "Quảng Trị",
    "046": "Thừa Thiên Huế", "048": "Đà Nẵng", "049": "Quảng Nam", "051": "Quảng Ngãi", "052": "Bình Định",
    "054": "Phú Yên", "056": "Khánh Hòa", "058": "Ninh Thuận", "060": "Bình Thuận", "062": "Kon Tum",
    "064": "Gia Lai", "066": "Đắk Lắk", "067": "Đắk Nông", "068": "Lâm Đồng", "070": "Bình Phước",
    "072": "Tây Ninh", "074": "Bình Dương", "075": "Đồng Nai", "077": "Bà Rịa - Vũng Tàu", "079": "Hồ Chí Minh",
    "080": "Long An", "082": "Tiền Giang", "083": "Bến Tre", "084": "Trà Vinh", "086": "Vĩnh Long",
    "087": "Đồng Tháp", "089": "An Giang", "091": "Kiên Giang", "092": "Cần Thơ", "093": "Hậu Giang",
    "094": "Sóc Trăng", "095": "Bạc Liêu", "096": "Cà Mau",
}

# The province each of the 63 belongs to since 1 July 2025 (34 provincial units), by Resolution 202/2025/QH15
# of the National Assembly (12 June 2025), Art. 1.  Read in reports of the adopted text: nld.com.vn
# "Chi tiết diện tích, dân số 23 tỉnh thành sau sắp xếp" and vnexpress.net/quoc-hoi-chot-ca-nuoc-con-34-tinh-
# thanh-pho-4897740.html (12 June 2025), sotuphap.kontum.gov.vn (Kon Tum + Quảng Ngãi), nghean24h.vn (the
# adopted plan, items 1–10), ai24hexpress.com citing VnExpress (the six Mekong mergers), daidoanket.vn (Hồ Chí
# Minh + Bình Dương + Bà Rịa - Vũng Tàu).  Not quoted in the excerpts read, to check against the gazetted text:
# Đà Nẵng + Quảng Nam, Gia Lai + Bình Định, Khánh Hòa + Ninh Thuận, Lâm Đồng + Đắk Nông + Bình Thuận, Đắk Lắk +
# Phú Yên, Đồng Nai + Bình Phước.  Provinces the resolution leaves alone map to themselves (Huế is the city that
# Thừa Thiên Huế became on 1 January 2025).  Display data only: nothing is validated against it.
PROVINCE_SINCE_2025: dict[str, str] = {
    "001": "Hà Nội", "002": "Tuyên Quang", "004": "Cao Bằng", "006": "Thái Nguyên", "008": "Tuyên Quang",
    "010": "Lào Cai", "011": "Điện Biên", "012": "Lai Châu", "014": "Sơn La", "015": "Lào Cai",
    "017": "Phú Thọ", "019": "Thái Nguyên", "020": "Lạng Sơn", "022": "Quảng Ninh", "024": "Bắc Ninh",
    "025": "Phú Thọ", "026": "Phú Thọ", "027": "Bắc Ninh", "030": "Hải Phòng", "031": "Hải Phòng",
    "033": "Hưng Yên", "034": "Hưng Yên", "035": "Ninh Bình", "036": "Ninh Bình", "037": "Ninh Bình",
    "038": "Thanh Hóa", "040": "Nghệ An", "042": "Hà Tĩnh", "044": "Quảng Trị", "045": "Quảng Trị",
    "046": "Huế", "048": "Đà Nẵng", "049": "Đà Nẵng", "051": "Quảng Ngãi", "052": "Gia Lai",
    "054": "Đắk Lắk", "056": "Khánh Hòa", "058": "Khánh Hòa", "060": "Lâm Đồng", "062": "Quảng Ngãi",
    "064": "Gia Lai", "066": "Đắk Lắk", "067": "Lâm Đồng", "068": "Lâm Đồng", "070": "Đồng Nai",
    "072": "Tây Ninh", "074": "Hồ Chí Minh", "075": "Đồng Nai", "077": "Hồ Chí Minh", "079": "Hồ Chí Minh",
    "080": "Tây Ninh", "082": "Đồng Tháp", "083": "Vĩnh Long", "084": "Vĩnh Long", "086": "Vĩnh Long",
    "087": "Đồng Tháp", "089": "An Giang", "091": "An Giang", "092": "Cần Thơ", "093": "Cần Thơ",
    "094": "Cần Thơ", "095": "Cà Mau", "096": "Cà Mau",
}

# First year of the century each pair of digit-4 codes stands for: (male, female) codes 0/1 → 1900, …
CENTURY_CODES: dict[int, int] = {0: 1900, 2: 2000, 4: 2100, 6: 2200, 8: 2300}


def province_name(code: str) -> str | None:
    """The province or city for a three-digit code, or None when the circular lists no such code."""
    return PROVINCES.get(code)


def province_since_2025(code: str) -> str | None:
    """The province that a pre-2025 province code's territory belongs to since 1 July 2025 (None: no province)."""
    return PROVINCE_SINCE_2025.get(code)


def birth_registration_place(code: str) -> str:
    """Where the birth of an ID number opening with ``code`` was registered, as a person reads it.

    A province of the circular gives its name; any other three digits are the code of the country of
    registration, which no published table lets us check.
    """
    name = province_name(code)
    return name if name is not None else f"abroad, country code {code} (no published table: not verifiable here)"


def century_sex_digit(year: int, female: bool) -> int | None:
    """Digit 4 of the ID number for someone born in ``year``; None when the year lies outside 1900–2399."""
    base = (year // 100) * 100
    for male_code, century in CENTURY_CODES.items():
        if century == base:
            return male_code + int(female)
    return None
