"""``cardtool encode IMAGE... --reader NAME --trust FILES``: an encoding station for physical test cards.

Each image (a card image folder, a perso output folder or manifest, or a folder of card images) goes onto
the next blank card put on the reader: written, locked, read back over PC/SC with the MRZ key and verified
(files identical, VALID, Active Authentication passed) before it is reported good (:mod:`cardlib.batch.encode`).
Every image is checked against ``--target`` first: if one cannot be held, nothing is written at all.

The journal (``--journal``, default ``encode-journal.jsonl``) records which card (ATR, UID) got which image;
started again, the run skips the images already encoded good and tries the others again.  A card pulled
mid-encode is recorded as failed; putting it back for the same image finishes it.  A locked card, or one
holding another image, is refused untouched (with how to reset a test card).  Exit 0 when every image is on
a good card, 1 when some are not, 2 on an error.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from smartcard import scard

from cardlib.batch.encode import EncodeJournal, EncodeOutcome, encode_card, image_digest
from cardlib.batch.sources import iter_items
from cardlib.card.image import CardImage
from cardlib.card.targets import TARGETS, ChipTarget, TargetError, target_named
from cardlib.errors import CardlibError
from cardlib.pki.trust import TrustStore
from cardlib.reader.pcsc import NoCardError, connect
from cardtool.main import COMMANDS
from cardtool.verify_command import load_trust

DEFAULT_JOURNAL = Path("encode-journal.jsonl")
_POLL_SECONDS = 0.05
CARDS_PER_IMAGE = 3
"""Cards tried for one image when each is refused untouched or pulled, before the image waits for another run."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``encode`` sub-command."""
    parser = commands.add_parser("encode", help=COMMANDS["encode"].help,
                                 description="Write card images onto blank JMRTD applets, one card after "
                                             "another, and read each back and verify it before calling it good.")
    parser.add_argument("images", type=Path, nargs="+",
                        help="card image folders, perso output folders or manifests, or folders of card images")
    parser.add_argument("--reader", required=True, help="PC/SC reader name or its beginning")
    parser.add_argument("--trust", type=Path, nargs="+", required=True,
                        help="CSCA certificates, CRLs or master lists the read-back is verified against")
    parser.add_argument("--target", choices=sorted(TARGETS), default="jmrtd-applet",
                        help="the chip the cards carry (default jmrtd-applet)")
    parser.add_argument("--journal", type=Path, default=DEFAULT_JOURNAL,
                        help=f"which card got which image; reused to resume (default {DEFAULT_JOURNAL})")
    parser.add_argument("--wait", type=float, default=60.0,
                        help="seconds to wait for each card to be put on (and taken off) the reader (default 60)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Encode every image not yet on a good card; exit 0 when all are, 1 otherwise.

    A card refused untouched (locked, another image's) or pulled leaves its image for the next card put on
    (up to :data:`CARDS_PER_IMAGE` cards); after a read-back that failed the image waits for the next run.
    """
    target = target_named(args.target)
    sources = check_images(args.images, target)
    trust = load_trust(args.trust)
    journal = EncodeJournal(args.journal)
    good = failed = skipped = 0
    previous: tuple[str, int] | None = None  # the reader of the last card and its card event count then
    for number, source in enumerate(sources, 1):
        image = CardImage.load(Path(source))
        where = f"{number}/{len(sources)} {image.label}"
        done = journal.encoded(image_digest(image))
        if done is not None:
            skipped += 1
            print(f"{where}: already encoded on card {_card(done)}")
            continue
        for _ in range(CARDS_PER_IMAGE):
            if previous is not None:
                wait_for_removal(*previous, timeout=args.wait)
            print(f"{where}: put a blank card on {args.reader}")
            outcome, previous = _encode_next(image, source, trust, journal, target, args)
            print(f"{where}: {describe(outcome)}")
            if not outcome.card_spared:
                break
        good += outcome.good
        failed += not outcome.good
    print(f"{good} encoded, {failed} not encoded, {skipped} already encoded earlier (journal {args.journal})")
    if failed:
        print("run the same command again to encode the images not encoded, on other blank cards")
    return 1 if failed else 0


def _encode_next(image: CardImage, source: str, trust: TrustStore, journal: EncodeJournal, target: ChipTarget,
                 args: argparse.Namespace) -> tuple[EncodeOutcome, tuple[str, int]]:
    """Encode ``image`` onto the next card; also the card's reader and its card event count before it is let go."""
    try:
        transport = connect(args.reader, timeout=args.wait)
    except NoCardError:
        raise CardlibError(f"no card was put on {args.reader} within {args.wait:.0f} s: run again to continue "
                           f"(the journal {args.journal} keeps what was done)") from None
    with transport:
        outcome = encode_card(transport, image, trust, journal, target=target, source=source)
        return outcome, (transport.reader, _reader_state(transport.reader)[1])


def check_images(sources: list[Path], target: ChipTarget) -> list[str]:
    """The card image folders the arguments name, in order, each loaded once to check it against ``target``
    (and let go: a large batch is never held in memory); TargetError naming each one it cannot hold."""
    folders = [str(item.path) for source in sources for item in iter_items(source)]
    problems = [(folder, target.problems(CardImage.load(Path(folder)))) for folder in folders]
    refused = [f"{folder}: {'; '.join(found)}" for folder, found in problems if found]
    if refused:
        raise TargetError(f"nothing was written: {len(refused)} image(s) cannot be held by a {target.name} chip "
                          f"(make them with 'cardtool perso --target {target.name}'):\n  " + "\n  ".join(refused))
    return folders


def describe(outcome: EncodeOutcome) -> str:
    """One line for the operator: good, or why not (no secret is in the outcome)."""
    entry = outcome.entry
    card = _card(entry)
    if outcome.good:
        seconds = sum(outcome.seconds.values())
        return f"GOOD on card {card}: {entry['reason']} ({entry['apdus']} APDUs, {seconds:.1f} s)"
    return f"{entry['status'].upper()} on card {card} ({entry['stage']}): {entry['reason']}"


def _card(entry: dict[str, object]) -> str:
    card = entry.get("card")
    if not isinstance(card, dict):
        return "unknown"
    return f"UID {card['uid']}" if card.get("uid") else f"ATR {card.get('atr')} (no UID)"


def _reader_state(reader: str) -> tuple[bool, int]:
    """Whether ``reader`` holds a card, and its card event count (pcsc-lite: the high 16 bits of the state)."""
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        raise CardlibError(f"no PC/SC service: {scard.SCardGetErrorMessage(hresult)}")
    try:
        hresult, states = scard.SCardGetStatusChange(context, 0, [(reader, scard.SCARD_STATE_UNAWARE)])
    finally:
        scard.SCardReleaseContext(context)
    if hresult != scard.SCARD_S_SUCCESS:
        return False, -1
    state = int(states[0][1])
    return bool(state & scard.SCARD_STATE_PRESENT), (state >> 16) & 0xFFFF


def wait_for_removal(reader: str, events: int, *, timeout: float) -> None:
    """Return once the card seen with ``events`` card events left ``reader`` (no card, or another card came
    since); CardlibError after ``timeout`` seconds, so the same card is never taken for the next one."""
    deadline = time.monotonic() + timeout
    while True:
        present, now = _reader_state(reader)
        if not present or now != events:
            return
        if time.monotonic() >= deadline:
            raise CardlibError(f"take the encoded card off {reader}: it is still there after {timeout:.0f} s")
        time.sleep(_POLL_SECONDS)
