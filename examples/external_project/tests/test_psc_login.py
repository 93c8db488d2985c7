"""My relying party's login with Pro Santé Connect, against cps-harness's world (``cps_world``).

The world's sites keep their real host names on loopback ports: ``cps_world.httpx_client()`` (or
``transport=cps_world.transport()`` for authlib) reaches them and trusts the world's CA.
``test_rpps(n)`` makes a valid RPPS number of ANS's test range for each professional a test needs.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from urllib.parse import parse_qs, urlparse

from authlib.integrations.httpx_client import AsyncOAuth2Client

from simulators.identifiers import test_rpps

REDIRECT = "http://127.0.0.1:9/callback"  # never fetched: the login stops at PSC's redirect


async def log_in(cps_world, phone, national_id: str) -> dict:
    rp = AsyncOAuth2Client(
        "mon-outil",
        "s3cret-de-test",
        scope="openid scope_all",
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        transport=cps_world.transport(),
    )
    async with rp, cps_world.httpx_client(follow_redirects=True) as browser:
        config = (await rp.request("GET", cps_world.discovery_url, withhold_token=True)).json()
        verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
        url, state = rp.create_authorization_url(
            config["authorization_endpoint"], code_verifier=verifier, nonce=nonce, acr_values="eidas1"
        )
        page = await browser.get(url)  # PSC's login page, on the wallet host
        action = re.search(r'action="(/auth/[^"]+/ecps)"', page.text).group(1)
        waiting = await browser.post(str(page.url.join(action)), data={"identifiant": national_id})
        await asyncio.to_thread(phone.approve, "4321")  # the professional approves on the e-CPS app
        answer = await browser.get(str(waiting.url), follow_redirects=False)
        query = parse_qs(urlparse(answer.headers["location"]).query)
        assert query["state"] == [state]
        token = await rp.fetch_token(config["token_endpoint"], code=query["code"][0], code_verifier=verifier)
        assert token["refresh_token"]
        return (await rp.get(config["userinfo_endpoint"])).json()


def test_a_doctor_logs_in_with_the_e_cps(cps_world, psc, phone, directory) -> None:
    rpps = test_rpps(4242)
    national_id = directory.add_professional(first_name="ALAIN", last_name="MARTIN", profession="10", rpps=rpps)
    directory.activate_ecps(national_id, "4321")
    psc.register_client("mon-outil", "s3cret-de-test", [REDIRECT], require_pkce=True)
    userinfo = asyncio.run(log_in(cps_world, phone, national_id))
    assert national_id == "8" + rpps and userinfo["SubjectNameID"] == national_id
    assert userinfo["given_name"] == "ALAIN"
