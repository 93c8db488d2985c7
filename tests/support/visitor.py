"""A plain HTTP client acting as the professional's browser and phone against a running world."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import aiohttp

from harness.middleware import PKCS1_ONLY
from harness.world.assembly import World

__all__ = ["PKCS1_ONLY", "Screen", "Visitor"]


SCREEN = re.compile(r'data-screen="([^"]+)"')


@dataclass
class Screen:
    status: int
    url: str
    html: str

    @property
    def id(self) -> str:
        match = SCREEN.search(self.html)
        return match.group(1) if match else "(no screen)"

    def attribute(self, name: str) -> str:
        match = re.search(rf'data-{name}="([^"]+)"', self.html)
        assert match, f"no data-{name} on screen {self.id}"
        return match.group(1)


class Visitor:
    def __init__(self, world: World, http: aiohttp.ClientSession) -> None:
        self.world = world
        self.http = http

    async def get(self, site: str, path: str) -> Screen:
        async with self.http.get(self.world.urls[site] + path) as reply:
            return Screen(reply.status, str(reply.url), await reply.text())

    async def post(self, site: str, path: str, **fields: str) -> Screen:
        async with self.http.post(self.world.urls[site] + path, data=fields) as reply:
            return Screen(reply.status, str(reply.url), await reply.text())

    async def admin(self, method: str, path: str, body: Any = None, **params: str) -> tuple[int, Any]:
        url = self.world.urls["admin"] + path
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
        email_code = re.search(r"\b(\d{6})\b", mail[0]["body"])
        sms_code = re.search(r"\b(\d{6})\b", sms[0]["body"])
        assert email_code and sms_code
        return email_code.group(1), sms_code.group(1)

    async def activate_without_card(self, national_id: str, email: str, mobile: str, password: str = "4321") -> Screen:
        start = await self.post("wallet", "/activation", identifiant=national_id)
        assert start.id == "saisie-codes", start.html
        activation = start.url.split("/activation/")[1].split("/")[0]
        email_code, sms_code = await self.codes(email, mobile)
        codes = await self.post(
            "wallet", f"/activation/{activation}/codes", code_courriel=email_code, code_sms=sms_code
        )
        assert codes.id == "choix-code-e-cps", codes.html
        return await self.post("wallet", f"/activation/{activation}/code-e-cps", code=password, confirmation=password)
