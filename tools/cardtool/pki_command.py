"""``cardtool pki``: the country signing PKI an operator runs, and the checks a verifier runs on trust material.

* ``pki init DIR`` — CSCA, first Document Signer and CRL; keys in files (development, unencrypted, 0600)
  or with ``--token LABEL`` generated inside a PKCS#11 token (SoftHSM2 unless ``--module``).  The names
  (``--org``, ``--csca-name``, ``--ds-name``, ``--country``) and the CRL address written into every
  certificate (``--crl-url``) are the deployment's own; the defaults are those of a test PKI.
* ``pki ds rotate DIR`` — a new Document Signer key and certificate; the old key is destroyed.
* ``pki crl issue DIR [--revoke SERIAL ...]`` — the next CRL.
* ``pki lint CERT...`` — ICAO 9303-12 profile findings for certificates and CRLs (exit 1 if any deviates).
* ``pki eac init DIR`` — a test Extended Access Control PKI (CVCA → DV → inspection system CV certificates granting
  the DG3 and DG4 read rights, keys in files), for Terminal Authentication.
* ``pki trust PATH...`` — what a trust store loads from folders, master lists and CRLs: which lists are anchored
  (their signer chains to a CSCA given as a file), which are not and therefore trusted for nothing, and the
  profile findings of the trusted CSCAs.

Token PINs come from ``--pin-env VAR`` or ``--pin-file PATH``, never from the command line.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from cardlib.errors import PKIError
from cardlib.pki.anchoring import ListTrust
from cardlib.pki.certificates import Certificate, RevocationList, pem_blocks
from cardlib.pki.eac import EACPKI, EACConfig
from cardlib.pki.hsm import SOFTHSM_MODULE, PinSource, TokenConfig
from cardlib.pki.lint import LintReport, lint_certificate, lint_crl
from cardlib.pki.operations import IssuingAuthority
from cardlib.pki.profile import KeySpec, PKIConfig
from cardlib.pki.trust import TrustStore
from cardtool.folders import check_output_folder, make_folder
from cardtool.helptext import end_with_example
from cardtool.main import COMMANDS

_DEFAULTS = PKIConfig()


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``pki`` sub-command and its operations."""
    parser = commands.add_parser("pki", help=COMMANDS["pki"].help)
    operations = parser.add_subparsers(dest="operation", required=True, metavar="OPERATION")
    _register_init(operations)
    ds = operations.add_parser("ds", help="Document Signer operations").add_subparsers(
        dest="ds_operation", required=True, metavar="ACTION")
    rotate = ds.add_parser("rotate", help="issue a new Document Signer and destroy the old key")
    end_with_example(rotate, "cardtool pki ds rotate pki --pin-file /etc/cardlib/token.pin")
    rotate.add_argument("directory", type=Path)
    _pin_arguments(rotate)
    rotate.set_defaults(handler=run_rotate)
    crl = operations.add_parser("crl", help="CRL operations").add_subparsers(
        dest="crl_operation", required=True, metavar="ACTION")
    issue = crl.add_parser("issue", help="issue the next CRL")
    end_with_example(issue, "cardtool pki crl issue pki --revoke 0x5b3a973a")
    issue.add_argument("directory", type=Path)
    issue.add_argument("--revoke", action="append", default=[], metavar="SERIAL",
                       help="serial (hex with 0x, or decimal) of an issued certificate to revoke; repeatable")
    _pin_arguments(issue)
    issue.set_defaults(handler=run_crl_issue)
    lint = operations.add_parser("lint", help="check certificates and CRLs against the ICAO 9303-12 profiles")
    end_with_example(lint, "cardtool pki lint pki/csca.pem pki/ds.pem pki/crl.pem")
    lint.add_argument("files", type=Path, nargs="+", metavar="CERT")
    lint.set_defaults(handler=run_lint)
    _register_eac(operations)
    trust = operations.add_parser("trust", help="load a trust store and report counts and profile findings")
    end_with_example(trust, "cardtool pki trust pki/csca.pem ICAO_ml.ml")
    trust.add_argument("paths", type=Path, nargs="+", metavar="PATH")
    trust.set_defaults(handler=run_trust)


def _register_init(operations: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    init = operations.add_parser("init", help="create a CSCA, Document Signer and CRL in DIR")
    end_with_example(init, "cardtool pki init pki --org 'Bộ Công an' --csca-name 'CSCA Vietnam' --ds-name "
                           "'Document Signer CCCD 01' --crl-url http://pki.example.vn/csca.crl --token cardlib-ds "
                           "--pin-file /etc/cardlib/token.pin")
    init.add_argument("directory", type=Path)
    init.add_argument("--csca-key", default="brainpoolP512r1:sha512",
                      help="CURVE:HASH or rsaBITS[-pss|-pkcs1]:HASH (default brainpoolP512r1:sha512, like the VN CSCA)")
    init.add_argument("--ds-key", default="brainpoolP384r1:sha384",
                      help="key of the Document Signer, same syntax (default brainpoolP384r1:sha384)")
    init.add_argument("--country", default=_DEFAULTS.country, help="two-letter country code (default %(default)s)")
    init.add_argument("--org", default=_DEFAULTS.organisation,
                      help="organisation (O) of both certificates' names (default %(default)r)")
    init.add_argument("--csca-name", default=_DEFAULTS.csca_common_name,
                      help="common name (CN) of the CSCA (default %(default)r)")
    init.add_argument("--ds-name", default=_DEFAULTS.ds_common_name,
                      help="common name (CN) of the Document Signer (default %(default)r)")
    init.add_argument("--crl-url", type=_crl_url, default=_DEFAULTS.crl_distribution_url,
                      help="where verifiers fetch the CRL (http, https or ldap URL written in every certificate; "
                           "default %(default)s)")
    init.add_argument("--token", metavar="LABEL", help="generate the keys in this PKCS#11 token instead of files")
    init.add_argument("--module", default=SOFTHSM_MODULE, help=f"PKCS#11 module (default {SOFTHSM_MODULE})")
    _pin_arguments(init)
    init.set_defaults(handler=run_init)


def _register_eac(operations: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    eac = operations.add_parser("eac", help="Extended Access Control (Terminal Authentication) test PKI")
    actions = eac.add_subparsers(dest="eac_operation", required=True, metavar="ACTION")
    init = actions.add_parser("init", help="create a test CVCA, document verifier and inspection system in DIR")
    end_with_example(init, "cardtool pki eac init eac --country VN")
    init.add_argument("directory", type=Path)
    init.add_argument("--country", default=EACConfig.country, help="two-letter country code (default %(default)s)")
    init.add_argument("--curve", default=EACConfig.curve, help="curve of the three keys (default %(default)s)")
    init.set_defaults(handler=run_eac_init)


def run_eac_init(args: argparse.Namespace) -> int:
    """Create the test EAC PKI in DIR and say what was made."""
    check_output_folder(args.directory, "DIR")
    if (args.directory / "cvca.cvcert").exists():
        raise PKIError(f"{args.directory} already holds an EAC PKI (cvca.cvcert): give another folder")
    make_folder(args.directory)
    pki = EACPKI.generate(EACConfig(country=args.country, curve=args.curve))
    for name, certificate in (("CVCA", pki.cvca), ("DV", pki.dv), ("inspection system", pki.inspection_system)):
        body = certificate.body
        print(f"{name} {certificate.chr} signed by {certificate.car}, {body.effective:%Y-%m-%d} to "
              f"{body.expiration:%Y-%m-%d}, reads {' '.join(body.chat.rights.names()) or 'nothing'}")
    pki.save(args.directory)
    print(f"written to {args.directory}: cvca.cvcert dv.cvcert is.cvcert; private keys in *.key.pem (development only)")
    return 0


def _pin_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--pin-env", metavar="VAR", help="environment variable holding the token user PIN")
    group.add_argument("--pin-file", type=Path, metavar="PATH", help="file whose first line is the token user PIN")


def _pin(args: argparse.Namespace) -> PinSource | None:
    if args.pin_env is None and args.pin_file is None:
        return None
    return PinSource(env=args.pin_env, file=args.pin_file)


def _crl_url(text: str) -> str:
    """``--crl-url``: an absolute http, https or ldap URL with a host."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https", "ldap") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http://, https:// or ldap:// address")
    return text


def run_init(args: argparse.Namespace) -> int:
    """Create the PKI in files or in a token, then say what was made and where."""
    config = PKIConfig(csca_key=KeySpec.parse(args.csca_key), ds_key=KeySpec.parse(args.ds_key),
                       country=args.country, organisation=args.org, csca_common_name=args.csca_name,
                       ds_common_name=args.ds_name, crl_distribution_url=args.crl_url)
    check_output_folder(args.directory, "DIR")
    make_folder(args.directory)
    token = None
    if args.token is not None:
        pin = _pin(args)
        if pin is None:
            raise PKIError("--token needs --pin-env VAR or --pin-file PATH")
        token = TokenConfig(args.token, pin, args.module)
    with IssuingAuthority.create(args.directory, config, token=token) as authority:
        print(f"CSCA {authority.csca_certificate.subject.rfc4514_string()}")
        _print_ds(authority)
        keys = f"in token {args.token!r}" if token else "in csca.key.pem, ds.key.pem (development only)"
        print(f"written to {args.directory}: csca.pem ds.pem crl.pem pki.json; private keys {keys}")
    return 0


def _print_ds(authority: IssuingAuthority) -> None:
    certificate = Certificate.from_cryptography(authority.ds_certificate)
    period = certificate.private_key_usage_period
    until = f", signs until {period[1]:%Y-%m-%d}" if period and period[1] else ""
    print(f"Document Signer {certificate.subject} serial {certificate.serial_number:#x}{until}")


def run_rotate(args: argparse.Namespace) -> int:
    """Rotate the Document Signer of the PKI in DIR."""
    with IssuingAuthority.open(args.directory, _pin(args)) as authority:
        old = authority.ds_certificate.serial_number
        authority.rotate_document_signer()
        print(f"retired Document Signer serial {old:#x} (certificate archived, key destroyed)")
        _print_ds(authority)
    return 0


def _serial(text: str) -> int:
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError as error:
        raise PKIError(f"--revoke {text!r}: not a serial number (decimal, or hex with 0x)") from error


def run_crl_issue(args: argparse.Namespace) -> int:
    """Issue the next CRL, revoking the given serials."""
    serials = [_serial(text) for text in args.revoke]
    with IssuingAuthority.open(args.directory, _pin(args)) as authority:
        crl = RevocationList.from_cryptography(authority.issue_crl(serials))
    print(f"CRL number {crl.crl_number} issued {crl.this_update:%Y-%m-%d %H:%M}, next update "
          f"{crl.next_update:%Y-%m-%d}; {len(crl.revoked_serials)} revoked certificate(s)")
    return 0


def _lint_file(path: Path) -> list[LintReport]:
    """Reports for every certificate and CRL in one PEM or DER file; PKIError naming the file otherwise."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise PKIError(f"{path}: cannot read ({error.strerror})") from error
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            reports = [_lint_item(kind, der) for kind, der in pem_blocks(data) if kind in ("CERTIFICATE", "X509 CRL")]
        else:
            reports = [_lint_der(data)]
    except PKIError as error:
        raise PKIError(f"{path}: {error}") from error
    if not reports:
        raise PKIError(f"{path}: no certificate or CRL")
    return reports


def _lint_item(kind: str, der: bytes) -> LintReport:
    if kind == "CERTIFICATE":
        return lint_certificate(Certificate.from_der(der))
    return lint_crl(RevocationList.from_der(der))


def _lint_der(der: bytes) -> LintReport:
    try:
        certificate = Certificate.from_der(der)
    except PKIError:
        try:
            return lint_crl(RevocationList.from_der(der))
        except PKIError as error:
            raise PKIError("neither a certificate nor a CRL") from error
    return lint_certificate(certificate)


def run_lint(args: argparse.Namespace) -> int:
    """Print each item's findings; exit 1 when any item deviates from its profile."""
    reports = [report for path in args.files for report in _lint_file(path)]
    for report in reports:
        print(report.to_text())
    deviating = sum(not report.conforms for report in reports)
    print(f"{len(reports)} checked, {deviating} deviate")
    return 1 if deviating else 0


_LIST_STATE = {ListTrust.ANCHORED: "anchored, its CSCAs trusted", ListTrust.UNANCHORED: "UNANCHORED, NOT trusted",
               ListTrust.REJECTED: "NOT trusted"}


def run_trust(args: argparse.Namespace) -> int:
    """Load the trust store and report what it holds, what it refused, and how the CSCAs meet the profile."""
    store = TrustStore.load(*args.paths)
    for status in store.master_list_statuses:
        master_list = status.master_list
        signer = master_list.signer.subject if master_list.signer else "signer not found"
        print(f"master list {master_list.source}: {len(master_list.certificates)} certificates, "
              f"{len({c.country for c in master_list.certificates})} countries, {len(master_list.crls)} CRLs, "
              f"signed by {signer}: {_LIST_STATE[status.trust]} ({status.reason})")
    print(f"{len(store.anchors)} anchor certificates given; {len(store.cscas)} CSCA certificates trusted from "
          f"{len({c.country for c in store.cscas})} countries, {len(store.crls)} CRLs")
    for issue in store.load_report:
        print(f"not loaded: {issue}")
    reports = [lint_certificate(certificate) for certificate in store.cscas]
    deviating = [report for report in reports if not report.conforms]
    for report in deviating:
        print(report.to_text())
    counts = Counter(f.check for report in reports for f in report.findings)
    summary = ", ".join(f"{check} {count}" for check, count in counts.most_common())
    print(f"profile: {len(deviating)} of {len(reports)} CSCA certificates deviate; findings: {summary or 'none'}")
    return 0
