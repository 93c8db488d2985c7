"""The scenario file format: personas, the world's starting state, steps by actor, expectations.

A step is a one-key mapping, the action, with its arguments, plus an optional ``expect``:

    - browser.open: {site: wallet, path: /activation}
      expect: {screen: saisie-identifiant}
    - browser.submit: {identifiant: "{carole.national_id}"}
    - mailbox.code: {to: "{carole.email}", save_as: email_code}
    - clock.advance: +48h

``{name.field}`` and ``{saved}`` placeholders are filled at run time from the personas and from
values saved by earlier steps. Files are data: a trainer edits them, no Python. The actions, their
arguments and their words come from one table (``harness/scenario/actions``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

from harness.scenario.actions import ACTIONS, Action
from harness.scenario.expect import RESULTS, Expect
from harness.scenario.fields import CLOCK_RANGE, Strict
from harness.scenario.personas import Persona, PersonaAsWritten, choose_phone, phones, resolve_persona
from simulators.world.clock import check_instant, parse_delta

_EXPECT: TypeAdapter[Expect | None] = TypeAdapter(Expect | None)
STEP_FIELDS = ("expect", "say")
"""The keys of a step besides its action."""
SAY = (
    "what the trainer says at this step, in French, in the guide's words: shown on the step's slide "
    "(`cps-harness demo`); never checked"
)


class Step(BaseModel):
    """One action by one actor; ``expect`` is checked right after it, ``say`` is for people."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    action: str
    args: Any = None
    """The typed arguments (the action's model, or its one value), placeholders not yet filled."""
    expect: Expect | None = None
    say: str | None = Field(default=None, description=SAY)

    @property
    def entry(self) -> Action:
        """The action's entry in the table (its handler, words, secrets)."""
        return ACTIONS[self.action]

    @model_validator(mode="before")
    @classmethod
    def one_action(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError("a step is a mapping: one action (e.g. browser.open), an optional expect and say")
        actions = [k for k in data if k not in STEP_FIELDS]
        if len(actions) != 1:
            raise ValueError(f"a step has exactly one action besides expect and say; found {actions or 'none'}")
        name = actions[0]
        if name not in ACTIONS:
            raise ValueError(f"unknown action {name!r}; known: {', '.join(ACTIONS)}")
        entry = ACTIONS[name]
        args, problems = entry.validate(data[name])
        problems += _results_it_cannot_give(entry, data.get("expect"))
        if problems:
            try:  # report a wrong expect in the same pass as wrong arguments
                _EXPECT.validate_python(data.get("expect"))
            except ValidationError as exc:
                problems += [
                    {
                        "type": PydanticCustomError(e["type"], str(e["msg"])),
                        "loc": ("expect", *e["loc"]),
                        "input": e["input"],
                    }
                    for e in exc.errors()
                ]
            raise ValidationError.from_exception_data(cls.__name__, problems)
        return {"action": name, "args": args, **{key: data[key] for key in STEP_FIELDS if key in data}}

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        """A step as files write it (``- browser.open: {…}`` plus ``expect``), one branch per action of the table."""
        return {
            "title": cls.__name__,
            "description": "one action, its arguments as the value, an optional expect and an optional say",
            "oneOf": [handler(file_form(action).__pydantic_core_schema__) for action in ACTIONS.values()],
        }


def _results_it_cannot_give(entry: Action, expect: Any) -> list[Any]:
    """``expect.fails`` on a step that makes no request (and the like) could never be checked: an error."""
    found = []
    for where, fields in (
        ((), expect),
        (("chromium",), (expect or {}).get("chromium") if isinstance(expect, dict) else None),
        (("firefox",), (expect or {}).get("firefox") if isinstance(expect, dict) else None),
    ):
        if not isinstance(fields, dict):
            continue
        for name in RESULTS:
            if name in fields and name not in entry.produces:
                able = sorted(a.name for a in ACTIONS.values() if name in a.produces)
                message = f"{entry.name} cannot give `{name}`; steps that can: {', '.join(able)}"
                found.append(
                    {"type": PydanticCustomError("result_not_produced", message), "loc": ("expect", *where, name),
                     "input": fields[name]}
                )  # fmt: skip
    return found


def file_form(action: Action) -> type[BaseModel]:
    """For the JSON Schema only: a step of ``action`` as written, its key (the arguments), ``expect`` and ``say``."""
    form: type[BaseModel] = create_model(
        "Step_" + action.name.replace(".", "_"),
        __config__=ConfigDict(extra="forbid", title=action.name),
        arguments=(action.arguments, Field(alias=action.name, description=action.doc)),
        expect=(Expect | None, Field(default=None, description="what must hold after the step")),
        say=(str | None, Field(default=None, description=SAY)),
    )
    return form


class WorldStart(Strict):
    """The world's state before the first step."""

    clock: dt.datetime = Field(
        default=dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC),
        description="the world clock at the start, from 1970 to 2999 (it stays there through every clock.advance)",
    )

    @field_validator("clock")
    @classmethod
    def aware(cls, clock: dt.datetime) -> dt.datetime:
        """A clock without a time zone is an error here rather than when the world starts."""
        if clock.tzinfo is None or clock.utcoffset() is None:
            raise ValueError("give the time zone: 2026-11-28T09:00:00Z (UTC) or +01:00")
        return clock

    cards: bool = Field(default=False, description="start a private pcscd and two readers (card scenarios)")
    clock_frozen: bool = Field(
        default=False,
        description="the world clock stands still between steps and moves only with clock.advance (for a path "
        "that checks an exact instant); by default it follows real time from `clock`, as a served world does",
    )

    @field_validator("clock")
    @classmethod
    def within_the_clock_bounds(cls, instant: dt.datetime) -> dt.datetime:
        """A world cannot start outside its clock's bounds (``simulators/world/clock.py``): ``check``
        says so at the file's line rather than ``run`` failing to build the world."""
        return check_instant(instant)


GUIDE_PATH_ID = r"^G[CD0-9]+-\d\d$"
"""A guide path's id, as the catalogue's files have them (``G5-03``)."""


class Scenario(Strict):
    id: Annotated[
        str,
        Field(
            pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$",
            description="the file's own id (letters, digits, - and _): a guide path's (G5-03) for the catalogue, "
            "its own for a variant (G5-03-approbation-tardive); the file name starts with it; unique in a run",
        ),
    ]
    variant_of: Annotated[str, Field(pattern=GUIDE_PATH_ID)] | None = Field(
        default=None,
        description="the guide path this file varies (G5-03): the report counts it under that path",
    )
    title: str = Field(description="what the path shows, in French")
    guide: str = Field(description="the guide's section this path comes from")
    personas: dict[str, Annotated[Persona, PersonaAsWritten()]] = Field(
        default_factory=dict, description="name → persona, or a persona file: `name: file` or `{from: file, …}`"
    )
    world: WorldStart = Field(default=WorldStart(), description="the world's state at the start")
    steps: list[Step] = Field(min_length=1, description="the actions, in order, each with an optional expect")

    @field_validator("personas", mode="before")
    @classmethod
    def persona_files(cls, personas: Any, info: ValidationInfo) -> Any:
        if isinstance(personas, dict):
            folder = (info.context or {}).get("folder")
            return {k: resolve_persona(v, folder) for k, v in personas.items()}
        return personas

    @model_validator(mode="after")
    def a_variant_is_not_its_path(self) -> Scenario:
        if self.variant_of is not None and self.variant_of == self.id:
            raise ValueError(f"id: a variant needs its own id, not {self.id!r} (e.g. {self.id}-ma-variante)")
        return self

    @property
    def path_id(self) -> str:
        """The guide path this file plays: its own id, or the one it is a variant of."""
        return self.variant_of or self.id

    def unknown_personas(self) -> list[tuple[int, str]]:
        """(step index, name) of every step that names a persona the file does not declare."""
        found = []
        for index, step in enumerate(self.steps):
            name = getattr(step.args, "persona", None)
            if name is not None and name not in self.personas:
                found.append((index, str(name)))
        return found

    def unknown_phones(self) -> list[tuple[int, str]]:
        """(step index, why) of every phone step or ``push`` expectation that names a phone the personas
        do not have, or names none when they have several (the same choice the steps make when played)."""
        found = []
        known = phones(self.personas.values())
        for index, step in enumerate(self.steps):
            named: list[tuple[str, str | None]] = []
            if step.entry.on_phone:
                named.append((step.action, getattr(step.args, "device", None)))
            for driver in ("protocol", "chromium", "firefox"):
                expect = step.expect.for_driver(driver) if step.expect is not None else None
                if expect is not None and expect.push is not None:
                    named.append(("expect.push", expect.push.device))
            for where, device in dict.fromkeys(named):
                try:
                    choose_phone(known, device)
                except ValueError as exc:
                    found.append((index, f"{where}: {exc}"))
        return found

    def clock_out_of_range(self) -> tuple[int, str] | None:
        """(step index, why) of the first ``clock.advance`` that takes the world clock out of
        ``CLOCK_RANGE``, or (-1, why) when ``world.clock`` starts out of it; None when it stays in."""
        low, high = CLOCK_RANGE
        now = self.world.clock
        if not low <= now <= high:
            return -1, f"{now.isoformat()}: the world clock starts between {low.year} and {high.year}"
        for index, step in enumerate(self.steps):
            if step.action == "clock.advance":
                now += parse_delta(step.args)
                if now > high:
                    return index, (
                        f"{step.args} takes the world clock to {now.isoformat()}, past its last year "
                        f"{high.year} (from world.clock {self.world.clock.isoformat()})"
                    )
        return None

    @property
    def uses_card_in_browser(self) -> bool:
        """Whether the professional's browser has the card's middleware (ATSAM installed) in this scenario."""
        return any(step.entry.card_in_browser for step in self.steps)
