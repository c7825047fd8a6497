"""Personalization input: residents to put on cards, read from CSV or JSON Lines, one record at a time.

Both formats carry the same fields (:data:`~.input_records.COLUMNS`; other columns are ignored).  Dates are
``dd/mm/yyyy`` or ``yyyy-mm-dd``; ``date_of_expiry`` may be ``Không thời hạn``; ``sex`` is ``Nam``/``Nữ``;
``portrait`` is an image path relative to the input file.  Optional fields (identification marks, parents, spouse,
old ID) are ``""``.  JSON Lines is UTF-8, one object of strings per line.

Two optional columns (:data:`~.input_records.FINGER_COLUMNS`), ``right_index_finger`` and ``left_index_finger``,
give the index-finger images that go to DG3 (paths relative to the input file, like ``portrait``; WSQ, PNG, JPEG
or JPEG 2000); a file may leave the columns out, a row may leave either empty.

A record for the 2024 *Căn cước* card (issued from 1 July 2024, :mod:`cardlib.lds.dg13`) uses that card's
names (:data:`~.input_records.CAN_CUOC_COLUMNS`): ``place_of_birth_registration`` instead of ``place_of_origin``, no
``identification_marks``, and optionally ``card_kind`` (a :class:`~cardlib.lds.dg13_fields.CardKind` value,
``cccd`` or ``can_cuoc``), which must agree with the kind the date of issue makes the card.  A record
giving a field its card kind does not print (a place of origin or identification marks on a Căn cước, a
place of birth registration on a CCCD) is rejected naming that field: the two are different facts.

CSV comes as Excel saves it on the operator's PC: :mod:`cardlib.card.input_csv` detects its encoding and
separator, and reads a correction file (a fixed ``rejected.csv`` of ``cardtool perso``) with its batch row numbers.
JSON Lines is read by :mod:`cardlib.card.input_jsonl`; the fields of a record and their checks are
:mod:`cardlib.card.input_records`.

:func:`read_records` streams: 10,000-row files never sit in memory.  Every record yields exactly one
:class:`~.input_records.InputRecord` or one :class:`~.input_records.RejectedRow` naming the field at fault; only
problems with the file as a whole (unreadable, unknown format, a header column missing) raise :class:`InputError`.
``row`` is the 1-based line number in the file where the record ends (the CSV header is line 1).  Each record
carries a :func:`~.input_records.fingerprint` of its values, so a resumed batch can tell a changed row from the
one it already did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from cardlib.card.input_csv import csv_rows
from cardlib.card.input_jsonl import JSON_SUFFIXES, jsonl_rows
from cardlib.card.input_records import InputRecord, RejectedRow, record
from cardlib.errors import InputError

__all__ = ["read_records"]


def read_records(path: Path | str, *, check_portraits: bool = True,
                 cell: Callable[[str], str] | None = None) -> Iterator[InputRecord | RejectedRow]:
    """Stream the records of a ``.csv`` or ``.jsonl``/``.ndjson`` file.

    ``check_portraits=False`` skips the check that each portrait and finger image file exists (for validating
    data before the images are ready).  ``cell``, when given, is applied to every CSV cell first (e.g. to drop the quote
    a spreadsheet-safe CSV writer put before formula-like text).
    """
    source = Path(path)
    if source.suffix.lower() == ".csv":
        rows = csv_rows(source, cell)
    elif source.suffix.lower() in JSON_SUFFIXES:
        rows = jsonl_rows(source)
    else:
        raise InputError("unknown input format: expected .csv, .jsonl or .ndjson", source=str(source))
    for row, values in rows:
        yield values if isinstance(values, RejectedRow) else record(row, values, source.parent, check_portraits)
