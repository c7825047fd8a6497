"""CSV files safe to open in a spreadsheet, both ways: the one writer of every CSV cardlib and cardtool produce,
and the reader's undo of its one change.

A cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which some
spreadsheets skip before reading a formula) is a formula to Excel, LibreOffice and Google Sheets: a
resident's name or a chip's data group text such as ``=HYPERLINK("http://…")`` would run when a
supervisor opens the report (CSV injection, OWASP).  Such text cells get a single quote in front
(``'=…``), which spreadsheets show as plain text.  The quote stays in the file: a program reading the
CSV back (e.g. ``rejected.csv`` fixed by hand and fed to batch personalization again) drops it with
:func:`plain_cell`.  Numbers are written as they are (``-1`` is a number, not a formula).

It lives in the library because batch personalization writes ``rejected.csv`` and reads it back
(:mod:`cardlib.batch.manifest`); ``cardtool.spreadsheet`` re-exports it for the tools' reports.
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


def plain_cell(value: str) -> str:
    """A cell read back without the ``'`` :func:`spreadsheet_cell` put before formula-like text."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_STARTS) else value


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Write ``header`` and ``rows`` to ``path`` (UTF-8, RFC 4180 quoting), every cell through
    :func:`spreadsheet_cell`."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([spreadsheet_cell(cell) for cell in header])
        writer.writerows([spreadsheet_cell(cell) for cell in row] for row in rows)
