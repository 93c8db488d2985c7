"""E-mails and SMS the world sends, delivered to per-address mailboxes on the world clock.

Faults a scenario can switch: drop everything sent to an address (a mail operator blocking the
sender), or delay delivery (the code arrives after it expired).
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
    delay: dt.timedelta = dt.timedelta(0)


class Outbox:
    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.faults = OutboxFaults()
        self._ids = itertools.count(1)

    def send(self, channel: Channel, to: str, subject: str, body: str, now: dt.datetime) -> Message:
        deliver_at = None if to in self.faults.dropped else now + self.faults.delay
        message = Message(next(self._ids), channel, to, subject, body, now, deliver_at)
        self.sent.append(message)
        return message

    def mailbox(self, address: str, now: dt.datetime) -> list[Message]:
        """What the holder of ``address`` has received by ``now``, newest first."""
        return [m for m in reversed(self.sent) if m.to == address and m.deliver_at is not None and m.deliver_at <= now]

    def addresses(self) -> list[str]:
        return sorted({m.to for m in self.sent})
