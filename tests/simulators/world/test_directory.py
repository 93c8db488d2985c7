"""The professional directory (``simulators/world/directory.py``) as the national services see it.

National ids are ``8`` + RPPS or ``0`` + ADELI. A contact update made on the order's site reaches
the directory only after the guide's delays: 48 h for pharmacists, 72 h for doctors. Nurses are
listed from the bulk update of 2020-11-25. Bad records and impossible updates are refused with a
``DirectoryError`` saying why.
"""

from __future__ import annotations

import datetime as dt

import pytest

from simulators.world.clock import Clock
from simulators.world.directory import Contacts, Directory, DirectoryError, Professional

T0 = dt.datetime(2024, 3, 1, 8, 0, tzinfo=dt.UTC)
OLD = Contacts(email="ancien@example.test", mobile="+33600000001")
NEW = Contacts(email="nouveau@example.test", mobile="+33600000002")
HOUR = dt.timedelta(hours=1)
SECOND = dt.timedelta(seconds=1)


def doctor() -> Professional:
    return Professional("M", "ALAIN", "D0000020981", "10", rpps="99700209812", contacts=OLD)


def pharmacist() -> Professional:
    return Professional("MME", "CAROLE", "PHARMACH0007512", "21", rpps="99700075122", contacts=OLD)


def nurse() -> Professional:
    return Professional("MME", "INES", "INF0001", "60", adeli="751234567", contacts=OLD)


def directory_with(*professionals: Professional) -> Directory:
    directory = Directory()
    for professional in professionals:
        directory.add(professional)
    return directory


def test_rpps_national_id_is_8_followed_by_the_rpps() -> None:
    assert doctor().national_id == "899700209812"


def test_adeli_national_id_is_0_followed_by_the_adeli() -> None:
    assert nurse().national_id == "0751234567"


def test_adeli_with_a_corsican_department_is_accepted() -> None:
    assert Professional("M", "A", "B", "70", adeli="2A1234567").national_id == "02A1234567"


def test_profession_label_and_order_come_from_the_profession_code() -> None:
    professional = pharmacist()
    assert (professional.profession_label, professional.order) == ("Pharmacien", "CNOP")


def test_unknown_profession_code_is_refused() -> None:
    with pytest.raises(DirectoryError, match="profession"):
        Professional("M", "A", "B", "99", rpps="99700209812")


def test_rpps_failing_its_check_digit_is_refused() -> None:
    with pytest.raises(DirectoryError, match="RPPS"):
        Professional("M", "A", "B", "10", rpps="99700209813")


def test_rpps_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(DirectoryError, match="RPPS"):
        Professional("M", "A", "B", "10", rpps="9970020981")


def test_malformed_adeli_is_refused() -> None:
    with pytest.raises(DirectoryError, match="ADELI"):
        Professional("M", "A", "B", "60", adeli="75123")


def test_record_without_any_identifier_is_refused() -> None:
    with pytest.raises(DirectoryError, match="exactly one"):
        Professional("M", "A", "B", "10")


def test_record_with_both_rpps_and_adeli_is_refused() -> None:
    with pytest.raises(DirectoryError, match="exactly one"):
        Professional("M", "A", "B", "10", rpps="99700209812", adeli="751234567")


def test_directory_error_is_a_value_error() -> None:
    assert issubclass(DirectoryError, ValueError)


def test_find_returns_the_record_under_its_national_id() -> None:
    alain = doctor()
    directory = directory_with(alain, pharmacist())
    assert directory.find("899700209812", T0) is alain


def test_find_an_unregistered_id_returns_none() -> None:
    assert directory_with(doctor()).find("899700366240", T0) is None


def test_find_by_bare_rpps_without_the_8_prefix_returns_none() -> None:
    assert directory_with(doctor()).find("99700209812", T0) is None


def test_len_and_all_count_each_added_record() -> None:
    directory = directory_with(doctor(), pharmacist(), nurse())
    assert len(directory) == 3
    assert {p.national_id for p in directory.all()} == {"899700209812", "899700075122", "0751234567"}


def test_adding_the_same_national_id_again_replaces_the_record() -> None:
    directory = directory_with(doctor())
    again = Professional("M", "ALAIN", "RENAMED", "10", rpps="99700209812")
    directory.add(again)
    assert len(directory) == 1
    assert directory.find("899700209812", T0) is again


def test_nurses_are_not_listed_before_2020_11_25() -> None:
    directory = directory_with(nurse())
    assert directory.find("0751234567", dt.datetime(2020, 11, 24, 23, 59, 59, tzinfo=dt.UTC)) is None


def test_nurses_are_listed_from_2020_11_25() -> None:
    ines = nurse()
    directory = directory_with(ines)
    assert directory.find("0751234567", dt.datetime(2020, 11, 25, tzinfo=dt.UTC)) is ines


def test_doctors_are_listed_before_the_nurses_bulk_update() -> None:
    alain = doctor()
    assert directory_with(alain).find("899700209812", dt.datetime(2019, 1, 1, tzinfo=dt.UTC)) is alain


def test_an_explicit_listing_date_is_respected() -> None:
    late = Professional("M", "A", "B", "10", rpps="99700366240", listed_from=T0)
    directory = directory_with(late)
    assert directory.find("899700366240", T0 - SECOND) is None
    assert directory.find("899700366240", T0) is late


def test_contacts_without_update_are_the_registered_ones() -> None:
    assert doctor().contacts_at(T0) == OLD


def test_order_update_is_not_visible_at_once() -> None:
    carole = pharmacist()
    directory = directory_with(carole)
    directory.order_update(carole.national_id, NEW, T0)
    assert carole.contacts_at(T0) == OLD


def test_pharmacist_update_is_still_pending_just_before_48_hours() -> None:
    carole = pharmacist()
    directory_with(carole).order_update(carole.national_id, NEW, T0)
    assert carole.contacts_at(T0 + 48 * HOUR - SECOND) == OLD


def test_pharmacist_update_is_effective_after_48_hours() -> None:
    carole = pharmacist()
    directory_with(carole).order_update(carole.national_id, NEW, T0)
    assert carole.contacts_at(T0 + 48 * HOUR) == NEW


def test_doctor_update_is_still_pending_after_48_hours() -> None:
    alain = doctor()
    directory_with(alain).order_update(alain.national_id, NEW, T0)
    assert alain.contacts_at(T0 + 48 * HOUR) == OLD


def test_doctor_update_is_still_pending_just_before_72_hours() -> None:
    alain = doctor()
    directory_with(alain).order_update(alain.national_id, NEW, T0)
    assert alain.contacts_at(T0 + 72 * HOUR - SECOND) == OLD


def test_doctor_update_is_effective_after_72_hours() -> None:
    alain = doctor()
    directory_with(alain).order_update(alain.national_id, NEW, T0)
    assert alain.contacts_at(T0 + 72 * HOUR) == NEW


def test_order_update_reports_when_it_was_asked_and_when_it_takes_effect() -> None:
    carole = pharmacist()
    update = directory_with(carole).order_update(carole.national_id, NEW, T0)
    assert (update.contacts, update.requested_at, update.effective_at) == (NEW, T0, T0 + 2 * dt.timedelta(days=1))


def test_order_update_follows_the_world_clock() -> None:
    clock = Clock(T0)
    carole = pharmacist()
    directory_with(carole).order_update(carole.national_id, NEW, clock.now())
    clock.advance("47h59min59s")
    assert carole.contacts_at(clock.now()) == OLD
    clock.advance("1s")
    assert carole.contacts_at(clock.now()) == NEW


def test_a_later_update_replaces_an_earlier_one_once_effective() -> None:
    carole = pharmacist()
    directory = directory_with(carole)
    third = Contacts(email="troisieme@example.test", mobile="+33600000003")
    directory.order_update(carole.national_id, NEW, T0)
    directory.order_update(carole.national_id, third, T0 + HOUR)
    assert carole.contacts_at(T0 + 48 * HOUR) == NEW
    assert carole.contacts_at(T0 + 49 * HOUR) == third


def test_update_for_an_unregistered_id_is_refused() -> None:
    with pytest.raises(DirectoryError, match="899700366240"):
        directory_with(doctor()).order_update("899700366240", NEW, T0)


def test_update_for_a_profession_without_an_order_is_refused() -> None:
    audio = Professional("M", "A", "B", "26", rpps="99700366240")
    with pytest.raises(DirectoryError, match="Audioprothésiste"):
        directory_with(audio).order_update(audio.national_id, NEW, T0)


def test_refused_update_leaves_no_pending_change() -> None:
    audio = Professional("M", "A", "B", "26", rpps="99700366240")
    with pytest.raises(DirectoryError):
        directory_with(audio).order_update(audio.national_id, NEW, T0)
    assert audio.pending == []


def test_snapshot_shows_held_contacts_and_the_pending_update() -> None:
    carole = pharmacist()
    directory = directory_with(carole)
    directory.order_update(carole.national_id, NEW, T0)
    (row,) = directory.snapshot(T0 + HOUR)
    assert (row["national_id"], row["email"], row["mobile"]) == ("899700075122", OLD.email, OLD.mobile)
    assert row["pending_updates"] == [
        {"email": NEW.email, "mobile": NEW.mobile, "effective_at": "2024-03-03T08:00:00+00:00"}
    ]


def test_snapshot_drops_an_update_once_effective() -> None:
    carole = pharmacist()
    directory = directory_with(carole)
    directory.order_update(carole.national_id, NEW, T0)
    (row,) = directory.snapshot(T0 + 48 * HOUR)
    assert (row["email"], row["mobile"], row["pending_updates"]) == (NEW.email, NEW.mobile, [])


def test_snapshot_marks_a_nurse_unlisted_before_2020_11_25() -> None:
    directory = directory_with(nurse())
    (row,) = directory.snapshot(dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    assert row["listed"] is False


def test_snapshot_marks_a_nurse_listed_after_2020_11_25() -> None:
    directory = directory_with(nurse())
    (row,) = directory.snapshot(T0)
    assert (row["listed"], row["profession_label"]) == (True, "Infirmier")
