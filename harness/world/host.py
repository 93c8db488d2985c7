"""A running World driven from synchronous code: pytest fixtures, scripts, notebooks.

The world lives on an asyncio loop in a background thread; every call goes through
``run_coroutine_threadsafe`` with a timeout, so a test can never hang on it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx2

from harness.background import CALL_TIMEOUT, BackgroundLoop
from harness.card.profile import load_profile, make_card
from harness.middleware import client_env
from harness.pki import Pki
from harness.world.assembly import World
from harness.world.resolver import WorldTransport
from simulators.card.cpx import CpxCard
from simulators.web.psc.rules import REALM_PATH, Client, Fault, register_client
from simulators.world.directory import Activity, Contacts, Professional
from simulators.world.ecps import Push
from simulators.world.state import DEFAULT_DEVICE

T = TypeVar("T")


class WorldHost:
    def __init__(
        self, *, pki: Pki | None = None, start: dt.datetime | None = None, cards: bool = True, clock_runs: bool = True
    ) -> None:
        self.world = World(pki=pki, start=start, cards=cards, clock_runs=clock_runs)
        self._background: BackgroundLoop | None = None

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = CALL_TIMEOUT) -> T:
        if self._background is None:
            coroutine.close()
            raise RuntimeError("the world host is not started")
        return self._background.run(coroutine, timeout)

    def start(self) -> Self:
        self._background = BackgroundLoop("cps-world")
        try:
            self.run(self.world.start())
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._background is not None:
            try:
                self.run(self.world.stop())
            finally:
                self._background.stop()
                self._background = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- what clients need ---------------------------------------------------------------------------
    @property
    def urls(self) -> dict[str, str]:
        return self.world.urls

    @property
    def issuer(self) -> str:
        return self.world.urls["psc"] + REALM_PATH

    @property
    def discovery_url(self) -> str:
        """PSC's non-standard discovery path, as relying parties must use it."""
        return self.issuer + "/.well-known/wallet-openid-configuration"

    @property
    def ca_bundle(self) -> str:
        assert self.world.ca_bundle is not None
        return str(self.world.ca_bundle)

    def client_env(self) -> dict[str, str]:
        """Environment for a child process: the private PC/SC socket and OpenSC's PKCS#11 module."""
        if self.world.stack is None:
            raise RuntimeError("this world has no PC/SC stack (cards=False)")
        return client_env(self.world.stack)

    @property
    def proxy(self) -> str:
        """An HTTP proxy URL that takes the world's host names to its loopback ports (CONNECT and plain HTTP)."""
        assert self.world.proxy is not None
        return self.world.proxy.url

    def resolve(self) -> dict[str, str]:
        """Host name → loopback address, for clients that take a mapping (curl --resolve, httpx)."""
        return {site.host: site.running.host for site in self.world.sites.values()}

    def httpx_client(self, **options: Any) -> httpx2.AsyncClient:
        """An httpx2 client that reaches the world's sites by their real names and trusts its CA (what
        authlib's ``AsyncOAuth2Client`` takes too: pass it ``transport=world.transport()``)."""
        return httpx2.AsyncClient(transport=self.transport(), **options)

    def transport(self) -> WorldTransport:
        """The httpx2 transport behind ``httpx_client``: the world's resolver and CA, TLS verified."""
        assert self.world.pki is not None
        return WorldTransport(self.resolve(), self.world.pki.server.client_context())

    # -- the world's state, as a test sets it up -------------------------------------------------------
    def add_professional(
        self,
        *,
        first_name: str,
        last_name: str,
        profession: str,
        rpps: str | None = None,
        adeli: str | None = None,
        civility: str = "M",
        email: str | None = None,
        mobile: str | None = None,
        activities: list[Activity] | None = None,
    ) -> str:
        """Add a directory record; returns the national id."""
        professional = Professional(
            civility, first_name, last_name, profession, rpps=rpps, adeli=adeli,
            contacts=Contacts(email, mobile), activities=activities or [],
        )  # fmt: skip
        self.world.state.directory.add(professional)
        return professional.national_id

    def activate_ecps(self, national_id: str, password: str = "4321", device: str = DEFAULT_DEVICE) -> None:
        """An e-CPS already activated on ``device`` (call again with another device for a second phone)."""
        self.world.state.ecps.activate(national_id, device, password, "sans carte", self.world.state.now())

    def advance_clock(self, delta: str | dt.timedelta) -> dt.datetime:
        return self.world.state.clock.advance(delta)

    def register_client(
        self, client_id: str, secret: str, redirect_uris: list[str], *, name: str = "", require_pkce: bool = False
    ) -> None:
        assert self.world.psc is not None
        register_client(self.world.psc, Client(client_id, secret, redirect_uris, name or client_id, require_pkce))

    def psc_faults(self, *faults: str, client_id: str | None = None, national_id: str | None = None) -> None:
        """Switch PSC's named error paths (``access_denied``, ``id_token_expired``…) for a client or a user."""
        assert self.world.psc is not None
        chosen = {Fault(f) for f in faults}
        if client_id is not None:
            self.world.psc.client_faults[client_id] = chosen
        elif national_id is not None:
            self.world.psc.user_faults[national_id] = chosen
        else:
            raise ValueError("give client_id or national_id")

    def pending_pushes(self, device: str = DEFAULT_DEVICE) -> list[Push]:
        return self.world.state.ecps.pending(device, self.world.state.now())

    def approve(self, password: str = "4321", device: str = DEFAULT_DEVICE) -> Push:
        push = self._one_push(device)
        return self.world.state.ecps.approve(push.id, password, self.world.state.now())

    def refuse(self, device: str = DEFAULT_DEVICE) -> Push:
        push = self._one_push(device)
        return self.world.state.ecps.refuse(push.id, self.world.state.now())

    def _one_push(self, device: str) -> Push:
        pushes = self.pending_pushes(device)
        if not pushes:
            raise LookupError(f"no push is pending on {device}")
        return pushes[-1]

    def insert_card(self, profile: str = "pharmacist", reader: int = 0) -> CpxCard:
        assert self.world.pki is not None
        card, credentials = make_card(load_profile(profile), self.world.pki, self.world.state.now())
        self.run(self.world.readers[reader].insert(card, certificates=credentials.variants))
        return card

    def remove_card(self, reader: int = 0) -> None:
        self.run(self.world.readers[reader].remove())
