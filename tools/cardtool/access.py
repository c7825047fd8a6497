"""Command-line options shared by commands that open a live chip: the reader, the access key, how to read."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from cardlib.errors import CardlibError
from cardlib.reader.models import ChipModels
from cardlib.reader.progress import ProgressCallback
from cardlib.reader.reader import AccessKey, EACCredentials, ReadResult, read_card
from cardlib.reader.trace import APDUTrace
from cardlib.reader.transport import Transport

CAN_VARIABLE = "CARDTOOL_CAN"


def add_access_options(parser: argparse.ArgumentParser, *, reader_required: bool = False) -> None:
    """``--reader``, ``--can`` / ``--mrz``, ``--timeout``, and how to read (:func:`add_read_options`)."""
    parser.add_argument("--reader", required=reader_required,
                        help="PC/SC reader name or its beginning (default: the first reader holding a card)")
    key = parser.add_mutually_exclusive_group()
    key.add_argument("--can", help=f"6-digit card access number (or set {CAN_VARIABLE}, which keeps it out of "
                                   "the process list); on a CCCD the last 6 digits of the ID number")
    key.add_argument("--mrz", help="the card's MRZ as printed (TD1: 3 lines of 30 or the first 2; TD3: 2 lines "
                                   "of 44 or line 2 alone; newlines optional) or the MRZ information (document "
                                   "number, birth date, expiry, each with its check digit); check digits must verify")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a card (default 10)")
    add_read_options(parser)


def add_read_options(parser: argparse.ArgumentParser) -> None:
    """``--max-read``, ``--no-extended-length``, ``--chip-models``, ``--eac``: how a live card is read."""
    parser.add_argument("--max-read", type=int, metavar="N",
                        help="ask for at most N bytes per READ BINARY (16 to 65280), for readers or chips that "
                             "fail on large answers")
    parser.add_argument("--no-extended-length", action="store_true",
                        help="never send extended-length APDUs (for readers that cannot carry them)")
    parser.add_argument("--chip-models", type=Path, metavar="FILE",
                        help="remember in FILE, per chip model, what worked, and start the next card of a known "
                             "model from it (delete the file to forget)")
    parser.add_argument("--eac", type=eac_folder, metavar="DIR",
                        help="EAC PKI folder (cardtool pki eac init DIR): Terminal Authentication as its inspection "
                             "system, so the chip releases DG3 (fingerprints); a refusal does not stop the read")


def eac_folder(text: str) -> EACCredentials:
    """The Terminal Authentication credentials of an EAC PKI folder (argparse type: loaded before any card is
    waited for, a missing or corrupt file named)."""
    try:
        return EACCredentials.load(Path(text))
    except CardlibError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def chip_models(args: argparse.Namespace) -> ChipModels | None:
    """The memory of chip models ``--chip-models`` names, if any."""
    return ChipModels(args.chip_models) if args.chip_models is not None else None


def read_with_options(transport: Transport, key: AccessKey, args: argparse.Namespace, *,
                      trace: APDUTrace | None = None, on_progress: ProgressCallback | None = None,
                      aa_challenge: bytes | None = None) -> ReadResult:
    """Read the card on ``transport`` as the options say (see :func:`add_read_options`), traced if asked."""
    return read_card(transport, key, extended_length=not args.no_extended_length, max_read=args.max_read,
                     models=chip_models(args), trace=trace, on_progress=on_progress, aa_challenge=aa_challenge,
                     eac=args.eac)


def access_key(args: argparse.Namespace) -> AccessKey:
    """The access key the options name; CardlibError when none or a malformed one was given."""
    if args.mrz:
        return AccessKey.mrz(args.mrz)
    can = args.can or os.environ.get(CAN_VARIABLE)
    if not can:
        raise CardlibError(f"give the card's access key: --can, --mrz, or the {CAN_VARIABLE} variable")
    return AccessKey.can(can)
