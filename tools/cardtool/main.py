"""``cardtool``: the operator's command line over cardlib.

Every command turns a :class:`~cardlib.errors.CardlibError` (and an operating-system refusal such as a
folder that cannot be made or a port already in use) into one plain message on stderr and exit status 2;
verification commands exit 0 (valid), 1 (invalid) or 2 (cannot tell).  Output cut short by a closed pipe
(``cardtool verify … | head``) ends quietly.

Only the module of the command being run is imported (``cardtool --help`` imports none of them): the
commands' own modules pull in cryptography, pillow and PC/SC, which take half a second to load.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from cardlib.errors import CardlibError
from cardtool.helptext import end_with_example

Handler = Callable[[argparse.Namespace], int]
BROKEN_PIPE_STATUS = 141
"""Exit status when the reader of our output went away: what a shell reports for a process killed by SIGPIPE."""


@dataclass(frozen=True)
class Command:
    """A sub-command: the module that registers it, its one-line help, and an example ending its ``--help``."""

    module: str
    help: str
    example: str


COMMANDS: dict[str, Command] = {
    "pki": Command("cardtool.pki_command", "country signing PKI: create, rotate, revoke, lint, trust",
                   "cardtool pki init pki --org 'Bộ Công an' --crl-url http://pki.example.vn/csca.crl"),
    "perso": Command("cardtool.perso_command", "personalize card images from a CSV or JSON Lines resident file",
                     "cardtool perso residents.csv --pki pki --out batch-2026-11-28"),
    "verify": Command("cardtool.verify_command", "verify a dump, a card image, or a card on a reader",
                      "cardtool verify batch/cards/00002-001085031742 --trust pki/csca.pem pki/crl.pem"),
    "qa": Command("cardtool.qa_command", "QA a batch of cards (dumps, card images, a perso manifest, readers)",
                  "cardtool qa batch --trust pki/csca.pem pki/crl.pem --report qa-2026-11-28"),
    "read": Command("cardtool.chip_commands", "read a card on a PC/SC reader into a dump folder",
                    "CARDTOOL_CAN=031742 cardtool read --out dump-031742"),
    "emulate": Command("cardtool.chip_commands", "present card images on the vpcd virtual reader until stopped",
                       "cardtool emulate batch/cards/00002-001085031742"),
    "encode": Command("cardtool.encode_command", "write card images onto blank test cards, read back, verify",
                      "cardtool encode batch --reader 'ACS ACR1252' --trust pki/csca.pem pki/crl.pem"),
    "demo": Command("cardtool.demo", "personalize sample cards, read them over PC/SC, verify, report",
                    "cardtool demo --out demo-out"),
    "counter": Command("cardtool.counter.command", "the card check for officers: a web page on this computer",
                       "cardtool counter --trust pki/csca.pem pki/crl.pem --save-dir saved-checks"),
}


class _Version(argparse.Action):
    """``--version``: the installed package's version, looked up only when asked."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        from importlib.metadata import PackageNotFoundError, version
        try:
            found = version("cardlib")
        except PackageNotFoundError:
            found = "unknown (not installed)"
        print(f"cardtool (cardlib) {found}")
        parser.exit()


def build_parser(load: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser with every command; only the modules of the commands in ``load`` (default: all)
    are imported, the others are listed by name and help alone."""
    summary = __doc__.splitlines()[0].replace("``", "") if __doc__ else None
    parser = argparse.ArgumentParser(prog="cardtool", description=summary)
    parser.add_argument("--version", action=_Version, nargs=0, help="print the version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    names = COMMANDS if load is None else [name for name in load if name in COMMANDS]
    for module in dict.fromkeys(COMMANDS[name].module for name in names):
        importlib.import_module(module).register(commands)
    for name, entry in COMMANDS.items():
        if name not in commands.choices:
            commands.add_parser(name, help=entry.help, add_help=False)
        end_with_example(commands.choices[name], entry.example)
    return parser


def _command_named(argv: Sequence[str]) -> list[str]:
    """The sub-command ``argv`` names (its first word that is not an option), if any."""
    return [word for word in argv if not word.startswith("-")][:1]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit status."""
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser(_command_named(words)).parse_args(words)
        return _run(args)
    except BrokenPipeError:
        return _reader_gone()


def _run(args: argparse.Namespace) -> int:
    """The command's handler, its foreseen failures turned into one line on stderr."""
    handler: Handler = args.handler
    try:
        return handler(args)
    except CardlibError as exc:
        return _fail(args.command, str(exc))
    except BrokenPipeError:
        raise
    except OSError as exc:
        return _fail(args.command, _os_error(exc))
    except KeyboardInterrupt:
        return _fail(args.command, "interrupted", status=130)


def _fail(command: str, message: str, *, status: int = 2) -> int:
    print(f"cardtool {command}: {message}", file=sys.stderr)
    return status


def _os_error(exc: OSError) -> str:
    """An operating-system refusal in words, naming the file (or saying the port is taken)."""
    if exc.errno == errno.EADDRINUSE:
        return "the port is already in use (is another copy already running? stop it or choose --port)"
    where = f"{exc.filename}: " if exc.filename is not None else ""
    return where + (exc.strerror or type(exc).__name__)


def _reader_gone() -> int:
    """stdout's reader closed the pipe: stop writing quietly (stdout is pointed at /dev/null so the final
    flush at exit cannot fail again)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return BROKEN_PIPE_STATUS


if __name__ == "__main__":
    sys.exit(main())
