"""``cardtool verify``: check a dump, a card image, a live card or an evidence bundle against a trust store.

Exit status: 0 valid, 1 invalid, 2 cannot tell (or a usage/reader error).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from cardlib.errors import CardlibError
from cardlib.evidence.nonces import CHALLENGE_LENGTH
from cardlib.evidence.verification import verify_evidence
from cardlib.limits import MAX_EVIDENCE_BYTES
from cardlib.pki.trust import TrustStore
from cardlib.reader.pcsc import connect
from cardlib.verify.live import verify_read
from cardlib.verify.report import VerificationReport
from cardlib.verify.verifier import LivenessPolicy, verify
from cardtool.access import access_key, add_access_options, read_with_options


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``verify`` sub-command."""
    parser = commands.add_parser("verify", help="verify a dump, a card image, or a card on a reader")
    parser.add_argument("path", type=Path, nargs="?", help="dump or card image folder (omit with --reader)")
    parser.add_argument("--trust", type=Path, nargs="+", required=True,
                        help="CSCA certificates, CRLs, master lists: files or folders")
    parser.add_argument("--json", action="store_true",
                        help="print the report as JSON (schema: cardlib/schemas/report.schema.json)")
    parser.add_argument("--liveness", choices=[policy.value for policy in LivenessPolicy],
                        default=LivenessPolicy.LIVE_READS.value,
                        help="when 'valid' needs a passed Chip or Active Authentication: for live reads "
                             "(default), always (a dump is then 'cannot tell'), never")
    parser.add_argument("--at", type=datetime.fromisoformat, help="verify as of this ISO date (default now)")
    parser.add_argument("--evidence", type=Path, metavar="FILE",
                        help="verify an evidence bundle (cardtool read --evidence, cardlib.evidence) offline")
    parser.add_argument("--challenge", type=challenge_hex, metavar="HEX",
                        help="with --evidence: the 8-byte challenge the bundle must answer (without it a "
                             "recorded answer cannot be ruled out: 'cannot tell')")
    add_access_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Verify, print the report, return the verdict's exit status."""
    trust = load_trust(args.trust)
    policy = LivenessPolicy(args.liveness)
    if args.evidence is not None:
        report = verify_evidence(read_evidence(args.evidence), trust, expected_challenge=args.challenge, at=args.at,
                                 source=str(args.evidence))
    elif args.path is not None:
        report = verify(args.path, trust, at=args.at, policy=policy)
    elif args.reader is not None or args.can or args.mrz:
        report = verify_live(args, trust, policy)
    else:
        raise CardlibError("give a dump folder, or --reader with --can/--mrz for a live card")
    print(report.to_json() if args.json else report.to_text())
    return report.verdict.exit_code


def challenge_hex(text: str) -> bytes:
    """An 8-byte Active Authentication challenge given in hex (argparse type)."""
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != CHALLENGE_LENGTH:
        raise argparse.ArgumentTypeError(f"{CHALLENGE_LENGTH} bytes in hex expected, e.g. 0011223344556677")
    return value


def read_evidence(path: Path) -> bytes:
    """The bundle's bytes, at most MAX_EVIDENCE_BYTES of them (more is refused by the bundle's decoder)."""
    try:
        with path.open("rb") as stream:
            return stream.read(MAX_EVIDENCE_BYTES + 1)
    except OSError as exc:
        raise CardlibError(f"cannot read the evidence {path}: {exc.strerror}") from None


def load_trust(paths: list[Path]) -> TrustStore:
    """The trust store, with anything that could not be loaded said on stderr."""
    trust = TrustStore.load(*paths)
    for issue in trust.load_report:
        if "PRIVATE KEY" not in issue.reason and "not a trust anchor" not in issue.reason:
            print(f"trust store: {issue.source}: {issue.reason}", file=sys.stderr)
    return trust


def verify_live(args: argparse.Namespace, trust: TrustStore, policy: LivenessPolicy) -> VerificationReport:
    """Read the card on the reader and verify it with its live checks under ``policy``."""
    key = access_key(args)
    with connect(args.reader, timeout=args.timeout) as transport:
        result = read_with_options(transport, key, args)
    return verify_read(result, trust, at=args.at, source=f"reader {transport.reader}", policy=policy)
