"""The 2024 Căn cước card through personalization: 2024-style records (their own field names), the card kind
they must agree with, and `cardtool perso` writing a card the counter labels as a Căn cước."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import shutil
import tempfile
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from cardtool.counter.holder import holder_view
from cardtool.main import main
from cardtool.perso_command import MANIFEST, REJECTED

from cardlib.card.image import CardImage
from cardlib.card.input_records import CAN_CUOC_COLUMNS, COLUMNS, InputRecord, RejectedRow, fingerprint
from cardlib.card.inputs import read_records
from cardlib.lds.dg13 import DG13
from cardlib.lds.dg13_fields import FIELD_TABLES, CardKind, FieldLabel, FieldSpec, StringType, field_labels
from cardlib.testing.pki import sample_pki
from cardlib.verify.conformance import dg13_checks
from cardlib.verify.decoded import DecodedLDS
from cardlib.verify.holder import LABELS
from cardlib.verify.report import Status

SAMPLES = Path(__file__).resolve().parents[1] / "tools" / "cardtool" / "samples"
REGISTRATION = "Phường Hàng Bạc, Quận Hoàn Kiếm, Hà Nội"
CAN_CUOC = {
    "id_number": "001085031742", "full_name": "Nguyễn Văn An", "date_of_birth": "12/04/1985", "sex": "Nam",
    "nationality": "Việt Nam", "ethnicity": "Kinh", "religion": "Không",
    "place_of_birth_registration": REGISTRATION, "place_of_residence": "Số 18, Phố Láng Hạ, Hà Nội",
    "date_of_issue": "02/09/2024", "date_of_expiry": "12/04/2045", "father_name": "", "mother_name": "",
    "spouse_name": "", "old_id_number": "", "portrait": "portraits/r01.jpg", "card_kind": "can_cuoc_2024",
}
CAN_CUOC_HEADER = tuple(name for name in (*COLUMNS, *CAN_CUOC_COLUMNS)
                        if name not in ("place_of_origin", "identification_marks"))


def _csv(folder: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = CAN_CUOC_HEADER) -> Path:
    shutil.copytree(SAMPLES / "portraits", folder / "portraits", dirs_exist_ok=True)
    shutil.copytree(SAMPLES / "fingers", folder / "fingers", dirs_exist_ok=True)
    path = folder / "in.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _one(path: Path) -> InputRecord | RejectedRow:
    (item,) = read_records(path)
    return item


def test_a_2024_style_record_is_read_with_its_own_field_names(tmp_path: Path) -> None:
    record = _one(_csv(tmp_path, [CAN_CUOC]))
    assert isinstance(record, InputRecord), record
    dg13 = DG13.from_resident(record.resident)
    assert dg13.kind is CardKind.CAN_CUOC_2024 and dg13.text(8) == REGISTRATION and dg13.text(10) == ""
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text(json.dumps({key: value for key, value in CAN_CUOC.items() if key != "card_kind"},
                                ensure_ascii=False) + "\n", encoding="utf-8")
    from_json = _one(jsonl)
    assert isinstance(from_json, InputRecord) and from_json.resident == record.resident


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"place_of_origin": "Đông Ngạc, Hà Nội"}, "place_of_origin", "has no place_of_origin"),
    ({"identification_marks": "Sẹo chấm C 1cm"}, "identification_marks", "has no identification_marks"),
    ({"place_of_birth_registration": ""}, "place_of_birth_registration", "must not be empty"),
    ({"place_of_birth_registration": "Hà Nội <script>"}, "place_of_birth_registration", "not allowed"),
    ({"card_kind": "cccd_2021"}, "card_kind", "makes the card a can_cuoc_2024"),
    ({"card_kind": "passport"}, "card_kind", "is not a card kind"),
    ({"date_of_issue": "30/06/2024", "card_kind": ""}, "place_of_birth_registration", "prints the place of origin"),
])
def test_a_record_giving_its_card_kind_a_field_it_does_not_print_is_rejected_naming_it(
        tmp_path: Path, change: dict[str, str], field: str, words: str) -> None:
    columns = (*CAN_CUOC_HEADER, *(name for name in change if name not in CAN_CUOC_HEADER))
    rejected = _one(_csv(tmp_path, [{**CAN_CUOC, **change}], columns))
    assert isinstance(rejected, RejectedRow) and rejected.field == field, rejected
    assert words in rejected.reason


def test_an_under_6_citizen_gets_the_variant_and_can_cuoc_covers_it(tmp_path: Path) -> None:
    child = {**CAN_CUOC, "id_number": "001221031742", "full_name": "Nguyễn Văn Bé", "date_of_birth": "01/03/2021",
             "date_of_issue": "06/01/2025", "date_of_expiry": "01/03/2035", "card_kind": "can_cuoc"}
    record = _one(_csv(tmp_path, [child]))
    assert isinstance(record, InputRecord), record
    assert DG13.from_resident(record.resident).kind is CardKind.CAN_CUOC_2024_UNDER_6


def test_the_2024_names_count_in_the_row_fingerprint() -> None:
    changed = {**CAN_CUOC, "place_of_birth_registration": "Xã Đông Hội, Huyện Đông Anh, Hà Nội"}
    assert fingerprint(changed) != fingerprint(CAN_CUOC)
    old_style = {name: f"value of {name}" for name in COLUMNS}  # a 2021 file: fingerprints as before 2024 names
    before = json.dumps([old_style[name] for name in COLUMNS], ensure_ascii=False)
    assert fingerprint(old_style) == hashlib.sha256(before.encode("utf-8")).hexdigest()


def test_perso_writes_a_can_cuoc_card_the_counter_labels_as_one(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    sample_pki().save(pki)
    rows = [CAN_CUOC, {**CAN_CUOC, "id_number": "001085031743", "place_of_origin": "Đông Ngạc, Hà Nội"}]
    source = _csv(tmp_path, rows, (*CAN_CUOC_HEADER, "place_of_origin"))
    out = tmp_path / "out"
    assert main(["perso", str(source), "--pki", str(pki), "--out", str(out)]) == 1  # one row rejected
    manifest = [json.loads(line) for line in (out / MANIFEST).read_text(encoding="utf-8").splitlines()]
    assert [entry["status"] for entry in manifest] == ["personalized", "rejected"]
    card = CardImage.load(out / str(manifest[0]["card"]))
    view = holder_view(card.files)
    assert view.kind == "can_cuoc_2024" and view.to_dict()["place_of_birth_registration"] == REGISTRATION
    rejected = list(csv.DictReader((out / REJECTED).open(encoding="utf-8")))
    assert rejected[0]["field"] == "place_of_origin" and rejected[0]["place_of_birth_registration"] == REGISTRATION


def test_the_dg13_string_types_are_checked_against_the_card_kinds_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Conformance reads the kind's table: a published 2024 layout changes the check by a table edit alone."""
    record = _one_record()
    can_cuoc = DG13.from_resident(record.resident)
    cccd = DG13.from_resident(replace(record.resident, date_of_issue=date(2021, 3, 10)))

    def types(dg13: DG13) -> Status:
        (check,) = [check for check in dg13_checks(DecodedLDS(dg13=dg13)) if check.id == "lds.dg13.types"]
        return check.status

    assert types(can_cuoc) is Status.PASS and types(cccd) is Status.PASS
    utf8_serial = tuple(dataclasses.replace(spec, string_type=StringType.UTF8) if spec.number == 16 else spec
                             for spec in FIELD_TABLES[CardKind.CAN_CUOC_2024])
    monkeypatch.setitem(FIELD_TABLES, CardKind.CAN_CUOC_2024, utf8_serial)
    assert types(can_cuoc) is Status.WARN and types(cccd) is Status.PASS



def test_every_field_of_every_kind_has_a_vietnamese_and_an_english_label() -> None:
    for kind in CardKind:
        labels = field_labels(kind)
        assert len(labels) == sum(len(spec.attributes) for spec in FIELD_TABLES[kind])
        assert all(label.vi.strip() and label.en.strip() for label in labels.values()), kind
        vi, en = {label.vi for label in labels.values()}, {label.en for label in labels.values()}
        assert len(vi) == len(en) == len(labels)  # no two fields read alike
    cccd, can_cuoc = field_labels(CardKind.CCCD_2021), field_labels(CardKind.CAN_CUOC_2024)
    # the nested parents: one label per name
    assert (cccd["father_name"], cccd["mother_name"]) == (FieldLabel("Họ tên cha", "father's name"),
                                                          FieldLabel("Họ tên mẹ", "mother's name"))
    # each kind's face names: field 8 under the name the kind gives it
    assert cccd["place_of_origin"].vi == "Quê quán"
    assert can_cuoc["place_of_birth_registration"] == FieldLabel("Nơi đăng ký khai sinh", "place of birth")
    assert "place_of_origin" not in can_cuoc and can_cuoc["full_name"].vi == "Họ, chữ đệm và tên khai sinh"
    assert field_labels(CardKind.CAN_CUOC_2024_UNDER_6) == can_cuoc
    # the holder's English labels are the 2021 table's
    assert {name: LABELS[name] for name in cccd} == {name: label.en for name, label in cccd.items()}
    with pytest.raises(ValueError, match="one label per attribute"):
        FieldSpec(13, "parents", ("father_name", "mother_name"), (FieldLabel("Họ tên cha", "father's name"),))

def _one_record() -> InputRecord:
    with tempfile.TemporaryDirectory() as folder:
        record = _one(_csv(Path(folder), [CAN_CUOC]))
    assert isinstance(record, InputRecord)
    return record
