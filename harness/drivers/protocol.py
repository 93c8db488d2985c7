"""The protocol driver: the professional's browser as an HTTP client.

Cookies, redirects, forms read with the stdlib HTML parser, the world's resolver. Requests that
need the card are made by curl with OpenSSL's PKCS#11 engine, so the TLS handshake is signed by
the virtual card through OpenSC and the private pcscd — never by a software copy of the key.

Asked for pictures (``run --screenshots``), it hands each page it landed on to a camera
(``camera.py``: one headless Chromium for the run) and returns what that shows.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlparse

import aiohttp

from harness.drivers.base import STEP_TIMEOUT, Browser
from harness.drivers.page import Page, parse_page
from harness.errors import DriverError
from harness.middleware import PKCS1_ONLY, client_env
from harness.world.assembly import World

if TYPE_CHECKING:  # the camera needs Playwright, imported only when pictures are asked for
    from harness.drivers.camera import SnapshotCamera

MAX_REFRESHES = 1
"""The waiting page is polled once more on arrival, as its refresh would; the phone decides the rest."""


def link_to(page: Page, text: str) -> str:
    """The href of the first link whose text contains ``text``."""
    link = next((href for href, label in page.links if text in label), None)
    if link is None:
        raise DriverError(f"no link containing {text!r} on screen {page.screen!r}")
    return urljoin(page.url, link)


class ProtocolBrowser(Browser):
    name = "protocol"

    def __init__(
        self, world: World, workdir: Path, http: aiohttp.ClientSession | None = None,
        camera: SnapshotCamera | None = None,
    ) -> None:  # fmt: skip
        """``http``: a client of the world to browse with (its cookies shared); by default its own, traced.
        ``camera``: photographs each page (``screenshot``); without one the driver has no screen."""
        super().__init__()
        self.camera = camera
        self.world = world
        self.workdir = workdir
        self.history: list[str] = []
        self._owns_http = http is None
        if http is None:
            trace = aiohttp.TraceConfig()
            trace.on_request_end.append(self._on_request_end)
            http = world.client(trace_configs=[trace])
        self.http = http

    async def _on_request_end(
        self, _: aiohttp.ClientSession, __: object, params: aiohttp.TraceRequestEndParams
    ) -> None:
        self.exchanges.append(f"{params.method} {params.url} -> {params.response.status}")

    async def load(self, method: str, url: str, data: dict[str, str] | None = None) -> Page:
        """Request ``url`` as the browser does (cookies, redirects, the waiting page polled once) and land there."""
        async with self.http.request(method, url, data=data) as reply:
            page = parse_page(str(reply.url), reply.status, await reply.text())
        refreshes = 0
        while "refresh" in page.data and refreshes < MAX_REFRESHES:
            refreshes += 1
            await asyncio.sleep(0)  # the world's clock, not the wall's, decides expiry
            async with self.http.get(page.url) as reply:
                page = parse_page(str(reply.url), reply.status, await reply.text())
        if self.page is not None:
            self.history.append(self.page.url)
        return self.landed(page)

    async def open(self, url: str) -> None:
        await self.load("GET", url)

    async def submit(self, fields: dict[str, str]) -> str:
        page = self.current()
        form = next((f for f in page.forms if set(fields) <= set(f.fields)), None)
        if form is None:
            raise DriverError(f"no form with fields {sorted(fields)} on screen {page.screen!r}")
        await self.load(form.method.upper(), urljoin(page.url, form.action), fields)
        return f"form {form.action} ({', '.join(sorted(fields))})"

    async def follow(self, text: str) -> None:
        await self.load("GET", link_to(self.current(), text))

    async def back(self) -> str:
        if not self.history:
            raise DriverError("no previous page")
        previous = self.history.pop()
        await self.load("GET", previous)
        self.history.pop()  # going back does not add to the history
        return f"back to {previous}"

    async def refresh(self) -> None:
        if self.page is not None and "refresh" in self.page.data:
            await self.load("GET", self.page.url)

    async def card_open(self, url: str, certificate: Path, pin: str) -> None:
        """GET ``url`` with curl, the key on the card through OpenSSL's PKCS#11 engine and OpenSC."""
        stack, bundle = self.world.stack, self.world.ca_bundle
        if stack is None or bundle is None:
            raise DriverError("card steps need world.cards: true")
        conf = self.workdir / "pkcs1.cnf"
        conf.write_text(PKCS1_ONLY)
        pin_file = self.workdir / "card-pin"  # RFC 7512 pin-source: never on a command line or in curl's errors
        pin_file.touch(mode=0o600)
        pin_file.write_text(pin)
        parsed = urlparse(url)
        host, port = parsed.hostname or "", parsed.port or 443
        process = await asyncio.create_subprocess_exec(
            "curl", "-sS", "-w", "\n%{http_code} %{redirect_url}", "--engine", "pkcs11", "--key-type", "ENG",
            "--key", f"pkcs11:object=CPS_PRIV_AUT;type=private;pin-source=file:{pin_file}", "--cert", str(certificate),
            "--cacert", str(bundle), "--resolve", f"{host}:{port}:127.0.0.1", url,
            env={**client_env(stack), "OPENSSL_CONF": str(conf)},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            out, err = await asyncio.wait_for(process.communicate(), STEP_TIMEOUT)
        except (TimeoutError, asyncio.CancelledError):  # timed out, or the run was interrupted: curl goes too
            with contextlib.suppress(ProcessLookupError):  # it may have just ended
                process.kill()
            raise
        if process.returncode != 0:
            self.failed(f"curl exit {process.returncode}: {err.decode(errors='replace').strip()}")
            return
        body, _, tail = out.decode(errors="replace").rpartition("\n")
        status, _, location = tail.partition(" ")
        self.exchanges.append(f"GET {url} -> {status} (curl, TLS signed by the card)")
        if location:  # a redirect: the browser goes on (with its own cookies)
            if urlparse(location).hostname in {site.host for site in self.world.sites.values()}:
                await self.load("GET", location)
                return
            self.landed(parse_page(location, int(status), ""))
            return
        self.landed(parse_page(url, int(status), body))

    async def card_follow(self, text: str, certificate: Path, pin: str) -> None:
        await self.card_open(link_to(self.current(), text), certificate, pin)

    async def screenshot(self) -> bytes | None:
        """The current page's snapshot as Chromium draws it, when the run has a camera."""
        if self.camera is None or self.page is None or not self.page.html:
            return None
        return await self.camera.shoot(self.page.html, self.page.url, self._fetch)

    async def _fetch(self, url: str) -> tuple[int, str, bytes]:
        """A page's stylesheet or picture, from the world, for the camera (not counted as the step's exchanges)."""
        async with self.world.client() as http, http.get(url) as reply:
            return reply.status, reply.content_type, await reply.read()

    async def close(self) -> None:
        if self._owns_http:
            await self.http.close()
