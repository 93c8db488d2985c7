"""Mail and SMS: the codes that reach the professional's mailbox, and messages that never arrive."""

from __future__ import annotations

import re

from pydantic import Field, model_validator

from harness.scenario.actions.registry import Actor
from harness.scenario.fields import SAVED_NAME, Duration, Strict, Text
from harness.scenario.stage import Stage
from simulators.world.clock import parse_delta
from simulators.world.outbox import Channel

MAILBOX = Actor("mailbox", "La messagerie")
OUTBOX = Actor("outbox", "La messagerie")
CODE = re.compile(r"\b(\d{6})\b")
"""A one-time code in a message: six digits standing alone."""


class MailboxCode(Strict):
    """``mailbox.code``: where the code arrives and the name it is saved under."""

    to: Text = Field(description="the e-mail address or mobile number")
    save_as: Text = Field(pattern=SAVED_NAME, description="later steps use the code as {save_as}")


@MAILBOX.action(
    "code", MailboxCode,
    "read the last 6-digit code sent to an address (none arrived: the step fails, unless its expect says "
    "no_message for that address)",
)  # fmt: skip
async def read_code(stage: Stage, args: MailboxCode) -> str:
    state = stage.world.state
    for message in state.outbox.mailbox(args.to, state.now()):
        if found := CODE.search(message.body):
            stage.saved[args.save_as] = found.group(1)
            return f"{message.channel.value} to {args.to}: code saved as {args.save_as}"
    stage.nothing_received = args.to  # a failure unless the step expects no message (expect.no_message)
    return f"no code received by {args.to}"


class OutboxRule(Strict):
    """Which messages a fault takes: those to an address, those on a channel, or both."""

    to: Text | None = Field(default=None, description="an e-mail address or mobile number (default: any)")
    channel: Channel | None = Field(default=None, description="sms or email (default: either)")

    @model_validator(mode="after")
    def something(self) -> OutboxRule:
        if self.to is None and self.channel is None:
            raise ValueError("name an address (to), a channel (sms or email), or both")
        if self.to is not None and self.channel is not None:
            raise ValueError("an address or a channel, not both: an address is already of one channel")
        return self


class OutboxDelay(Strict):
    """``outbox.delay``: how late messages arrive, on one channel or on every one."""

    by: Duration = Field(description="how late: 90s, 20min, 1h")
    channel: Channel | None = Field(default=None, description="sms or email (default: every message)")


@OUTBOX.action(
    "drop", Text | OutboxRule,
    "messages never arrive: those to an address (the address as the value), or on a channel ({channel: sms})",
    value="an address, or {to | channel}",
    example="- outbox.drop: {channel: sms}",
)  # fmt: skip
async def drop(stage: Stage, rule: str | OutboxRule) -> str:
    faults = stage.world.state.outbox.faults
    if isinstance(rule, str) or rule.to is not None:
        address = rule if isinstance(rule, str) else str(rule.to)
        faults.dropped.add(address)
        return f"messages to {address} are dropped"
    assert rule.channel is not None
    faults.dropped_channels.add(rule.channel)
    return f"every {rule.channel.value} is dropped"


@OUTBOX.action(
    "delay", OutboxDelay, "messages arrive late (a code may expire before it arrives)",
    example="- outbox.delay: {by: 20min, channel: sms}",
)  # fmt: skip
async def delay(stage: Stage, args: OutboxDelay) -> str:
    faults = stage.world.state.outbox.faults
    late = parse_delta(args.by)
    if args.channel is None:
        faults.delay = late
        return f"every message arrives {args.by} late"
    faults.channel_delays[args.channel] = late
    return f"every {args.channel.value} arrives {args.by} late"
