"""A page snapshot made self-contained for the console's sandboxed frame.

The protocol driver has no screen: the console shows the page's HTML in an ``<iframe sandbox
srcdoc>``. Inside it a relative ``/static/…`` would point at the console, and an absolute URL at the
real service's host name (the trainer's browser does not know the world's ports). So the page's
stylesheets and images are fetched from the world, by the world's own client, and written into the
page (``<style>``, ``data:`` URLs) before it is shown. Markup is read with the standard library's
HTML parser; a resource that cannot be fetched is left out, never fetched from elsewhere.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Awaitable, Callable
from html.parser import HTMLParser
from urllib.parse import urljoin

Fetch = Callable[[str], Awaitable[tuple[str, bytes] | None]]
"""``async url -> (content type, body)``, or None when the world does not serve it."""


class _Resources(HTMLParser):
    """The tags that load a stylesheet or an image, as written in the page, with their URL."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str, str, list[tuple[str, str | None]]]] = []
        """(the tag's text, ``style`` or ``img``, its URL, its attributes)."""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        text = self.get_starttag_text() or ""
        if tag == "link" and "stylesheet" in values.get("rel", "").lower().split() and values.get("href"):
            self.found.append((text, "style", values["href"], attrs))
        elif tag == "img" and values.get("src") and not values["src"].startswith("data:"):
            self.found.append((text, "img", values["src"], attrs))

    handle_startendtag = handle_starttag


async def self_contained(page: str, base: str, fetch: Fetch) -> str:
    """``page`` with its stylesheets inlined and its images as ``data:`` URLs, fetched from ``base``."""
    parser = _Resources()
    parser.feed(page)
    parser.close()
    for text, kind, url, attrs in parser.found:
        got = await fetch(urljoin(base, url))
        if got is None:
            continue
        content_type, body = got
        if kind == "style":
            css = body.decode("utf-8", errors="replace").replace("</", "<\\/")
            page = page.replace(text, f"<style>{css}</style>", 1)
        else:
            data = f"data:{content_type};base64,{base64.b64encode(body).decode()}"
            written = " ".join(
                name if value is None else f'{name}="{html.escape(data if name == "src" else value, quote=True)}"'
                for name, value in attrs
            )
            page = page.replace(text, f"<img {written}>", 1)
    return page
