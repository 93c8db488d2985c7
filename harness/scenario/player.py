"""Replays a scenario against a fresh world with a browser driver, and records a timeline.

The runner plays every actor but the browser itself (phone, mailbox, clock, card reader, back
offices) and checks expectations; ``browser.*`` steps go to a driver (``harness/drivers``): the
protocol driver (an HTTP client; card TLS through curl, OpenSSL's PKCS#11 engine and OpenSC) or
the Chromium driver (the real browser, NSS and OpenSC). Either way the card signs on the card.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp
from cryptography.hazmat.primitives import serialization
from joserfc import jwt
from joserfc.errors import JoseError

from harness.card.profile import FaultsModel, load_profile, make_card
from harness.diagnose.diagnosis import Diagnosis, diagnose_world
from harness.drivers.base import STEP_TIMEOUT, Browser
from harness.drivers.page import Page
from harness.drivers.protocol import ProtocolBrowser
from harness.errors import StepFailed
from harness.middleware import OPENSC_MODULE, client_env
from harness.pki import Pki
from harness.scenario.model import ExpectFields, Persona, Scenario, Step
from harness.world.assembly import World
from harness.world.sites import LOOPBACK
from simulators import identifiers
from simulators.card.cpx import CpxCard
from simulators.web.psc.rules import Fault, PscState
from simulators.web.sidep.rules import Kind
from simulators.world.directory import Contacts, Professional
from simulators.world.ecps import EcpsError

PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)(?:\.([a-z_]+))?\}")
Driver = Literal["protocol", "chromium"]
PIN_REFUSALS = {0x6983, 0x6984}


@dataclass
class Event:
    """One step of the timeline: what was done, what came back, whether expectations held."""

    index: int
    action: str
    detail: str
    ok: bool
    seconds: float
    screen: str = ""
    status: int | None = None
    url: str = ""
    failure: str = ""
    snapshot: str = ""
    apdus: list[str] = field(default_factory=list)
    http: list[str] = field(default_factory=list)
    """``METHOD URL -> status`` of every request the browser made during the step."""
    jwts: list[str] = field(default_factory=list)
    """Tokens PSC issued during the step, decoded, with their signature check."""
    screenshots: list[bytes] = field(default_factory=list)
    """PNG: what the user saw after the step (Chromium driver), the PIN dialog first when there was one."""


@dataclass
class Result:
    scenario: Scenario
    path: Path
    events: list[Event]
    seconds: float
    driver: str = "protocol"

    @property
    def ok(self) -> bool:
        return all(e.ok for e in self.events) and len(self.events) == len(self.scenario.steps)


def decode_jwt(token: str, psc: PscState) -> str:
    """Header and claims of a token PSC issued, and whether its signature verifies with PSC's key."""
    try:
        decoded = jwt.decode(token, psc.key, algorithms=["RS256"])
        verdict, header, claims = "signature verified (RS256)", decoded.header, decoded.claims
    except JoseError as exc:
        verdict = f"signature INVALID ({exc.error})"
        head, payload = token.split(".")[:2]
        header, claims = (
            json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))) for part in (head, payload)
        )
    return f"{verdict}\nheader: {json.dumps(header)}\nclaims: {json.dumps(claims, ensure_ascii=False, indent=1)}"


def persona_values(persona: Persona) -> dict[str, str]:
    national = identifiers.national_id(rpps=persona.rpps, adeli=persona.adeli)
    return {
        "national_id": national,
        "rpps": persona.rpps or "",
        "adeli": persona.adeli or "",
        "email": persona.email or "",
        "mobile": persona.mobile or "",
        "first_name": persona.first_name,
        "last_name": persona.last_name,
    }


def uses_card_in_browser(scenario: Scenario) -> bool:
    """Whether the professional's browser has the card's middleware (ATSAM installed) in this scenario."""
    return any(step.action.startswith("browser.card_") for step in scenario.steps)


class Player:
    def __init__(
        self, scenario: Scenario, world: World, http: aiohttp.ClientSession, workdir: Path,
        driver: Driver = "protocol", headless: bool = True,
    ) -> None:  # fmt: skip
        self.scenario = scenario
        self.world = world
        self.http = http
        self.workdir = workdir
        self.saved: dict[str, str] = {}
        self.cards: dict[int, CpxCard] = {}
        self.card_certs: dict[str, Path] = {}
        self.phone_error: str | None = None
        self.tool_failed = False
        self.tool_error = ""
        self._log_marks: dict[int, int] = {}
        self.diagnosis: Diagnosis | None = None
        self.browser: Browser
        if driver == "chromium":
            from harness.drivers.chromium import ChromiumBrowser

            self.browser = ChromiumBrowser(
                world, workdir, middleware=uses_card_in_browser(scenario), headless=headless, refused=self.pin_refused
            )
        else:
            self.browser = ProtocolBrowser(world, workdir)

    @property
    def page(self) -> Page | None:
        return self.browser.page

    @property
    def request_failed(self) -> bool:
        return self.browser.request_failed or self.tool_failed

    @property
    def client_error(self) -> str:
        return self.browser.client_error or self.tool_error

    @property
    def last_error(self) -> str | None:
        return self.phone_error or self.browser.last_error

    def start_step(self) -> None:
        self.browser.start_step()
        self.tool_failed, self.tool_error, self.phone_error = False, "", None
        self._log_marks = {reader: len(card.log) for reader, card in self.cards.items()}

    def pin_refused(self) -> str | None:
        """Why a card refused a PIN since the step began (a VERIFY with data answered 63Cx or 6983)."""
        for reader, card in list(self.cards.items()):
            for entry in list(card.log)[self._log_marks.get(reader, 0) :]:
                refused = entry.sw & 0xFFF0 == 0x63C0 or entry.sw in PIN_REFUSALS
                if entry.command[1:2] == b"\x20" and len(entry.command) > 5 and refused:
                    return f"the card refused the PIN ({entry.line().split('  ', 1)[1]})"
        return None

    # -- values ------------------------------------------------------------------------------------
    def fill(self, value: Any) -> Any:
        if isinstance(value, str):
            return PLACEHOLDER.sub(self._placeholder, value)
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        return value

    def _placeholder(self, match: re.Match[str]) -> str:
        name, attribute = match.group(1), match.group(2)
        if attribute is None:
            if name not in self.saved:
                raise StepFailed(f"nothing saved as {name!r} yet")
            return self.saved[name]
        persona = self.scenario.personas.get(name)
        if persona is None:
            raise StepFailed(f"unknown persona {name!r} in a placeholder")
        values = persona_values(persona)
        if attribute not in values:
            raise StepFailed(f"{name}.{attribute}: personas have {', '.join(values)}")
        return values[attribute]

    # -- the world's starting state ------------------------------------------------------------------
    def seed(self) -> None:
        state = self.world.state
        for persona in self.scenario.personas.values():
            if persona.in_directory:
                state.directory.add(
                    Professional(
                        persona.civility, persona.first_name, persona.last_name, persona.profession,
                        rpps=persona.rpps, adeli=persona.adeli, contacts=Contacts(persona.email, persona.mobile),
                    )
                )  # fmt: skip
            if persona.ecps_password:
                national = persona_values(persona)["national_id"]
                state.ecps.activate(national, "telephone-1", persona.ecps_password, "sans carte", state.now())

    # -- actions ---------------------------------------------------------------------------------------
    def _card(self, persona: str) -> Path:
        cert = self.card_certs.get(persona)
        if cert is None:
            raise StepFailed(f"insert {persona}'s card first")
        return cert

    async def do(self, step: Step) -> str:
        args = self.fill(step.args)
        action = step.action
        world, state, browser = self.world, self.world.state, self.browser
        if action == "browser.open":
            site, path = args["site"], args.get("path", "/")
            await browser.open(world.urls[site] + path)
            return f"{site}{path}" + (f" — {browser.client_error}" if browser.request_failed else "")
        if action == "browser.submit":
            return await browser.submit({k: str(v) for k, v in args.items()})
        if action == "browser.back":
            return await browser.back()
        if action == "browser.follow":
            await browser.follow(str(args))
            return f"link {args!r}"
        if action == "browser.card_open":
            url = world.urls[args["site"]] + args.get("path", "/")
            await browser.card_open(url, self._card(args["persona"]), str(args.get("pin", "1234")))
            outcome = f"{args['site']}{args.get('path', '/')} with {args['persona']}'s card"
            return outcome + (f" — {browser.client_error}" if browser.request_failed else "")
        if action == "browser.card_follow":
            await browser.card_follow(str(args["link"]), self._card(args["persona"]), str(args.get("pin", "1234")))
            outcome = f"link {args['link']!r} with the card"
            return outcome + (f" — {browser.client_error}" if browser.request_failed else "")
        if action in ("phone.approve", "phone.refuse", "phone.ignore"):
            pushes = state.ecps.pending("telephone-1", state.now())
            if not pushes:
                raise StepFailed("no push is pending on the phone")
            push = pushes[-1]
            outcome, phone_error = f"{action.split('.')[1]} push from {push.client}", None
            if action == "phone.approve":
                try:
                    state.ecps.approve(push.id, str(args), state.now())
                except EcpsError as exc:
                    outcome, phone_error = f"approve {push.client}: {exc}", exc.code
            elif action == "phone.refuse":
                state.ecps.refuse(push.id, state.now())
            else:
                state.clock.advance("121s")
            await browser.refresh()  # the waiting page polls again
            self.phone_error = phone_error
            return outcome
        if action == "phone.scan":
            token = browser.current().data.get("qr")
            if not token:
                raise StepFailed("no QR code on the current page")
            async with self.http.post(
                world.urls["admin"] + "/admin/phones/telephone-1/scan", json={"token": token}
            ) as r:
                answer = await r.json()
            if r.status != 200:
                self.phone_error = answer.get("error")
                return f"scan refused: {answer.get('message')}"
            self.saved["phone_code"] = answer["code"]
            return "QR code scanned; the phone shows a code"
        if action == "phone.type_code":
            await browser.submit({"code": self.saved.get("phone_code", "")})
            return "typed the phone's code"
        if action == "mailbox.code":
            messages = state.outbox.mailbox(args["to"], state.now())
            found = next((m for m in messages if re.search(r"\b\d{6}\b", m.body)), None)
            if found is None:
                raise StepFailed(f"no code received by {args['to']}")
            code = re.search(r"\b(\d{6})\b", found.body)
            assert code is not None
            self.saved[args["save_as"]] = code.group(1)
            return f"{found.channel.value} to {args['to']}: code saved as {args['save_as']}"
        if action == "clock.advance":
            state.clock.advance(str(args))
            return f"clock {args} → {state.now().isoformat()}"
        if action == "order.update":
            national = persona_values(self.scenario.personas[args["persona"]])["national_id"]
            update = state.directory.order_update(
                national, Contacts(args.get("email"), args.get("mobile")), state.now()
            )
            return f"order update for {national}, effective {update.effective_at.isoformat()}"
        if action == "outbox.drop":
            state.outbox.faults.dropped.add(str(args))
            return f"messages to {args} are dropped"
        if action == "card.insert":
            return await self._insert(args["persona"], int(args.get("reader", 0)))
        if action == "card.remove":
            reader = int(args or 0)
            await world.readers[reader].remove()
            self.browser.card_changed()
            return f"card removed from reader {reader}"
        if action in ("card.verify_pin", "card.unblock"):
            if action == "card.verify_pin":
                command = ["pkcs11-tool", "--module", OPENSC_MODULE, "--login", "--pin", str(args), "-O"]
            else:
                command = ["pkcs15-tool", "--unblock-pin", "--puk", str(args["puk"]), "--new-pin", str(args["new_pin"])]
            exit_code, output = await self._tool(command)
            self.tool_failed = exit_code != 0
            self.tool_error = f"{command[0]} exit {exit_code}" if exit_code else ""
            return f"{command[0]}: exit {exit_code}, {output.strip().splitlines()[-1] if output.strip() else ''}"
        if action == "card.fault":
            reader = int(args.pop("reader", 0)) if isinstance(args, dict) else 0
            card = self.cards.get(reader)
            if card is None:
                raise StepFailed(f"no card in reader {reader}")
            card.faults.replace_with(FaultsModel.model_validate(args).faults())
            return f"card faults {args}"
        if action == "psc.fault":
            assert world.psc is not None
            faults = {Fault(f) for f in args.get("faults", [])}
            if "persona" in args:
                world.psc.user_faults[persona_values(self.scenario.personas[args["persona"]])["national_id"]] = faults
            else:
                world.psc.client_faults[args.get("client_id", "portail-sidep")] = faults
            return f"PSC faults {sorted(f.value for f in faults)}"
        if action == "sidep.account":
            world.sidep_accounts.create(args["login"], args["password"], Kind(args.get("kind", "liberal")),
                                        args.get("national_id", ""), args.get("first_name", ""),
                                        args.get("last_name", ""))  # fmt: skip
            return f"account {args['login']} ({args.get('kind', 'liberal')})"
        if action == "ars.validate":
            world.sidep_accounts.validate_by_ars(str(args))
            return f"ARS validated {args}"
        if action == "testssl.tls_max":
            async with self.http.post(world.urls["admin"] + "/admin/testssl", json={"tls_max": str(args)}) as r:
                if r.status != 200:
                    raise StepFailed(f"testssl switch refused: {await r.text()}")
            return f"testssl accepts TLS up to {args}"
        if action == "diagnose.run":
            options = args or {}
            self.diagnosis = await diagnose_world(
                world, self.workdir / "diagnose", pin=str(options.get("pin", "1234")),
                middleware=bool(options.get("nssdb_middleware", True)),
            )  # fmt: skip
            return f"diagnose: {self.diagnosis.summary()}"
        raise StepFailed(f"action {action} is not implemented by the protocol driver")

    async def _tool(self, command: list[str]) -> tuple[int, str]:
        """Run a middleware tool (OpenSC) against the world's private stack, as the professional's PC does."""
        if self.world.stack is None:
            raise StepFailed("card steps need world.cards: true")
        process = await asyncio.create_subprocess_exec(
            *command, env=client_env(self.world.stack), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(process.communicate(), STEP_TIMEOUT)
        assert process.returncode is not None
        return process.returncode, out.decode(errors="replace")

    async def _insert(self, name: str, reader: int) -> str:
        persona = self.scenario.personas[name]
        if persona.card is None:
            raise StepFailed(f"persona {name} has no card profile")
        assert self.world.pki is not None
        profile = load_profile(persona.card)
        updates: dict[str, Any] = {}
        if persona.card_certificates is not None:
            updates["certificates"] = persona.card_certificates
        if persona.card_pin_tries_left is not None:
            updates["pin"] = profile.pin.model_copy(update={"tries_left": persona.card_pin_tries_left})
        if persona.card_puk_tries_left is not None:
            updates["puk"] = profile.puk.model_copy(update={"tries_left": persona.card_puk_tries_left})
        card, credentials = make_card(profile.model_copy(update=updates), self.world.pki, self.world.state.now())
        await self.world.readers[reader].insert(card)
        self.browser.card_changed()
        self.cards[reader] = card
        cert = self.workdir / f"{name}-auth.pem"
        cert.write_bytes(credentials.authentication.certificate.public_bytes(serialization.Encoding.PEM))
        self.card_certs[name] = cert
        return f"{name}'s card ({persona.card}, {credentials.variant.value}) in reader {reader}"

    # -- expectations ----------------------------------------------------------------------------------
    def check(self, expect: ExpectFields) -> None:
        page = self.page
        problems = []
        if expect.browser_error is not None and expect.browser_error not in self.client_error:
            problems.append(f"browser error {self.client_error or None!r}, expected {expect.browser_error!r}")
        if expect.fails is not None and expect.fails != self.request_failed:
            problems.append(f"request {'succeeded' if not self.request_failed else 'failed'}, expected the opposite")
        if self.request_failed and expect.fails is None:
            problems.append(f"the request failed: {self.client_error}")
        if expect.screen is not None and (page is None or page.screen != expect.screen):
            problems.append(f"screen {page.screen if page else None!r}, expected {expect.screen!r}")
        if expect.status is not None and (page is None or page.status != expect.status):
            problems.append(f"HTTP {page.status if page else None}, expected {expect.status}")
        for text in self.fill(expect.text):
            if page is None or text not in page.text:
                problems.append(f"text {text!r} not on the page")
        if expect.url_starts is not None and (page is None or not page.url.startswith(self.fill(expect.url_starts))):
            problems.append(f"URL {page.url if page else None}, expected to start with {expect.url_starts}")
        if expect.error is not None and self.last_error != expect.error:
            problems.append(f"error {self.last_error!r}, expected {expect.error!r}")
        if expect.ecps_activated is not None:
            national = self.fill(expect.ecps_activated)
            if self.world.state.ecps.find(national) is None:
                problems.append(f"no e-CPS activated for {national}")
        if expect.puk_tries is not None:
            card = self.cards.get(0)
            if card is None or card.security.chvs[2].tries_left != expect.puk_tries:
                problems.append(
                    f"PUK tries {card.security.chvs[2].tries_left if card else None}, expected {expect.puk_tries}"
                )
        if expect.pin_tries is not None:
            card = self.cards.get(0)
            if card is None or card.security.chvs[1].tries_left != expect.pin_tries:
                problems.append(
                    f"PIN tries {card.security.chvs[1].tries_left if card else None}, expected {expect.pin_tries}"
                )
        if expect.apdu is not None:
            lines = [e.line() for card in self.cards.values() for e in card.log]
            if not any(expect.apdu in line for line in lines):
                problems.append(f"no APDU log line contains {expect.apdu!r}")
        if expect.diagnose_failed is not None:
            failed = self.diagnosis.first_failure if self.diagnosis else None
            outcome = None if self.diagnosis is None else failed.id if failed else "none"
            if outcome != expect.diagnose_failed:
                why = f" ({failed.detail})" if failed else ""
                problems.append(f"diagnose: first failure {outcome!r}{why}, expected {expect.diagnose_failed!r}")
        if problems:
            raise StepFailed("; ".join(problems))


@dataclass
class Played:
    """A scenario played up to some step, its world still running (``playing`` keeps it up)."""

    result: Result
    player: Player

    @property
    def world(self) -> World:
        return self.player.world


OnEvent = Callable[[Event], None]
"""Told about each step as soon as it is played (a trainer's console shows progress)."""


@asynccontextmanager
async def playing(
    scenario: Scenario, path: Path, pki: Pki, workdir: Path, *, driver: Driver = "protocol", headless: bool = True,
    steps: int | None = None, on_event: OnEvent | None = None, bind: str = LOOPBACK,
) -> AsyncIterator[Played]:  # fmt: skip
    """Play the first ``steps`` steps (all by default; the first failure ends it) in a fresh world, and
    keep that world and its browser up while the caller's block runs.

    ``play`` leaves the block at once (CI); a trainer's ``serve --scenario`` holds the world on the
    step reached, so the same page can be opened in a real browser. Leaving stops everything.
    """
    started = time.perf_counter()
    events: list[Event] = []
    world = World(pki=pki, start=scenario.world.clock, cards=scenario.world.cards, bind=bind)
    async with world, world.client() as http:
        player = Player(scenario, world, http, workdir, driver, headless)
        try:
            player.seed()
            for index, step in enumerate(scenario.steps[:steps], 1):
                events.append(await _play_step(player, index, step))
                if on_event is not None:
                    on_event(events[-1])
                if not events[-1].ok:
                    break
            yield Played(Result(scenario, path, events, time.perf_counter() - started, driver), player)
        finally:
            await player.browser.close()


async def play(
    scenario: Scenario, path: Path, pki: Pki, workdir: Path, *, driver: Driver = "protocol", headless: bool = True
) -> Result:
    """Play every step (until the first failure) in a fresh world, stopped on return."""
    async with playing(scenario, path, pki, workdir, driver=driver, headless=headless) as played:
        return played.result


async def _play_step(player: Player, index: int, step: Step) -> Event:
    world, browser = player.world, player.browser
    began = time.perf_counter()
    player.start_step()
    apdu_mark = {reader: len(card.log) for reader, card in player.cards.items()}
    jwt_mark = len(world.psc.issued) if world.psc else 0
    try:
        detail = await asyncio.wait_for(player.do(step), STEP_TIMEOUT)
        if step.expect is not None:
            player.check(step.expect.for_driver(browser.name))
        ok, failure = True, ""
    except (StepFailed, KeyError, ValueError, TimeoutError, aiohttp.ClientError) as exc:
        detail, ok, failure = step.action, False, f"{type(exc).__name__}: {exc}"
    page = player.page
    apdus = [e.line() for reader, card in player.cards.items() for e in list(card.log)[apdu_mark.get(reader, 0) :]]
    tokens = world.psc.issued[jwt_mark:] if world.psc else []
    screenshots = list(browser.pin_dialogs)
    if step.action.startswith(("browser.", "phone.")):
        shot = await browser.screenshot()
        if shot is not None:
            screenshots.append(shot)
    return Event(
        index, step.action, detail, ok, time.perf_counter() - began,
        page.screen if page else "", page.status if page else None, page.url if page else "",
        failure, page.html if page else "", apdus, list(browser.exchanges),
        [decode_jwt(t, world.psc) for t in tokens] if world.psc else [], screenshots,
    )  # fmt: skip
