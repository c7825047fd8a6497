"""A plain-APDU trace of a read, for support cases with real readers, that never holds a secret.

:class:`APDUTrace` is the hook :func:`~cardlib.reader.reader.read_card` calls once per exchange, after
secure messaging is taken off: it writes one JSON line per command with the step (the file being read, or
the access-control phase), the command header (CLA, INS, P1-P2), Lc and Le, whether it was protected, the
status word, the answer's length and the time it took.  Data is written for two kinds of commands only:
SELECT's file identifier or application name, and the file content READ BINARY returned — for the data
groups that hold a person's data (:data:`PERSONAL_FILES`) only when ``personal_data`` is asked for.  The
data of BAC, PACE, Chip and Active Authentication is never written: with the challenges and cryptograms of
an access-control exchange the MRZ or the CAN could be searched offline, and the keys derived.
"""

from __future__ import annotations

import json
from typing import TextIO

from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU

PERSONAL_FILES = frozenset({"DG1", "DG2", "DG3", "DG4", "DG5", "DG6", "DG7", "DG11", "DG12", "DG13"})
_SELECT = 0xA4
_READ_BINARY = (0xB0, 0xB1)


class APDUTrace:
    """Writes each plain exchange of a read as a JSON line to ``stream`` (see the module docstring)."""

    def __init__(self, stream: TextIO, *, personal_data: bool = False) -> None:
        self.stream = stream
        self.personal_data = personal_data
        self.count = 0

    def record(self, step: str, command: CommandAPDU, response: ResponseAPDU, *, protected: bool,
               seconds: float) -> None:
        """Write the exchange of ``command`` and its plain ``response`` during ``step``."""
        self.count += 1
        line: dict[str, object] = {
            "n": self.count, "step": step, "cla": f"{command.cla:02X}", "ins": f"{command.ins:02X}",
            "p1p2": f"{command.p1:02X}{command.p2:02X}", "lc": len(command.data), "le": command.le,
            "sm": protected, "sw": f"{response.sw:04X}", "length": len(response.data), "ms": round(seconds * 1000, 1),
        }
        if command.ins == _SELECT:
            line["data"] = command.data.hex().upper()
        elif command.ins in _READ_BINARY and (self.personal_data or step not in PERSONAL_FILES):
            line["data"] = response.data.hex().upper()
        self.stream.write(json.dumps(line) + "\n")
