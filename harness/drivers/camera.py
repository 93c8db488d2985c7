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
from playwright.async_api import Page as PwPage
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


PAGES = 2
"""Pages drawing at once: scenarios run in parallel, and a page reused draws in a tenth of a fresh one's time."""


class _Easel:
    """One page of the camera and the snapshot it is drawing (its route serves that snapshot)."""

    def __init__(self, page: PwPage) -> None:
        self.page = page
        self.html, self.url = "", ""
        self.fetch: Fetch | None = None

    async def serve(self, route: Route) -> None:
        request = route.request
        if request.is_navigation_request():  # the page itself (Chromium's spelling of its URL may differ)
            if request.frame == self.page.main_frame:
                await route.fulfill(status=200, content_type="text/html; charset=utf-8", body=self.html)
            else:  # a frame inside the page: not part of what the snapshot holds
                await route.abort()
            return
        if self.fetch is None or request.url.endswith("/favicon.ico"):  # no tab shows it
            await route.abort()
            return
        try:
            status, kind, body = await asyncio.wait_for(self.fetch(request.url), FETCH_TIMEOUT)
        except Exception:  # the page's picture or stylesheet is missing from the shot, not the shot
            await route.abort()
            return
        await route.fulfill(status=status, content_type=kind, body=body)


class SnapshotCamera:
    """One headless Chromium for a run; ``shoot`` may be called by several scenarios at once."""

    def __init__(self) -> None:
        self._playwright: Playwright | None = None
        self._browser: PwBrowser | None = None
        self._easels: asyncio.Queue[_Easel] = asyncio.Queue()
        self._starting = asyncio.Lock()

    async def __aenter__(self) -> SnapshotCamera:
        return self

    async def __aexit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.close()

    async def _ensure(self) -> None:
        async with self._starting:
            if self._browser is not None:
                return
            self._playwright = await async_playwright().start()
            try:
                self._browser = await self._playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=ARGS, timeout=LAUNCH_TIMEOUT * 1000,
                    handle_sigint=False, handle_sigterm=False, handle_sighup=False,  # stopping is ours, in order
                )  # fmt: skip
                context = await self._browser.new_context(viewport=VIEWPORT, java_script_enabled=False)  # type: ignore[arg-type]
                for _ in range(PAGES):
                    easel = _Easel(await context.new_page())
                    await easel.page.route("**/*", easel.serve)
                    self._easels.put_nowait(easel)
            except PlaywrightError as exc:
                await self.close()
                raise ChromiumUnavailable(f"--screenshots: Chromium did not start: {exc}") from exc

    async def shoot(self, html: str, url: str, fetch: Fetch) -> bytes | None:
        """PNG of ``html`` shown at ``url`` (the viewport's height); None if Chromium could not draw it in time."""
        await self._ensure()
        easel = await asyncio.wait_for(self._easels.get(), SHOT_TIMEOUT * PAGES * 4)
        try:
            easel.html, easel.url, easel.fetch = html, url, fetch
            await easel.page.goto(url, wait_until="load", timeout=SHOT_TIMEOUT * 1000)
            return await easel.page.screenshot(timeout=SHOT_TIMEOUT * 1000)
        except PlaywrightError:
            return None
        finally:
            easel.fetch = None
            self._easels.put_nowait(easel)

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
