"""The pytest plugin's fixtures, used as a client-tool developer would use them."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from urllib.parse import parse_qs, urlparse

import pytest

from harness.pytest_plugin import PkiPaths, VirtualCard
from harness.world.host import WorldHost

MODULE = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"


def test_the_plugin_is_registered(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.has_plugin("cps_harness")


def test_cps_pki_gives_files_openssl_can_use(cps_pki: PkiPaths) -> None:
    assert b"BEGIN CERTIFICATE" in cps_pki.ca_bundle.read_bytes()
    assert cps_pki.igc_chain.read_bytes().count(b"BEGIN CERTIFICATE") == 2


def test_cps_card_is_a_card_for_any_pcsc_client(cps_card: VirtualCard) -> None:
    listed = subprocess.run(
        [sys.executable, "-c", "from smartcard.System import readers; r = readers()[0];"
         "c = r.createConnection(); c.connect(); print(bytes(c.getATR()).hex())"],
        env=cps_card.env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert listed.stdout.strip() == "3bac00402a001225006480000310009000", listed.stderr
    wrong = subprocess.run(
        ["pkcs11-tool", "--module", MODULE, "--login", "--pin", "0000", "-O"],
        env=cps_card.env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert wrong.returncode != 0 and cps_card.pin_tries == 2
    assert any("VERIFY ref 01 -> 63C2" in line for line in cps_card.log())
    cps_card.remove()
    gone = subprocess.run(["opensc-tool", "-n"], env=cps_card.env, capture_output=True, text=True, timeout=30)
    assert gone.returncode != 0


@pytest.mark.cps_card(profile="nurse")
def test_the_marker_chooses_the_profile(cps_card: VirtualCard) -> None:
    out = subprocess.run(["pkcs15-tool", "-D"], env=cps_card.env, capture_output=True, text=True, timeout=30)
    assert "CPS_NAME_PS" in out.stdout
    assert cps_card.card is not None and b"0756012345" in bytes(
        cps_card.card.mf.children[0x0001].children[0x7103].content
    )


def test_world_fixtures_drive_a_psc_login(cps_world: WorldHost, psc: WorldHost, phone: WorldHost,
                                         directory: WorldHost, clock: WorldHost) -> None:  # fmt: skip
    national_id = directory.add_professional(first_name="ALAIN", last_name="D0000020981", profession="10",
                                             rpps="99700209812")  # fmt: skip
    directory.activate_ecps(national_id, "4321")
    psc.register_client("my-app", "secret", ["https://my-app.test/cb"])

    async def login() -> str:
        async with cps_world.world.client() as http:
            params = {"client_id": "my-app", "redirect_uri": "https://my-app.test/cb", "response_type": "code",
                      "scope": "openid scope_all", "state": "s"}  # fmt: skip
            async with http.get(cps_world.urls["wallet"] + "/auth", params=params) as reply:
                page = await reply.text()
            action = page.split('action="')[1].split('"')[0]
            async with http.post(cps_world.urls["wallet"] + action, data={"identifiant": national_id}) as reply:
                waiting = str(reply.url)
            phone.approve("4321")
            async with http.get(waiting, allow_redirects=False) as reply:
                return reply.headers["Location"]

    location = cps_world.run(login())
    assert parse_qs(urlparse(location).query)["state"] == ["s"]
    assert "code" in parse_qs(urlparse(location).query)
    assert cps_world.discovery_url.endswith("/auth/realms/esante-wallet/.well-known/wallet-openid-configuration")
    before = clock.world.state.now()
    moved = clock.advance_clock("+48h") - before
    assert dt.timedelta(hours=48) <= moved < dt.timedelta(hours=48, seconds=10), "48 h, plus the time running"
    assert abs(before - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1), "a fixture world starts at real time"


def test_cps_scenario_runs_a_catalogue_path(cps_scenario: object) -> None:
    result = cps_scenario("G2-04")  # type: ignore[operator]
    assert result.ok and result.events[-1].screen == "coordonnees-absentes"
