"""A world served as a user serves it (``cps-harness serve --json``, another process), for third-party clients.

The served process is started, read until its JSON line (bounded wait), reached through the admin API
and the world's proxy, and stopped by PID (SIGTERM, then SIGKILL). The professional's part — the
e-CPS login at the browser and the approval on the phone — is played here through the same proxy.
"""

from __future__ import annotations

import asyncio
import json
import re
import select
import signal
import ssl
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp

from harness.drivers.page import parse_page

NATIONAL_ID = "899700209812"
ECPS_PASSWORD = "4321"
START_TIMEOUT = 60.0


class ServedWorld:
    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}

    def __enter__(self) -> Self:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "harness.cli", "serve", "--json"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], START_TIMEOUT)
        line = self.process.stdout.readline() if ready else ""
        if not line.startswith("{"):
            self.stop()
            raise RuntimeError(f"cps-harness serve printed no JSON line within {START_TIMEOUT:.0f} s: {line!r}")
        self.info = json.loads(line)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    @property
    def issuer(self) -> str:
        return str(self.info["sites"]["psc"]) + "/auth/realms/esante-wallet"

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.info["ca_bundle"])

    # -- the admin API and the professional, through the world's proxy ---------------------------------
    async def _request(self, method: str, url: str, **kwargs: Any) -> tuple[int, str, dict[str, str], str]:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
            http.request(method, url, proxy=self.info["proxy"], ssl=self.context(), **kwargs) as reply,
        ):
            return reply.status, str(reply.url), dict(reply.headers), await reply.text()

    def admin(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """An admin call; a POST is JSON even without a body (``{}``), as the admin API requires."""
        if body is None and method != "GET":
            body = {}
        status, _, _, text = asyncio.run(self._request(method, self.info["admin"] + path, json=body))
        return status, json.loads(text) if text.startswith(("{", "[")) else text

    def set_up_professional(self) -> None:
        """The guide's doctor in the directory, with an e-CPS already activated on the phone."""
        doctor = {"civility": "M", "first_name": "ALAIN", "last_name": "D0000020981", "profession": "10",
                  "rpps": "99700209812", "email": "alain@cabinet.test", "mobile": "+33600000002"}  # fmt: skip
        assert self.admin("POST", "/admin/directory", doctor)[0] == 201
        assert self.admin("POST", "/admin/ecps", {"national_id": NATIONAL_ID, "password": ECPS_PASSWORD})[0] == 201

    def register(self, client_id: str, secret: str, redirect: str, **extra: Any) -> None:
        body = {"client_id": client_id, "client_secret": secret, "redirect_uris": [redirect], "name": client_id,
                "post_logout_redirect_uris": [redirect], **extra}  # fmt: skip
        status, answer = self.admin("POST", "/admin/psc/clients", body)
        assert status == 201, answer

    def approve_push(self) -> None:
        status, pushes = self.admin("GET", "/admin/phones/telephone-1/pushes")
        assert status == 200 and pushes, f"no push on the phone: {pushes}"
        status, answer = self.admin("POST", f"/admin/pushes/{pushes[-1]['id']}/approve", {"password": ECPS_PASSWORD})
        assert status == 200, answer

    async def login(self, authorize_url: str, cookies: aiohttp.CookieJar | None = None) -> tuple[int, str, str]:
        """The professional at PSC's login page: "Application e-CPS", national id, approved on the phone.

        Returns what the browser gets back from the waiting page: the status, the Location (a redirect to
        the relying party) and the page (``response_mode=form_post``)."""
        jar = cookies or aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar, timeout=aiohttp.ClientTimeout(total=30)) as http:
            proxy, context = self.info["proxy"], self.context()
            async with http.get(authorize_url, proxy=proxy, ssl=context) as reply:
                choice = parse_page(str(reply.url), reply.status, await reply.text())
            assert choice.screen == "choix-moyen", choice.html[:2000]
            action = re.search(r'action="(/auth/[^"]+/ecps)"', choice.html)
            assert action, choice.html
            base = str(reply.url).split("/auth")[0]
            async with http.post(base + action.group(1), data={"identifiant": NATIONAL_ID}, proxy=proxy,
                                 ssl=context) as reply:  # fmt: skip
                waiting = str(reply.url)
            await asyncio.to_thread(self.approve_push)
            async with http.get(waiting, proxy=proxy, ssl=context, allow_redirects=False) as reply:
                return reply.status, reply.headers.get("Location", ""), await reply.text()

    def follow(self, url: str) -> tuple[int, str]:
        """A plain GET (the logout link): the status and where it redirects."""
        status, _, headers, _ = asyncio.run(self._request("GET", url, allow_redirects=False))
        return status, headers.get("Location", "")


def repo_file(*parts: str) -> Path:
    return Path(__file__).resolve().parents[1].joinpath(*parts)
