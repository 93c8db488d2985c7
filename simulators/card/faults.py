"""Faults a scenario or trainer can switch on, at load time (profile) or at run time.

Faults that change bytes (a forced status word, a signature with the wrong key) act inside
the sans-IO card; faults of time and presence (mute, slow, removal) act in the transport,
which alone owns the clock and the socket.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

REAL_CARD_APDU_DELAY = 0.012
"""Seconds a real CPS3 takes for a plain APDU at the reader's usual speed (order of magnitude)."""
REAL_CARD_RSA_DELAY = 0.35
"""Seconds for an RSA-2048 private-key operation on a real card (order of magnitude)."""
RSA_INS = frozenset({0x88, 0x2A})
MAX_DELAY = 61.0
"""Seconds a fault may add to one answer: a profile's 60,000 ms at most plus a real card's own
timing. Slower is not a slow card but a hung one, which ``mute`` is for."""
MAX_APDUS = 1_000_000
"""The farthest ``remove_after_apdus`` may count: a whole OpenSC session is a few hundred APDUs and
the card fuzzer's longest campaign a million; beyond, the number is a typo that would never fire."""


@dataclass
class Faults:
    forced_sw: dict[int, int] = field(default_factory=dict)
    """INS -> status word answered instead of executing (G6-02: an error on INTERNAL AUTHENTICATE)."""
    wrong_key_signature: bool = False
    """Sign with a key that is not the certificate's: the signature verifies against nothing."""
    mute: bool = False
    """The card takes the command and never answers; the transport's watchdog removes it."""
    apdu_delay: float = 0.0
    """Seconds added to every answer."""
    rsa_delay: float = 0.0
    """Seconds added to INTERNAL AUTHENTICATE and PSO."""
    remove_on_ins: int | None = None
    """Pull the card out when this INS arrives, before answering (removal mid-transaction)."""
    remove_after_apdus: int | None = None
    """Pull the card out after this many APDUs."""

    def replace_with(self, other: Faults) -> None:
        """Switch to ``other``'s settings in place: the card and its transport share this object."""
        for item in fields(self):
            setattr(self, item.name, getattr(other, item.name))

    def check(self) -> None:
        """ValueError unless every setting is one the card and its transport can act on (the control
        API refuses such faults with 400 instead of switching them on)."""
        for name in ("apdu_delay", "rsa_delay"):
            if not 0 <= getattr(self, name) <= MAX_DELAY:
                raise ValueError(f"{name}: {getattr(self, name)} s, not within 0-{MAX_DELAY:g} s")
        if self.remove_after_apdus is not None and not 0 <= self.remove_after_apdus <= MAX_APDUS:
            raise ValueError(f"remove_after_apdus: {self.remove_after_apdus}, not within 0-{MAX_APDUS:,}")

    def real_card_timing(self) -> None:
        """The trainer's preset: answers as slow as a real card's."""
        self.apdu_delay = REAL_CARD_APDU_DELAY
        self.rsa_delay = REAL_CARD_RSA_DELAY

    def delay_for(self, ins: int) -> float:
        return self.apdu_delay + (self.rsa_delay if ins in RSA_INS else 0.0)
