"""JSON Lines personalization input: UTF-8, one JSON object of strings per line (a byte order mark is skipped);
a line that is not UTF-8, not JSON or not an object is a :class:`~.input_records.RejectedRow`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

from cardlib.card.input_records import RejectedRow, Row, open_error

__all__ = ["JSON_SUFFIXES", "jsonl_rows"]

JSON_SUFFIXES = frozenset({".jsonl", ".ndjson"})


def jsonl_rows(source: Path) -> Iterator[Row]:
    """The rows of a JSON Lines file (blank lines skipped); InputError when the file cannot be opened."""
    try:
        handle = source.open("rb")
    except OSError as exc:
        raise open_error(source, exc) from None
    with handle:
        for row, raw in enumerate(handle, start=1):
            if row == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            yield row, _json_object(row, raw)


def _json_object(row: int, raw: bytes) -> Mapping[str, object] | RejectedRow:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return RejectedRow(row, f"not UTF-8 (byte {exc.start})", None, None)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return RejectedRow(row, f"malformed JSON ({exc.msg} at column {exc.colno})", None, None)
    if not isinstance(value, dict):
        return RejectedRow(row, "a JSON object is expected", None, None)
    return value
