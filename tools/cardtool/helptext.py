"""Help text of the commands: every command's ``--help`` ends with an example to copy."""

from __future__ import annotations

import argparse


def end_with_example(parser: argparse.ArgumentParser, example: str) -> None:
    """Append ``example`` (one command line) to ``parser``'s help, after any epilog it has, keeping its line breaks."""
    parser.epilog = f"{parser.epilog}\n\n" if parser.epilog else ""
    parser.epilog += f"example:\n  {example}"
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
