"""What the protocol driver sees of a page: screen id, forms, links, data attributes.

Parsed with the standard library's HTML parser (no regular expressions over markup).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Form:
    action: str
    method: str
    fields: list[str] = field(default_factory=list)


@dataclass
class Page:
    url: str
    status: int
    html: str
    screen: str = ""
    forms: list[Form] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    """(href, text) of every link."""
    data: dict[str, str] = field(default_factory=dict)
    """``data-*`` attributes other than ``data-screen`` (``qr``, ``code``, ``field``…): last value wins."""
    text: str = ""


class _Parser(HTMLParser):
    def __init__(self, page: Page) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self._link: tuple[str, list[str]] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        for key, value in values.items():
            if key == "data-screen":
                self.page.screen = value
            elif key.startswith("data-"):
                self.page.data[key[5:]] = value
        if tag == "form":
            self.page.forms.append(Form(values.get("action", ""), values.get("method", "get").lower()))
        elif tag in ("input", "textarea", "select") and self.page.forms and values.get("name"):
            self.page.forms[-1].fields.append(values["name"])
        elif tag == "a":
            self._link = (values.get("href", ""), [])
        elif tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            self.page.data["refresh"] = values.get("content", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._link is not None:
            href, text = self._link
            self.page.links.append((href, "".join(text).strip()))
            self._link = None

    def handle_data(self, data: str) -> None:
        self._text.append(data)
        if self._link is not None:
            self._link[1].append(data)

    def close(self) -> None:
        super().close()
        self.page.text = " ".join(" ".join(self._text).split())


def parse_page(url: str, status: int, html: str) -> Page:
    page = Page(url, status, html)
    parser = _Parser(page)
    parser.feed(html)
    parser.close()
    return page
