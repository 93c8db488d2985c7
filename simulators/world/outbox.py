"""E-mails and SMS the world sends, delivered to per-address mailboxes on the world clock.

Faults a scenario can switch: drop everything sent to an address (a mail operator blocking the
sender) or on a channel (the SMS gateway down, e-mail fine), or delay delivery, on every channel
or one (the code arrives after it expired).
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
from dataclasses import dataclass, field


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"


@dataclass(frozen=True)
class Message:
    id: int
    channel: Channel
    to: str
    subject: str
    body: str
    sent_at: dt.datetime
    deliver_at: dt.datetime | None
    """None: never delivered (dropped)."""

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "channel": self.channel.value,
            "to": self.to,
            "subject": self.subject,
            "body": self.body,
            "sent_at": self.sent_at.isoformat(),
        }


@dataclass
class OutboxFaults:
    dropped: set[str] = field(default_factory=set)
    """Addresses (e-mail or mobile) whose messages never arrive."""
    dropped_channels: set[Channel] = field(default_factory=set)
    """Channels whose messages never arrive (an SMS gateway down, e-mail fine)."""
    delay: dt.timedelta = dt.timedelta(0)
    """How late every message arrives, unless its channel has a delay of its own."""
    channel_delays: dict[Channel, dt.timedelta] = field(default_factory=dict)

    def lost(self, channel: Channel, to: str) -> bool:
        return to in self.dropped or channel in self.dropped_channels

    def delay_for(self, channel: Channel) -> dt.timedelta:
        return self.channel_delays.get(channel, self.delay)


class Outbox:
    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.faults = OutboxFaults()
        self._ids = itertools.count(1)

    def send(self, channel: Channel, to: str, subject: str, body: str, now: dt.datetime) -> Message:
        deliver_at = None if self.faults.lost(channel, to) else now + self.faults.delay_for(channel)
        message = Message(next(self._ids), channel, to, subject, body, now, deliver_at)
        self.sent.append(message)
        return message

    def mailbox(self, address: str, now: dt.datetime, channel: Channel | None = None) -> list[Message]:
        """What the holder of ``address`` has received by ``now`` (on ``channel``, or either), newest first."""
        return [
            m
            for m in reversed(self.sent)
            if m.to == address
            and (channel is None or m.channel is channel)
            and m.deliver_at is not None
            and m.deliver_at <= now
        ]

    def addresses(self) -> list[str]:
        return sorted({m.to for m in self.sent})
