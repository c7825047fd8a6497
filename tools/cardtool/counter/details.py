"""The folded technical details of a counter check, in the page's languages, and the fields the checks put in doubt.

The verification report speaks to engineers (check identifiers, English reasons).  The officer's page shows
each check with what it establishes in Vietnamese and English (:func:`detail_rows`, failed checks first),
and marks a holder field where it is shown when a check about that field failed or warned
(:func:`field_marks`): the expiry DG1 and DG13 disagree on, the expiry of an expired card, an ID number that
does not fit its holder.  The raw English reason travels along for the English page and saved reports.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cardlib.verify.report import CheckResult, Status
from cardtool.counter.verdict import plain_reason

# Order of the rows: what failed first, then what could not be done, then warnings, then the rest.
_STATUS_ORDER = (Status.FAIL, Status.UNKNOWN, Status.WARN, Status.PASS, Status.NOT_APPLICABLE)

# What each check establishes (vi, en), by exact id or id prefix; the longest match wins.
_TITLES: dict[str, tuple[str, str]] = {
    "sod": ("Phần bảo mật dữ liệu (EF.SOD)", "Security data (EF.SOD)"),
    "sod.decode": ("Đọc được phần bảo mật dữ liệu (EF.SOD)", "Security data (EF.SOD) decodes"),
    "sod.signature": ("Chữ ký số của cơ quan cấp thẻ", "Issuing authority's digital signature"),
    "sod.signer": ("Chứng thư ký thẻ được nhận ra", "Signing certificate identified"),
    "sod.content_type": ("Kiểu nội dung đã ký", "Signed content type"),
    "sod.message_digest": ("Mã băm của nội dung đã ký", "Digest of the signed content"),
    "hash": ("Dữ liệu {name} khớp với phần đã ký", "{name} matches what was signed"),
    "chain": ("Chuỗi chứng thư của cơ quan cấp thẻ", "Issuing authority's certificate chain"),
    "chain.csca_found": ("Chứng thư gốc (CSCA) có trong kho tin cậy", "Root certificate (CSCA) in the trust store"),
    "chain.csca_validity": ("Chứng thư gốc (CSCA) còn hiệu lực", "Root certificate (CSCA) valid"),
    "chain.csca_chain": ("Chứng thư gốc (CSCA) liên kết đúng", "Root certificate (CSCA) links up"),
    "chain.ds_signature": ("Chứng thư ký thẻ do CSCA ký", "Signing certificate signed by the CSCA"),
    "chain.ds_validity": ("Chứng thư ký thẻ còn hiệu lực", "Signing certificate valid"),
    "chain.ds_key_usage": ("Mục đích sử dụng khóa của chứng thư ký thẻ", "Signing certificate key usage"),
    "chain.ds_not_revoked": ("Chứng thư ký thẻ chưa bị thu hồi", "Signing certificate not revoked"),
    "chain.crl": ("Danh sách thu hồi chứng thư (CRL)", "Certificate revocation list (CRL)"),
    "chain.country": ("Quốc gia cấp thống nhất", "Issuing country consistent"),
    "com.sod_consistency": ("Danh sách dữ liệu khớp với phần đã ký", "Data list matches what was signed"),
    "lds": ("Định dạng dữ liệu trên chip", "Format of the data on the chip"),
    "lds.dg1.expiry": ("Thời hạn của thẻ", "Card's expiry"),
    "lds.dg1": ("Định dạng vùng đọc máy (DG1)", "Machine-readable zone format (DG1)"),
    "lds.dg1.check_digit": ("Số kiểm tra của vùng đọc máy", "Machine-readable zone check digit"),
    "lds.dg2": ("Định dạng ảnh chân dung (DG2)", "Portrait format (DG2)"),
    "lds.dg3": ("Định dạng vân tay (DG3)", "Fingerprint format (DG3)"),
    "lds.dg13": ("Định dạng thông tin công dân (DG13)", "Personal data format (DG13)"),
    "lds.dg13.dates": ("Ngày tháng trong thông tin công dân", "Dates in the personal data"),
    "lds.dg13.repeated": ("Mỗi mục thông tin công dân chỉ có một giá trị", "Each personal data field has one value"),
    "lds.dg13.alphabet": ("Chữ viết trong thông tin công dân", "Letters used in the personal data"),
    "lds.dg14": ("Khóa xác thực chip (DG14)", "Chip authentication key (DG14)"),
    "lds.dg15": ("Khóa xác thực chủ động (DG15)", "Active authentication key (DG15)"),
    "lds.com": ("Mục lục dữ liệu (EF.COM)", "Data index (EF.COM)"),
    "lds.sod": ("Định dạng phần bảo mật dữ liệu", "Security data format"),
    "lds.dsc": ("Hồ sơ chứng thư ký thẻ", "Signing certificate profile"),
    "cross": ("Vùng đọc máy và thông tin công dân khớp nhau", "Machine-readable zone and personal data agree"),
    "cross.id_number": ("Số định danh khớp giữa vùng đọc máy và thông tin công dân",
                        "ID number agrees between the MRZ and the personal data"),
    "cross.name": ("Họ tên khớp giữa vùng đọc máy và thông tin công dân",
                   "Name agrees between the MRZ and the personal data"),
    "cross.date_of_birth": ("Ngày sinh khớp giữa vùng đọc máy và thông tin công dân",
                            "Date of birth agrees between the MRZ and the personal data"),
    "cross.sex": ("Giới tính khớp giữa vùng đọc máy và thông tin công dân",
                  "Sex agrees between the MRZ and the personal data"),
    "cross.date_of_expiry": ("Ngày hết hạn khớp giữa vùng đọc máy và thông tin công dân",
                             "Expiry agrees between the MRZ and the personal data"),
    "cross.resident": ("Số định danh phù hợp với ngày sinh và giới tính",
                       "ID number fits the date of birth and sex"),
    "live": ("Chip chứng minh là chip gốc", "Chip proves it is the original"),
    "live.chip_authentication": ("Xác thực chip (chống sao chép)", "Chip authentication (anti-cloning)"),
    "live.active_authentication": ("Xác thực chủ động (chống sao chép)", "Active authentication (anti-cloning)"),
    "live.pace_cam": ("Xác thực chip khi mở phiên (PACE-CAM, chống sao chép)",
                      "Chip authentication while opening the session (PACE-CAM, anti-cloning)"),
    "live.terminal_authentication": ("Chip cho phép đọc vân tay (xác thực thiết bị đọc, EAC)",
                                     "Chip lets the reader read the fingerprints (terminal authentication, EAC)"),
    "cardsecurity": ("Phần bảo mật của chip (EF.CardSecurity)", "Chip security data (EF.CardSecurity)"),
    "cardsecurity.signature": ("Chữ ký số trên phần bảo mật của chip", "Digital signature on the chip security data"),
    "cardsecurity.chain": ("Chuỗi chứng thư ký phần bảo mật của chip",
                           "Certificate chain of the chip security data's signer"),
}

# A warning is a legitimate variant (issue 12's rule); the ones an officer meets get their own sentence.
_WARNINGS: dict[str, tuple[str, str]] = {
    "lds.dg1.expiry": ("Thẻ đã hết hạn: dữ liệu là thật nhưng thẻ không còn giá trị sử dụng.",
                       "The card has expired: its data is genuine but the card is no longer valid."),
    "cross.resident": ("Nơi đăng ký khai sinh ở nước ngoài (mã quốc gia), không đối chiếu được bảng mã.",
                       "Birth registered abroad (a country code) that no published table lets us check."),
}
_OTHER_WARNING = ("Khác với thẻ thông thường nhưng không phải dấu hiệu thẻ giả.",
                  "Differs from usual cards, but is not a sign of forgery.")

# Holder fields a check is about (the keys of the holder view); portrait is the DG2 image.
_FIELD_OF_CHECK = {
    "cross.id_number": "id_number", "cross.name": "full_name", "cross.date_of_birth": "date_of_birth",
    "cross.sex": "sex", "cross.date_of_expiry": "date_of_expiry", "cross.resident": "id_number",
    "lds.dg1.expiry": "date_of_expiry", "hash.DG2": "portrait", "lds.dg2.image": "portrait",
}
_MARKED = {Status.FAIL: "fail", Status.WARN: "warn"}


def _lookup(table: dict[str, tuple[str, str]], check_id: str) -> tuple[str, str] | None:
    keys = [key for key in table if check_id == key or check_id.startswith(key + ".")]
    return table[max(keys, key=len)] if keys else None


def title(check_id: str) -> dict[str, str]:
    """What the check ``check_id`` establishes, in Vietnamese and English."""
    found = _lookup(_TITLES, check_id)
    if found is None:
        return {"vi": check_id, "en": check_id}
    name = check_id.split(".", 1)[1] if "." in check_id else check_id
    return {"vi": found[0].format(name=name), "en": found[1].format(name=name)}


def _reason(check: CheckResult) -> dict[str, str] | None:
    """What the outcome means, in both languages; None for a check that passed or did not apply."""
    if check.status in (Status.FAIL, Status.UNKNOWN):
        sentence = plain_reason(check)
        return {"vi": sentence.vi, "en": sentence.en}
    if check.status is Status.WARN:
        vi, en = _WARNINGS.get(check.id, _OTHER_WARNING)
        return {"vi": vi, "en": en}
    return None


def detail_rows(checks: Iterable[CheckResult]) -> list[dict[str, Any]]:
    """Every check as a row of the details table: failed first, then cannot tell, warnings, passed, n/a."""
    ordered = sorted(checks, key=lambda check: _STATUS_ORDER.index(check.status))
    return [{"id": check.id, "status": check.status.value, "title": title(check.id), "reason": _reason(check),
             "technical": check.reason} for check in ordered]


def field_marks(checks: Iterable[CheckResult]) -> dict[str, str]:
    """Holder field → ``"fail"`` or ``"warn"`` for each field a failed or warning check is about (fail wins)."""
    marks: dict[str, str] = {}
    for check in checks:
        key, mark = _FIELD_OF_CHECK.get(check.id), _MARKED.get(check.status)
        if key is not None and mark is not None and marks.get(key) != "fail":
            marks[key] = mark
    return marks


def altered(checks: Iterable[CheckResult], source: str) -> bool:
    """Whether the data group the holder fields came from (``source``: DG13 or DG1) was changed after signing."""
    return any(check.id == f"hash.{source}" and check.status is Status.FAIL for check in checks)
