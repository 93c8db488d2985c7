"""One clock per world: every rule asks it the time; it follows real time or stands still, moved when told."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable

_DELTA = re.compile(r"^\s*\+?\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*min)?\s*(?:(\d+)\s*s)?\s*$")

EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
"""The instants a world clock may be started, set or advanced to (both included).

Every rule computes other instants from the clock, and each must stay a date that X.509 and
Python's ``datetime`` can hold, or the world is stuck: every later request would fail on it. The
farthest reaches are a card's certificates (``expired``: 3 years and 30 days back; ``not yet
valid``: 30 days ahead, then 3 years), a CRL (a week ahead), tokens and pushes (hours), the
directory's propagation (72 h) and a delay (``MAX_DURATION``). X.509 has no date before 1950
(``cryptography`` refuses one) and Python none after 9999; 2000 keeps JWT timestamps positive and
every certificate date after 1950, and 2999 leaves 7,000 years for what is added to it. A running
clock may drift past ``LATEST`` by real time: that margin covers it too.
"""
MAX_DURATION = dt.timedelta(days=36_525)
"""The longest duration the world takes (one clock advance, a message delay): 100 years.

Longer is a typo (``+99999999999h``); and together with ``LATEST`` it keeps every instant the world
computes (``now`` + a delay) far inside what ``datetime`` holds.
"""


def parse_delta(text: str) -> dt.timedelta:
    """``"+48h"``, ``"3d"``, ``"90s"``, ``"1h30min"`` → timedelta, at most ``MAX_DURATION``; ValueError otherwise."""
    match = _DELTA.match(text)
    if not match or not any(match.groups()):
        raise ValueError(f"{text!r}: expected a duration such as +48h, 3d, 90s or 1h30min")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    too_long = f"{text!r}: a duration of at most {MAX_DURATION.days} days (100 years)"
    try:
        delta = dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        raise ValueError(too_long) from None
    if delta > MAX_DURATION:
        raise ValueError(too_long)
    return delta


def check_instant(instant: dt.datetime) -> dt.datetime:
    """``instant`` if a world clock may stand there (aware, within ``EARLIEST``..``LATEST``); ValueError otherwise."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("the clock needs an aware datetime (UTC)")
    if not EARLIEST <= instant <= LATEST:
        raise ValueError(
            f"{instant.isoformat()}: the world clock stays between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} "
            "(certificates, tokens and delays are computed from it)"
        )
    return instant


class Clock:
    """The world's time, which every rule asks: token lifetimes, CIBA intervals, push and code expiry,
    the directory's propagation delays, certificate validity.

    A running clock follows real time from its start instant, as a served world must: relying
    parties judge ``iat``/``exp`` on their own wall clock. A frozen clock stands still between the
    moves it is told. ``advance`` shifts either by an offset, and a running clock keeps running
    from there. The default start is the real time, to the second; the default is frozen (a rule
    tested alone wants exact instants); a world runs its clock unless told not to.

    It stands only within ``EARLIEST``..``LATEST`` and moves at most ``MAX_DURATION`` at a time:
    a start, a move or a set beyond is a ValueError and leaves it where it was.
    """

    def __init__(
        self, start: dt.datetime | None = None, *, running: bool = False, ticks: Callable[[], float] = time.monotonic
    ) -> None:
        start = check_instant(start or dt.datetime.now(dt.UTC).replace(microsecond=0))
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
        if step > MAX_DURATION:
            raise ValueError(f"{step.days} days: the clock moves at most {MAX_DURATION.days} days (100 years) at once")
        now = self.now()
        if now + step > LATEST:
            raise ValueError(
                f"the clock cannot move past {LATEST:%Y-%m-%d} (it stands at {now.isoformat()}): "
                "certificates, tokens and delays are computed from it"
            )
        self._restart_at(now + step)
        return self.now()

    def set(self, instant: dt.datetime) -> None:
        self._restart_at(check_instant(instant))

    def freeze(self) -> None:
        """Stop where it stands (it moves again only with ``advance``, ``set`` or ``run``)."""
        self._restart_at(self.now())
        self.running = False

    def run(self) -> None:
        """Follow real time again from where it stands."""
        self._restart_at(self.now())
        self.running = True
