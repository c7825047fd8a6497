"""Province codes that open a 12-digit CCCD personal identification number.

Source: Circular 07/2016/TT-BCA (Ministry of Public Security, 1 February 2016), Appendix: "Danh sách mã
tỉnh, thành phố trực thuộc trung ương nơi công dân đăng ký khai sinh" — the 63 provinces and centrally
governed cities, three digits each.  The same numbers are the administrative-unit codes of Decision
124/2004/QĐ-TTg, hence the gaps (003, 005, … belong to no province).

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

# First year of the century each pair of digit-4 codes stands for: (male, female) codes 0/1 → 1900, …
CENTURY_CODES: dict[int, int] = {0: 1900, 2: 2000, 4: 2100, 6: 2200, 8: 2300}


def province_name(code: str) -> str | None:
    """The province or city for a three-digit code, or None when the circular lists no such code."""
    return PROVINCES.get(code)


def century_sex_digit(year: int, female: bool) -> int | None:
    """Digit 4 of the ID number for someone born in ``year``; None when the year lies outside 1900–2399."""
    base = (year // 100) * 100
    for male_code, century in CENTURY_CODES.items():
        if century == base:
            return male_code + int(female)
    return None
