"""Refresh tokens, sessions and the newer authorization rules of Pro Santé Connect, as Keycloak has them.

A refresh token comes with every code-flow and CIBA answer; using it rotates it (the old one is then
``invalid_grant``), it lives 30 min idle within a 10 h session, ``offline_access`` makes an offline
token of 30 days; revoking it ends the session and its access tokens. Plain world state, the clock
moved by hand.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import RSAKey

from simulators.web.psc.rules import (
    AUTHORIZATION_CODE,
    CIBA_GRANT,
    REALM_PATH,
    Client,
    OAuthError,
    PscState,
    exchange_code,
    exchange_refresh,
    issue_code,
    read_access_token,
    register_client,
    revoke_session,
    start_authorization,
    start_ciba,
    tokens,
)
from simulators.world.clock import Clock
from simulators.world.directory import Professional
from simulators.world.state import DEFAULT_DEVICE, WorldState

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
ISSUER = "https://auth.esw.esante.gouv.fr" + REALM_PATH
NATIONAL_ID = "899700209812"
REDIRECT = "https://rp.example.test/callback"
RP, CODE_ONLY = "ans-poc-bas-psc", "code-only-rp"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def psc(key: rsa.RSAPrivateKey) -> PscState:
    state = PscState.from_key(key)
    register_client(state, Client(RP, "s3cret", [REDIRECT], "Portail"))
    register_client(state, Client(CODE_ONLY, "s3cret", [REDIRECT], "Sans refresh", grant_types=(AUTHORIZATION_CODE,)))
    return state


@pytest.fixture
def world() -> WorldState:
    state = WorldState(clock=Clock(START))
    state.directory.add(Professional("M", "ALAIN", "D0000020981", "10", rpps="99700209812"))
    state.ecps.activate(NATIONAL_ID, DEFAULT_DEVICE, "4321", "carte", START)
    return state


def claims_of(token: str, key: rsa.RSAPrivateKey) -> dict[str, Any]:
    return dict(jwt.decode(token, RSAKey.import_key(key.public_key()), algorithms=["RS256"]).claims)


def login(psc: PscState, world: WorldState, scope: str = "openid scope_all") -> dict[str, Any]:
    params = {"client_id": RP, "redirect_uri": REDIRECT, "response_type": "code", "scope": scope}
    request = start_authorization(psc, params, world.now())
    code = issue_code(psc, request, NATIONAL_ID, "MOBILE", world.now())
    grant = exchange_code(psc, psc.clients[RP], {"code": code, "redirect_uri": REDIRECT}, world.now())
    return tokens(psc, grant, ISSUER, world.now())


def refresh(psc: PscState, world: WorldState, token: str, **form: str) -> dict[str, Any]:
    grant = exchange_refresh(psc, psc.clients[RP], {"refresh_token": token, **form}, ISSUER, world.now())
    return tokens(psc, grant, ISSUER, world.now())


def refused(psc: PscState, world: WorldState, token: str, client: str = RP, **form: str) -> str:
    with pytest.raises(OAuthError) as excinfo:
        exchange_refresh(psc, psc.clients[client], {"refresh_token": token, **form}, ISSUER, world.now())
    return excinfo.value.error


def test_a_code_answer_carries_a_refresh_token_as_keycloak_answers(
    psc: PscState, world: WorldState, key: rsa.RSAPrivateKey
) -> None:
    answer = login(psc, world)
    assert {"access_token", "id_token", "refresh_token", "refresh_expires_in", "session_state"} <= set(answer)
    assert answer["refresh_expires_in"] == 1800, "Keycloak's SSO Session Idle: 30 min"
    claims = claims_of(answer["refresh_token"], key)
    assert (claims["typ"], claims["azp"], claims["aud"], claims["exp"] - claims["iat"]) == (
        "Refresh", RP, ISSUER, 1800,
    )  # fmt: skip
    assert claims["sid"] == answer["session_state"] == claims_of(answer["id_token"], key)["sid"]


def test_a_refresh_gives_new_tokens_for_the_same_login(
    psc: PscState, world: WorldState, key: rsa.RSAPrivateKey
) -> None:
    first = login(psc, world)
    world.clock.advance("10min")
    second = refresh(psc, world, first["refresh_token"])
    access = claims_of(second["access_token"], key)
    assert access["iat"] == int(world.now().timestamp()) and access["preferred_username"] == NATIONAL_ID
    assert access["auth_time"] == int(START.timestamp()), "the login's time, not the refresh's"
    assert second["refresh_token"] != first["refresh_token"]
    assert read_access_token(psc, second["access_token"], ISSUER, world.now())["sid"] == first["session_state"]


def test_a_refresh_token_is_used_once(psc: PscState, world: WorldState) -> None:
    first = login(psc, world)
    second = refresh(psc, world, first["refresh_token"])
    assert refused(psc, world, first["refresh_token"]) == "invalid_grant"
    assert refresh(psc, world, second["refresh_token"])["access_token"]


def test_a_refresh_token_expires_after_30_minutes_idle_and_the_session_after_10_hours(
    psc: PscState, world: WorldState
) -> None:
    answer = login(psc, world)
    world.clock.advance("30min")
    assert refused(psc, world, answer["refresh_token"]) == "invalid_grant"
    token = login(psc, world)["refresh_token"]
    for _ in range(30):  # every 29 min: the idle time never runs out, the session's 10 h do
        world.clock.advance("29min")
        try:
            token = refresh(psc, world, token)["refresh_token"]
        except OAuthError as exc:
            assert exc.error == "invalid_grant"
            break
    else:
        pytest.fail("a session was refreshed past 10 hours")
    assert dt.timedelta(hours=10) < world.now() - START <= dt.timedelta(hours=10, minutes=30 + 29)


def test_offline_access_gives_an_offline_token_of_30_days(
    psc: PscState, world: WorldState, key: rsa.RSAPrivateKey
) -> None:
    answer = login(psc, world, "openid scope_all offline_access")
    assert claims_of(answer["refresh_token"], key)["typ"] == "Offline"
    assert answer["refresh_expires_in"] == 30 * 24 * 3600
    world.clock.advance("20d")
    assert refresh(psc, world, answer["refresh_token"])["access_token"], "no 10 h limit offline"


def test_a_refresh_may_narrow_the_scope_not_widen_it(psc: PscState, world: WorldState, key: rsa.RSAPrivateKey) -> None:
    answer = login(psc, world, "openid scope_all email")
    narrowed = refresh(psc, world, answer["refresh_token"], scope="openid email")
    assert claims_of(narrowed["access_token"], key)["scope"] == "openid email"
    assert refused(psc, world, narrowed["refresh_token"], scope="openid phone") == "invalid_scope"


def test_a_refresh_token_belongs_to_its_client(psc: PscState, world: WorldState) -> None:
    answer = login(psc, world)
    assert refused(psc, world, answer["refresh_token"], client=CODE_ONLY) == "invalid_grant"


@pytest.mark.parametrize("token", ["", "not.a.jwt", "a" * 300])
def test_a_malformed_refresh_token_is_invalid_grant_or_request(psc: PscState, world: WorldState, token: str) -> None:
    assert refused(psc, world, token) == ("invalid_request" if not token else "invalid_grant")


def test_an_access_token_or_an_id_token_is_no_refresh_token(psc: PscState, world: WorldState) -> None:
    answer = login(psc, world)
    assert refused(psc, world, answer["access_token"]) == "invalid_grant"
    assert refused(psc, world, answer["id_token"]) == "invalid_grant"


def test_revoking_the_session_stops_its_refresh_and_access_tokens(psc: PscState, world: WorldState) -> None:
    answer = login(psc, world)
    revoke_session(psc, answer["session_state"])
    assert refused(psc, world, answer["refresh_token"]) == "invalid_grant"
    with pytest.raises(OAuthError) as excinfo:
        read_access_token(psc, answer["access_token"], ISSUER, world.now())
    assert excinfo.value.error == "invalid_token"
    other = login(psc, world)
    assert read_access_token(psc, other["access_token"], ISSUER, world.now()), "another login is not touched"


def test_a_ciba_answer_carries_a_refresh_token(psc: PscState, world: WorldState, key: rsa.RSAPrivateKey) -> None:
    from simulators.web.psc.rules import poll_ciba

    request = start_ciba(psc, world, psc.clients[RP], {"login_hint": NATIONAL_ID, "scope": "openid scope_all"})
    push = world.ecps.pending(DEFAULT_DEVICE, world.now())[0]
    world.ecps.approve(push.id, "4321", world.now())
    grant = poll_ciba(psc, world, psc.clients[RP], {"auth_req_id": request.auth_req_id})
    assert claims_of(tokens(psc, grant, ISSUER, world.now())["refresh_token"], key)["typ"] == "Refresh"


def test_a_client_registered_without_a_grant_is_unauthorized_for_it(psc: PscState, world: WorldState) -> None:
    with pytest.raises(OAuthError) as excinfo:
        start_ciba(psc, world, psc.clients[CODE_ONLY], {"login_hint": NATIONAL_ID, "scope": "openid"})
    assert excinfo.value.error == "unauthorized_client"
    register_client(psc, Client("ciba-only", "s", [REDIRECT], "CIBA", grant_types=(CIBA_GRANT,)))
    with pytest.raises(OAuthError) as excinfo:
        start_authorization(
            psc, {"client_id": "ciba-only", "redirect_uri": REDIRECT, "response_type": "code", "scope": "openid"},
            world.now(),
        )  # fmt: skip
    assert excinfo.value.error == "unauthorized_client"


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"prompt": "none"}, "login_required"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"prompt": "create"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"response_mode": "web_message"}, "invalid_request"),
        ({"scope": "openid gold"}, "invalid_scope"),
    ],
)
def test_authorization_rules_refuse_with_the_oidc_error(
    psc: PscState, world: WorldState, extra: dict[str, str], error: str
) -> None:
    params = {"client_id": RP, "redirect_uri": REDIRECT, "response_type": "code", "scope": "openid", **extra}
    with pytest.raises(OAuthError) as excinfo:
        start_authorization(psc, params, world.now())
    assert excinfo.value.error == error


@pytest.mark.parametrize(
    "extra",
    [{"prompt": "login"}, {"prompt": "login consent"}, {"max_age": "0"}, {"response_mode": "form_post"},
     {"scope": "openid offline_access roles eidas2 web-origins"}],
)  # fmt: skip
def test_what_the_sandbox_advertises_is_accepted(psc: PscState, world: WorldState, extra: dict[str, str]) -> None:
    params = {"client_id": RP, "redirect_uri": REDIRECT, "response_type": "code", "scope": "openid", **extra}
    request = start_authorization(psc, params, world.now())
    assert request.response_mode == extra.get("response_mode", "query")
