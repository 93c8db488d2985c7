"""The Firefox driver: Debian's Firefox ESR, driven through Marionette, with the card through NSS and OpenSC.

The guide's first advice when the card path fails is to try another browser, and Firefox has its own
NSS profile, its own way of loading PKCS#11 modules, its own certificate choice, PIN prompt and
error pages. Each scenario gets a fresh profile: its NSS database trusts the world's TLS CA
(certutil), ``user.js`` maps the sites' real host names to loopback (``network.dns.localDomains``:
Firefox has no ``--host-resolver-rules``; the ports stay in the URLs, as with Chromium), picks the
client certificate by itself ("Select Automatically") and asks for French. OpenSC is registered in
the profile's NSS database (modutil) when the scenario's workstation has the middleware: the
``SecurityDevices`` enterprise policy works too (measured), but Debian reads it machine-wide
(``/etc/firefox/policies/policies.json``), so every Firefox of every scenario had OpenSC, the
"middleware absent" paths too (G3-03 then hung with no page).

The client is ``marionette_driver``, Mozilla's own Python client for Marionette, Firefox's built-in
remote protocol: Playwright needs its own patched Firefox, and geckodriver is neither in Debian
bookworm nor on PyPI. Its calls block, so they run in a thread: the event loop keeps serving the
virtual card meanwhile.

A scenario that uses the card runs Firefox headful on a private Xvfb (headless Firefox waits forever
at its PIN prompt, measured): the PIN is typed into Firefox's own "Mot de passe nécessaire" dialog with
xdotool and the dialog is photographed for the report. Other scenarios run headless unless asked.
A wrong PIN makes Firefox ask again: the driver closes the browser when the dialog comes back,
reporting the card's refusal. A blocked card is not asked again: Firefox sends no certificate.
On steps that do not mean to use the card, a PIN prompt is cancelled, as a person without a PIN would.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from harness.drivers.base import Browser
from harness.drivers.page import parse_page
from harness.drivers.xscreen import find_window, grab_screen, press, start_xvfb, stop, type_into
from harness.errors import DriverError, SetupError
from harness.middleware import OPENSC_MODULE, client_env, run_tool
from harness.system import FIREFOX, FIREFOX_FRENCH
from harness.world.assembly import World

NAVIGATION_TIMEOUT = 20.0
"""Seconds a navigation may take before the step fails (a dialog nobody answers, a mute card)."""
LAUNCH_TIMEOUT = 30.0
"""Seconds Firefox may take to start and open Marionette's port."""
POLL = 0.1
PIN_DIALOG = "^Mot de passe nécessaire"
"""The window name of Firefox's PIN prompt in French ("Mot de passe nécessaire - Mozilla Firefox", seen
with ``xdotool getwindowname``; English: "Password Required"). Its text: "Veuillez vous authentifier sur
le périphérique de sécurité (<the PIN's label>)"."""
ERROR_PAGES = ("about:neterror", "about:certerror")
RETYPE_AFTER = 3.0
"""Seconds after the PIN was typed before a PIN dialog still open is typed into again (its keys were lost)."""
NSS_NOTICES = 1.2
"""NSS looks at a slot's token at most once a second: a card inserted or removed is seen after that."""
WINDOW = (1024, 720)
FRENCH = {"LANGUAGE": "fr", "LANG": "fr_FR.UTF-8"}
PREFS: dict[str, Any] = {
    "marionette.port": 0,  # Firefox picks a free port and writes it to MarionetteActivePort
    "security.default_personal_cert": "Select Automatically",
    "intl.locale.requested": "fr",
    "intl.accept_languages": "fr-FR,fr,en-US,en",
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.startup.page": 0,
    "browser.aboutwelcome.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.update.auto": False,
    "security.OCSP.enabled": 0,  # nothing leaves loopback; the sites' revocation is the world's own
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "extensions.autoDisableScopes": 0,
    "network.proxy.type": 0,
    "security.remote_settings.crlite_filters.enabled": False,
    "services.settings.server": "http://127.0.0.1:9/",
}

DOCUMENT = """
    const nav = performance.getEntriesByType('navigation')[0];
    return [window.__cpsHarnessOld === true, document.readyState, document.documentURI,
            document.documentElement ? document.documentElement.outerHTML : '',
            nav && nav.responseStatus ? nav.responseStatus : 200];
"""
"""The current document: still the one before the action?, loaded?, its address, HTML and HTTP status
(Navigation Timing's ``responseStatus``; Marionette itself says nothing of statuses)."""

Refused = Callable[[], str | None]
"""Returns why the card refused a PIN during the current step, or None."""


class FirefoxUnavailable(SetupError):
    """Something the Firefox driver needs is missing; the message says what and how to fix it."""


def check_prerequisites() -> None:
    missing = [tool for tool in (FIREFOX, "/usr/bin/certutil", "/usr/bin/modutil") if not os.path.exists(tool)]
    if missing:
        raise FirefoxUnavailable(
            f"missing {', '.join(missing)}: run ./bootstrap.sh setup (Debian: firefox-esr, libnss3-tools)"
        )
    if not os.path.exists(FIREFOX_FRENCH):
        raise FirefoxUnavailable(
            f"missing {FIREFOX_FRENCH}, Firefox's French UI: run ./bootstrap.sh setup (Debian: firefox-esr-l10n-fr)"
        )


def user_js(world: World) -> str:
    """The profile's preferences: this world's names on loopback, and a French browser that asks nothing."""
    names = sorted({site.host for site in world.sites.values() if site.host not in ("127.0.0.1", "localhost")})
    prefs = {**PREFS, "network.dns.localDomains": ",".join(names)}
    return "".join(f"user_pref({json.dumps(name)}, {json.dumps(value)});\n" for name, value in prefs.items())


class FirefoxBrowser(Browser):
    name = "firefox"

    def __init__(
        self, world: World, workdir: Path, *, middleware: bool, headless: bool = True, refused: Refused = lambda: None
    ) -> None:
        super().__init__()
        self.world = world
        self.workdir = workdir
        self.middleware = middleware
        self.headless = headless and not middleware  # headless Firefox never shows its PIN prompt
        self.refused = refused
        self.profile = workdir / "firefox-profile"
        self._process: asyncio.subprocess.Process | None = None
        self._client: Any = None
        self._xvfb: asyncio.subprocess.Process | None = None
        self._display: str | None = None
        self._typed = False
        self._typed_window: str | None = None
        self._typed_at = 0.0
        self._changed_at = -NSS_NOTICES

    # -- the browser process -----------------------------------------------------------------------
    async def _env(self) -> dict[str, str]:
        env = client_env(self.world.stack) if self.world.stack is not None else dict(os.environ)
        env = {name: value for name, value in env.items() if name not in ("LC_ALL", "LC_MESSAGES")}
        env.update(FRENCH, HOME=str(self.workdir / "home"), MOZ_CRASHREPORTER_DISABLE="1")
        if self.headless:
            env["MOZ_HEADLESS"] = "1"
        else:
            env["DISPLAY"] = await self._screen()
        return env

    async def _screen(self) -> str:
        if self._display is None:
            if os.environ.get("DISPLAY"):
                self._display = os.environ["DISPLAY"]
            else:
                if shutil.which("Xvfb") is None:
                    raise FirefoxUnavailable("headful Firefox needs a screen: install xvfb (./bootstrap.sh setup)")
                self._xvfb, self._display = await start_xvfb(self.workdir / "xvfb.log")
        return self._display

    async def _make_profile(self, env: dict[str, str]) -> None:
        if self.profile.exists():
            shutil.rmtree(self.profile)
        self.profile.mkdir(parents=True)
        (self.workdir / "home").mkdir(exist_ok=True)
        await run_tool("certutil", "-N", "-d", f"sql:{self.profile}", "--empty-password", env=env)
        if self.world.ca_bundle is not None:
            await run_tool(
                "certutil", "-A", "-d", f"sql:{self.profile}", "-n", "cps-harness TLS CA", "-t", "C,,",
                "-i", str(self.world.ca_bundle), env=env,
            )  # fmt: skip
        if self.middleware:
            await run_tool(
                "modutil", "-dbdir", f"sql:{self.profile}", "-add", "CPS (OpenSC)", "-libfile", OPENSC_MODULE,
                "-force", env=env,
            )  # fmt: skip
        (self.profile / "user.js").write_text(user_js(self.world), encoding="utf-8")

    async def _ensure(self) -> Any:
        if self._client is not None:
            return self._client
        check_prerequisites()
        env = await self._env()
        await self._make_profile(env)
        with (self.workdir / "firefox.log").open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                FIREFOX, "--marionette", "--no-remote", "-profile", str(self.profile),
                "--width", str(WINDOW[0]), "--height", str(WINDOW[1]), "about:blank",
                env=env, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            )  # fmt: skip
        port_file = self.profile / "MarionetteActivePort"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LAUNCH_TIMEOUT
        while not (port_file.exists() and port_file.read_text().strip().isdigit()):
            if self._process.returncode is not None or loop.time() > deadline:
                await self._shutdown()
                raise FirefoxUnavailable(
                    f"Firefox did not open Marionette within {LAUNCH_TIMEOUT:.0f} s "
                    f"(see {self.workdir / 'firefox.log'})"
                )
            await asyncio.sleep(POLL)
        port = int(port_file.read_text().strip())
        self._client = await asyncio.to_thread(_connect, port)
        return self._client

    async def _shutdown(self) -> None:
        """Close the browser, even one stuck on a dialog; the next step starts a new one."""
        client, process = self._client, self._process
        self._client = self._process = None
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.to_thread(client.quit, in_app=True), 10)
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await asyncio.wait_for(process.wait(), 10)
            with contextlib.suppress(ProcessLookupError):  # the re-executed Firefox of a new profile
                os.killpg(process.pid, signal.SIGKILL)

    async def close(self) -> None:
        await self._shutdown()
        if self._xvfb is not None:
            await stop(self._xvfb)

    # -- navigations ---------------------------------------------------------------------------------
    def card_changed(self) -> None:
        self._changed_at = asyncio.get_running_loop().time()

    async def _navigate(self, action: Callable[[Any], None], *, pin: str | None = None) -> None:
        """Run a navigation with a hard deadline, watching the card when the page may ask for it."""
        fresh = self._client is None
        client = await self._ensure()
        self._typed = False
        self._typed_window = None
        loop = asyncio.get_running_loop()
        if not fresh:
            await asyncio.sleep(max(0.0, self._changed_at + NSS_NOTICES - loop.time()))
        deadline = loop.time() + NAVIGATION_TIMEOUT
        await asyncio.to_thread(_script, client, "window.__cpsHarnessOld = true;")
        task = asyncio.ensure_future(asyncio.to_thread(action, client))
        while True:
            done, _ = await asyncio.wait({task}, timeout=POLL)
            if done:
                break
            if await self._gave_up(pin, deadline):
                return
        with contextlib.suppress(Exception):  # an error page is read below, by its address
            task.result()
        await self._settle(client, deadline, pin)

    async def _gave_up(self, pin: str | None, deadline: float) -> bool:
        """While waiting for a page: answer the PIN prompt; end the step (browser closed) if it comes
        back after an answer, or at the deadline. True when the step has ended."""
        if not self.headless and await self._answer_pin_dialog(pin):
            await self._shutdown()
            reason = self.refused() or "the PIN dialog came back"
            self.failed(f"{reason}; Firefox asks for the PIN again: the browser was closed")
            return True
        if asyncio.get_running_loop().time() > deadline:
            if self._display is not None:  # the report shows what was on screen when the step gave up
                self.pin_dialogs.append(await asyncio.to_thread(grab_screen, self._display))
            await self._shutdown()
            self.failed(f"no page after {NAVIGATION_TIMEOUT:.0f} s: the browser was closed")
            return True
        return False

    async def _settle(self, client: Any, deadline: float, pin: str | None) -> None:
        """Wait for the new document to load, then record it (or Firefox's error page)."""
        url = html = ""
        status = 200
        pending: asyncio.Future[Any] | None = None
        while True:
            # One Marionette call at a time: Firefox answers none while its PIN prompt is open, and a
            # call given up on would leave its thread blocked on the client's socket (a loaded machine
            # ran out of threads, the dialog's photograph then never came).
            if pending is None:
                pending = asyncio.ensure_future(asyncio.to_thread(_script, client, DOCUMENT))
            state = None
            done, _ = await asyncio.wait({pending}, timeout=POLL)
            if done:
                task, pending = pending, None
                with contextlib.suppress(Exception):  # a document being replaced: looked at again
                    state = task.result()
            if isinstance(state, list) and len(state) == 5:  # None while a document is being replaced
                old, ready, url = bool(state[0]), str(state[1]), str(state[2])
                # about:blank: the start page, still loading when a new browser got its first order
                if not old and ready == "complete" and url != "about:blank":
                    html, status = str(state[3]), int(state[4])
                    break
            if await self._gave_up(pin, deadline):
                return
            if pending is None:
                await asyncio.sleep(POLL)
        if url.startswith(ERROR_PAGES):
            await self._read_error_page(client, url)
            return
        self.exchanges.append(f"GET {url} -> {status}")
        self.landed(parse_page(url, status, html))

    async def _read_error_page(self, client: Any, url: str) -> None:
        """Record Firefox's error page: the step fails on its NSS error code, the French words go to the report."""
        text = str(await asyncio.to_thread(_script, client, "return document.body ? document.body.innerText : '';"))
        query = parse_qs(urlparse(url).query)
        kind = query.get("e", ["unknown"])[0]
        code = _error_code(text) or kind
        self.failed(code)
        self.exchanges.append(f"(Firefox's error page {url.split('?')[0]}?e={kind}: {' · '.join(_lines(text))})")

    async def open(self, url: str) -> None:
        await self._navigate(lambda client: client.navigate(url))

    async def card_open(self, url: str, certificate: Path, pin: str) -> None:
        del certificate  # Firefox finds it on the card, through NSS and OpenSC
        await self._navigate(lambda client: client.navigate(url), pin=pin)

    async def follow(self, text: str) -> None:
        await self._follow(text, None)

    async def card_follow(self, text: str, certificate: Path, pin: str) -> None:
        del certificate
        await self._follow(text, pin)

    async def _follow(self, text: str, pin: str | None) -> None:
        client = await self._ensure()
        found = await asyncio.to_thread(
            _script,
            client,
            "const links = [...document.querySelectorAll('a')].filter(a => a.textContent.includes(arguments[0]));"
            "if (!links.length) return false; window.__cpsHarnessLink = links[0]; return true;",
            text,
        )
        if not found:
            raise DriverError(f"no link containing {text!r} on screen {self.page.screen if self.page else None!r}")
        await self._navigate(lambda client: _script(client, "window.__cpsHarnessLink.click();"), pin=pin)

    async def submit(self, fields: dict[str, str]) -> str:
        current = self.current()
        form = next((f for f in current.forms if set(fields) <= set(f.fields)), None)
        if form is None:
            raise DriverError(f"no form with fields {sorted(fields)} on screen {current.screen!r}")
        index = current.forms.index(form)
        script = """
            const [index, fields] = arguments;
            const form = document.querySelectorAll('form')[index];
            for (const [name, value] of Object.entries(fields)) {
                const field = form.querySelector(`[name="${name}"]`);
                if (field.type === 'radio' || field.type === 'checkbox') {
                    form.querySelector(`[name="${name}"][value="${value}"]`).checked = true;
                } else {
                    field.value = value;
                    field.dispatchEvent(new Event('input', {bubbles: true}));
                }
            }
            const button = form.querySelector('button[type=submit], input[type=submit], button:not([type])');
            setTimeout(() => button ? button.click() : form.requestSubmit(), 0);
        """
        await self._navigate(lambda client: _script(client, script, index, fields))
        return f"form {form.action} ({', '.join(sorted(fields))}) typed and sent"

    async def back(self) -> str:
        await self._navigate(lambda client: _script(client, "setTimeout(() => history.back(), 0);"))
        return "back"

    async def refresh(self) -> None:
        if self.page is None or "refresh" not in self.page.data:
            return
        await self._navigate(lambda client: _script(client, "setTimeout(() => location.reload(), 0);"))

    # -- what the user sees --------------------------------------------------------------------------
    async def screenshot(self) -> bytes | None:
        if self._client is None:
            return None
        try:
            data = await asyncio.wait_for(asyncio.to_thread(self._client.screenshot, format="base64"), 15)
        except Exception as exc:  # the report says why the picture is missing
            self.exchanges.append(f"(no screenshot: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__})")
            return None
        return base64.b64decode(data)

    async def _answer_pin_dialog(self, pin: str | None) -> bool:
        """Headful: photograph Firefox's PIN prompt and type the PIN into it, once per step.

        Firefox offers the card to any site that asks for a certificate, not only on the steps that
        mean to use it (``pin`` None): there the professional has no PIN to give and cancels, and
        Firefox then sends no certificate (the "aucun certificat" page).

        True when Firefox asks again after the PIN was typed (measured: a wrong PIN, 63Cx); a blocked
        card (6983) is not asked again, Firefox sends no certificate. Asked again, the driver closes the
        browser: the step's PIN was refused and typing it again would spend another try."""
        if self._display is None:
            return False
        window = await find_window(self._display, PIN_DIALOG)
        if window is None:
            return False
        loop = asyncio.get_running_loop()
        first = window != self._typed_window
        if not first:
            if loop.time() < self._typed_at + RETYPE_AFTER:
                return False
            # still open: the keys were lost (a loaded machine), no PIN reached the card; the field is replaced
        elif self._typed:
            return True
        self._typed = True
        self._typed_window = window
        self._typed_at = loop.time()
        if first:
            await asyncio.sleep(0.3)  # let the dialog paint before the photograph
            self.pin_dialogs.append(await asyncio.to_thread(grab_screen, self._display))
        if pin is None:
            await press(self._display, window, "Escape")
        else:
            await type_into(self._display, window, pin)
        return False


def _connect(port: int) -> Any:
    from marionette_driver.marionette import Marionette  # type: ignore[import-untyped]

    client = Marionette(host="127.0.0.1", port=port)
    client.start_session(
        {"pageLoadStrategy": "none", "acceptInsecureCerts": False, "unhandledPromptBehavior": "ignore"}
    )
    client.timeout.script = NAVIGATION_TIMEOUT
    return client


def _script(client: Any, script: str, *args: Any) -> Any:
    """Run ``script`` in the page itself (not a sandbox: the page's own objects and expandos)."""
    return client.execute_script(script, script_args=args, sandbox=None, new_sandbox=False)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _error_code(text: str) -> str | None:
    """The NSS/PR error code Firefox prints on its error page (``SSL_ERROR_…``, ``PR_…``, ``SEC_ERROR_…``)."""
    import re

    found = re.search(r"\b((?:SSL|SEC|PR|MOZILLA_PKIX)_ERROR_[A-Z0-9_]+)\b", text)
    return found.group(1) if found else None
