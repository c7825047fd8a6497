"""One hypothesis strategy for "a known-good file with a few bytes changed", shared by the tests that compare a
fast decoder with the reference one (SOD, DG13, DG14)."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

OPERATIONS = ("set", "insert", "delete")


@st.composite
def mutated(draw: st.DrawFn, bases: Sequence[bytes], operations: Sequence[str] = OPERATIONS) -> bytes:
    """One of ``bases`` with one to three bytes overwritten, inserted or deleted, or (``"truncate"``) its end cut."""
    data = bytearray(draw(st.sampled_from(list(bases))))
    for _ in range(draw(st.integers(1, 3))):
        if len(data) < 2:
            break
        where = draw(st.integers(0, len(data) - 1))
        operation = draw(st.sampled_from(list(operations)))
        if operation == "set":
            data[where] = draw(st.integers(0, 255))
        elif operation == "insert":
            data.insert(where, draw(st.integers(0, 255)))
        elif operation == "delete":
            del data[where]
        else:
            del data[max(where, 1):]
    return bytes(data)
