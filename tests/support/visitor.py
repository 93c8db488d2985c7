"""The professional's browser and phone for tests that drive a running world by hand.

The browser is the protocol driver's (``harness/drivers/protocol.py``: the same HTTP client, page
parser, redirects and cookies the scenarios use), sharing the test's client session; this adds the
paths a test posts to directly and the admin API a test reads the world through.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp

from harness.drivers.page import Page
from harness.drivers.protocol import ProtocolBrowser
from harness.world.assembly import World

CODE = re.compile(r"\b(\d{6})\b")


class Visitor:
    def __init__(self, world: World, http: aiohttp.ClientSession, workdir: Path | None = None) -> None:
        self.world = world
        self.http = http
        self.browser = ProtocolBrowser(world, workdir or Path("."), http)

    async def get(self, site: str, path: str) -> Page:
        return await self.browser.load("GET", self.world.urls[site] + path)

    async def post(self, site: str, path: str, **fields: str) -> Page:
        return await self.browser.load("POST", self.world.urls[site] + path, fields)

    async def admin(self, method: str, path: str, body: Any = None, **params: str) -> tuple[int, Any]:
        """An admin call; a POST is JSON even without a body (``{}``), as the admin API requires."""
        url = self.world.urls["admin"] + path
        if body is None and method != "GET":
            body = {}
        async with self.http.request(method, url, json=body, params=params or None) as reply:
            data = await reply.json() if reply.content_type == "application/json" else await reply.text()
            return reply.status, data

    async def messages(self, address: str) -> list[dict[str, Any]]:
        status, data = await self.admin("GET", "/admin/outbox", to=address)
        assert status == 200
        assert isinstance(data, list)
        return data

    async def codes(self, email: str, mobile: str) -> tuple[str, str]:
        mail, sms = await self.messages(email), await self.messages(mobile)
        assert mail and sms, f"no code delivered to {email} / {mobile}"
        email_code, sms_code = CODE.search(mail[0]["body"]), CODE.search(sms[0]["body"])
        assert email_code and sms_code
        return email_code.group(1), sms_code.group(1)

    async def activate_without_card(self, national_id: str, email: str, mobile: str, password: str = "4321") -> Page:
        start = await self.post("wallet", "/activation", identifiant=national_id)
        assert start.screen == "saisie-codes", start.html
        activation = start.url.split("/activation/")[1].split("/")[0]
        email_code, sms_code = await self.codes(email, mobile)
        codes = await self.post(
            "wallet", f"/activation/{activation}/codes", code_courriel=email_code, code_sms=sms_code
        )
        assert codes.screen == "choix-code-e-cps", codes.html
        return await self.post("wallet", f"/activation/{activation}/code-e-cps", code=password, confirmation=password)
