"""The e-CPS registry and its push requests: what the e-CPS app and its backend know.

An e-CPS is bound to one national id and one device (a virtual phone); a professional may activate
it on several devices, each with its own password and its own count of wrong passwords. A relying
party (PSC) asks for a login: the backend sends one push to every device of the person that is not
locked, grouped under one ``PushRequest`` that PSC follows. A device sees its push pending, and
approves it with that device's e-CPS password, refuses it, or lets it expire (120 s). The first
answer settles the request and withdraws the other devices' pushes, so one login is never answered
twice. Wrong passwords are counted per device and lock that device's e-CPS at the limit.

What PSC does with several activated phones is not published: fanning the push out to all of
them and withdrawing the others on the first answer is this simulator's assumption.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from dataclasses import dataclass, field

PUSH_LIFETIME = dt.timedelta(seconds=120)
MAX_PASSWORD_TRIES = 3
"""Wrong e-CPS passwords before the e-CPS is locked (ANS does not publish the figure)."""
PASSWORD_DIGITS = 4


class EcpsError(ValueError):
    """A refusal with a reason code (``not-activated``, ``locked``, ``unknown-push``, ``push-expired``…)."""

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
    WITHDRAWN = "withdrawn"
    """Another device of the same person answered first: this push no longer asks anything."""


ANSWERS = frozenset({PushStatus.APPROVED, PushStatus.REFUSED, PushStatus.FAILED})
"""The statuses a device's answer gives a push: the first one settles its request."""
NOT_PENDING = {
    PushStatus.EXPIRED: "la demande de connexion a expiré",
    PushStatus.WITHDRAWN: "la demande de connexion a déjà été traitée sur un autre appareil",
}
"""Why a push cannot be answered any more, in the app's words (others: its status)."""


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
    """What one device is asked: a notification of the e-CPS app, answered on that device only."""

    id: str
    request: str
    """The ``PushRequest`` it belongs to (PSC follows the request, the phone answers its push)."""
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
            "request": self.request,
            "national_id": self.national_id,
            "device": self.device,
            "client": self.client,
            "binding_message": self.binding_message,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "status": self.status.value,
        }


@dataclass
class PushRequest:
    """One login asked of a person: the pushes sent to each of their devices, and its outcome."""

    id: str
    national_id: str
    pushes: list[Push] = field(default_factory=list)

    @property
    def status(self) -> PushStatus:
        """The first device's answer; ``expired`` once every push has; ``pending`` until then."""
        answered = next((p for p in self.pushes if p.status in ANSWERS), None)
        if answered is not None:
            return answered.status
        if all(p.status is PushStatus.EXPIRED for p in self.pushes):
            return PushStatus.EXPIRED
        return PushStatus.PENDING


def valid_password(password: str) -> bool:
    return len(password) == PASSWORD_DIGITS and password.isascii() and password.isdigit()


class EcpsRegistry:
    def __init__(self) -> None:
        self._by_id: dict[str, dict[str, Ecps]] = {}
        """national id → device → the e-CPS activated on it."""
        self._pushes: dict[str, Push] = {}
        self._requests: dict[str, PushRequest] = {}

    def activate(self, national_id: str, device: str, password: str, method: str, now: dt.datetime) -> Ecps:
        """Activate on ``device``; the person's other devices keep theirs (a login pushes to each)."""
        if not valid_password(password):
            raise EcpsError("bad-password", f"le code e-CPS comporte {PASSWORD_DIGITS} chiffres")
        ecps = Ecps(national_id, device, password, now, method)
        devices = self._by_id.setdefault(national_id, {})
        devices.pop(device, None)  # a new activation on a device replaces the old one (and its lock)
        devices[device] = ecps
        return ecps

    def find(self, national_id: str, device: str | None = None) -> Ecps | None:
        """The e-CPS on ``device``; without one, the one activated last."""
        devices = self._by_id.get(national_id, {})
        if device is not None:
            return devices.get(device)
        return list(devices.values())[-1] if devices else None

    def devices(self, national_id: str) -> list[Ecps]:
        """The person's e-CPS, one per device, in the order they were activated."""
        return list(self._by_id.get(national_id, {}).values())

    def all(self) -> list[Ecps]:
        return [ecps for devices in self._by_id.values() for ecps in devices.values()]

    def request_push(self, national_id: str, client: str, binding_message: str, now: dt.datetime) -> PushRequest:
        """A login for ``national_id``: one push to each of their devices whose e-CPS is not locked."""
        devices = self.devices(national_id)
        if not devices:
            raise EcpsError("not-activated", f"aucune e-CPS n'est activée pour l'identifiant {national_id}")
        usable = [ecps for ecps in devices if not ecps.locked]
        if not usable:
            raise EcpsError("locked", "votre e-CPS est bloquée : réactivez-la")
        request = PushRequest(secrets.token_urlsafe(12), national_id)
        for ecps in usable:
            push = Push(
                secrets.token_urlsafe(12), request.id, national_id, ecps.device, client, binding_message, now,
                now + PUSH_LIFETIME,
            )  # fmt: skip
            self._pushes[push.id] = push
            request.pushes.append(push)
        self._requests[request.id] = request
        return request

    def push_request(self, request_id: str, now: dt.datetime) -> PushRequest:
        """A login's request, its pushes' expiry brought up to ``now``."""
        request = self._requests.get(request_id)
        if request is None:
            raise EcpsError("unknown-push", f"demande {request_id!r} inconnue")
        for push in request.pushes:
            self.push(push.id, now)
        return request

    def push(self, push_id: str, now: dt.datetime) -> Push:
        push = self._pushes.get(push_id)
        if push is None:
            raise EcpsError("unknown-push", f"demande {push_id!r} inconnue")
        if push.status is PushStatus.PENDING and now >= push.expires_at:
            push.status = PushStatus.EXPIRED
        return push

    def on_device(self, device: str, now: dt.datetime) -> list[Push]:
        """Every push sent to ``device``, oldest first, whatever its status now."""
        return [self.push(p.id, now) for p in list(self._pushes.values()) if p.device == device]

    def pending(self, device: str, now: dt.datetime) -> list[Push]:
        return [p for p in self.on_device(device, now) if p.status is PushStatus.PENDING]

    def _answerable(self, push_id: str, now: dt.datetime) -> Push:
        push = self.push(push_id, now)
        if push.status is not PushStatus.PENDING:
            why = NOT_PENDING.get(push.status, f"la demande n'est plus en attente ({push.status.value})")
            raise EcpsError(f"push-{push.status.value}", why)
        return push

    def _answered(self, push: Push, status: PushStatus, now: dt.datetime) -> Push:
        """Record ``push``'s answer and withdraw its request's pushes on the person's other devices."""
        push.status, push.answered_at = status, now
        for other in self._requests[push.request].pushes:
            if other is not push and self.push(other.id, now).status is PushStatus.PENDING:
                other.status = PushStatus.WITHDRAWN
        return push

    def approve(self, push_id: str, password: str, now: dt.datetime) -> Push:
        """Approve with the device's e-CPS password; a wrong one counts, and locks at the limit."""
        push = self._answerable(push_id, now)
        ecps = self.find(push.national_id, push.device)
        if ecps is None:  # activations only replace one another: a push's e-CPS stays on its device
            raise EcpsError("not-activated", "aucune e-CPS n'est activée sur cet appareil")
        if ecps.locked:
            self._answered(push, PushStatus.FAILED, now)
            raise EcpsError("locked", "votre e-CPS est bloquée : réactivez-la")
        if password != ecps.password:
            ecps.wrong_tries += 1
            if ecps.locked:
                self._answered(push, PushStatus.FAILED, now)
                raise EcpsError("locked", "code e-CPS incorrect : votre e-CPS est bloquée")
            left = MAX_PASSWORD_TRIES - ecps.wrong_tries
            raise EcpsError("wrong-password", f"code e-CPS incorrect, il vous reste {left} essai(s)")
        ecps.wrong_tries = 0
        return self._answered(push, PushStatus.APPROVED, now)

    def refuse(self, push_id: str, now: dt.datetime) -> Push:
        push = self._answerable(push_id, now)
        return self._answered(push, PushStatus.REFUSED, now)
