"""Report pages print text from hostile cards and input files: every value is escaped by the templates."""

from __future__ import annotations

import re
from pathlib import Path

from cardtool.charts import bar_chart
from cardtool.perso_command import ManifestReport
from cardtool.qa_report import PersoInput, RunInfo, qa_page
from cardtool.qa_summary import BatchSummary

from cardlib.batch.manifest import PersoEntry, PortraitNote
from cardlib.batch.outcome import CardOutcome
from cardlib.batch.perso import BatchRecord
from cardlib.batch.sources import ManifestEntry

HOSTILE = "<script>alert('x')</script>"
ESCAPED = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"


def _scripts(page: str) -> list[str]:
    return re.findall(r"<script\b", page)


def test_qa_page_escapes_a_hostile_dg13_name_reason_reader_and_signer() -> None:
    summary = BatchSummary()
    outcome = CardOutcome("card 1", "invalid", "summary", ("hash.DG13",), (), holder={"full name": HOSTILE},
                          reasons={"hash.DG13": f"DG13 reason {HOSTILE}"}, reader=f"reader {HOSTILE}",
                          signer=f"CN={HOSTILE}", finished=1000.0)
    list(summary.counted([outcome]))
    list(summary.missing_rows([ManifestEntry(2, f"079{HOSTILE}", Path(f"/cards/{HOSTILE}"))]))
    perso = PersoInput("/perso", f"{HOSTILE}.csv", "00" * 32, HOSTILE, 1, 1, f"/perso/{HOSTILE}.csv",
                       ((3, HOSTILE, HOSTILE, HOSTILE),))
    page = qa_page(summary, f"QA {HOSTILE}", RunInfo(batch=HOSTILE, operator=HOSTILE, sources=(HOSTILE,),
                                                   trust_anchors=(HOSTILE,), perso=perso))
    assert _scripts(page) == ["<script"]  # the page's own search script, nothing from the card
    assert f"DG13 reason {ESCAPED}" in page and f"<td>{ESCAPED}</td>" in page
    assert f"<td>reader {ESCAPED}</td>" in page and f"<li>CN={ESCAPED} — 1 cards</li>" in page
    assert f"<title>QA {ESCAPED}</title>" in page and f"<h1>{ESCAPED}</h1>" in page
    data_s = re.search(r"data-s='([^']*)'", page)
    assert data_s is not None and "<" not in data_s.group(1)  # the search attribute cannot be broken out of


def test_perso_page_escapes_a_hostile_input_title_and_rejected_row() -> None:
    entries = [PersoEntry(1, "personalized", "001", card="c", portrait=PortraitNote("resized", f"big {HOSTILE}")),
               PersoEntry(2, "rejected", HOSTILE, field=HOSTILE, reason=f"bad {HOSTILE}")]
    page = ManifestReport.of(entries).html(f"Personalization of {HOSTILE}.csv",
                                           BatchRecord(HOSTILE, f"/in/{HOSTILE}.csv", "ff" * 32, "2026-01-01"))
    assert _scripts(page) == []
    assert f"<title>Personalization of {ESCAPED}.csv</title>" in page
    assert f"<td>bad {ESCAPED}</td>" in page and f"<td>big {ESCAPED}</td>" in page
    assert f"Input /in/{ESCAPED}.csv (SHA-256 " in page
    assert "1 personalized, 1 rejected" in page


def test_chart_labels_are_escaped_and_cut() -> None:
    chart = bar_chart([(HOSTILE, 3), ("date_of_birth", 1)])
    assert "<script" not in chart and "&lt;script&gt;alert(&#39;x&#39;)&lt;/scrip" in chart
    assert chart.count("<rect") == 2 and chart.startswith("<svg width='640' height='52'")
