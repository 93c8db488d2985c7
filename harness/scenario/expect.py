"""Expectations: what must hold after a step, per driver, and the check that says what did not.

An expectation reads the stage only (the page reached, whether the request failed, the cards'
counters and logs through their read-only view, the world's state, the diagnosis); it never acts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from harness.diagnose.checks import CHECK_IDS
from harness.errors import StepFailed
from harness.scenario.fields import PushOnPhone, Strict
from harness.scenario.screens import ScreenId
from harness.scenario.stage import Stage
from simulators.world.outbox import Channel

DIAGNOSE_OUTCOMES = (*CHECK_IDS, "none")


def _diagnose_outcome(value: str) -> str:
    if value not in DIAGNOSE_OUTCOMES:
        raise ValueError(f"{value!r} is not a check of the diagnosis; one of: {', '.join(DIAGNOSE_OUTCOMES)}")
    return value


DiagnoseOutcome = Annotated[
    str, AfterValidator(_diagnose_outcome), Field(json_schema_extra={"enum": list(DIAGNOSE_OUTCOMES)})
]
"""A check id of ``cps-harness diagnose`` (``harness/diagnose/checks.py``), or ``none``."""


def _as_list(value: Any) -> Any:
    """One string stands for a list of one."""
    return [value] if isinstance(value, str) else value


Texts = Annotated[list[str], BeforeValidator(_as_list, json_schema_input_type=str | list[str])]


class NoMessage(Strict):
    """No message has reached an address (on a channel, or on either) by the end of the step."""

    to: str = Field(description="the e-mail address or mobile number ({persona.mobile})")
    channel: Channel | None = Field(default=None, description="sms or email (default: either)")


def _no_true(value: Any) -> Any:
    if value is True:
        raise ValueError('name whose e-CPS is activated: ecps_activated: "{carole.national_id}" (false: nobody\'s)')
    return value


class NotFields(Strict):
    """What must NOT hold after a step: each field given is checked on its own, and must fail."""

    screen: ScreenId | None = Field(default=None, description="the page is not this screen")
    status: int | None = Field(default=None, description="the page's HTTP status is not this one")
    text: Texts = Field(default_factory=list, description="text absent from the page (one string or a list)")
    url_starts: str | None = Field(default=None, description="the URL does not start with this")
    error: str | None = Field(default=None, description="the step's error code is not this one")
    ecps_activated: str | None = Field(default=None, description="national id with no activated e-CPS")
    apdu: str | None = Field(default=None, description="text absent from the card's APDU log")


class ExpectFields(Strict):
    """What must hold after a step; every field is optional."""

    screen: ScreenId | None = Field(default=None, description="the page's screen id (its data-screen attribute)")
    status: int | None = Field(default=None, description="the HTTP status of the page the step ended on")
    text: Texts = Field(default_factory=list, description="French text the page must contain (one string or a list)")
    url_starts: str | None = Field(default=None, description="the start of the URL the step ended on")
    error: str | None = Field(
        default=None, description="error code of the last step: OAuth error in a redirect, or the phone's refusal"
    )
    ecps_activated: Annotated[str | Literal[False] | None, BeforeValidator(_no_true)] = Field(
        default=None,
        description="national id with an activated e-CPS; false: none of the file's personas has one",
    )
    push: PushOnPhone | None = Field(
        default=None,
        description="the state of the last push a phone received: `{device: telephone-2, state: withdrawn}`",
    )
    pin_tries: int | None = Field(default=None, description="PIN tries left on the card in reader 0")
    puk_tries: int | None = Field(default=None, description="PUK tries left on the card in reader 0")
    apdu: str | None = Field(default=None, description="text that must appear in the card's APDU log")
    fails: bool | None = Field(default=None, description="the client's request itself fails (TLS, card)")
    browser_error: str | None = Field(
        default=None,
        description="the network error the browser shows instead of a page "
        "(e.g. ERR_SSL_CLIENT_AUTH_SIGNATURE_FAILED); "
        "only the real browsers have one, so write it under `chromium:` or `firefox:` "
        "(Firefox's are NSS codes such as SSL_ERROR_HANDSHAKE_FAILURE_ALERT)",
    )
    diagnose_failed: DiagnoseOutcome | None = Field(
        default=None,
        description="after `diagnose.run`: the id of the first check that failed, or `none` when all passed; "
        f"checks in order: {', '.join(CHECK_IDS)}",
    )
    no_message: NoMessage | None = Field(
        default=None,
        description="no message reached this address (on this channel) by now; on `mailbox.code`, the missing "
        "code is then what the step expects, not a failure",
    )
    not_: NotFields | None = Field(
        default=None, alias="not", description="what must not hold: screen, status, text, url_starts, error, "
        "ecps_activated, apdu — each checked on its own",
    )  # fmt: skip


RESULTS = ("fails", "browser_error", "error", "diagnose_failed")
"""Expectations on what a step's own request or command gave: only the actions that make one can
produce them (``Action.produces``); the others read the world's state, after any step."""


class Expect(ExpectFields):
    """What must hold after a step, and what differs when the real browser plays it."""

    chromium: ExpectFields | None = Field(
        default=None,
        description="what must hold instead of the fields above when the Chromium driver plays the step: a real "
        "browser fails where a protocol client gets a page (TLS 1.3 without RSA-PSS, a card that cannot sign) and "
        "never offers an expired certificate",
    )

    firefox: ExpectFields | None = Field(
        default=None,
        description="what must hold instead of the fields above when the Firefox driver plays the step: Firefox "
        "has its own error pages (NSS error codes) and its own choice of certificate",
    )

    def for_driver(self, driver: str) -> ExpectFields:
        """The expectations of this step for ``driver`` (``protocol``, ``chromium`` or ``firefox``)."""
        if driver == "chromium" and self.chromium is not None:
            return self.chromium
        if driver == "firefox" and self.firefox is not None:
            return self.firefox
        return ExpectFields.model_validate(
            self.model_dump(exclude_unset=True, exclude={"chromium", "firefox"}, by_alias=True)
        )

    def results_named(self) -> set[str]:
        """The result expectations this step names, for any driver."""
        named = {name for name in RESULTS if getattr(self, name) is not None}
        for browser in (self.chromium, self.firefox):
            if browser is not None:
                named |= {name for name in RESULTS if getattr(browser, name) is not None}
        return named


Check = Callable[[Stage, Any], str | None]


def _screen(stage: Stage, value: str) -> str | None:
    page = stage.page
    return None if page is not None and page.screen == value else f"screen {page.screen if page else None!r}"


def _status(stage: Stage, value: int) -> str | None:
    page = stage.page
    return None if page is not None and page.status == value else f"HTTP {page.status if page else None}"


def _text(stage: Stage, value: str) -> str | None:
    page = stage.page
    return None if page is not None and stage.fill(value) in page.text else "not on the page"


def _url_starts(stage: Stage, value: str) -> str | None:
    page = stage.page
    return None if page is not None and page.url.startswith(stage.fill(value)) else f"URL {page.url if page else None}"


def _error(stage: Stage, value: str) -> str | None:
    return None if stage.last_error == value else f"error {stage.last_error!r}"


def _ecps_activated(stage: Stage, value: str | Literal[False]) -> str | None:
    registry = stage.world.state.ecps
    if value is False:
        having = [p.national_id for p in stage.personas.values() if registry.find(p.national_id) is not None]
        return None if not having else f"e-CPS activated for {', '.join(having)}"
    national = stage.fill(value)
    return None if registry.find(national) is not None else f"no e-CPS activated for {national}"


def _apdu(stage: Stage, value: str) -> str | None:
    return None if any(value in line for line in stage.apdus_since({})) else "not in the card's APDU log"


def _no_message(stage: Stage, value: NoMessage) -> str | None:
    state = stage.world.state
    address = stage.fill(value.to)
    received = state.outbox.mailbox(address, state.now(), value.channel)
    return None if not received else f"{len(received)} message(s) reached {address} ({received[0].channel.value})"


CHECKS: dict[str, Check] = {
    "screen": _screen, "status": _status, "url_starts": _url_starts, "error": _error,
    "ecps_activated": _ecps_activated, "apdu": _apdu, "no_message": _no_message,
}  # fmt: skip
"""One check per expectation that reads one value: None when it holds, else what was found."""


def problems(stage: Stage, expect: ExpectFields) -> list[str]:
    """What does not hold, one line each (none: the step passed)."""
    found = []
    if expect.browser_error is not None and expect.browser_error not in stage.client_error:
        found.append(f"browser error {stage.client_error or None!r}, expected {expect.browser_error!r}")
    if expect.fails is not None and expect.fails != stage.request_failed:
        found.append(f"request {'succeeded' if not stage.request_failed else 'failed'}, expected the opposite")
    if stage.request_failed and expect.fails is None:
        found.append(f"the request failed: {stage.client_error}")
    missing = stage.nothing_received
    if missing is not None and (expect.no_message is None or stage.fill(expect.no_message.to) != missing):
        found.append(f"no code received by {missing}")
    for name, check_one in CHECKS.items():
        value = getattr(expect, name)
        if value is not None and (why := check_one(stage, value)) is not None:
            found.append(f"{why}, expected {name} {value!r}" if name != "no_message" else f"{why}, expected none")
    for text in expect.text:
        if _text(stage, text) is not None:
            found.append(f"text {stage.fill(text)!r} not on the page")
    if expect.push is not None:
        phone, push = stage.last_push(expect.push.device)
        if push is None or push.status != expect.push.state:
            found.append(f"push on {phone}: {push.status if push else 'none'}, expected {expect.push.state}")
    view = stage.card_view(0)
    if expect.puk_tries is not None:
        tries = view.puk.tries_left if view else None
        if tries != expect.puk_tries:
            found.append(f"PUK tries {tries}, expected {expect.puk_tries}")
    if expect.pin_tries is not None:
        tries = view.pin.tries_left if view else None
        if tries != expect.pin_tries:
            found.append(f"PIN tries {tries}, expected {expect.pin_tries}")
    if expect.diagnose_failed is not None:
        diagnosis = stage.diagnosis
        failed = diagnosis.first_failure if diagnosis else None
        outcome = None if diagnosis is None else failed.id if failed else "none"
        if outcome != expect.diagnose_failed:
            why = f" ({failed.detail})" if failed else ""
            found.append(f"diagnose: first failure {outcome!r}{why}, expected {expect.diagnose_failed!r}")
    if expect.not_ is not None:
        found += _holding(stage, expect.not_)
    return found


def _holding(stage: Stage, negated: NotFields) -> list[str]:
    """Each negated expectation that holds (and so fails the step)."""
    found = []
    for name in sorted(negated.model_fields_set - {"text"}):
        value = getattr(negated, name)
        if value is not None and CHECKS[name](stage, value) is None:
            found.append(f"{name} {value!r} holds, expected it not to")
    for text in negated.text:
        if _text(stage, text) is None:
            found.append(f"text {stage.fill(text)!r} is on the page, expected it absent")
    return found


def check(stage: Stage, expect: ExpectFields) -> None:
    """Raise ``StepFailed`` naming everything that does not hold."""
    if found := problems(stage, expect):
        raise StepFailed("; ".join(found))
