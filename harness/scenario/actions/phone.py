"""The professional's phones with the e-CPS app: answer a push, scan the wallet's QR code, read its code.

A scenario has one phone unless its personas name more (``ecps_devices``); each step acts on one,
named by its ``device`` when there are several. A login pushes to every phone of the person, and
the first answer withdraws the others' push (``simulators/world/ecps.py``).
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import Field

from harness.errors import StepFailed
from harness.scenario.actions.camera import qr_codes_seen
from harness.scenario.actions.registry import VALUE, Actor, value_or_mapping
from harness.scenario.fields import Device, Strict, Text
from harness.scenario.stage import Stage
from simulators.web.wallet.rules import token_from_qr
from simulators.world.ecps import PUSH_LIFETIME, EcpsError, Push, PushStatus

PHONE = Actor(
    "phone", "Le téléphone (application e-CPS)", professional=True, on_screen=True, produces=frozenset({"error"})
)
PHONE_CODE = "phone_code"
"""``phone.scan`` saves the code the phone shows under this name; ``phone.type_code`` types it."""
IGNORED_AFTER = int(PUSH_LIFETIME.total_seconds()) + 1
"""Seconds the clock moves when the professional ignores a push: it has expired by then."""
ON_SCREEN = (PushStatus.PENDING, PushStatus.EXPIRED)
"""A push the app still shows and lets the user answer: the backend judges an answer once it is too late."""


WHICH_PHONE = "the phone (one of the personas' `ecps_devices`); optional when the scenario has one"


class OnPhone(Strict):
    """Which phone: written ``{device: telephone-2}``; left out, the scenario's only phone."""

    device: Device | None = Field(default=None, description=WHICH_PHONE)


class Approve(Strict):
    """``phone.approve`` on a named phone: the e-CPS password typed there."""

    password: Text = Field(description="the e-CPS password typed on the phone")
    device: Device | None = Field(default=None, description=WHICH_PHONE)


def _named(args: OnPhone | None) -> str | None:
    """The phone a step names (None: the scenario's only one)."""
    return args.device if args is not None else None


def _last_push(stage: Stage, device: str | None, *, answerable: tuple[PushStatus, ...]) -> tuple[str, Push]:
    """The phone meant and the push it shows: its last one, if its status is one of ``answerable``."""
    phone, push = stage.last_push(device)
    if push is None or push.status not in answerable:
        last = f" (its last push is {push.status.value})" if push is not None else ""
        raise StepFailed(f"no push is pending on {phone}{last}")
    return phone, push


async def _answer(stage: Stage, push: Push, verb: str, send: Callable[[], object]) -> str:
    """The app sends its answer to the backend (``send``), which may refuse it (a wrong password, too
    late): that refusal is the step's error. Then the waiting page polls again."""
    outcome, error = f"{verb} push from {push.client} on {push.device}", None
    try:
        send()
    except EcpsError as exc:
        outcome, error = f"{verb} {push.client} on {push.device}: {exc}", exc.code
    await stage.browser.refresh()  # the waiting page polls again
    stage.phone_error = error
    return outcome


@PHONE.action("approve", value_or_mapping(Text, Approve),
              "approve the push the phone shows with this e-CPS password (after 120 s the backend refuses it as "
              "expired)",
              value="the password", secrets={VALUE, "password"}, on_phone=True)  # fmt: skip
async def approve(stage: Stage, args: str | Approve) -> str:
    password, device = (args, None) if isinstance(args, str) else (args.password, args.device)
    _, push = _last_push(stage, device, answerable=ON_SCREEN)
    state = stage.world.state
    return await _answer(stage, push, "approve", lambda: state.ecps.approve(push.id, password, state.now()))


@PHONE.action("refuse", OnPhone | None, "refuse the push the phone shows (after 120 s the backend refuses it as "
              "expired)", on_phone=True)  # fmt: skip
async def refuse(stage: Stage, args: OnPhone | None) -> str:
    _, push = _last_push(stage, _named(args), answerable=ON_SCREEN)
    state = stage.world.state
    return await _answer(stage, push, "refuse", lambda: state.ecps.refuse(push.id, state.now()))


@PHONE.action("ignore", OnPhone | None, f"let the pending push expire (the clock moves {IGNORED_AFTER} s)",
              on_phone=True)  # fmt: skip
async def ignore(stage: Stage, args: OnPhone | None) -> str:
    _, push = _last_push(stage, _named(args), answerable=(PushStatus.PENDING,))
    stage.world.state.clock.advance(f"{IGNORED_AFTER}s")
    await stage.browser.refresh()
    return f"ignore push from {push.client} on {push.device}"


@PHONE.action("scan", OnPhone | None, "scan the QR code on the computer's screen (the phone decodes its image)",
              on_phone=True)  # fmt: skip
async def scan(stage: Stage, args: OnPhone | None) -> str:
    phone = stage.phone(_named(args))
    seen = qr_codes_seen(await stage.browser.screenshot(), stage.browser.current().html)
    if not seen:
        raise StepFailed("no readable QR code on the current page (the phone's camera decoded none)")
    url = f"{stage.world.urls['admin']}/admin/phones/{phone}/scan"
    async with stage.http.post(url, json={"token": token_from_qr(seen[0])}) as reply:
        answer = await reply.json()
    if reply.status != 200:
        stage.phone_error = answer.get("error")
        return f"scan refused on {phone}: {answer.get('message')}"
    stage.saved[PHONE_CODE] = stage.phone_codes[phone] = answer["code"]
    return f"QR code scanned; {phone} shows a code"


@PHONE.action("type_code", OnPhone | None,
              "type on the computer the code the phone shows (submits the page's form)", on_phone=True)  # fmt: skip
async def type_code(stage: Stage, args: OnPhone | None) -> str:
    phone = stage.phone(_named(args))
    await stage.browser.submit({"code": stage.phone_codes.get(phone, "")})
    return f"typed the code {phone} shows"
