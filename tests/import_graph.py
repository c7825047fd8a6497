"""The imports of cardlib's modules, read with ast rather than imported, shared by the architecture tests.

Reading the source means an import inside a function or under ``TYPE_CHECKING`` counts as much as one at the top.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import cardlib

PACKAGE = Path(cardlib.__file__).parent


@dataclass(frozen=True)
class Import:
    """One name an ``import`` or ``from … import`` statement brings in: its line, the module it is imported
    from (``a.b`` in ``from a.b import c``; ``a.b`` itself in ``import a.b``) and the name in full (``a.b.c``)."""

    line: int
    module: str
    name: str


def imports(source: str) -> list[Import]:
    """Every name ``source`` imports, at any depth.

    ``from a.b import c`` gives ``a.b.c``: ``c`` may be a module (``from cardlib import testing``) or a name
    defined in ``a.b``, and either way the dotted name starts with the module it comes from.
    """
    found: list[Import] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [Import(node.lineno, alias.name, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            found += [Import(node.lineno, node.module, f"{node.module}.{alias.name}") for alias in node.names]
    return found
