"""The HTML report pages of cardtool, rendered from Jinja2 templates (``cardtool/templates``) with autoescaping.

Report pages show text taken from cards and input files (names, reasons, reader names, file titles) that
may be hostile: every value a template prints is HTML-escaped unless it is :class:`markupsafe.Markup`
made by a template itself (the SVG charts), so no interpolation has to remember to escape by hand.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

__all__ = ["macro", "render"]


@lru_cache(maxsize=1)
def _environment() -> Environment:
    """One environment for every page: autoescaping on, an undefined name is an error, block tags leave no lines."""
    return Environment(loader=PackageLoader("cardtool", "templates"), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render(template: str, **context: Any) -> str:
    """The page ``template`` (a file of ``cardtool/templates``) filled with ``context``."""
    return _environment().get_template(template).render(**context)


def macro(template: str, name: str, *arguments: Any) -> Markup:
    """The markup of macro ``name`` of ``template`` called with ``arguments`` (escaped like any page)."""
    made = getattr(_environment().get_template(template).module, name)(*arguments)
    return Markup(made)
