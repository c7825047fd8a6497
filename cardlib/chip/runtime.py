"""What a Java Card's runtime does around the eMRTD applet, outside secure messaging.

:class:`Runtime` sits between the reader and the applet (:class:`~cardlib.chip.chip.VirtualChip`'s command
processing): it cuts long answers into 61xx pieces fetched with GET RESPONSE (``ChipOptions.chaining``),
answers a short Le larger than the answer with 6Cxx and gives the answer on the resend (``exact_le``, as T=0
does), and refuses extended length in plain before the applet sees the command (``extended_refusal="runtime"``).
Its own state (the rest of a chained answer, the answer held for a resend) lasts one command.
"""

from __future__ import annotations

from collections.abc import Callable

from cardlib.chip.files import SW1_EXACT_LENGTH
from cardlib.chip.options import ChipOptions
from cardlib.errors import CardlibError
from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU
from cardlib.protocols.instructions import Ins
from cardlib.protocols.status import SW_WRONG_LENGTH

SW1_MORE_DATA = 0x61
MAX_SHORT_LE = 256


class Runtime:
    """The runtime around ``applet`` (which answers one parsed command), with the behaviours ``options`` set."""

    def __init__(self, applet: Callable[[CommandAPDU], ResponseAPDU], options: ChipOptions) -> None:
        self._applet = applet
        self._options = options
        self.reset()

    def reset(self) -> None:
        """Power-up or reset: no chained answer pending, none held for a resend."""
        self._held: tuple[CommandAPDU, ResponseAPDU] | None = None
        self._pending = b""

    def answer(self, raw: bytes) -> ResponseAPDU:
        """Answer one command APDU: from what the last command left, by the runtime itself, or by the applet."""
        held, self._held = self._held, None
        pending, self._pending = self._pending, b""
        try:
            cmd = CommandAPDU.parse(raw)
        except CardlibError:
            return ResponseAPDU(b"", SW_WRONG_LENGTH)
        if cmd.ins == Ins.GET_RESPONSE and pending:
            return self._chained(pending, cmd.le or MAX_SHORT_LE)
        if held is not None and (cmd.header, cmd.data, cmd.le) == (held[0].header, held[0].data, len(held[1].data)):
            return self._chained(held[1].encode(), cmd.le)
        if cmd.extended and not self._options.extended_length and self._options.extended_refusal == "runtime":
            return ResponseAPDU(b"", self._options.extended_sw)
        response = self._applet(cmd)
        if self._options.exact_le and not cmd.extended and response.data and cmd.le is not None \
                and len(response.data) < cmd.le:
            self._held = (cmd, response)
            return ResponseAPDU(b"", (SW1_EXACT_LENGTH << 8) | len(response.data))
        return self._chained(response.encode(), None)

    def _chained(self, answer: bytes, le: int | None) -> ResponseAPDU:
        """``answer`` (data + SW), cut into 61xx pieces when longer than ``chaining`` (or than ``le``)."""
        piece = min(self._options.chaining or len(answer), le or len(answer))
        if len(answer) - 2 <= piece:
            return ResponseAPDU.parse(answer)
        self._pending = answer[piece:]
        return ResponseAPDU(answer[:piece], (SW1_MORE_DATA << 8) | min(len(self._pending) - 2, 256) % 256)


__all__ = ["Runtime"]
