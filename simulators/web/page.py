"""Minimal HTML screens shared by the sites: French text, one screen id per page.

Every page carries ``data-screen="<id>"`` on its body so that scenarios and tests check which
screen a step reached without scraping wording, and the wording itself stays the guide's. The id
is a ``Screen`` of the catalogue (``screens.py``), never a string typed here and there.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from aiohttp import web

from simulators.web.screens import Screen

STYLE = """
body{font-family:Marianne,Arial,sans-serif;margin:0;background:#f6f6f6;color:#161616}
header{background:#000091;color:#fff;padding:12px 24px;font-weight:bold}
main{max-width:720px;margin:24px auto;background:#fff;padding:24px 32px;border-radius:4px}
h1{font-size:1.4em;color:#000091}.error{color:#ce0500}.ok{color:#18753c}
label{display:block;margin:12px 0 4px}input{font-size:1.1em;padding:6px}
button{background:#000091;color:#fff;border:0;padding:8px 16px;margin-top:12px;font-size:1em}
.advice li{margin:6px 0}.code{font-family:monospace;font-size:1.6em;letter-spacing:4px}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left}
"""


def text(value: object) -> str:
    return escape(str(value), quote=True)


def page(
    screen: Screen,
    title: str,
    body: str,
    *,
    site: str,
    status: int = 200,
) -> web.Response:
    """A complete page; ``body`` is trusted HTML built with ``text()`` for every value."""
    html = (
        f'<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>{text(title)}</title>'
        f'<style>{STYLE}</style></head><body data-screen="{text(screen)}">'
        f"<header>{text(site)}</header><main><h1>{text(title)}</h1>{body}</main></body></html>"
    )
    return web.Response(text=html, content_type="text/html", status=status)


def paragraph(content: str, css: str = "") -> str:
    return f'<p class="{css}">{text(content)}</p>' if css else f"<p>{text(content)}</p>"


def advice(items: Iterable[str]) -> str:
    return '<ul class="advice">' + "".join(f"<li>{text(i)}</li>" for i in items) + "</ul>"


def form(action: str, fields: Iterable[tuple[str, str, str]], button: str) -> str:
    """``fields``: (name, label, input type) triples."""
    inputs = "".join(
        f'<label for="{text(n)}">{text(label)}</label><input id="{text(n)}" name="{text(n)}" type="{text(kind)}" '
        'autocomplete="off">'
        for n, label, kind in fields
    )
    return f'<form method="post" action="{text(action)}">{inputs}<button type="submit">{text(button)}</button></form>'


def link(href: str, label: str) -> str:
    return f'<p><a href="{text(href)}">{text(label)}</a></p>'
