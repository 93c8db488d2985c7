"""The one table of scenario actions: each action's name, argument type, words, secret fields and handler.

Everything that knows about actions reads this table and nothing else: the file format validates a
step's arguments with ``Action.validate``, the JSON Schema and the reference docs list every entry,
the player calls ``handler`` with the typed arguments (defaults declared once, in the argument
model), the report masks ``secrets``, the trainer's console and slides say ``summary`` and name the
``actor``. Adding an action is one decorated function in its actor's module:

    BROWSER = Actor("browser", "Le navigateur", professional=True, on_screen=True)

    @BROWSER.action("open", Open, "GET a page")
    async def open_page(stage: Stage, args: Open) -> str:
        ...

A handler gets the ``Stage`` (the world, the browser, the cards, saved values) and its arguments
with placeholders filled; it returns one line for the timeline and raises ``StepFailed`` when the
step cannot reach what it should.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any, get_args, get_origin

from pydantic import BaseModel, Discriminator, Tag, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

if TYPE_CHECKING:  # the stage is what handlers act on; it knows nothing of this table
    from harness.scenario.stage import Stage

Handler = Callable[["Stage", Any], Awaitable[str]]
"""``async (stage, typed arguments) -> what happened, in one line``."""
VALUE = ""
"""In ``Action.secrets``: the action's one value (not a field of a mapping) is the secret."""
_ONE_VALUE, _MAPPING = "<one value>", "<mapping>"
"""The branches of ``value_or_mapping``: pydantic puts them first in an error's location; ``validate`` drops them."""


def value_or_mapping(value: Any, mapping: type[BaseModel]) -> Any:
    """Arguments written as one value (``phone.approve: "4321"``) or, to say more, as a mapping
    (``phone.approve: {password: "4321", device: telephone-2}``): a mapping is validated as ``mapping``,
    anything else as ``value``, so an error speaks of the form the file used and not of both."""

    def form(data: Any) -> str:
        return _MAPPING if isinstance(data, dict | BaseModel) else _ONE_VALUE

    return Annotated[Annotated[value, Tag(_ONE_VALUE)] | Annotated[mapping, Tag(_MAPPING)], Discriminator(form)]


def model_in(tp: Any) -> type[BaseModel] | None:
    """The mapping a type of arguments accepts: the model itself, or the one inside ``Model | None`` or
    ``value_or_mapping``."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    return next((found for arg in get_args(tp) if (found := model_in(arg)) is not None), None)


@dataclass(frozen=True)
class Actor:
    """Who plays a family of actions (the part of the name before the dot)."""

    name: str
    french: str
    """How the trainer's slides name it (``Le navigateur``)."""
    professional: bool = False
    """The professional plays it (browser, phone, ATSAM's diagnostic): a trainer plays these by hand."""
    on_screen: bool = False
    """It changes what the professional sees: the Chromium driver photographs the screen after it."""
    produces: frozenset[str] = frozenset()
    """The result expectations (``fails``, ``error``…: ``expect.RESULTS``) its actions can give, by default."""

    def action(
        self, verb: str, arguments: Any, summary: str, *, value: str = "", secrets: Iterable[str] = (),
        example: str = "", card_in_browser: bool = False, produces: Iterable[str] | None = None,
        on_phone: bool = False,
    ) -> Callable[[Handler], Handler]:  # fmt: skip
        """Register the decorated handler as the action ``<actor>.<verb>``; the handler is returned as is."""

        def register(handler: Handler) -> Handler:
            add(
                Action(
                    f"{self.name}.{verb}", self, arguments, summary, handler, value=value,
                    secrets=frozenset(secrets), example=example, card_in_browser=card_in_browser,
                    produces=self.produces if produces is None else frozenset(produces), on_phone=on_phone,
                )
            )  # fmt: skip
            return handler

        return register


@dataclass(frozen=True)
class Action:
    """One action of the scenario format."""

    name: str
    actor: Actor
    arguments: Any
    """A pydantic model (the step's value is a mapping), another type (one value), or None (no value)."""
    summary: str
    """What it does, in a few words, for people (docs, the trainer's console and slides)."""
    handler: Handler
    value: str = ""
    """For a one-value action: what the value is (``the PIN``); mappings are described by their fields."""
    secrets: frozenset[str] = field(default_factory=frozenset)
    """Fields holding a code or a password (``VALUE``: the one value): reports mask them."""
    example: str = ""
    """A step as a file writes it, shown in the reference when no scenario file uses the action yet."""
    card_in_browser: bool = False
    """The step uses the card through the browser: the professional's browser needs the middleware."""
    produces: frozenset[str] = frozenset()
    """The result expectations a step of this action can meet: ``fails`` only where a request or a
    command is made, ``diagnose_failed`` only after the diagnosis… (state expectations: any step)."""
    on_phone: bool = False
    """The step acts on one phone: its arguments' ``device`` names it, or the scenario has only one."""

    @cached_property
    def adapter(self) -> TypeAdapter[Any]:
        return TypeAdapter(self.arguments)

    @property
    def takes_mapping(self) -> bool:
        return isinstance(self.arguments, type) and issubclass(self.arguments, BaseModel)

    @property
    def doc(self) -> str:
        """The summary with what the step's value holds: ``GET a page: {site, path}``."""
        if self.takes_mapping:
            return f"{self.summary}: {{{', '.join(self.arguments.model_fields)}}}"
        if (model := model_in(self.arguments)) is not None:  # one value or nothing, or a mapping
            return f"{self.summary}: {self.value or 'nothing'}, or {{{', '.join(model.model_fields)}}}"
        return f"{self.summary}: {self.value}" if self.value else self.summary

    def validate(self, value: Any) -> tuple[Any, list[InitErrorDetails]]:
        """The typed arguments, or the problems found (each located under the action's key)."""
        try:
            return self.adapter.validate_python(value), []
        except ValidationError as exc:
            return value, [
                {
                    "type": PydanticCustomError(error["type"], self._friendly(error)),
                    "loc": (self.name, *(k for k in error["loc"] if k not in (_ONE_VALUE, _MAPPING))),
                    "input": error["input"],
                }
                for error in exc.errors()
            ]

    def as_written(self, args: Any) -> Any:
        """Typed arguments back to what a file would hold (a mapping keeps only the fields written)."""
        if isinstance(args, BaseModel):
            return args.model_dump(mode="python", exclude_unset=True)
        return args

    def secret_values(self, args: Any) -> set[str]:
        """The codes and passwords these arguments hold, defaults included (a default PIN is typed too)."""
        if isinstance(args, BaseModel):
            return {str(getattr(args, name)) for name in self.secrets if getattr(args, name, None) is not None}
        if isinstance(args, dict):
            return {str(v) for k, v in args.items() if k in self.secrets and v is not None}
        if VALUE in self.secrets:  # one value, or a mapping instead (``Text | Model``): checked above
            return {str(args)} if args is not None else set()
        return set()

    def _friendly(self, error: ErrorDetails) -> str:
        """pydantic's message, reworded where it would name a Python type instead of what to write."""
        model = model_in(self.arguments)
        takes = ", ".join(model.model_fields) if model is not None else ""
        kind, whole = error["type"], error["loc"] in ((), (_ONE_VALUE,), (_MAPPING,))
        if whole and kind in ("string_type", "model_type") and not self.takes_mapping and takes:
            return f"{self.name} takes {self.value or 'nothing'}, or a mapping: {{{takes}}}"
        if kind == "extra_forbidden" and takes:
            return f"unknown argument of {self.name}; it takes: {takes}"
        if kind == "missing":
            return f"{self.name} needs this argument"
        if kind in ("model_type", "model_attributes_type") or (kind == "dict_type" and whole):
            return f"{self.name} takes a mapping" + (f": {{{takes}}}" if takes else "")
        if kind == "none_required":
            return f"{self.name} takes no argument (leave it empty)"
        if kind == "string_type" and whole:
            return f"{self.name} takes one text value, not a mapping or a list"
        return error["msg"]


ACTIONS: dict[str, Action] = {}
"""Every action, by name, in the order the actor modules register them."""


def add(action: Action) -> Action:
    if action.name in ACTIONS:
        raise ValueError(f"action {action.name} is registered twice")
    ACTIONS[action.name] = action
    return action


def remove(name: str) -> None:
    """Forget an action (tests register made-up ones and take them back)."""
    del ACTIONS[name]


def one_value_description(action: Action) -> str:
    """The description an annotated one-value type carries (``Duration``: ``a duration: +48h…``)."""
    extras = get_args(action.arguments)[1:] if get_origin(action.arguments) is not None else ()
    return next((str(m.description) for m in extras if getattr(m, "description", None)), "")
