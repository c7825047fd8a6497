"""The QA report a shift supervisor acts on: header, groups in words, one count per card, cards.csv, search and
filter offline (in headless Chromium), per-reader statistics, ``cardtool qa --recheck failed``."""

from __future__ import annotations

import csv
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cardtool.main import main
from cardtool.perso_command import personalize_batch
from cardtool.qa_report import CARDS, operator, qa_page
from cardtool.qa_summary import REASONS_SHOWN, BatchSummary, FailureGroup, check_words
from cryptography import x509
from playwright.sync_api import Page, Request, expect, sync_playwright
from test_qa import SAMPLES, alter_file, card_folders, copy_as_dumps, outcomes, trust_args

from cardlib.batch.outcome import CardOutcome
from cardlib.testing.pki import sample_pki

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "qa"
REJECTED_ID = "001090999999"


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The sample residents plus one row perso rejects (31 February), personalized: (pki, perso)."""
    root = tmp_path_factory.mktemp("batch")
    shutil.copytree(SAMPLES.parent, root / "input")
    rows = (root / "input" / "residents.csv").read_text(encoding="utf-8").splitlines()
    bad = rows[1].split(",")
    bad[0], bad[2] = REJECTED_ID, "31/02/1990"
    (root / "input" / "residents.csv").write_text("\n".join([*rows, ",".join(bad)]) + "\n", encoding="utf-8")
    pki = sample_pki()
    pki.save(root / "pki")
    personalize_batch(root / "input" / "residents.csv", pki.document_signer, root / "perso")
    return root / "pki", root / "perso"


@pytest.fixture(scope="module")
def qa_run(batch: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], int]:
    """QA of six dumps of the batch (one altered after signing, one whose image is corrupt): (report, dumps,
    exit status)."""
    pki, perso = batch
    root = tmp_path_factory.mktemp("qa")
    dumps = copy_as_dumps(card_folders(perso)[:6], root / "dumps")
    alter_file(dumps[2], "DG13")
    (dumps[3] / "card.json").write_text("{not json", encoding="utf-8")
    status = main(["qa", str(root / "dumps"), "--expected", str(perso), *trust_args(pki), "--report",
                   str(root / "report"), "--workers", "1"])
    return root / "report", dumps, status


def _cards_csv(report: Path) -> list[dict[str, str]]:
    with (report / CARDS).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_header_names_batch_time_operator_trust_signers_and_perso_input(batch: tuple[Path, Path],
                                                                       qa_run: tuple[Path, list[Path], int]) -> None:
    pki, perso = batch
    report, _, _ = qa_run
    page = (report / "report.html").read_text(encoding="utf-8")
    assert "<h1>Personalization of residents.csv</h1>" in page  # the perso batch's title
    assert operator() in page and "@" in operator()
    assert "report written 20" in page and "QA started 20" in page
    for name in ("csca.pem", "ds.pem"):  # the trust anchor and the Document Signer: serial and key id
        certificate = x509.load_pem_x509_certificate((pki / name).read_bytes())
        key_id = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        assert f"serial {certificate.serial_number:X}; key id {key_id.hex(':')}" in page
    assert "— 5 cards</li>" in page  # the five readable cards carry the one Document Signer
    assert str((perso / "rejected.csv").resolve()) in page and "<b>1 rejected</b>" in page
    assert REJECTED_ID in page and "8 rows personalized" in page
    assert "PRIVATE KEY" not in page and "secrets" not in page


def test_groups_are_words_with_every_distinct_reason(qa_run: tuple[Path, list[Path], int]) -> None:
    report, dumps, status = qa_run
    assert status == 1
    page = (report / "report.html").read_text(encoding="utf-8")
    altered_vi, altered_en = check_words("hash.DG13", failed=True)
    assert "thông tin công dân" in altered_vi and "changed after" in altered_en
    assert f"<b>{altered_en}</b><br><i lang='vi'>{altered_vi}</i>" in page
    unreadable_vi, unreadable_en = check_words("read", failed=True)
    assert f"<b>{unreadable_en}</b><br><i lang='vi'>{unreadable_vi}</i>" in page
    data_en = check_words("batch.data", failed=True)[1]
    assert f"<b>{data_en}</b>" in page and f"differs from its card image {dumps[2].name}: DG13 (1)" in page


def test_failure_group_keeps_every_distinct_reason_up_to_a_bound() -> None:
    group = FailureGroup("x")
    for number in range(REASONS_SHOWN + 5):
        group.add(f"card-{number}", f"reason {number % (REASONS_SHOWN + 2)}")
    assert group.count == REASONS_SHOWN + 5 and len(group.reasons) == REASONS_SHOWN
    assert group.reasons["reason 0"] == 2 and group.other_reasons == 2


def test_a_card_counts_once_and_a_corrupt_image_is_unreadable_not_missing(
        batch: tuple[Path, Path], qa_run: tuple[Path, list[Path], int]) -> None:
    _, perso = batch
    report, dumps, _ = qa_run
    rows = _cards_csv(report)
    assert [row["verdict"] for row in rows].count("missing") == 2  # cards 7 and 8 only
    by_card = {row["card"]: row for row in rows}
    corrupt = by_card[dumps[3].name]
    assert corrupt["verdict"] == "unreadable" and corrupt["id_number"] == dumps[3].name.split("-")[1]
    assert corrupt["reasons"] == "Card unreadable" and corrupt["checks"] == "read"
    unreadable = [o for o in outcomes(report) if o.verdict == "error"]
    assert len(unreadable) == 1 and unreadable[0].summary.startswith("unreadable: ")
    assert {row["card"] for row in rows if row["verdict"] == "missing"} == {c.name for c in card_folders(perso)[6:8]}
    assert len(rows) == len(set(by_card)) == 8


def test_cards_csv_has_one_row_per_card_for_the_mes(qa_run: tuple[Path, list[Path], int]) -> None:
    report, dumps, _ = qa_run
    rows = _cards_csv(report)
    assert list(rows[0]) == ["id_number", "card", "verdict", "reasons", "ly_do", "checks", "read_ms", "reader",
                             "checked_at"]
    altered = next(row for row in rows if row["card"] == dumps[2].name)
    assert altered["verdict"] == "invalid" and altered["checks"] == "hash.DG13 batch.data"
    assert check_words("hash.DG13", failed=True)[1] in altered["reasons"]
    assert check_words("hash.DG13", failed=True)[0] in altered["ly_do"]
    valid = [row for row in rows if row["verdict"] == "valid"]
    assert len(valid) == 4 and all(float(row["read_ms"]) > 0 and row["checked_at"] for row in valid)


def test_the_page_references_nothing_online(qa_run: tuple[Path, list[Path], int]) -> None:
    report, _, _ = qa_run
    page = (report / "report.html").read_text(encoding="utf-8")
    assert re.search(r"https?://", page) is None
    assert all(source.startswith("data:") for source in re.findall(r"src=['\"]([^'\"]*)", page))
    assert "<script>" in page and "<script src" not in page and "<link" not in page


@pytest.fixture(scope="module")
def browser_page() -> Iterator[Page]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.set_default_timeout(10_000)
        yield page
        browser.close()


@pytest.mark.browser  # headless Chromium
def test_search_by_id_and_filter_by_reason_in_a_browser_offline(browser_page: Page,
                                                               qa_run: tuple[Path, list[Path], int]) -> None:
    report, dumps, _ = qa_run
    fetched: list[str] = []

    def record(request: Request) -> None:
        if not request.url.startswith(("file:", "data:")):
            fetched.append(request.url)

    browser_page.on("request", record)
    browser_page.goto((report / "report.html").as_uri())
    browser_page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=False)
    rows = browser_page.locator("#cardtable tbody tr")
    expect(rows).to_have_count(6)
    expect(browser_page.locator("#cardtable tbody tr:visible")).to_have_count(6)
    card_id = dumps[0].name.split("-")[1]
    browser_page.fill("#q", card_id)
    expect(browser_page.locator("#cardtable tbody tr:visible")).to_have_count(1)
    expect(browser_page.locator("#n")).to_have_text("1")
    browser_page.fill("#q", "")
    browser_page.locator("tr", has_text=check_words("batch.data", failed=True)[1]).locator("button").click()
    expect(browser_page.locator("#cardtable tbody tr:visible")).to_have_count(1)
    expect(browser_page.locator("#cardtable tbody tr:visible")).to_contain_text(dumps[2].name)
    browser_page.select_option("#g", "")
    browser_page.fill("#q", "card image")  # a reason's words: the card whose data differs from its image
    expect(browser_page.locator("#cardtable tbody tr:visible")).to_have_count(1)
    browser_page.fill("#q", "")
    browser_page.select_option("#g", label=" · ".join(reversed(check_words("read", failed=True))))
    expect(browser_page.locator("#cardtable tbody tr:visible")).to_have_count(1)
    expect(browser_page.locator("#cardtable tbody tr:visible")).to_contain_text(dumps[3].name)
    browser_page.select_option("#g", "")
    browser_page.select_option("#v", "valid")
    expect(browser_page.locator("#cardtable tbody tr:visible")).to_have_count(4)
    browser_page.fill("#q", "nguyen")  # without diacritics
    assert browser_page.locator("#cardtable tbody tr:visible").count() >= 1
    browser_page.screenshot(path=str(ARTIFACTS / "report-filtered.png"), full_page=False)
    assert fetched == []


def test_per_reader_statistics() -> None:
    summary = BatchSummary()
    for number, (reader, verdict) in enumerate([("ACS 0", "valid"), ("ACS 0", "valid"), ("ACS 1", "error"),
                                                ("ACS 1", "valid")]):
        outcome = CardOutcome(f"c{number}", verdict, "", ("read",) if verdict == "error" else (), (),
                              reader=reader, read_ms=100.0 * (number + 1), apdus=40, finished=1000.0 + 30 * number)
        list(summary.counted([outcome]))
    page = qa_page(summary, "t")
    assert summary.readers["ACS 0"].cards == 2 and summary.readers["ACS 1"].verdicts["error"] == 1
    row = re.search(r"<tr><td>ACS 1</td>(.*?)</tr>", page)
    assert row is not None
    cells = re.findall(r"<td class='num'>([^<]*)</td>", row.group(1))
    assert cells == ["2", "1", "0", "0", "1", "50.0%", "350", "40", "2.0"]


def test_recheck_failed_reads_only_failed_and_unreadable_cards_again(batch: tuple[Path, Path],
                                                                     tmp_path: Path) -> None:
    pki, perso = batch
    cards = card_folders(perso)[:4]
    dumps = copy_as_dumps(cards, tmp_path / "dumps")
    alter_file(dumps[1], "DG13")
    (dumps[2] / "card.json").write_text("{not json", encoding="utf-8")
    report = tmp_path / "report"
    arguments = ["qa", str(tmp_path / "dumps"), *trust_args(pki), "--report", str(report), "--workers", "1"]
    assert main(arguments) == 1
    before = {outcome.key: outcome for outcome in outcomes(report)}
    shutil.rmtree(dumps[2])
    copy_as_dumps([cards[2]], tmp_path / "dumps")  # the operator re-reads the unreadable card properly
    assert main([*arguments, "--recheck", "failed"]) == 1
    after = {outcome.key: outcome for outcome in outcomes(report)}
    assert len(outcomes(report)) == len(after) == 4
    for kept in (dumps[0], dumps[3]):
        assert after[str(kept)] == before[str(kept)]  # the same result, not checked again
    assert after[str(dumps[2])].verdict == "valid" and after[str(dumps[1])].verdict == "invalid"
    assert after[str(dumps[1])].finished > before[str(dumps[1])].finished
    assert len((report / "results.superseded.jsonl").read_text(encoding="utf-8").splitlines()) == 2
    assert "2 failed or unreadable cards of the earlier run checked again" in (report / "report.html").read_text(
        encoding="utf-8")


def test_recheck_without_an_earlier_run_says_so(batch: tuple[Path, Path], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    pki, perso = batch
    status = main(["qa", str(perso), *trust_args(pki), "--report", str(tmp_path / "r"), "--recheck", "failed"])
    assert status == 2
    assert "holds no results of an earlier run" in capsys.readouterr().err
