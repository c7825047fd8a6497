"""The typed errors of cardlib.

Every failure the library can foresee is raised as a subclass of :class:`CardlibError` whose message
names *what* went wrong and *where* (file, field, offset, row).  Callers catch ``CardlibError`` and
never see a bare traceback from a parser.  Messages never contain secrets (keys, CAN, MRZ seeds).
"""

from __future__ import annotations


class CardlibError(Exception):
    """Base class of every error cardlib raises on purpose."""


class DecodeError(CardlibError):
    """Bytes that do not decode: malformed TLV/DER, a length that lies, a wrong tag, bad text.

    ``file`` names the LDS file or input (``"DG13"``, ``"EF.SOD"``), ``field`` the element inside it,
    ``offset`` the byte offset within the file where the problem starts.
    """

    def __init__(
        self,
        reason: str,
        *,
        file: str | None = None,
        field: str | None = None,
        offset: int | None = None,
    ) -> None:
        self.reason = reason
        self.file = file
        self.field = field
        self.offset = offset
        super().__init__(self._render())

    def _render(self) -> str:
        where = [part for part in (self.file, self.field) if part]
        if self.offset is not None:
            where.append(f"offset {self.offset}")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason

    def within(self, file: str | None = None, field: str | None = None, base: int = 0) -> DecodeError:
        """Return a copy of this error placed inside an enclosing file/field, its offset shifted by base."""
        offset = None if self.offset is None else self.offset + base
        return DecodeError(
            self.reason, file=self.file or file, field=self.field or field, offset=offset
        )


class EncodeError(CardlibError):
    """A value that cannot be encoded into its LDS structure (too long, out of range)."""


class ValidationError(CardlibError):
    """Data that is well-formed but not valid, e.g. a resident whose ID number disagrees with the birth date."""

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        self.reason = reason
        self.field = field
        super().__init__(f"{field}: {reason}" if field else reason)


class InputError(CardlibError):
    """A bad record in a personalization input file (CSV or JSON Lines)."""

    def __init__(self, reason: str, *, source: str, row: int | None = None, field: str | None = None) -> None:
        self.reason = reason
        self.source = source
        self.row = row
        self.field = field
        where = source + (f" row {row}" if row is not None else "") + (f" field {field}" if field else "")
        super().__init__(f"{where}: {reason}")


class PKIError(CardlibError):
    """Certificates, keys, CRLs or trust material that cannot be loaded or used."""


class ProtocolError(CardlibError):
    """A cryptographic protocol failed: BAC/PACE authentication, secure messaging, AA or CA."""


class CardError(CardlibError):
    """The chip answered with an error status word, or the reader lost the card."""

    def __init__(self, reason: str, *, sw: int | None = None) -> None:
        self.reason = reason
        self.sw = sw
        super().__init__(f"{reason} (SW {sw:04X})" if sw is not None else reason)
