"""Expectations: what must hold after a step, per driver, and the check that says what did not.

An expectation reads the stage only (the page reached, whether the request failed, the cards'
counters and logs through their read-only view, the world's state, the diagnosis); it never acts.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from harness.diagnose.checks import CHECK_IDS
from harness.errors import StepFailed
from harness.scenario.fields import PushOnPhone, Strict
from harness.scenario.stage import Stage

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


def problems(stage: Stage, expect: ExpectFields) -> list[str]:
    """What does not hold, one line each (none: the step passed)."""
    page = stage.page
    found = []
    if expect.browser_error is not None and expect.browser_error not in stage.client_error:
        found.append(f"browser error {stage.client_error or None!r}, expected {expect.browser_error!r}")
    if expect.fails is not None and expect.fails != stage.request_failed:
        found.append(f"request {'succeeded' if not stage.request_failed else 'failed'}, expected the opposite")
    if stage.request_failed and expect.fails is None:
        found.append(f"the request failed: {stage.client_error}")
    if expect.screen is not None and (page is None or page.screen != expect.screen):
        found.append(f"screen {page.screen if page else None!r}, expected {expect.screen!r}")
    if expect.status is not None and (page is None or page.status != expect.status):
        found.append(f"HTTP {page.status if page else None}, expected {expect.status}")
    for text in stage.fill(expect.text):
        if page is None or text not in page.text:
            found.append(f"text {text!r} not on the page")
    if expect.url_starts is not None and (page is None or not page.url.startswith(stage.fill(expect.url_starts))):
        found.append(f"URL {page.url if page else None}, expected to start with {expect.url_starts}")
    if expect.error is not None and stage.last_error != expect.error:
        found.append(f"error {stage.last_error!r}, expected {expect.error!r}")
    if expect.ecps_activated is not None:
        national = stage.fill(expect.ecps_activated)
        if stage.world.state.ecps.find(national) is None:
            found.append(f"no e-CPS activated for {national}")
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
    if expect.apdu is not None and not any(expect.apdu in line for line in stage.apdus_since({})):
        found.append(f"no APDU log line contains {expect.apdu!r}")
    if expect.diagnose_failed is not None:
        diagnosis = stage.diagnosis
        failed = diagnosis.first_failure if diagnosis else None
        outcome = None if diagnosis is None else failed.id if failed else "none"
        if outcome != expect.diagnose_failed:
            why = f" ({failed.detail})" if failed else ""
            found.append(f"diagnose: first failure {outcome!r}{why}, expected {expect.diagnose_failed!r}")
    return found


def check(stage: Stage, expect: ExpectFields) -> None:
    """Raise ``StepFailed`` naming everything that does not hold."""
    if found := problems(stage, expect):
        raise StepFailed("; ".join(found))
