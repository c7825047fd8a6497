"""``cardtool``: the operator's command line over cardlib.

Every command turns a :class:`~cardlib.errors.CardlibError` into one plain message on stderr and exit
status 2; verification commands exit 0 (valid), 1 (invalid) or 2 (cannot tell).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from cardlib.errors import CardlibError
from cardtool import chip_commands, demo, perso_command, pki_command, qa_command, verify_command
from cardtool.counter import command as counter_command

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(prog="cardtool", description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (pki_command, perso_command, verify_command, qa_command, chip_commands, demo, counter_command):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except CardlibError as exc:
        print(f"cardtool {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cardtool {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
