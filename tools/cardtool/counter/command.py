"""``cardtool counter``: start the officer's card-check page on this computer and keep it running.

The address it prints carries this start's token (after ``#token=``): open exactly that address; other
programs on the computer, which do not see it, are refused (see :mod:`cardtool.counter.server`).
"""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

from cardlib.pki.trust import TrustStore
from cardtool.counter.server import BIND_ADDRESS, running_counter
from cardtool.counter.session import CounterSession, PCSCCardSource

DEFAULT_PORT = 8470


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``counter`` sub-command."""
    parser = commands.add_parser("counter", help="the card check for officers: a web page on this computer")
    parser.add_argument("--reader", help="PC/SC reader name or its beginning (default: the first reader)")
    parser.add_argument("--trust", type=Path, nargs="*", default=[],
                        help="CSCA certificates, CRLs or master lists to trust (none: every verdict is "
                             "'cannot tell')")
    parser.add_argument("--save-dir", type=Path,
                        help="folder for the reports the officer saves (none: saving is off)")
    parser.add_argument("--host", default=BIND_ADDRESS, help="bind address: 127.0.0.1 or localhost only")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Serve the page until interrupted (Ctrl-C)."""
    trust = TrustStore.load(*args.trust)
    source = PCSCCardSource(args.reader)
    session = CounterSession(source, trust, save_dir=args.save_dir)
    with running_counter(session, source, host=args.host, port=args.port) as server:
        print(f"counter page: {server.url}\n(open this exact address, on this computer only; Ctrl-C to stop)",
              flush=True)
        threading.Event().wait()
    return 0
