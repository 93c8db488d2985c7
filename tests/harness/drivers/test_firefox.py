"""The Firefox driver: the guide's paths in Debian's Firefox ESR, the card through NSS, OpenSC and its own PIN prompt.

The default suite plays a representative few (a card path through the PIN dialog, a failure, an
e-CPS path); every scenario is played by ``tox -e firefox`` (``-m firefox_all``): the whole catalogue
would take the suite past its budget on two cores.
"""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path
from typing import ClassVar

import pytest

from harness.drivers.firefox import PIN_DIALOG, user_js
from harness.pki import Pki
from harness.scenario.loader import SCENARIO_DIR, find, load
from harness.scenario.player import Result, play

pytestmark = pytest.mark.pcsc


def _scenarios() -> dict[str, tuple[Path, object]]:
    loaded, problems = load(find([str(SCENARIO_DIR)]))
    assert problems == []
    return {s.id: (p, s) for p, s in loaded}


SCENARIOS = _scenarios()


def run_in_firefox(scenario_id: str, workdir: Path) -> Result:
    path, scenario = SCENARIOS[scenario_id]
    return asyncio.run(play(scenario, path, Pki(), workdir, driver="firefox"))  # type: ignore[arg-type]


def failure(result: Result) -> str:
    event = next((e for e in result.events if not e.ok), None)
    return f"step {event.index} {event.action}: {event.failure}" if event else "stopped early"


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


@pytest.mark.firefox_all
@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("scenario_id", sorted(SCENARIOS))
def test_every_scenario_passes_in_firefox(scenario_id: str, tmp_path: Path) -> None:
    result = run_in_firefox(scenario_id, tmp_path)
    assert result.driver == "firefox"
    assert result.ok, failure(result)
    browser_steps = [e for e in result.events if e.action.startswith("browser.")]
    missing = [e.index for e in browser_steps if not e.screenshots and "the browser was closed" not in e.detail]
    assert missing == [], f"steps {missing} have no screenshot of what the user saw"


@pytest.mark.e2e
def test_card_signs_after_the_pin_is_typed_into_firefoxs_dialog(tmp_path: Path) -> None:
    """G6-01: Firefox's own French PIN prompt, photographed, typed into; then the card's identity page."""
    result = run_in_firefox("G6-01", tmp_path)
    assert result.ok, failure(result)
    event = result.events[-1]
    assert event.screen == "information-carte-cps"
    assert "ALAIN" in event.snapshot and "899700209812" in event.snapshot
    assert any("VERIFY ref 01 -> 9000" in line for line in event.apdus), "the typed PIN reached the card"
    assert any("INTERNAL AUTHENTICATE" in line for line in event.apdus), "the card signed the handshake"
    dialog, page = event.screenshots[0], event.screenshots[-1]
    assert png_size(dialog) == (1280, 900), "the whole X screen, with Firefox's native prompt"
    assert png_size(page)[0] == 1024, "then the page itself"
    assert PIN_DIALOG.startswith("^Mot de passe nécessaire")


@pytest.mark.e2e
def test_a_signature_failure_leaves_firefox_loading_a_blank_tab(tmp_path: Path) -> None:
    """G6-02: the card answers 6F00 to INTERNAL AUTHENTICATE; Firefox shows no error page, it keeps loading.

    Chromium shows ERR_SSL_CLIENT_AUTH_SIGNATURE_FAILED here; Firefox ESR 153 neither ends the load nor
    shows about:neterror (measured), so the driver closes it at its deadline and the step fails."""
    result = run_in_firefox("G6-02", tmp_path)
    assert result.ok, failure(result)
    event = next(e for e in result.events if "INTERNAL AUTHENTICATE -> 6F00" in "\n".join(e.apdus))
    assert "no page after 20 s: the browser was closed" in event.detail
    assert not any(line.startswith("(Firefox's error page") for line in event.http)
    assert event.screenshots, "the PIN dialog, then the screen when the driver gave up"


@pytest.mark.e2e
def test_an_ecps_path_in_firefox(tmp_path: Path) -> None:
    """G5-01: e-CPS login through PSC, the phone approving, without the card."""
    result = run_in_firefox("G5-01", tmp_path)
    assert result.ok, failure(result)
    assert all(e.screenshots for e in result.events if e.action.startswith("browser."))


def test_profile_maps_only_the_worlds_names_and_picks_the_certificate(tmp_path: Path) -> None:
    class Site:
        def __init__(self, host: str) -> None:
            self.host = host

    class World:
        sites: ClassVar[dict[str, Site]] = {
            "a": Site("wallet.esante.gouv.fr"),
            "b": Site("127.0.0.1"),
            "c": Site("auth.esw.esante.gouv.fr"),
        }

    prefs = user_js(World())  # type: ignore[arg-type]
    assert 'user_pref("network.dns.localDomains", "auth.esw.esante.gouv.fr,wallet.esante.gouv.fr");' in prefs
    assert 'user_pref("security.default_personal_cert", "Select Automatically");' in prefs
    assert 'user_pref("intl.locale.requested", "fr");' in prefs
