"""The read-only view observers get of a card: counters and the masked log, as the card itself holds them."""

from __future__ import annotations

import pytest

from harness.card.profile import load_profile, make_card
from harness.pki import Pki
from simulators.card.cpx import CpxCard
from simulators.card.view import CardView


@pytest.fixture
def card(session_pki: Pki) -> CpxCard:
    return make_card(load_profile("pharmacist"), session_pki)[0]


def verify(card: CpxCard, pin: str) -> int:
    answer = card.process(bytes([0, 0x20, 0, 1, len(pin)]) + pin.encode())
    return int.from_bytes(answer[-2:], "big")


def test_the_view_follows_the_pin_counter_down_to_blocked_and_the_puk_stays(card: CpxCard) -> None:
    view = CardView(card)
    assert (view.pin.tries_left, view.pin.max_tries, view.pin.blocked, view.pin.verified) == (3, 3, False, False)
    assert [verify(card, "0000") for _ in range(3)] == [0x63C2, 0x63C1, 0x6983]
    assert (view.pin.tries_left, view.pin.blocked) == (0, True)
    assert (view.puk.tries_left, view.puk.blocked) == (view.puk.max_tries, False)


def test_a_right_pin_shows_as_verified_until_the_card_is_reset(card: CpxCard) -> None:
    view = CardView(card)
    assert verify(card, "1234") == 0x9000 and view.pin.verified
    card.power_on()
    assert not view.pin.verified


def test_the_log_is_read_from_a_mark_and_never_shows_the_pin(card: CpxCard) -> None:
    view = CardView(card)
    card.process(bytes.fromhex("00A4000C023F00"))
    mark = view.apdu_count
    verify(card, "1234")
    assert view.apdu_count == mark + 1
    (line,) = view.lines(mark)
    assert "VERIFY ref 01 -> 9000" in line and "31 32 33 34" not in line and "** ** ** **" in line
    assert len(view.lines()) == mark + 1 and view.log(mark)[0].sw == 0x9000


def test_the_view_offers_nothing_that_writes() -> None:
    public = {name for name in dir(CardView) if not name.startswith("_")}
    assert public == {"apdu_count", "lines", "log", "pin", "puk"}
