"""CSV files the tools write, safe to open in a spreadsheet: the one writer of every CSV cardtool produces.

A cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which some
spreadsheets skip before reading a formula) is a formula to Excel, LibreOffice and Google Sheets: a
resident's name or a chip's data group text such as ``=HYPERLINK("http://…")`` would run when a
supervisor opens the report (CSV injection, OWASP).  Such text cells get a single quote in front
(``'=…``), which spreadsheets show as plain text.  The quote stays in the file: a program reading the
CSV back (e.g. ``rejected.csv`` fixed by hand and fed to ``cardtool perso`` again) sees it and must
drop a leading ``'`` before one of these characters.  Numbers are written as they are (``-1`` is a
number, not a formula).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula."""


def spreadsheet_cell(value: object) -> object:
    """``value`` as a CSV cell no spreadsheet runs: text starting like a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Write ``header`` and ``rows`` to ``path`` (UTF-8, RFC 4180 quoting), every cell through
    :func:`spreadsheet_cell`."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([spreadsheet_cell(cell) for cell in header])
        writer.writerows([spreadsheet_cell(cell) for cell in row] for row in rows)
