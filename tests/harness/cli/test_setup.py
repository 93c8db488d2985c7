"""``cps-harness setup``: the Debian packages and Chromium's policy, from the installed package."""

from __future__ import annotations

import subprocess
import sys

import pytest
from rich.console import Console

from harness.cli import setup
from harness.cli.main import main
from harness.system import TEST_ONLY, all_components, use_components


def test_a_ready_machine_has_nothing_to_install() -> None:
    """This machine ran ./bootstrap.sh: everything is there, for users and for the suite."""
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "setup", "--for-tests", "--dry-run"], capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0 and "nothing to install" in result.stdout, result.stdout + result.stderr


def test_users_do_not_get_the_suites_own_packages() -> None:
    users = {c.package for c in use_components()}
    assert {"pcscd", "vsmartcard-vpcd", "opensc", "chromium", "chromium-l10n"} <= users and not users & TEST_ONLY
    assert {c.package for c in all_components()} >= TEST_ONLY


def test_a_dry_run_prints_the_exact_commands_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ran: list[object] = []
    monkeypatch.setattr(setup, "make_plan", lambda for_tests=False: setup.Plan(["pcscd", "opensc"], True))
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: ran.append(a))
    assert main(["setup", "--dry-run"]) == 1
    out = capsys.readouterr().out
    assert "apt-get update -q" in out and "apt-get install -y -q --no-install-recommends pcscd opensc" in out
    assert "harness.drivers.chromium_policy install" in out and ran == []


def test_as_root_a_failing_apt_get_is_reported_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(setup, "make_plan", lambda for_tests=False: setup.Plan(["pcscd"], False))
    monkeypatch.setattr(setup.os, "geteuid", lambda: 0)
    monkeypatch.setattr(
        setup.subprocess,
        "run",
        lambda command, **_: subprocess.CompletedProcess(command, 100 if "install" in command else 0),
    )
    console = Console(record=True, width=200)
    assert setup.run(setup.argparse.Namespace(dry_run=False, for_tests=False), console) == 1
    assert "exited 100" in console.export_text()
