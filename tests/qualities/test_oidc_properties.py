"""Pro Santé Connect's OAuth / OIDC guarantees as properties, over HTTP against a running world.

- PKCE is strict: for any verifier and any other string, the other string is refused
  (``invalid_grant``) every time, and the code is burnt by the attempt; the right one works.
- ``redirect_uri`` is matched exactly: any variant of a registered URI (case, slash, query,
  fragment, encoding, port, scheme) is refused at the authorization endpoint without a redirect,
  and at the token endpoint with ``invalid_grant``.
- ``state`` comes back byte for byte on every redirect (code or error); ``nonce`` is in the id_token
  exactly as sent, and absent when not sent.
- Every error of the JSON endpoints (token, userinfo, introspection, revocation, CIBA) is an
  RFC-conformant one: 4xx, never 5xx, JSON with an ``error`` of the RFC's list for that endpoint,
  ``Cache-Control: no-store``, and ``WWW-Authenticate`` on 401; the authorization endpoint
  redirects only to a registered URI with an RFC 6749 §4.1.2.1 error.

Codes are issued through PSC's rules on the world's loop (no phone round trip per example), then
exchanged over HTTP. ``CPS_FUZZ_EXAMPLES`` raises the budget (default 40 a property).
"""

from __future__ import annotations

import base64
import json
import os
import string
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from joserfc import jwt

from harness.pki import Pki
from harness.world.host import WorldHost
from simulators.web.psc.rules import REALM_PATH, AuthRequest, issue_code, start_authorization

T = TypeVar("T")
EXAMPLES = int(os.environ.get("CPS_FUZZ_EXAMPLES") or 40)
PROFILE = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
NATIONAL_ID = "899700209812"
REDIRECT = "https://rp.example.test/callback"
STRICT, LENIENT, SECRET = "strict-rp", "lenient-rp", "s3cret"

TOKEN_ERRORS = {"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
                "unsupported_grant_type", "invalid_scope"}  # fmt: skip
"""RFC 6749 §5.2."""
CIBA_POLL_ERRORS = {"authorization_pending", "slow_down", "expired_token", "access_denied"}
"""OpenID CIBA §11 (the token endpoint polled with the CIBA grant)."""
CIBA_AUTH_ERRORS = {"invalid_request", "invalid_scope", "expired_login_hint_token", "unknown_user_id",
                    "unauthorized_client", "missing_user_code", "invalid_user_code", "invalid_binding_message",
                    "invalid_client", "access_denied"}  # fmt: skip
"""OpenID CIBA §13."""
BEARER_ERRORS = {"invalid_request", "invalid_token", "insufficient_scope"}
"""RFC 6750 §3.1."""
AUTHORIZE_ERRORS = {"invalid_request", "unauthorized_client", "access_denied", "unsupported_response_type",
                    "invalid_scope", "server_error", "temporarily_unavailable", "login_required"}  # fmt: skip
"""RFC 6749 §4.1.2.1, and OpenID Connect Core §3.1.2.6 (``login_required`` for ``prompt=none``)."""
PKCE_SYNTAX = "code_verifier must be 43 to 128 unreserved characters (RFC 7636)"
UNRESERVED = string.ascii_letters + string.digits + "-._~"
VERIFIERS = st.text(UNRESERVED, min_size=43, max_size=128)


class Psc:
    """A world without cards, two registered clients (PKCE required or not), a JSON client."""

    def __init__(self, pki: Pki) -> None:
        self.host = WorldHost(pki=pki, cards=False).start()
        self.world = self.host.world
        self.host.add_professional(first_name="ALAIN", last_name="D0000020981", profession="10", rpps="99700209812")
        self.host.register_client(STRICT, SECRET, [REDIRECT], require_pkce=True)
        self.host.register_client(LENIENT, SECRET, [REDIRECT, REDIRECT + "?tenant=1"])
        self.http = self.run(self._client())
        self.issuer = self.world.urls["psc"] + REALM_PATH
        self.oidc = self.issuer + "/protocol/openid-connect"

    async def _client(self) -> Any:
        return self.world.client()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.host.run(coroutine)

    def code(self, client_id: str, **params: str | None) -> str:
        """A code as if the user had logged in: the rules' own authorization request and code."""

        async def issue() -> str:
            psc, now = self.world.psc, self.world.state.now()
            assert psc is not None
            query = {"client_id": client_id, "redirect_uri": REDIRECT, "response_type": "code", "scope": "openid"}
            query.update({k: v for k, v in params.items() if v is not None})
            request = start_authorization(psc, query, now)
            return issue_code(psc, request, NATIONAL_ID, "MOBILE", now)

        return self.run(issue())

    def post(self, path: str, form: dict[str, str] | bytes, headers: dict[str, str] | None = None) -> Any:
        """POST to ``path`` under the OIDC endpoints (``/token``…), or under the issuer if it starts with ``/ext``."""

        async def send() -> tuple[int, dict[str, str], bytes]:
            body = form if isinstance(form, bytes) else urlencode(form)
            headers_ = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
            base = self.issuer if path.startswith("/ext/") else self.oidc
            async with self.http.post(base + path, data=body, headers=headers_) as reply:
                return reply.status, dict(reply.headers), await reply.read()

        return self.run(send())

    def get(self, url: str, params: dict[str, str], headers: dict[str, str] | None = None) -> Any:
        async def send() -> tuple[int, dict[str, str], bytes]:
            async with self.http.get(url, params=params, headers=headers or {}, allow_redirects=False) as reply:
                return reply.status, dict(reply.headers), await reply.read()

        return self.run(send())

    def token(self, form: dict[str, str], client_id: str = STRICT) -> tuple[int, dict[str, Any]]:
        status, _, body = self.post("/token", form, {"Authorization": basic(client_id, SECRET)})
        return status, json.loads(body)

    def close(self) -> None:
        self.run(self.http.close())
        self.host.stop()


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.fixture(scope="module")
def psc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Psc]:
    running = Psc(Pki(tmp_path_factory.mktemp("oidc-pki")))
    yield running
    running.close()


# -- PKCE ----------------------------------------------------------------------------------------------------
@st.composite
def wrong_verifiers(draw: st.DrawFn, right: str) -> str:
    """Near misses (one character changed, added, dropped; case) and anything else."""
    kind = draw(st.sampled_from(["change", "append", "drop", "case", "other", "empty-ish"]))
    if kind == "change":
        i = draw(st.integers(0, len(right) - 1))
        c = draw(st.sampled_from(UNRESERVED).filter(lambda c: c != right[i]))
        return right[:i] + c + right[i + 1 :]
    if kind == "append":
        return right + draw(st.sampled_from(UNRESERVED))
    if kind == "drop":
        return right[:-1]
    if kind == "case":
        return right.swapcase()
    if kind == "empty-ish":
        return draw(st.sampled_from([" ", right + " ", " " + right, right + "\n"]))
    return draw(st.text(min_size=1, max_size=140))


@PROFILE
@given(right=VERIFIERS, data=st.data(), method=st.sampled_from(["S256", "plain"]))
def test_a_wrong_verifier_fails_every_time_and_burns_the_code(
    psc: Psc, right: str, data: st.DataObject, method: str
) -> None:
    wrong = data.draw(wrong_verifiers(right), label="wrong")
    assume(wrong != right)
    challenge = create_s256_code_challenge(right) if method == "S256" else right
    client = STRICT if method == "S256" else LENIENT
    code = psc.code(client, code_challenge=challenge, code_challenge_method=method)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    status, body = psc.token({**form, "code_verifier": wrong}, client)
    assert (status, body["error"]) == (400, "invalid_grant"), body
    status, body = psc.token({**form, "code_verifier": right}, client)
    assert (status, body["error"]) == (400, "invalid_grant"), "a code is used once, even after a failure"
    fresh = psc.code(client, code_challenge=challenge, code_challenge_method=method)
    status, body = psc.token({**form, "code": fresh, "code_verifier": right}, client)
    assert status == 200 and body["token_type"] == "Bearer", body


@pytest.mark.parametrize("method", ["S256", "plain"])
@pytest.mark.parametrize("verifier", ["é" * 43, "\x80" + "v" * 42, "v" * 42, "v" * 129, "v" * 42 + "+"])
def test_a_malformed_verifier_is_an_invalid_grant(psc: Psc, verifier: str, method: str) -> None:
    """Regression: a non-ASCII verifier made the S256 transform (and compare_digest, for plain) raise: 500."""
    right = "v" * 43
    client = STRICT if method == "S256" else LENIENT
    challenge = create_s256_code_challenge(right) if method == "S256" else right
    code = psc.code(client, code_challenge=challenge, code_challenge_method=method)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier}
    assert psc.token(form, client) == (400, {"error": "invalid_grant", "error_description": PKCE_SYNTAX})


@PROFILE
@given(verifier=st.one_of(st.none(), VERIFIERS))
def test_pkce_cannot_be_skipped_or_added(psc: Psc, verifier: str | None) -> None:
    """A code issued with a challenge needs a verifier; one issued without refuses a verifier."""
    with_challenge = psc.code(STRICT, code_challenge=create_s256_code_challenge("v" * 43), code_challenge_method="S256")
    form = {"grant_type": "authorization_code", "code": with_challenge, "redirect_uri": REDIRECT}
    if verifier is None:
        assert psc.token(form)[1]["error"] == "invalid_grant"
    without = psc.code(LENIENT)
    form = {"grant_type": "authorization_code", "code": without, "redirect_uri": REDIRECT}
    status, body = psc.token(form if verifier is None else {**form, "code_verifier": verifier}, LENIENT)
    assert (status == 200) == (verifier is None), body


# -- redirect_uri ------------------------------------------------------------------------------------------------
REDIRECT_VARIANTS = st.sampled_from(
    [
        REDIRECT + "/", REDIRECT.upper(), REDIRECT.replace("rp.", "RP."), REDIRECT.replace("https", "http"),
        REDIRECT + "?x=1", REDIRECT + "#f", REDIRECT.replace("/callback", "/%63allback"), REDIRECT + "%00",
        REDIRECT.replace(".test", ".test:443"), REDIRECT.replace("https://", "https://user@"), REDIRECT + "/..",
        REDIRECT[:-1], "https://rp.example.test.evil.test/callback", " " + REDIRECT, REDIRECT + " ", "",
    ]
)  # fmt: skip


@PROFILE
@given(variant=st.one_of(REDIRECT_VARIANTS, st.text(max_size=60).map(lambda t: REDIRECT + t)))
def test_redirect_uri_is_matched_exactly(psc: Psc, variant: str) -> None:
    assume(variant not in (REDIRECT, REDIRECT + "?tenant=1"))
    params = {"client_id": LENIENT, "redirect_uri": variant, "response_type": "code", "scope": "openid", "state": "s"}
    status, headers, body = psc.get(psc.world.urls["wallet"] + "/auth", params)
    assert status == 400 and "Location" not in headers and b'data-screen="requete-invalide"' in body
    code = psc.code(LENIENT)
    status, answer = psc.token({"grant_type": "authorization_code", "code": code, "redirect_uri": variant}, LENIENT)
    assert (status, answer["error"]) == (400, "invalid_grant")


# -- state and nonce ------------------------------------------------------------------------------------------
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=80)


@PROFILE
@given(state=TEXT, registered=st.sampled_from([REDIRECT, REDIRECT + "?tenant=1"]))
def test_state_comes_back_exactly_on_an_error_redirect(psc: Psc, state: str, registered: str) -> None:
    params = {"client_id": LENIENT, "redirect_uri": registered, "response_type": "token", "scope": "openid",
              "state": state}  # fmt: skip
    status, headers, _ = psc.get(psc.world.urls["wallet"] + "/auth", params)
    assert status == 303
    location = headers["Location"]
    assert location.startswith(registered + ("&" if "?" in registered else "?"))
    query = parse_qs(urlparse(location).query, keep_blank_values=True)
    assert query["state"] == [state] and query["error"] == ["unsupported_response_type"]
    if registered.endswith("tenant=1"):
        assert query["tenant"] == ["1"], "the registered URI's own query is kept"


@PROFILE
@given(state=st.one_of(st.none(), TEXT))
def test_state_comes_back_exactly_with_the_code(psc: Psc, state: str | None) -> None:
    """The success redirect (``to_client`` of the login pages) after the phone approved."""
    from simulators.web.psc.app import to_client

    request = AuthRequest("r", psc.world.psc.clients[LENIENT], REDIRECT, state, None, "openid", None, None,  # type: ignore[union-attr]
                          psc.world.state.now())  # fmt: skip
    location = to_client(request, code="c0de").headers["Location"]
    query = parse_qs(urlparse(location).query, keep_blank_values=True)
    assert query.get("state") == ([state] if state is not None else None) and query["code"] == ["c0de"]


@PROFILE
@given(nonce=st.one_of(st.none(), TEXT))
def test_nonce_is_in_the_id_token_exactly(psc: Psc, nonce: str | None) -> None:
    code = psc.code(LENIENT, nonce=nonce)
    status, body = psc.token({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}, LENIENT)
    assert status == 200, body
    assert psc.world.psc is not None
    claims = jwt.decode(body["id_token"], psc.world.psc.key, algorithms=["RS256"]).claims
    assert claims.get("nonce") == nonce and claims["aud"] == LENIENT


# -- RFC-conformant errors -------------------------------------------------------------------------------------
FIELDS = ["grant_type", "code", "redirect_uri", "code_verifier", "client_id", "client_secret", "token",
          "auth_req_id", "login_hint", "scope", "binding_message", "token_type_hint", "refresh_token"]  # fmt: skip
FIELD_VALUES = st.one_of(
    st.sampled_from(["authorization_code", "urn:openid:params:grant-type:ciba", "password", "refresh_token",
                     "client_credentials", "openid", STRICT, SECRET, REDIRECT, NATIONAL_ID, "", "openid scope_all",
                     "openid offline_access", "\x80", "sécret", "v" * 43, "e30.e30.e30", "a.b.c"]),
    st.text(max_size=40),
)  # fmt: skip
AUTHORIZATIONS = st.one_of(
    st.none(),
    st.just(basic(STRICT, SECRET)),
    st.just(basic(STRICT, "wrong")),
    st.just(basic("nobody", SECRET)),
    st.sampled_from(["Basic !!!", "Basic " + base64.b64encode(b"\xff\xfe").decode(), "Bearer x", "Basic "]),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30).map(lambda t: "Bearer " + t),
)
"""Header values a client can send (HTTP clients refuse control characters in headers)."""
ENDPOINTS = {
    "/token": TOKEN_ERRORS | CIBA_POLL_ERRORS,
    "/token/introspect": TOKEN_ERRORS,
    "/revoke": TOKEN_ERRORS | {"unsupported_token_type"},
}


def check_oauth_error(where: str, status: int, headers: dict[str, str], body: bytes, allowed: set[str]) -> None:
    assert status < 500, f"{where}: {status}"
    if status < 400:
        return
    assert status in (400, 401), f"{where}: {status} is not an OAuth error status"
    assert headers.get("Content-Type", "").startswith("application/json"), f"{where}: {headers}"
    answer = json.loads(body)
    assert answer["error"] in allowed, f"{where}: {answer}"
    assert isinstance(answer.get("error_description", ""), str)
    assert set(answer["error"]) <= set(string.printable) - set('"\\')  # RFC 6749: %x20-21 / %x23-5B / %x5D-7E
    assert "no-store" in headers.get("Cache-Control", ""), f"{where}: {headers}"
    if status == 401:
        assert headers.get("WWW-Authenticate"), f"{where}: 401 without WWW-Authenticate"


@PROFILE
@given(
    endpoint=st.sampled_from(sorted(ENDPOINTS)),
    form=st.dictionaries(st.sampled_from(FIELDS), FIELD_VALUES, max_size=6),
    authorization=AUTHORIZATIONS,
    content_type=st.sampled_from(["application/x-www-form-urlencoded"] * 4 + ["application/json", "text/plain"]),
)
def test_json_endpoints_answer_rfc_errors(
    psc: Psc, endpoint: str, form: dict[str, str], authorization: str | None, content_type: str
) -> None:
    headers = {"Content-Type": content_type, **({"Authorization": authorization} if authorization else {})}
    status, reply_headers, body = psc.post(endpoint, urlencode(form).encode(), headers)
    check_oauth_error(f"POST {endpoint} {form} {authorization!r}", status, reply_headers, body, ENDPOINTS[endpoint])


@pytest.mark.parametrize("path", ["/token", "/token/introspect", "/revoke", "/ext/ciba/auth"])
@pytest.mark.parametrize("how", ["basic", "post"])
def test_a_non_ascii_client_secret_is_invalid_client(psc: Psc, path: str, how: str) -> None:
    """Regression: compare_digest raised TypeError on a non-ASCII secret, a 500 instead of a 401."""
    form = {"grant_type": "authorization_code", "code": "x", "token": "x", "login_hint": NATIONAL_ID}
    if how == "post":
        form |= {"client_id": STRICT, "client_secret": "sécret"}
        headers = {}
    else:
        headers = {"Authorization": "Basic " + base64.b64encode(f"{STRICT}:sécret".encode()).decode()}
    status, reply_headers, body = psc.post(path, form, headers)
    assert (status, json.loads(body)["error"]) == (401, "invalid_client")
    assert reply_headers["WWW-Authenticate"].startswith("Basic")


@PROFILE
@given(form=st.dictionaries(st.sampled_from(FIELDS), FIELD_VALUES, max_size=6), authorization=AUTHORIZATIONS)
def test_ciba_endpoint_answers_rfc_errors(psc: Psc, form: dict[str, str], authorization: str | None) -> None:
    async def send() -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if authorization:
            headers["Authorization"] = authorization
        async with psc.http.post(psc.issuer + "/ext/ciba/auth", data=urlencode(form), headers=headers) as reply:
            return reply.status, dict(reply.headers), await reply.read()

    status, headers, body = psc.run(send())
    check_oauth_error(f"CIBA {form}", status, headers, body, CIBA_AUTH_ERRORS)


@PROFILE
@given(authorization=AUTHORIZATIONS, method=st.sampled_from(["GET", "POST"]))
def test_userinfo_answers_bearer_errors(psc: Psc, authorization: str | None, method: str) -> None:
    async def send() -> tuple[int, dict[str, str], bytes]:
        headers = {"Authorization": authorization} if authorization else {}
        async with psc.http.request(method, psc.oidc + "/userinfo", headers=headers) as reply:
            return reply.status, dict(reply.headers), await reply.read()

    status, headers, body = psc.run(send())
    assert status == 401, "no valid token was sent"
    check_oauth_error("userinfo", status, headers, body, BEARER_ERRORS)


AUTHORIZE_KEYS = ["client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge",
                  "code_challenge_method", "acr_values", "response_mode", "prompt", "max_age"]  # fmt: skip
AUTHORIZE_VALUES = st.one_of(
    st.sampled_from([STRICT, LENIENT, REDIRECT, "code", "token", "openid", "openid scope_all", "profile", "S256",
                     "plain", "eidas1", "eidas3", "a" * 43, create_s256_code_challenge("v" * 43), "query",
                     "fragment", "form_post", "none", "login", "none login", "0", "-1", "openid offline_access"]),
    st.text(max_size=30),
)  # fmt: skip


@PROFILE
@given(params=st.dictionaries(st.sampled_from(AUTHORIZE_KEYS), AUTHORIZE_VALUES, max_size=9))
def test_the_authorization_endpoint_redirects_only_to_a_registered_uri(psc: Psc, params: dict[str, str]) -> None:
    status, headers, body = psc.get(psc.world.urls["wallet"] + "/auth", params)
    assert status in (200, 303, 400), status
    if status == 303:
        location = headers["Location"]
        client = psc.world.psc.clients[params["client_id"]]  # type: ignore[union-attr]
        assert params["redirect_uri"] in client.redirect_uris
        assert location.startswith(params["redirect_uri"])
        answer = urlparse(location).fragment if params.get("response_mode") == "fragment" else urlparse(location).query
        query = parse_qs(answer, keep_blank_values=True)
        assert query["error"][0] in AUTHORIZE_ERRORS
        assert query.get("state") == ([params["state"]] if "state" in params else None)
    elif status == 400:
        assert b'data-screen="requete-invalide"' in body
    elif b'data-screen="retour-application"' in body:  # response_mode=form_post: the error posted back
        assert params.get("response_mode") == "form_post" and b'name="error"' in body
        client = psc.world.psc.clients[params["client_id"]]  # type: ignore[union-attr]
        assert params["redirect_uri"] in client.redirect_uris
    else:
        assert b'data-screen="choix-moyen"' in body


# -- refresh tokens ------------------------------------------------------------------------------------------
@PROFILE
@given(mutation=st.sampled_from(["none", "reuse", "flip", "truncate", "other_client", "widen"]), scope=TEXT)
def test_a_refresh_token_works_once_and_only_as_issued(psc: Psc, mutation: str, scope: str) -> None:
    """A fresh refresh token works once; a used, altered, truncated, foreign one or a wider scope never does."""
    code = psc.code(LENIENT)
    status, first = psc.token({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}, LENIENT)
    assert status == 200, first
    token = first["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": token}
    client = LENIENT
    if mutation == "reuse":
        assert psc.token(dict(form), LENIENT)[0] == 200
    elif mutation == "flip":
        form["refresh_token"] = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    elif mutation == "truncate":
        form["refresh_token"] = token[: len(token) // 2]
    elif mutation == "other_client":
        client = STRICT
    elif mutation == "widen":
        form["scope"] = "openid " + scope
        assume(set(form["scope"].split()) != {"openid"})
    status, answer = psc.token(form, client)
    if mutation == "none":
        assert status == 200 and answer["refresh_token"] != token
    else:
        expected = "invalid_scope" if mutation == "widen" else "invalid_grant"
        assert (status, answer["error"]) == (400, expected), (mutation, answer)
