"""Replays a scenario against a fresh world with a browser driver, and records a timeline.

The player builds the stage (world, browser, cards), seeds the world from the personas, then for
each step asks the action's handler (``harness/scenario/actions``) to play it and checks the step's
expectations (``expect.py``). ``browser.*`` steps go to a driver (``harness/drivers``): the protocol
driver (an HTTP client; card TLS through curl, OpenSSL's PKCS#11 engine and OpenSC) or the Chromium
driver (the real browser, NSS and OpenSC). Either way the card signs on the card.

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
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

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

Driver = Literal["protocol", "chromium"]


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
    started = time.perf_counter()
    events: list[Event] = []
    world = World(
        pki=pki, start=scenario.world.clock, cards=scenario.world.cards, bind=bind,
        clock_runs=not scenario.world.clock_frozen,
    )  # fmt: skip
    async with world, world.client() as http:
        stage = make_stage(scenario, world, http, workdir, driver, headless, camera)
        try:
            seed(stage)
            for index, step in enumerate(scenario.steps[:steps], 1):
                events.append(await _play_step(stage, index, step))
                if on_event is not None:
                    on_event(events[-1])
                if not events[-1].ok:
                    break
            yield Played(Result(scenario, path, events, time.perf_counter() - started, driver), stage)
        finally:
            await stage.browser.close()


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
