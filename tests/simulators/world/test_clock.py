"""The world clock (``simulators/world/clock.py``): duration parsing, moving forward, aware instants.

Scenarios write durations as text (``+48h``, ``3d``, ``90s``, ``1h30min``); anything else must be
refused with a ``ValueError`` that names the accepted forms, never with a low-level exception.
The clock never reads the real time after it starts: it moves only when told, and only forward.
"""

from __future__ import annotations

import datetime as dt

import pytest

from simulators.world.clock import EARLIEST, LATEST, MAX_DURATION, Clock, parse_delta

START = dt.datetime(2024, 3, 1, 8, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+48h", dt.timedelta(hours=48)),
        ("48h", dt.timedelta(hours=48)),
        ("3d", dt.timedelta(days=3)),
        ("90s", dt.timedelta(seconds=90)),
        ("1h30min", dt.timedelta(hours=1, minutes=30)),
        ("45min", dt.timedelta(minutes=45)),
        ("2d3h4min5s", dt.timedelta(days=2, hours=3, minutes=4, seconds=5)),
        ("0s", dt.timedelta(0)),
    ],
)
def test_parse_delta_reads_each_accepted_form(text: str, expected: dt.timedelta) -> None:
    assert parse_delta(text) == expected


def test_parse_delta_tolerates_spaces_around_and_between_units() -> None:
    assert parse_delta("  + 1h 30min  ") == dt.timedelta(hours=1, minutes=30)


def test_parse_delta_does_not_wrap_large_units_into_smaller_ones() -> None:
    """``90min`` is 90 minutes and ``72h`` is three days: no unit caps at 60 or 24."""
    assert parse_delta("90min") == dt.timedelta(hours=1, minutes=30)
    assert parse_delta("72h") == dt.timedelta(days=3)


@pytest.mark.parametrize(
    "text",
    ["", "   ", "+", "abc", "-48h", "1.5h", "2m", "48H", "1d1d", "30min1h", "h", "48 hours", "1w"],
)
def test_parse_delta_refuses_anything_else_with_a_message_naming_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected a duration such as \+48h"):
        parse_delta(text)


def test_parse_delta_error_quotes_the_offending_text() -> None:
    with pytest.raises(ValueError, match="'soon'"):
        parse_delta("soon")


@pytest.mark.parametrize("text", ["+99999999999h", "+999999999999999999999d", "99999999999999s"])
def test_parse_delta_refuses_absurd_magnitudes_with_a_value_error(text: str) -> None:
    """Beyond what a timedelta can hold, the scenario author must get a ValueError, not an OverflowError."""
    with pytest.raises(ValueError):
        parse_delta(text)


def test_default_clock_starts_at_the_real_time_in_utc_to_the_second() -> None:
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    now = Clock().now()
    after = dt.datetime.now(dt.UTC)
    assert now.utcoffset() == dt.timedelta(0)
    assert now.microsecond == 0
    assert before <= now <= after


def test_clock_starts_at_the_given_instant() -> None:
    assert Clock(START).now() == START


def test_clock_refuses_a_naive_start() -> None:
    with pytest.raises(ValueError, match="aware"):
        Clock(dt.datetime(2024, 3, 1, 8, 0))


def test_clock_does_not_move_by_itself() -> None:
    clock = Clock(START)
    clock.now()
    assert clock.now() == START


def test_calling_the_clock_gives_the_same_instant_as_now() -> None:
    clock = Clock(START)
    clock.advance("90s")
    assert clock() == clock.now() == START + dt.timedelta(seconds=90)


def test_advance_by_text_moves_the_clock_and_returns_the_new_instant() -> None:
    clock = Clock(START)
    returned = clock.advance("+48h")
    assert returned == START + dt.timedelta(days=2)
    assert clock.now() == returned


def test_advance_by_timedelta_moves_the_clock() -> None:
    clock = Clock(START)
    clock.advance(dt.timedelta(seconds=121))
    assert clock.now() == dt.datetime(2024, 3, 1, 8, 2, 1, tzinfo=dt.UTC)


def test_successive_advances_add_up() -> None:
    clock = Clock(START)
    clock.advance("1d")
    clock.advance("1h30min")
    clock.advance(dt.timedelta(seconds=30))
    assert clock.now() == START + dt.timedelta(days=1, hours=1, minutes=30, seconds=30)


def test_advance_by_zero_leaves_the_clock_where_it_was() -> None:
    clock = Clock(START)
    clock.advance(dt.timedelta(0))
    assert clock.now() == START


def test_advance_refuses_to_move_backwards() -> None:
    clock = Clock(START)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(dt.timedelta(seconds=-1))
    assert clock.now() == START


def test_advance_refuses_a_malformed_duration_and_stays_put() -> None:
    clock = Clock(START)
    with pytest.raises(ValueError):
        clock.advance("two days")
    assert clock.now() == START


def test_advance_beyond_the_calendar_is_refused_with_a_value_error_and_stays_put() -> None:
    """``+9999999d`` parses (a timedelta holds it) but lands after year 9999: a clear refusal, not OverflowError."""
    clock = Clock(START)
    with pytest.raises(ValueError):
        clock.advance("+9999999d")
    assert clock.now() == START


def test_now_stays_timezone_aware_after_advancing() -> None:
    clock = Clock(START)
    clock.advance("3d")
    assert clock.now().tzinfo is not None
    assert clock.now().utcoffset() == dt.timedelta(0)


def test_set_puts_the_clock_at_an_aware_instant() -> None:
    clock = Clock(START)
    later = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    clock.set(later)
    assert clock.now() == later


def test_set_refuses_a_naive_instant_and_keeps_the_time() -> None:
    clock = Clock(START)
    with pytest.raises(ValueError, match="aware"):
        clock.set(dt.datetime(2025, 1, 1))
    assert clock.now() == START


# -- bounds: the world can never be put where later requests fail (issue 19) ----------------------------
def test_set_refuses_an_instant_whose_later_arithmetic_would_overflow_and_keeps_the_time() -> None:
    """``set 9999-12-31`` used to be accepted: every later advance, and every request adding a
    lifetime to the time, then raised OverflowError (a 500 on every site)."""
    clock = Clock(START)
    with pytest.raises(ValueError, match="stays between 2000-01-01 and 2999-12-31"):
        clock.set(dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC))
    assert clock.now() == START
    assert clock.advance("+1h") == START + dt.timedelta(hours=1)


@pytest.mark.parametrize(
    "instant",
    [
        dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
        dt.datetime(1, 1, 1, tzinfo=dt.UTC),
        LATEST + dt.timedelta(seconds=1),
        dt.datetime(2999, 12, 31, 23, 0, tzinfo=dt.timezone(dt.timedelta(hours=-2))),  # 3000-01-01 in UTC
    ],
)
def test_set_and_start_refuse_instants_outside_the_bounds(instant: dt.datetime) -> None:
    clock = Clock(START)
    with pytest.raises(ValueError, match="stays between"):
        clock.set(instant)
    assert clock.now() == START
    with pytest.raises(ValueError, match="stays between"):
        Clock(instant)


def test_the_bounds_themselves_are_accepted() -> None:
    clock = Clock(EARLIEST)
    assert clock.now() == EARLIEST
    clock.set(LATEST)
    assert clock.now() == LATEST


def test_advance_stops_at_the_latest_instant_with_a_message_and_stays_put() -> None:
    clock = Clock(LATEST - dt.timedelta(hours=1))
    assert clock.advance("1h") == LATEST
    with pytest.raises(ValueError, match="cannot move past 2999-12-31"):
        clock.advance("1s")
    assert clock.now() == LATEST


def test_advance_refuses_more_than_a_hundred_years_at_once_by_text_or_timedelta() -> None:
    clock = Clock(START)
    assert clock.advance(f"{MAX_DURATION.days}d") == START + MAX_DURATION
    with pytest.raises(ValueError, match="at most 36525 days"):
        clock.advance(MAX_DURATION + dt.timedelta(seconds=1))
    with pytest.raises(ValueError, match="at most 36525 days"):
        clock.advance("36526d")
    assert clock.now() == START + MAX_DURATION


@pytest.mark.parametrize("text", ["36526d", "876625h", "999999999d", "+99999999999h"])
def test_parse_delta_refuses_more_than_a_hundred_years(text: str) -> None:
    """What ``outbox.delay``, ``POST /admin/faults`` and ``clock.advance`` take: a duration the world
    can add to any instant it may stand at."""
    with pytest.raises(ValueError, match=r"at most 36525 days \(100 years\)"):
        parse_delta(text)
