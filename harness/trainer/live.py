"""The console's I/O layer: one path played live in a world, operation by operation, each bounded in time.

The session's rules (``session.py``) decide what may happen; this module does it: starts a
``Playthrough`` in a fresh world and replays it up to a step (a new path, back, go to, restart),
plays one more step, plays a live fault's action on the held world, prepares the trainer's own
Chromium. An operation runs as a task of its own, so a trainer closing the page does not cancel it
halfway; it has a deadline, after which its world is stopped and the page says so. Whatever goes
wrong ends in a French ``problem`` the page shows, never in an exception for the web layer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from harness.drivers.base import STEP_TIMEOUT
from harness.errors import ScenarioError, SetupError
from harness.lifetime import make_private_dir
from harness.pki import Pki
from harness.scenario.actions.browser import Open, page_url
from harness.scenario.loader import SCENARIO_DIR, find, load
from harness.scenario.model import Scenario, Step
from harness.scenario.player import Driver, Event, Playthrough, arguments
from harness.trainer.own_browser import OwnBrowser, has_display, prepare
from harness.trainer.session import Op, Plan, Refused, Session
from harness.trainer.snapshot import self_contained
from harness.trainer.switches import SWITCHES, available, with_pin
from harness.world.sites import LOOPBACK

log = logging.getLogger(__name__)

WORLD_TIMEOUT = 90.0
"""Seconds a world (sites, pcscd, readers) may take to start or stop."""
OWN_BROWSER_TIMEOUT = 60.0
"""Seconds the trainer's own Chromium may take to be set up (NSS database, middleware) and launched."""
DRIVERS: tuple[Driver, ...] = ("protocol", "chromium")
ASSET_TIMEOUT = 5.0
"""Seconds a page's stylesheet or image may take to come from the world."""
MAX_ASSET = 2_000_000
"""Bytes: a bigger stylesheet or image is left out of the console's copy of the page."""


@dataclass
class Shown:
    """A step as the console shows it: the event, and the browser's failure, if its request failed."""

    event: Event
    step: Step
    client_error: str = ""
    switch: str | None = None
    """The live fault this step played (not a step of the path)."""
    page: str = ""
    """The page's HTML with its stylesheets and images inside (shown when the driver took no picture)."""
    phone: str = ""
    """The e-CPS app's screen on the professional's phone after the step, self-contained (paths with a phone)."""
    device: str = ""
    """Which phone ``phone`` shows."""


@dataclass
class Catalogue:
    """The guide's paths the console offers, in the order of their files (grouped by section in the page)."""

    scenarios: dict[str, tuple[Path, Scenario]] = field(default_factory=dict)

    @classmethod
    def of(cls, loaded: Iterable[tuple[Path, Scenario]]) -> Catalogue:
        return cls({scenario.id: (path, scenario) for path, scenario in loaded})

    @classmethod
    def guide(cls) -> Catalogue:
        """The packaged catalogue: every path of the guide (a broken file is an error, not a hole)."""
        loaded, problems = load(find([str(SCENARIO_DIR)]))
        if problems:
            raise ScenarioError("\n".join([*problems, "fix the file first (cps-harness check)"]))
        return cls.of(loaded)

    def sections(self) -> dict[str, list[Scenario]]:
        grouped: dict[str, list[Scenario]] = {}
        for _, scenario in self.scenarios.values():
            grouped.setdefault(scenario.guide, []).append(scenario)
        return grouped


class Live:
    """The one session of a console: its rules, the world held, what the page shows."""

    def __init__(self, catalogue: Catalogue, *, bind: str = LOOPBACK, pki: Pki | None = None) -> None:
        self.catalogue = catalogue
        self.bind = bind
        self.pki = pki
        self.session = Session()
        self.driver: Driver = "protocol"
        self.through: Playthrough | None = None
        self.shown: list[Shown] = []
        """The steps played in the world held now, then the live faults, in order."""
        self.own: OwnBrowser | None = None
        self.own_url = ""
        self.notice: str | None = None
        """What the last operation did beyond moving (a fault switched), in French."""
        self._workdir: Path | None = None
        self._task: asyncio.Future[None] | None = None

    @property
    def scenario(self) -> Scenario | None:
        if self.session.scenario is None:
            return None
        return self.catalogue.scenarios[self.session.scenario][1]

    # -- operations ------------------------------------------------------------------------------------
    async def operate(
        self, op: Op, *, scenario: str | None = None, driver: str | None = None, target: int | None = None,
        switch: str | None = None,
    ) -> None:  # fmt: skip
        """Carry out ``op`` to its end (``Refused`` at once if the session does not allow it now)."""
        steps, offered = 0, frozenset[str]()
        if op is Op.START:
            if scenario not in self.catalogue.scenarios:
                raise Refused(f"Parcours inconnu : {scenario!r}.", 404)
            if driver not in DRIVERS:
                raise Refused("Choisissez le navigateur : « protocol » ou « chromium ».", 400)
            chosen = self.catalogue.scenarios[scenario][1]
            steps, offered = len(chosen.steps), available(chosen)
        plan = self.session.begin(op, scenario=scenario, steps=steps, switches=offered, target=target, switch=switch)
        if op is Op.START:
            assert driver in DRIVERS
            self.driver = driver
        self.notice = None
        self._task = asyncio.ensure_future(self._carry_out(plan))
        await asyncio.shield(self._task)  # a closed page does not cancel it halfway

    def budget(self, plan: Plan) -> float:
        """How long ``plan`` may take: a world's start and stop, and each step it plays."""
        if plan.op is Op.OWN_BROWSER:
            return OWN_BROWSER_TIMEOUT
        played = plan.target if plan.fresh else max(plan.target - self.session.position, 0)
        return 2 * WORLD_TIMEOUT + STEP_TIMEOUT * (played + 1 + len(self.session.applied))

    async def _carry_out(self, plan: Plan) -> None:
        seconds = self.budget(plan)
        try:
            async with asyncio.timeout(seconds):
                position = await self._do(plan)
        except Refused as exc:
            self.session.refused_midway(plan, exc.message)
        except TimeoutError:
            await self._drop_world()
            self.session.broke(
                f"L'opération n'a pas abouti en {seconds:.0f} s : le monde a été arrêté. Rejouez le parcours."
            )
        except SetupError as exc:
            await self._drop_world()
            self.session.broke(f"Le poste n'est pas prêt pour cette opération : {exc}")
        except Exception as exc:  # a bug of the harness: the page says so, the log keeps the traceback
            log.exception("trainer console: %s failed", plan.op.value)
            await self._drop_world()
            self.session.broke(
                f"Erreur du harnais (un défaut de cps-harness, pas du parcours) : {type(exc).__name__}: {exc}"
            )
        else:
            self.session.finished(plan, position)

    async def _do(self, plan: Plan) -> int:
        if plan.op is Op.STOP:
            await self._drop_world()
            return 0
        if plan.op is Op.OWN_BROWSER:
            await self._own_browser()
            return self.session.position
        if plan.op is Op.SWITCH:
            assert plan.switch is not None
            await self._switch(plan.switch)
            return self.session.position
        if plan.fresh:
            await self._drop_world()
            await self._new_world()
            await self._faults_after(0)
        through = self._through()
        while through.position < plan.target:
            index = through.position + 1
            step = with_pin(through.scenario.steps[index - 1], self.session.wrong_pin_at(index))
            event = await through.step(step)
            failed = through.stage.client_error if through.stage.request_failed else ""
            device, phone = await self._phone_after(step)
            self.shown.append(Shown(event, step, failed, page=await self._page_of(event), phone=phone, device=device))
            if plan.fresh:
                await self._faults_after(index)
        return through.position

    async def _fetch(self, url: str) -> tuple[str, bytes] | None:
        """A page, stylesheet or image of the world (its type and bytes), or None: not there, too big, too slow."""
        http = self._through().stage.http
        try:
            async with asyncio.timeout(ASSET_TIMEOUT), http.get(url) as reply:
                body = await reply.content.read(MAX_ASSET + 1)
                if reply.status != 200 or len(body) > MAX_ASSET:
                    return None
                return reply.content_type, body
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None  # not the world's, or not there: left out

    async def _page_of(self, event: Event) -> str:
        """The step's page, self-contained, when there is no picture of it."""
        if event.screenshots or not event.snapshot:
            return ""
        return await self_contained(event.snapshot, event.url, self._fetch)

    async def _phone_after(self, step: Step) -> tuple[str, str]:
        """The phone the step acted on (else the path's first one) and its e-CPS app screen, self-contained;
        nothing for a path without a phone. Attendees see the phone beside the computer, as in the guide."""
        through = self._through()
        stage = through.stage
        if not any(s.entry.on_phone for s in through.scenario.steps) or not stage.phones:
            return "", ""
        named = getattr(step.args, "device", None) if step.entry.on_phone else None
        device = named if isinstance(named, str) and named in stage.phones else stage.phones[0]
        url = stage.world.phones([device]).get(device)
        fetched = await self._fetch(url) if url else None
        if fetched is None or fetched[0] != "text/html":
            return device, ""
        return device, await self_contained(fetched[1].decode("utf-8", "replace"), url or "", self._fetch)

    def _through(self) -> Playthrough:
        if self.through is None:
            raise Refused("Aucun monde n'est en cours : rejouez le parcours.")
        return self.through

    async def _new_world(self) -> None:
        assert self.session.scenario is not None
        path, scenario = self.catalogue.scenarios[self.session.scenario]
        self._workdir = make_private_dir(f"trainer-{scenario.id}")
        self.pki = self.pki or Pki()
        through = Playthrough(scenario, path, self.pki, self._workdir, driver=self.driver, bind=self.bind)
        await through.__aenter__()
        self.through = through

    async def _drop_world(self) -> None:
        """Stop the world held (and the trainer's Chromium on it), whatever state it is in."""
        through, self.through = self.through, None
        own, self.own = self.own, None
        self.shown = []
        if own is not None:
            await own.stop()
        if through is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(through.__aexit__(None, None, None), WORLD_TIMEOUT)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    async def _faults_after(self, played: int) -> None:
        """A replay: switch again the faults the trainer switched once ``played`` steps were played."""
        for switch in self.session.faults_before(played):
            await self._switch(switch, replaying=True)

    async def _switch(self, name: str, *, replaying: bool = False) -> None:
        switch, through = SWITCHES[name], self._through()
        step = switch.step(through.scenario)
        if step is None:  # the PIN switches change how later card steps are played
            self.notice = f"{switch.label} : {switch.help}"
            return
        event = await through.act(step)
        if not event.ok and not replaying:
            detail = event.failure.splitlines()[0] if event.failure else event.detail
            raise Refused(f"« {switch.label} » n'a pas pu être déclenché ({detail}). Le monde est inchangé.")
        self.shown.append(Shown(event, step, switch=name, page=await self._page_of(event)))
        self.notice = f"{switch.label} : {switch.help}"

    async def _own_browser(self) -> None:
        through = self._through()
        if self.own is None:
            assert self._workdir is not None
            self.own = await prepare(through.stage.world, self._workdir / "own-browser")
        self.own_url = self.url_to_open()
        if has_display():
            await self.own.launch(self.own_url)
            self.notice = "Chromium s'ouvre sur la page du parcours."
        else:
            self.notice = "Pas d'écran ici : copiez la commande dans un terminal d'un poste avec écran."

    def url_to_open(self) -> str:
        """Where the trainer's own browser should go: the page held, the page asked for, or the next one."""
        through = self.through
        if through is None:
            return ""
        played = [s for s in self.shown if s.switch is None]
        if played and played[-1].event.url:
            return played[-1].event.url
        candidates = [s.step for s in reversed(played)]
        if not through.finished:
            candidates.insert(0, through.scenario.steps[through.position])
        for step in candidates:
            if isinstance(step.args, Open):
                with contextlib.suppress(Exception):
                    return page_url(through.stage, arguments(through.stage, step))
        urls = through.stage.world.urls
        return urls.get("wallet", next(iter(urls.values()), ""))

    async def close(self) -> None:
        """Stop everything: the operation running (cancelled), then the world."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._drop_world()
