"""examples/psc_webapp: a relying party's web app against Pro Santé Connect, with the plugin's fixtures."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import aiohttp
import pytest

from harness.world.host import WorldHost
from harness.world.resolver import WorldTransport
from harness.world.sites import start_site
from tests.support.paths import REPO

APP = REPO / "examples" / "psc_webapp" / "app.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("psc_webapp", APP)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["psc_webapp"] = module
    spec.loader.exec_module(module)
    return module


async def log_in(world: WorldHost, answer: str, later: list[str] | None = None) -> tuple[int, str]:
    """Log in through the app; then, for each offset in ``later``, move the world's clock by it and
    open ``/profil``: the last page is returned."""
    example = load_example()
    pki = world.world.pki
    assert pki is not None
    settings = example.Settings(
        issuer=world.issuer, client_id="my-app", client_secret="s3cret", redirect_uri="",
        transport=lambda: WorldTransport(world.resolve(), pki.server.client_context()),
        now=lambda: world.world.state.now().timestamp(),
    )  # fmt: skip
    site = await start_site("my-app", example.make_app(settings))
    try:
        settings.redirect_uri = site.url + "/callback"
        world.register_client("my-app", "s3cret", [settings.redirect_uri])
        # the app listens on 127.0.0.1: a browser's cookie jar must accept cookies from an IP address
        async with world.world.client(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            async with browser.get(site.url + "/login") as reply:  # → PSC's login page on the wallet host
                page = await reply.text()
            action = page.split('action="')[1].split('"')[0]
            async with browser.post(world.urls["wallet"] + action, data={"identifiant": "899700209812"}) as reply:
                waiting = str(reply.url)
            world.approve("4321") if answer == "approve" else world.refuse()
            async with browser.get(waiting) as reply:  # → the app's callback → its home page
                status, page = reply.status, await reply.text()
            for offset in later or []:
                world.advance_clock(offset)
                async with browser.get(site.url + "/profil") as reply:
                    status, page = reply.status, await reply.text()
            return status, page
    finally:
        await site.stop()


@pytest.fixture
def doctor(directory: WorldHost) -> str:
    national_id = directory.add_professional(first_name="ALAIN", last_name="D0000020981", profession="10",
                                             rpps="99700209812")  # fmt: skip
    directory.activate_ecps(national_id, "4321")
    return national_id


def test_login_succeeds_when_the_phone_approves(cps_world: WorldHost, doctor: str) -> None:
    status, page = cps_world.run(log_in(cps_world, "approve"))
    assert status == 200 and "Bonjour ALAIN D0000020981 (899700209812)" in page


def test_refusal_on_the_phone(cps_world: WorldHost, doctor: str) -> None:
    status, page = cps_world.run(log_in(cps_world, "refuse"))
    assert status == 401 and "refusée sur le téléphone" in page


def test_an_expired_id_token_is_refused(cps_world: WorldHost, psc: WorldHost, doctor: str) -> None:
    psc.psc_faults("id_token_expired", client_id="my-app")
    status, page = cps_world.run(log_in(cps_world, "approve"))
    assert status == 401 and "id_token refusé" in page


def test_the_app_refreshes_its_access_token_when_psc_says_it_expired(cps_world: WorldHost, doctor: str) -> None:
    """5 min on, the 120 s access token is refused at userinfo: the app uses its refresh token (the
    new id_token names the same professional) and reads userinfo again; 5 more minutes, again, with
    the rotated refresh token."""
    status, page = cps_world.run(log_in(cps_world, "approve", later=["+5min", "+5min"]))
    assert status == 200 and "Bonjour ALAIN D0000020981 (899700209812)" in page
    assert "Session renouvelée 2 fois" in page


def test_the_app_logs_in_again_when_the_psc_session_is_over(cps_world: WorldHost, doctor: str) -> None:
    """11 h on, past the 10 h session maximum: the refresh answers invalid_grant, the app sends the
    professional back to PSC's login page."""
    status, page = cps_world.run(log_in(cps_world, "approve", later=["+11h"]))
    assert status == 200 and 'name="identifiant"' in page and "Bonjour" not in page
