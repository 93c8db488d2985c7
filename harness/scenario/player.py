"""Replays a scenario against a fresh world with a browser driver, and records a timeline.

The player builds the stage (world, browser, cards), seeds the world from the personas, then for
each step asks the action's handler (``harness/scenario/actions``) to play it and checks the step's
expectations (``expect.py``). ``browser.*`` steps go to a driver (``harness/drivers``): the protocol
driver (an HTTP client; card TLS through curl, OpenSSL's PKCS#11 engine and OpenSC), the Chromium
driver or the Firefox driver (real browsers, NSS and OpenSC). Either way the card signs on the card.

A step fails (the scenario fails, the run goes on) when it raises ``StepFailed``, times out or
loses its connection; anything else it raises is a bug of the harness, recorded as an error with its
traceback, never mistaken for a scenario failure. A ``SetupError`` (the machine lacks something)
stops the run.

Screenshots are collected here, once for both drivers: after a step that changes what the
professional sees, the driver's picture of the page (Chromium's own, or the protocol driver's
snapshot drawn by a ``camera``) gets the address bar of the site it shows (``address_bar.py``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import traceback
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

import aiohttp
from joserfc import jwt
from joserfc.errors import JoseError
from pydantic import ValidationError

from harness.drivers.address_bar import with_address_bar
from harness.drivers.base import STEP_TIMEOUT, Browser
from harness.drivers.protocol import ProtocolBrowser
from harness.errors import SetupError, StepFailed
from harness.pki import Pki
from harness.scenario.expect import ExpectFields, check
from harness.scenario.model import Scenario, Step
from harness.scenario.stage import Stage
from harness.world.assembly import World
from harness.world.sites import LOOPBACK

if TYPE_CHECKING:  # Playwright's, only when pictures are asked for
    from harness.drivers.camera import SnapshotCamera
from simulators.web.psc.rules import PscState
from simulators.world.directory import Contacts, Professional

Driver = Literal["protocol", "chromium", "firefox"]


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
    """PNG: what the user saw after the step (the Chromium driver, or the protocol driver with a camera),
    the PIN dialog first when there was one; a page's picture carries the drawn address bar."""
    error: bool = False
    """The harness itself failed (a bug, ``failure`` has the traceback), not the scenario."""
    client_error: str = ""
    """Why the step's request failed, as the driver or the tool said it (an expected failure too), else ``""``."""


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

    @property
    def error(self) -> bool:
        """A step ended on a bug of the harness, not on a failed expectation."""
        return any(e.error for e in self.events)


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


def snapshot_camera() -> SnapshotCamera:
    """The protocol driver's camera (``run --screenshots``), or the fix when Playwright or Chromium is missing."""
    try:
        from harness.drivers.camera import open_camera
    except ImportError as exc:  # Playwright comes with the [chromium] extra only
        from harness.drivers.chromium_setup import ChromiumUnavailable

        raise ChromiumUnavailable(
            f"--screenshots needs Playwright ({exc.name} is not installed): pip install 'cps-harness[chromium]'"
        ) from None
    return open_camera()


def make_stage(
    scenario: Scenario, world: World, http: aiohttp.ClientSession, workdir: Path, driver: Driver, headless: bool,
    camera: SnapshotCamera | None = None,
) -> Stage:  # fmt: skip
    """The stage with the professional's browser: the protocol client, or Chromium watching the cards."""
    stage: Stage
    browser: Browser
    if driver == "chromium":
        try:
            from harness.drivers.chromium import ChromiumBrowser
        except ImportError as exc:  # Playwright comes with the [chromium] extra only
            from harness.drivers.chromium_setup import ChromiumUnavailable

            raise ChromiumUnavailable(
                f"--driver chromium needs Playwright ({exc.name} is not installed): pip install 'cps-harness[chromium]'"
            ) from None

        browser = ChromiumBrowser(
            world, workdir, middleware=scenario.uses_card_in_browser, headless=headless,
            refused=lambda: stage.pin_refused(),
        )  # fmt: skip
    elif driver == "firefox":
        try:
            from harness.drivers.firefox import FirefoxBrowser
        except ImportError as exc:  # marionette-driver comes with the [firefox] extra only
            from harness.drivers.firefox import FirefoxUnavailable

            raise FirefoxUnavailable(
                f"--driver firefox needs marionette-driver ({exc.name} is not installed): "
                "pip install 'cps-harness[firefox]'"
            ) from None

        browser = FirefoxBrowser(
            world, workdir, middleware=scenario.uses_card_in_browser, headless=headless,
            refused=lambda: stage.pin_refused(),
        )  # fmt: skip
    else:
        browser = ProtocolBrowser(world, workdir, camera=camera)
    stage = Stage(scenario.personas, world, http, workdir, browser)
    return stage


def seed(stage: Stage) -> None:
    """The world's starting state from the personas: the directory's records, e-CPS already activated
    (on each of a persona's phones)."""
    state = stage.world.state
    for persona in stage.personas.values():
        if persona.in_directory:
            state.directory.add(
                Professional(
                    persona.civility, persona.first_name, persona.last_name, persona.profession,
                    rpps=persona.rpps, adeli=persona.adeli, contacts=Contacts(persona.email, persona.mobile),
                )
            )  # fmt: skip
        if persona.ecps_password:
            for device in persona.ecps_devices:
                state.ecps.activate(persona.national_id, device, persona.ecps_password, "sans carte", state.now())


def arguments(stage: Stage, step: Step) -> Any:
    """The step's typed arguments with their placeholders filled (and validated again, filled)."""
    entry = step.entry
    filled = stage.fill(entry.as_written(step.args))
    try:
        return entry.adapter.validate_python(filled)
    except ValidationError as exc:
        raise StepFailed(f"{step.action}: once filled, {exc.errors()[0]['msg']}") from exc


async def do(stage: Stage, step: Step) -> str:
    """Play one step's action: its handler, with its arguments filled."""
    return await step.entry.handler(stage, arguments(stage, step))


@dataclass
class Played:
    """A scenario played up to some step, its world still running (``playing`` keeps it up)."""

    result: Result
    stage: Stage

    @property
    def world(self) -> World:
        return self.stage.world


OnEvent = Callable[[Event], None]
"""Told about each step as soon as it is played (a trainer's console shows progress)."""


class Playthrough:
    """A scenario played one step at a time in one fresh world, held between steps.

    ``playing`` plays a prefix of it at once; a trainer's console asks for one more step at a time
    (``step``), plays an action of its own on the same stage (``act``: a live fault), and goes back
    by starting a new playthrough, since a scenario replayed in a fresh world reaches the same state.

        async with Playthrough(scenario, path, pki, workdir) as through:
            event = await through.step()
    """

    def __init__(
        self, scenario: Scenario, path: Path, pki: Pki, workdir: Path, *, driver: Driver = "protocol",
        headless: bool = True, bind: str = LOOPBACK, camera: SnapshotCamera | None = None,
    ) -> None:  # fmt: skip
        """``camera``: the protocol driver's pages get a picture too (``snapshot_camera()``)."""
        self.scenario, self.path, self.pki, self.workdir = scenario, path, pki, workdir
        self.camera = camera
        self.driver: Driver = driver
        self.headless, self.bind = headless, bind
        self.events: list[Event] = []
        self._started = time.perf_counter()
        self._exits = AsyncExitStack()
        self._stage: Stage | None = None

    @property
    def stage(self) -> Stage:
        if self._stage is None:
            raise RuntimeError("the playthrough is not started (async with)")
        return self._stage

    @property
    def position(self) -> int:
        """How many of the scenario's steps were played."""
        return len(self.events)

    @property
    def finished(self) -> bool:
        return self.position >= len(self.scenario.steps)

    def result(self) -> Result:
        return Result(self.scenario, self.path, list(self.events), time.perf_counter() - self._started, self.driver)

    async def __aenter__(self) -> Self:
        scenario = self.scenario
        world = World(
            pki=self.pki, start=scenario.world.clock, cards=scenario.world.cards, bind=self.bind,
            clock_runs=not scenario.world.clock_frozen,
        )  # fmt: skip
        try:
            await self._exits.enter_async_context(world)
            http = await self._exits.enter_async_context(world.client())
            stage = make_stage(scenario, world, http, self.workdir, self.driver, self.headless, self.camera)
            self._exits.push_async_callback(stage.browser.close)
            seed(stage)
        except BaseException:
            await self._exits.aclose()
            raise
        self._stage = stage
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._stage = None
        await self._exits.aclose()

    async def step(self, variant: Step | None = None) -> Event:
        """Play the scenario's next step (whatever the previous one gave) and record it; ``variant``:
        that step as someone changed it (a trainer's console types a wrong PIN)."""
        if self.finished:
            raise RuntimeError(f"{self.scenario.id} has no step {self.position + 1}")
        index = self.position + 1
        self.events.append(await _play_step(self.stage, index, variant or self.scenario.steps[index - 1]))
        return self.events[-1]

    async def act(self, step: Step) -> Event:
        """Play a step that is not the scenario's (a trainer's live fault) on the same stage, unrecorded."""
        return await _play_step(self.stage, self.position, step)


@asynccontextmanager
async def playing(
    scenario: Scenario, path: Path, pki: Pki, workdir: Path, *, driver: Driver = "protocol", headless: bool = True,
    steps: int | None = None, on_event: OnEvent | None = None, bind: str = LOOPBACK,
    camera: SnapshotCamera | None = None,
) -> AsyncIterator[Played]:  # fmt: skip
    """Play the first ``steps`` steps (all by default; the first failure ends it) in a fresh world, and
    keep that world and its browser up while the caller's block runs.

    ``play`` leaves the block at once (CI); a trainer's ``serve --scenario`` holds the world on the
    step reached, so the same page can be opened in a real browser. Leaving stops everything.
    ``camera`` (``snapshot_camera()``, shared by a run): the protocol driver's pages get a picture too.
    """
    wanted = len(scenario.steps) if steps is None else min(steps, len(scenario.steps))
    async with Playthrough(
        scenario, path, pki, workdir, driver=driver, headless=headless, bind=bind, camera=camera
    ) as through:
        while through.position < wanted:
            event = await through.step()
            if on_event is not None:
                on_event(event)
            if not event.ok:
                break
        yield Played(through.result(), through.stage)


async def play(
    scenario: Scenario, path: Path, pki: Pki, workdir: Path, *, driver: Driver = "protocol", headless: bool = True,
    camera: SnapshotCamera | None = None,
) -> Result:  # fmt: skip
    """Play every step (until the first failure) in a fresh world, stopped on return."""
    async with playing(scenario, path, pki, workdir, driver=driver, headless=headless, camera=camera) as played:
        return played.result


async def _play_step(stage: Stage, index: int, step: Step) -> Event:
    world, browser = stage.world, stage.browser
    began = time.perf_counter()
    stage.start_step()
    apdu_mark = stage.apdu_marks()
    jwt_mark = len(world.psc.issued) if world.psc else 0
    ok, error, failure = True, False, ""
    try:
        detail = await asyncio.wait_for(do(stage, step), STEP_TIMEOUT)
        # no expect is no expectation, not no check: a failed request or a missing message still fails
        check(stage, step.expect.for_driver(browser.name) if step.expect is not None else ExpectFields())
    except (StepFailed, TimeoutError, aiohttp.ClientError) as exc:
        detail, ok, failure = step.action, False, f"{type(exc).__name__}: {exc}"
    except SetupError:
        raise
    except Exception as exc:  # a bug of the harness: say so, with where it happened
        detail, ok, error = step.action, False, True
        failure = f"harness error (a bug of cps-harness, not of the scenario): {type(exc).__name__}: {exc}\n"
        failure += "".join(traceback.format_exception(exc)[-6:])
    page = stage.page
    tokens = world.psc.issued[jwt_mark:] if world.psc else []
    screenshots = list(browser.pin_dialogs)  # the whole X screen, the real window: no drawn bar
    if step.entry.actor.on_screen:
        shot = await browser.screenshot()
        if shot is not None:
            address, secure = _address(stage, step), stage.page is not None  # no page: the browser's error page
            screenshots.append(await asyncio.to_thread(with_address_bar, shot, address, secure=secure))
    return Event(
        index, step.action, detail, ok, time.perf_counter() - began,
        page.screen if page else "", page.status if page else None, page.url if page else "",
        failure, page.html if page else "", stage.apdus_since(apdu_mark), list(browser.exchanges),
        [decode_jwt(t, world.psc) for t in tokens] if world.psc else [], screenshots, error,
        stage.client_error if stage.request_failed else "",
    )  # fmt: skip


def _address(stage: Stage, step: Step) -> str:
    """The address the browser shows: its page's, or, when the request failed (an error page), the one it asked for."""
    if stage.page is not None:
        return stage.page.url
    try:
        args = arguments(stage, step)
    except StepFailed:
        return ""
    site, path = getattr(args, "site", None), getattr(args, "path", None)
    return stage.world.urls[site] + path if isinstance(site, str) and isinstance(path, str) else ""
