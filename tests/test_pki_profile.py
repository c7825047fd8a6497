"""The production certificate profile lives in cardlib.pki.profile; production code never loads the test PKI."""

from __future__ import annotations

import subprocess
import sys

from cryptography import x509

from cardlib.lds.oids import ID_DOCUMENT_TYPE_LIST
from cardlib.pki import profile
from cardlib.pki.filepki import FilePKI
from cardlib.testing.pki import TestPKI

PRODUCTION = ["cardlib.pki.operations", "cardlib.pki.hsm", "cardlib.pki.lint", "cardlib.verify.passive",
              "cardtool.pki_command"]


def test_production_modules_do_not_import_the_test_pki() -> None:
    code = ("import sys\n" + "".join(f"import {name}\n" for name in PRODUCTION)
            + "print(any(name.startswith('cardlib.testing') for name in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_the_test_pki_is_a_file_pki() -> None:
    assert issubclass(TestPKI, FilePKI)


def test_generated_test_pki_is_a_test_pki_and_carries_the_document_type_list() -> None:
    pki = TestPKI.generate()
    assert type(pki.rotate_document_signer()) is TestPKI
    extension = pki.ds_certificate.extensions.get_extension_for_oid(
        x509.ObjectIdentifier(ID_DOCUMENT_TYPE_LIST)).value
    assert isinstance(extension, x509.UnrecognizedExtension)
    value = profile.DocumentTypeListSyntax.load(extension.value)
    assert [str(item) for item in value["doc_type_list"].native] == ["ID"]
