"""Mail and SMS: the codes that reach the professional's mailbox, and messages that never arrive."""

from __future__ import annotations

import re

from pydantic import Field

from harness.errors import StepFailed
from harness.scenario.actions.registry import Actor
from harness.scenario.fields import SAVED_NAME, Strict, Text
from harness.scenario.stage import Stage

MAILBOX = Actor("mailbox", "La messagerie")
OUTBOX = Actor("outbox", "La messagerie")
CODE = re.compile(r"\b(\d{6})\b")
"""A one-time code in a message: six digits standing alone."""


class MailboxCode(Strict):
    """``mailbox.code``: where the code arrives and the name it is saved under."""

    to: Text = Field(description="the e-mail address or mobile number")
    save_as: Text = Field(pattern=SAVED_NAME, description="later steps use the code as {save_as}")


@MAILBOX.action("code", MailboxCode, "read the last 6-digit code sent to an address")
async def read_code(stage: Stage, args: MailboxCode) -> str:
    state = stage.world.state
    for message in state.outbox.mailbox(args.to, state.now()):
        if found := CODE.search(message.body):
            stage.saved[args.save_as] = found.group(1)
            return f"{message.channel.value} to {args.to}: code saved as {args.save_as}"
    raise StepFailed(f"no code received by {args.to}")


@OUTBOX.action(
    "drop", Text, "messages to this address are never delivered", value="the address",
    example='- outbox.drop: "{carole.email}"',
)  # fmt: skip
async def drop(stage: Stage, address: str) -> str:
    stage.world.state.outbox.faults.dropped.add(address)
    return f"messages to {address} are dropped"
