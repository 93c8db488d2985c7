"""The Chromium driver: Debian's Chromium, driven by Playwright, with the card through NSS and OpenSC.

Each scenario gets a fresh browser profile and NSS database (the world's TLS CA trusted; the card's
middleware registered when the scenario uses the card), the sites' real host names through
``--host-resolver-rules``, and nothing beyond loopback. Headless (CI), the PIN is given by the
auto-login wrapper around OpenSC (``p11autologin.c``): it still reaches the card as a VERIFY.
Headful (trainers, under Xvfb when there is no screen), the PIN is typed into Chromium's own
"Déverrouiller l'appareil de sécurité" dialog with xdotool, and the dialog is photographed for the report.
Chromium speaks French, as on a professional's workstation: its PIN dialog, its error pages,
``navigator.language`` and the ``Accept-Language`` it sends (see ``chromium_setup.FRENCH``).

A wrong or blocked PIN makes Chromium ask again forever; the driver watches the card's answers
and closes the browser as soon as the card refuses a PIN, reporting why.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from playwright.async_api import BrowserContext, Playwright, Response, async_playwright
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page as PwPage

from harness.drivers import xscreen
from harness.drivers.base import Browser
from harness.drivers.chromium_setup import (
    CHROMIUM,
    ChromiumUnavailable,
    autologin_module,
    check_prerequisites,
    in_french,
)
from harness.drivers.page import parse_page
from harness.errors import DriverError
from harness.lifetime import pids_whose_command_line_has
from harness.middleware import OPENSC_MODULE, client_env, make_nss_db
from harness.world.assembly import World

NAVIGATION_TIMEOUT = 20.0
"""Seconds a navigation may take before the step fails (a dialog nobody answers, a mute card)."""
POLL = 0.1
LAUNCH_TIMEOUT = 30.0
"""Seconds Chromium may take to start."""
BROWSER_EXIT_TIMEOUT = 10.0
"""Seconds a closed Chromium may take to exit (it saves its profile) before its folder is removed anyway."""
ARGS = [
    "--no-sandbox",  # root in containers; --test-type hides the warning bar it would add to screenshots
    "--test-type",
    "--disable-gpu",
    "--no-first-run",
    "--password-store=basic",
    "--disable-background-networking",  # nothing leaves loopback
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
NET_ERROR = re.compile(r"net::(ERR_[A-Z0-9_]+)")
ERROR_PAGE = "chrome-error://"
"""Where Chromium shows a failed navigation's error page."""
ERROR_PAGE_TIMEOUT = 5.0
"""Seconds Chromium may take to show its error page after a failed navigation."""
PIN_DIALOG = "Déverrouiller l'appareil de sécurité"
"""The window name of Chromium's PIN dialog in French (from fr.pak, seen with ``xdotool getwindowname``;
English: "Unlock Security Device"). xdotool finds the window by it: an English Chromium's dialog goes
unanswered."""
VIEWPORT = {"width": 1024, "height": 720}
NSS_NOTICES = 1.2
"""NSS looks at a slot's token at most once a second (NSSSLOT_TOKEN_DELAY_TIME): a card inserted,
removed, offered or hidden is seen by the browser only after that, as with a person's pace."""

T = TypeVar("T")
Refused = Callable[[], str | None]
"""Returns why the card refused a PIN during the current step, or None."""


class ChromiumBrowser(Browser):
    name = "chromium"

    def __init__(
        self, world: World, workdir: Path, *, middleware: bool, headless: bool = True, refused: Refused = lambda: None
    ) -> None:
        super().__init__()
        self.world = world
        self.workdir = workdir
        self.middleware = middleware
        self.headless = headless
        self.refused = refused
        self.pin_file = workdir / "card-pin"
        self.p11_log = workdir / "p11autologin.log"
        self._playwright: Playwright | None = None
        self._context: BrowserContext | None = None
        self._page: PwPage | None = None
        self._status: int | None = None
        self._xvfb: asyncio.subprocess.Process | None = None
        self._display: str | None = None
        self._typed = False
        self._db_ready = False
        self._changed_at = -NSS_NOTICES
        self._offered: bool | None = None

    # -- the browser process -----------------------------------------------------------------------
    async def _env(self) -> dict[str, str]:
        env = client_env(self.world.stack) if self.world.stack is not None else dict(os.environ)
        env.update(
            HOME=str(self.workdir / "home"),
            CPS_P11_PIN_FILE=str(self.pin_file),
            CPS_P11_LOG=str(self.p11_log),
            CPS_P11_MODULE=OPENSC_MODULE,
        )
        env = in_french(env)
        if not self.headless:
            env["CPS_P11_NO_LOGIN"] = "1"
            env["DISPLAY"] = await self._screen()
        return env

    async def _screen(self) -> str:
        """The X display for a headful browser: the caller's, or a private Xvfb."""
        if self._display is None:
            if os.environ.get("DISPLAY"):
                self._display = os.environ["DISPLAY"]
            else:
                if shutil.which("Xvfb") is None:
                    raise ChromiumUnavailable("headful Chromium needs a screen: install xvfb (./bootstrap.sh setup)")
                self._display = await self._start_xvfb()
        return self._display

    async def _start_xvfb(self) -> str:
        """A private Xvfb of our own (``xscreen.start_xvfb``: never another scenario's screen)."""
        self._xvfb, display = await xscreen.start_xvfb(self.workdir / "xvfb.log")
        return display

    async def _ensure(self) -> PwPage:
        if self._page is not None:
            return self._page
        check_prerequisites()
        env = await self._env()
        if not self._db_ready:
            module = None
            if self.middleware:
                module = await autologin_module()
            await make_nss_db(self.workdir / "home", self.world.ca_bundle, module, env)
            self._db_ready = True
        # Interrupted (Ctrl-C) while Playwright's driver or the browser starts, they start all the same:
        # each start is waited for to its end, so that close() knows what to stop.
        starting = asyncio.ensure_future(async_playwright().start())
        try:
            self._playwright = await asyncio.shield(starting)
        finally:
            if self._playwright is None:
                self._playwright = await _settled(starting)
        launching = asyncio.ensure_future(
            self._playwright.chromium.launch_persistent_context(
                str(self.workdir / "profile"), executable_path=CHROMIUM, headless=self.headless,
                env=dict[str, str | float | bool](env),
                args=[*ARGS, f"--host-resolver-rules={self.world.host_resolver_rules()}"],
                viewport=VIEWPORT,  # type: ignore[arg-type]
                timeout=LAUNCH_TIMEOUT * 1000,
                # a terminal's Ctrl-C reaches Playwright's driver too, which would close the browser
                # behind our back (and leave its temporary folders): stopping is ours, in order
                handle_sigint=False, handle_sigterm=False, handle_sighup=False,
            )
        )  # fmt: skip
        try:
            self._context = await asyncio.shield(launching)
        except PlaywrightError as exc:
            await self._playwright.stop()
            self._playwright = None
            raise ChromiumUnavailable(f"Chromium did not start: {exc}") from exc
        finally:
            if self._context is None and self._playwright is not None:
                self._context = await _settled(launching)
        page = self._context.pages[0] if self._context.pages else await self._context.new_page()
        page.on("response", self._on_response)
        self._page = page
        return page

    def _on_response(self, response: Response) -> None:
        request = response.request
        if request.resource_type != "document":
            return
        self.exchanges.append(f"{request.method} {response.url} -> {response.status}")
        if self._page is not None and response.frame == self._page.main_frame:
            self._status = response.status

    async def _shutdown(self) -> None:
        """Close the browser, even one stuck on a dialog; the next step starts a new one."""
        context, playwright = self._context, self._playwright
        self._context = self._playwright = self._page = None
        if context is not None:
            with contextlib.suppress(TimeoutError, PlaywrightError):
                await asyncio.wait_for(context.close(), 10)
        if playwright is not None:
            with contextlib.suppress(TimeoutError, PlaywrightError):
                await asyncio.wait_for(playwright.stop(), 10)
        if context is not None:
            await self._browser_gone()

    async def _browser_gone(self, timeout: float = BROWSER_EXIT_TIMEOUT) -> None:
        """Wait until no Chromium process of this profile runs.

        Playwright's driver may close the browser on its own (a terminal's Ctrl-C reaches it too), and
        Chromium saves its profile as it exits: removing the run's folder before that left a new
        profile behind, in a folder nobody removes.
        """
        marker = f"--user-data-dir={self.workdir / 'profile'}"
        deadline = asyncio.get_running_loop().time() + timeout
        while pids_whose_command_line_has(marker) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(POLL)

    async def close(self) -> None:
        await self._shutdown()
        if self._xvfb is not None:
            await xscreen.stop(self._xvfb)

    # -- navigations ---------------------------------------------------------------------------------
    def card_changed(self) -> None:
        self._changed_at = asyncio.get_running_loop().time()

    async def _navigate(self, action: Callable[[PwPage], Awaitable[Any]], *, pin: str | None = None) -> None:
        """Run a navigation with a hard deadline, watching the card when the page may ask for it."""
        fresh = self._page is None
        page = await self._ensure()
        self._status = None
        self._typed = False
        loop = asyncio.get_running_loop()
        if not fresh:  # a new browser reads the readers as they are; a running one needs a moment
            await asyncio.sleep(max(0.0, self._changed_at + NSS_NOTICES - loop.time()))
        deadline = loop.time() + NAVIGATION_TIMEOUT
        task = asyncio.ensure_future(action(page))
        while True:
            done, _ = await asyncio.wait({task}, timeout=POLL)
            if done:
                break
            if pin is not None:
                reason = self.refused()
                if reason is not None:
                    task.cancel()
                    await self._shutdown()
                    self.failed(f"{reason}; Chromium asks for the PIN again and again: the browser was closed")
                    return
                if not self.headless:
                    await self._answer_pin_dialog(pin)
            if loop.time() > deadline:
                task.cancel()
                await self._shutdown()
                self.failed(f"no page after {NAVIGATION_TIMEOUT:.0f} s: the browser was closed")
                return
        try:
            task.result()
        except PlaywrightError as exc:
            error = NET_ERROR.search(str(exc))
            if error is None:
                raise DriverError(f"Chromium: {str(exc).splitlines()[0]}") from exc
            self.failed(error.group(1))
            await self._read_error_page(page)
            return
        await self._snapshot(page)

    async def _read_error_page(self, page: PwPage) -> None:
        """Record the words of Chromium's error page, as the professional reads them (in French).

        The step fails on the ``ERR_…`` code of Playwright's error, whatever the language; the text
        goes to the step's exchanges so that the report says what was on screen. Chromium commits
        its error page (``chrome-error://``) just after the failed navigation: waited for, briefly.
        """
        deadline = asyncio.get_running_loop().time() + ERROR_PAGE_TIMEOUT
        try:
            while not page.url.startswith(ERROR_PAGE) and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(POLL)
            if not page.url.startswith(ERROR_PAGE):
                return
            await page.wait_for_load_state("load", timeout=ERROR_PAGE_TIMEOUT * 1000)
            text = await page.evaluate("() => document.body ? document.body.innerText : ''")
        except PlaywrightError:
            return  # the screenshot, taken next, says why the page could not be read
        lines = [line.strip() for line in str(text).splitlines() if line.strip()]
        if lines:
            self.exchanges.append(f"(Chromium's error page: {' · '.join(lines)})")

    async def _snapshot(self, page: PwPage) -> None:
        await page.wait_for_load_state("load")
        html = await page.content()
        self.landed(parse_page(page.url, self._status or 200, html))

    def _offer_card(self, pin: str | None) -> None:
        """The wrapper offers the card (and logs in with ``pin``) only while the PIN file exists."""
        if self._offered is not None and self._offered != (pin is not None) and self._page is not None:
            self.card_changed()
        self._offered = pin is not None
        if pin is None:
            self.pin_file.unlink(missing_ok=True)
        else:
            self.pin_file.write_text(pin)
            self.pin_file.with_name(self.pin_file.name + ".refused").unlink(missing_ok=True)  # typed again

    async def open(self, url: str) -> None:
        self._offer_card(None)
        await self._navigate(lambda page: page.goto(url, timeout=0))

    async def card_open(self, url: str, certificate: Path, pin: str) -> None:
        del certificate  # Chromium finds it on the card, through NSS and the middleware
        self._offer_card(pin)
        await self._navigate(lambda page: page.goto(url, timeout=0), pin=pin)

    async def _click_link(self, page: PwPage, text: str) -> None:
        link = page.locator("a", has_text=text).first
        if await link.count() == 0:
            raise DriverError(f"no link containing {text!r} on screen {self.page.screen if self.page else None!r}")
        async with page.expect_navigation(timeout=0):
            await link.click()

    async def follow(self, text: str) -> None:
        self._offer_card(None)
        await self._navigate(lambda page: self._click_link(page, text))

    async def card_follow(self, text: str, certificate: Path, pin: str) -> None:
        del certificate
        self._offer_card(pin)
        await self._navigate(lambda page: self._click_link(page, text), pin=pin)

    async def submit(self, fields: dict[str, str]) -> str:
        current = self.current()
        form = next((f for f in current.forms if set(fields) <= set(f.fields)), None)
        if form is None:
            raise DriverError(f"no form with fields {sorted(fields)} on screen {current.screen!r}")
        index = current.forms.index(form)

        async def fill_and_send(page: PwPage) -> None:
            element = page.locator("form").nth(index)
            for name, value in fields.items():
                field = element.locator(f'[name="{name}"]').first
                kind = await field.evaluate("e => e.tagName.toLowerCase() + ':' + (e.type || '')")
                if kind in ("input:hidden",):
                    await field.evaluate("(e, v) => { e.value = v; }", value)
                elif kind in ("input:radio", "input:checkbox"):
                    await element.locator(f'[name="{name}"][value="{value}"]').check()
                elif kind.startswith("select"):
                    await field.select_option(value)
                else:
                    await field.fill(value)
            button = element.locator("button[type=submit], input[type=submit], button:not([type])").first
            async with page.expect_navigation(timeout=0):
                if await button.count():
                    await button.click()
                else:
                    await element.evaluate("f => f.requestSubmit()")

        self._offer_card(None)
        await self._navigate(fill_and_send)
        return f"form {form.action} ({', '.join(sorted(fields))}) typed and sent"

    async def back(self) -> str:
        self._offer_card(None)
        await self._navigate(lambda page: page.go_back(timeout=0))
        return "back"

    async def refresh(self) -> None:
        if self.page is None or "refresh" not in self.page.data:
            return

        async def reload(page: PwPage) -> None:
            try:
                await page.reload(timeout=0)
            except PlaywrightError:  # the page's own refresh won the race: wait for it instead
                await page.wait_for_load_state("load")

        await self._navigate(reload)

    # -- what the user sees --------------------------------------------------------------------------
    async def screenshot(self) -> bytes | None:
        if self._page is None:
            return None
        reason = ""
        for _ in range(3):  # after a failed navigation Chromium is still committing its error page
            try:
                await self._page.wait_for_load_state("load", timeout=10_000)
                return await self._page.screenshot(timeout=15_000)
            except PlaywrightError as exc:
                reason = str(exc).splitlines()[0]
                await asyncio.sleep(0.5)
        self.exchanges.append(f"(no screenshot: {reason})")  # the report says why the picture is missing
        return None

    async def _answer_pin_dialog(self, pin: str) -> None:
        """Headful: photograph Chromium's PIN dialog and type the PIN into it, once per step."""
        if self._typed or self._display is None:
            return
        window = await xscreen.find_window(self._display, PIN_DIALOG)
        if window is None:
            return
        self._typed = True
        await asyncio.sleep(0.3)  # let the dialog paint before the photograph
        self.pin_dialogs.append(await asyncio.to_thread(xscreen.grab_screen, self._display))
        await xscreen.type_into(self._display, window, pin)


async def _settled(start: asyncio.Future[T]) -> T | None:
    """What ``start`` started, once it ends (None if it failed or took over ``LAUNCH_TIMEOUT``)."""
    try:
        return await asyncio.wait_for(start, LAUNCH_TIMEOUT + 5)
    except Exception:  # the start's own error was, or will be, raised where it was awaited
        return None
