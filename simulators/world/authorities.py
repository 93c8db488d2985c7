"""What each certification authority of the world knows of its own certificates: issued, revoked.

Plain state, shared by the test PKI that issues the cards' certificates, the IGC-Santé
publication site (CRLs, OCSP) and every site that judges a card's certificate on the world clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa


@dataclass(frozen=True)
class Revocation:
    serial: int
    revoked_at: dt.datetime
    reason: x509.ReasonFlags = x509.ReasonFlags.key_compromise


@dataclass
class AuthorityState:
    """What a CA knows of its own certificates: which serials it issued, which it revoked."""

    certificate: x509.Certificate
    key: rsa.RSAPrivateKey
    issued: set[int] = field(default_factory=set)
    revoked: dict[int, Revocation] = field(default_factory=dict)

    def revocations_at(self, now: dt.datetime) -> list[Revocation]:
        """Revocations already in force at ``now`` (a revocation dated later is not yet known)."""
        return sorted((r for r in self.revoked.values() if r.revoked_at <= now), key=lambda r: r.serial)
