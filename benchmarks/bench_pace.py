"""Benchmark (issue 14 item 7): what PACE-GM, PACE-IM, PACE-CAM and Terminal Authentication cost each side.

Runs the sans-I/O protocol objects back to back, with no transport, and times the terminal's and the chip's
calls separately, so an encoding line (the chip side of a virtual chip, a terminal at the counter) knows the
price of each protocol on this machine.  PACE is ECDH on brainpoolP256r1 with AES-128 (parameter ID 13, the
CCCD's); CAM includes the terminal's check of the chip's authentication data against its static key.  TA is
EAC v1 with the test EAC PKI (ECDSA brainpoolP256r1, SHA-256): the terminal builds the chain's commands and
signs the challenge, the chip verifies the DV and inspection system certificates and the signature.  CA is
Chip Authentication ECDH-AES-128 with the chip's brainpoolP256r1 key: the terminal's ephemeral key, its commands
and the new session; the chip's answers and session.  Its ECDH goes through cryptography (``CA``); ``CA-ecdsa``
runs the same CA with python-ecdsa's ECDH (the path before issue 15), the two interleaved run by run so both
see the same machine load.  Prints the median and best milliseconds per side over ``--runs`` runs.  Run with
``python -m benchmarks.bench_pace``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar
from unittest import mock

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cardlib.lds.oids import protocol_oid
from cardlib.pki.cvc.chain import TrustPoint
from cardlib.pki.eac import EACPKI
from cardlib.protocols import ecpoint
from cardlib.protocols.ca import CAChip, CATerminal
from cardlib.protocols.pace import PACEChip, PACEParameters, PACETerminal
from cardlib.protocols.ta import TAChip, TATerminal

CAN = "123456"
PARAMETER_ID = 13  # brainpoolP256r1
CA_PROTOCOL = "id-CA-ECDH-AES-CBC-CMAC-128"
MAPPINGS = {"PACE-GM": "id-PACE-ECDH-GM-AES-CBC-CMAC-128", "PACE-IM": "id-PACE-ECDH-IM-AES-CBC-CMAC-128",
            "PACE-CAM": "id-PACE-ECDH-CAM-AES-CBC-CMAC-128"}


T = TypeVar("T")


class _Clock:
    """Seconds spent in the terminal's and in the chip's calls of one run."""

    def __init__(self) -> None:
        self.terminal = 0.0
        self.chip = 0.0

    def terminal_call(self, call: Callable[[], T]) -> T:
        start = time.perf_counter()
        result = call()
        self.terminal += time.perf_counter() - start
        return result

    def chip_call(self, call: Callable[[], T]) -> T:
        start = time.perf_counter()
        result = call()
        self.chip += time.perf_counter() - start
        return result


def pace_run(protocol: str, chip_key: ec.EllipticCurvePrivateKey) -> _Clock:
    """One PACE with ``protocol`` between a terminal and a chip, each side timed."""
    clock = _Clock()
    params = PACEParameters(protocol_oid(protocol), PARAMETER_ID)
    cam = params.mapping == "CAM"
    terminal = clock.terminal_call(lambda: PACETerminal(CAN, "CAN", params))
    chip = clock.chip_call(lambda: PACEChip(CAN, "CAN", params, chip_key=chip_key if cam else None))
    set_at = clock.terminal_call(terminal.set_at_data)
    clock.chip_call(lambda: chip.set_at(set_at))
    command = clock.terminal_call(terminal.general_authenticate_1)
    for step in (terminal.general_authenticate_2, terminal.general_authenticate_3, terminal.general_authenticate_4):
        response = clock.chip_call(partial(chip.general_authenticate, command))
        command = clock.terminal_call(partial(step, response))
    final = clock.chip_call(lambda: chip.general_authenticate(command))
    clock.terminal_call(lambda: terminal.complete(final))
    if cam:
        clock.terminal_call(lambda: terminal.verify_chip_authentication(chip_key.public_key()))
    return clock


def ca_run(chip_key: ec.EllipticCurvePrivateKey) -> _Clock:
    """One Chip Authentication (MSE:Set AT, GENERAL AUTHENTICATE, both new sessions), each side timed."""
    clock = _Clock()
    protocol = protocol_oid(CA_PROTOCOL)
    terminal = clock.terminal_call(lambda: CATerminal(chip_key.public_key(), protocol))
    chip = clock.chip_call(lambda: CAChip(chip_key, protocol))
    session = None
    for command in clock.terminal_call(terminal.commands):
        response, session = clock.chip_call(partial(chip.handle, command))
        if not response.ok:
            raise RuntimeError(f"Chip Authentication refused in the benchmark: {response.sw:04X}")
    clock.terminal_call(terminal.complete)
    if session is None:
        raise RuntimeError("Chip Authentication gave the chip no session in the benchmark")
    return clock


def ca_run_python_ecdsa(chip_key: ec.EllipticCurvePrivateKey) -> _Clock:
    """:func:`ca_run` with python-ecdsa's ECDH on both sides, as before issue 15."""
    with mock.patch.object(ecpoint, "shared_secret", ecpoint.shared_secret_python_ecdsa):
        return ca_run(chip_key)


def _ca_interleaved(chip_key: ec.EllipticCurvePrivateKey, runs: int) -> tuple[list[_Clock], list[_Clock]]:
    """``runs`` CAs by each path, alternating which goes first, so neither gets the warmer machine."""
    new: list[_Clock] = []
    old: list[_Clock] = []
    for number in range(runs):
        for path in (ca_run, ca_run_python_ecdsa)[:: 1 if number % 2 else -1]:
            (new if path is ca_run else old).append(path(chip_key))
    return new, old


def ta_run(pki: EACPKI, trust_point: TrustPoint, ephemeral_key: bytes) -> _Clock:
    """One Terminal Authentication (DV and inspection system certificates, challenge, signature), timed."""
    clock = _Clock()
    id_picc = ephemeral_key[1:33]
    terminal = clock.terminal_call(lambda: TATerminal(pki.chain, pki.terminal_signer(), id_picc=id_picc,
                                                      ephemeral_public_key=ephemeral_key))
    chip = clock.chip_call(lambda: TAChip([trust_point], datetime.now(UTC).date(), id_picc=id_picc,
                                          ephemeral_public_key=ephemeral_key))
    challenge = b""
    for step in clock.terminal_call(terminal.steps):
        response = clock.chip_call(partial(chip.handle, step.command))
        challenge = clock.terminal_call(partial(terminal.check, step, response))
    final = clock.terminal_call(lambda: terminal.external_authenticate(challenge))
    answer = clock.chip_call(lambda: chip.handle(final.command))
    clock.terminal_call(lambda: terminal.check(final, answer))
    if not chip.authenticated:
        raise RuntimeError("Terminal Authentication failed in the benchmark")
    return clock


def _line(name: str, runs: list[_Clock]) -> str:
    terminal = [run.terminal * 1000 for run in runs]
    chip = [run.chip * 1000 for run in runs]
    return (f"{name:<10} terminal {statistics.median(terminal):7.2f} ms (best {min(terminal):6.2f})   "
            f"chip {statistics.median(chip):7.2f} ms (best {min(chip):6.2f})")


def main(argv: list[str]) -> int:
    """Time each protocol ``--runs`` times and print one line per protocol."""
    parser = argparse.ArgumentParser(prog="bench_pace", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per protocol (default 20)")
    args = parser.parse_args(argv)
    chip_key = ec.generate_private_key(ec.BrainpoolP256R1())
    print(f"median and best of {args.runs} runs, brainpoolP256r1, AES-128 / ECDSA-SHA-256, no transport")
    for name, protocol in MAPPINGS.items():
        print(_line(name, [pace_run(protocol, chip_key) for _ in range(args.runs)]), flush=True)
    new_runs, old_runs = _ca_interleaved(chip_key, args.runs)
    print(_line("CA", new_runs), flush=True)
    print(_line("CA-ecdsa", old_runs), flush=True)
    pki = EACPKI.generate()
    ephemeral = ec.generate_private_key(ec.BrainpoolP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    print(_line("TA", [ta_run(pki, pki.trust_point, ephemeral) for _ in range(args.runs)]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
