"""One clock per world: every rule asks it the time; it follows real time or stands still, moved when told."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable

_DELTA = re.compile(r"^\s*\+?\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*min)?\s*(?:(\d+)\s*s)?\s*$")


def parse_delta(text: str) -> dt.timedelta:
    """``"+48h"``, ``"3d"``, ``"90s"``, ``"1h30min"`` → timedelta; ValueError otherwise."""
    match = _DELTA.match(text)
    if not match or not any(match.groups()):
        raise ValueError(f"{text!r}: expected a duration such as +48h, 3d, 90s or 1h30min")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    try:
        return dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        raise ValueError(f"{text!r}: a duration of at most {dt.timedelta.max.days} days") from None


class Clock:
    """The world's time, which every rule asks: token lifetimes, CIBA intervals, push and code expiry,
    the directory's propagation delays, certificate validity.

    A running clock follows real time from its start instant, as a served world must: relying
    parties judge ``iat``/``exp`` on their own wall clock. A frozen clock stands still between the
    moves it is told. ``advance`` shifts either by an offset, and a running clock keeps running
    from there. The default start is the real time, to the second; the default is frozen (a rule
    tested alone wants exact instants); a world runs its clock unless told not to.
    """

    def __init__(
        self, start: dt.datetime | None = None, *, running: bool = False, ticks: Callable[[], float] = time.monotonic
    ) -> None:
        start = start or dt.datetime.now(dt.UTC).replace(microsecond=0)
        if start.tzinfo is None:
            raise ValueError("the clock needs an aware datetime (UTC)")
        self._ticks = ticks
        self._base = start
        self._since = ticks()
        self.running = running

    def now(self) -> dt.datetime:
        if not self.running:
            return self._base
        return self._base + dt.timedelta(seconds=self._ticks() - self._since)

    __call__ = now

    def _restart_at(self, instant: dt.datetime) -> None:
        self._base, self._since = instant, self._ticks()

    def advance(self, delta: dt.timedelta | str) -> dt.datetime:
        step = parse_delta(delta) if isinstance(delta, str) else delta
        if step < dt.timedelta(0):
            raise ValueError("the clock only moves forward")
        try:
            self._restart_at(self.now() + step)
        except OverflowError:
            raise ValueError(f"the clock cannot move past {dt.datetime.max.year}-12-31") from None
        return self.now()

    def set(self, instant: dt.datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("the clock needs an aware datetime (UTC)")
        self._restart_at(instant)

    def freeze(self) -> None:
        """Stop where it stands (it moves again only with ``advance``, ``set`` or ``run``)."""
        self._restart_at(self.now())
        self.running = False

    def run(self) -> None:
        """Follow real time again from where it stands."""
        self._restart_at(self.now())
        self.running = True
