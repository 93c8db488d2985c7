"""Shared fixtures: a PKI built once per test session in a fresh cache (this also tests creation)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from harness.pki import Pki, Professional


@pytest.fixture(scope="session")
def pki_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pki-cache")


@pytest.fixture(scope="session")
def session_pki(pki_cache: Path) -> Pki:
    return Pki(pki_cache)


@pytest.fixture
def pki(pki_cache: Path) -> Pki:
    """A fresh Pki over the session's key cache: its revocations do not leak between tests."""
    return Pki(pki_cache)


@pytest.fixture
def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture
def alain() -> Professional:
    """The guide's example identity (Test SSL screen)."""
    return Professional("899700209812", "D0000020981", "ALAIN", "Médecin")
