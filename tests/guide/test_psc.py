"""Pro Santé Connect as relying parties meet it: an authlib client, code + PKCE + nonce, CIBA, G5."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlparse

import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from cryptography.hazmat.primitives import serialization
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from harness.card.profile import load_profile, make_card
from harness.drivers.page import parse_page
from harness.middleware import PKCS1_ONLY, client_env
from harness.pki import Pki
from harness.world.assembly import World
from harness.world.resolver import WorldTransport
from simulators.web import hosts
from simulators.web.psc.rules import REALM_PATH, Client, Fault, register_client
from simulators.world.directory import Activity, Contacts, Professional
from tests.support.visitor import Visitor

START = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
NATIONAL_ID = "899700209812"
REDIRECT = "https://rp.example.test/callback"
CLIENT_ID, SECRET = "sidep-test", "s3cret-sidep"


@pytest.fixture
async def world(session_pki: Pki) -> AsyncIterator[World]:
    async with World(pki=session_pki, start=START, cards=False) as running:
        running.state.directory.add(
            Professional(
                "M", "ALAIN", "D0000020981", "10", rpps="99700209812",
                contacts=Contacts("alain@cabinet.test", "+33600000002"),
                activities=[Activity("L", "SA07", "R95141", "CABINET M D0000020981", "75009")],
            )
        )  # fmt: skip
        running.state.ecps.activate(NATIONAL_ID, "telephone-1", "4321", "sans carte", running.state.now())
        assert running.psc is not None
        register_client(running.psc, Client(CLIENT_ID, SECRET, [REDIRECT], "SI-DEP", require_pkce=True))
        yield running


def names(world: World) -> dict[str, str]:
    return {site.host: site.running.host for site in world.sites.values()}


@pytest.fixture
async def oauth(world: World) -> AsyncIterator[AsyncOAuth2Client]:
    assert world.pki is not None
    transport = WorldTransport(names(world), world.pki.server.client_context())
    async with AsyncOAuth2Client(
        CLIENT_ID, SECRET, scope="openid scope_all", redirect_uri=REDIRECT, code_challenge_method="S256",
        transport=transport,
    ) as client:  # fmt: skip
        yield client


async def discover(oauth: AsyncOAuth2Client, world: World) -> dict[str, Any]:
    """At PSC's non-standard path, as PSC clients must."""
    url = world.urls["psc"] + REALM_PATH + "/.well-known/wallet-openid-configuration"
    reply = await oauth.request("GET", url, withhold_token=True)
    assert reply.status_code == 200
    config: dict[str, Any] = reply.json()
    return config


async def browser_login(world: World, authorize_url: str, answer: str = "approve", password: str = "4321") -> str:
    """The professional at the browser: "Application e-CPS", national id, phone, redirect. Returns Location."""
    async with world.client() as http:
        visitor = Visitor(world, http)
        async with http.get(authorize_url) as reply:
            choice = parse_page(str(reply.url), reply.status, await reply.text())
        assert choice.screen == "choix-moyen", choice.html
        action = re.search(r'action="(/auth/[^"]+/ecps)"', choice.html)
        assert action
        async with http.post(world.urls["wallet"] + action.group(1), data={"identifiant": NATIONAL_ID}) as reply:
            waiting = parse_page(str(reply.url), reply.status, await reply.text())
        assert waiting.screen == "attente-telephone" and 'http-equiv="refresh"' in waiting.html
        status, pushes = await visitor.admin("GET", "/admin/phones/telephone-1/pushes")
        assert status == 200 and len(pushes) == 1 and pushes[0]["client"] == "SI-DEP"
        if answer == "approve":
            await visitor.admin("POST", f"/admin/pushes/{pushes[0]['id']}/approve", {"password": password})
        elif answer == "refuse":
            await visitor.admin("POST", f"/admin/pushes/{pushes[0]['id']}/refuse")
        elif answer == "ignore":
            world.state.clock.advance("+121s")
        async with http.get(waiting.url, allow_redirects=False) as reply:
            assert reply.status == 303, await reply.text()
            return reply.headers["Location"]


async def test_g5_01_code_flow_with_pkce_nonce_and_id_token_checked_against_jwks(
    world: World, oauth: AsyncOAuth2Client
) -> None:
    config = await discover(oauth, world)
    assert config["issuer"].endswith("/auth/realms/esante-wallet")
    assert config["authorization_endpoint"].startswith("https://wallet.esw.esante.gouv.fr:")
    verifier = "v" * 64
    url, state = oauth.create_authorization_url(
        config["authorization_endpoint"], code_verifier=verifier, nonce="n-0S6_WzA2Mj", acr_values="eidas1"
    )
    location = await browser_login(world, url)
    query = parse_qs(urlparse(location).query)
    assert location.startswith(REDIRECT) and query["state"] == [state]
    token = await oauth.fetch_token(config["token_endpoint"], code=query["code"][0], code_verifier=verifier)
    assert token["expires_in"] == 120 and token["token_type"] == "Bearer"

    jwks = KeySet.import_key_set((await oauth.request("GET", config["jwks_uri"], withhold_token=True)).json())
    id_token = jwt.decode(token["id_token"], jwks, algorithms=["RS256"])
    assert id_token.header["kid"] == jwks.keys[0].kid
    registry = jwt.JWTClaimsRegistry(
        now=int(world.state.now().timestamp()),  # the world's clock, not the machine's
        iss={"essential": True, "value": config["issuer"]},
        aud={"essential": True, "value": CLIENT_ID},
        nonce={"essential": True, "value": "n-0S6_WzA2Mj"},
        acr={"essential": True, "value": "eidas1"},
    )
    registry.validate(id_token.claims)
    assert id_token.claims["sub"].endswith(":" + NATIONAL_ID)

    info = (await oauth.get(config["userinfo_endpoint"])).json()
    assert info["SubjectNameID"] == NATIONAL_ID and info["preferred_username"] == NATIONAL_ID
    assert (info["given_name"], info["family_name"]) == ("ALAIN", "D0000020981")
    assert info["otherIds"] == [{"identifiant": NATIONAL_ID, "origine": "RPPS", "qualite": 1}]  # as the samples show
    activity = info["SubjectRefPro"]["exercices"][0]["activities"][0]
    assert activity["raisonSocialeSite"] == "CABINET M D0000020981" and info["SubjectOrganizationID"] == "R95141"

    introspected = (
        await oauth.post(
            config["introspection_endpoint"], data={"token": token["access_token"]}, auth=(CLIENT_ID, SECRET)
        )
    ).json()
    assert introspected["active"] is True and introspected["SubjectNameID"] == NATIONAL_ID
    await oauth.post(config["revocation_endpoint"], data={"token": token["access_token"]}, auth=(CLIENT_ID, SECRET))
    after = (await oauth.post(config["introspection_endpoint"], data={"token": token["access_token"]},
                              auth=(CLIENT_ID, SECRET))).json()  # fmt: skip
    assert after == {"active": False}
    world.state.clock.advance("+121s")


async def test_pkce_and_codes_are_strict(world: World, oauth: AsyncOAuth2Client) -> None:
    config = await discover(oauth, world)
    url, _ = oauth.create_authorization_url(config["authorization_endpoint"], code_verifier="w" * 64, nonce="n")
    code = parse_qs(urlparse(await browser_login(world, url)).query)["code"][0]
    base = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    wrong = await oauth.post(
        config["token_endpoint"], data={**base, "code_verifier": "x" * 64}, auth=(CLIENT_ID, SECRET)
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    again = await oauth.post(
        config["token_endpoint"], data={**base, "code_verifier": "w" * 64}, auth=(CLIENT_ID, SECRET)
    )
    assert again.json()["error"] == "invalid_grant", "a code is used once, even after a failure"
    bad_client = await oauth.post(config["token_endpoint"], data=base, auth=(CLIENT_ID, "nope"))
    assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"
    assert "WWW-Authenticate" in bad_client.headers


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"prompt": "none"}, "login_required"),
        ({"response_mode": "sms"}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),  # this client must use PKCE
        ({"code_challenge_method": "plain"}, "invalid_request"),
    ],
)
async def test_authorization_errors_go_back_to_the_client(
    world: World, query: dict[str, str | None], error: str
) -> None:
    params: dict[str, str | None] = {
        "client_id": CLIENT_ID, "redirect_uri": REDIRECT, "response_type": "code", "scope": "openid scope_all",
        "state": "xyz", "code_challenge": create_s256_code_challenge("a" * 50), "code_challenge_method": "S256",
        **query,
    }  # fmt: skip
    async with (
        world.client() as http,
        http.get(
            world.urls["wallet"] + "/auth",
            params={k: v for k, v in params.items() if v is not None},
            allow_redirects=False,
        ) as reply,
    ):
        assert reply.status == 303
        location = parse_qs(urlparse(reply.headers["Location"]).query)
    assert location["error"] == [error] and location["state"] == ["xyz"]


async def test_unknown_client_or_redirect_is_not_redirected(world: World) -> None:
    async with world.client() as http:
        for params in (
            {"client_id": "nobody", "redirect_uri": REDIRECT},
            {"client_id": CLIENT_ID, "redirect_uri": REDIRECT + "/evil"},
        ):
            async with http.get(world.urls["wallet"] + "/auth", params=params, allow_redirects=False) as reply:
                assert reply.status == 400 and 'data-screen="requete-invalide"' in await reply.text()


@pytest.mark.parametrize(("answer", "says"), [("refuse", "refusée"), ("ignore", "délai")])
async def test_g5_03_push_refused_or_ignored(world: World, oauth: AsyncOAuth2Client, answer: str, says: str) -> None:
    config = await discover(oauth, world)
    url, _ = oauth.create_authorization_url(config["authorization_endpoint"], code_verifier="w" * 64, nonce="n")
    query = parse_qs(urlparse(await browser_login(world, url, answer=answer)).query)
    assert query["error"] == ["access_denied"] and says in query["error_description"][0]


async def test_g5_02_wrong_e_cps_password_until_locked(world: World, oauth: AsyncOAuth2Client) -> None:
    config = await discover(oauth, world)
    url, _ = oauth.create_authorization_url(config["authorization_endpoint"], code_verifier="w" * 64, nonce="n")
    async with world.client() as http:
        visitor = Visitor(world, http)
        async with http.get(url) as reply:
            action = re.search(r'action="(/auth/[^"]+/ecps)"', await reply.text())
        assert action
        async with http.post(world.urls["wallet"] + action.group(1), data={"identifiant": NATIONAL_ID}) as reply:
            waiting_url = str(reply.url)
        _, pushes = await visitor.admin("GET", "/admin/phones/telephone-1/pushes")
        answers = [await visitor.admin("POST", f"/admin/pushes/{pushes[0]['id']}/approve", {"password": "0000"})
                   for _ in range(3)]  # fmt: skip
        assert [a[1]["error"] for a in answers] == ["wrong-password", "wrong-password", "locked"]
        async with http.get(waiting_url, allow_redirects=False) as reply:
            query = parse_qs(urlparse(reply.headers["Location"]).query)
    assert query["error"] == ["access_denied"] and "bloquée" in query["error_description"][0]


async def test_g5_04_no_e_cps_activated_for_this_id(world: World, oauth: AsyncOAuth2Client) -> None:
    world.state.directory.add(Professional("MME", "CAROLE", "PHARMACH0007512", "21", rpps="99700075122"))
    config = await discover(oauth, world)
    url, _ = oauth.create_authorization_url(config["authorization_endpoint"], code_verifier="w" * 64, nonce="n")
    async with world.client() as http:
        async with http.get(url) as reply:
            action = re.search(r'action="(/auth/[^"]+/ecps)"', await reply.text())
        assert action
        async with http.post(world.urls["wallet"] + action.group(1), data={"identifiant": "899700075122"}) as reply:
            page = parse_page(str(reply.url), reply.status, await reply.text())
    assert (page.status, page.screen) == (404, "aucune-e-cps") and "Aucune e-CPS n'est activée" in page.text


async def test_ciba_pending_slow_down_then_tokens(world: World, oauth: AsyncOAuth2Client) -> None:
    config = await discover(oauth, world)
    auth = (CLIENT_ID, SECRET)
    started = await oauth.post(config["backchannel_authentication_endpoint"], auth=auth, data={
        "login_hint": NATIONAL_ID, "binding_message": "00", "scope": "openid scope_all", "acr_values": "eidas1",
    })  # fmt: skip
    body = started.json()
    assert (body["expires_in"], body["interval"]) == (120, 1)
    poll = {"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": body["auth_req_id"]}
    first = await oauth.post(config["token_endpoint"], data=poll, auth=auth)
    assert (first.status_code, first.json()["error"]) == (400, "authorization_pending")
    assert (await oauth.post(config["token_endpoint"], data=poll, auth=auth)).json()["error"] == "slow_down"
    world.state.clock.advance("+2s")
    push = world.state.ecps.pending("telephone-1", world.state.now())[0]
    world.state.ecps.approve(push.id, "4321", world.state.now())
    tokens = await oauth.post(config["token_endpoint"], data=poll, auth=auth)
    assert tokens.status_code == 200 and "id_token" in tokens.json()


@pytest.mark.parametrize(("answer", "error"), [("refuse", "access_denied"), ("expire", "expired_token")])
async def test_ciba_refused_or_expired(world: World, oauth: AsyncOAuth2Client, answer: str, error: str) -> None:
    config = await discover(oauth, world)
    auth = (CLIENT_ID, SECRET)
    body = (await oauth.post(config["backchannel_authentication_endpoint"], auth=auth,
                             data={"login_hint": NATIONAL_ID, "scope": "openid"})).json()  # fmt: skip
    push = world.state.ecps.pending("telephone-1", world.state.now())[0]
    if answer == "refuse":
        world.state.ecps.refuse(push.id, world.state.now())
    else:
        world.state.clock.advance("+121s")
    poll = {"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": body["auth_req_id"]}
    assert (await oauth.post(config["token_endpoint"], data=poll, auth=auth)).json()["error"] == error


@pytest.mark.parametrize(
    "fault", [Fault.ID_TOKEN_EXPIRED, Fault.ID_TOKEN_TAMPERED, Fault.ID_TOKEN_WRONG_ISSUER, Fault.INVALID_GRANT]
)
async def test_named_faults_per_client(world: World, oauth: AsyncOAuth2Client, fault: Fault) -> None:
    config = await discover(oauth, world)
    async with world.client() as http:
        status, _ = await Visitor(world, http).admin("POST", "/admin/psc/faults",
                                                     {"client_id": CLIENT_ID, "faults": [fault.value]})  # fmt: skip
    assert status == 200
    url, _ = oauth.create_authorization_url(config["authorization_endpoint"], code_verifier="w" * 64, nonce="n")
    code = parse_qs(urlparse(await browser_login(world, url)).query)["code"][0]
    exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": "w" * 64}
    reply = await oauth.post(config["token_endpoint"], auth=(CLIENT_ID, SECRET), data=exchange)
    if fault is Fault.INVALID_GRANT:
        assert reply.json()["error"] == "invalid_grant"
        return
    jwks = KeySet.import_key_set((await oauth.request("GET", config["jwks_uri"], withhold_token=True)).json())
    registry = jwt.JWTClaimsRegistry(
        now=int(world.state.now().timestamp()),
        iss={"essential": True, "value": config["issuer"]},
        aud={"value": CLIENT_ID},
    )
    with pytest.raises(JoseError):
        registry.validate(jwt.decode(reply.json()["id_token"], jwks, algorithms=["RS256"]).claims)


async def test_access_denied_fault_per_user(world: World, oauth: AsyncOAuth2Client) -> None:
    assert world.psc is not None
    world.psc.user_faults[NATIONAL_ID] = {Fault.ACCESS_DENIED}
    config = await discover(oauth, world)
    url, _ = oauth.create_authorization_url(config["authorization_endpoint"], code_verifier="w" * 64, nonce="n")
    assert parse_qs(urlparse(await browser_login(world, url)).query)["error"] == ["access_denied"]


@pytest.mark.parametrize(
    ("path", "data", "error", "status"),
    [
        ("/token", {"grant_type": "password"}, "unsupported_grant_type", 400),
        ("/token", {}, "invalid_request", 400),
        ("/token", {"grant_type": "authorization_code"}, "invalid_request", 400),
        ("/token/introspect", {}, "invalid_request", 400),
    ],
)
async def test_token_endpoint_errors(
    world: World, oauth: AsyncOAuth2Client, path: str, data: dict[str, str], error: str, status: int
) -> None:
    config = await discover(oauth, world)
    base = config["issuer"] + "/protocol/openid-connect"
    reply = await oauth.post(base + path, data=data, auth=(CLIENT_ID, SECRET))
    assert (reply.status_code, reply.json()["error"]) == (status, error)
    bearer = await oauth.request(
        "GET", config["userinfo_endpoint"], headers={"Authorization": "Bearer nope"}, withhold_token=True
    )
    assert bearer.status_code == 401 and bearer.json()["error"] == "invalid_token"


async def test_discovery_is_served_at_both_paths(world: World) -> None:
    async with world.client() as http:
        for path in ("/.well-known/openid-configuration", "/.well-known/wallet-openid-configuration"):
            async with http.get(world.urls["psc"] + REALM_PATH + path) as reply:
                assert reply.status == 200 and (await reply.json())["code_challenge_methods_supported"] == [
                    "plain",
                    "S256",
                ]


async def test_g5_05_carte_cps_login_through_the_virtual_card(session_pki: Pki, tmp_path: Path) -> None:
    """ "Carte CPS": TLS client authentication with the card on the wallet's card port, code back to the client."""
    async with World(pki=session_pki, start=START) as world:
        assert world.psc is not None and world.stack is not None and world.ca_bundle is not None
        register_client(world.psc, Client(CLIENT_ID, SECRET, [REDIRECT], "SI-DEP"))
        card, credentials = make_card(load_profile("doctor"), session_pki, world.state.now())
        await world.readers[0].insert(card)
        cert = tmp_path / "auth.pem"
        cert.write_bytes(credentials.authentication.certificate.public_bytes(serialization.Encoding.PEM))
        conf = tmp_path / "pkcs1.cnf"
        conf.write_text(PKCS1_ONLY)
        params = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT, "response_type": "code",
                  "scope": "openid scope_all", "state": "st", "nonce": "nn"}  # fmt: skip
        async with world.client() as http, http.get(world.urls["wallet"] + "/auth", params=params) as reply:
            choice = await reply.text()
        link = re.search(r'href="(https://[^"]+/auth/[^"]+/carte)"', choice)
        assert link, choice
        port = world.sites["wallet-card"].running.port
        process = await asyncio.create_subprocess_exec(
            "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "--engine", "pkcs11",
            "--key-type", "ENG", "--key", "pkcs11:object=CPS_PRIV_AUT;type=private;pin-value=1234",
            "--cert", str(cert), "--cacert", str(world.ca_bundle),
            "--resolve", f"{hosts.WALLET}:{port}:127.0.0.1", link.group(1),
            env={**client_env(world.stack), "OPENSSL_CONF": str(conf)},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), 60)
        status, location = out.decode().split(" ", 1)
        assert status == "303", err.decode()
        query = parse_qs(urlparse(location).query)
        assert location.startswith(REDIRECT) and query["state"] == ["st"] and query["code"]
        grant = world.psc.codes[query["code"][0]]
        assert (grant.national_id, grant.auth_mode) == (NATIONAL_ID, "CARD")
        assert any("INTERNAL AUTHENTICATE -> 6100" in entry.line() for entry in card.log)


# -- as Keycloak answers relying parties ----------------------------------------------------------------------
SANDBOX_DISCOVERY_FIELDS = {
    "issuer", "authorization_endpoint", "token_endpoint", "introspection_endpoint", "userinfo_endpoint",
    "end_session_endpoint", "jwks_uri", "grant_types_supported", "response_types_supported",
    "subject_types_supported", "id_token_signing_alg_values_supported", "response_modes_supported",
    "token_endpoint_auth_methods_supported", "claims_supported", "claim_types_supported",
    "claims_parameter_supported", "scopes_supported", "request_parameter_supported",
    "request_uri_parameter_supported", "code_challenge_methods_supported",
}  # fmt: skip
"""The sandbox's fields that describe what the simulator does too (docs/psc-real-clients.md)."""
SANDBOX_SCOPES = ["openid", "address", "email", "identity", "microprofile-jwt", "offline_access", "phone", "profile",
                  "roles", "scope_1", "scope_2", "scope_all", "web-origins", "eidas2"]  # fmt: skip


async def test_discovery_is_the_sandboxs_with_this_worlds_urls(world: World, oauth: AsyncOAuth2Client) -> None:
    config = await discover(oauth, world)
    assert set(config) >= SANDBOX_DISCOVERY_FIELDS
    issuer = config["issuer"]
    assert config["token_endpoint"] == issuer + "/protocol/openid-connect/token"
    assert config["backchannel_authentication_endpoint"] == issuer + "/protocol/openid-connect/ext/ciba/auth"
    assert config["scopes_supported"][: len(SANDBOX_SCOPES)] == SANDBOX_SCOPES
    assert config["response_modes_supported"] == ["query", "fragment", "form_post"]
    assert "refresh_token" in config["grant_types_supported"]
    assert config["request_uri_parameter_supported"] is False, "request objects are not implemented: said so"
    for absent in ("check_session_iframe", "registration_endpoint", "tls_client_certificate_bound_access_tokens"):
        assert absent not in config


async def test_client_secret_basic_is_form_urlencoded_as_rfc_6749_says(world: World) -> None:
    """openid-client sends ``node%2Drp:s%2Bcr%C3%A9t`` for node-rp / s+crét: it must be decoded."""
    assert world.psc is not None
    register_client(world.psc, Client("node-rp.test_1", "s+crét/=", [REDIRECT], "Node RP"))
    encoded = base64.b64encode(f"{quote_plus('node-rp.test_1')}:{quote_plus('s+crét/=')}".encode()).decode()
    url = world.urls["psc"] + REALM_PATH + "/protocol/openid-connect/token"
    async with world.client() as http:
        for header in (f"Basic {encoded}", "Basic " + base64.b64encode(b"node-rp.test_1:wrong").decode()):
            async with http.post(url, data={"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT},
                                 headers={"Authorization": header}) as reply:  # fmt: skip
                answers = reply.status, (await reply.json())["error"]
            assert answers == ((400, "invalid_grant") if header.endswith(encoded) else (401, "invalid_client"))


def refreshing(answer: dict[str, Any]) -> dict[str, str]:
    return {"grant_type": "refresh_token", "refresh_token": answer["refresh_token"]}


async def test_refresh_rotation_revocation_and_logout_through_the_endpoints(
    world: World, oauth: AsyncOAuth2Client
) -> None:
    config = await discover(oauth, world)
    url, _ = oauth.create_authorization_url(config["authorization_endpoint"], code_verifier="r" * 64, nonce="n")
    code = parse_qs(urlparse(await browser_login(world, url)).query)["code"][0]
    first = await oauth.fetch_token(config["token_endpoint"], code=code, code_verifier="r" * 64)
    assert first["refresh_token"] and first["refresh_expires_in"] == 1800
    world.state.clock.advance("+5min")  # the access token (120 s) is long dead: the refresh still works
    second = await oauth.refresh_token(config["token_endpoint"], refresh_token=first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"]
    assert (await oauth.get(config["userinfo_endpoint"])).json()["SubjectNameID"] == NATIONAL_ID
    reused = await oauth.post(config["token_endpoint"], auth=(CLIENT_ID, SECRET),
                              data=refreshing(first))  # fmt: skip
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
    seen = (await oauth.post(config["introspection_endpoint"], auth=(CLIENT_ID, SECRET),
                             data={"token": second["refresh_token"]})).json()  # fmt: skip
    assert seen["active"] is True and seen["typ"] == "Refresh"
    await oauth.post(config["revocation_endpoint"], auth=(CLIENT_ID, SECRET),
                     data={"token": second["refresh_token"], "token_type_hint": "refresh_token"})  # fmt: skip
    after = await oauth.post(config["token_endpoint"], auth=(CLIENT_ID, SECRET),
                             data=refreshing(second))  # fmt: skip
    assert after.json()["error"] == "invalid_grant"
    gone = (await oauth.post(config["introspection_endpoint"], auth=(CLIENT_ID, SECRET),
                             data={"token": second["access_token"]})).json()  # fmt: skip
    assert gone == {"active": False}, "revoking the refresh token ends its session's access tokens"

    url, _ = oauth.create_authorization_url(config["authorization_endpoint"], code_verifier="s" * 64, nonce="n")
    code = parse_qs(urlparse(await browser_login(world, url)).query)["code"][0]
    third = await oauth.fetch_token(config["token_endpoint"], code=code, code_verifier="s" * 64)
    async with (
        world.client() as http,
        http.get(
            config["end_session_endpoint"], params={"id_token_hint": third["id_token"]}, allow_redirects=False
        ) as reply,
    ):
        assert reply.status == 200
    ended = await oauth.post(config["token_endpoint"], auth=(CLIENT_ID, SECRET),
                             data=refreshing(third))  # fmt: skip
    assert ended.json()["error"] == "invalid_grant", "logout ends the session"


@pytest.mark.parametrize(
    ("grant_type", "status", "error"),
    [("password", 400, "unsupported_grant_type"), ("client_credentials", 400, "unsupported_grant_type"),
     ("refresh_token", 400, "unauthorized_client")],
)  # fmt: skip
async def test_grants_a_client_may_not_use_are_refused_by_name(
    world: World, grant_type: str, status: int, error: str
) -> None:
    assert world.psc is not None
    register_client(world.psc, Client("code-only", "s", [REDIRECT], "Code", grant_types=("authorization_code",)))
    url = world.urls["psc"] + REALM_PATH + "/protocol/openid-connect/token"
    async with (
        world.client() as http,
        http.post(url, data={"grant_type": grant_type, "client_id": "code-only", "client_secret": "s"}) as reply,
    ):
        assert (reply.status, (await reply.json())["error"]) == (status, error)


@pytest.mark.parametrize("mode", ["fragment", "form_post"])
async def test_the_code_comes_back_in_the_response_mode_asked(world: World, mode: str) -> None:
    params = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT, "response_type": "code", "scope": "openid",
              "state": "st", "response_mode": mode, "code_challenge": create_s256_code_challenge("m" * 50),
              "code_challenge_method": "S256"}  # fmt: skip
    authorize = world.urls["wallet"] + "/auth?" + "&".join(f"{k}={v}" for k, v in params.items())
    async with world.client() as http:
        async with http.get(authorize) as reply:
            action = re.search(r'action="(/auth/[^"]+/ecps)"', await reply.text())
        assert action
        async with http.post(world.urls["wallet"] + action.group(1), data={"identifiant": NATIONAL_ID}) as reply:
            waiting = str(reply.url)
        push = world.state.ecps.pending("telephone-1", world.state.now())[0]
        world.state.ecps.approve(push.id, "4321", world.state.now())
        async with http.get(waiting, allow_redirects=False) as reply:
            if mode == "fragment":
                location = reply.headers["Location"]
                fields = parse_qs(urlparse(location).fragment)
                assert reply.status == 303 and location.startswith(REDIRECT + "#") and "?" not in location
            else:
                page = parse_page(str(reply.url), reply.status, await reply.text())
                assert page.screen == "retour-application" and "document.forms[0].submit()" in page.html
                (form,) = page.forms
                assert (form.method, form.action) == ("post", REDIRECT) and set(form.fields) == {"code", "state"}
                fields = {k: [v] for k, v in re.findall(r'name="(\w+)" value="([^"]*)"', page.html)}
    assert fields["state"] == ["st"] and fields["code"][0] in world.psc.codes  # type: ignore[union-attr]


async def test_ciba_is_at_keycloaks_path_and_its_answer_has_a_refresh_token(world: World) -> None:
    issuer = world.urls["psc"] + REALM_PATH
    basic = {"Authorization": "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()}
    async with world.client() as http:
        async with http.post(issuer + "/protocol/openid-connect/ext/ciba/auth", headers=basic,
                             data={"login_hint": NATIONAL_ID, "scope": "openid scope_all"}) as reply:  # fmt: skip
            assert reply.status == 200
            auth_req_id = (await reply.json())["auth_req_id"]
        push = world.state.ecps.pending("telephone-1", world.state.now())[0]
        world.state.ecps.approve(push.id, "4321", world.state.now())
        async with http.post(issuer + "/protocol/openid-connect/token", headers=basic,
                             data={"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": auth_req_id}
                             ) as reply:  # fmt: skip
            answer = await reply.json()
    assert reply.status == 200 and answer["refresh_token"]
