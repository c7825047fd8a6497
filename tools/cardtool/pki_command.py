"""``cardtool pki init DIR``: a test country signing PKI (CSCA, Document Signer, CRL) in files.

For development and tests only: the private keys are written unencrypted (mode 0600).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cardlib.errors import PKIError
from cardlib.pki.testpki import KeySpec, PKIConfig, TestPKI


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``pki`` sub-command and its operations."""
    parser = commands.add_parser("pki", help="test country signing PKI")
    operations = parser.add_subparsers(dest="operation", required=True, metavar="OPERATION")
    init = operations.add_parser("init", help="create a test CSCA, Document Signer and CRL in DIR")
    init.add_argument("directory", type=Path)
    init.add_argument("--csca-key", default="brainpoolP512r1:sha512",
                      help="CURVE:HASH or rsaBITS[-pss|-pkcs1]:HASH (default brainpoolP512r1:sha512, like the VN CSCA)")
    init.add_argument("--ds-key", default="brainpoolP384r1:sha384",
                      help="key of the Document Signer, same syntax (default brainpoolP384r1:sha384)")
    init.add_argument("--country", default="VN", help="two-letter country code (default VN)")
    init.set_defaults(handler=run_init)


def run_init(args: argparse.Namespace) -> int:
    """Generate and save the PKI, then say what was made."""
    directory: Path = args.directory
    if (directory / "csca.pem").exists():
        raise PKIError(f"{directory} already holds a PKI: refusing to replace its keys")
    config = PKIConfig(csca_key=KeySpec.parse(args.csca_key), ds_key=KeySpec.parse(args.ds_key),
                       country=args.country)
    pki = TestPKI.generate(config)
    pki.save(directory)
    print(f"CSCA {pki.csca_certificate.subject.rfc4514_string()}")
    print(f"Document Signer {pki.ds_certificate.subject.rfc4514_string()}")
    print(f"written to {directory}: csca.pem ds.pem crl.pem (certificates), csca.key.pem ds.key.pem (keys)")
    return 0
