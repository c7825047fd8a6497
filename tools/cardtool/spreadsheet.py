"""CSV files the tools write, safe to open in a spreadsheet: the library's writer
(:mod:`cardlib.batch.spreadsheet`, whose docstring says what is changed and why), named here for the tools."""

from __future__ import annotations

from cardlib.batch.spreadsheet import FORMULA_STARTS, plain_cell, spreadsheet_cell, write_csv

__all__ = ["FORMULA_STARTS", "plain_cell", "spreadsheet_cell", "write_csv"]
