"""What the load test's phones answer, sans I/O: the shares of refused and ignored pushes, spread
evenly rather than drawn at random, so that a short run holds them and a test can count on them."""

from __future__ import annotations

EPSILON = 1e-9
"""0.1 × 30 is 3.0000000000000004 in floating point, 0.3 × 10 is 2.9999999999999996: both count as 3."""


def _passed(count: int, share: float) -> int:
    """How many whole numbers ``count · share`` has reached."""
    return int(count * share + EPSILON)


def answer_for(index: int, refuse: float, ignore: float) -> str:
    """The phone's answer to login ``index`` (0, 1, 2…): refused each time ``index · refuse`` reaches
    a whole number; of the other logins, ignored in the same way at the rate that makes ``ignore``
    of all logins; else approved. Over any ``n`` logins from 0 the counts are ``n · refuse`` and
    ``n · ignore`` within a login, with no randomness."""
    if _passed(index + 1, refuse) > _passed(index, refuse):
        return "refused"
    others = index - _passed(index, refuse)  # logins before this one that were not refused
    rate = ignore / (1 - refuse)  # refuse < 1 here: at 1 every login is refused above
    return "ignored" if _passed(others + 1, rate) > _passed(others, rate) else "approved"
