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
import secrets
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives import serialization

from harness.card import control as card_control
from harness.card.reader import CardReader, readers_of
from harness.pcsc.stack import PcscStack
from harness.pki import Pki
from harness.pki.keys import public_dir
from harness.world.proxy import WorldProxy
from harness.world.resolver import StaticResolver, WorldTransport
from harness.world.sites import LOOPBACK, RunningSite, start_site
from simulators.web import hosts
from simulators.web.admin.app import make_app as admin_app
from simulators.web.igc.app import make_app as igc_app
from simulators.web.psc.app import add_psc_admin_routes, make_login_app
from simulators.web.psc.app import make_app as psc_app
from simulators.web.psc.rules import REALM_PATH, Client, PscState, register_client
from simulators.web.push.app import make_app as push_app
from simulators.web.sidep.app import RelyingParty
from simulators.web.sidep.app import add_admin_routes as sidep_admin_routes
from simulators.web.sidep.app import make_app as sidep_app
from simulators.web.sidep.rules import CLIENT_ID as SIDEP_CLIENT_ID
from simulators.web.sidep.rules import Accounts
from simulators.web.testssl.app import add_admin_routes as testssl_admin_routes
from simulators.web.testssl.app import make_app as testssl_app
from simulators.web.wallet.app import make_app as wallet_app
from simulators.web.wallet.rules import WalletState
from simulators.world.clock import Clock
from simulators.world.state import DEFAULT_DEVICE, WorldState

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


class World:
    def __init__(
        self,
        *,
        pki: Pki | None = None,
        start: dt.datetime | None = None,
        cards: bool = True,
        bind: str = LOOPBACK,
        clock_runs: bool = True,
    ) -> None:
        """``start``: the world clock's first instant (default: now); ``clock_runs``: it follows real
        time from there (a relying party judges tokens on its own clock), else it moves only when told."""
        self.pki = pki
        self.state = WorldState(clock=Clock(start, running=clock_runs))
        self.wallet = WalletState()
        self.psc: PscState | None = None
        self.sidep_accounts = Accounts()
        self.sidep_secret = secrets.token_urlsafe(24)
        self.with_cards = cards
        self.bind = bind
        self.sites: dict[str, Site] = {}
        self.stack: PcscStack | None = None
        self.readers: list[CardReader] = []
        self.ca_bundle: Path | None = None
        self.proxy: WorldProxy | None = None
        """An HTTP proxy that takes the world's host names to loopback, for clients without a resolver hook."""
        self.started_in: float = 0.0

    # -- what clients need ---------------------------------------------------------------------
    @property
    def urls(self) -> dict[str, str]:
        return {name: site.url for name, site in self.sites.items()}

    def _names(self) -> dict[str, str]:
        return {site.host: site.running.host for site in self.sites.values()}

    def resolver(self) -> StaticResolver:
        return StaticResolver(self._names())

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

    def phones(self, named: Iterable[str] = ()) -> dict[str, str]:
        """Each phone's page on the push site: the phones ``named`` (a scenario's), then every device
        holding an e-CPS; the default phone when there is none."""
        if "push" not in self.sites:
            return {}
        devices = [*named, *(ecps.device for ecps in self.state.ecps.all())] or [DEFAULT_DEVICE]
        return {device: f"{self.sites['push'].url}/telephone/{device}" for device in dict.fromkeys(devices)}

    def describe(self, phones: Iterable[str] = ()) -> dict[str, Any]:
        """What a person or a script needs to use the world; ``phones``: a scenario's phones, listed first."""
        pages = self.phones(phones)
        return {
            "sites": self.urls,
            "admin": self.sites["admin"].url if "admin" in self.sites else None,
            "phone": next(iter(pages.values()), None),
            "phones": pages,
            "ca_bundle": str(self.ca_bundle) if self.ca_bundle else None,
            "PCSCLITE_CSOCK_NAME": str(self.stack.socket_path) if self.stack else None,
            "readers": [r.name for r in self.readers],
            "host_resolver_rules": self.host_resolver_rules(),
            "proxy": self.proxy.url if self.proxy else None,
            "clock": self.state.now().isoformat(),
        }

    # -- life cycle ------------------------------------------------------------------------------
    def _client_auth_context(self, host: str) -> ssl.SSLContext:
        """A port that asks for a client certificate and accepts IGC-Santé ones (wallet card port,
        testssl). TLS is capped at 1.2: the CPS card has no RSA-PSS, which TLS 1.3 requires for
        client signatures (testssl's cap moves with ``POST /admin/testssl``). Dates are left to the
        site, which judges them on the world clock."""
        assert self.pki is not None
        context = self.pki.server.server_context(host)
        context.verify_mode = ssl.CERT_OPTIONAL
        context.verify_flags |= X509_V_FLAG_NO_CHECK_TIME
        for authority in self.pki.cards.authorities.values():
            context.load_verify_locations(
                cadata=authority.certificate.public_bytes(serialization.Encoding.PEM).decode()
            )
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
        testssl_tls = self._client_auth_context(hosts.TESTSSL)  # shared with the admin switch

        def card_url() -> str:
            return self.sites["wallet-card"].url

        self.psc = self.psc or PscState.from_key(pki.keys.rsa("psc/signing"))
        psc = self.psc

        def psc_urls() -> dict[str, str]:
            return {
                "issuer": self.sites["psc"].url + REALM_PATH,
                "auth": self.sites["wallet"].url,
                "card": self.sites["wallet-card"].url,
            }

        relying_party = RelyingParty(
            SIDEP_CLIENT_ID,
            self.sidep_secret,
            psc_issuer=lambda: self.sites["psc"].url + REALM_PATH,
            own_url=lambda: self.sites["sidep"].url,
            transport=lambda: WorldTransport(self._names(), pki.server.client_context()),
        )

        def wallet_site() -> web.Application:
            """The wallet, with PSC's login pages at /auth (a sub-app is mounted once, so one each)."""
            app = wallet_app(state, wallet, authorities, card_url)
            app.add_subapp("/auth", make_login_app(state, psc, psc_urls, authorities))
            return app

        plan: list[tuple[str, str, web.Application, ssl.SSLContext | None]] = [
            (
                "wallet",
                hosts.WALLET,
                wallet_site(),
                pki.server.server_context(hosts.WALLET),
            ),
            ("wallet-card", hosts.WALLET, wallet_site(), self._client_auth_context(hosts.WALLET)),
            ("psc", hosts.PSC, psc_app(state, psc, psc_urls), pki.server.server_context(hosts.PSC)),
            (
                "sidep",
                hosts.SIDEP,
                sidep_app(state, self.sidep_accounts, relying_party),
                pki.server.server_context(hosts.SIDEP),
            ),
            ("push", hosts.PUSH, push_app(state, wallet), pki.server.server_context(hosts.PUSH)),
            ("igc", hosts.IGC, igc_app(pki.cards, state.now), None),
            ("testssl", hosts.TESTSSL, testssl_app(state.now, authorities), testssl_tls),
        ]
        admin = admin_app(state, wallet)
        add_psc_admin_routes(admin, psc)
        sidep_admin_routes(admin, self.sidep_accounts)
        testssl_admin_routes(admin, testssl_tls, prefix="/admin")
        if self.with_cards:
            self.stack = PcscStack().start()
            self.readers = readers_of(self.stack)
            card_control.add_routes(admin, self.readers, pki, prefix="/admin", clock=state.now)
        plan.append(("admin", LOOPBACK, admin, None))
        for name, host, app, context in plan:
            running = await start_site(name, app, host=self.bind, ssl_context=context)
            self.sites[name] = Site(name, host, running)
        sidep = self.sites["sidep"].url
        register_client(
            psc,
            Client(SIDEP_CLIENT_ID, self.sidep_secret, [sidep + "/callback"], "SI-DEP", require_pkce=True,
                   post_logout_redirect_uris=[sidep + "/"]),
        )  # fmt: skip
        self.ca_bundle = pki.server.write_ca_bundle(public_dir())
        self.proxy = await WorldProxy(self._names, host=self.bind).start()

    async def _wait_ready(self) -> None:
        """One real request per site through the resolver and TLS: the world answers, or it fails."""
        async with self.client(timeout=READY_TIMEOUT) as http:
            for name, path in (
                ("wallet", "/"),
                ("wallet-card", "/"),
                ("push", f"/telephone/{DEFAULT_DEVICE}"),
                ("psc", REALM_PATH + "/.well-known/wallet-openid-configuration"),
                ("sidep", "/"),
                ("igc", hosts.CA_CERT_PATHS["root"]),
                ("testssl", "/"),
                ("admin", "/admin/clock"),
            ):
                async with http.get(self.sites[name].url + path) as reply:
                    if reply.status != 200:
                        raise RuntimeError(f"site {name} answered {reply.status} at start-up")

    async def stop(self) -> None:
        if self.proxy is not None:
            await self.proxy.stop()
            self.proxy = None
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
