"""The e-CPS registry and its pushes (``simulators/world/ecps.py``), driven on the world clock.

An e-CPS is activated for one national id and one phone with a 4-digit password. A relying party
asks for a push; the phone sees it pending for 120 s (CIBA's ``expires_in``), then approves it with
the password, refuses it, or lets it expire. Wrong passwords count, and the third locks the e-CPS
until it is activated again. Refusals carry a reason code.

A professional may activate the e-CPS on several phones: a login pushes to each phone not locked,
the first answer settles the login and withdraws the other phones' push.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from simulators.world.clock import Clock
from simulators.world.ecps import EcpsError, EcpsRegistry, Push, PushRequest, PushStatus

T0 = dt.datetime(2024, 3, 1, 8, 0, tzinfo=dt.UTC)
IDNAT = "899700209812"
OTHER = "899700366240"
PHONE = "phone-alain"
PASSWORD = "4821"
WRONG = "0000"


def activated(clock: Clock | None = None) -> EcpsRegistry:
    registry = EcpsRegistry()
    registry.activate(IDNAT, PHONE, PASSWORD, "sans carte", (clock or Clock(T0)).now())
    return registry


def ask(registry: EcpsRegistry, now: dt.datetime = T0) -> Push:
    """A login of IDNAT, who has one phone: the push it got."""
    [push] = registry.request_push(IDNAT, "sidep", "00", now).pushes
    return push


def refusal(call: Callable[[], object]) -> str:
    """The reason code of the EcpsError the call raises."""
    with pytest.raises(EcpsError) as raised:
        call()
    return raised.value.code


# --- activation ---------------------------------------------------------------------------------


def test_activation_records_id_device_method_and_time() -> None:
    registry = EcpsRegistry()
    ecps = registry.activate(IDNAT, PHONE, PASSWORD, "carte", T0)
    assert registry.find(IDNAT) is ecps
    assert (ecps.national_id, ecps.device, ecps.method, ecps.activated_at) == (IDNAT, PHONE, "carte", T0)


def test_fresh_activation_is_not_locked() -> None:
    ecps = EcpsRegistry().activate(IDNAT, PHONE, PASSWORD, "sans carte", T0)
    assert (ecps.wrong_tries, ecps.locked) == (0, False)


def test_find_without_activation_returns_none() -> None:
    assert activated().find(OTHER) is None


def test_all_lists_every_activated_ecps() -> None:
    registry = activated()
    registry.activate(OTHER, "phone-kit", "1234", "carte", T0)
    assert {e.national_id for e in registry.all()} == {IDNAT, OTHER}


@pytest.mark.parametrize("password", ["123", "12345", "12a4", "", "    ", "²²²²", "١٢٣٤"])
def test_activation_refuses_a_password_that_is_not_four_ascii_digits(password: str) -> None:
    registry = EcpsRegistry()
    assert refusal(lambda: registry.activate(IDNAT, PHONE, password, "sans carte", T0)) == "bad-password"
    assert registry.find(IDNAT) is None


def test_new_activation_replaces_the_old_password() -> None:
    registry = activated()
    registry.activate(IDNAT, PHONE, "9999", "sans carte", T0)
    assert refusal(lambda: registry.approve(ask(registry).id, PASSWORD, T0)) == "wrong-password"


def test_new_activation_lifts_the_lock() -> None:
    registry = activated()
    push = ask(registry)
    for _ in range(3):
        with pytest.raises(EcpsError):
            registry.approve(push.id, WRONG, T0)
    registry.activate(IDNAT, PHONE, PASSWORD, "carte", T0)
    assert ask(registry).status is PushStatus.PENDING


# --- requesting pushes --------------------------------------------------------------------------


def test_push_for_an_id_without_ecps_is_refused_as_not_activated() -> None:
    registry = activated()
    assert refusal(lambda: registry.request_push(OTHER, "sidep", "00", T0)) == "not-activated"


def test_new_push_is_pending_and_expires_120_seconds_later() -> None:
    push = ask(activated())
    assert (push.status, push.created_at, push.expires_at) == (
        PushStatus.PENDING,
        T0,
        T0 + dt.timedelta(minutes=2),
    )


def test_push_goes_to_the_activated_device_with_client_and_binding_message() -> None:
    [push] = activated().request_push(IDNAT, "sidep", "42", T0).pushes
    assert (push.device, push.client, push.binding_message, push.national_id) == (PHONE, "sidep", "42", IDNAT)


def test_each_push_has_its_own_id() -> None:
    registry = activated()
    assert ask(registry).id != ask(registry).id


def test_unknown_push_id_is_refused() -> None:
    registry = activated()
    assert refusal(lambda: registry.push("nope", T0)) == "unknown-push"


# --- pending on the phone -----------------------------------------------------------------------


def test_phone_sees_the_push_pending() -> None:
    registry = activated()
    push = ask(registry)
    assert registry.pending(PHONE, T0) == [push]


def test_another_phone_sees_nothing() -> None:
    registry = activated()
    ask(registry)
    assert registry.pending("phone-someone-else", T0) == []


def test_push_is_still_pending_just_before_120_seconds() -> None:
    clock = Clock(T0)
    registry = activated(clock)
    push = ask(registry, clock.now())
    clock.advance("119s")
    assert registry.pending(PHONE, clock.now()) == [push]


def test_push_expires_after_120_seconds() -> None:
    clock = Clock(T0)
    registry = activated(clock)
    push = ask(registry, clock.now())
    clock.advance("120s")
    assert registry.push(push.id, clock.now()).status is PushStatus.EXPIRED


def test_expired_push_leaves_the_pending_list() -> None:
    clock = Clock(T0)
    registry = activated(clock)
    ask(registry, clock.now())
    clock.advance("2min")
    assert registry.pending(PHONE, clock.now()) == []


def test_answered_push_leaves_the_pending_list() -> None:
    registry = activated()
    push = ask(registry)
    registry.refuse(push.id, T0)
    assert registry.pending(PHONE, T0) == []


# --- approving ----------------------------------------------------------------------------------


def test_approve_with_the_right_password_approves_the_push() -> None:
    clock = Clock(T0)
    registry = activated(clock)
    push = ask(registry, clock.now())
    clock.advance("30s")
    approved = registry.approve(push.id, PASSWORD, clock.now())
    assert (approved.status, approved.answered_at) == (PushStatus.APPROVED, T0 + dt.timedelta(seconds=30))


def test_approve_with_a_wrong_password_is_refused_with_tries_left() -> None:
    registry = activated()
    push = ask(registry)
    with pytest.raises(EcpsError, match="2 essai") as raised:
        registry.approve(push.id, WRONG, T0)
    assert raised.value.code == "wrong-password"


def test_wrong_password_leaves_the_push_pending_for_another_try() -> None:
    registry = activated()
    push = ask(registry)
    with pytest.raises(EcpsError):
        registry.approve(push.id, WRONG, T0)
    assert registry.approve(push.id, PASSWORD, T0).status is PushStatus.APPROVED


def test_wrong_passwords_are_counted() -> None:
    registry = activated()
    push = ask(registry)
    for _ in range(2):
        with pytest.raises(EcpsError):
            registry.approve(push.id, WRONG, T0)
    ecps = registry.find(IDNAT)
    assert ecps is not None
    assert (ecps.wrong_tries, ecps.locked) == (2, False)


def test_right_password_resets_the_wrong_tries() -> None:
    registry = activated()
    first = ask(registry)
    for _ in range(2):
        with pytest.raises(EcpsError):
            registry.approve(first.id, WRONG, T0)
    registry.approve(first.id, PASSWORD, T0)
    second = ask(registry)
    for _ in range(2):
        with pytest.raises(EcpsError):
            registry.approve(second.id, WRONG, T0)
    assert registry.approve(second.id, PASSWORD, T0).status is PushStatus.APPROVED


def test_third_wrong_password_locks_the_ecps() -> None:
    registry = activated()
    push = ask(registry)
    codes = [refusal(lambda: registry.approve(push.id, WRONG, T0)) for _ in range(3)]
    ecps = registry.find(IDNAT)
    assert ecps is not None
    assert codes == ["wrong-password", "wrong-password", "locked"]
    assert ecps.locked


def test_third_wrong_password_fails_the_push() -> None:
    registry = activated()
    push = ask(registry)
    for _ in range(3):
        with pytest.raises(EcpsError):
            registry.approve(push.id, WRONG, T0)
    assert (push.status, push.answered_at) == (PushStatus.FAILED, T0)


def test_wrong_tries_add_up_across_pushes() -> None:
    registry = activated()
    codes = [refusal(lambda: registry.approve(ask(registry).id, WRONG, T0)) for _ in range(3)]
    assert codes[-1] == "locked"


def test_locked_ecps_cannot_receive_a_new_push() -> None:
    registry = activated()
    push = ask(registry)
    for _ in range(3):
        with pytest.raises(EcpsError):
            registry.approve(push.id, WRONG, T0)
    assert refusal(lambda: ask(registry)) == "locked"


def test_locked_ecps_refuses_even_the_right_password_on_an_older_push() -> None:
    registry = activated()
    older = ask(registry)
    locking = ask(registry)
    for _ in range(3):
        with pytest.raises(EcpsError):
            registry.approve(locking.id, WRONG, T0)
    assert refusal(lambda: registry.approve(older.id, PASSWORD, T0)) == "locked"
    assert older.status is PushStatus.FAILED


def test_approve_after_expiry_is_refused_as_expired() -> None:
    clock = Clock(T0)
    registry = activated(clock)
    push = ask(registry, clock.now())
    clock.advance("120s")
    assert refusal(lambda: registry.approve(push.id, PASSWORD, clock.now())) == "push-expired"


def test_wrong_password_on_an_expired_push_does_not_count() -> None:
    clock = Clock(T0)
    registry = activated(clock)
    push = ask(registry, clock.now())
    clock.advance("121s")
    with pytest.raises(EcpsError):
        registry.approve(push.id, WRONG, clock.now())
    ecps = registry.find(IDNAT)
    assert ecps is not None
    assert ecps.wrong_tries == 0


def test_approved_push_cannot_be_approved_again() -> None:
    registry = activated()
    push = ask(registry)
    registry.approve(push.id, PASSWORD, T0)
    assert refusal(lambda: registry.approve(push.id, PASSWORD, T0)) == "push-approved"


def test_approved_push_stays_approved_after_its_lifetime() -> None:
    clock = Clock(T0)
    registry = activated(clock)
    push = ask(registry, clock.now())
    registry.approve(push.id, PASSWORD, clock.now())
    clock.advance("1h")
    assert registry.push(push.id, clock.now()).status is PushStatus.APPROVED


# --- refusing -----------------------------------------------------------------------------------


def test_refuse_marks_the_push_refused() -> None:
    registry = activated()
    push = ask(registry)
    refused = registry.refuse(push.id, T0 + dt.timedelta(seconds=5))
    assert (refused.status, refused.answered_at) == (PushStatus.REFUSED, T0 + dt.timedelta(seconds=5))


def test_refused_push_cannot_then_be_approved() -> None:
    registry = activated()
    push = ask(registry)
    registry.refuse(push.id, T0)
    assert refusal(lambda: registry.approve(push.id, PASSWORD, T0)) == "push-refused"


def test_expired_push_cannot_be_refused() -> None:
    clock = Clock(T0)
    registry = activated(clock)
    push = ask(registry, clock.now())
    clock.advance("3min")
    assert refusal(lambda: registry.refuse(push.id, clock.now())) == "push-expired"


def test_refusing_does_not_count_as_a_wrong_password() -> None:
    registry = activated()
    registry.refuse(ask(registry).id, T0)
    ecps = registry.find(IDNAT)
    assert ecps is not None
    assert ecps.wrong_tries == 0


# --- several phones -----------------------------------------------------------------------------
SECOND = "phone-alain-2"
SECOND_PASSWORD = "7531"


def two_phones(clock: Clock | None = None) -> EcpsRegistry:
    registry = activated(clock)
    registry.activate(IDNAT, SECOND, SECOND_PASSWORD, "sans carte", (clock or Clock(T0)).now())
    return registry


def login(registry: EcpsRegistry, now: dt.datetime = T0) -> tuple[PushRequest, Push, Push]:
    """A login of IDNAT on two phones: the request and the push each phone got."""
    request = registry.request_push(IDNAT, "sidep", "00", now)
    first, second = request.pushes
    return request, first, second


def test_a_second_activation_on_another_phone_keeps_the_first() -> None:
    registry = two_phones()
    assert [(e.device, e.password) for e in registry.devices(IDNAT)] == [(PHONE, PASSWORD), (SECOND, SECOND_PASSWORD)]
    assert registry.find(IDNAT, PHONE) is not None and registry.find(IDNAT) is registry.find(IDNAT, SECOND)
    assert len(registry.all()) == 2


def test_a_login_pushes_to_every_phone_of_the_person() -> None:
    registry = two_phones()
    request, first, second = login(registry)
    assert (first.device, second.device) == (PHONE, SECOND)
    assert first.request == second.request == request.id and first.id != second.id
    assert registry.pending(PHONE, T0) == [first] and registry.pending(SECOND, T0) == [second]
    assert request.status is PushStatus.PENDING


def test_approving_on_one_phone_withdraws_the_others_push() -> None:
    registry = two_phones()
    request, first, second = login(registry)
    registry.approve(second.id, SECOND_PASSWORD, T0)
    assert (first.status, second.status) == (PushStatus.WITHDRAWN, PushStatus.APPROVED)
    assert registry.push_request(request.id, T0).status is PushStatus.APPROVED
    assert registry.pending(PHONE, T0) == []


def test_refusing_on_one_phone_refuses_the_login_and_withdraws_the_others_push() -> None:
    registry = two_phones()
    request, first, second = login(registry)
    registry.refuse(first.id, T0)
    assert (first.status, second.status, request.status) == (
        PushStatus.REFUSED, PushStatus.WITHDRAWN, PushStatus.REFUSED,
    )  # fmt: skip


def test_a_withdrawn_push_cannot_be_answered_any_more() -> None:
    registry = two_phones()
    _, first, second = login(registry)
    registry.approve(first.id, PASSWORD, T0)
    assert refusal(lambda: registry.approve(second.id, SECOND_PASSWORD, T0)) == "push-withdrawn"
    assert refusal(lambda: registry.refuse(second.id, T0)) == "push-withdrawn"
    assert registry.push(first.id, T0).status is PushStatus.APPROVED


def test_each_phone_approves_with_its_own_password() -> None:
    registry = two_phones()
    _, first, _ = login(registry)
    assert refusal(lambda: registry.approve(first.id, SECOND_PASSWORD, T0)) == "wrong-password"
    assert registry.approve(first.id, PASSWORD, T0).status is PushStatus.APPROVED


def test_a_wrong_password_on_one_phone_withdraws_nothing() -> None:
    registry = two_phones()
    request, first, second = login(registry)
    with pytest.raises(EcpsError):
        registry.approve(first.id, WRONG, T0)
    assert (first.status, second.status, request.status) == (PushStatus.PENDING,) * 3


def test_locking_one_phone_fails_the_login_and_the_next_login_skips_that_phone() -> None:
    registry = two_phones()
    request, first, second = login(registry)
    for _ in range(3):
        with pytest.raises(EcpsError):
            registry.approve(first.id, WRONG, T0)
    assert (request.status, second.status) == (PushStatus.FAILED, PushStatus.WITHDRAWN)
    [only] = registry.request_push(IDNAT, "sidep", "00", T0).pushes
    assert only.device == SECOND


def test_a_login_no_phone_answers_expires_on_every_phone() -> None:
    clock = Clock(T0)
    registry = two_phones(clock)
    request, first, second = login(registry, clock.now())
    clock.advance("120s")
    assert registry.push_request(request.id, clock.now()).status is PushStatus.EXPIRED
    assert (first.status, second.status) == (PushStatus.EXPIRED, PushStatus.EXPIRED)


def test_on_device_lists_a_phones_pushes_whatever_their_state() -> None:
    registry = two_phones()
    _, first, _ = login(registry)
    registry.approve(first.id, PASSWORD, T0)
    _, _, later = login(registry)
    assert [p.status for p in registry.on_device(SECOND, T0)] == [PushStatus.WITHDRAWN, PushStatus.PENDING]
    assert registry.on_device(SECOND, T0)[-1] is later


def test_an_unknown_login_request_is_refused() -> None:
    assert refusal(lambda: activated().push_request("nope", T0)) == "unknown-push"


# --- statuses -----------------------------------------------------------------------------------


def test_status_values_are_the_api_strings() -> None:
    assert [s.value for s in PushStatus] == ["pending", "approved", "refused", "expired", "failed", "withdrawn"]


def test_push_as_json_carries_status_and_times() -> None:
    registry = activated()
    push = ask(registry)
    registry.refuse(push.id, T0)
    assert push.as_json() == {
        "id": push.id,
        "request": push.request,
        "national_id": IDNAT,
        "device": PHONE,
        "client": "sidep",
        "binding_message": "00",
        "created_at": "2024-03-01T08:00:00+00:00",
        "expires_at": "2024-03-01T08:02:00+00:00",
        "status": "refused",
    }


def test_ecps_error_is_a_value_error_with_a_message() -> None:
    error = EcpsError("locked", "votre e-CPS est bloquée")
    assert isinstance(error, ValueError)
    assert (error.code, str(error)) == ("locked", "votre e-CPS est bloquée")
