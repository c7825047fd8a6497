"""cardlib's layers: every subpackage and top module imports only the layers under it, so dependencies flow one way.

The table is the README's ("What is inside"). Each layer names the layers right under it; it may import those and,
transitively, whatever they may import, plus its own modules. The modules are read with ast
(tests/import_graph.py): imports inside functions and under ``TYPE_CHECKING`` count.
"""

from __future__ import annotations

from pathlib import Path

from import_graph import PACKAGE, imports

FACADE = "cardlib"
"""The package's ``__init__``: the names an integrator imports from ``cardlib``."""

UNDER: dict[str, frozenset[str]] = {
    "errors": frozenset(),
    "limits": frozenset({"errors"}),
    "curves": frozenset({"errors"}),
    "model": frozenset({"errors"}),
    "lds": frozenset({"model", "curves", "limits"}),
    "pki": frozenset({"lds"}),
    "protocols": frozenset({"pki"}),
    "card": frozenset({"protocols"}),  # the data of a card: CardImage, personalization, targets
    "chip": frozenset({"card"}),  # the virtual chip answers with a card image
    "reader": frozenset({"card"}),  # a read gives a card image
    "verify": frozenset({"reader"}),
    "evidence": frozenset({"verify"}),
    "batch": frozenset({"verify"}),  # the production line: perso, encoding blank applets, QA
    "service": frozenset({"evidence"}),
    "testing": frozenset({"chip", "batch", "service"}),  # anything of the library
    FACADE: frozenset({"batch", "service"}),
}


def _allowed(layer: str) -> frozenset[str]:
    """The layers ``layer`` may import: those under it in the table, and theirs, all the way down (a cycle in
    the table puts ``layer`` among them)."""
    allowed: set[str] = set()
    todo = list(UNDER[layer])
    while todo:
        under = todo.pop()
        if under not in allowed:
            allowed.add(under)
            todo += UNDER[under]
    return frozenset(allowed)


def _layer(name: str) -> str:
    """The layer of a module or name of cardlib: its subpackage or top module, else the facade."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in UNDER else FACADE


def _module_name(path: Path, package: Path) -> str:
    """``cardlib/lds/tlv.py`` → ``cardlib.lds.tlv``; ``cardlib/lds/__init__.py`` → ``cardlib.lds``."""
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _edges(package: Path) -> list[tuple[str, int, str]]:
    """Every import from one layer of ``package`` into another: (importing module, line, imported module).

    The imported module is the one named after ``from``, unless that is the facade and the name a layer
    (``from cardlib import curves`` imports ``cardlib.curves``); one edge per module a line imports.
    """
    edges: dict[tuple[str, int, str], None] = {}
    for path in sorted(package.rglob("*.py")):
        module = _module_name(path, package)
        for found in imports(path.read_text()):
            if found.name.split(".")[0] == package.name and _layer(found.name) != _layer(module):
                shown = found.module if _layer(found.module) == _layer(found.name) else found.name
                edges[module, found.line, shown] = None
    return list(edges)


def _violations(package: Path) -> list[str]:
    """The imports of ``package`` that go up or sideways, each named by module, line and what it imports."""
    return [f"{module}:{line} imports {imported} ({_layer(module)} → {_layer(imported)} is not in the table)"
            for module, line, imported in _edges(package) if _layer(imported) not in _allowed(_layer(module))]


def test_every_layer_imports_only_the_layers_under_it() -> None:
    violations = _violations(PACKAGE)
    assert violations == [], "\n".join(violations)


def test_the_library_imports_nothing_of_the_tools() -> None:
    above = {"cardtool", "benchmarks", "tests"}
    assert [f"{path.relative_to(PACKAGE)}:{found.line} imports {found.name}" for path in sorted(PACKAGE.rglob("*.py"))
            for found in imports(path.read_text()) if found.name.split(".")[0] in above] == []


def test_the_table_names_every_subpackage_and_top_module() -> None:
    assert {_layer(_module_name(path, PACKAGE)) for path in PACKAGE.rglob("*.py")} == set(UNDER)


def test_the_table_flows_one_way() -> None:
    assert [layer for layer in UNDER if layer in _allowed(layer)] == []
    assert FACADE not in _allowed("testing") and "testing" not in _allowed(FACADE)


def test_the_walk_sees_the_library_edges() -> None:
    layers = {(_layer(module), _layer(name)) for module, _, name in _edges(PACKAGE)}
    assert {("reader", "card"), ("verify", "reader"), ("lds", "curves"), ("protocols", "pki")} <= layers
    assert ("lds", "lds") not in layers  # imports inside a layer are not edges


def test_a_violation_names_the_module_the_line_and_the_import(tmp_path: Path) -> None:
    package = tmp_path / "cardlib"
    for folder in ("card", "lds", "batch"):
        (package / folder).mkdir(parents=True)
    (package / "__init__.py").write_text("from cardlib.batch.perso import personalize_batch\n")
    (package / "card" / "encode.py").write_text(
        "from cardlib.lds import files\n\n\ndef f():\n    from cardlib.reader.reader import read_card\n")
    (package / "lds" / "tlv.py").write_text("from cardlib import curves, verify\nimport cardlib.errors\n"
                                          "from cardlib.verify.report import Status, Verdict\n")
    (package / "batch" / "perso.py").write_text("from cardlib.card.encode import f\nimport cardlibx\n")
    assert _violations(package) == [
        "cardlib.card.encode:5 imports cardlib.reader.reader (card → reader is not in the table)",
        "cardlib.lds.tlv:1 imports cardlib.verify (lds → verify is not in the table)",
        "cardlib.lds.tlv:3 imports cardlib.verify.report (lds → verify is not in the table)",
    ]
