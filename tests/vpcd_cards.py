"""Test support: a card for the vpcd bridge that passes everything to a VirtualChip, for fault-injecting subclasses."""

from __future__ import annotations

from cardlib.chip.chip import VirtualChip


class DelegatingCard:
    """Behaves exactly as ``chip``; subclasses override :meth:`process` to slow, cut or break the exchange."""

    def __init__(self, chip: VirtualChip) -> None:
        self.chip = chip

    @property
    def atr(self) -> bytes:
        return self.chip.atr

    def power_on(self) -> bytes:
        return self.chip.power_on()

    def reset(self) -> None:
        self.chip.reset()

    def process(self, raw: bytes) -> bytes:
        return self.chip.process(raw)
