"""SI-DEP's degraded mode (guide step 4): login/password accounts created by a CIS or an ARS.

A CIS creates accounts for liberal professionals, active at once; a salaried professional's
request goes through SI-DEP support and stays pending until the ARS validates it. Passwords are
stored as scrypt hashes (salted), never in clear; repeated failures lock the account.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from simulators.web.screens import Screen

MAX_FAILURES = 5
"""Wrong passwords before the account locks (SI-DEP's figure is not public)."""
SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
CLIENT_ID = "portail-sidep"
"""SI-DEP's client id at Pro Santé Connect (a relying party registered in every world)."""
SIDEP_SUPPORT = "Support SI-DEP : 0 800 08 32 04"


class Status(enum.StrEnum):
    ACTIVE = "active"
    PENDING = "pending-ars"
    LOCKED = "locked"


class Kind(enum.StrEnum):
    LIBERAL = "liberal"
    """Created by the professional's CIS: active at once."""
    SALARIED = "salarie"
    """Requested through SI-DEP support: pending until the ARS validates."""


class LoginRefused(Exception):
    def __init__(self, screen: Screen, message: str) -> None:
        super().__init__(message)
        self.screen = screen
        self.message = message


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str) -> bool:
    _, salt, expected = stored.split("$")
    return hmac.compare_digest(hash_password(password, bytes.fromhex(salt)).split("$")[2], expected)


@dataclass
class Account:
    login: str
    password_hash: str
    kind: Kind
    national_id: str
    first_name: str
    last_name: str
    status: Status
    failures: int = 0


@dataclass
class Accounts:
    by_login: dict[str, Account] = field(default_factory=dict)

    def create(
        self, login: str, password: str, kind: Kind, national_id: str, first_name: str, last_name: str
    ) -> Account:
        if not login or len(password) < 8:
            raise ValueError("a login and a password of 8 characters or more are required")
        if login in self.by_login:
            raise ValueError(f"the login {login!r} already exists")
        status = Status.ACTIVE if kind is Kind.LIBERAL else Status.PENDING
        account = Account(login, hash_password(password), kind, national_id, first_name, last_name, status)
        self.by_login[login] = account
        return account

    def validate_by_ars(self, login: str) -> Account:
        account = self.by_login.get(login)
        if account is None:
            raise KeyError(login)
        if account.status is Status.PENDING:
            account.status = Status.ACTIVE
        return account

    def login(self, login: str, password: str) -> Account:
        account = self.by_login.get(login)
        if account is None:
            hash_password(password)  # same work whether the login exists or not
            raise LoginRefused(Screen.IDENTIFIANTS_INCORRECTS, "Identifiant ou mot de passe incorrect.")
        if account.status is Status.LOCKED:
            raise LoginRefused(Screen.COMPTE_VERROUILLE, f"Votre compte est verrouillé. {SIDEP_SUPPORT}.")
        if not password_matches(password, account.password_hash):
            account.failures += 1
            if account.failures >= MAX_FAILURES:
                account.status = Status.LOCKED
                raise LoginRefused(
                    Screen.COMPTE_VERROUILLE, f"Trop d'échecs : votre compte est verrouillé. {SIDEP_SUPPORT}."
                )
            raise LoginRefused(Screen.IDENTIFIANTS_INCORRECTS, "Identifiant ou mot de passe incorrect.")
        if account.status is Status.PENDING:
            raise LoginRefused(
                Screen.COMPTE_EN_ATTENTE, "Votre demande de compte est en attente de validation par votre ARS."
            )
        account.failures = 0
        return account
