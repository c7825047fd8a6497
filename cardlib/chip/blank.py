"""The virtual chip's blank-applet mode: a JMRTD passport applet waiting to be personalized, then a chip.

:class:`BlankAppletChip` runs the personalization state machine of :mod:`cardlib.chip.applet` until the lock,
then serves what was written as a BAC-only :class:`~cardlib.chip.chip.VirtualChip`.
"""

from __future__ import annotations

import os

from cardlib.card.targets import JMRTD_APPLET, ChipTarget
from cardlib.chip.applet import BlankApplet
from cardlib.chip.chip import SM_CLA, VirtualChip
from cardlib.chip.options import JMRTD_APPLET_OPTIONS, ChipOptions
from cardlib.errors import CardlibError
from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU
from cardlib.protocols.personalization import GET_UID, PERSONALIZATION_INS
from cardlib.protocols.status import SW_OK, SW_SECURITY_STATUS, SW_UNKNOWN, SW_WRONG_LENGTH

UID_LENGTH = 7


class BlankAppletChip:
    """The virtual chip's blank-applet mode: a JMRTD passport applet as installed on a fresh Java Card.

    Until ``PUT DATA DE AD`` it runs the personalization state machine of :mod:`cardlib.chip.applet`
    (perso commands allowed, nothing readable); from the lock on, a :class:`VirtualChip` serves what was
    written with the target's access rules (BAC only, no EF.CardAccess, the target's AA hash), and every
    personalization command answers 6982.  It also answers the PC/SC reader's GET DATA for the card's UID
    (``FF CA 00 00 00``, PC/SC part 3), which a contactless reader answers itself and vpcd passes on.
    ``options`` is how the locked chip answers (default: :data:`JMRTD_APPLET_OPTIONS` for the JMRTD applet).
    """

    def __init__(self, target: ChipTarget = JMRTD_APPLET, *, uid: bytes | None = None,
                 options: ChipOptions | None = None) -> None:
        self.target = target
        self.uid = uid if uid is not None else os.urandom(UID_LENGTH)
        default = JMRTD_APPLET_OPTIONS if target == JMRTD_APPLET else ChipOptions(pace=target.pace,
                                                                                  aa_hash=target.aa_hash)
        self.options = options or default
        self.applet = BlankApplet(target)
        self._chip: VirtualChip | None = None

    def __repr__(self) -> str:
        return f"BlankAppletChip({self.target.name}, locked={self.applet.locked})"

    @property
    def atr(self) -> bytes:
        """The answer to reset (the Java Card's, whatever the applet holds)."""
        return self.options.atr

    @property
    def chip(self) -> VirtualChip | None:
        """The eMRTD chip the applet became when it was locked; None before."""
        return self._chip

    def power_on(self) -> bytes:
        """Power up: selections and sessions dropped, what was written kept."""
        self.applet.power_on()
        if self._chip is not None:
            self._chip.power_on()
        return self.atr

    def reset(self) -> None:
        """Warm reset: as :meth:`power_on`."""
        self.power_on()

    def process(self, raw: bytes) -> bytes:
        """Answer one command APDU; never raises."""
        try:
            cmd = CommandAPDU.parse(bytes(raw))
        except CardlibError:
            return SW_WRONG_LENGTH.to_bytes(2, "big")
        if cmd.header == GET_UID.header:
            return ResponseAPDU(self.uid, SW_OK).encode()
        if self._chip is not None:
            if cmd.ins in PERSONALIZATION_INS and not cmd.cla & SM_CLA:
                return SW_SECURITY_STATUS.to_bytes(2, "big")  # written once: locked
            return self._chip.process(raw)
        try:
            response = self.applet.process(cmd)
        except Exception:  # the last line of defence, as in VirtualChip.process
            return SW_UNKNOWN.to_bytes(2, "big")
        if self.applet.locked:
            self._chip = VirtualChip(self.applet.image(), self.options)
        return response.encode()


__all__ = ["BlankAppletChip"]
