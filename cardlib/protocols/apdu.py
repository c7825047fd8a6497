"""ISO/IEC 7816-4 command and response APDUs, short and extended length (ISO/IEC 7816-3 cases 1–4).

Both the terminal (reader) and the virtual chip build and parse APDUs with these two value types, so the
byte layout of every case lives in one place.  ``le`` is the number of bytes expected, 1..65536: 256 encodes
as ``00`` in short form and 65536 as ``0000`` in extended form; ``None`` means no Le field at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from cardlib.errors import DecodeError, EncodeError
from cardlib.protocols.status import SW_OK

SHORT_MAX_LC = 255
SHORT_MAX_LE = 256
EXTENDED_MAX_LC = 65535
EXTENDED_MAX_LE = 65536
HEADER_LENGTH = 4


def _le_bytes(le: int, extended: bool) -> bytes:
    """Le field without the extended-length marker: 256 → 00 (short), 65536 → 0000 (extended)."""
    if extended:
        return (le % EXTENDED_MAX_LE).to_bytes(2, "big")
    return bytes([le % SHORT_MAX_LE])


def _le_value(raw: bytes) -> int:
    """Decoded Le: all-zero means the maximum of the form (256 short, 65536 extended)."""
    value = int.from_bytes(raw, "big")
    if value:
        return value
    return SHORT_MAX_LE if len(raw) == 1 else EXTENDED_MAX_LE


@dataclass(frozen=True)
class CommandAPDU:
    """A command APDU: header CLA INS P1 P2, optional command data, optional Le.

    ``extended`` records that the command was (or must be) sent with extended length fields; it is set by
    :meth:`parse` and is otherwise only needed to force extended form for short-sized commands.
    """

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None
    extended: bool = False

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            value = getattr(self, name)
            if not 0 <= value <= 0xFF:
                raise EncodeError(f"APDU {name} {value} is not a byte")
        if len(self.data) > EXTENDED_MAX_LC:
            raise EncodeError(f"APDU command data of {len(self.data)} bytes exceeds {EXTENDED_MAX_LC}")
        if self.le is not None and not 1 <= self.le <= EXTENDED_MAX_LE:
            raise EncodeError(f"APDU Le {self.le} is outside 1..{EXTENDED_MAX_LE}")

    @property
    def is_extended(self) -> bool:
        """True when the command needs (or was given) extended length fields; a case 1 APDU has none."""
        has_body = bool(self.data) or self.le is not None
        return (self.extended and has_body) or self.needs_extended

    @property
    def needs_extended(self) -> bool:
        """True when data or Le are too large for short length fields."""
        return len(self.data) > SHORT_MAX_LC or (self.le is not None and self.le > SHORT_MAX_LE)

    @property
    def header(self) -> bytes:
        """The four header bytes CLA INS P1 P2."""
        return bytes([self.cla, self.ins, self.p1, self.p2])

    def encode(self, *, extended: bool | None = None) -> bytes:
        """The APDU bytes; ``extended=None`` uses extended form only if needed (or recorded by parse)."""
        use_extended = self.is_extended if extended is None else extended
        if not use_extended and self.needs_extended:
            raise EncodeError("APDU does not fit short length fields")
        body = b""
        if self.data:
            lc = len(self.data).to_bytes(2, "big") if use_extended else bytes([len(self.data)])
            body = (b"\x00" if use_extended else b"") + lc + self.data
        if self.le is not None:
            marker = b"\x00" if use_extended and not self.data else b""
            body += marker + _le_bytes(self.le, use_extended)
        return self.header + body

    @classmethod
    def parse(cls, raw: bytes) -> CommandAPDU:
        """Decode any ISO 7816-3 case (1, 2S/E, 3S/E, 4S/E); DecodeError when the lengths do not add up."""
        if len(raw) < HEADER_LENGTH:
            raise DecodeError(f"command APDU of {len(raw)} bytes is shorter than its header", file="APDU", offset=0)
        cla, ins, p1, p2 = raw[:HEADER_LENGTH]
        body = bytes(raw[HEADER_LENGTH:])
        if not body:
            return cls(cla, ins, p1, p2)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, le=_le_value(body))
        if body[0]:
            return cls._parse_short(cla, ins, p1, p2, body)
        return cls._parse_extended(cla, ins, p1, p2, body)

    @classmethod
    def _parse_short(cls, cla: int, ins: int, p1: int, p2: int, body: bytes) -> CommandAPDU:
        lc = body[0]
        if len(body) == 1 + lc:
            return cls(cla, ins, p1, p2, body[1:])
        if len(body) == 2 + lc:
            return cls(cla, ins, p1, p2, body[1:-1], _le_value(body[-1:]))
        raise DecodeError(f"short Lc {lc} disagrees with {len(body) - 1} body bytes", file="APDU", field="Lc",
                          offset=HEADER_LENGTH)

    @classmethod
    def _parse_extended(cls, cla: int, ins: int, p1: int, p2: int, body: bytes) -> CommandAPDU:
        if len(body) == 3:
            return cls(cla, ins, p1, p2, le=_le_value(body[1:]), extended=True)
        if len(body) < 3:
            raise DecodeError("truncated extended length field", file="APDU", field="Lc", offset=HEADER_LENGTH)
        lc = int.from_bytes(body[1:3], "big")
        if lc == 0:
            raise DecodeError("extended Lc of zero", file="APDU", field="Lc", offset=HEADER_LENGTH)
        if len(body) == 3 + lc:
            return cls(cla, ins, p1, p2, body[3:], extended=True)
        if len(body) == 5 + lc:
            return cls(cla, ins, p1, p2, body[3:-2], _le_value(body[-2:]), extended=True)
        raise DecodeError(f"extended Lc {lc} disagrees with {len(body) - 3} body bytes", file="APDU",
                          field="Lc", offset=HEADER_LENGTH)


@dataclass(frozen=True)
class ResponseAPDU:
    """A response APDU: response data followed by the status word SW1 SW2."""

    data: bytes
    sw: int

    def __post_init__(self) -> None:
        if not 0 <= self.sw <= 0xFFFF:
            raise EncodeError(f"status word {self.sw} is not two bytes")

    @property
    def ok(self) -> bool:
        """True for the normal-processing status 9000."""
        return self.sw == SW_OK

    @property
    def sw1(self) -> int:
        """First status byte (e.g. 0x61, 0x6C carry a length in SW2)."""
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        """Second status byte."""
        return self.sw & 0xFF

    def encode(self) -> bytes:
        """Data then the two status bytes."""
        return self.data + self.sw.to_bytes(2, "big")

    @classmethod
    def parse(cls, raw: bytes) -> ResponseAPDU:
        """Split data and status word; DecodeError when fewer than two bytes arrived."""
        if len(raw) < 2:
            raise DecodeError(f"response APDU of {len(raw)} bytes has no status word", file="APDU", offset=0)
        return cls(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))
