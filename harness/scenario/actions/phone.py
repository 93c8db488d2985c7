"""The professional's phone with the e-CPS app: answer a push, scan the wallet's QR code, read its code."""

from __future__ import annotations

from harness.errors import StepFailed
from harness.scenario.actions.registry import VALUE, Actor
from harness.scenario.fields import Text
from harness.scenario.stage import Stage
from simulators.world.ecps import PUSH_LIFETIME, EcpsError, Push
from simulators.world.state import DEFAULT_DEVICE

PHONE = Actor(
    "phone", "Le téléphone (application e-CPS)", professional=True, on_screen=True, produces=frozenset({"error"})
)
PHONE_CODE = "phone_code"
"""``phone.scan`` saves the code the phone shows under this name; ``phone.type_code`` types it."""
IGNORED_AFTER = int(PUSH_LIFETIME.total_seconds()) + 1
"""Seconds the clock moves when the professional ignores a push: it has expired by then."""


def _pending(stage: Stage) -> Push:
    state = stage.world.state
    pushes = state.ecps.pending(DEFAULT_DEVICE, state.now())
    if not pushes:
        raise StepFailed("no push is pending on the phone")
    return pushes[-1]


@PHONE.action("approve", Text, "approve the pending push with this e-CPS password", value="the password",
              secrets={VALUE})  # fmt: skip
async def approve(stage: Stage, password: str) -> str:
    push, state = _pending(stage), stage.world.state
    outcome, error = f"approve push from {push.client}", None
    try:
        state.ecps.approve(push.id, password, state.now())
    except EcpsError as exc:
        outcome, error = f"approve {push.client}: {exc}", exc.code
    await stage.browser.refresh()  # the waiting page polls again
    stage.phone_error = error
    return outcome


@PHONE.action("refuse", None, "refuse the pending push")
async def refuse(stage: Stage, _: None) -> str:
    push, state = _pending(stage), stage.world.state
    state.ecps.refuse(push.id, state.now())
    await stage.browser.refresh()
    return f"refuse push from {push.client}"


@PHONE.action("ignore", None, f"let the pending push expire (the clock moves {IGNORED_AFTER} s)")
async def ignore(stage: Stage, _: None) -> str:
    push = _pending(stage)
    stage.world.state.clock.advance(f"{IGNORED_AFTER}s")
    await stage.browser.refresh()
    return f"ignore push from {push.client}"


@PHONE.action("scan", None, "scan the QR code shown on the current page")
async def scan(stage: Stage, _: None) -> str:
    token = stage.browser.current().data.get("qr")
    if not token:
        raise StepFailed("no QR code on the current page")
    url = f"{stage.world.urls['admin']}/admin/phones/{DEFAULT_DEVICE}/scan"
    async with stage.http.post(url, json={"token": token}) as reply:
        answer = await reply.json()
    if reply.status != 200:
        stage.phone_error = answer.get("error")
        return f"scan refused: {answer.get('message')}"
    stage.saved[PHONE_CODE] = answer["code"]
    return "QR code scanned; the phone shows a code"


@PHONE.action("type_code", None, "type on the computer the code the phone shows (submits the page's form)")
async def type_code(stage: Stage, _: None) -> str:
    await stage.browser.submit({"code": stage.saved.get(PHONE_CODE, "")})
    return "typed the phone's code"
