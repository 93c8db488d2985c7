"""A read-only view of a card, for whoever observes it: scenario expectations, fixtures, status commands.

Observers need the codes' counters and what the card was asked; nothing here can change the card,
and nobody outside the card reaches into its security objects for them.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulators.card.cpx import CpxCard
from simulators.card.layout import PIN_REF, PUK_REF
from simulators.card.log import LogEntry


@dataclass(frozen=True)
class CodeState:
    """A code's counter as the card holds it."""

    tries_left: int
    max_tries: int
    verified: bool
    usages_left: int | None = None
    """The PUK's usage counter (None: the code has none)."""

    @property
    def blocked(self) -> bool:
        return self.tries_left == 0 or self.usages_left == 0


class CardView:
    """What may be read of ``card``: its PIN's and PUK's counters and its (PIN-masked) APDU log."""

    def __init__(self, card: CpxCard) -> None:
        self._card = card

    def _code(self, reference: int) -> CodeState:
        chv = self._card.security.chvs[reference]
        return CodeState(chv.tries_left, chv.max_tries, chv.verified, chv.usages_left)

    @property
    def pin(self) -> CodeState:
        """The code porteur."""
        return self._code(PIN_REF)

    @property
    def puk(self) -> CodeState:
        """The code de déblocage."""
        return self._code(PUK_REF)

    @property
    def apdu_count(self) -> int:
        return len(self._card.log)

    def log(self, since: int = 0) -> list[LogEntry]:
        """The exchanges from the ``since``-th on (codes already masked)."""
        return list(self._card.log)[since:]

    def lines(self, since: int = 0) -> list[str]:
        """The same exchanges as decoded lines (``C> 00 20 00 01 …  VERIFY ref 01 -> 63C2``)."""
        return [entry.line() for entry in self.log(since)]
