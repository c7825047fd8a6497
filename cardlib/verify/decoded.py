"""Every LDS file of a card decoded once, by its own codec, into :class:`DecodedLDS`: the conformance checks,
the cross-checks and the holder summary all read that.

A file that does not decode keeps its error; the check that it decodes (:func:`decoded_check`) gives a FAIL
naming the file, field and offset, and the checks that needed its content become NOT_APPLICABLE pointing at that
failure (:func:`skipped_checks`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TypeVar

from cardlib.errors import CardlibError
from cardlib.lds.com import EFCOM
from cardlib.lds.dg1 import DG1
from cardlib.lds.dg2 import DG2
from cardlib.lds.dg3 import DG3
from cardlib.lds.dg13 import DG13
from cardlib.lds.dg15 import DG15
from cardlib.lds.securityinfo import DG14
from cardlib.verify.report import CheckResult, Group, Status

_T = TypeVar("_T")


def conformance_result(check_id: str, status: Status, reason: str) -> CheckResult:
    """A check of the CONFORMANCE group (the structure of the LDS files, TR-03105)."""
    return CheckResult(check_id, Group.CONFORMANCE, status, reason)


@dataclass(frozen=True)
class DecodedLDS:
    """Every LDS file of a card decoded once by its codec; what did not decode keeps its error, and an empty
    (0-byte) file is named in ``empty``, not decoded."""

    com: EFCOM | None = None
    dg1: DG1 | None = None
    dg2: DG2 | None = None
    dg3: DG3 | None = None
    dg13: DG13 | None = None
    dg14: DG14 | None = None
    dg15: DG15 | None = None
    errors: Mapping[str, CardlibError] = field(default_factory=dict)
    empty: frozenset[str] = frozenset()

    @classmethod
    def of(cls, files: Mapping[str, bytes]) -> DecodedLDS:
        """Decode EF.COM, DG1, DG2, DG3, DG13, DG14 and DG15 from ``files`` (file name → bytes)."""
        errors: dict[str, CardlibError] = {}
        empty = frozenset(name for name, data in files.items() if not data)

        def attempt(name: str, decoder: Callable[[bytes], _T]) -> _T | None:
            data = files.get(name)
            if not data:
                return None
            try:
                return decoder(data)
            except CardlibError as error:
                errors[name] = error
                return None

        return cls(
            com=attempt("EF.COM", EFCOM.decode), dg1=attempt("DG1", DG1.decode), dg2=attempt("DG2", DG2.decode),
            dg3=attempt("DG3", DG3.decode), dg13=attempt("DG13", DG13.decode), dg14=attempt("DG14", DG14.decode),
            dg15=attempt("DG15", DG15.decode), errors=errors, empty=empty,
        )

    def without(self, names: Iterable[str]) -> DecodedLDS:
        """What :meth:`of` gives for the same files but ``names``: files left out are not decoded again."""
        gone = set(names)
        return replace(self, **{attribute: None for name, attribute in _ATTRIBUTES.items() if name in gone},
                       errors={name: error for name, error in self.errors.items() if name not in gone},
                       empty=self.empty - gone)

    def unavailable(self, name: str) -> str:
        """Why file ``name`` has no decoded content: absent from the card, or failed to decode."""
        if name in self.errors:
            return f"{name} does not decode (see lds.{_check_name(name)})"
        if name in self.empty:
            return f"{name} is empty (see lds.{_check_name(name)})"
        return f"{name} is not in the dump"


# The file each decoded attribute of DecodedLDS holds.
_ATTRIBUTES = {"EF.COM": "com", "DG1": "dg1", "DG2": "dg2", "DG3": "dg3", "DG13": "dg13", "DG14": "dg14",
               "DG15": "dg15"}


def _check_name(name: str) -> str:
    return name.lower().replace("ef.", "")


def decoded_check(check_id: str, name: str, lds: DecodedLDS, value: object) -> CheckResult:
    """The ``lds.x`` check: PASS when the file decoded, FAIL naming where it broke, N/A when absent, WARN when
    empty: a 0-byte file claims nothing, so it proves no tampering (a data group EF.SOD lists fails its hash
    check instead), and a chip left unwritten is a defect to report, not evidence against the card."""
    if value is not None:
        return conformance_result(check_id, Status.PASS, f"{name} decodes")
    if name in lds.empty:
        return conformance_result(check_id, Status.WARN, f"{name} is empty (0 bytes): the chip holds the file "
                                  "with no content; unsigned, it is evidence neither way")
    if name in lds.errors:
        return conformance_result(check_id, Status.FAIL, f"{name} is malformed: {lds.errors[name]}")
    return conformance_result(check_id, Status.NOT_APPLICABLE, f"{name} is not in the dump")


def skipped_checks(check_ids: Iterable[str], lds: DecodedLDS, name: str) -> list[CheckResult]:
    """``check_ids`` NOT_APPLICABLE, each saying why file ``name`` has no content to check."""
    reason = lds.unavailable(name)
    return [conformance_result(check_id, Status.NOT_APPLICABLE, reason) for check_id in check_ids]


_SEVERITY = {Status.FAIL: 3, Status.UNKNOWN: 2, Status.WARN: 1, Status.PASS: 0, Status.NOT_APPLICABLE: 0}


def worst_check(check_id: str, outcomes: list[tuple[Status, str]]) -> CheckResult:
    """One check over several images (faces, fingers): the worst status, with every image's reason."""
    status = max((status for status, _ in outcomes), key=_SEVERITY.__getitem__)
    return conformance_result(check_id, status, "; ".join(reason for _, reason in outcomes))
