"""The e-CPS registry and its push requests: what the e-CPS app and its backend know.

An e-CPS is bound to one national id and one device (the virtual phone). A relying party (PSC)
asks for a push; the phone sees it pending, and approves it with the e-CPS password, refuses
it, or lets it expire (120 s). Wrong passwords are counted and lock the e-CPS at the limit.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from dataclasses import dataclass

PUSH_LIFETIME = dt.timedelta(seconds=120)
MAX_PASSWORD_TRIES = 3
"""Wrong e-CPS passwords before the e-CPS is locked (ANS does not publish the figure)."""
PASSWORD_DIGITS = 4


class EcpsError(ValueError):
    """A refusal with a reason code (``not-activated``, ``locked``, ``unknown-push``…)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class PushStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"
    EXPIRED = "expired"
    FAILED = "failed"
    """Too many wrong passwords: the e-CPS was locked while answering."""


@dataclass
class Ecps:
    national_id: str
    device: str
    password: str
    activated_at: dt.datetime
    method: str
    """``sans carte`` (codes by e-mail and SMS) or ``carte`` (CPS card)."""
    wrong_tries: int = 0

    @property
    def locked(self) -> bool:
        return self.wrong_tries >= MAX_PASSWORD_TRIES


@dataclass
class Push:
    id: str
    national_id: str
    device: str
    client: str
    binding_message: str
    created_at: dt.datetime
    expires_at: dt.datetime
    status: PushStatus = PushStatus.PENDING
    answered_at: dt.datetime | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "national_id": self.national_id,
            "client": self.client,
            "binding_message": self.binding_message,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "status": self.status.value,
        }


def valid_password(password: str) -> bool:
    return len(password) == PASSWORD_DIGITS and password.isascii() and password.isdigit()


class EcpsRegistry:
    def __init__(self) -> None:
        self._by_id: dict[str, Ecps] = {}
        self._pushes: dict[str, Push] = {}

    def activate(self, national_id: str, device: str, password: str, method: str, now: dt.datetime) -> Ecps:
        if not valid_password(password):
            raise EcpsError("bad-password", f"le code e-CPS comporte {PASSWORD_DIGITS} chiffres")
        ecps = Ecps(national_id, device, password, now, method)
        self._by_id[national_id] = ecps  # a new activation replaces the old one (and its lock)
        return ecps

    def find(self, national_id: str) -> Ecps | None:
        return self._by_id.get(national_id)

    def all(self) -> list[Ecps]:
        return list(self._by_id.values())

    def request_push(self, national_id: str, client: str, binding_message: str, now: dt.datetime) -> Push:
        ecps = self._by_id.get(national_id)
        if ecps is None:
            raise EcpsError("not-activated", f"aucune e-CPS n'est activée pour l'identifiant {national_id}")
        if ecps.locked:
            raise EcpsError("locked", "votre e-CPS est bloquée : réactivez-la")
        push = Push(
            secrets.token_urlsafe(12), national_id, ecps.device, client, binding_message, now, now + PUSH_LIFETIME
        )
        self._pushes[push.id] = push
        return push

    def push(self, push_id: str, now: dt.datetime) -> Push:
        push = self._pushes.get(push_id)
        if push is None:
            raise EcpsError("unknown-push", f"demande {push_id!r} inconnue")
        if push.status is PushStatus.PENDING and now >= push.expires_at:
            push.status = PushStatus.EXPIRED
        return push

    def pending(self, device: str, now: dt.datetime) -> list[Push]:
        return [
            p
            for p in list(self._pushes.values())
            if p.device == device and self.push(p.id, now).status is PushStatus.PENDING
        ]

    def _answerable(self, push_id: str, now: dt.datetime) -> Push:
        push = self.push(push_id, now)
        if push.status is not PushStatus.PENDING:
            raise EcpsError(f"push-{push.status.value}", f"la demande n'est plus en attente ({push.status.value})")
        return push

    def approve(self, push_id: str, password: str, now: dt.datetime) -> Push:
        """Approve with the e-CPS password; a wrong one counts, and locks at the limit."""
        push = self._answerable(push_id, now)
        ecps = self._by_id[push.national_id]
        if ecps.locked:
            push.status, push.answered_at = PushStatus.FAILED, now
            raise EcpsError("locked", "votre e-CPS est bloquée : réactivez-la")
        if password != ecps.password:
            ecps.wrong_tries += 1
            if ecps.locked:
                push.status, push.answered_at = PushStatus.FAILED, now
                raise EcpsError("locked", "code e-CPS incorrect : votre e-CPS est bloquée")
            left = MAX_PASSWORD_TRIES - ecps.wrong_tries
            raise EcpsError("wrong-password", f"code e-CPS incorrect, il vous reste {left} essai(s)")
        ecps.wrong_tries = 0
        push.status, push.answered_at = PushStatus.APPROVED, now
        return push

    def refuse(self, push_id: str, now: dt.datetime) -> Push:
        push = self._answerable(push_id, now)
        push.status, push.answered_at = PushStatus.REFUSED, now
        return push
