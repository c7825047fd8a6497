"""The library an integrator builds on (issue 13): the top-level API, plain data out, one liveness policy.

Every report the representative cards give (valid, invalid, cannot tell, a passport, live reads) is checked
against the shipped JSON schema with the ``jsonschema`` library.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import subprocess
import sys
import tomllib
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cardtool.counter.verdict import Outcome, counter_verdict
from cardtool.main import main
from hypothesis import given, settings
from hypothesis import strategies as st

import cardlib
from cardlib.card.image import CardImage
from cardlib.chip.chip import VirtualChip
from cardlib.errors import ValidationError
from cardlib.lds.dg1 import DG1
from cardlib.lds.dg13 import DG13, DG13Field, DG13Text
from cardlib.lds.dg13_fields import CardKind, FieldNumber
from cardlib.model.provinces import PROVINCES, century_sex_digit
from cardlib.model.resident import Resident, Sex
from cardlib.pki.trust import TrustStore
from cardlib.reader.reader import AccessKey, ReadResult, read_card
from cardlib.reader.transport import InProcessTransport
from cardlib.testing.cards import forge_dg13_expiry, sample_card_image, sample_resident
from cardlib.testing.pki import sample_pki
from cardlib.verify.holder import Holder, holder_of, mrz_date, read_holder
from cardlib.verify.live import verify_read
from cardlib.verify.report import SCHEMA_VERSION, Status, Verdict, VerificationReport, report_schema
from cardlib.verify.verifier import CHIP_PROVEN, LivenessPolicy, verify

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("cardlib.verify.verifier", "cardlib.reader.reader", "cardlib.pki.trust", "PIL", "cryptography", "smartcard")


@pytest.fixture(scope="module")
def image() -> CardImage:
    return sample_card_image()


def _read(image: CardImage, *, proofs: bool = True) -> ReadResult:
    """A live read of ``image`` on a virtual chip, with Chip and Active Authentication or with neither."""
    assert image.secrets is not None
    return read_card(InProcessTransport(VirtualChip(image)), AccessKey.can(image.secrets.can),
                     chip_auth=proofs, active_auth=proofs)


# -- the top-level API ------------------------------------------------------------------------------------------


def test_every_public_name_is_the_object_of_its_home_module() -> None:
    names = [name for name in cardlib.__all__ if name != "__version__"]
    assert len(names) == len(set(names)) and "verify" in names and "TrustStore" in names
    for name in names:
        home = importlib.import_module(cardlib._HOMES[name])
        assert getattr(cardlib, name) is getattr(home, name), name
    assert set(names) == set(cardlib._HOMES)
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        cardlib.nothing_here  # noqa: B018


def test_version_comes_from_the_package_metadata_whose_home_is_pyproject() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert cardlib.__version__ == metadata.version("cardlib") == pyproject["project"]["version"]


def test_import_cardlib_is_light_and_verify_is_the_function_not_the_package() -> None:
    script = (
        "import sys, cardlib\n"
        f"heavy = [name for name in sys.modules if name.startswith({HEAVY!r})]\n"
        "assert not heavy, heavy\n"
        "from cardlib.verify.report import Verdict\n"
        "import cardlib.verify.holder\n"
        "from cardlib import verify\n"
        "assert cardlib.verify is verify and verify.__module__ == 'cardlib.verify.verifier'\n"
        "assert cardlib.Verdict is Verdict\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd="/", timeout=60)
    assert done.returncode == 0, done.stderr


def test_verify_takes_a_path_a_card_image_or_a_read_result(image: CardImage, trust: TrustStore,
                                                           tmp_path: Path) -> None:
    image.dump().save(tmp_path / "dump")
    by_text = verify(str(tmp_path / "dump"), trust)
    by_path = cardlib.verify(tmp_path / "dump", trust)
    by_image = verify(image.dump(), trust)
    assert by_text.verdict is by_path.verdict is by_image.verdict is Verdict.VALID
    assert by_text.source == by_path.source == str(tmp_path / "dump")
    assert by_text.to_dict()["checks"] == by_image.to_dict()["checks"]
    live = verify(_read(image), trust)
    assert live.check("live.chip_authentication").status is Status.PASS and live.verdict is Verdict.VALID


@pytest.mark.parametrize(("call", "named"), [
    (lambda trust: verify(42, trust), "card must be a path"),  # type: ignore[arg-type]
    (lambda trust: verify(b"/tmp/dump", trust), "got bytes"),  # type: ignore[arg-type]
    (lambda trust: verify(sample_card_image(), "trust.pem"), "trust must be a TrustStore"),  # type: ignore[arg-type]
    (lambda trust: verify(sample_card_image(), trust, policy=True), "policy must be a LivenessPolicy"),  # type: ignore[arg-type]
    (lambda trust: verify_read(sample_card_image(), trust), "read must be the ReadResult"),  # type: ignore[arg-type]
    (lambda trust: cardlib.personalize({"id_number": "001190000000"}, b"", None), "resident must be a Resident"),  # type: ignore[arg-type]
    (lambda trust: read_card("Virtual PCD", AccessKey.can("123456")), "transport must have transmit"),  # type: ignore[arg-type]
    (lambda trust: read_card(InProcessTransport(VirtualChip(sample_card_image())), "123456"),  # type: ignore[arg-type]
     "key must be an AccessKey"),
])
def test_a_wrong_argument_type_is_a_type_error_naming_it(call: Any, named: str, trust: TrustStore) -> None:
    with pytest.raises(TypeError, match=named):
        call(trust)


# -- plain data: the holder -----------------------------------------------------------------------------------


def test_the_holder_is_typed_data_with_the_portrait(image: CardImage, trust: TrustStore) -> None:
    holder = verify(image.dump(), trust).holder
    person = sample_resident()
    assert holder.source == "DG13" and holder.full_name == person.full_name and holder.id_number == person.id_number
    assert (holder.date_of_birth, holder.date_of_issue, holder.date_of_expiry) == (
        person.date_of_birth, person.date_of_issue, person.date_of_expiry)
    assert holder.sex is Sex.FEMALE and not holder.never_expires
    assert {field.name: getattr(holder, field.name) for field in dataclasses.fields(Resident)} == {
        field.name: getattr(person, field.name) for field in dataclasses.fields(Resident)}  # every DG13 field
    assert holder.document_code == "ID" and holder.document_number == person.id_number[-9:]
    assert holder.portrait is not None and holder.portrait.mime_type == "image/jpeg"
    assert holder.portrait.data == image.files["DG2"][-len(holder.portrait.data):]
    assert holder.portrait.to_pil().size[0] > 0
    assert person.id_number not in repr(holder) and person.full_name not in repr(holder)
    with pytest.raises(dataclasses.FrozenInstanceError):
        holder.full_name = "x"  # type: ignore[misc]
    plain = holder.to_dict()
    assert plain["date_of_birth"] == "1990-07-02" and plain["sex"] == "female" and plain["unparsed"] == {}
    assert holder.card_kind is CardKind.CCCD_2021 and plain["card_kind"] == "cccd_2021"
    assert json.loads(json.dumps(plain)) == plain


def test_the_mrz_alone_gives_what_it_can_with_dates_in_their_century(image: CardImage) -> None:
    holder = read_holder({name: data for name, data in image.files.items() if name != "DG13"},
                         today=date(2026, 1, 1))
    assert holder.source == "DG1" and holder.full_name == "NGUYEN THI THU HUONG" and holder.sex is Sex.FEMALE
    assert holder.card_kind is None
    assert holder.date_of_birth == date(1990, 7, 2) and holder.date_of_expiry == date(2030, 7, 2)
    assert holder.display()["ID number"] == sample_resident().id_number and holder.nationality == "VNM"
    assert mrz_date("991231", date(2026, 1, 1), future_years=0) == date(1999, 12, 31)
    assert mrz_date("250101", date(2026, 1, 1), future_years=0) == date(2025, 1, 1)
    assert mrz_date("270101", date(2026, 1, 1), future_years=0) == date(1927, 1, 1)
    assert mrz_date("700101", date(2026, 1, 1), future_years=50) == date(2070, 1, 1)
    assert mrz_date("801301", date(2026, 1, 1), future_years=50) is None
    assert not read_holder({}) and read_holder({}).display() == {}


def test_a_card_without_expiry_says_so_rather_than_leaving_a_blank() -> None:
    person = dataclasses.replace(sample_resident(), date_of_expiry=None)
    holder = holder_of(None, DG13.from_resident(person), None, today=date(2026, 1, 1))
    assert holder.date_of_expiry is None and holder.never_expires and not holder.unparsed
    assert holder.display()["date of expiry"] == "Không thời hạn" and holder.to_dict()["never_expires"] is True


def test_a_field_with_two_values_is_kept_unparsed_never_chosen(image: CardImage) -> None:
    dg13 = DG13.decode(image.files["DG13"])
    entries = tuple(DG13Field(n, (*e.values, DG13Text("01/01/1980"))) if n == FieldNumber.DATE_OF_BIRTH
                    else DG13Field(n, e.values) for n, e in dg13.fields.items())
    holder = holder_of(DG1.decode(image.files["DG1"]), DG13(entries), None, today=date(2026, 1, 1))
    assert holder.date_of_birth is None and holder.full_name == sample_resident().full_name
    assert holder.unparsed["date_of_birth"].startswith("02/07/1990 | 01/01/1980 (ambiguous")
    assert holder.display()["date of birth"] == holder.unparsed["date_of_birth"]


# -- plain data: the resident ---------------------------------------------------------------------------------

_TEXT = st.text(alphabet="aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậ", min_size=1, max_size=12)


@st.composite
def residents(draw: st.DrawFn) -> Resident:
    birth = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)))
    sex = draw(st.sampled_from(Sex))
    digit = century_sex_digit(birth.year, sex is Sex.FEMALE)
    province = draw(st.sampled_from(sorted(PROVINCES)))
    serial = draw(st.integers(min_value=0, max_value=999_999))
    issue = draw(st.dates(min_value=birth, max_value=date(2199, 1, 1)))
    expiry = draw(st.none() | st.dates(min_value=date.fromordinal(issue.toordinal() + 1), max_value=date(2299, 1, 1)))
    name = " ".join(word.capitalize() for word in draw(st.lists(_TEXT, min_size=2, max_size=4)))
    return Resident(
        id_number=f"{province}{digit}{birth.year % 100:02d}{serial:06d}", full_name=name, date_of_birth=birth,
        sex=sex, place_of_origin=draw(_TEXT), place_of_residence=draw(_TEXT), date_of_issue=issue,
        date_of_expiry=expiry, mother_name=draw(st.just("") | _TEXT.map(str.capitalize)),
        old_id_number=draw(st.just("") | st.from_regex(r"\A[0-9]{9}\Z")),
    )


@settings(max_examples=80, deadline=None)
@given(residents())
def test_a_resident_round_trips_through_plain_json(resident: Resident) -> None:
    plain = resident.to_dict()
    assert Resident.from_dict(json.loads(json.dumps(plain, ensure_ascii=False))) == resident
    assert plain["sex"] in ("male", "female") and isinstance(plain["date_of_birth"], str)


@pytest.mark.parametrize(("change", "field"), [
    ({"date_of_birth": "02/07/1990"}, "date_of_birth"), ({"date_of_issue": 20210410}, "date_of_issue"),
    ({"sex": "x"}, "sex"), ({"sex": 1}, "sex"), ({"nickname": "Hương"}, "nickname"),
    ({"full_name": None}, "full_name"), ({"date_of_birth": None}, "date_of_birth"),
])
def test_from_dict_names_the_field_it_refuses(change: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Resident.from_dict({**sample_resident().to_dict(), **change})
    assert caught.value.field == field
    plain = sample_resident().to_dict()
    del plain["place_of_origin"]
    with pytest.raises(ValidationError, match="place_of_origin: missing"):
        Resident.from_dict(plain)


# -- one liveness policy ---------------------------------------------------------------------------------------


def test_a_read_without_chip_proof_is_cannot_tell_in_the_library_the_counter_and_by_policy(
        image: CardImage, trust: TrustStore) -> None:
    unproven = _read(image, proofs=False)
    report = verify_read(unproven, trust)
    assert report.verdict is Verdict.CANNOT_TELL and [c.id for c in report.undecided()] == [CHIP_PROVEN]
    assert counter_verdict(report).outcome is Outcome.CANNOT_TELL
    assert verify_read(unproven, trust, policy=LivenessPolicy.NEVER).verdict is Verdict.VALID
    proven = verify_read(_read(image), trust)
    assert proven.verdict is Verdict.VALID and proven.check(CHIP_PROVEN).status is Status.PASS
    assert counter_verdict(proven).outcome is Outcome.GENUINE
    dump = verify(image.dump(), trust)
    assert dump.verdict is Verdict.VALID and dump.check(CHIP_PROVEN).status is Status.NOT_APPLICABLE
    assert verify(image.dump(), trust, policy=LivenessPolicy.ALWAYS).verdict is Verdict.CANNOT_TELL


def test_cardtool_verify_applies_the_policy_and_prints_schema_json(
        image: CardImage, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image.dump().save(tmp_path / "dump")
    sample_pki().save(tmp_path / "pki")
    trust_args = ["--trust", str(tmp_path / "pki" / "csca.pem"), str(tmp_path / "pki" / "crl.pem")]
    assert main(["verify", str(tmp_path / "dump"), *trust_args, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    jsonschema.validate(document, report_schema())
    assert document["holder"]["full_name"] == sample_resident().full_name
    assert main(["verify", str(tmp_path / "dump"), *trust_args, "--liveness", "always"]) == 2
    assert "CANNOT TELL: the chip did not prove itself" in capsys.readouterr().out


# -- the JSON schema -------------------------------------------------------------------------------------------


def _representative_reports(image: CardImage, trust: TrustStore, shared_data: Path) -> dict[str, VerificationReport]:
    passport_at = datetime(2008, 6, 1, tzinfo=UTC)
    return {
        "valid": verify(image.dump(), trust),
        "invalid": verify(forge_dg13_expiry(image).dump(), trust),
        "cannot tell": verify(image.dump(), TrustStore()),
        "passport": verify(shared_data / "bsi2008", trust, at=passport_at),
        "live": verify_read(_read(image), trust),
        "live unproven": verify_read(_read(image, proofs=False), trust),
        "mrz only": verify(CardImage({n: d for n, d in image.files.items() if n != "DG13"}), trust),
        "portrait only": verify(CardImage({"DG2": image.files["DG2"]}), trust),
        "nothing": verify(CardImage({}), trust),
    }


def test_every_representative_report_satisfies_the_shipped_schema(
        image: CardImage, trust: TrustStore, shared_data: Path) -> None:
    schema = report_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    reports = _representative_reports(image, trust, shared_data)
    verdicts = {name: report.verdict for name, report in reports.items()}
    assert verdicts["valid"] is Verdict.VALID and verdicts["invalid"] is Verdict.INVALID
    assert verdicts["cannot tell"] is verdicts["passport"] is verdicts["live unproven"] is Verdict.CANNOT_TELL
    assert reports["passport"].holder.source == "DG1" and reports["passport"].holder.document_code == "P"
    for name, report in reports.items():
        for document in (json.loads(report.to_json()), json.loads(report.to_json(include_portrait=True))):
            errors = [f"{list(error.path)}: {error.message}" for error in validator.iter_errors(document)]
            assert not errors, (name, errors)
            assert document["schema_version"] == SCHEMA_VERSION
    assert json.loads(reports["nothing"].to_json())["holder"] is None
    portrait_only = json.loads(reports["portrait only"].to_json())["holder"]
    assert portrait_only["source"] == "" and portrait_only["portrait"]["mime_type"] == "image/jpeg"


def test_the_schema_refuses_what_the_report_never_writes(image: CardImage, trust: TrustStore) -> None:
    document = json.loads(verify(image.dump(), trust).to_json())
    validator = jsonschema.Draft202012Validator(report_schema())
    for broken in ({**document, "verdict": "genuine"}, {**document, "schema_version": 2},
                   {**document, "holder": {**document["holder"], "date_of_birth": "02/07/1990"}},
                   {**document, "holder": {**document["holder"], "sex": "Nữ"}},
                   {key: value for key, value in document.items() if key != "checks"}):
        assert not validator.is_valid(broken)


def test_the_schema_ships_inside_the_package() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "schemas/*.json" in pyproject["tool"]["setuptools"]["package-data"]["cardlib"]
    assert report_schema()["properties"]["schema_version"] == {"const": SCHEMA_VERSION}
    assert isinstance(Holder(), Holder) and not Holder()
