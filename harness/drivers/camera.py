"""The protocol driver's camera: its page snapshot photographed by headless Chromium, when asked.

The protocol driver is an HTTP client: it has the page's HTML but no picture of it. With
``cps-harness run --screenshots`` one headless Chromium (Debian's, through Playwright) is started
for the whole run, and after each step that shows a page it renders the HTML the driver received
at the Chromium driver's viewport: the document is served from the snapshot itself (no request
is replayed, nothing changes in the world), the page's own stylesheets and pictures are fetched
from the world by the driver's HTTP client, and scripts do not run (a snapshot is a still).
Without ``--screenshots`` nothing here is imported and no Chromium starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable
from types import TracebackType

from playwright.async_api import Browser as PwBrowser
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Playwright, Route, async_playwright

from harness.drivers.chromium_setup import CHROMIUM, ChromiumUnavailable

VIEWPORT = {"width": 1024, "height": 720}
"""The Chromium driver's viewport (``chromium.VIEWPORT``): both drivers' pictures have one size."""
LAUNCH_TIMEOUT = 30.0
SHOT_TIMEOUT = 15.0
"""Seconds one picture may take (loading the page's stylesheets included) before the step goes without."""
FETCH_TIMEOUT = 10.0
ARGS = ["--no-sandbox", "--test-type", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip

Fetch = Callable[[str], Awaitable[tuple[int, str, bytes]]]
"""``url -> (status, content type, body)``: a page's stylesheet or picture, from the world that served it."""


class SnapshotCamera:
    """One headless Chromium for a run; ``shoot`` may be called by several scenarios at once."""

    def __init__(self) -> None:
        self._playwright: Playwright | None = None
        self._browser: PwBrowser | None = None
        self._starting = asyncio.Lock()

    async def __aenter__(self) -> SnapshotCamera:
        return self

    async def __aexit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.close()

    async def _ensure(self) -> PwBrowser:
        async with self._starting:
            if self._browser is not None:
                return self._browser
            self._playwright = await async_playwright().start()
            try:
                self._browser = await self._playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=ARGS, timeout=LAUNCH_TIMEOUT * 1000,
                    handle_sigint=False, handle_sigterm=False, handle_sighup=False,  # stopping is ours, in order
                )  # fmt: skip
            except PlaywrightError as exc:
                await self._playwright.stop()
                self._playwright = None
                raise ChromiumUnavailable(f"--screenshots: Chromium did not start: {exc}") from exc
            return self._browser

    async def shoot(self, html: str, url: str, fetch: Fetch) -> bytes | None:
        """PNG of ``html`` shown at ``url`` (the viewport's height); None if Chromium could not draw it in time."""
        browser = await self._ensure()
        context = await browser.new_context(viewport=VIEWPORT, java_script_enabled=False)  # type: ignore[arg-type]
        try:

            async def serve(route: Route) -> None:
                request = route.request
                if request.is_navigation_request():
                    if request.url.split("#")[0] == url.split("#")[0]:
                        await route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)
                    else:  # a refresh or a link elsewhere: the picture is of this page
                        await route.abort()
                    return
                try:
                    status, kind, body = await asyncio.wait_for(fetch(request.url), FETCH_TIMEOUT)
                except Exception:  # the page's picture or stylesheet is missing from the shot, not the shot
                    await route.abort()
                    return
                await route.fulfill(status=status, content_type=kind, body=body)

            await context.route("**/*", serve)
            page = await context.new_page()
            await page.goto(url, wait_until="load", timeout=SHOT_TIMEOUT * 1000)
            return await page.screenshot(timeout=SHOT_TIMEOUT * 1000)
        except PlaywrightError:
            return None
        finally:
            with contextlib.suppress(PlaywrightError):
                await context.close()

    async def close(self) -> None:
        if self._browser is not None:
            with contextlib.suppress(PlaywrightError):
                await self._browser.close()
            self._browser = None
        if self._playwright is not None:
            await self._playwright.stop()
            self._playwright = None


def open_camera() -> SnapshotCamera:
    """The camera, once it is known that Chromium is there (Playwright's absence is the caller's to say)."""
    if not os.path.exists(CHROMIUM):
        raise ChromiumUnavailable(f"--screenshots needs {CHROMIUM}: run ./bootstrap.sh setup (Debian: chromium)")
    return SnapshotCamera()
