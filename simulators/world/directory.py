"""The professional directory (Annuaire santé / RPPS) as the national services see it.

What matters for the guide's paths is what the directory *holds*: the e-mail and mobile may be
absent or outdated, and an update made on the professional order's site reaches the directory
only later — 48 h for pharmacists, 72 h for doctors (the guide's figures). Nurses registered
with their order are listed since the bulk update of 2020-11-25.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from simulators import identifiers

PROPAGATION_DELAY: dict[str, dt.timedelta] = {
    "21": dt.timedelta(hours=48),  # pharmacists: e-pop.ordre.pharmacien.fr
    "10": dt.timedelta(hours=72),  # doctors: monespace.medecin.fr
}
DEFAULT_PROPAGATION = dt.timedelta(hours=72)
"""Other professions: the guide gives no figure; the doctors' delay is used."""
NURSES_LISTED_FROM = dt.datetime(2020, 11, 25, tzinfo=dt.UTC)

ORDERS = {"10": "CNOM", "21": "CNOP", "60": "ONI", "40": "ONCD", "50": "CNOSF", "70": "CNOMK", "80": "ONPP"}
"""The professional order keeping each profession's contacts (where there is one)."""


class DirectoryError(ValueError):
    """A record or an update the directory refuses (the message says why)."""


@dataclass(frozen=True)
class Contacts:
    email: str | None = None
    mobile: str | None = None


@dataclass(frozen=True)
class Activity:
    """A place of practice, as PSC's userinfo ``activities`` carry it."""

    mode: str
    """``L`` libéral, ``S`` salarié."""
    sector: str
    structure_id: str
    structure_name: str
    postcode: str = ""


@dataclass(frozen=True)
class PendingUpdate:
    contacts: Contacts
    requested_at: dt.datetime
    effective_at: dt.datetime


@dataclass
class Professional:
    civility: str
    first_name: str
    last_name: str
    profession: str
    """TRE_G15 code."""
    rpps: str | None = None
    adeli: str | None = None
    contacts: Contacts = field(default_factory=Contacts)
    listed_from: dt.datetime | None = None
    """Absent from the directory before this instant (nurses: the 2020-11-25 bulk update)."""
    pending: list[PendingUpdate] = field(default_factory=list)
    activities: list[Activity] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.profession not in identifiers.PROFESSIONS:
            raise DirectoryError(f"unknown profession code {self.profession!r} (TRE_G15)")
        try:
            identifiers.national_id(rpps=self.rpps, adeli=self.adeli)
        except ValueError as exc:
            raise DirectoryError(str(exc)) from exc
        if self.listed_from is None and self.profession == "60":
            self.listed_from = NURSES_LISTED_FROM

    @property
    def national_id(self) -> str:
        return identifiers.national_id(rpps=self.rpps, adeli=self.adeli)

    @property
    def profession_label(self) -> str:
        return identifiers.PROFESSIONS[self.profession]

    @property
    def order(self) -> str | None:
        return ORDERS.get(self.profession)

    def contacts_at(self, now: dt.datetime) -> Contacts:
        """The contacts the directory holds at ``now``: the latest update that has propagated."""
        contacts = self.contacts
        for update in sorted(self.pending, key=lambda u: u.effective_at):
            if update.effective_at <= now:
                contacts = update.contacts
        return contacts


class Directory:
    def __init__(self) -> None:
        self._by_id: dict[str, Professional] = {}

    def add(self, professional: Professional) -> Professional:
        self._by_id[professional.national_id] = professional
        return professional

    def __len__(self) -> int:
        return len(self._by_id)

    def all(self) -> list[Professional]:
        return list(self._by_id.values())

    def find(self, national_id: str, now: dt.datetime) -> Professional | None:
        """The record as the national services see it at ``now`` (None: not listed)."""
        found = self._by_id.get(national_id)
        if found is None or (found.listed_from is not None and now < found.listed_from):
            return None
        return found

    def order_update(self, national_id: str, contacts: Contacts, now: dt.datetime) -> PendingUpdate:
        """The professional updates contacts on the order's site; the directory follows later."""
        found = self._by_id.get(national_id)
        if found is None:
            raise DirectoryError(f"{national_id} is not registered with an order")
        if found.order is None:
            raise DirectoryError(f"profession {found.profession_label} has no order to update contacts")
        delay = PROPAGATION_DELAY.get(found.profession, DEFAULT_PROPAGATION)
        update = PendingUpdate(contacts, now, now + delay)
        found.pending.append(update)
        return update

    def snapshot(self, now: dt.datetime) -> list[dict[str, object]]:
        """For the admin API and the trainer: each record with the contacts held at ``now``."""
        rows = []
        for p in self._by_id.values():
            held = p.contacts_at(now)
            rows.append(
                {
                    "national_id": p.national_id,
                    "civility": p.civility,
                    "first_name": p.first_name,
                    "last_name": p.last_name,
                    "profession": p.profession,
                    "profession_label": p.profession_label,
                    "listed": p.listed_from is None or now >= p.listed_from,
                    "email": held.email,
                    "mobile": held.mobile,
                    "pending_updates": [
                        {
                            "email": u.contacts.email,
                            "mobile": u.contacts.mobile,
                            "effective_at": u.effective_at.isoformat(),
                        }
                        for u in p.pending
                        if u.effective_at > now
                    ],
                }
            )
        return rows
