"""``cardtool perso INPUT --pki DIR --out DIR``: personalize every valid row of a resident file.

The batch is :func:`cardlib.batch.perso.personalize_batch` (resume, fingerprints, one card per ID number,
``--only-rejected``, ``--new-input``, rejected rows fed back, the worker pool): its module docstring says what
the output folder holds and how a run resumes.  This command adds a progress bar on a terminal, the lines
for the operator, the exit status, and ``report.html``: counts, a chart of rejections by field, every
rejected row and the portrait warnings, from the manifest (:mod:`cardlib.batch.manifest`).

``--target jmrtd-applet`` makes cards a blank JMRTD passport applet can hold (:mod:`cardlib.card.targets`:
BAC only, RSA-1024 Active Authentication, no EF.CardAccess, no DG14), for ``cardtool encode``.

``--pace PROTOCOL`` makes chips whose EF.CardAccess offers that PACE protocol (its TR-03110 name, as in
:data:`cardlib.lds.oids.PROTOCOLS`; ``--pace-parameter-id`` picks the curve or MODP group), and a PACE-CAM
chip gets its Chip Authentication key on the PACE curve and an EF.CardSecurity.  ``--eac DIR`` (an EAC PKI
folder) or ``--eac-cvca FILE`` makes chips that trust that CVCA for Terminal Authentication, so an inspection
system of that PKI can read DG3; only the CVCA certificate is read, never a key.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from cardlib.batch.engine import default_workers
from cardlib.batch.manifest import PERSO_MANIFEST, REJECTED_CSV, PersoEntry, latest_entries
from cardlib.batch.perso import BATCH_RECORD, BatchRecord, SignerSource, personalize_batch
from cardlib.card.perso import DEFAULT_PROFILE, ChipProfile, pace_parameters
from cardlib.card.targets import TARGETS, target_named
from cardlib.errors import CardlibError
from cardlib.lds.oids import PROTOCOLS, Family, protocol_oid
from cardlib.pki.eac import EAC_CVCA_FILE, load_cvca
from cardlib.pki.hsm import PinSource
from cardlib.protocols.pace import PACEParameters
from cardtool.charts import bar_chart
from cardtool.folders import check_output_folder
from cardtool.main import COMMANDS
from cardtool.pages import render
from cardtool.progress import Progress
from cardtool.qa_summary import FailureGroup

MANIFEST = PERSO_MANIFEST
REJECTED = REJECTED_CSV
BATCH = BATCH_RECORD
PAGE = "report.html"
SHOWN_MESSAGES = 10
"""Rows named one by one on the terminal (not done again, portrait warnings); the rest are counted."""
DEFAULT_PACE = PROTOCOLS[DEFAULT_PROFILE.pace_protocol].name
"""The CCCD's PACE protocol (:data:`cardlib.card.perso.DEFAULT_PROFILE`)."""
PACE_PROTOCOLS = tuple(sorted(protocol.name for protocol in PROTOCOLS.values() if protocol.family == Family.PACE))
"""The names ``--pace`` takes: every PACE protocol cardlib runs (generic, integrated, chip authentication mapping)."""
DEFAULT_PARAMETER_IDS = {"ECDH": DEFAULT_PROFILE.pace_parameter_id, "DH": 2}
"""``--pace-parameter-id`` when not given: brainpoolP256r1 (the CCCD's curve), the 2048-bit MODP group (256-bit
subgroup) for DH."""

__all__ = ["BATCH", "MANIFEST", "PACE_PROTOCOLS", "PAGE", "REJECTED", "ManifestReport", "SignerSource",
           "chip_profile", "personalize_batch", "register", "run"]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``perso`` sub-command."""
    parser = commands.add_parser("perso", help=COMMANDS["perso"].help,
                                 description="Personalize every valid row of a resident file into card images; "
                                             "started again on the same --out, resume the batch.")
    parser.add_argument("input", type=Path, help="CSV (UTF-8, UTF-16 or Windows-1258; comma, semicolon or tab) "
                                                 "or JSON Lines of residents; or a fixed rejected.csv")
    parser.add_argument("--pki", type=Path, required=True, help="folder made by 'cardtool pki init'")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created; reused to resume)")
    parser.add_argument("--workers", type=int, help="worker processes (default: every core)")
    parser.add_argument("--only-rejected", action="store_true",
                        help="do the rows rejected in an earlier run again, and nothing else")
    parser.add_argument("--new-input", action="store_true",
                        help="INPUT replaces the file this --out was started on (rows matched by number)")
    parser.add_argument("--target", choices=sorted(TARGETS),
                        help="make cards this chip can hold (jmrtd-applet: BAC only, RSA-1024 AA, no EF.CardAccess, "
                             "for 'cardtool encode'); default: the virtual CCCD chip")
    parser.add_argument("--pace", choices=PACE_PROTOCOLS, metavar="PROTOCOL",
                        help=f"the PACE protocol the chips offer (default: {DEFAULT_PACE}, as the CCCD); one of: "
                             f"{', '.join(PACE_PROTOCOLS)}")
    parser.add_argument("--pace-parameter-id", type=int, metavar="N",
                        help="PACE standardized domain parameter ID (ICAO 9303-11 Table 7): a curve for ECDH (default "
                             f"{DEFAULT_PARAMETER_IDS['ECDH']}, the CCCD's), a MODP group 0-2 for DH (default "
                             f"{DEFAULT_PARAMETER_IDS['DH']})")
    cvca = parser.add_mutually_exclusive_group()
    cvca.add_argument("--eac", type=Path, metavar="DIR",
                      help="EAC PKI folder (cardtool pki eac init DIR): the chips trust its CVCA (cvca.cvcert), so its "
                           "inspection systems can read DG3 after Terminal Authentication")
    cvca.add_argument("--eac-cvca", type=Path, metavar="FILE",
                      help="CVCA certificate (.cvcert) the chips trust for Terminal Authentication")
    pin = parser.add_mutually_exclusive_group()
    pin.add_argument("--pin-env", metavar="VAR", help="environment variable holding the token PIN (token-held keys)")
    pin.add_argument("--pin-file", type=Path, metavar="PATH", help="file whose first line is the token PIN")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Personalize the batch; exit 0 when every row was personalized, 1 when some were rejected or refused."""
    if args.workers is not None and args.workers < 1:
        raise CardlibError("--workers must be at least 1")
    check_output_folder(args.out, "--out")
    profile = chip_profile(args.pace, args.pace_parameter_id,
                           args.eac / EAC_CVCA_FILE if args.eac is not None else args.eac_cvca)
    target = target_named(args.target) if args.target else None
    if target is not None and not target.pace and (args.pace or args.pace_parameter_id is not None):
        raise CardlibError(f"--pace: the target {target.name} offers no PACE")
    pin = PinSource(env=args.pin_env) if args.pin_env else PinSource(file=args.pin_file) if args.pin_file else None
    source = SignerSource(args.pki, pin)
    with source.open() as authority:  # a broken PKI folder, a wrong PIN or an expired DS: said before any row
        authority.document_signer()
    bar = _ProgressBar()
    try:
        summary = personalize_batch(args.input, source, args.out, workers=args.workers or default_workers(),
                                    new_input=args.new_input, only_rejected=args.only_rejected,
                                    target=target, profile=profile, on_progress=bar.update)
    finally:
        bar.close()
    report = ManifestReport.of(latest_entries(args.out / MANIFEST).values())
    (args.out / PAGE).write_text(report.html(summary.batch.title, summary.batch), encoding="utf-8")
    _print_first(summary.warnings)
    _print_first([row.message() for row in summary.refused])
    print(summary.line())
    print(f"report: {args.out / PAGE}")
    if report.rejected:
        print(f"rejected rows and reasons: {args.out / REJECTED} (fix them there and give that file as INPUT)")
    return 1 if report.rejected or summary.refused else 0


def chip_profile(pace: str | None = None, parameter_id: int | None = None, cvca: Path | None = None) -> ChipProfile:
    """The chip profile of ``--pace``, ``--pace-parameter-id`` and ``--eac``/``--eac-cvca`` (the CCCD's defaults
    for what is not given).  CardlibError naming the options when cardlib cannot make such a chip, PKIError
    naming the file when the CVCA certificate cannot be used."""
    profile = DEFAULT_PROFILE
    if pace is not None or parameter_id is not None:
        profile = _pace_profile(pace or DEFAULT_PACE, parameter_id)
    if cvca is not None:
        profile = replace(profile, trusted_cvca=load_cvca(cvca))
    return profile


def _pace_profile(name: str, parameter_id: int | None) -> ChipProfile:
    """The default profile offering PACE protocol ``name``; a PACE-CAM chip gets its Chip Authentication key on
    the PACE curve (CAM proves that key)."""
    protocol = PROTOCOLS[protocol_oid(name)]
    chosen = DEFAULT_PARAMETER_IDS[protocol.key_agreement or "ECDH"] if parameter_id is None else parameter_id
    profile = replace(DEFAULT_PROFILE, pace_protocol=protocol.oid, pace_parameter_id=chosen)
    try:
        if protocol.mapping == "CAM":
            profile = replace(profile, ca_curve=PACEParameters(protocol.oid, chosen).curve.name)
        pace_parameters(profile)
    except CardlibError as exc:
        raise CardlibError(f"--pace {name} --pace-parameter-id {chosen}: {exc}") from None
    return profile


class _ProgressBar:
    """A progress bar over the rows of a run (drawn on a terminal only), made once the run knows its size."""

    def __init__(self) -> None:
        self._bar: Progress | None = None

    def update(self, done: int, total: int) -> None:
        """``personalize_batch``'s ``on_progress``: ``done`` of ``total`` rows."""
        if self._bar is None:
            self._bar = Progress(total, unit="rows")
        self._bar.advance(done - self._bar.done)

    def close(self) -> None:
        """End the bar's line."""
        if self._bar is not None:
            self._bar.close()


def _print_first(messages: list[str]) -> None:
    """The first :data:`SHOWN_MESSAGES` messages, and how many more there are."""
    for message in messages[:SHOWN_MESSAGES]:
        print(message)
    if len(messages) > SHOWN_MESSAGES:
        print(f"... and {len(messages) - SHOWN_MESSAGES} more")


@dataclass
class ManifestReport:
    """A personalization batch as its manifest records it: counts, and the rejected rows by field."""

    personalized: int = 0
    rejected: list[PersoEntry] = field(default_factory=list)
    groups: dict[str, FailureGroup] = field(default_factory=dict)
    warnings: list[PersoEntry] = field(default_factory=list)

    @classmethod
    def of(cls, entries: Iterable[PersoEntry]) -> ManifestReport:
        """The batch of ``entries``, each row's latest (rejected rows are what the operator must fix)."""
        report = cls()
        for entry in entries:
            if entry.personalized:
                report.personalized += 1
                report.warnings += [entry] if entry.portrait is not None and entry.portrait.warning else []
                continue
            report.rejected.append(entry)
            cause = entry.field or "card data"
            report.groups.setdefault(cause, FailureGroup(cause)).add(f"row {entry.row}", entry.reason)
        return report

    def html(self, title: str, batch: BatchRecord | None = None) -> str:
        """A self-contained page: counts, a chart of rejections by field, every rejected row, portrait warnings.

        ``batch`` is the batch's record (``batch.json``): its input file and when the batch started are shown.
        Rendered from ``templates/perso_report.html`` with autoescaping (titles, ID numbers and reasons come
        from the input file).
        """
        groups = sorted(self.groups.values(), key=lambda group: (-group.count, group.check))
        return render("perso_report.html", title=title, heading=title, report=self, batch=batch,
                      chart=bar_chart([(group.check, group.count) for group in groups]))
