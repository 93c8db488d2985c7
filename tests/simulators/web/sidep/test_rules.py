"""SI-DEP's degraded-mode accounts (``simulators/web/sidep/rules.py``), called directly.

Covers the password storage (salted scrypt, never in clear, checked against an independent
computation), account creation (a CIS's liberal account is active at once, a salaried one waits
for the ARS), the ARS validation, login (right and wrong passwords, unknown logins answered like
wrong passwords), the lock after ``MAX_FAILURES`` wrong passwords and the screens and messages of
each refusal. Logic tests run scrypt with a small cost (``cheap_scrypt``) to stay fast; the real
parameters are checked on their own.
"""

from __future__ import annotations

import hashlib
import re

import pytest

from simulators.web.sidep import rules
from simulators.web.sidep.rules import (
    MAX_FAILURES,
    Account,
    Accounts,
    Kind,
    LoginRefused,
    Status,
    hash_password,
    password_matches,
)

PASSWORD = "Correct-Horse-9"
NATIONAL_ID = "899700209812"
SUPPORT_NUMBER = "0 800 08 32 04"


@pytest.fixture
def cheap_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """scrypt at n=2**4: the same code path, a fraction of the cost (logic tests hash many times)."""
    monkeypatch.setitem(rules.SCRYPT, "n", 2**4)


@pytest.fixture
def accounts(cheap_scrypt: None) -> Accounts:
    return Accounts()


def liberal(accounts: Accounts, login: str = "alain.d") -> Account:
    return accounts.create(login, PASSWORD, Kind.LIBERAL, NATIONAL_ID, "ALAIN", "D0000020981")


def salaried(accounts: Accounts, login: str = "carole.p") -> Account:
    return accounts.create(login, PASSWORD, Kind.SALARIED, "899700075122", "CAROLE", "PHARMACH0007512")


def refused(accounts: Accounts, login: str, password: str) -> LoginRefused:
    with pytest.raises(LoginRefused) as excinfo:
        accounts.login(login, password)
    return excinfo.value


# -- password storage ---------------------------------------------------------------------------------
def test_hash_is_scrypt_with_a_16_byte_salt_and_a_32_byte_digest(cheap_scrypt: None) -> None:
    assert re.fullmatch(r"scrypt\$[0-9a-f]{32}\$[0-9a-f]{64}", hash_password(PASSWORD))


def test_hash_uses_scrypt_n_2_14_r_8_p_1() -> None:
    salt = bytes(range(16))
    digest = hashlib.scrypt(PASSWORD.encode(), salt=salt, n=16384, r=8, p=1, dklen=32)
    assert hash_password(PASSWORD, salt) == f"scrypt${salt.hex()}${digest.hex()}"


def test_hash_does_not_contain_the_password(cheap_scrypt: None) -> None:
    assert PASSWORD not in hash_password(PASSWORD)
    assert PASSWORD.encode().hex() not in hash_password(PASSWORD)


def test_two_hashes_of_the_same_password_have_different_salts(cheap_scrypt: None) -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first.split("$")[1] != second.split("$")[1]
    assert first != second


def test_password_matches_its_hash(cheap_scrypt: None) -> None:
    assert password_matches(PASSWORD, hash_password(PASSWORD))


def test_other_password_does_not_match(cheap_scrypt: None) -> None:
    assert not password_matches(PASSWORD + "!", hash_password(PASSWORD))


def test_password_check_is_case_sensitive(cheap_scrypt: None) -> None:
    assert not password_matches(PASSWORD.lower(), hash_password(PASSWORD))


def test_non_ascii_password_matches_its_hash(cheap_scrypt: None) -> None:
    assert password_matches("mot-de-passe-été", hash_password("mot-de-passe-été"))


# -- account creation and ARS validation -----------------------------------------------------------------
def test_liberal_account_created_by_a_cis_is_active_at_once(accounts: Accounts) -> None:
    assert liberal(accounts).status is Status.ACTIVE


def test_salaried_account_is_pending_until_the_ars_validates(accounts: Accounts) -> None:
    assert salaried(accounts).status is Status.PENDING


def test_created_account_keeps_identity_and_stores_only_a_hash(accounts: Accounts) -> None:
    account = liberal(accounts)
    assert (account.login, account.national_id, account.first_name, account.last_name, account.kind) == (
        "alain.d", NATIONAL_ID, "ALAIN", "D0000020981", Kind.LIBERAL,
    )  # fmt: skip
    assert account.password_hash.startswith("scrypt$")
    assert PASSWORD not in account.password_hash
    assert password_matches(PASSWORD, account.password_hash)


def test_created_account_is_found_by_its_login(accounts: Accounts) -> None:
    account = liberal(accounts)
    assert accounts.by_login == {"alain.d": account}


def test_password_of_seven_characters_is_refused(accounts: Accounts) -> None:
    with pytest.raises(ValueError):
        accounts.create("alain.d", "1234567", Kind.LIBERAL, NATIONAL_ID, "ALAIN", "D0000020981")
    assert not accounts.by_login


def test_password_of_eight_characters_is_accepted(accounts: Accounts) -> None:
    assert accounts.create("alain.d", "12345678", Kind.LIBERAL, NATIONAL_ID, "ALAIN", "D").status is Status.ACTIVE


def test_empty_login_is_refused(accounts: Accounts) -> None:
    with pytest.raises(ValueError):
        accounts.create("", PASSWORD, Kind.LIBERAL, NATIONAL_ID, "ALAIN", "D0000020981")


def test_existing_login_is_refused_and_the_first_account_kept(accounts: Accounts) -> None:
    first = liberal(accounts)
    with pytest.raises(ValueError):
        accounts.create("alain.d", "another-password", Kind.SALARIED, NATIONAL_ID, "X", "Y")
    assert accounts.by_login["alain.d"] is first
    assert password_matches(PASSWORD, first.password_hash)


def test_ars_validation_activates_a_pending_account(accounts: Accounts) -> None:
    salaried(accounts)
    assert accounts.validate_by_ars("carole.p").status is Status.ACTIVE


def test_ars_validation_of_an_active_account_keeps_it_active(accounts: Accounts) -> None:
    liberal(accounts)
    assert accounts.validate_by_ars("alain.d").status is Status.ACTIVE


def test_ars_validation_of_an_unknown_login_is_a_key_error(accounts: Accounts) -> None:
    with pytest.raises(KeyError):
        accounts.validate_by_ars("nobody")


def test_ars_validation_does_not_unlock_a_locked_account(accounts: Accounts) -> None:
    liberal(accounts)
    for _ in range(MAX_FAILURES):
        with pytest.raises(LoginRefused):
            accounts.login("alain.d", "wrong-password")
    assert accounts.validate_by_ars("alain.d").status is Status.LOCKED


# -- login ---------------------------------------------------------------------------------------------
def test_active_account_logs_in_with_the_right_password(accounts: Accounts) -> None:
    account = liberal(accounts)
    assert accounts.login("alain.d", PASSWORD) is account


def test_validated_salaried_account_logs_in(accounts: Accounts) -> None:
    salaried(accounts)
    accounts.validate_by_ars("carole.p")
    assert accounts.login("carole.p", PASSWORD).national_id == "899700075122"


def test_pending_account_with_the_right_password_is_told_to_wait_for_the_ars(accounts: Accounts) -> None:
    salaried(accounts)
    refusal = refused(accounts, "carole.p", PASSWORD)
    assert refusal.screen == "compte-en-attente"
    assert refusal.message == "Votre demande de compte est en attente de validation par votre ARS."


def test_pending_account_with_a_wrong_password_is_not_told_it_is_pending(accounts: Accounts) -> None:
    salaried(accounts)
    assert refused(accounts, "carole.p", "wrong-password").screen == "identifiants-incorrects"


def test_wrong_password_is_identifiants_incorrects(accounts: Accounts) -> None:
    liberal(accounts)
    refusal = refused(accounts, "alain.d", "wrong-password")
    assert (refusal.screen, refusal.message) == ("identifiants-incorrects", "Identifiant ou mot de passe incorrect.")
    assert str(refusal) == "Identifiant ou mot de passe incorrect."


def test_unknown_login_is_answered_like_a_wrong_password(accounts: Accounts) -> None:
    liberal(accounts)
    unknown, wrong = refused(accounts, "nobody", PASSWORD), refused(accounts, "alain.d", "wrong-password")
    assert (unknown.screen, unknown.message) == (wrong.screen, wrong.message)


def test_unknown_login_costs_a_password_hash(accounts: Accounts, monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[str] = []
    real = rules.hash_password

    def counting(password: str, salt: bytes | None = None) -> str:
        hashed.append(password)
        return real(password, salt)

    monkeypatch.setattr(rules, "hash_password", counting)
    refused(accounts, "nobody", PASSWORD)
    assert hashed == [PASSWORD]


def test_login_is_case_sensitive(accounts: Accounts) -> None:
    liberal(accounts)
    assert refused(accounts, "ALAIN.D", PASSWORD).screen == "identifiants-incorrects"


def test_wrong_password_counts_one_failure(accounts: Accounts) -> None:
    account = liberal(accounts)
    refused(accounts, "alain.d", "wrong-password")
    assert (account.failures, account.status) == (1, Status.ACTIVE)


def test_max_failures_is_five() -> None:
    assert MAX_FAILURES == 5


def test_account_is_not_locked_one_failure_before_the_limit(accounts: Accounts) -> None:
    account = liberal(accounts)
    for _ in range(MAX_FAILURES - 1):
        assert refused(accounts, "alain.d", "wrong-password").screen == "identifiants-incorrects"
    assert account.status is Status.ACTIVE
    assert accounts.login("alain.d", PASSWORD) is account


def test_account_locks_at_the_last_allowed_failure(accounts: Accounts) -> None:
    account = liberal(accounts)
    for _ in range(MAX_FAILURES - 1):
        refused(accounts, "alain.d", "wrong-password")
    refusal = refused(accounts, "alain.d", "wrong-password")
    assert refusal.screen == "compte-verrouille"
    assert refusal.message == f"Trop d'échecs : votre compte est verrouillé. Support SI-DEP : {SUPPORT_NUMBER}."
    assert account.status is Status.LOCKED


def test_locked_account_refuses_the_right_password(accounts: Accounts) -> None:
    liberal(accounts)
    for _ in range(MAX_FAILURES):
        refused(accounts, "alain.d", "wrong-password")
    refusal = refused(accounts, "alain.d", PASSWORD)
    assert refusal.screen == "compte-verrouille"
    assert refusal.message == f"Votre compte est verrouillé. Support SI-DEP : {SUPPORT_NUMBER}."


def test_locked_account_does_not_count_more_failures(accounts: Accounts) -> None:
    account = liberal(accounts)
    for _ in range(MAX_FAILURES):
        refused(accounts, "alain.d", "wrong-password")
    refused(accounts, "alain.d", "wrong-password")
    assert account.failures == MAX_FAILURES


def test_successful_login_resets_the_failure_count(accounts: Accounts) -> None:
    account = liberal(accounts)
    for _ in range(MAX_FAILURES - 1):
        refused(accounts, "alain.d", "wrong-password")
    accounts.login("alain.d", PASSWORD)
    assert account.failures == 0
    for _ in range(MAX_FAILURES - 1):
        refused(accounts, "alain.d", "wrong-password")
    assert account.status is Status.ACTIVE


def test_failures_on_one_account_do_not_lock_another(accounts: Accounts) -> None:
    liberal(accounts)
    other = liberal(accounts, "bruno.m")
    for _ in range(MAX_FAILURES):
        refused(accounts, "alain.d", "wrong-password")
    assert other.status is Status.ACTIVE
    assert accounts.login("bruno.m", PASSWORD) is other


def test_unknown_logins_lock_nothing(accounts: Accounts) -> None:
    account = liberal(accounts)
    for _ in range(MAX_FAILURES):
        refused(accounts, "nobody", "wrong-password")
    assert (account.failures, account.status) == (0, Status.ACTIVE)


def test_pending_account_locks_after_max_failures(accounts: Accounts) -> None:
    account = salaried(accounts)
    for _ in range(MAX_FAILURES):
        refused(accounts, "carole.p", "wrong-password")
    assert account.status is Status.LOCKED
    assert refused(accounts, "carole.p", PASSWORD).screen == "compte-verrouille"
