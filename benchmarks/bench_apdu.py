"""Benchmark: APDU round trips per second through pyscard → pcscd → vpcd → VirtualChip.

Runs SELECT EF.CardAccess then alternating SELECT/READ BINARY round trips, three ways in the same run:
in-process (``VirtualChip.process``, the upper bound), through a private pcscd with our low-latency vpcd
bridge (TCP_NODELAY + quick ACKs), and through a naive bridge without them (the ~20 APDU/s baseline).
Prints each rate and the ratios.  Target: ≥ 2,000 round trips/s through pcscd.
Run with ``python -m benchmarks.bench_apdu [--count N]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from smartcard.System import readers

from cardlib.card.image import CardImage, ChipSecrets
from cardlib.chip.chip import VirtualChip
from cardlib.chip.vpcd import vpcd_card
from cardlib.testing.pcscd import PcscdInstance, private_pcscd

TARGET_PER_SECOND = 2000
NAIVE_COUNT = 40
# ICAO 9303-11 App. G.1 EF.CardAccess; the MRZ information of ICAO 9303-11 App. D.2.
CARD_ACCESS = bytes.fromhex("31143012060A04007F0007020204020202010202010D")
SELECT = bytes.fromhex("00A4020C02011C")
READ = bytes.fromhex("00B0000016")
Exchange = Callable[[bytes], bytes]


def _chip() -> VirtualChip:
    image = CardImage({"EF.CardAccess": CARD_ACCESS}, ChipSecrets("L898902C<369080619406236", "123456", None, None))
    return VirtualChip(image)


def _rate(exchange: Exchange, count: int) -> float:
    """Round trips per second of ``count`` alternating SELECT / READ BINARY commands."""
    commands = (SELECT, READ)
    start = time.perf_counter()
    for index in range(count):
        response = exchange(commands[index % 2])
        if response[-2:] != b"\x90\x00":
            raise RuntimeError(f"unexpected status {response[-2:].hex()}")
    return count / (time.perf_counter() - start)


def _through_pcscd(instance: PcscdInstance, count: int, nodelay: bool) -> float:
    with vpcd_card(_chip(), instance.port, nodelay=nodelay):
        deadline = time.monotonic() + 10
        while True:
            try:
                reader = next(r for r in readers() if str(r) == instance.reader_name)
                connection = reader.createConnection()
                connection.connect()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

        def exchange(raw: bytes) -> bytes:
            data, sw1, sw2 = connection.transmit(list(raw))
            return bytes([*data, sw1, sw2])

        try:
            return _rate(exchange, count)
        finally:
            connection.disconnect()
            connection.release()


def main(argv: list[str] | None = None) -> int:
    """Measure and print; exit status 1 when the pcscd rate misses the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="round trips per measurement")
    args = parser.parse_args(argv)
    in_process = _rate(_chip().process, args.count * 10)
    with private_pcscd() as instance:
        fast = _through_pcscd(instance, args.count, nodelay=True)
        naive = _through_pcscd(instance, NAIVE_COUNT, nodelay=False)
    print(f"in-process VirtualChip.process : {in_process:10.0f} APDU/s")
    print(f"pcscd + vpcd (low latency)     : {fast:10.0f} APDU/s  ({args.count} round trips)")
    print(f"pcscd + vpcd (naive bridge)    : {naive:10.1f} APDU/s  ({NAIVE_COUNT} round trips)")
    print(f"low latency / naive            : {fast / naive:10.1f}x")
    print(f"in-process / low latency       : {in_process / fast:10.1f}x")
    verdict = "meets" if fast >= TARGET_PER_SECOND else "MISSES"
    print(f"{verdict} the target of {TARGET_PER_SECOND} APDU/s through pcscd")
    return 0 if fast >= TARGET_PER_SECOND else 1


if __name__ == "__main__":
    sys.exit(main())
