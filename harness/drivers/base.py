"""What every browser driver offers the scenario player: the same actions, the same observations.

A scenario file does not say which browser plays it. The protocol driver (an HTTP client, fast,
the default) and the Chromium driver (the real browser, its dialogs and error pages) both turn
``browser.*`` steps into navigations and expose what the expectations check: the current page, whether
the request itself failed and why, the OAuth error carried by the last redirect, the exchanges
of the step and, where there is a screen, a screenshot.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from harness.drivers.page import Page
from harness.errors import DriverError

STEP_TIMEOUT = 60.0
"""No step may take longer: a card that never answers or a dialog nobody closes ends here."""


class Browser(ABC):
    """The professional's browser, as the player sees it."""

    name: str = "browser"

    def __init__(self) -> None:
        self.page: Page | None = None
        self.request_failed = False
        self.client_error = ""
        self.last_error: str | None = None
        self.exchanges: list[str] = []
        """``METHOD URL -> status`` of the step's requests (cleared at each step)."""
        self.pin_dialogs: list[bytes] = []
        """Screenshots (PNG) of the card's PIN dialog shown during the step (headful Chromium)."""

    def start_step(self) -> None:
        self.request_failed = False
        self.client_error = ""
        self.exchanges.clear()
        self.pin_dialogs.clear()

    def current(self) -> Page:
        if self.page is None:
            raise DriverError("no page is open")
        return self.page

    def landed(self, page: Page) -> Page:
        """Record a page the browser arrived at; the OAuth ``error`` of its URL, if any."""
        self.page = page
        self.last_error = parse_qs(urlparse(page.url).query).get("error", [None])[0]
        return page

    def failed(self, reason: str) -> None:
        self.request_failed = True
        self.client_error = reason
        self.page = None

    @abstractmethod
    async def open(self, url: str) -> None: ...

    @abstractmethod
    async def submit(self, fields: dict[str, str]) -> str:
        """Fill and send the current page's form that has these fields; a summary of what was sent."""

    @abstractmethod
    async def follow(self, text: str) -> None: ...

    @abstractmethod
    async def back(self) -> str: ...

    @abstractmethod
    async def card_open(self, url: str, certificate: Path, pin: str) -> None:
        """GET with TLS client authentication by the card in the reader (PIN for the middleware)."""

    @abstractmethod
    async def card_follow(self, text: str, certificate: Path, pin: str) -> None: ...

    @abstractmethod
    async def refresh(self) -> None:
        """The waiting page polls again (after the phone answered)."""

    def card_changed(self) -> None:
        """A card was inserted or removed: a browser that watches readers needs a moment to notice."""
        return None

    async def screenshot(self) -> bytes | None:
        """PNG of what the user sees now; None for a driver without a screen."""
        return None

    async def close(self) -> None:
        return None
