"""Command-line options shared by commands that open a live chip: the reader and the access key."""

from __future__ import annotations

import argparse
import os

from cardlib.errors import CardlibError
from cardlib.model.mrz import MRZ
from cardlib.reader.reader import AccessKey

CAN_VARIABLE = "CARDTOOL_CAN"


def add_access_options(parser: argparse.ArgumentParser, *, reader_required: bool = False) -> None:
    """``--reader``, ``--can`` / ``--mrz``."""
    parser.add_argument("--reader", required=reader_required,
                        help="PC/SC reader name or its beginning (default: the first reader holding a card)")
    key = parser.add_mutually_exclusive_group()
    key.add_argument("--can", help=f"6-digit card access number (or set {CAN_VARIABLE}, which keeps it out of "
                                   "the process list); on a CCCD the last 6 digits of the ID number")
    key.add_argument("--mrz", help="the card's MRZ (3 lines of 30, newlines optional) or the MRZ information "
                                   "(document number, birth date, expiry, each with its check digit)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a card (default 10)")


def access_key(args: argparse.Namespace) -> AccessKey:
    """The access key the options name; CardlibError when none or a malformed one was given."""
    if args.mrz:
        text = "".join(args.mrz.split())
        return AccessKey.mrz(MRZ.parse(text).mrz_information if len(text) >= 60 else text)
    can = args.can or os.environ.get(CAN_VARIABLE)
    if not can:
        raise CardlibError(f"give the card's access key: --can, --mrz, or the {CAN_VARIABLE} variable")
    return AccessKey.can(can)
