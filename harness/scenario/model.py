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
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.pki import CertVariant

Site = Literal["wallet", "wallet-card", "psc", "sidep", "push", "testssl", "admin"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Persona(Strict):
    """A professional: who they are, what the directory holds, their card and e-CPS."""

    civility: Literal["M", "MME"]
    first_name: str
    last_name: str
    profession: str = Field(description="TRE_G15 code: 10 médecin, 21 pharmacien, 60 infirmier")
    rpps: str | None = None
    adeli: str | None = None
    email: str | None = Field(default=None, description="as the directory holds it (None: absent)")
    mobile: str | None = Field(default=None, description="as the directory holds it (None: absent)")
    in_directory: bool = True
    ecps_password: str | None = Field(default=None, description="an e-CPS already activated with this password")
    card: str | None = Field(default=None, description="card profile (built-in name or YAML path) for this persona")
    card_certificates: CertVariant | None = Field(default=None, description="overrides the profile's certificates")
    card_pin_tries_left: int | None = Field(default=None, ge=0, le=3)
    card_puk_tries_left: int | None = Field(default=None, ge=0, le=3)


class Expect(Strict):
    """What must hold after a step; every field is optional."""

    screen: str | None = None
    status: int | None = None
    text: list[str] = Field(default_factory=list, description="French text the page must contain")
    url_starts: str | None = None
    error: str | None = Field(
        default=None, description="error code of the last step: OAuth error in a redirect, or the phone's refusal"
    )
    ecps_activated: str | None = Field(default=None, description="national id with an activated e-CPS")
    pin_tries: int | None = None
    puk_tries: int | None = None
    apdu: str | None = Field(default=None, description="text that must appear in the card's APDU log")
    fails: bool | None = Field(default=None, description="the client's request itself fails (TLS, card)")

    @model_validator(mode="before")
    @classmethod
    def text_as_list(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("text"), str):
            return {**data, "text": [data["text"]]}
        return data


class Open(Strict):
    site: Site
    path: str = "/"


class Card(Strict):
    persona: str
    reader: int = 0
    pin: str = "1234"


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
}


class Step(BaseModel):
    """One action by one actor; ``expect`` is checked right after it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    action: str
    args: Any = None
    expect: Expect | None = None

    @model_validator(mode="before")
    @classmethod
    def one_action(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError("a step is a mapping: one action (e.g. browser.open) and an optional expect")
        actions = [k for k in data if k != "expect"]
        if len(actions) != 1:
            raise ValueError(f"a step has exactly one action besides expect; found {actions or 'none'}")
        action = actions[0]
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
        return {"action": action, "args": data[action], "expect": data.get("expect")}


class WorldStart(Strict):
    clock: dt.datetime = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
    cards: bool = False
    """Start a private pcscd and readers (card scenarios)."""


PERSONA_DIR = Path(__file__).resolve().parent.parent.parent / "scenarios" / "personas"


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


class Scenario(Strict):
    id: Annotated[str, Field(pattern=r"^G[C0-9]+-\d\d$")]
    title: str
    guide: str = Field(description="the guide's section this path comes from")
    personas: dict[str, Persona] = Field(default_factory=dict)
    world: WorldStart = WorldStart()
    steps: list[Step] = Field(min_length=1)

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
