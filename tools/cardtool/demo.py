"""``cardtool demo``: the whole pipeline on embedded defaults, end to end, with no set-up.

1. a test PKI (CSCA and CRL in files) with the Document Signer's key in a SoftHSM2 token (PKCS#11);
2. personalization of the sample residents shipped with cardtool (synthetic people and portraits);
3. each card image becomes a virtual chip inserted into the vpcd reader of a private pcscd, one after
   another as on a production line; one extra card is a forgery (DG13 altered after signing);
4. each card is read over PC/SC with PACE (the CAN), with Chip and Active Authentication;
5. each read is verified against the CSCA and CRL;
6. a QA report (JSON Lines, CSV, HTML) — and the verdicts on the terminal.

Exit status 0 when every genuine card verified valid and the forgery was caught.

The output folder is replaced on every run, but only a folder the demo made (it holds the marker file
:data:`MARKER`): an existing non-empty folder without it is refused, never deleted.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from cardlib.batch.manifest import PERSO_MANIFEST
from cardlib.batch.outcome import CardOutcome
from cardlib.batch.perso import personalize_batch
from cardlib.batch.sources import manifest_entries
from cardlib.card.image import CardImage
from cardlib.chip.chip import VirtualChip
from cardlib.chip.vpcd import VirtualChipQueue, vpcd_card
from cardlib.errors import CardlibError
from cardlib.pki.hsm import softhsm_document_signer
from cardlib.pki.trust import TrustStore
from cardlib.reader.pcsc import NoCardError, connect
from cardlib.reader.reader import AccessKey, ReadResult, read_card
from cardlib.reader.transport import CardRemovedError
from cardlib.testing.cards import forge_dg13_expiry
from cardlib.testing.pcscd import private_pcscd
from cardlib.testing.pki import TestPKI
from cardlib.verify.live import verify_read
from cardtool.folders import make_folder
from cardtool.main import COMMANDS
from cardtool.qa_report import ReportWriter

SAMPLES = Path(__file__).resolve().parent / "samples" / "residents.csv"
MARKER = ".cardtool-demo"
"""File the demo writes first into its output folder: only a folder holding it is ever deleted."""
FORGED_LABEL = "forged-dg13"
CARD_TIMEOUT = 15.0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` sub-command."""
    parser = commands.add_parser("demo", help=COMMANDS["demo"].help)
    parser.add_argument("--out", type=Path, default=Path("demo-out"),
                        help="output folder: new, empty, or made by an earlier demo (then replaced)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the pipeline; 0 when genuine cards pass and the forgery fails."""
    out: Path = args.out
    fresh_output_folder(out)
    pki = TestPKI.generate()
    pki.save(out / "pki")
    signer = softhsm_document_signer(out / "hsm", pki)
    print(f"1. test PKI in {out / 'pki'}: {pki.csca_certificate.subject.rfc4514_string()}; "
          f"Document Signer key in SoftHSM2 token {signer.token.config.label!r} ({out / 'hsm'})")
    try:
        batch = personalize_batch(SAMPLES, signer, out / "perso")
    finally:
        signer.token.close()
    print(f"2. personalization of {SAMPLES.name}: {batch.line()}")
    images = [*_personalized(out / "perso"), forge_dg13_expiry(_personalized(out / "perso")[0], label=FORGED_LABEL)]
    trust = TrustStore.load(out / "pki" / "csca.pem", out / "pki" / "crl.pem")
    writer = ReportWriter(out / "report")
    print(f"3-5. {len(images)} chips on the virtual reader, read over PC/SC with PACE-CAN, CA, AA, then verified:")
    forgery_caught = _read_and_verify_all(images, trust, writer)
    summary = writer.finish("cardlib demo: QA of sample cards")
    print(f"6. QA report in {out / 'report'} (results.jsonl, summary.csv, report.html): {summary.line()}")
    genuine_valid = summary.verdicts["valid"] == len(images) - 1
    print("demo passed" if genuine_valid and forgery_caught else "demo FAILED")
    return 0 if genuine_valid and forgery_caught else 1


def fresh_output_folder(out: Path) -> None:
    """Make ``out`` an empty folder holding :data:`MARKER`, deleting it first only if an earlier demo made it.

    CardlibError, with nothing deleted, when ``out`` is a file or a non-empty folder the demo did not make.
    """
    if out.exists() and not out.is_dir():
        raise CardlibError(f"--out {out} is a file: give a folder for the demo's output")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise CardlibError(f"--out {out} is a folder the demo did not make and it is not empty: nothing was "
                               "deleted; give a new or empty folder")
        shutil.rmtree(out)
    make_folder(out)
    (out / MARKER).write_text("made by 'cardtool demo': the next demo run on this folder replaces it\n",
                              encoding="utf-8")


def _personalized(folder: Path) -> list[CardImage]:
    return [CardImage.load(entry.card) for entry in manifest_entries(folder / PERSO_MANIFEST)]


def _read_and_verify_all(images: list[CardImage], trust: TrustStore, writer: ReportWriter) -> bool:
    forgery_caught = False
    with private_pcscd() as pcscd:
        queue = VirtualChipQueue(VirtualChip(image) for image in images)
        with vpcd_card(queue, pcscd.port):
            for number, image in enumerate(images, start=1):
                outcome = _one_card(pcscd.reader_name, queue, number, image, trust)
                writer.add(outcome)
                print(f"   {outcome.label:>14}  {outcome.verdict.upper():<11} {outcome.access:<9} "
                      f"{outcome.apdus:>3} APDUs {outcome.read_ms:>6.0f} ms  {outcome.holder.get('full name', '')}")
                if outcome.verdict != "valid":
                    print(f"{'':>17}{outcome.summary}")
                forgery_caught |= image.label == FORGED_LABEL and outcome.verdict == "invalid"
    return forgery_caught


def _one_card(reader: str, queue: VirtualChipQueue, number: int, image: CardImage, trust: TrustStore) -> CardOutcome:
    deadline = time.monotonic() + CARD_TIMEOUT
    while queue.presented < number and time.monotonic() < deadline:
        time.sleep(0.01)
    assert image.secrets is not None  # personalized images carry their CAN
    try:
        result = _read(reader, AccessKey.can(image.secrets.can), deadline)
    except CardlibError as exc:
        return CardOutcome.error(image.label, str(exc))
    report = verify_read(result, trust, source=image.label)
    return CardOutcome.of(image.label, report, access=result.access, apdus=result.apdu_count,
                          read_ms=result.timings.total * 1000)


def _read(reader: str, key: AccessKey, deadline: float) -> ReadResult:
    """Read the card now on ``reader``; a card still being swapped in is retried until ``deadline``."""
    while True:
        try:
            with connect(reader, timeout=max(0.0, deadline - time.monotonic())) as transport:
                return read_card(transport, key)
        except (CardRemovedError, NoCardError):
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)
