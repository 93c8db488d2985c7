"""Render a page of the "reports" family: a template beside its module, the family's stylesheet inlined.

Every ``{{ value }}`` a template prints goes through the page's ``redact`` first (Jinja2's
``finalize``), so no template can forget to mask a PIN or a password; then autoescape escapes it.
Two kinds of value are printed as they are, unmasked: :class:`Clean` (text already masked for its
own kind, e.g. an APDU log masked as hex only, whose ``P1P2=0000`` is an offset and not the PIN
0000) and :class:`DataUri` (a picture: a mask inside base64 would break it, and a picture holds no
typed text).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, lru_cache
from importlib.resources import files
from typing import Any

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

Redact = Callable[[str], str]


class Clean(str):
    """Text already masked for what it is: printed (and escaped) without the page's ``redact``."""

    __slots__ = ()


class DataUri(str):
    """A ``data:`` URI of an embedded picture: never masked (base64), never escaped into something else."""

    __slots__ = ()


@cache
def stylesheet() -> str:
    """The one stylesheet of the report, the slides and diagnose's page (inlined in each)."""
    return files("harness.reporting").joinpath("static", "reports.css").read_text(encoding="utf-8")


def _finalize(redact: Redact) -> Callable[[Any], Any]:
    def finalize(value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, Clean | DataUri):
            return value
        if isinstance(value, Markup):  # already HTML (escaped): mask the escaped forms too
            return Markup(redact(str(value)))
        if isinstance(value, str):
            return redact(value)
        return value

    return finalize


@lru_cache(maxsize=16)
def _environment(package: str, redact: Redact) -> Environment:
    environment = Environment(
        loader=ChoiceLoader([PackageLoader(package, "templates"), PackageLoader("harness.reporting", "templates")]),
        autoescape=True,
        undefined=StrictUndefined,  # a misspelt name in a template fails the render, never prints nothing
        finalize=_finalize(redact),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.globals["stylesheet"] = Markup(stylesheet())
    return environment


def render(package: str, template: str, *, redact: Redact = str, **context: Any) -> str:
    """The page ``template`` of ``package``'s ``templates/`` folder, every printed value masked by ``redact``.

    ``redact`` must be hashable and stable (a bound method of one ``Redactor``): the environment
    is cached per (package, redact), so a run renders its pages with one compiled set of templates.
    """
    return _environment(package, redact).get_template(template).render(**context)
