"""One simulated clock per world: every rule asks it the time, scenarios move it forward."""

from __future__ import annotations

import datetime as dt
import re

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
    """Starts at a given instant (default: the real time) and moves only when told."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        start = start or dt.datetime.now(dt.UTC).replace(microsecond=0)
        if start.tzinfo is None:
            raise ValueError("the clock needs an aware datetime (UTC)")
        self._now = start

    def now(self) -> dt.datetime:
        return self._now

    __call__ = now

    def advance(self, delta: dt.timedelta | str) -> dt.datetime:
        step = parse_delta(delta) if isinstance(delta, str) else delta
        if step < dt.timedelta(0):
            raise ValueError("the clock only moves forward")
        try:
            self._now += step
        except OverflowError:
            raise ValueError(f"the clock cannot move past {dt.datetime.max.year}-12-31") from None
        return self._now

    def set(self, instant: dt.datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("the clock needs an aware datetime (UTC)")
        self._now = instant
