"""The stage a scenario is played on: the world, the professional's browser, the cards, what was saved.

Action handlers act on it and expectations look at it; the player builds one per scenario and
resets its per-step observations before every step. It knows no action by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

from harness.diagnose.diagnosis import Diagnosis
from harness.drivers.base import STEP_TIMEOUT, Browser
from harness.drivers.page import Page
from harness.errors import StepFailed
from harness.middleware import client_env
from harness.scenario.personas import Persona, choose_phone, phones
from harness.world.assembly import World
from simulators.card.cpx import CpxCard
from simulators.card.view import CardView
from simulators.world.ecps import Push

PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)(?:\.([a-z_]+))?\}")
"""``{persona.field}`` or ``{saved_name}`` in a step's text."""
PIN_REFUSALS = {0x6983, 0x6984}


@contextmanager
def refusals_fail_the_step(*kinds: type[Exception]) -> Iterator[None]:
    """A rule of the world saying no (an unknown account, a locked e-CPS…) fails the step, in the world's words."""
    try:
        yield
    except kinds as exc:
        raise StepFailed(f"{type(exc).__name__}: {exc}") from exc


class Stage:
    """One scenario's world, browser and cards, as its steps see them."""

    def __init__(
        self, personas: dict[str, Persona], world: World, http: aiohttp.ClientSession, workdir: Path, browser: Browser
    ) -> None:
        self.personas = personas
        self.world = world
        self.http = http
        """A plain client of the world (back offices, the admin API): not the professional's browser."""
        self.workdir = workdir
        self.browser = browser
        self.saved: dict[str, str] = {}
        """Values saved by steps (``mailbox.code``'s ``save_as``, the phone's code), read as ``{name}``."""
        self.phone_codes: dict[str, str] = {}
        """Phone → the code it showed after its last scan (``phone.type_code`` types it)."""
        self.cards: dict[int, CpxCard] = {}
        """The card each reader holds, as the scenario inserted it."""
        self.card_certs: dict[str, Path] = {}
        """Persona → the PEM of the authentication certificate of the card issued for them."""
        self.diagnosis: Diagnosis | None = None
        # what the current step observed besides the browser
        self.phone_error: str | None = None
        self.tool_failed = False
        self.tool_error = ""
        self.nothing_received: str | None = None
        """The address a step looked for a message at and found none (``mailbox.code``): a failure of
        the step unless its expectation says ``no_message`` for that address."""
        self._log_marks: dict[int, int] = {}

    # -- what expectations read -----------------------------------------------------------------
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

    @property
    def phones(self) -> list[str]:
        """The scenario's phones with the e-CPS app: the personas' ``ecps_devices``."""
        return phones(self.personas.values())

    def phone(self, device: str | None) -> str:
        """The phone a step names, or the only one (``StepFailed`` naming the phones otherwise)."""
        try:
            return choose_phone(self.phones, device)
        except ValueError as exc:
            raise StepFailed(str(exc)) from None

    def last_push(self, device: str | None) -> tuple[str, Push | None]:
        """The phone meant and the last push it received (None: none yet), its expiry brought up to now."""
        phone, state = self.phone(device), self.world.state
        pushes = state.ecps.on_device(phone, state.now())
        return phone, pushes[-1] if pushes else None

    def card_view(self, reader: int) -> CardView | None:
        card = self.cards.get(reader)
        return CardView(card) if card is not None else None

    def apdu_marks(self) -> dict[int, int]:
        """How many exchanges each card has logged so far (to list a step's own APDUs afterwards)."""
        return {reader: CardView(card).apdu_count for reader, card in self.cards.items()}

    def apdus_since(self, marks: dict[int, int]) -> list[str]:
        return [line for reader, card in self.cards.items() for line in CardView(card).lines(marks.get(reader, 0))]

    def start_step(self) -> None:
        self.browser.start_step()
        self.tool_failed, self.tool_error, self.phone_error = False, "", None
        self.nothing_received = None
        self._log_marks = self.apdu_marks()

    def pin_refused(self) -> str | None:
        """Why a card refused a PIN since the step began (a VERIFY with data answered 63Cx or 6983)."""
        for reader, card in list(self.cards.items()):
            for entry in CardView(card).log(self._log_marks.get(reader, 0)):
                refused = entry.sw & 0xFFF0 == 0x63C0 or entry.sw in PIN_REFUSALS
                if entry.command[1:2] == b"\x20" and len(entry.command) > 5 and refused:
                    return f"the card refused the PIN ({entry.line().split('  ', 1)[1]})"
        return None

    # -- values -------------------------------------------------------------------------------------
    def fill(self, value: Any) -> Any:
        """``value`` with its placeholders replaced (strings, and strings inside mappings and lists)."""
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
        values = self.persona(name, "a placeholder").values()
        if attribute not in values:
            raise StepFailed(f"{name}.{attribute}: personas have {', '.join(values)}")
        return values[attribute]

    def persona(self, name: str, where: str = "this step") -> Persona:
        persona = self.personas.get(name)
        if persona is None:
            raise StepFailed(f"unknown persona {name!r} in {where}")
        return persona

    def card_certificate(self, persona: str) -> Path:
        """The certificate of the card issued for ``persona`` (it must have been inserted)."""
        cert = self.card_certs.get(persona)
        if cert is None:
            raise StepFailed(f"insert {persona}'s card first")
        return cert

    # -- the professional's PC ----------------------------------------------------------------------
    async def tool(self, command: list[str], script: str | None = None) -> tuple[int, str]:
        """Run a middleware tool (OpenSC) against the world's private stack, as the professional's PC does;
        ``script`` is what it reads on its standard input (codes stay off its command line)."""
        if self.world.stack is None:
            raise StepFailed("card steps need world.cards: true")
        process = await asyncio.create_subprocess_exec(
            *command, env=client_env(self.world.stack),
            stdin=asyncio.subprocess.DEVNULL if script is None else asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            out, _ = await asyncio.wait_for(
                process.communicate(None if script is None else script.encode()), STEP_TIMEOUT
            )
        except (TimeoutError, asyncio.CancelledError):  # timed out, or the run was interrupted: it goes too
            with contextlib.suppress(ProcessLookupError):  # it may have just ended
                process.kill()
            raise
        assert process.returncode is not None
        return process.returncode, out.decode(errors="replace")
