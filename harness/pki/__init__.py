"""The test PKI of a world: trustme for TLS servers, an IGC-Santé-shaped chain for cards.

pki = Pki()                       # keys cached under ~/.cache/cps-harness
pki.server.server_context(hosts.TESTSSL)
card = pki.cards.issue(Professional("899700209812", "D0000020981", "ALAIN", "Médecin"), now)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from harness.cache import default_cache_dir
from harness.pki.card import CardCredentials, CardPki, CertVariant, CertVariants, Issued, Professional
from harness.pki.keys import KeyStore
from harness.pki.server import ServerPki
from simulators.web import hosts as site_hosts

__all__ = [
    "CardCredentials",
    "CardPki",
    "CertVariant",
    "CertVariants",
    "Issued",
    "KeyStore",
    "Pki",
    "Professional",
    "ServerPki",
    "default_cache_dir",
]


class Pki:
    """Both halves, sharing one key cache."""

    def __init__(self, cache_dir: Path | None = None, hosts: Iterable[str] = site_hosts.TLS_SITES) -> None:
        self.keys = KeyStore(cache_dir)
        self.server = ServerPki(self.keys, hosts)
        self.cards = CardPki(self.keys)
