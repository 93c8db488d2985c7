"""The sites' HTML pages: Jinja2 templates with one stylesheet per site family, inlined.

Every page carries ``data-screen="<id>"`` on its body so that scenarios and tests check which
screen a step reached without scraping wording, and the wording itself stays the guide's. The id
is a ``Screen`` of the catalogue (``screens.py``), never a string typed here and there.

Templates live in ``templates/`` (``base.html`` draws the "environnement de simulation" banner
every page shows, so nobody mistakes a simulated site for the real service; each family's layout
draws that site's header). Stylesheets live in ``static/``: ``base.css`` for every page, then
one per family. Both are read through the package (``PackageLoader``, ``importlib.resources``) so
an installed wheel serves them, and each page inlines its CSS: a page snapshot must render alone,
in the report's iframe or in a screenshot taken without the server.
"""

from __future__ import annotations

import functools
from importlib.resources import files
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup

from simulators.web.screens import Screen

FAMILIES: dict[str, str] = {
    "ecps": "the ANS e-CPS wallet (activation with or without a card)",
    "psc": "Pro Santé Connect's login and logout pages",
    "testssl": 'ATSAM\'s "Test SSL" diagnostic page',
    "sidep": "the SI-DEP portal, a government service",
    "mailbox": "the mailboxes and SMS inboxes of the outbox (a trainer's view)",
    "phone": "the virtual phone with the e-CPS app",
}
"""The looks: a family's pages set ``family`` to its name, which names its stylesheet (``static/<name>.css``)."""


BANNER = "Environnement de simulation — cps-harness — aucune donnée réelle"
"""Said at the top of every page: a simulated site must never pass for the real service."""


@functools.cache
def stylesheet(name: str) -> Markup:
    """A stylesheet of ``static/`` (trusted package data, so not escaped inside ``<style>``)."""
    return Markup(files("simulators.web").joinpath("static", f"{name}.css").read_text(encoding="utf-8"))


ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("simulators.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,  # a value a template names and the handler forgot is a bug, not a blank
    trim_blocks=True,
    lstrip_blocks=True,
    # package data does not change under a running world: no stat() of the template file per page
    # (2 % of a world's CPU under `cps-harness load`)
    auto_reload=False,
)
ENVIRONMENT.globals.update(stylesheet=stylesheet, banner=BANNER)


def render(template: str, screen: Screen, *, status: int = 200, **context: Any) -> web.Response:
    """The page ``template`` shows for ``screen``, with ``status``; every value is escaped by the template."""
    page = ENVIRONMENT.get_template(template).render(screen=str(screen), **context)
    return web.Response(text=page, content_type="text/html", status=status)
