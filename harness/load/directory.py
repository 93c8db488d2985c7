"""The load test's professionals: one directory record and one phone per simulated user, sans I/O.

Each Locust user is a distinct professional so that its phone sees only its own pushes; serials
never collide across Locust workers because each worker takes its own block of serials
(``serial_for``). Numbers are valid: RPPS of ANS's test range with their Luhn digit, and for one
user in four a nurse known by ADELI (national id ``0`` + ADELI, the guide's rule for nurses).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulators import identifiers

PASSWORD = "4321"
"""Every generated e-CPS's password (the phone types it to approve)."""
BLOCK = 100_000
"""Serials per Locust worker: worker ``w`` numbers its users ``w·BLOCK``, ``w·BLOCK + 1``…"""
MAX_WORKERS = 99
"""RPPS test serials have 7 digits: 99 blocks of 100,000 fit."""
PROFESSIONS = ("10", "21", "40", "50", "70")
"""Doctors, pharmacists, dentists, midwives, physiotherapists (RPPS); nurses (60) go by ADELI."""
ADELI_EVERY = 4


class DirectoryFull(ValueError):
    """More users in one worker, or more workers, than the serial space holds."""


def serial_for(worker_index: int, user_number: int) -> int:
    """The serial of a worker's ``user_number``-th user (0-based), unique across workers."""
    if not 0 <= worker_index < MAX_WORKERS:
        raise DirectoryFull(f"worker index {worker_index}: at most {MAX_WORKERS} Locust workers")
    if not 0 <= user_number < BLOCK:
        raise DirectoryFull(f"user {user_number}: at most {BLOCK:,} users per Locust worker")
    return worker_index * BLOCK + user_number


@dataclass(frozen=True)
class LoadProfessional:
    """One simulated professional: the admin API's directory record, and the phone holding the e-CPS."""

    serial: int
    record: dict[str, Any]
    national_id: str
    device: str

    def ecps(self) -> dict[str, str]:
        """The body of ``POST /admin/ecps``: the e-CPS activated on this professional's own phone."""
        return {"national_id": self.national_id, "password": PASSWORD, "device": self.device}


def professional(serial: int) -> LoadProfessional:
    """The professional numbered ``serial``: a nurse by ADELI for one serial in ``ADELI_EVERY``, else RPPS."""
    record: dict[str, Any] = {
        "civility": "MME" if serial % 2 else "M",
        "first_name": "CHARGE",
        "last_name": f"PRO{serial:07d}",
        "email": f"charge.{serial}@cabinet.test",
        "mobile": f"+336{serial % 10**8:08d}",
    }
    if serial % ADELI_EVERY == ADELI_EVERY - 1:
        adeli = f"75{serial:07d}"
        record |= {"profession": "60", "adeli": adeli}
        national_id = identifiers.national_id(adeli=adeli)
    else:
        rpps = identifiers.test_rpps(serial)
        record |= {"profession": PROFESSIONS[serial % len(PROFESSIONS)], "rpps": rpps}
        national_id = identifiers.national_id(rpps=rpps)
    return LoadProfessional(serial, record, national_id, f"telephone-charge-{serial}")
