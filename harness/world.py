"""A world: every simulated site in one process, each on its own loopback port over TLS.

Sites keep their real host names (in their certificates and URLs); clients reach them through
the mapping ``resolver()`` (aiohttp) or ``host_resolver_rules()`` (Chromium) give, never DNS.
The world also owns its private PC/SC stack and virtual readers, and an admin API (plain HTTP).

    async with World() as world:
        async with world.client() as http:
            await http.get(world.urls["wallet"] + "/activation")
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import abc as aiohttp_abc
from aiohttp import web
from aiohttp.abc import ResolveResult
from cryptography.hazmat.primitives import serialization

from harness import card_control
from harness.cards import CardReader
from harness.pcsc import PcscStack
from harness.pki import Pki
from harness.serving import LOOPBACK, RunningSite, start_site
from simulators.web import hosts
from simulators.web.admin.app import make_app as admin_app
from simulators.web.igc.app import make_app as igc_app
from simulators.web.push.app import make_app as push_app
from simulators.web.wallet.app import make_app as wallet_app
from simulators.web.wallet.rules import WalletState
from simulators.world.clock import Clock
from simulators.world.state import WorldState

X509_V_FLAG_NO_CHECK_TIME = 0x200000
"""OpenSSL flag: the TLS layer ignores certificate dates; the site judges them on the world clock."""
READY_TIMEOUT = aiohttp.ClientTimeout(total=10)


@dataclass(frozen=True)
class Site:
    name: str
    host: str
    running: RunningSite

    @property
    def url(self) -> str:
        scheme = "https" if self.running.tls else "http"
        return f"{scheme}://{self.host}:{self.running.port}"


class StaticResolver(aiohttp_abc.AbstractResolver):
    """Resolves the world's host names to loopback; anything else is refused (no real DNS)."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[ResolveResult]:
        address = self.names.get(host)
        if address is None:
            raise OSError(f"{host} is not a host of this world")
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        return None


class World:
    def __init__(
        self,
        *,
        pki: Pki | None = None,
        start: dt.datetime | None = None,
        cards: bool = True,
        bind: str = LOOPBACK,
    ) -> None:
        self.pki = pki
        self.state = WorldState(clock=Clock(start))
        self.wallet = WalletState()
        self.with_cards = cards
        self.bind = bind
        self.sites: dict[str, Site] = {}
        self.stack: PcscStack | None = None
        self.readers: list[CardReader] = []
        self.ca_bundle: Path | None = None
        self.started_in: float = 0.0

    # -- what clients need ---------------------------------------------------------------------
    @property
    def urls(self) -> dict[str, str]:
        return {name: site.url for name, site in self.sites.items()}

    def resolver(self) -> StaticResolver:
        return StaticResolver({site.host: site.running.host for site in self.sites.values()})

    def host_resolver_rules(self) -> str:
        """For Chromium's ``--host-resolver-rules``: the world's names, and nothing else."""
        rules = [f"MAP {site.host} {site.running.host}" for site in self.sites.values() if site.host != LOOPBACK]
        return ", ".join(sorted(set(rules))) + ", EXCLUDE localhost"

    def client(self, *, ssl_context: ssl.SSLContext | None = None, **kwargs: Any) -> aiohttp.ClientSession:
        """An HTTP client that resolves the world's names and trusts its TLS CA."""
        assert self.pki is not None
        connector = aiohttp.TCPConnector(resolver=self.resolver(), ssl=ssl_context or self.pki.server.client_context())
        kwargs.setdefault("timeout", aiohttp.ClientTimeout(total=30))
        return aiohttp.ClientSession(connector=connector, **kwargs)

    def describe(self) -> dict[str, Any]:
        return {
            "sites": self.urls,
            "admin": self.sites["admin"].url if "admin" in self.sites else None,
            "phone": self.sites["push"].url + "/telephone/telephone-1" if "push" in self.sites else None,
            "ca_bundle": str(self.ca_bundle) if self.ca_bundle else None,
            "PCSCLITE_CSOCK_NAME": str(self.stack.socket_path) if self.stack else None,
            "readers": [r.name for r in self.readers],
            "host_resolver_rules": self.host_resolver_rules(),
            "clock": self.state.now().isoformat(),
        }

    # -- life cycle ------------------------------------------------------------------------------
    def _card_context(self) -> ssl.SSLContext:
        """The wallet's card port: asks for a client certificate and accepts IGC-Santé ones."""
        assert self.pki is not None
        context = self.pki.server.server_context(hosts.WALLET)
        context.verify_mode = ssl.CERT_OPTIONAL
        context.verify_flags |= X509_V_FLAG_NO_CHECK_TIME
        for authority in self.pki.cards.authorities.values():
            context.load_verify_locations(
                cadata=authority.certificate.public_bytes(serialization.Encoding.PEM).decode()
            )
        # TLS 1.2: the CPS card has no RSA-PSS, which TLS 1.3 requires for client signatures.
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        return context

    async def start(self) -> Self:
        started = time.perf_counter()
        self.pki = self.pki or Pki()
        try:
            await self._start_sites()
            await self._wait_ready()
        except BaseException:
            await self.stop()
            raise
        self.started_in = time.perf_counter() - started
        return self

    async def _start_sites(self) -> None:
        assert self.pki is not None
        pki, state, wallet = self.pki, self.state, self.wallet
        authorities = lambda: pki.cards.authorities.values()  # noqa: E731 - read at request time

        def card_url() -> str:
            return self.sites["wallet-card"].url

        plan: list[tuple[str, str, web.Application, ssl.SSLContext | None]] = [
            (
                "wallet",
                hosts.WALLET,
                wallet_app(state, wallet, authorities, card_url),
                pki.server.server_context(hosts.WALLET),
            ),
            ("wallet-card", hosts.WALLET, wallet_app(state, wallet, authorities, card_url), self._card_context()),
            ("push", hosts.PUSH, push_app(state, wallet), pki.server.server_context(hosts.PUSH)),
            ("igc", hosts.IGC, igc_app(pki.cards, state.now), None),
        ]
        admin = admin_app(state, wallet)
        if self.with_cards:
            self.stack = PcscStack().start()
            self.readers = [CardReader(r.name, r.port, seen_by=self.stack.wait_reader) for r in self.stack.readers]
            card_control.add_routes(admin, self.readers, pki, prefix="/admin")
        plan.append(("admin", LOOPBACK, admin, None))
        for name, host, app, context in plan:
            running = await start_site(name, app, host=self.bind, ssl_context=context)
            self.sites[name] = Site(name, host, running)
        self.ca_bundle = pki.server.write_ca_bundle(pki.keys.directory / "tls-ca-bundle.pem")

    async def _wait_ready(self) -> None:
        """One real request per site through the resolver and TLS: the world answers, or it fails."""
        async with self.client(timeout=READY_TIMEOUT) as http:
            for name, path in (
                ("wallet", "/"),
                ("wallet-card", "/"),
                ("push", "/telephone/telephone-1"),
                ("igc", hosts.CA_CERT_PATHS["root"]),
                ("admin", "/admin/clock"),
            ):
                async with http.get(self.sites[name].url + path) as reply:
                    if reply.status != 200:
                        raise RuntimeError(f"site {name} answered {reply.status} at start-up")

    async def stop(self) -> None:
        for reader in self.readers:
            await reader.remove()
        for site in reversed(list(self.sites.values())):
            await site.running.stop()
        self.sites.clear()
        if self.stack is not None:
            self.stack.stop()
            self.stack = None
        self.readers = []

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
