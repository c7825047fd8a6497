"""cardtool.spreadsheet: every CSV cell that a spreadsheet would run as a formula is written as text."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from cardtool.spreadsheet import spreadsheet_cell, write_csv


@pytest.mark.parametrize("cell", ["=1+1", "+41 22", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1"])
def test_formula_cells_get_a_leading_quote(cell: str) -> None:
    assert spreadsheet_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["Nguyễn Văn An", "079190000001", "a=b", " =1", "", "'=1", 0, -1, 2.5])
def test_other_cells_are_unchanged(cell: object) -> None:
    assert spreadsheet_cell(cell) == cell


def test_write_csv_makes_every_cell_safe(tmp_path: Path) -> None:
    write_csv(tmp_path / "out.csv", ["=head", "n"], [["=HYPERLINK(\"http://evil\")", -3], ["ok, \"quoted\"", 4]])
    rows = list(csv.reader((tmp_path / "out.csv").open(encoding="utf-8", newline="")))
    assert rows == [["'=head", "n"], ["'=HYPERLINK(\"http://evil\")", "-3"], ["ok, \"quoted\"", "4"]]
