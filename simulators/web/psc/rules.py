"""Pro Santé Connect's rules: clients, authorization requests, codes, tokens, CIBA. No I/O.

JWTs are signed and checked with joserfc (RS256, with ``kid``); PKCE uses authlib's S256
transform. What is PSC-specific follows ``docs/psc-ecps-identifiers-pki.md`` §1–2: the realm
``esante-wallet``, access tokens of 120 s, ``acr`` ``eidas1``, userinfo shapes, CIBA with
``expires_in`` 120 and ``interval`` 1.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from simulators.world.directory import Professional
from simulators.world.ecps import EcpsError, PushStatus
from simulators.world.state import WorldState

REALM_PATH = "/auth/realms/esante-wallet"
ACCESS_TOKEN_LIFETIME = dt.timedelta(seconds=120)
CODE_LIFETIME = dt.timedelta(seconds=60)
CIBA_LIFETIME = 120
CIBA_INTERVAL = 1
ACR = "eidas1"
REALM_UUID = "550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd"
"""The realm prefix of PSC's ``sub`` as seen in published samples (``f:<uuid>:<national id>``)."""
CIBA_GRANT = "urn:openid:params:grant-type:ciba"
PKCE_VALUE = re.compile(r"[A-Za-z0-9._~-]{43,128}")
"""RFC 7636 §4.1: a code_verifier (and a plain or S256 code_challenge) is 43-128 unreserved characters."""
SANDBOX_SCOPES = (
    "openid", "address", "email", "identity", "microprofile-jwt", "offline_access", "phone", "profile", "roles",
    "scope_1", "scope_2", "scope_all", "web-origins", "eidas2",
)  # fmt: skip
"""``scopes_supported`` of the sandbox's discovery document, in its order."""
SCOPES = (*SANDBOX_SCOPES, "rpps", "referentiel", "eidas1")
"""What an RP may ask: the sandbox's list, and the scopes ANS's own mock discovery adds."""
OFFLINE_SCOPE = "offline_access"
AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"
GRANT_TYPES = (AUTHORIZATION_CODE, REFRESH_TOKEN, CIBA_GRANT)
"""The grants PSC answers; a client is registered with some or all of them."""
REFRESH_LIFETIME = dt.timedelta(minutes=30)
"""A refresh token's idle lifetime: Keycloak's default "SSO Session Idle"."""
SESSION_MAX = dt.timedelta(hours=10)
"""No refresh past this after the login: Keycloak's default "SSO Session Max"."""
OFFLINE_LIFETIME = dt.timedelta(days=30)
"""An offline token's idle lifetime (``offline_access``): Keycloak's default "Offline Session Idle"."""
ID_TOKEN_LIFETIME = dt.timedelta(seconds=300)
RESPONSE_MODES = ("query", "fragment", "form_post")
PROMPTS = ("none", "login", "consent", "select_account")


class Fault(enum.StrEnum):
    """Named error paths a scenario switches on for a client or a user."""

    ACCESS_DENIED = "access_denied"
    INVALID_GRANT = "invalid_grant"
    SERVER_ERROR = "server_error"
    ID_TOKEN_EXPIRED = "id_token_expired"
    ID_TOKEN_TAMPERED = "id_token_tampered"
    ID_TOKEN_WRONG_ISSUER = "id_token_wrong_issuer"
    SLOW_TOKEN = "slow_token"


class OAuthError(Exception):
    """An RFC 6749 / OIDC / CIBA error: ``error`` code, description, HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def as_json(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass
class Client:
    client_id: str
    secret: str
    redirect_uris: list[str]
    name: str
    require_pkce: bool = False
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    grant_types: tuple[str, ...] = GRANT_TYPES
    """The grants this client may use (others answer ``unauthorized_client``)."""


@dataclass
class AuthRequest:
    id: str
    client: Client
    redirect_uri: str
    state: str | None
    nonce: str | None
    scope: str
    code_challenge: str | None
    code_challenge_method: str | None
    created_at: dt.datetime
    push_request: str | None = None
    """The e-CPS login request (``EcpsRegistry.request_push``): a push to each of the person's devices."""
    national_id: str | None = None
    response_mode: str = "query"
    """How the answer goes back: ``query`` or ``fragment`` of the redirect, or a ``form_post`` page."""


@dataclass
class Grant:
    """An authenticated user for a client: what a code or a CIBA request turns into tokens."""

    client_id: str
    national_id: str
    scope: str
    nonce: str | None
    auth_time: dt.datetime
    auth_mode: str
    redirect_uri: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    expires_at: dt.datetime | None = None
    used: bool = False
    session: RefreshSession | None = None
    """Set when the grant is a refresh: the login session it continues."""


@dataclass
class RefreshSession:
    """A login's session as refresh tokens carry it on: one live refresh token at a time (rotation)."""

    id: str
    client_id: str
    national_id: str
    scope: str
    auth_time: dt.datetime
    auth_mode: str
    offline: bool
    current: str = ""
    """The jti of the one refresh token that may be used next."""
    ends_at: dt.datetime | None = None
    """The session's hard end (``SESSION_MAX`` after the login; none for an offline session)."""
    revoked: bool = False


@dataclass
class CibaRequest:
    auth_req_id: str
    client_id: str
    push_request: str
    national_id: str
    scope: str
    expires_at: dt.datetime
    last_poll: dt.datetime | None = None
    done: bool = False


@dataclass
class PscState:
    key: RSAKey
    clients: dict[str, Client] = field(default_factory=dict)
    requests: dict[str, AuthRequest] = field(default_factory=dict)
    codes: dict[str, Grant] = field(default_factory=dict)
    ciba: dict[str, CibaRequest] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    sessions: dict[str, RefreshSession] = field(default_factory=dict)
    issued: list[str] = field(default_factory=list)
    """Every JWT handed out, in order: reports decode and verify them."""
    client_faults: dict[str, set[Fault]] = field(default_factory=dict)
    user_faults: dict[str, set[Fault]] = field(default_factory=dict)
    slow_token_seconds: float = 5.0

    @classmethod
    def from_key(cls, private_key: rsa.RSAPrivateKey) -> PscState:
        """The signing key as a JWK whose ``kid`` is derived from the public key (stable across runs)."""
        public = private_key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        kid = hashlib.sha256(public).hexdigest()[:16]
        return cls(RSAKey.import_key(private_key, {"kid": kid, "use": "sig", "alg": "RS256"}))

    def faults_for(self, client_id: str | None, national_id: str | None) -> set[Fault]:
        return self.client_faults.get(client_id or "", set()) | self.user_faults.get(national_id or "", set())

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False)]}


def register_client(psc: PscState, client: Client) -> Client:
    if not client.client_id or not client.redirect_uris:
        raise ValueError("a client needs a client_id and at least one redirect_uri")
    psc.clients[client.client_id] = client
    return client


# -- authorization ---------------------------------------------------------------------------------
class BadRedirect(OAuthError):
    """An error that must not be sent to the redirect_uri (unknown client, unregistered URI)."""


def check_scope(scope: str) -> str:
    """The requested scope, if PSC knows every value and ``openid`` is one (``invalid_scope`` otherwise).

    ``acr_values`` is not checked: OpenID Connect makes it a wish, not a condition, and PSC grants
    ``eidas1`` only; the ``acr`` claim says so, and relying parties check it.
    """
    values = scope.split()
    if "openid" not in values:
        raise OAuthError("invalid_scope", "scope must include openid")
    unknown = [v for v in values if v not in SCOPES]
    if unknown:
        raise OAuthError("invalid_scope", f"unknown scope(s): {' '.join(unknown)}")
    return scope


def response_mode(params: dict[str, str]) -> str:
    """The answer's channel the RP asked for (``query`` by default for the code flow)."""
    mode = params.get("response_mode") or "query"
    if mode not in RESPONSE_MODES:
        raise OAuthError("invalid_request", f"response_mode: one of {', '.join(RESPONSE_MODES)}")
    return mode


def start_authorization(psc: PscState, params: dict[str, str], now: dt.datetime) -> AuthRequest:
    client = psc.clients.get(params.get("client_id", ""))
    if client is None:
        raise BadRedirect("invalid_client", "unknown client_id")
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        raise BadRedirect("invalid_request", "redirect_uri is not registered for this client (exact match)")
    if params.get("response_type") != "code":
        raise OAuthError("unsupported_response_type", "only response_type=code is supported")
    if AUTHORIZATION_CODE not in client.grant_types:
        raise OAuthError("unauthorized_client", "this client may not use the authorization code flow")
    scope = check_scope(params.get("scope", ""))
    prompts = params.get("prompt", "").split()
    if any(p not in PROMPTS for p in prompts) or ("none" in prompts and len(prompts) > 1):
        raise OAuthError("invalid_request", f"prompt: none alone, or some of {', '.join(PROMPTS[1:])}")
    if "none" in prompts:  # the simulator keeps no login session between requests
        raise OAuthError("login_required", "the user must log in: PSC holds no session for this browser")
    max_age = params.get("max_age")
    if max_age is not None and not (max_age.isascii() and max_age.isdigit()):
        raise OAuthError("invalid_request", "max_age: a number of seconds")
    challenge, method = params.get("code_challenge"), params.get("code_challenge_method")
    if challenge is None and client.require_pkce:
        raise OAuthError("invalid_request", "this client must use PKCE (code_challenge with S256)")
    if challenge is not None:
        method = method or "plain"
        if method not in ("S256", "plain"):
            raise OAuthError("invalid_request", "code_challenge_method must be S256 or plain")
        if client.require_pkce and method != "S256":
            raise OAuthError("invalid_request", "this client must use code_challenge_method=S256")
        if not PKCE_VALUE.fullmatch(challenge):
            raise OAuthError("invalid_request", "code_challenge must be 43 to 128 unreserved characters (RFC 7636)")
    request = AuthRequest(
        secrets.token_urlsafe(16), client, redirect_uri, params.get("state"), params.get("nonce"), scope, challenge,
        method, now, response_mode=response_mode(params),
    )  # fmt: skip
    psc.requests[request.id] = request
    return request


def request_ecps_push(psc: PscState, world: WorldState, request: AuthRequest, national_id: str) -> None:
    """The user chose "Application e-CPS" and typed the national id: a push goes to each of their phones."""
    login = world.ecps.request_push(national_id, request.client.name, "00", world.now())  # EcpsError if none
    request.push_request, request.national_id = login.id, national_id


def ecps_outcome(psc: PscState, world: WorldState, request: AuthRequest) -> PushStatus:
    """The first answer of one of the person's phones, or ``expired``, or ``pending``."""
    if request.push_request is None:
        raise OAuthError("invalid_request", "no push was sent for this request")
    try:
        return world.ecps.push_request(request.push_request, world.now()).status
    except EcpsError as exc:
        raise OAuthError("invalid_request", str(exc)) from exc


def issue_code(psc: PscState, request: AuthRequest, national_id: str, auth_mode: str, now: dt.datetime) -> str:
    if Fault.ACCESS_DENIED in psc.faults_for(request.client.client_id, national_id):
        raise OAuthError("access_denied", "the user or PSC refused the authorization")
    code = secrets.token_urlsafe(24)
    psc.codes[code] = Grant(
        request.client.client_id,
        national_id,
        request.scope,
        request.nonce,
        now,
        auth_mode,
        request.redirect_uri,
        request.code_challenge,
        request.code_challenge_method,
        now + CODE_LIFETIME,
    )
    psc.requests.pop(request.id, None)
    return code


# -- client authentication and tokens ------------------------------------------------------------------
def authenticate_client(psc: PscState, basic: tuple[str, str] | None, form: dict[str, str]) -> Client:
    """client_secret_basic or client_secret_post; 401 invalid_client otherwise."""
    if basic is not None:
        client_id, secret = basic
    else:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    client = psc.clients.get(client_id)
    # bytes: compare_digest raises TypeError on str with non-ASCII characters (a 500, found by fuzzing)
    given = secret.encode("utf-8", "surrogatepass")
    if client is None or not secret or not hmac.compare_digest(client.secret.encode(), given):
        raise OAuthError("invalid_client", "client authentication failed", 401)
    return client


def _check_pkce(grant: Grant, verifier: str | None) -> None:
    if grant.code_challenge is None:
        if verifier is not None:
            raise OAuthError("invalid_grant", "code_verifier sent but no code_challenge was")
        return
    if verifier is None:
        raise OAuthError("invalid_grant", "code_verifier is required")
    if not PKCE_VALUE.fullmatch(verifier):  # also keeps non-ASCII out of the S256 transform and compare_digest
        raise OAuthError("invalid_grant", "code_verifier must be 43 to 128 unreserved characters (RFC 7636)")
    expected = create_s256_code_challenge(verifier) if grant.code_challenge_method == "S256" else verifier
    if not hmac.compare_digest(expected, grant.code_challenge):
        raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")


def exchange_code(psc: PscState, client: Client, form: dict[str, str], now: dt.datetime) -> Grant:
    code = form.get("code")
    if not code:
        raise OAuthError("invalid_request", "code is required")
    grant = psc.codes.get(code)
    if grant is None or grant.client_id != client.client_id:
        raise OAuthError("invalid_grant", "unknown code")
    if grant.used:
        raise OAuthError("invalid_grant", "code already used")
    grant.used = True
    if grant.expires_at is not None and now > grant.expires_at:
        raise OAuthError("invalid_grant", "code expired")
    if form.get("redirect_uri") != grant.redirect_uri:
        raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request")
    _check_pkce(grant, form.get("code_verifier"))
    return grant


def _session(psc: PscState, grant: Grant) -> RefreshSession:
    """The login session a grant belongs to: the refreshed one, or a new one for a code or CIBA login."""
    if grant.session is not None:
        return grant.session
    offline = OFFLINE_SCOPE in grant.scope.split()
    session = RefreshSession(
        str(uuid.uuid4()), grant.client_id, grant.national_id, grant.scope, grant.auth_time, grant.auth_mode, offline,
        ends_at=None if offline else grant.auth_time + SESSION_MAX,
    )  # fmt: skip
    psc.sessions[session.id] = session
    return session


def _refresh_token(
    psc: PscState, session: RefreshSession, header: dict[str, Any], issuer: str, now: dt.datetime
) -> tuple[str, int]:
    """A new refresh token of the session (the previous one can no longer be used), and its lifetime."""
    idle = OFFLINE_LIFETIME if session.offline else REFRESH_LIFETIME
    expires = now + idle if session.ends_at is None else min(now + idle, session.ends_at)
    session.current = str(uuid.uuid4())
    claims = {
        "iss": issuer, "aud": issuer, "sub": f"f:{REALM_UUID}:{session.national_id}", "azp": session.client_id,
        "typ": "Offline" if session.offline else "Refresh", "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()), "jti": session.current, "sid": session.id, "scope": session.scope,
    }  # fmt: skip
    return jwt.encode(header, claims, psc.key), max(0, int((expires - now).total_seconds()))


def tokens(psc: PscState, grant: Grant, issuer: str, now: dt.datetime) -> dict[str, Any]:
    """Access token (JWT, 120 s), id_token and refresh token, as Keycloak answers a token request;
    the named faults applied to the id_token."""
    faults = psc.faults_for(grant.client_id, grant.national_id)
    if Fault.INVALID_GRANT in faults:
        raise OAuthError("invalid_grant", "the grant was refused (fault)")
    if Fault.SERVER_ERROR in faults:
        raise OAuthError("server_error", "PSC met an internal error (fault)", 500)
    session = _session(psc, grant)
    iat = int(now.timestamp())
    sub = f"f:{REALM_UUID}:{grant.national_id}"
    header = {"alg": "RS256", "kid": psc.key.kid, "typ": "JWT"}
    access = {
        "iss": issuer, "sub": sub, "aud": grant.client_id, "azp": grant.client_id, "typ": "Bearer",
        "iat": iat, "exp": iat + int(ACCESS_TOKEN_LIFETIME.total_seconds()), "jti": str(uuid.uuid4()),
        "scope": grant.scope, "acr": ACR, "preferred_username": grant.national_id, "sid": session.id,
        "session_state": session.id, "email_verified": False,
        "SubjectNameID": grant.national_id, "auth_time": int(grant.auth_time.timestamp()), "authMode": grant.auth_mode,
    }  # fmt: skip
    if grant.nonce is not None:
        access["nonce"] = grant.nonce
    id_claims: dict[str, Any] = {
        "iss": issuer, "sub": sub, "aud": grant.client_id, "azp": grant.client_id, "iat": iat,
        "exp": iat + int(ID_TOKEN_LIFETIME.total_seconds()), "auth_time": int(grant.auth_time.timestamp()),
        "acr": ACR, "preferred_username": grant.national_id, "typ": "ID", "sid": session.id,
        "session_state": session.id,
    }  # fmt: skip
    if grant.nonce is not None:
        id_claims["nonce"] = grant.nonce
    if Fault.ID_TOKEN_EXPIRED in faults:
        id_claims["iat"], id_claims["exp"] = iat - 3600, iat - 1800
    if Fault.ID_TOKEN_WRONG_ISSUER in faults:
        id_claims["iss"] = issuer.replace("esante-wallet", "another-realm")
    id_token = jwt.encode(header, id_claims, psc.key)
    if Fault.ID_TOKEN_TAMPERED in faults:
        head, payload, signature = id_token.split(".")
        id_token = ".".join((head, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")))
    access_token = jwt.encode(header, access, psc.key)
    refresh_token, refresh_expires_in = _refresh_token(psc, session, header, issuer, now)
    psc.issued += [access_token, id_token, refresh_token]
    return {
        "access_token": access_token,
        "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()),
        "refresh_expires_in": refresh_expires_in,
        "refresh_token": refresh_token,
        "token_type": "Bearer",
        "id_token": id_token,
        "not-before-policy": 0,
        "session_state": session.id,
        "scope": grant.scope,
    }


def _read_jwt(psc: PscState, token: str, issuer: str) -> dict[str, Any]:
    try:
        claims = dict(jwt.decode(token, psc.key, algorithms=["RS256"]).claims)
    except (JoseError, ValueError) as exc:
        raise OAuthError("invalid_token", "the token is not valid", 401) from exc
    if claims.get("iss") != issuer:
        raise OAuthError("invalid_token", "not a token of this issuer", 401)
    return claims


def read_refresh_token(
    psc: PscState, token: str, issuer: str, now: dt.datetime
) -> tuple[RefreshSession, dict[str, Any]]:
    """The session of a live refresh token (the last one issued, unexpired, its session not revoked)."""
    try:
        claims = _read_jwt(psc, token, issuer)
    except OAuthError as exc:
        raise OAuthError("invalid_grant", "invalid refresh token") from exc
    session = psc.sessions.get(str(claims.get("sid", "")))
    if claims.get("typ") not in ("Refresh", "Offline") or session is None:
        raise OAuthError("invalid_grant", "invalid refresh token")
    if session.revoked:
        raise OAuthError("invalid_grant", "the session was revoked or logged out")
    if claims.get("jti") != session.current:
        raise OAuthError("invalid_grant", "refresh token already used (a new one was issued with it)")
    if int(claims.get("exp", 0)) <= int(now.timestamp()):
        raise OAuthError("invalid_grant", "refresh token expired")
    return session, claims


def exchange_refresh(psc: PscState, client: Client, form: dict[str, str], issuer: str, now: dt.datetime) -> Grant:
    """The ``refresh_token`` grant: new tokens for the same login, the refresh token rotated."""
    value = form.get("refresh_token")
    if not value:
        raise OAuthError("invalid_request", "refresh_token is required")
    session, _ = read_refresh_token(psc, value, issuer, now)
    if session.client_id != client.client_id:
        raise OAuthError("invalid_grant", "the refresh token was issued to another client")
    scope = form.get("scope") or session.scope
    if not set(scope.split()) <= set(session.scope.split()):
        raise OAuthError("invalid_scope", "a refresh may narrow the scope, not widen it")
    return Grant(
        client.client_id, session.national_id, scope, None, session.auth_time, session.auth_mode, session=session
    )


def revoke_session(psc: PscState, session_id: str) -> None:
    """Revoking a refresh token ends its session: its refresh and access tokens stop working (RFC 7009 §2.1)."""
    session = psc.sessions.get(session_id)
    if session is not None:
        session.revoked = True


def read_access_token(psc: PscState, token: str, issuer: str, now: dt.datetime) -> dict[str, Any]:
    """The claims of a valid, unexpired, unrevoked access token; OAuthError(invalid_token) otherwise."""
    try:
        claims = _read_jwt(psc, token, issuer)
    except OAuthError as exc:
        raise OAuthError("invalid_token", "the access token is not valid", 401) from exc
    if claims.get("typ") != "Bearer":
        raise OAuthError("invalid_token", "not an access token of this issuer", 401)
    session = psc.sessions.get(str(claims.get("sid", "")))
    if claims.get("jti") in psc.revoked or (session is not None and session.revoked):
        raise OAuthError("invalid_token", "the access token was revoked", 401)
    if int(claims.get("exp", 0)) <= int(now.timestamp()):
        raise OAuthError("invalid_token", "the access token expired", 401)
    return dict(claims)


def userinfo(professional: Professional, claims: dict[str, Any]) -> dict[str, Any]:
    """PSC's userinfo shapes, filled from the directory (``scope_all``)."""
    identifier = professional.national_id  # the published samples: "identifiant": "899700366240", the national id
    exercice: dict[str, Any] = {
        "codeProfession": professional.profession,
        "codeCategorieProfessionnelle": "C",
        "codeCiviliteDexercice": "DR" if professional.profession == "10" else "",
        "nomDexercice": professional.last_name,
        "prenomDexercice": professional.first_name,
        "codeTypeSavoirFaire": "",
        "codeSavoirFaire": "",
        "activities": [
            {
                "codeModeExercice": a.mode,
                "codeSecteurDactivite": a.sector,
                "codeGenreActivite": "GENR01",
                "numeroFinessSite": "",
                "identifiantTechniqueDeLaStructure": a.structure_id,
                "raisonSocialeSite": a.structure_name,
                "codePostal": a.postcode,
                "autoriteDenregistrement": "",
            }
            for a in professional.activities
        ],
    }
    first = professional.activities[0] if professional.activities else None
    return {
        "sub": claims["sub"],
        "preferred_username": professional.national_id,
        "SubjectNameID": professional.national_id,
        "given_name": professional.first_name,
        "family_name": professional.last_name,
        "email_verified": False,
        "SubjectOrganization": first.structure_name if first else "",
        "SubjectOrganizationID": first.structure_id if first else "",
        "SubjectRole": [f"{professional.profession}^1.2.250.1.213.1.1.5.5"],
        "authMode": claims.get("authMode", ""),
        "otherIds": [{"identifiant": identifier, "origine": "RPPS" if professional.rpps else "ADELI", "qualite": 1}],
        "SubjectRefPro": {"codeCivilite": professional.civility, "exercices": [exercice]},
    }


# -- CIBA --------------------------------------------------------------------------------------------
def start_ciba(psc: PscState, world: WorldState, client: Client, form: dict[str, str]) -> CibaRequest:
    if CIBA_GRANT not in client.grant_types:
        raise OAuthError("unauthorized_client", "this client may not use CIBA")
    national_id = form.get("login_hint", "")
    if not national_id:
        raise OAuthError("invalid_request", "login_hint (the national id) is required")
    scope = check_scope(form.get("scope", ""))
    try:
        login = world.ecps.request_push(national_id, client.name, form.get("binding_message", "00"), world.now())
    except EcpsError as exc:
        raise OAuthError("unknown_user_id", str(exc)) from exc
    request = CibaRequest(
        secrets.token_urlsafe(24),
        client.client_id,
        login.id,
        national_id,
        scope,
        world.now() + dt.timedelta(seconds=CIBA_LIFETIME),
    )
    psc.ciba[request.auth_req_id] = request
    return request


def poll_ciba(psc: PscState, world: WorldState, client: Client, form: dict[str, str]) -> Grant:
    request = psc.ciba.get(form.get("auth_req_id", ""))
    if request is None or request.client_id != client.client_id or request.done:
        raise OAuthError("invalid_grant", "unknown auth_req_id")
    now = world.now()
    too_fast = request.last_poll is not None and (now - request.last_poll).total_seconds() < CIBA_INTERVAL
    request.last_poll = now
    status = world.ecps.push_request(request.push_request, now).status
    if now >= request.expires_at or status is PushStatus.EXPIRED:
        request.done = True
        raise OAuthError("expired_token", "the authentication request expired")
    if status in (PushStatus.REFUSED, PushStatus.FAILED):
        request.done = True
        raise OAuthError("access_denied", "the end-user refused or failed the authentication")
    if status is PushStatus.PENDING:
        if too_fast:
            raise OAuthError("slow_down", f"poll at most every {CIBA_INTERVAL} s")
        raise OAuthError(
            "authorization_pending",
            "The authorization request is still pending as the end-user hasn't yet been authenticated.",
        )
    request.done = True
    return Grant(client.client_id, request.national_id, request.scope, None, now, "MOBILE")
