"""``cardtool counter``: start the officer's card-check page on this computer and keep it running.

The address it prints carries this start's token (after ``#token=``): open exactly that address; other
programs on the computer, which do not see it, are refused (see :mod:`cardtool.counter.server`).
"""

from __future__ import annotations

import argparse
import sys
import threading
from functools import partial
from pathlib import Path

from cardlib.pki.trust import TrustStore
from cardtool.access import add_read_options, read_with_options
from cardtool.counter.server import BIND_ADDRESS, running_counter
from cardtool.counter.session import CardSource, CardState, CounterSession, PCSCCardSource

DEFAULT_PORT = 8470
TRUST_FIX = ("Restart with the issuer's root certificate, e.g. cardtool counter --trust pki/csca.pem pki/crl.pem "
             "(or a master list with the CSCA file that anchors it).")
SERVICE_FIX = ("Start it with: sudo systemctl start pcscd (install it first with: sudo apt install pcscd); "
               "the page updates by itself once it runs.")


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
    add_read_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Serve the page until interrupted (Ctrl-C); first say what will keep it from giving real verdicts."""
    trust = TrustStore.load(*args.trust)
    source = PCSCCardSource(args.reader)
    session = CounterSession(source, trust, save_dir=args.save_dir,
                             read=partial(read_with_options, args=args))
    for warning in start_warnings(session, source, given_trust=bool(args.trust)):
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    with running_counter(session, source, host=args.host, port=args.port) as server:
        print(f"counter page: {server.url}\n(open this exact address, on this computer only; Ctrl-C to stop)",
              flush=True)
        threading.Event().wait()
    return 0


def start_warnings(session: CounterSession, source: CardSource, *, given_trust: bool) -> list[str]:
    """What the officer must fix before the counter can say "genuine": no trusted CSCA, no PC/SC service."""
    warnings = []
    if session.trusts_nothing:
        why = "the --trust files give no trusted CSCA" if given_trust else "no --trust was given"
        warnings.append(f"{why}: every verdict will be 'cannot tell'. {TRUST_FIX}")
    if source.poll() is CardState.NO_SERVICE:
        warnings.append(f"the card reader service is not running. {SERVICE_FIX}")
    return warnings
