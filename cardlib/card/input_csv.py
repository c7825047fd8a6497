"""CSV personalization input, as Excel saves it on the operator's PC: its layout is detected (:func:`csv_layout`).

* encoding: a byte order mark says UTF-8 or UTF-16 (Excel's "Unicode Text" and "CSV UTF-8"); without
  one the file is UTF-8 when it decodes so.  A file with no valid UTF-8 letter but whose bytes decode
  in Windows-1258 to Vietnamese letters (đ, ă, ơ, ư or a combining tone mark) is Windows-1258, the ANSI
  code page Excel's plain "CSV" uses on a Vietnamese-locale PC: there are no other Vietnamese legacy
  encodings Excel writes, and such text cannot be UTF-8.  Any other line that is not UTF-8 is a row
  error saying how to save the file as "CSV UTF-8".  Windows-1258 writes tone marks as combining
  characters: every value is normalised to NFC, as DG13 and the MRZ expect.
* separator: ``,``, ``;`` (Excel where the decimal mark is a comma, as in Vietnam) or tab, whichever the
  header row holds most of.  The header names are known and contain none of them, so this is exact
  where :class:`csv.Sniffer` guesses from the data (addresses are full of commas).

A CSV carrying ``row``, ``field`` and ``reason`` columns is a correction file (the ``rejected.csv`` of
``cardtool perso``, fixed and fed back): its records keep the batch row numbers of its ``row`` column.

Each row gives its values by header name (other columns are ignored), NFC-normalised; a row that cannot be read
(malformed CSV, bytes that are not UTF-8, a wrong number of values) is a :class:`~.input_records.RejectedRow`.
"""

from __future__ import annotations

import codecs
import csv
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from cardlib.card.input_records import (
    CAN_CUOC_COLUMNS,
    COLUMNS,
    CORRECTION_COLUMNS,
    NOT_ON_CAN_CUOC,
    RejectedRow,
    Row,
    fingerprint,
    open_error,
)
from cardlib.errors import InputError

__all__ = ["SAVE_AS_UTF8", "SEPARATORS", "CSVLayout", "csv_layout", "csv_rows", "is_correction_file"]

SEPARATORS = (",", ";", "\t")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig", "UTF-8 with a byte order mark"),
         (codecs.BOM_UTF16_LE, "utf-16", "UTF-16 (little-endian, with a byte order mark)"),
         (codecs.BOM_UTF16_BE, "utf-16", "UTF-16 (big-endian, with a byte order mark)"))
_VIETNAMESE_1258 = frozenset("đĐăĂơƠưƯ\u0300\u0301\u0303\u0309\u0323")
"""Characters only Vietnamese text decodes to in Windows-1258 (the letters and tone marks cp1252 lacks)."""
SAVE_AS_UTF8 = 'save it as "CSV UTF-8" (Excel: File > Save As > CSV UTF-8 (Comma delimited) (*.csv))'

@dataclass(frozen=True)
class CSVLayout:
    """How a CSV file is written: its Python codec, that encoding in words, and its separator."""

    encoding: str
    description: str
    separator: str

    def describe(self) -> str:
        """The layout in words, for messages about the file."""
        names = {",": "comma", ";": "semicolon", "\t": "tab"}
        return f"read as {self.description}, {names[self.separator]}-separated"



def is_correction_file(path: Path | str) -> bool:
    """True when ``path`` is a CSV whose header has the :data:`CORRECTION_COLUMNS` (a fixed ``rejected.csv``)."""
    source = Path(path)
    if source.suffix.lower() != ".csv":
        return False
    layout = csv_layout(source)
    with _open_text(source, layout) as handle:
        header = next(csv.reader(handle, delimiter=layout.separator), [])
    return set(CORRECTION_COLUMNS) <= {name.strip() for name in header}



def csv_layout(path: Path | str) -> CSVLayout:
    """The encoding and separator of a CSV file (see the module docstring); InputError when unreadable."""
    source = Path(path)
    try:
        with source.open("rb") as handle:
            start = handle.read(4)
            marked = [(encoding, description) for bom, encoding, description in _BOMS if start.startswith(bom)]
            handle.seek(0)
            encoding, description = marked[0] if marked else _guess_encoding(handle, source)
    except OSError as exc:
        raise open_error(source, exc) from None
    layout = CSVLayout(encoding, description, ",")
    with _open_text(source, layout) as handle:
        try:
            header = handle.readline()
        except UnicodeDecodeError as exc:  # only in UTF-16, where a torn byte pair cannot be escaped
            raise InputError(f"not {description} ({exc.reason}); {SAVE_AS_UTF8}", source=str(source), row=1) from None
    separator = max(SEPARATORS, key=header.count)
    return CSVLayout(encoding, description, separator if header.count(separator) else ",")


def _guess_encoding(handle: Iterator[bytes], source: Path) -> tuple[str, str]:
    """UTF-8, or Windows-1258 when the file clearly is that (no UTF-8 letter, Vietnamese in Windows-1258)."""
    utf8_letters = vietnamese_1258 = False
    all_1258 = True
    for number, line in enumerate(handle, start=1):
        if number == 1 and b"\0" in line:  # a NUL further down is only that row's error
            raise InputError(f"the header holds NUL bytes: the file looks like UTF-16 without a byte order "
                             f"mark; {SAVE_AS_UTF8}", source=str(source), row=number)
        try:
            utf8_letters |= not line.decode("utf-8").isascii()
        except UnicodeDecodeError:
            try:
                vietnamese_1258 |= not _VIETNAMESE_1258.isdisjoint(line.decode("cp1258"))
            except UnicodeDecodeError:
                all_1258 = False
    if vietnamese_1258 and all_1258 and not utf8_letters:
        return "cp1258", "Windows-1258 (Excel's Vietnamese \"CSV\")"
    return "utf-8", "UTF-8"


def _open_text(source: Path, layout: CSVLayout) -> TextIO:
    try:
        return source.open(encoding=layout.encoding, errors="surrogateescape", newline="")
    except OSError as exc:
        raise open_error(source, exc) from None


def csv_rows(source: Path, cell: Callable[[str], str] | None) -> Iterator[Row]:
    """The rows of a CSV file, each after ``cell`` (when given) is applied to its cells; InputError when the file as
    a whole cannot be read (no header, a header column missing, UTF-16 torn)."""
    layout = csv_layout(source)
    with _open_text(source, layout) as handle:
        reader = csv.reader(handle, delimiter=layout.separator)
        header = _csv_header(reader, source, layout)
        correction = set(CORRECTION_COLUMNS) <= set(header)
        while True:
            try:
                raw = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield reader.line_num, RejectedRow(reader.line_num, f"malformed CSV ({exc})", None, None)
                continue
            except UnicodeDecodeError as exc:  # only in UTF-16, where a torn byte pair cannot be escaped
                raise InputError(f"not {layout.description} ({exc.reason}); {SAVE_AS_UTF8}", source=str(source),
                                 row=reader.line_num + 1) from None
            if not any(value.strip() for value in raw):
                continue
            yield _csv_row(reader.line_num, header, [_cell(value, cell) for value in raw], correction)


def _cell(value: str, cell: Callable[[str], str] | None) -> str:
    value = unicodedata.normalize("NFC", value)
    return cell(value) if cell is not None else value


def _csv_row(line: int, header: list[str], raw: list[str], correction: bool) -> Row:
    """One CSV record as a mapping, or a row error (wrong value count, bytes that are not UTF-8)."""
    values = dict(zip(header, raw, strict=False))
    row = _batch_row(values.get("row", "")) if correction else None
    row = row if row is not None else line
    for name, value in values.items():
        bad = next((char for char in value if "\udc80" <= char <= "\udcff"), None)
        if bad is not None:
            return row, _row_error(row, f"the line is not UTF-8 (byte 0x{ord(bad) - 0xDC00:02X} in column {name}): "
                                        f"{SAVE_AS_UTF8}", values)
    if len(raw) != len(header):
        return row, _row_error(row, f"{len(raw)} values but the header has {len(header)} columns", values)
    return row, values


def _batch_row(text: str) -> int | None:
    """The batch row number a correction file's ``row`` cell gives, if it is one."""
    return int(text) if text.strip().isdigit() else None


def _row_error(row: int, reason: str, values: Mapping[str, str]) -> RejectedRow:
    shown = {name: value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
             for name, value in values.items() if name not in CORRECTION_COLUMNS}
    raw_id = shown.get("id_number", "").strip()
    return RejectedRow(row, reason, None, raw_id if raw_id.isprintable() and raw_id else None, shown,
                       fingerprint(values))


def _csv_header(reader: Iterator[list[str]], source: Path, layout: CSVLayout) -> list[str]:
    try:
        header = [unicodedata.normalize("NFC", name).strip() for name in next(reader)]
    except StopIteration:
        raise InputError("empty file: a header row is expected", source=str(source), row=1) from None
    except csv.Error as exc:
        raise InputError(f"malformed header ({exc})", source=str(source), row=1) from None
    can_cuoc = CAN_CUOC_COLUMNS[0] in header
    missing = [name for name in COLUMNS if name not in header and not (can_cuoc and name in NOT_ON_CAN_CUOC)]
    if len(missing) == len(COLUMNS):
        raise InputError(f"the first line is not the header row ({layout.describe()}, it reads "
                         f"{_preview(header)}): expected the columns {', '.join(COLUMNS)}, separated by "
                         "commas, semicolons or tabs", source=str(source), row=1, field=missing[0])
    if missing:
        raise InputError(f"header lacks column(s) {', '.join(missing)} ({layout.describe()})", source=str(source),
                         row=1, field=missing[0])
    return header


def _preview(header: list[str]) -> str:
    """The header cells joined by ``|``, cut to 60 characters, for a message."""
    text = "|".join(header)
    return repr(text if len(text) <= 60 else text[:57] + "...")
