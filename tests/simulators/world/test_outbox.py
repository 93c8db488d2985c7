"""The world's outbox (``simulators/world/outbox.py``): e-mails and SMS delivered to per-address mailboxes.

A mailbox shows what its holder has received by a given instant of the world clock, newest first.
Two faults: an address whose messages never arrive (a mail operator blocking the sender), and a
delivery delay (the one-time code arrives after it expired). Faults apply to messages sent while
they are switched on.
"""

from __future__ import annotations

import datetime as dt

from simulators.world.clock import Clock
from simulators.world.outbox import Channel, Outbox

T0 = dt.datetime(2024, 3, 1, 8, 0, tzinfo=dt.UTC)
MAIL = "alain@example.test"
MOBILE = "+33600000001"


def test_send_records_the_message_with_its_fields() -> None:
    outbox = Outbox()
    message = outbox.send(Channel.EMAIL, MAIL, "Code d'activation", "Votre code : 123456", T0)
    assert outbox.sent == [message]
    assert (message.channel, message.to, message.subject, message.body, message.sent_at) == (
        Channel.EMAIL,
        MAIL,
        "Code d'activation",
        "Votre code : 123456",
        T0,
    )


def test_messages_get_distinct_increasing_ids() -> None:
    outbox = Outbox()
    ids = [outbox.send(Channel.SMS, MOBILE, "", f"code {n}", T0).id for n in range(3)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 3


def test_without_faults_a_message_is_in_the_mailbox_at_once() -> None:
    outbox = Outbox()
    message = outbox.send(Channel.EMAIL, MAIL, "s", "b", T0)
    assert outbox.mailbox(MAIL, T0) == [message]


def test_mailbox_does_not_show_a_message_before_it_was_sent() -> None:
    outbox = Outbox()
    outbox.send(Channel.EMAIL, MAIL, "s", "b", T0)
    assert outbox.mailbox(MAIL, T0 - dt.timedelta(seconds=1)) == []


def test_mailbox_holds_only_the_messages_sent_to_that_address() -> None:
    outbox = Outbox()
    mine = outbox.send(Channel.EMAIL, MAIL, "s", "b", T0)
    outbox.send(Channel.EMAIL, "other@example.test", "s", "b", T0)
    outbox.send(Channel.SMS, MOBILE, "", "b", T0)
    assert outbox.mailbox(MAIL, T0) == [mine]


def test_a_mobile_number_is_a_mailbox_for_sms() -> None:
    outbox = Outbox()
    sms = outbox.send(Channel.SMS, MOBILE, "", "Code e-CPS : 4821", T0)
    assert outbox.mailbox(MOBILE, T0) == [sms]


def test_mailbox_lists_newest_first() -> None:
    outbox = Outbox()
    first = outbox.send(Channel.EMAIL, MAIL, "first", "b", T0)
    second = outbox.send(Channel.EMAIL, MAIL, "second", "b", T0 + dt.timedelta(minutes=5))
    assert outbox.mailbox(MAIL, T0 + dt.timedelta(hours=1)) == [second, first]


def test_mailbox_of_an_address_never_written_to_is_empty() -> None:
    outbox = Outbox()
    outbox.send(Channel.EMAIL, MAIL, "s", "b", T0)
    assert outbox.mailbox("nobody@example.test", T0) == []


def test_dropped_address_never_receives_even_much_later() -> None:
    outbox = Outbox()
    outbox.faults.dropped.add(MAIL)
    message = outbox.send(Channel.EMAIL, MAIL, "s", "b", T0)
    assert message.deliver_at is None
    assert outbox.mailbox(MAIL, T0 + dt.timedelta(days=365)) == []


def test_dropped_message_still_appears_as_sent() -> None:
    """The world did send it: the operator's block is what loses it."""
    outbox = Outbox()
    outbox.faults.dropped.add(MAIL)
    message = outbox.send(Channel.EMAIL, MAIL, "s", "b", T0)
    assert outbox.sent == [message]
    assert outbox.addresses() == [MAIL]


def test_dropping_one_address_does_not_affect_another() -> None:
    outbox = Outbox()
    outbox.faults.dropped.add(MAIL)
    outbox.send(Channel.EMAIL, MAIL, "s", "b", T0)
    sms = outbox.send(Channel.SMS, MOBILE, "", "b", T0)
    assert outbox.mailbox(MOBILE, T0) == [sms]


def test_drop_fault_does_not_take_back_messages_already_delivered() -> None:
    outbox = Outbox()
    before = outbox.send(Channel.EMAIL, MAIL, "before", "b", T0)
    outbox.faults.dropped.add(MAIL)
    outbox.send(Channel.EMAIL, MAIL, "after", "b", T0)
    assert outbox.mailbox(MAIL, T0) == [before]


def test_lifting_the_drop_fault_lets_new_messages_through() -> None:
    outbox = Outbox()
    outbox.faults.dropped.add(MAIL)
    outbox.send(Channel.EMAIL, MAIL, "lost", "b", T0)
    outbox.faults.dropped.discard(MAIL)
    delivered = outbox.send(Channel.EMAIL, MAIL, "again", "b", T0)
    assert outbox.mailbox(MAIL, T0) == [delivered]


def test_delayed_message_is_absent_until_the_delay_has_passed() -> None:
    outbox = Outbox()
    outbox.faults.delay = dt.timedelta(minutes=20)
    outbox.send(Channel.SMS, MOBILE, "", "Code : 4821", T0)
    assert outbox.mailbox(MOBILE, T0 + dt.timedelta(minutes=19, seconds=59)) == []


def test_delayed_message_arrives_once_the_delay_has_passed() -> None:
    outbox = Outbox()
    outbox.faults.delay = dt.timedelta(minutes=20)
    message = outbox.send(Channel.SMS, MOBILE, "", "Code : 4821", T0)
    assert message.deliver_at == T0 + dt.timedelta(minutes=20)
    assert outbox.mailbox(MOBILE, T0 + dt.timedelta(minutes=20)) == [message]


def test_delay_follows_the_world_clock() -> None:
    clock = Clock(T0)
    outbox = Outbox()
    outbox.faults.delay = dt.timedelta(hours=1)
    outbox.send(Channel.EMAIL, MAIL, "s", "b", clock.now())
    clock.advance("59min")
    assert outbox.mailbox(MAIL, clock.now()) == []
    clock.advance("1min")
    assert len(outbox.mailbox(MAIL, clock.now())) == 1


def test_delay_keeps_the_sending_time() -> None:
    outbox = Outbox()
    outbox.faults.delay = dt.timedelta(hours=2)
    message = outbox.send(Channel.EMAIL, MAIL, "s", "b", T0)
    assert message.sent_at == T0


def test_drop_wins_over_delay() -> None:
    outbox = Outbox()
    outbox.faults.delay = dt.timedelta(minutes=1)
    outbox.faults.dropped.add(MAIL)
    outbox.send(Channel.EMAIL, MAIL, "s", "b", T0)
    assert outbox.mailbox(MAIL, T0 + dt.timedelta(days=1)) == []


def test_addresses_lists_each_recipient_once_sorted() -> None:
    outbox = Outbox()
    outbox.send(Channel.EMAIL, "zoe@example.test", "s", "b", T0)
    outbox.send(Channel.EMAIL, MAIL, "s", "b", T0)
    outbox.send(Channel.EMAIL, MAIL, "s", "b", T0)
    outbox.send(Channel.SMS, MOBILE, "", "b", T0)
    assert outbox.addresses() == [MOBILE, MAIL, "zoe@example.test"]


def test_message_as_json_gives_plain_values() -> None:
    outbox = Outbox()
    message = outbox.send(Channel.SMS, MOBILE, "", "Code : 4821", T0)
    assert message.as_json() == {
        "id": message.id,
        "channel": "sms",
        "to": MOBILE,
        "subject": "",
        "body": "Code : 4821",
        "sent_at": "2024-03-01T08:00:00+00:00",
    }


def test_a_lost_channel_loses_its_messages_only() -> None:
    """The SMS gateway down: no SMS arrives, e-mail does."""
    outbox = Outbox()
    outbox.faults.dropped_channels.add(Channel.SMS)
    mail = outbox.send(Channel.EMAIL, MAIL, "s", "b", T0)
    sms = outbox.send(Channel.SMS, MOBILE, "", "b", T0)
    assert sms.deliver_at is None and outbox.mailbox(MOBILE, T0 + dt.timedelta(days=1)) == []
    assert outbox.mailbox(MAIL, T0) == [mail]


def test_a_channel_delay_overrides_the_common_one() -> None:
    outbox = Outbox()
    outbox.faults.delay = dt.timedelta(minutes=1)
    outbox.faults.channel_delays[Channel.SMS] = dt.timedelta(minutes=20)
    outbox.send(Channel.SMS, MOBILE, "", "b", T0)
    outbox.send(Channel.EMAIL, MAIL, "s", "b", T0)
    later = T0 + dt.timedelta(minutes=2)
    assert outbox.mailbox(MOBILE, later) == [] and len(outbox.mailbox(MAIL, later)) == 1
    assert len(outbox.mailbox(MOBILE, T0 + dt.timedelta(minutes=20))) == 1


def test_a_mailbox_reads_one_channel() -> None:
    outbox = Outbox()
    outbox.send(Channel.EMAIL, MAIL, "s", "b", T0)
    assert outbox.mailbox(MAIL, T0, Channel.SMS) == [] and len(outbox.mailbox(MAIL, T0, Channel.EMAIL)) == 1
