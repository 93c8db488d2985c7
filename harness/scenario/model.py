"""The scenario file format: personas, the world's starting state, steps by actor, expectations.

A step is a one-key mapping, the action, with its arguments, plus an optional ``expect``:

    - browser.open: {site: wallet, path: /activation}
      expect: {screen: saisie-identifiant}
    - browser.submit: {identifiant: "{carole.national_id}"}
    - mailbox.code: {to: "{carole.email}", save_as: email_code}
    - clock.advance: +48h

``{name.field}`` and ``{saved}`` placeholders are filled at run time from the personas and from
values saved by earlier steps. Files are data: a trainer edits them, no Python.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    TypeAdapter,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, ErrorDetails, InitErrorDetails, PydanticCustomError

from harness.card.profile import FaultsModel
from harness.diagnose.checks import CHECK_IDS
from harness.pki import CertVariant
from simulators.web.psc.rules import Fault
from simulators.web.sidep.rules import Kind
from simulators.world.clock import _DELTA, parse_delta

Site = Literal["wallet", "wallet-card", "psc", "sidep", "push", "testssl", "admin"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Persona(Strict):
    """A professional: who they are, what the directory holds, their card and e-CPS."""

    civility: Literal["M", "MME"] = Field(description="M or MME")
    first_name: str = Field(description="as the directory and the card hold it (capitals)")
    last_name: str = Field(description="as the directory and the card hold it (capitals)")
    profession: str = Field(description="TRE_G15 code: 10 médecin, 21 pharmacien, 60 infirmier")
    rpps: str | None = Field(default=None, description="11 digits; national id 8 + RPPS")
    adeli: str | None = Field(default=None, description="9 digits (nurses); national id 0 + ADELI")
    email: str | None = Field(default=None, description="as the directory holds it (None: absent)")
    mobile: str | None = Field(default=None, description="as the directory holds it (None: absent)")
    in_directory: bool = Field(default=True, description="False: the directory does not know this professional")
    ecps_password: str | None = Field(default=None, description="an e-CPS already activated with this password")
    card: str | None = Field(default=None, description="card profile (built-in name or YAML path) for this persona")
    card_certificates: CertVariant | None = Field(default=None, description="overrides the profile's certificates")
    card_pin_tries_left: int | None = Field(
        default=None, ge=0, le=3, description="PIN tries left on the card (overrides the profile; 0: blocked)"
    )
    card_puk_tries_left: int | None = Field(
        default=None, ge=0, le=3, description="PUK tries left on the card (overrides the profile; 0: blocked)"
    )


def _diagnose_outcome(value: str) -> str:
    if value not in DIAGNOSE_OUTCOMES:
        raise ValueError(f"{value!r} is not a check of the diagnosis; one of: {', '.join(DIAGNOSE_OUTCOMES)}")
    return value


DIAGNOSE_OUTCOMES = (*CHECK_IDS, "none")
DiagnoseOutcome = Annotated[
    str, AfterValidator(_diagnose_outcome), Field(json_schema_extra={"enum": list(DIAGNOSE_OUTCOMES)})
]
"""A check id of ``cps-harness diagnose`` (``harness/diagnose/checks.py``), or ``none``."""


def _as_list(value: Any) -> Any:
    """One string stands for a list of one."""
    return [value] if isinstance(value, str) else value


class ExpectFields(Strict):
    """What must hold after a step; every field is optional."""

    screen: str | None = Field(default=None, description="the page's screen id (its data-screen attribute)")
    status: int | None = Field(default=None, description="the HTTP status of the page the step ended on")
    text: Annotated[list[str], BeforeValidator(_as_list, json_schema_input_type=str | list[str])] = Field(
        default_factory=list, description="French text the page must contain (one string or a list)"
    )
    url_starts: str | None = Field(default=None, description="the start of the URL the step ended on")
    error: str | None = Field(
        default=None, description="error code of the last step: OAuth error in a redirect, or the phone's refusal"
    )
    ecps_activated: str | None = Field(default=None, description="national id with an activated e-CPS")
    pin_tries: int | None = Field(default=None, description="PIN tries left on the card in reader 0")
    puk_tries: int | None = Field(default=None, description="PUK tries left on the card in reader 0")
    apdu: str | None = Field(default=None, description="text that must appear in the card's APDU log")
    fails: bool | None = Field(default=None, description="the client's request itself fails (TLS, card)")
    browser_error: str | None = Field(
        default=None,
        description="the network error the browser shows instead of a page "
        "(e.g. ERR_SSL_CLIENT_AUTH_SIGNATURE_FAILED); "
        "only Chromium has one, so write it under `chromium:`",
    )
    diagnose_failed: DiagnoseOutcome | None = Field(
        default=None,
        description="after `diagnose.run`: the id of the first check that failed, or `none` when all passed; "
        f"checks in order: {', '.join(CHECK_IDS)}",
    )


class Expect(ExpectFields):
    """What must hold after a step, and what differs when the real browser plays it."""

    chromium: ExpectFields | None = Field(
        default=None,
        description="what must hold instead of the fields above when the Chromium driver plays the step: a real "
        "browser fails where a protocol client gets a page (TLS 1.3 without RSA-PSS, a card that cannot sign) and "
        "never offers an expired certificate",
    )

    def for_driver(self, driver: str) -> ExpectFields:
        """The expectations of this step for ``driver`` (``protocol`` or ``chromium``)."""
        if driver == "chromium" and self.chromium is not None:
            return self.chromium
        return ExpectFields.model_validate(self.model_dump(exclude_unset=True, exclude={"chromium"}))


def _text(value: Any) -> Any:
    """Codes, PINs and versions are text: YAML reads unquoted ``0012`` as 12 and ``1.3`` as a number."""
    if isinstance(value, bool | int | float):
        kind = "number" if not isinstance(value, bool) else "boolean"
        raise PydanticCustomError(
            "text_expected", f"write it in quotes: unquoted, YAML reads it as the {kind} {value!r}, not as text"
        )
    return value


def _duration(value: str) -> str:
    parse_delta(value)  # ValueError names the accepted forms
    return value


Text = Annotated[str, BeforeValidator(_text)]
"""A string argument; it may hold ``{placeholders}``, filled at run time."""
Reader = Annotated[int, Field(ge=0, le=1)]
Duration = Annotated[
    str,
    BeforeValidator(_text),
    AfterValidator(_duration),
    Field(description="a duration: +48h, 3d, 90s or 1h30min", json_schema_extra={"pattern": _DELTA.pattern}),
]
TlsVersion = Annotated[Literal["1.2", "1.3"], BeforeValidator(_text)]
SAVED_NAME = r"^[a-z_][a-z0-9_]*$"
"""A name ``mailbox.code`` saves under, usable later as ``{name}``."""


class Open(Strict):
    """``browser.open``: the page to GET."""

    site: Site = Field(description="the site (see Sites)")
    path: Text = Field(default="/", description="the path on that site")


class CardOpen(Open):
    """``browser.card_open``: the page to GET with the card's TLS client authentication."""

    persona: Text = Field(description="whose card (a persona of the file, its card in a reader)")
    pin: Text = Field(default="1234", description="the PIN typed when the middleware asks")


class CardFollow(Strict):
    """``browser.card_follow``: the link to follow with the card."""

    link: Text = Field(description="text the link contains")
    persona: Text = Field(description="whose card (a persona of the file)")
    pin: Text = Field(default="1234", description="the PIN typed when the middleware asks")


class MailboxCode(Strict):
    """``mailbox.code``: where the code arrives and the name it is saved under."""

    to: Text = Field(description="the e-mail address or mobile number")
    save_as: Text = Field(pattern=SAVED_NAME, description="later steps use the code as {save_as}")


class OrderUpdate(Strict):
    """``order.update``: the contacts the professional gives the order."""

    persona: Text = Field(description="who (a persona of the file)")
    email: Annotated[str | None, BeforeValidator(_text)] = Field(default=None, description="the new e-mail")
    mobile: Annotated[str | None, BeforeValidator(_text)] = Field(default=None, description="the new mobile number")


class CardInsert(Strict):
    """``card.insert``: whose card, in which reader."""

    persona: Text = Field(description="a persona of the file with a card profile")
    reader: Reader = Field(default=0, description="reader 0 or 1")


class Unblock(Strict):
    """``card.unblock``: the codes typed into the middleware."""

    puk: Text = Field(description="the PUK (code de déblocage)")
    new_pin: Text = Field(description="the new PIN")


class CardFault(FaultsModel):
    """``card.fault``: the card profile's faults (replacing the current ones), and the reader."""

    reader: Reader = Field(default=0, description="reader 0 or 1")


class PscFault(Strict):
    """``psc.fault``: named faults for a client or for one professional."""

    client_id: Text = Field(default="portail-sidep", description="the relying party the faults hit")
    persona: Text | None = Field(default=None, description="or: the professional the faults hit (a persona)")
    faults: list[Fault] = Field(default_factory=list, description="the faults; empty: none")

    @model_validator(mode="after")
    def one_target(self) -> PscFault:
        if self.persona is not None and "client_id" in self.model_fields_set:
            raise ValueError("give client_id or persona, not both")
        return self


class DiagnoseRun(Strict):
    """``diagnose.run``: ATSAM's diagnostic of reader 0's card, as ``cps-harness diagnose`` runs it."""

    nssdb_middleware: bool = Field(
        default=True, description="the browser's NSS database has the middleware (false: ATSAM not set up in it)"
    )
    pin: Text = Field(default="1234", description="the PIN typed for Test SSL")


class SidepAccount(Strict):
    """``sidep.account``: the SI-DEP login/password account created."""

    login: Text = Field(description="the login")
    password: Text = Field(description="the password")
    kind: Kind = Field(default=Kind.LIBERAL, description="liberal: active at once; salarie: the ARS validates it")
    national_id: Text = Field(default="", description="the professional's national id, if known")
    first_name: Text = Field(default="", description="as SI-DEP shows it")
    last_name: Text = Field(default="", description="as SI-DEP shows it")


ACTIONS: dict[str, str] = {
    "browser.open": "GET a page: {site, path}",
    "browser.submit": "submit the page's form with these fields (mapping field → value)",
    "browser.follow": "follow the link whose text contains this string",
    "browser.back": "go back to the previous page (reloaded)",
    "browser.card_open": "GET a page with TLS client authentication by the card: {site, path, persona, pin}",
    "browser.card_follow": "follow a link with the card: {link, persona, pin}",
    "phone.approve": "approve the pending push with this e-CPS password",
    "phone.refuse": "refuse the pending push",
    "phone.ignore": "let the pending push expire (the clock moves 121 s)",
    "phone.scan": "scan the QR code shown on the current page",
    "phone.type_code": "type on the computer the code the phone shows (submits the page's form)",
    "mailbox.code": "read the last 6-digit code sent to an address: {to, save_as}",
    "clock.advance": "move the world clock: +48h, 16min, 121s",
    "order.update": "the professional updates contacts at the order: {persona, email, mobile}",
    "outbox.drop": "messages to this address are never delivered",
    "card.insert": "insert the persona's card: {persona, reader}",
    "card.remove": "remove the card from a reader (number)",
    "card.verify_pin": "type the PIN into the middleware (pkcs11-tool --login through OpenSC): the PIN",
    "card.unblock": "unblock the PIN with the PUK (pkcs15-tool --unblock-pin): {puk, new_pin}",
    "card.fault": "switch card faults: {reader, status_words, wrong_key_signature, mute, remove_on}",
    "psc.fault": "PSC named faults for a client or a user: {client_id | persona, faults: [...]}",
    "sidep.account": "the CIS (liberal) or SI-DEP support (salaried) creates an account: {login, password, kind}",
    "ars.validate": "the ARS validates a salaried account: login",
    "testssl.tls_max": "Test SSL accepts TLS up to this version: '1.2' or '1.3'",
    "diagnose.run": "ATSAM's diagnostic (cps-harness diagnose) of the card in reader 0, then Test SSL: "
    "{nssdb_middleware, pin}; check it with expect.diagnose_failed",
}


ARGUMENTS: dict[str, Any] = {
    "browser.open": Open,
    "browser.submit": dict[str, Text],
    "browser.follow": Text,
    "browser.back": None,
    "browser.card_open": CardOpen,
    "browser.card_follow": CardFollow,
    "phone.approve": Text,
    "phone.refuse": None,
    "phone.ignore": None,
    "phone.scan": None,
    "phone.type_code": None,
    "mailbox.code": MailboxCode,
    "clock.advance": Duration,
    "order.update": OrderUpdate,
    "outbox.drop": Text,
    "card.insert": CardInsert,
    "card.remove": Reader | None,
    "card.verify_pin": Text,
    "card.unblock": Unblock,
    "card.fault": CardFault,
    "psc.fault": PscFault,
    "sidep.account": SidepAccount,
    "ars.validate": Text,
    "testssl.tls_max": TlsVersion,
    "diagnose.run": DiagnoseRun,
}
"""Each action's argument type: a model (a mapping), a scalar, or None (no argument)."""
assert ARGUMENTS.keys() == ACTIONS.keys(), "every action needs an argument type, and only actions"
_ADAPTERS = {action: TypeAdapter(tp) for action, tp in ARGUMENTS.items()}
_EXPECT: TypeAdapter[Expect | None] = TypeAdapter(Expect | None)


STEP_FIELDS = ("expect", "say")
"""The keys of a step besides its action."""


def _friendly(action: str, error: ErrorDetails) -> str:
    """pydantic's message, reworded where it would name a Python type instead of what to write."""
    tp = ARGUMENTS[action]
    takes = ", ".join(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else ""
    kind, whole = error["type"], not error["loc"]
    if kind == "extra_forbidden" and takes:
        return f"unknown argument of {action}; it takes: {takes}"
    if kind == "missing":
        return f"{action} needs this argument"
    if kind in ("model_type", "model_attributes_type") or (kind == "dict_type" and whole):
        return f"{action} takes a mapping" + (f": {{{takes}}}" if takes else "")
    if kind == "none_required":
        return f"{action} takes no argument (leave it empty)"
    if kind == "string_type" and whole:
        return f"{action} takes one text value, not a mapping or a list"
    return error["msg"]


def validate_arguments(action: str, value: Any) -> tuple[Any, list[InitErrorDetails]]:
    """The arguments as the runner reads them (plain dict, str, int or None), or the problems found.

    A mapping comes back with only the keys written (the runner applies its own defaults); each
    problem's location starts with the action, so it points at the field in the file.
    """
    adapter = _ADAPTERS[action]
    try:
        valid = adapter.validate_python(value)
    except ValidationError as exc:
        return value, [
            {
                "type": PydanticCustomError(error["type"], _friendly(action, error)),
                "loc": (action, *error["loc"]),
                "input": error["input"],
            }
            for error in exc.errors()
        ]
    if isinstance(valid, BaseModel):
        return valid.model_dump(mode="json", exclude_unset=True), []
    return valid, []


SAY = (
    "what the trainer says at this step, in French, in the guide's words: shown on the step's slide "
    "(`cps-harness demo`); never checked"
)


class Step(BaseModel):
    """One action by one actor; ``expect`` is checked right after it, ``say`` is for people."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    action: str
    args: Any = None
    expect: Expect | None = None
    say: str | None = Field(default=None, description=SAY)

    @model_validator(mode="before")
    @classmethod
    def one_action(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError("a step is a mapping: one action (e.g. browser.open), an optional expect and say")
        actions = [k for k in data if k not in STEP_FIELDS]
        if len(actions) != 1:
            raise ValueError(f"a step has exactly one action besides expect and say; found {actions or 'none'}")
        action = actions[0]
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
        args, problems = validate_arguments(action, data[action])
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
        return {"action": action, "args": args, **{key: data[key] for key in STEP_FIELDS if key in data}}

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        """A step as files write it (``- browser.open: {…}`` plus ``expect``), not the parsed ``{action, args}``."""
        return {
            "title": cls.__name__,
            "description": "one action, its arguments as the value, an optional expect and an optional say",
            "oneOf": [handler(form.__pydantic_core_schema__) for form in _FILE_FORMS],
        }


def _file_form(action: str) -> type[BaseModel]:
    """For the JSON Schema only: a step of ``action`` as written, its key (the arguments), ``expect`` and ``say``."""
    form: type[BaseModel] = create_model(
        "Step_" + action.replace(".", "_"),
        __config__=ConfigDict(extra="forbid", title=action),
        arguments=(ARGUMENTS[action], Field(alias=action, description=ACTIONS[action])),
        expect=(Expect | None, Field(default=None, description="what must hold after the step")),
        say=(str | None, Field(default=None, description=SAY)),
    )
    return form


_FILE_FORMS = [_file_form(action) for action in ACTIONS]


class WorldStart(Strict):
    """The world's state before the first step."""

    clock: dt.datetime = Field(
        default=dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC), description="the world clock at the start"
    )
    cards: bool = Field(default=False, description="start a private pcscd and two readers (card scenarios)")


PERSONA_DIR = Path(__file__).resolve().parent.parent.parent / "scenarios" / "personas"
_PERSONA_FILES = PERSONA_DIR.relative_to(PERSONA_DIR.parent.parent).as_posix()


def _resolve_persona(value: Any) -> Any:
    """``name`` or ``{from: name, …overrides}`` → the persona file's fields (``scenarios/personas/name.yaml``)."""
    if isinstance(value, str):
        value = {"from": value}
    if not isinstance(value, dict) or "from" not in value:
        return value
    path = PERSONA_DIR / f"{value['from']}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in PERSONA_DIR.glob("*.yaml")))
        raise ValueError(f"no persona file {value['from']!r} (known: {known})")
    base = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(base, dict):
        raise ValueError(f"{path} must be a mapping of persona fields")
    return {**base, **{k: v for k, v in value.items() if k != "from"}}


class _PersonaAsWritten:
    """JSON Schema of a persona as files write it: its fields, a persona file's name, or ``{from: file, …}``.

    Validation resolves the last two into fields first (``Scenario.persona_files``), so only the
    schema needs telling about them.
    """

    def __get_pydantic_json_schema__(self, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        fields = handler(core_schema)
        persona = handler.resolve_ref_schema(fields)
        source = {"type": "string", "description": f"a persona file: {_PERSONA_FILES}/<name>.yaml, without .yaml"}
        overrides = {
            "type": "object",
            "title": "persona from a file",
            "description": "a persona file's fields, some overridden",
            "properties": {"from": source, **persona.get("properties", {})},
            "required": ["from"],
            "additionalProperties": False,
        }
        return {"oneOf": [fields, {**source, "title": "persona file"}, overrides]}


class Scenario(Strict):
    id: Annotated[
        str, Field(pattern=r"^G[CD0-9]+-\d\d$", description="the guide path's id; the file name starts with it")
    ]
    title: str = Field(description="what the path shows, in French")
    guide: str = Field(description="the guide's section this path comes from")
    personas: dict[str, Annotated[Persona, _PersonaAsWritten()]] = Field(
        default_factory=dict, description="name → persona, or a persona file: `name: file` or `{from: file, …}`"
    )
    world: WorldStart = Field(default=WorldStart(), description="the world's state at the start")
    steps: list[Step] = Field(min_length=1, description="the actions, in order, each with an optional expect")

    @field_validator("personas", mode="before")
    @classmethod
    def persona_files(cls, personas: Any) -> Any:
        if isinstance(personas, dict):
            return {k: _resolve_persona(v) for k, v in personas.items()}
        return personas

    def unknown_personas(self) -> list[tuple[int, str]]:
        """(step index, name) of every step that names a persona the file does not declare."""
        found = []
        for index, step in enumerate(self.steps):
            name = step.args.get("persona") if isinstance(step.args, dict) else None
            if name is not None and name not in self.personas:
                found.append((index, str(name)))
        return found
