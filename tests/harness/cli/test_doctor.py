"""``cps-harness doctor`` and ``cps-harness run`` as a user runs them."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import system
from harness.cli.doctor import check_components, check_vpcd_shims, run_checks
from harness.system import Component, apt_command
from tests.support.paths import REPO


def cli(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CPS_HARNESS_CACHE": str(cache), "COLUMNS": "200"},
    )


def test_every_system_component_is_present_here() -> None:
    """The bootstrap installed them; this is what `apt-missing` prints nothing for."""
    assert [c.package for c in system.missing()] == []


def test_apt_missing_lists_nothing_on_a_ready_machine() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "harness.system", "apt-missing"], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == ""


def test_doctor_names_a_removed_package_and_its_fix(tmp_path: Path) -> None:
    removed = Component("vsmartcard-vpcd", "virtual reader driver", (str(tmp_path / "libifdvpcd.so"),))
    [check] = check_components([removed])
    assert not check.ok
    assert check.name == "package vsmartcard-vpcd"
    assert str(tmp_path / "libifdvpcd.so") in check.detail
    assert check.fix == apt_command(["vsmartcard-vpcd"])
    assert "apt-get install -y --no-install-recommends vsmartcard-vpcd" in check.fix


def test_doctor_says_when_chromiums_french_is_missing(tmp_path: Path) -> None:
    """Without chromium-l10n Chromium speaks English and its French PIN dialog is never found."""
    [french] = [c for c in system.COMPONENTS if c.package == "chromium-l10n"]
    listed = subprocess.run(["dpkg", "-L", "chromium-l10n"], capture_output=True, text=True, check=True).stdout
    assert french.paths == (system.CHROMIUM_FRENCH,) and system.CHROMIUM_FRENCH in listed.split()
    removed = dataclasses.replace(french, paths=(str(tmp_path / "fr.pak"),))
    [check] = check_components([removed])
    assert not check.ok and check.name == "package chromium-l10n"
    assert check.fix == apt_command(["chromium-l10n"]) and "French" in check.detail


def test_doctor_checks_are_all_green_here(pki_cache: Path) -> None:
    checks = run_checks(cache_dir=pki_cache)
    assert [c for c in checks if not c.ok] == []
    names = {c.name for c in checks}
    assert {"package pcscd", "package vsmartcard-vpcd", "private pcscd", "OpenSC through the private stack"} <= names
    assert {"IGC-Santé test chain", "TLS server CA", "vpcd ports", "vpcd shims"} <= names


def test_doctor_says_when_vpcds_shims_do_not_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.pcsc import stack

    broken = tmp_path / "vpcd_guard.c"
    broken.write_text("int IFDHTransmitToICC(void) { return missing_symbol; }\n")
    monkeypatch.setattr(stack, "GUARD_DRIVER", broken)
    monkeypatch.setenv("CPS_HARNESS_CACHE", str(tmp_path / "cache"))
    check = check_vpcd_shims()
    assert not check.ok and "missing_symbol" in check.detail, check
    assert "gcc" in check.fix


def test_doctor_command_exits_zero_with_checkmarks(pki_cache: Path) -> None:
    result = cli("doctor", cache=pki_cache)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✘" not in result.stdout
    assert result.stdout.count("✔") >= 10
    assert "0 failed" in result.stdout


def test_run_replays_scenarios_and_writes_reports(pki_cache: Path, tmp_path: Path) -> None:
    result = cli("run", "G2-01", "G6-05", "--report", str(tmp_path), cache=pki_cache)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2/2 scenarios passed" in result.stdout
    assert (tmp_path / "junit.xml").exists() and (tmp_path / "report.html").exists()
    assert 'failures="0"' in (tmp_path / "junit.xml").read_text()


def test_run_exits_non_zero_when_a_scenario_fails(pki_cache: Path, tmp_path: Path) -> None:
    broken = tmp_path / "G2-08-casse.yaml"
    broken.write_text(
        "id: G2-08\ntitle: t\nguide: g\nsteps:\n  - browser.open: {site: wallet, path: /activation}\n"
        "    expect: {screen: saisie-codes}\n"  # a screen of the catalogue, but not the one this step reaches
    )
    result = cli("run", str(broken), "--report", str(tmp_path / "r"), cache=pki_cache)
    assert result.returncode == 1
    assert "0/1 scenarios passed" in result.stdout and "saisie-codes" in result.stdout


def test_unknown_command_is_a_usage_error(pki_cache: Path) -> None:
    result = cli("fly", cache=pki_cache)
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_doctor_names_a_missing_chromium_policy_and_its_fix(tmp_path: Path) -> None:
    from harness.cli.doctor import check_chromium_policy
    from harness.drivers.chromium_policy import install

    missing = check_chromium_policy(tmp_path / "cps-harness.json")
    assert not missing.ok and "chromium_policy install" in missing.fix
    install(tmp_path / "cps-harness.json")
    assert check_chromium_policy(tmp_path / "cps-harness.json").ok


def test_doctor_names_the_packaged_data(tmp_path: Path) -> None:
    from harness.cli.doctor import check_packaged_data

    present = check_packaged_data()
    count = len(list((REPO / "scenarios").glob("*.yaml")))
    assert present.ok and f"{count} scenarios, 3 personas" in present.detail, present
    (tmp_path / "catalogue").mkdir()
    (tmp_path / "catalogue" / "G2-01-x.yaml").write_text("id: G2-01\n")
    missing = check_packaged_data(tmp_path / "catalogue")
    assert not missing.ok and "personas, schema.json" in missing.detail and missing.fix
