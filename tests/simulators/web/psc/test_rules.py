"""Pro Santé Connect's rules (``simulators/web/psc/rules.py``), called directly on a plain world state.

Covers client registration and authentication, the authorization request (exact ``redirect_uri``,
scopes, ``acr_values``, PKCE), codes (single use, 60 s on the world clock, bound to client and
``redirect_uri``), token responses (access token of 120 s, id_token claims, RS256 signature with
``kid``, checked independently with joserfc and the public key), the access-token checks behind
userinfo, introspection and revocation, userinfo shapes from the directory, the browser e-CPS push,
CIBA polling (``authorization_pending``, ``slow_down``, ``access_denied``, ``expired_token``) and
each named fault. No sockets, no running world: time moves with ``Clock.advance``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import RSAKey

from simulators.web.psc.rules import (
    REALM_PATH,
    BadRedirect,
    Client,
    Fault,
    Grant,
    OAuthError,
    PscState,
    authenticate_client,
    ecps_outcome,
    exchange_code,
    issue_code,
    poll_ciba,
    read_access_token,
    register_client,
    request_ecps_push,
    start_authorization,
    start_ciba,
    tokens,
    userinfo,
)
from simulators.world.clock import Clock
from simulators.world.directory import Activity, Professional
from simulators.world.ecps import EcpsError, PushStatus
from simulators.world.state import DEFAULT_DEVICE, WorldState

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
ISSUER = "https://auth.esw.esante.gouv.fr" + REALM_PATH
NATIONAL_ID = "899700209812"
ECPS_PASSWORD = "4321"
REDIRECT = "https://rp.example.test/callback"
OTHER_REDIRECT = "https://rp.example.test/callback?tenant=1"
RP, STRICT, OTHER = "ans-poc-bas-psc", "strict-rp", "other-rp"
SECRET = "s3cret"
RP_NAME = "Portail de test"
SUB = "f:550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd:899700209812"
"""PSC's ``sub`` for this national id, written out as the published samples show it."""
RFC7636_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC7636_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
"""RFC 7636 appendix B: this verifier's S256 challenge."""
PLAIN_VERIFIER = "a" * 43


# -- fixtures and helpers ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def public_key(private_key: rsa.RSAPrivateKey) -> RSAKey:
    """The verification key, built from the public key alone (not from the module's JWK)."""
    return RSAKey.import_key(private_key.public_key())


@pytest.fixture
def psc(private_key: rsa.RSAPrivateKey) -> PscState:
    state = PscState.from_key(private_key)
    register_client(state, Client(RP, SECRET, [REDIRECT, OTHER_REDIRECT], RP_NAME))
    register_client(state, Client(STRICT, SECRET, [REDIRECT], "RP strict", require_pkce=True))
    register_client(state, Client(OTHER, "other-secret", [REDIRECT], "Autre RP"))
    return state


def doctor() -> Professional:
    return Professional(
        "M", "ALAIN", "D0000020981", "10", rpps="99700209812",
        activities=[
            Activity("L", "SA07", "R95141", "CABINET M D0000020981", "75009"),
            Activity("S", "SA01", "F75000001", "HOPITAL DE TEST", "75013"),
        ],
    )  # fmt: skip


@pytest.fixture
def world() -> WorldState:
    state = WorldState(clock=Clock(START))
    state.directory.add(doctor())
    state.ecps.activate(NATIONAL_ID, DEFAULT_DEVICE, ECPS_PASSWORD, "carte", START)
    return state


def params(**overrides: str) -> dict[str, str]:
    base = {
        "client_id": RP,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid scope_all",
        "acr_values": "eidas1",
        "state": "st-123",
        "nonce": "n-456",
    }
    base.update(overrides)
    return base


def refusal(excinfo: pytest.ExceptionInfo[OAuthError]) -> tuple[str, int]:
    return excinfo.value.error, excinfo.value.status


def code_for(psc: PscState, world: WorldState, **overrides: str) -> str:
    request = start_authorization(psc, params(**overrides), world.now())
    return issue_code(psc, request, NATIONAL_ID, "CARD", world.now())


def client(psc: PscState, client_id: str = RP) -> Client:
    return psc.clients[client_id]


def token_form(code: str, **extra: str) -> dict[str, str]:
    return {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, **extra}


def grant_for(psc: PscState, world: WorldState, client_id: str = RP, nonce: str | None = "n-456") -> Grant:
    request_params = params(client_id=client_id)
    if nonce is None:
        del request_params["nonce"]
    else:
        request_params["nonce"] = nonce
    request = start_authorization(psc, request_params, world.now())
    code = issue_code(psc, request, NATIONAL_ID, "CARD", world.now())
    return exchange_code(psc, client(psc, client_id), token_form(code), world.now())


def verified(token: str, key: RSAKey) -> tuple[dict[str, Any], dict[str, Any]]:
    decoded = jwt.decode(token, key, algorithms=["RS256"])
    return dict(decoded.header), dict(decoded.claims)


def unverified_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


# -- clients ------------------------------------------------------------------------------------------
def test_register_client_refuses_a_client_without_redirect_uri(psc: PscState) -> None:
    with pytest.raises(ValueError):
        register_client(psc, Client("no-uri", SECRET, [], "Sans URI"))
    assert "no-uri" not in psc.clients


def test_register_client_refuses_an_empty_client_id(psc: PscState) -> None:
    with pytest.raises(ValueError):
        register_client(psc, Client("", SECRET, [REDIRECT], "Sans id"))
    assert "" not in psc.clients


def test_registered_client_can_start_an_authorization(psc: PscState, world: WorldState) -> None:
    register_client(psc, Client("late-rp", SECRET, ["https://late.test/cb"], "Tardif"))
    request = start_authorization(psc, params(client_id="late-rp", redirect_uri="https://late.test/cb"), START)
    assert request.client.name == "Tardif"


def test_client_secret_basic_authenticates_the_client(psc: PscState) -> None:
    assert authenticate_client(psc, (RP, SECRET), {}).client_id == RP


def test_client_secret_post_authenticates_the_client(psc: PscState) -> None:
    assert authenticate_client(psc, None, {"client_id": RP, "client_secret": SECRET}).client_id == RP


def test_basic_credentials_are_used_instead_of_form_ones(psc: PscState) -> None:
    with pytest.raises(OAuthError) as excinfo:
        authenticate_client(psc, (RP, "wrong"), {"client_id": RP, "client_secret": SECRET})
    assert refusal(excinfo) == ("invalid_client", 401)


def test_wrong_client_secret_is_invalid_client_401(psc: PscState) -> None:
    with pytest.raises(OAuthError) as excinfo:
        authenticate_client(psc, (RP, SECRET + "x"), {})
    assert refusal(excinfo) == ("invalid_client", 401)


def test_another_clients_secret_is_invalid_client(psc: PscState) -> None:
    with pytest.raises(OAuthError) as excinfo:
        authenticate_client(psc, (RP, "other-secret"), {})
    assert refusal(excinfo) == ("invalid_client", 401)


def test_unknown_client_is_invalid_client_401(psc: PscState) -> None:
    with pytest.raises(OAuthError) as excinfo:
        authenticate_client(psc, None, {"client_id": "nobody", "client_secret": SECRET})
    assert refusal(excinfo) == ("invalid_client", 401)


def test_missing_client_credentials_are_invalid_client(psc: PscState) -> None:
    with pytest.raises(OAuthError) as excinfo:
        authenticate_client(psc, None, {})
    assert refusal(excinfo) == ("invalid_client", 401)


def test_empty_secret_is_refused_even_for_a_client_with_an_empty_secret(psc: PscState) -> None:
    register_client(psc, Client("public-rp", "", [REDIRECT], "Public"))
    with pytest.raises(OAuthError) as excinfo:
        authenticate_client(psc, ("public-rp", ""), {})
    assert refusal(excinfo) == ("invalid_client", 401)


def test_non_ascii_secret_is_invalid_client_not_a_crash(psc: PscState) -> None:
    with pytest.raises(OAuthError) as excinfo:
        authenticate_client(psc, (RP, "sécret\udcff"), {})
    assert refusal(excinfo) == ("invalid_client", 401)


def test_oauth_error_json_has_error_and_description() -> None:
    error = OAuthError("invalid_grant", "code expired")
    assert error.as_json() == {"error": "invalid_grant", "error_description": "code expired"}
    assert error.status == 400


# -- authorization requests ---------------------------------------------------------------------------
def test_unknown_client_id_is_not_redirected(psc: PscState) -> None:
    with pytest.raises(BadRedirect) as excinfo:
        start_authorization(psc, params(client_id="nobody"), START)
    assert excinfo.value.error == "invalid_client"


@pytest.mark.parametrize(
    "variant",
    [
        REDIRECT + "/",
        REDIRECT.upper(),
        "https://RP.example.test/callback",
        "http://rp.example.test/callback",
        "https://rp.example.test:443/callback",
        REDIRECT + "?x=1",
        REDIRECT + "#frag",
        "https://rp.example.test/%63allback",
        "",
    ],
)
def test_redirect_uri_variant_is_not_redirected(psc: PscState, variant: str) -> None:
    with pytest.raises(BadRedirect) as excinfo:
        start_authorization(psc, params(redirect_uri=variant), START)
    assert excinfo.value.error == "invalid_request"


def test_redirect_uri_of_another_client_is_not_redirected(psc: PscState) -> None:
    with pytest.raises(BadRedirect):
        start_authorization(psc, params(client_id=STRICT, redirect_uri=OTHER_REDIRECT), START)


def test_second_registered_redirect_uri_is_accepted(psc: PscState) -> None:
    assert start_authorization(psc, params(redirect_uri=OTHER_REDIRECT), START).redirect_uri == OTHER_REDIRECT


def test_response_type_other_than_code_is_unsupported(psc: PscState) -> None:
    with pytest.raises(OAuthError) as excinfo:
        start_authorization(psc, params(response_type="id_token token"), START)
    assert not isinstance(excinfo.value, BadRedirect)
    assert excinfo.value.error == "unsupported_response_type"


def test_scope_without_openid_is_invalid_scope(psc: PscState) -> None:
    with pytest.raises(OAuthError) as excinfo:
        start_authorization(psc, params(scope="scope_all profile"), START)
    assert excinfo.value.error == "invalid_scope"


def test_scope_openid_inside_another_word_does_not_count(psc: PscState) -> None:
    with pytest.raises(OAuthError) as excinfo:
        start_authorization(psc, params(scope="openidx scope_all"), START)
    assert excinfo.value.error == "invalid_scope"


def test_unknown_scope_is_invalid_scope(psc: PscState) -> None:
    with pytest.raises(OAuthError) as excinfo:
        start_authorization(psc, params(scope="openid offline_access gold"), START)
    assert excinfo.value.error == "invalid_scope"
    assert "gold" in excinfo.value.description and "offline_access" not in excinfo.value.description


def test_acr_values_are_a_wish_and_the_tokens_say_eidas1(psc: PscState, world: WorldState, public_key: RSAKey) -> None:
    """OIDC Core §3.1.2.1: acr_values is voluntary; PSC grants eidas1 only, and says so in the acr claim."""
    request = start_authorization(psc, params(acr_values="eidas2"), world.now())
    code = issue_code(psc, request, NATIONAL_ID, "CARD", world.now())
    grant = exchange_code(psc, client(psc), token_form(code), world.now())
    _, claims = verified(tokens(psc, grant, ISSUER, world.now())["id_token"], public_key)
    assert claims["acr"] == "eidas1"


def test_acr_values_may_be_omitted(psc: PscState) -> None:
    request_params = params()
    del request_params["acr_values"]
    assert start_authorization(psc, request_params, START).client.client_id == RP


def test_state_and_nonce_are_carried_verbatim(psc: PscState) -> None:
    request = start_authorization(psc, params(state="a b/é?&=", nonce="nonce with spaces"), START)
    assert (request.state, request.nonce) == ("a b/é?&=", "nonce with spaces")


def test_request_without_state_or_nonce_keeps_none(psc: PscState) -> None:
    request_params = params()
    del request_params["state"], request_params["nonce"]
    request = start_authorization(psc, request_params, START)
    assert (request.state, request.nonce) == (None, None)


def test_authorization_request_is_kept_until_a_code_is_issued(psc: PscState) -> None:
    request = start_authorization(psc, params(), START)
    assert psc.requests[request.id] is request


def test_challenge_without_method_is_plain(psc: PscState) -> None:
    request = start_authorization(psc, params(code_challenge=PLAIN_VERIFIER), START)
    assert request.code_challenge_method == "plain"


def test_unknown_challenge_method_is_invalid_request(psc: PscState) -> None:
    with pytest.raises(OAuthError) as excinfo:
        start_authorization(psc, params(code_challenge=RFC7636_CHALLENGE, code_challenge_method="S512"), START)
    assert excinfo.value.error == "invalid_request"


@pytest.mark.parametrize("challenge", ["a" * 42, "a" * 129, "a" * 42 + "+", "a" * 42 + "é"])
def test_challenge_outside_rfc7636_syntax_is_invalid_request(psc: PscState, challenge: str) -> None:
    with pytest.raises(OAuthError) as excinfo:
        start_authorization(psc, params(code_challenge=challenge, code_challenge_method="plain"), START)
    assert excinfo.value.error == "invalid_request"


def test_pkce_required_client_refuses_a_request_without_challenge(psc: PscState) -> None:
    with pytest.raises(OAuthError) as excinfo:
        start_authorization(psc, params(client_id=STRICT), START)
    assert excinfo.value.error == "invalid_request"


def test_pkce_required_client_refuses_the_plain_method(psc: PscState) -> None:
    with pytest.raises(OAuthError) as excinfo:
        start_authorization(psc, params(client_id=STRICT, code_challenge=PLAIN_VERIFIER), START)
    assert excinfo.value.error == "invalid_request"


def test_pkce_required_client_accepts_s256(psc: PscState) -> None:
    request = start_authorization(
        psc, params(client_id=STRICT, code_challenge=RFC7636_CHALLENGE, code_challenge_method="S256"), START
    )
    assert (request.code_challenge, request.code_challenge_method) == (RFC7636_CHALLENGE, "S256")


# -- browser e-CPS push -----------------------------------------------------------------------------------
def phone_push(world: WorldState, device: str = DEFAULT_DEVICE) -> str:
    """The one push pending on ``device`` (what its e-CPS app answers)."""
    [push] = world.ecps.pending(device, world.now())
    return push.id


def test_ecps_push_goes_to_the_users_phone_with_the_client_name(psc: PscState, world: WorldState) -> None:
    request = start_authorization(psc, params(), world.now())
    request_ecps_push(psc, world, request, NATIONAL_ID)
    [push] = world.ecps.pending(DEFAULT_DEVICE, world.now())
    assert (push.request, push.client, push.binding_message) == (request.push_request, RP_NAME, "00")
    assert request.national_id == NATIONAL_ID


def test_ecps_push_for_a_user_without_ecps_is_an_ecps_error(psc: PscState, world: WorldState) -> None:
    request = start_authorization(psc, params(), world.now())
    with pytest.raises(EcpsError) as excinfo:
        request_ecps_push(psc, world, request, "899700218896")
    assert excinfo.value.code == "not-activated"
    assert request.push_request is None


def test_ecps_outcome_without_push_is_invalid_request(psc: PscState, world: WorldState) -> None:
    request = start_authorization(psc, params(), world.now())
    with pytest.raises(OAuthError) as excinfo:
        ecps_outcome(psc, world, request)
    assert excinfo.value.error == "invalid_request"


def test_ecps_outcome_of_an_unknown_push_is_invalid_request(psc: PscState, world: WorldState) -> None:
    request = start_authorization(psc, params(), world.now())
    request.push_request = "no-such-push"
    with pytest.raises(OAuthError) as excinfo:
        ecps_outcome(psc, world, request)
    assert excinfo.value.error == "invalid_request"


def test_ecps_outcome_is_pending_until_the_phone_answers(psc: PscState, world: WorldState) -> None:
    request = start_authorization(psc, params(), world.now())
    request_ecps_push(psc, world, request, NATIONAL_ID)
    assert ecps_outcome(psc, world, request) is PushStatus.PENDING


def test_ecps_outcome_is_approved_once_the_phone_approves(psc: PscState, world: WorldState) -> None:
    request = start_authorization(psc, params(), world.now())
    request_ecps_push(psc, world, request, NATIONAL_ID)
    world.ecps.approve(phone_push(world), ECPS_PASSWORD, world.now())
    assert ecps_outcome(psc, world, request) is PushStatus.APPROVED


def test_ecps_outcome_is_the_answer_of_whichever_phone_answers_first(psc: PscState, world: WorldState) -> None:
    world.ecps.activate(NATIONAL_ID, "telephone-2", "8642", "sans carte", world.now())
    request = start_authorization(psc, params(), world.now())
    request_ecps_push(psc, world, request, NATIONAL_ID)
    first, second = phone_push(world), phone_push(world, "telephone-2")
    world.ecps.approve(second, "8642", world.now())
    assert ecps_outcome(psc, world, request) is PushStatus.APPROVED
    assert world.ecps.push(first, world.now()).status is PushStatus.WITHDRAWN


def test_ecps_outcome_expires_after_120_seconds_on_the_world_clock(psc: PscState, world: WorldState) -> None:
    request = start_authorization(psc, params(), world.now())
    request_ecps_push(psc, world, request, NATIONAL_ID)
    world.clock.advance("120s")
    assert ecps_outcome(psc, world, request) is PushStatus.EXPIRED


# -- codes ----------------------------------------------------------------------------------------------
def test_issuing_a_code_consumes_the_authorization_request(psc: PscState, world: WorldState) -> None:
    request = start_authorization(psc, params(), world.now())
    issue_code(psc, request, NATIONAL_ID, "CARD", world.now())
    assert request.id not in psc.requests


def test_codes_are_distinct(psc: PscState, world: WorldState) -> None:
    assert code_for(psc, world) != code_for(psc, world)


def test_code_exchanges_for_the_authenticated_users_grant(psc: PscState, world: WorldState) -> None:
    code = code_for(psc, world, scope="openid scope_all rpps")
    grant = exchange_code(psc, client(psc), token_form(code), world.now())
    assert (grant.client_id, grant.national_id, grant.scope, grant.nonce, grant.auth_mode) == (
        RP, NATIONAL_ID, "openid scope_all rpps", "n-456", "CARD",
    )  # fmt: skip


def test_code_second_use_is_invalid_grant(psc: PscState, world: WorldState) -> None:
    code = code_for(psc, world)
    exchange_code(psc, client(psc), token_form(code), world.now())
    with pytest.raises(OAuthError) as excinfo:
        exchange_code(psc, client(psc), token_form(code), world.now())
    assert refusal(excinfo) == ("invalid_grant", 400)


def test_code_of_another_client_is_invalid_grant(psc: PscState, world: WorldState) -> None:
    code = code_for(psc, world)
    with pytest.raises(OAuthError) as excinfo:
        exchange_code(psc, client(psc, OTHER), token_form(code), world.now())
    assert excinfo.value.error == "invalid_grant"


def test_code_refused_to_another_client_stays_usable_by_its_own(psc: PscState, world: WorldState) -> None:
    code = code_for(psc, world)
    with pytest.raises(OAuthError):
        exchange_code(psc, client(psc, OTHER), token_form(code), world.now())
    assert exchange_code(psc, client(psc), token_form(code), world.now()).national_id == NATIONAL_ID


def test_unknown_code_is_invalid_grant(psc: PscState, world: WorldState) -> None:
    with pytest.raises(OAuthError) as excinfo:
        exchange_code(psc, client(psc), token_form("not-a-code"), world.now())
    assert excinfo.value.error == "invalid_grant"


def test_missing_code_is_invalid_request(psc: PscState, world: WorldState) -> None:
    with pytest.raises(OAuthError) as excinfo:
        exchange_code(psc, client(psc), {"grant_type": "authorization_code", "redirect_uri": REDIRECT}, world.now())
    assert excinfo.value.error == "invalid_request"


def test_code_is_still_valid_60_seconds_after_issue(psc: PscState, world: WorldState) -> None:
    code = code_for(psc, world)
    world.clock.advance("60s")
    assert exchange_code(psc, client(psc), token_form(code), world.now()).national_id == NATIONAL_ID


def test_code_expires_after_60_seconds_on_the_world_clock(psc: PscState, world: WorldState) -> None:
    code = code_for(psc, world)
    world.clock.advance("61s")
    with pytest.raises(OAuthError) as excinfo:
        exchange_code(psc, client(psc), token_form(code), world.now())
    assert excinfo.value.error == "invalid_grant"


def test_redirect_uri_differing_from_the_authorization_request_is_invalid_grant(
    psc: PscState, world: WorldState
) -> None:
    code = code_for(psc, world)
    with pytest.raises(OAuthError) as excinfo:
        exchange_code(psc, client(psc), token_form(code, redirect_uri=OTHER_REDIRECT), world.now())
    assert excinfo.value.error == "invalid_grant"


def test_missing_redirect_uri_at_the_token_endpoint_is_invalid_grant(psc: PscState, world: WorldState) -> None:
    code = code_for(psc, world)
    with pytest.raises(OAuthError) as excinfo:
        exchange_code(psc, client(psc), {"grant_type": "authorization_code", "code": code}, world.now())
    assert excinfo.value.error == "invalid_grant"


def test_code_for_the_second_redirect_uri_exchanges_with_it(psc: PscState, world: WorldState) -> None:
    code = code_for(psc, world, redirect_uri=OTHER_REDIRECT)
    grant = exchange_code(psc, client(psc), token_form(code, redirect_uri=OTHER_REDIRECT), world.now())
    assert grant.redirect_uri == OTHER_REDIRECT


# -- PKCE -------------------------------------------------------------------------------------------------
def s256_code(psc: PscState, world: WorldState, client_id: str = STRICT) -> str:
    return code_for(psc, world, client_id=client_id, code_challenge=RFC7636_CHALLENGE, code_challenge_method="S256")


def test_s256_right_verifier_passes(psc: PscState, world: WorldState) -> None:
    code = s256_code(psc, world)
    grant = exchange_code(psc, client(psc, STRICT), token_form(code, code_verifier=RFC7636_VERIFIER), world.now())
    assert grant.client_id == STRICT


def test_s256_challenge_sent_as_verifier_is_invalid_grant(psc: PscState, world: WorldState) -> None:
    code = s256_code(psc, world)
    with pytest.raises(OAuthError) as excinfo:
        exchange_code(psc, client(psc, STRICT), token_form(code, code_verifier=RFC7636_CHALLENGE), world.now())
    assert excinfo.value.error == "invalid_grant"


def test_s256_wrong_verifier_is_invalid_grant(psc: PscState, world: WorldState) -> None:
    code = s256_code(psc, world)
    wrong = RFC7636_VERIFIER[:-1] + "j"
    with pytest.raises(OAuthError) as excinfo:
        exchange_code(psc, client(psc, STRICT), token_form(code, code_verifier=wrong), world.now())
    assert excinfo.value.error == "invalid_grant"


def test_wrong_verifier_burns_the_code(psc: PscState, world: WorldState) -> None:
    code = s256_code(psc, world)
    with pytest.raises(OAuthError):
        exchange_code(psc, client(psc, STRICT), token_form(code, code_verifier="b" * 43), world.now())
    with pytest.raises(OAuthError) as excinfo:
        exchange_code(psc, client(psc, STRICT), token_form(code, code_verifier=RFC7636_VERIFIER), world.now())
    assert excinfo.value.error == "invalid_grant"


def test_missing_verifier_when_a_challenge_was_sent_is_invalid_grant(psc: PscState, world: WorldState) -> None:
    code = s256_code(psc, world)
    with pytest.raises(OAuthError) as excinfo:
        exchange_code(psc, client(psc, STRICT), token_form(code), world.now())
    assert excinfo.value.error == "invalid_grant"


def test_verifier_without_a_challenge_is_invalid_grant(psc: PscState, world: WorldState) -> None:
    code = code_for(psc, world)
    with pytest.raises(OAuthError) as excinfo:
        exchange_code(psc, client(psc), token_form(code, code_verifier=RFC7636_VERIFIER), world.now())
    assert excinfo.value.error == "invalid_grant"


@pytest.mark.parametrize("verifier", ["a" * 42, "a" * 129, "é" * 43, RFC7636_VERIFIER[:-1] + " "])
def test_verifier_outside_rfc7636_syntax_is_invalid_grant(psc: PscState, world: WorldState, verifier: str) -> None:
    code = s256_code(psc, world, client_id=RP)
    with pytest.raises(OAuthError) as excinfo:
        exchange_code(psc, client(psc), token_form(code, code_verifier=verifier), world.now())
    assert refusal(excinfo) == ("invalid_grant", 400)


def test_plain_verifier_equal_to_the_challenge_passes(psc: PscState, world: WorldState) -> None:
    code = code_for(psc, world, code_challenge=PLAIN_VERIFIER)
    grant = exchange_code(psc, client(psc), token_form(code, code_verifier=PLAIN_VERIFIER), world.now())
    assert grant.code_challenge_method == "plain"


def test_plain_verifier_differing_from_the_challenge_is_invalid_grant(psc: PscState, world: WorldState) -> None:
    code = code_for(psc, world, code_challenge=PLAIN_VERIFIER)
    with pytest.raises(OAuthError) as excinfo:
        exchange_code(psc, client(psc), token_form(code, code_verifier="b" * 43), world.now())
    assert excinfo.value.error == "invalid_grant"


def test_s256_transform_matches_an_independent_computation(psc: PscState, world: WorldState) -> None:
    verifier = "x" * 20 + "-._~" + "Y" * 30
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    code = code_for(psc, world, client_id=STRICT, code_challenge=challenge, code_challenge_method="S256")
    grant = exchange_code(psc, client(psc, STRICT), token_form(code, code_verifier=verifier), world.now())
    assert grant.code_challenge == challenge


# -- token responses ---------------------------------------------------------------------------------------
def test_token_response_is_bearer_for_120_seconds(psc: PscState, world: WorldState) -> None:
    answer = tokens(psc, grant_for(psc, world), ISSUER, world.now())
    assert (answer["token_type"], answer["expires_in"], answer["scope"]) == ("Bearer", 120, "openid scope_all")


def test_access_token_lives_120_seconds_from_the_world_clock(
    psc: PscState, world: WorldState, public_key: RSAKey
) -> None:
    world.clock.advance("1h")
    answer = tokens(psc, grant_for(psc, world), ISSUER, world.now())
    _, claims = verified(answer["access_token"], public_key)
    expected_iat = int((START + dt.timedelta(hours=1)).timestamp())
    assert (claims["iat"], claims["exp"]) == (expected_iat, expected_iat + 120)


def test_access_token_carries_psc_claims(psc: PscState, world: WorldState, public_key: RSAKey) -> None:
    answer = tokens(psc, grant_for(psc, world), ISSUER, world.now())
    _, claims = verified(answer["access_token"], public_key)
    expected = {
        "iss": ISSUER, "sub": SUB, "azp": RP, "typ": "Bearer", "acr": "eidas1", "scope": "openid scope_all",
        "preferred_username": NATIONAL_ID, "SubjectNameID": NATIONAL_ID, "authMode": "CARD",
        "auth_time": int(START.timestamp()),
    }  # fmt: skip
    assert {name: claims.get(name) for name in expected} == expected


def test_access_tokens_have_distinct_jti(psc: PscState, world: WorldState, public_key: RSAKey) -> None:
    first = tokens(psc, grant_for(psc, world), ISSUER, world.now())["access_token"]
    second = tokens(psc, grant_for(psc, world), ISSUER, world.now())["access_token"]
    assert verified(first, public_key)[1]["jti"] != verified(second, public_key)[1]["jti"]


def test_tokens_are_rs256_with_the_jwks_kid(psc: PscState, world: WorldState, public_key: RSAKey) -> None:
    answer = tokens(psc, grant_for(psc, world), ISSUER, world.now())
    [published] = psc.jwks()["keys"]
    for token in (answer["access_token"], answer["id_token"]):
        header, _ = verified(token, public_key)
        assert (header["alg"], header["kid"]) == ("RS256", published["kid"])


def test_jwks_publishes_only_the_public_key(psc: PscState, private_key: rsa.RSAPrivateKey) -> None:
    [published] = psc.jwks()["keys"]
    numbers = private_key.public_key().public_numbers()
    modulus = int.from_bytes(base64.urlsafe_b64decode(published["n"] + "=" * (-len(published["n"]) % 4)), "big")
    assert (published["kty"], published["use"], published["alg"]) == ("RSA", "sig", "RS256")
    assert modulus == numbers.n
    assert not {"d", "p", "q", "dp", "dq", "qi"} & published.keys()


def test_jwks_key_verifies_the_id_token(psc: PscState, world: WorldState) -> None:
    answer = tokens(psc, grant_for(psc, world), ISSUER, world.now())
    key = RSAKey.import_key(psc.jwks()["keys"][0])
    assert verified(answer["id_token"], key)[1]["sub"] == SUB


def test_kid_is_the_same_for_the_same_key(private_key: rsa.RSAPrivateKey) -> None:
    first, second = PscState.from_key(private_key), PscState.from_key(private_key)
    assert first.key.kid == second.key.kid
    assert first.key.kid


def test_id_token_carries_oidc_claims(psc: PscState, world: WorldState, public_key: RSAKey) -> None:
    answer = tokens(psc, grant_for(psc, world), ISSUER, world.now())
    _, claims = verified(answer["id_token"], public_key)
    expected = {
        "iss": ISSUER, "sub": SUB, "aud": RP, "azp": RP, "nonce": "n-456", "acr": "eidas1",
        "preferred_username": NATIONAL_ID, "auth_time": int(START.timestamp()), "iat": int(START.timestamp()),
    }  # fmt: skip
    assert {name: claims.get(name) for name in expected} == expected


def test_id_token_is_not_yet_expired_when_issued(psc: PscState, world: WorldState, public_key: RSAKey) -> None:
    answer = tokens(psc, grant_for(psc, world), ISSUER, world.now())
    _, claims = verified(answer["id_token"], public_key)
    assert claims["exp"] > int(world.now().timestamp()) + 60


def test_id_token_has_no_subject_name_id(psc: PscState, world: WorldState, public_key: RSAKey) -> None:
    answer = tokens(psc, grant_for(psc, world), ISSUER, world.now())
    assert "SubjectNameID" not in verified(answer["id_token"], public_key)[1]


def test_id_token_without_nonce_in_the_request_has_no_nonce(
    psc: PscState, world: WorldState, public_key: RSAKey
) -> None:
    answer = tokens(psc, grant_for(psc, world, nonce=None), ISSUER, world.now())
    assert "nonce" not in verified(answer["id_token"], public_key)[1]


def test_auth_time_is_the_login_time_not_the_token_time(psc: PscState, world: WorldState, public_key: RSAKey) -> None:
    grant = grant_for(psc, world)
    world.clock.advance("30s")
    _, claims = verified(tokens(psc, grant, ISSUER, world.now())["id_token"], public_key)
    assert (claims["auth_time"], claims["iat"]) == (int(START.timestamp()), int(START.timestamp()) + 30)


def test_every_issued_token_is_recorded_in_order(psc: PscState, world: WorldState) -> None:
    answer = tokens(psc, grant_for(psc, world), ISSUER, world.now())
    assert psc.issued == [answer["access_token"], answer["id_token"], answer["refresh_token"]]


# -- named faults ---------------------------------------------------------------------------------------------
def test_access_denied_fault_on_the_client_refuses_the_code(psc: PscState, world: WorldState) -> None:
    psc.client_faults[RP] = {Fault.ACCESS_DENIED}
    request = start_authorization(psc, params(), world.now())
    with pytest.raises(OAuthError) as excinfo:
        issue_code(psc, request, NATIONAL_ID, "CARD", world.now())
    assert excinfo.value.error == "access_denied"
    assert not psc.codes


def test_access_denied_fault_on_the_user_refuses_the_code(psc: PscState, world: WorldState) -> None:
    psc.user_faults[NATIONAL_ID] = {Fault.ACCESS_DENIED}
    request = start_authorization(psc, params(), world.now())
    with pytest.raises(OAuthError) as excinfo:
        issue_code(psc, request, NATIONAL_ID, "CARD", world.now())
    assert excinfo.value.error == "access_denied"


def test_access_denied_fault_on_another_client_does_not_apply(psc: PscState, world: WorldState) -> None:
    psc.client_faults[OTHER] = {Fault.ACCESS_DENIED}
    assert code_for(psc, world) in psc.codes


def test_faults_for_joins_client_and_user_faults(psc: PscState) -> None:
    psc.client_faults[RP] = {Fault.SLOW_TOKEN}
    psc.user_faults[NATIONAL_ID] = {Fault.SERVER_ERROR}
    assert psc.faults_for(RP, NATIONAL_ID) == {Fault.SLOW_TOKEN, Fault.SERVER_ERROR}
    assert psc.faults_for(OTHER, None) == set()


def test_invalid_grant_fault_refuses_the_tokens(psc: PscState, world: WorldState) -> None:
    grant = grant_for(psc, world)
    psc.client_faults[RP] = {Fault.INVALID_GRANT}
    with pytest.raises(OAuthError) as excinfo:
        tokens(psc, grant, ISSUER, world.now())
    assert refusal(excinfo) == ("invalid_grant", 400)
    assert psc.issued == []


def test_server_error_fault_is_a_500(psc: PscState, world: WorldState) -> None:
    grant = grant_for(psc, world)
    psc.user_faults[NATIONAL_ID] = {Fault.SERVER_ERROR}
    with pytest.raises(OAuthError) as excinfo:
        tokens(psc, grant, ISSUER, world.now())
    assert refusal(excinfo) == ("server_error", 500)


def test_id_token_expired_fault_issues_an_id_token_already_expired(
    psc: PscState, world: WorldState, public_key: RSAKey
) -> None:
    grant = grant_for(psc, world)
    psc.client_faults[RP] = {Fault.ID_TOKEN_EXPIRED}
    _, claims = verified(tokens(psc, grant, ISSUER, world.now())["id_token"], public_key)
    assert claims["exp"] < int(world.now().timestamp())
    assert claims["iat"] < claims["exp"]


def test_id_token_expired_fault_leaves_the_access_token_valid(
    psc: PscState, world: WorldState, public_key: RSAKey
) -> None:
    grant = grant_for(psc, world)
    psc.client_faults[RP] = {Fault.ID_TOKEN_EXPIRED}
    _, claims = verified(tokens(psc, grant, ISSUER, world.now())["access_token"], public_key)
    assert claims["exp"] == int(world.now().timestamp()) + 120


def test_id_token_tampered_fault_breaks_only_the_signature(
    psc: PscState, world: WorldState, public_key: RSAKey
) -> None:
    grant = grant_for(psc, world)
    psc.user_faults[NATIONAL_ID] = {Fault.ID_TOKEN_TAMPERED}
    answer = tokens(psc, grant, ISSUER, world.now())
    with pytest.raises(BadSignatureError):
        jwt.decode(answer["id_token"], public_key, algorithms=["RS256"])
    assert unverified_claims(answer["id_token"])["sub"] == SUB


def test_id_token_tampered_fault_leaves_the_access_token_verifiable(
    psc: PscState, world: WorldState, public_key: RSAKey
) -> None:
    grant = grant_for(psc, world)
    psc.user_faults[NATIONAL_ID] = {Fault.ID_TOKEN_TAMPERED}
    answer = tokens(psc, grant, ISSUER, world.now())
    assert verified(answer["access_token"], public_key)[1]["sub"] == SUB


def test_id_token_wrong_issuer_fault_names_another_realm(psc: PscState, world: WorldState, public_key: RSAKey) -> None:
    grant = grant_for(psc, world)
    psc.client_faults[RP] = {Fault.ID_TOKEN_WRONG_ISSUER}
    answer = tokens(psc, grant, ISSUER, world.now())
    assert verified(answer["id_token"], public_key)[1]["iss"] == (
        "https://auth.esw.esante.gouv.fr/auth/realms/another-realm"
    )
    assert verified(answer["access_token"], public_key)[1]["iss"] == ISSUER


# -- access-token checks (userinfo, introspection, revocation) ---------------------------------------------
def access_token(psc: PscState, world: WorldState) -> str:
    return tokens(psc, grant_for(psc, world), ISSUER, world.now())["access_token"]


def test_live_access_token_reads_back_as_active(psc: PscState, world: WorldState) -> None:
    claims = read_access_token(psc, access_token(psc, world), ISSUER, world.now())
    assert (claims["sub"], claims["azp"], claims["SubjectNameID"]) == (SUB, RP, NATIONAL_ID)


def test_access_token_is_still_active_119_seconds_after_issue(psc: PscState, world: WorldState) -> None:
    token = access_token(psc, world)
    world.clock.advance("119s")
    assert read_access_token(psc, token, ISSUER, world.now())["sub"] == SUB


def test_access_token_is_inactive_120_seconds_after_issue(psc: PscState, world: WorldState) -> None:
    token = access_token(psc, world)
    world.clock.advance("120s")
    with pytest.raises(OAuthError) as excinfo:
        read_access_token(psc, token, ISSUER, world.now())
    assert refusal(excinfo) == ("invalid_token", 401)


def test_revoked_access_token_is_inactive(psc: PscState, world: WorldState) -> None:
    token = access_token(psc, world)
    psc.revoked.add(read_access_token(psc, token, ISSUER, world.now())["jti"])
    with pytest.raises(OAuthError) as excinfo:
        read_access_token(psc, token, ISSUER, world.now())
    assert refusal(excinfo) == ("invalid_token", 401)


def test_revoking_one_access_token_leaves_another_active(psc: PscState, world: WorldState) -> None:
    revoked, kept = access_token(psc, world), access_token(psc, world)
    psc.revoked.add(read_access_token(psc, revoked, ISSUER, world.now())["jti"])
    assert read_access_token(psc, kept, ISSUER, world.now())["sub"] == SUB


def test_id_token_is_not_accepted_as_an_access_token(psc: PscState, world: WorldState) -> None:
    id_token = tokens(psc, grant_for(psc, world), ISSUER, world.now())["id_token"]
    with pytest.raises(OAuthError) as excinfo:
        read_access_token(psc, id_token, ISSUER, world.now())
    assert refusal(excinfo) == ("invalid_token", 401)


def test_access_token_of_another_issuer_is_inactive(psc: PscState, world: WorldState) -> None:
    token = access_token(psc, world)
    with pytest.raises(OAuthError) as excinfo:
        read_access_token(psc, token, "https://auth.bas.psc.esante.gouv.fr" + REALM_PATH, world.now())
    assert refusal(excinfo) == ("invalid_token", 401)


def test_access_token_with_a_forged_payload_is_inactive(psc: PscState, world: WorldState) -> None:
    token = access_token(psc, world)
    head, _, signature = token.split(".")
    claims = unverified_claims(token)
    claims["exp"] += 3600
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(OAuthError) as excinfo:
        read_access_token(psc, ".".join((head, forged, signature)), ISSUER, world.now())
    assert refusal(excinfo) == ("invalid_token", 401)


@pytest.mark.parametrize("garbage", ["", "not-a-jwt", "a.b.c", "é.é.é"])
def test_garbage_access_token_is_invalid_token(psc: PscState, world: WorldState, garbage: str) -> None:
    with pytest.raises(OAuthError) as excinfo:
        read_access_token(psc, garbage, ISSUER, world.now())
    assert refusal(excinfo) == ("invalid_token", 401)


# -- userinfo ------------------------------------------------------------------------------------------------
def token_claims(auth_mode: str = "CARD") -> dict[str, Any]:
    return {"sub": SUB, "preferred_username": NATIONAL_ID, "authMode": auth_mode}


def test_userinfo_identity_comes_from_the_directory() -> None:
    info = userinfo(doctor(), token_claims())
    expected = {
        "sub": SUB, "preferred_username": NATIONAL_ID, "SubjectNameID": NATIONAL_ID,
        "given_name": "ALAIN", "family_name": "D0000020981", "email_verified": False,
    }  # fmt: skip
    assert {name: info.get(name) for name in expected} == expected


def test_userinfo_organization_is_the_first_activitys_structure() -> None:
    info = userinfo(doctor(), token_claims())
    assert (info["SubjectOrganization"], info["SubjectOrganizationID"]) == ("CABINET M D0000020981", "R95141")


def test_userinfo_without_activity_has_empty_organization() -> None:
    lone = Professional("MME", "CAROLE", "PHARMACH0007512", "21", rpps="99700075122")
    info = userinfo(lone, {"sub": "f:x:899700075122"})
    assert (info["SubjectOrganization"], info["SubjectOrganizationID"]) == ("", "")
    assert info["SubjectRefPro"]["exercices"][0]["activities"] == []


def test_userinfo_subject_role_is_the_profession_with_its_oid() -> None:
    assert userinfo(doctor(), token_claims())["SubjectRole"] == ["10^1.2.250.1.213.1.1.5.5"]


def test_userinfo_auth_mode_comes_from_the_token() -> None:
    assert userinfo(doctor(), token_claims("MOBILE"))["authMode"] == "MOBILE"


def test_userinfo_exercise_of_a_doctor_has_civility_dr() -> None:
    [exercice] = userinfo(doctor(), token_claims())["SubjectRefPro"]["exercices"]
    assert (exercice["codeProfession"], exercice["codeCiviliteDexercice"]) == ("10", "DR")
    assert (exercice["nomDexercice"], exercice["prenomDexercice"]) == ("D0000020981", "ALAIN")


def test_userinfo_exercise_of_a_pharmacist_has_no_civility_dr() -> None:
    pharmacist = Professional("MME", "CAROLE", "PHARMACH0007512", "21", rpps="99700075122")
    [exercice] = userinfo(pharmacist, {"sub": "f:x:899700075122"})["SubjectRefPro"]["exercices"]
    assert (exercice["codeProfession"], exercice["codeCiviliteDexercice"]) == ("21", "")


def test_userinfo_carries_the_civility_code() -> None:
    assert userinfo(doctor(), token_claims())["SubjectRefPro"]["codeCivilite"] == "M"


def test_userinfo_lists_every_activity_in_order() -> None:
    [exercice] = userinfo(doctor(), token_claims())["SubjectRefPro"]["exercices"]
    assert [
        (a["codeModeExercice"], a["codeSecteurDactivite"], a["identifiantTechniqueDeLaStructure"],
         a["raisonSocialeSite"], a["codePostal"])
        for a in exercice["activities"]
    ] == [
        ("L", "SA07", "R95141", "CABINET M D0000020981", "75009"),
        ("S", "SA01", "F75000001", "HOPITAL DE TEST", "75013"),
    ]  # fmt: skip


def test_userinfo_activity_has_the_published_field_names() -> None:
    [exercice] = userinfo(doctor(), token_claims())["SubjectRefPro"]["exercices"]
    assert set(exercice["activities"][0]) == {
        "codeModeExercice", "codeSecteurDactivite", "codeGenreActivite", "numeroFinessSite",
        "identifiantTechniqueDeLaStructure", "raisonSocialeSite", "codePostal", "autoriteDenregistrement",
    }  # fmt: skip


def test_userinfo_other_ids_of_an_rpps_professional_say_rpps() -> None:
    [other] = userinfo(doctor(), token_claims())["otherIds"]
    assert (other["identifiant"], other["origine"], other["qualite"]) == (NATIONAL_ID, "RPPS", 1), "as the samples"


def test_userinfo_other_ids_of_an_adeli_professional_say_adeli() -> None:
    nurse = Professional("MME", "JEANNE", "INFIRMIERE", "60", adeli="0B7010446")
    [other] = userinfo(nurse, {"sub": "f:x:00B7010446"})["otherIds"]
    assert (other["origine"], other["qualite"]) == ("ADELI", 1)
    assert userinfo(nurse, {"sub": "f:x:00B7010446"})["preferred_username"] == "00B7010446"


# -- CIBA ------------------------------------------------------------------------------------------------------
def ciba_form(**overrides: str) -> dict[str, str]:
    base = {"login_hint": NATIONAL_ID, "scope": "openid scope_all", "binding_message": "00", "acr_values": "eidas1"}
    base.update(overrides)
    return base


def poll(psc: PscState, world: WorldState, auth_req_id: str, client_id: str = RP) -> Grant:
    form = {"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": auth_req_id}
    return poll_ciba(psc, world, client(psc, client_id), form)


def poll_error(psc: PscState, world: WorldState, auth_req_id: str, client_id: str = RP) -> str:
    with pytest.raises(OAuthError) as excinfo:
        poll(psc, world, auth_req_id, client_id)
    return excinfo.value.error


def test_ciba_without_login_hint_is_invalid_request(psc: PscState, world: WorldState) -> None:
    with pytest.raises(OAuthError) as excinfo:
        start_ciba(psc, world, client(psc), ciba_form(login_hint=""))
    assert excinfo.value.error == "invalid_request"


def test_ciba_without_openid_scope_is_invalid_scope(psc: PscState, world: WorldState) -> None:
    with pytest.raises(OAuthError) as excinfo:
        start_ciba(psc, world, client(psc), ciba_form(scope="scope_all"))
    assert excinfo.value.error == "invalid_scope"


def test_ciba_for_a_user_without_ecps_is_unknown_user_id(psc: PscState, world: WorldState) -> None:
    with pytest.raises(OAuthError) as excinfo:
        start_ciba(psc, world, client(psc), ciba_form(login_hint="899700218896"))
    assert excinfo.value.error == "unknown_user_id"
    assert not psc.ciba


def test_ciba_sends_a_push_with_the_client_name_and_binding_message(psc: PscState, world: WorldState) -> None:
    request = start_ciba(psc, world, client(psc), ciba_form(binding_message="42"))
    [push] = world.ecps.pending(DEFAULT_DEVICE, world.now())
    assert (push.request, push.client, push.binding_message) == (request.push_request, RP_NAME, "42")


def test_ciba_binding_message_defaults_to_00(psc: PscState, world: WorldState) -> None:
    form = ciba_form()
    del form["binding_message"]
    start_ciba(psc, world, client(psc), form)
    assert world.ecps.pending(DEFAULT_DEVICE, world.now())[0].binding_message == "00"


def test_ciba_request_expires_120_seconds_after_it_starts(psc: PscState, world: WorldState) -> None:
    world.clock.advance("10s")
    request = start_ciba(psc, world, client(psc), ciba_form())
    assert request.expires_at == START + dt.timedelta(seconds=130)


def test_ciba_pending_poll_is_authorization_pending(psc: PscState, world: WorldState) -> None:
    request = start_ciba(psc, world, client(psc), ciba_form())
    with pytest.raises(OAuthError) as excinfo:
        poll(psc, world, request.auth_req_id)
    assert refusal(excinfo) == ("authorization_pending", 400)
    assert excinfo.value.description == (
        "The authorization request is still pending as the end-user hasn't yet been authenticated."
    )


def test_ciba_poll_within_the_interval_is_slow_down(psc: PscState, world: WorldState) -> None:
    request = start_ciba(psc, world, client(psc), ciba_form())
    poll_error(psc, world, request.auth_req_id)
    world.clock.advance(dt.timedelta(milliseconds=500))
    assert poll_error(psc, world, request.auth_req_id) == "slow_down"


def test_ciba_poll_one_interval_later_is_pending_not_slow_down(psc: PscState, world: WorldState) -> None:
    request = start_ciba(psc, world, client(psc), ciba_form())
    poll_error(psc, world, request.auth_req_id)
    world.clock.advance("1s")
    assert poll_error(psc, world, request.auth_req_id) == "authorization_pending"


def test_ciba_approved_push_gives_a_mobile_grant_for_the_user(psc: PscState, world: WorldState) -> None:
    request = start_ciba(psc, world, client(psc), ciba_form())
    world.clock.advance("5s")
    world.ecps.approve(phone_push(world), ECPS_PASSWORD, world.now())
    grant = poll(psc, world, request.auth_req_id)
    assert (grant.client_id, grant.national_id, grant.scope, grant.auth_mode, grant.nonce) == (
        RP, NATIONAL_ID, "openid scope_all", "MOBILE", None,
    )  # fmt: skip
    assert grant.auth_time == START + dt.timedelta(seconds=5)


def test_ciba_grant_turns_into_tokens(psc: PscState, world: WorldState, public_key: RSAKey) -> None:
    request = start_ciba(psc, world, client(psc), ciba_form())
    world.ecps.approve(phone_push(world), ECPS_PASSWORD, world.now())
    answer = tokens(psc, poll(psc, world, request.auth_req_id), ISSUER, world.now())
    _, claims = verified(answer["access_token"], public_key)
    assert (claims["sub"], claims["authMode"]) == (SUB, "MOBILE")


def test_ciba_auth_req_id_is_single_use(psc: PscState, world: WorldState) -> None:
    request = start_ciba(psc, world, client(psc), ciba_form())
    world.ecps.approve(phone_push(world), ECPS_PASSWORD, world.now())
    poll(psc, world, request.auth_req_id)
    world.clock.advance("1s")
    assert poll_error(psc, world, request.auth_req_id) == "invalid_grant"


def test_ciba_refused_push_is_access_denied(psc: PscState, world: WorldState) -> None:
    request = start_ciba(psc, world, client(psc), ciba_form())
    world.ecps.refuse(phone_push(world), world.now())
    assert poll_error(psc, world, request.auth_req_id) == "access_denied"


def test_ciba_request_is_closed_after_access_denied(psc: PscState, world: WorldState) -> None:
    request = start_ciba(psc, world, client(psc), ciba_form())
    world.ecps.refuse(phone_push(world), world.now())
    poll_error(psc, world, request.auth_req_id)
    world.clock.advance("1s")
    assert poll_error(psc, world, request.auth_req_id) == "invalid_grant"


def test_ciba_push_failed_by_a_locked_ecps_is_access_denied(psc: PscState, world: WorldState) -> None:
    request = start_ciba(psc, world, client(psc), ciba_form())
    push = phone_push(world)
    for _ in range(3):
        with pytest.raises(EcpsError):
            world.ecps.approve(push, "0000", world.now())
    assert world.ecps.push(push, world.now()).status is PushStatus.FAILED
    assert poll_error(psc, world, request.auth_req_id) == "access_denied"


def test_ciba_refused_on_a_second_phone_is_access_denied(psc: PscState, world: WorldState) -> None:
    world.ecps.activate(NATIONAL_ID, "telephone-2", "8642", "sans carte", world.now())
    request = start_ciba(psc, world, client(psc), ciba_form())
    world.ecps.refuse(phone_push(world, "telephone-2"), world.now())
    assert world.ecps.pending(DEFAULT_DEVICE, world.now()) == []
    assert poll_error(psc, world, request.auth_req_id) == "access_denied"


def test_ciba_unanswered_for_120_seconds_is_expired_token(psc: PscState, world: WorldState) -> None:
    request = start_ciba(psc, world, client(psc), ciba_form())
    world.clock.advance("120s")
    assert poll_error(psc, world, request.auth_req_id) == "expired_token"


def test_ciba_still_pending_at_119_seconds(psc: PscState, world: WorldState) -> None:
    request = start_ciba(psc, world, client(psc), ciba_form())
    world.clock.advance("119s")
    assert poll_error(psc, world, request.auth_req_id) == "authorization_pending"


def test_ciba_request_is_closed_after_expired_token(psc: PscState, world: WorldState) -> None:
    request = start_ciba(psc, world, client(psc), ciba_form())
    world.clock.advance("120s")
    poll_error(psc, world, request.auth_req_id)
    world.clock.advance("1s")
    assert poll_error(psc, world, request.auth_req_id) == "invalid_grant"


def test_ciba_auth_req_id_of_another_client_is_invalid_grant(psc: PscState, world: WorldState) -> None:
    request = start_ciba(psc, world, client(psc), ciba_form())
    assert poll_error(psc, world, request.auth_req_id, client_id=OTHER) == "invalid_grant"


def test_ciba_unknown_auth_req_id_is_invalid_grant(psc: PscState, world: WorldState) -> None:
    assert poll_error(psc, world, "no-such-request") == "invalid_grant"
