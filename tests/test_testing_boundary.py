"""Production code never imports the test support package cardlib.testing (tools/, e.g. cardtool demo, may).

The modules are read with ast (tests/import_graph.py), so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

from import_graph import PACKAGE, imports

TESTING = "cardlib.testing"


def _imports_testing(source: str) -> bool:
    return any(found.name == TESTING or found.name.startswith(TESTING + ".") for found in imports(source))


def _offenders(package: Path) -> list[str]:
    """The modules of ``package`` outside its ``testing/`` that import cardlib.testing."""
    production = (path for path in package.rglob("*.py") if package / "testing" not in path.parents)
    return sorted(str(path.relative_to(package)) for path in production if _imports_testing(path.read_text()))


def _has_relative_import(source: str) -> bool:
    return any(isinstance(node, ast.ImportFrom) and node.level for node in ast.walk(ast.parse(source)))


def test_no_production_module_imports_cardlib_testing() -> None:
    assert len(list(PACKAGE.rglob("*.py"))) > 50  # the walk finds the library
    assert _offenders(PACKAGE) == []


def test_cardlib_has_no_relative_imports_the_walk_would_miss() -> None:
    assert [path.name for path in PACKAGE.rglob("*.py") if _has_relative_import(path.read_text())] == []


def test_the_walk_finds_an_offender_and_spares_the_testing_package(tmp_path: Path) -> None:
    (tmp_path / "testing").mkdir()
    (tmp_path / "testing" / "cards.py").write_text("from cardlib.testing.pki import sample_pki\n")
    (tmp_path / "verify").mkdir()
    (tmp_path / "verify" / "clean.py").write_text("from cardlib.pki.profile import KeySpec\n")
    (tmp_path / "verify" / "leak.py").write_text("def f():\n    from cardlib.testing import pcscd\n")
    assert _offenders(tmp_path) == ["verify/leak.py"]


def test_the_detector_sees_every_spelling() -> None:
    assert _imports_testing("from cardlib.testing.pki import TestPKI")
    assert _imports_testing("from cardlib.testing import pcscd")
    assert _imports_testing("from cardlib import testing")
    assert _imports_testing("import cardlib.testing.cards")
    assert _imports_testing("def f():\n    from cardlib.testing.faces import synthetic_portrait_jpeg\n")
    assert not _imports_testing("from cardlib.pki.profile import KeySpec\nimport cardlib.testingx")
    assert not _imports_testing("from cardlib import limits")
    assert _has_relative_import("from ..testing import pki") and not _has_relative_import("import cardlib")
