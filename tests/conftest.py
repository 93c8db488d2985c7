"""Shared fixtures: a PKI built once per test session in a fresh cache (this also tests creation).

The session also checks that it leaves nothing behind. Its controller (the only process when
xdist is off) gives the whole suite its own temporary directory (``TMPDIR``, inherited by every
worker and command) and becomes the "child subreaper" of everything below it, so a process whose
parent dies is adopted by the controller rather than by init. At the end, once the workers are
gone, a ``cps-*`` folder left in that directory or a process still running below the controller
was left by this session, not by another one running beside it: the session fails and says which,
then removes them.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import os
import shutil
import signal
import tempfile
from pathlib import Path

import pytest

from harness.lifetime import make_private_dir
from harness.pki import Pki, Professional
from tests.support.processes import command_line, descendants, running

PR_SET_CHILD_SUBREAPER = 36
SHARED_CACHES = (f"cps-harness-{os.getuid()}-public",)
"""``cps-*`` entries meant to outlive a command: the CA bundles other users' programs read."""
LEAKS = pytest.StashKey[list[str]]()
SESSION_TMP = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):  # an xdist worker: the controller set everything up
        return
    # pytest's own folders (kept for three sessions, to look into failures) stay where they were
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", tempfile.gettempdir())
    session_tmp = make_private_dir("tests")  # swept by the next command if this session is killed
    session_tmp.chmod(0o755)  # Apache, as www-data, reads the CA bundle from cps-harness-<uid>-public
    os.environ["TMPDIR"] = str(session_tmp)
    tempfile.tempdir = None  # gettempdir() reads TMPDIR again
    config.stash[SESSION_TMP] = session_tmp
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


@pytest.hookimpl(trylast=True)  # after xdist's own, which stops the workers
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    session_tmp = config.stash.get(SESSION_TMP, None)
    if session_tmp is None:
        return
    leaks = []
    for pid in descendants(os.getpid()):
        if running(pid):
            leaks.append(f"process {pid} still runs: {' '.join(command_line(pid))[:200]}")
            os.kill(pid, signal.SIGKILL)  # ours: the suite started it
    for entry in sorted(session_tmp.iterdir()):
        if entry.name.startswith("cps-") and entry.name not in SHARED_CACHES:
            leaks.append(f"folder left behind: {entry}")
    shutil.rmtree(session_tmp, ignore_errors=True)
    config.stash[LEAKS] = leaks
    if leaks and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    leaks = config.stash.get(LEAKS, [])
    if leaks:
        terminalreporter.section("left behind by this test session", sep="=", red=True, bold=True)
        for leak in leaks:
            terminalreporter.write_line(leak, red=True)


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
