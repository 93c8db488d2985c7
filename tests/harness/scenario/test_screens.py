"""Screen ids in scenario files: the catalogue holds what the sites serve, and ``check`` holds files to it.

The catalogue (``simulators/web/screens.py``) is only worth trusting if it is what the sites
serve: the 41 scenarios of the catalogue are played here with the protocol driver and every page
they reach must be in it, listed for the site that served it. Files are then checked against
it when they load: a misspelt screen is a ``file:line: field`` problem naming the closest ids.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from harness.pki import Pki
from harness.scenario.loader import SCENARIO_DIR, find, load
from harness.scenario.model import Scenario
from harness.scenario.player import play
from harness.scenario.screens import SCREEN_IDS
from harness.world.sites import LOOPBACK
from simulators.web import hosts
from simulators.web.screens import SHOWN, Screen

HOST_SITES = {hosts.PSC: "psc", hosts.SIDEP: "sidep", hosts.TESTSSL: "testssl", hosts.PUSH: "push", LOOPBACK: "admin"}


@dataclass
class Played:
    reached: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    """(site, screen) → the scenarios whose steps ended on that page."""
    failed: list[str] = field(default_factory=list)


def site_of(url: str) -> str:
    """The catalogue's name of the site that served ``url``: PSC's login pages live on the wallet's host."""
    parts = urlsplit(url)
    if parts.hostname == hosts.WALLET:
        return "psc" if parts.path == "/auth" or parts.path.startswith("/auth/") else "wallet"
    return HOST_SITES.get(parts.hostname or "", f"unknown host {parts.hostname}")


@pytest.fixture(scope="module")
def played(session_pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Played:
    """The pages the whole catalogue reaches; a failing scenario is recorded, not raised, so that a page
    served under an id the catalogue lacks is reported as such (its scenario fails on it too)."""
    loaded, problems = load(find([str(SCENARIO_DIR)]))
    assert problems == []
    workdir = tmp_path_factory.mktemp("screens")
    gate = asyncio.Semaphore(2)

    found = Played()

    async def one(path: Path, scenario: Scenario) -> None:
        (workdir / scenario.id).mkdir()  # one each: a diagnosis writes its files there
        async with gate:
            result = await play(scenario, path, session_pki, workdir / scenario.id)
        for event in result.events:
            if event.screen:
                found.reached[site_of(event.url), event.screen].add(scenario.id)
            if not event.ok:
                found.failed.append(f"{scenario.id} step {event.index} {event.action}: {event.failure}")

    async def every() -> None:
        await asyncio.gather(*(one(path, scenario) for path, scenario in loaded))

    asyncio.run(every())
    return found


def expected_by_the_files() -> set[str]:
    """Every screen the scenario files expect of the protocol driver."""
    loaded, problems = load(find([str(SCENARIO_DIR)]))
    assert problems == []
    return {step.expect.screen for _, s in loaded for step in s.steps if step.expect and step.expect.screen}


def test_every_page_the_scenarios_reach_is_in_the_catalogue_for_its_site(played: Played) -> None:
    known = {screen.value: screen for screen in Screen}
    wrong = [
        f"{site} served {screen!r} ({', '.join(sorted(ids))}): "
        + (f"the catalogue lists it for {known[screen].sites}" if screen in known else "not in the catalogue")
        for (site, screen), ids in sorted(played.reached.items())
        if screen not in known or site not in known[screen].sites
    ]
    assert wrong == [], "simulators/web/screens.py must list what the sites serve"


def test_the_scenarios_reached_pages_of_every_kind(played: Played) -> None:
    """Not vacuous: every scenario passed, every screen the files expect was seen, on the four sites the
    guide's paths visit."""
    assert played.failed == []
    seen, expected = {screen for _, screen in played.reached}, expected_by_the_files()
    assert expected <= seen
    assert len(expected) > len(SHOWN) // 2, "the files expect most of the catalogue"
    assert {site for site, _ in played.reached} >= {"wallet", "psc", "sidep", "testssl"}


# -- cps-harness check -------------------------------------------------------------------------------
HEAD = "id: G2-08\ntitle: t\nguide: g\nsteps:\n  - browser.open: {site: wallet, path: /activation}\n"


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "G2-08-x.yaml"
    path.write_text(HEAD + text)
    loaded, problems = load([path])
    assert loaded == []
    return [p.removeprefix(f"{path}:") for p in problems]


@pytest.mark.parametrize(
    ("expect", "problem"),
    [
        ("    expect: {screen: saisie-code}\n",
         "6: steps.1.expect.screen: no site shows a screen 'saisie-code'; did you mean saisie-codes, "
         "saisie-identifiant?"),
        ("    expect:\n      status: 200\n      screen: certificat-revoqué\n",
         "8: steps.1.expect.screen: no site shows a screen 'certificat-revoqué'; did you mean certificat-revoque"),
        ("    expect:\n      screen: aucun-certificat\n      chromium: {screen: acueil}\n",
         "8: steps.1.expect.chromium.screen: no site shows a screen 'acueil'; did you mean accueil"),
        ("    expect: {screen: tableau-de-bord}\n",
         "6: steps.1.expect.screen: no site shows a screen 'tableau-de-bord'; the screens are listed in "
         "docs/reference/screens.md"),
        ("    expect: {screen: carte-revoked}\n",
         "6: steps.1.expect.screen: 'carte-revoked' is now 'certificat-revoque', as on every site"),
        ("    expect: {screen: qr-inconnu}\n",
         "6: steps.1.expect.screen: no page shows 'qr-inconnu': the phone scanned a QR code"),
    ],
)  # fmt: skip
def test_an_unknown_screen_is_a_problem_at_its_line_naming_the_closest(
    tmp_path: Path, expect: str, problem: str
) -> None:
    problems = problems_of(tmp_path, expect)
    assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_an_unknown_screen_is_reported_with_wrong_arguments(tmp_path: Path) -> None:
    """The step's arguments and its expect are checked in one pass (``Step.one_action``)."""
    problems = problems_of(tmp_path, "  - browser.open: {sitee: wallet}\n    expect: {screen: saisie-code}\n")
    assert [p.split(": ")[1] for p in problems] == [
        "steps.2.browser.open.site",
        "steps.2.browser.open.sitee",
        "steps.2.expect.screen",
    ]
    assert problems[2].startswith("7: steps.2.expect.screen: no site shows a screen 'saisie-code'; did you mean")


def test_every_screen_of_the_catalogue_that_a_page_carries_is_accepted(tmp_path: Path) -> None:
    expects = "".join(f"  - clock.advance: 1s\n    expect: {{screen: {screen.value}}}\n" for screen in SHOWN)
    path = tmp_path / "G2-08-x.yaml"
    path.write_text(HEAD + expects)
    loaded, problems = load([path])
    assert problems == [] and len(loaded[0][1].steps) == len(SHOWN) + 1


def test_the_schema_offers_the_screens_to_editors() -> None:
    def enums(node: Any) -> list[list[str]]:
        if isinstance(node, dict):
            return ([node["enum"]] if "accueil" in node.get("enum", []) else []) + [
                found for value in node.values() for found in enums(value)
            ]
        return [found for value in node for found in enums(value)] if isinstance(node, list) else []

    published = json.loads((SCENARIO_DIR / "schema.json").read_text(encoding="utf-8"))
    assert published == Scenario.model_json_schema()
    assert enums(published) == [list(SCREEN_IDS)] * 3, "expect.screen, expect.chromium.screen and expect.not.screen"
    assert "qr-inconnu" not in SCREEN_IDS and "certificat-revoque" in SCREEN_IDS


def test_check_command_fails_on_a_misspelt_screen(tmp_path: Path) -> None:
    path = tmp_path / "G2-08-x.yaml"
    path.write_text(HEAD + "    expect: {screen: saisie-identifiants}\n")
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "check", str(path)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "300"},
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{path}:6: steps.1.expect.screen: no site shows a screen 'saisie-identifiants'; did you mean " in (
        result.stdout
    )
