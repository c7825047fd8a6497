"""``cardtool read`` (a live card to a dump) and ``cardtool emulate`` (card images on the virtual reader)."""

from __future__ import annotations

import argparse
import threading
from contextlib import ExitStack
from pathlib import Path

from cardlib.card.image import CardImage
from cardlib.chip.chip import VirtualChip
from cardlib.chip.options import ChipOptions
from cardlib.chip.vpcd import DEFAULT_PORT, VirtualChipQueue, serve_vpcd
from cardlib.errors import CardlibError
from cardlib.evidence.bundle import Evidence
from cardlib.reader.pcsc import connect
from cardlib.reader.reader import NO_EAC, ReadResult
from cardlib.reader.trace import APDUTrace
from cardtool.access import access_key, add_access_options, read_with_options
from cardtool.verify_command import challenge_hex


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``read`` and ``emulate`` sub-commands."""
    read = commands.add_parser("read", help="read a card on a PC/SC reader into a dump folder")
    add_access_options(read)
    read.add_argument("--out", type=Path, required=True, help="dump folder to write (must not exist)")
    read.add_argument("--trace", type=Path, metavar="FILE",
                      help="write every plain APDU (header, lengths, status word, time; file content of "
                           "READ BINARY, never keys, CAN, MRZ or authentication data) to FILE, for support")
    read.add_argument("--trace-personal-data", action="store_true",
                      help="with --trace, also write the content of DG1, DG2, DG13 and the other personal files")
    read.add_argument("--evidence", type=Path, metavar="OUT",
                      help="also write an evidence bundle (files, CA transcript, AA answer; no CAN/MRZ) to OUT, "
                           "for a verifier elsewhere: cardtool verify --evidence OUT --challenge HEX")
    read.add_argument("--challenge", type=challenge_hex, metavar="HEX",
                      help="the 8-byte Active Authentication challenge in hex: the verifier's nonce (default: random)")
    read.set_defaults(handler=run_read)
    emulate = commands.add_parser("emulate", help="present card images on the vpcd virtual reader until stopped")
    emulate.add_argument("images", type=Path, nargs="+", help="card image folders, inserted one after another")
    emulate.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"vpcd port (default {DEFAULT_PORT})")
    emulate.add_argument("--no-pace", action="store_true", help="a BAC-only chip (no EF.CardAccess)")
    emulate.add_argument("--no-extended-length", action="store_true", help="refuse extended-length APDUs")
    emulate.add_argument("--max-le", type=int, default=65536, help="largest Le the chip honours")
    emulate.set_defaults(handler=run_emulate)


def run_read(args: argparse.Namespace) -> int:
    """Read the card and save what was read; nothing is written unless the whole read succeeded."""
    if args.out.exists():
        raise CardlibError(f"{args.out} exists: choose a new folder for the dump")
    if args.evidence is not None and args.evidence.exists():
        raise CardlibError(f"{args.evidence} exists: choose a new file for the evidence")
    key = access_key(args)
    with ExitStack() as stack:
        trace = _open_trace(stack, args)
        transport = stack.enter_context(connect(args.reader, timeout=args.timeout))
        result = read_with_options(transport, key, args, trace=trace, aa_challenge=args.challenge)
    result.dump.save(args.out)
    print(describe_read(result))
    print(f"dump written to {args.out}")
    if args.evidence is not None:
        write_evidence(args.evidence, Evidence.from_read(result))
        print(f"evidence written to {args.evidence}")
    return 0


def write_evidence(path: Path, evidence: Evidence) -> None:
    """Write the bundle to ``path`` (never over an existing file)."""
    try:
        with path.open("x", encoding="utf-8") as out:
            out.write(evidence.to_json())
    except OSError as exc:
        raise CardlibError(f"cannot write the evidence {path}: {exc.strerror}") from None


def _open_trace(stack: ExitStack, args: argparse.Namespace) -> APDUTrace | None:
    """The trace ``--trace`` asks for, its file closed with ``stack`` (kept when the read fails: that is
    when support needs it)."""
    if args.trace is None:
        return None
    try:
        stream = stack.enter_context(args.trace.open("w", encoding="utf-8"))
    except OSError as exc:
        raise CardlibError(f"cannot write the trace {args.trace}: {exc.strerror}") from None
    return APDUTrace(stream, personal_data=args.trace_personal_data)


MAPPING_NAMES = {"GM": "generic mapping", "IM": "integrated mapping", "CAM": "chip authentication mapping"}
"""How ``cardtool read`` names the PACE mapping it used (ICAO 9303-11 §4.4.3.3)."""


def describe_read(result: ReadResult) -> str:
    """What the read did, in two lines for the operator (a third after PACE: the protocol and its mapping), then
    what the reader had to work around."""
    files = ", ".join(sorted(result.dump.files))
    protected = f"; refused by the chip: {', '.join(result.protected_files)}" if result.protected_files else ""
    notes = "".join(f"\nnote: {note}" for note in result.notes)
    if result.terminal_auth != NO_EAC:
        notes = f"\nterminal authentication: {result.terminal_auth.reason}{notes}"
    if result.pace_mapping:
        cam = f"; PACE-CAM: {result.pace_cam.reason}" if result.pace_mapping == "CAM" else ""
        notes = (f"\nPACE: {MAPPING_NAMES[result.pace_mapping]} ({result.pace_protocol}){cam}{notes}")
    return (f"{result.access} ({result.cipher}), {result.apdu_count} APDUs, {result.bytes_read} bytes in "
            f"{result.timings.total * 1000:.0f} ms; files: {files}{protected}\n"
            f"chip authentication: {result.chip_auth.reason}; active authentication: {result.active_auth.reason}"
            f"{notes}")


def run_emulate(args: argparse.Namespace) -> int:
    """Insert each image into the virtual reader in turn (the next one when the reader powers the card off)."""
    options = ChipOptions(extended_length=not args.no_extended_length, max_le=args.max_le, pace=not args.no_pace)
    chips = (VirtualChip(CardImage.load(path), options) for path in args.images)
    queue = VirtualChipQueue(chips)
    stop = threading.Event()
    print(f"presenting {len(args.images)} card(s) on the vpcd reader (port {args.port}); Ctrl-C to stop")
    try:
        serve_vpcd(queue, port=args.port, stop_event=stop)
    finally:
        stop.set()
    print(f"{queue.presented} card(s) presented")
    return 0
