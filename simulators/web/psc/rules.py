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
SCOPES = ("openid", "scope_all", "profile", "email", "rpps", "identity", "eidas1")


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
    push_id: str | None = None
    national_id: str | None = None


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


@dataclass
class CibaRequest:
    auth_req_id: str
    client_id: str
    push_id: str
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


def start_authorization(psc: PscState, params: dict[str, str], now: dt.datetime) -> AuthRequest:
    client = psc.clients.get(params.get("client_id", ""))
    if client is None:
        raise BadRedirect("invalid_client", "unknown client_id")
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        raise BadRedirect("invalid_request", "redirect_uri is not registered for this client (exact match)")
    state = params.get("state")
    if params.get("response_type") != "code":
        raise OAuthError("unsupported_response_type", "only response_type=code is supported")
    scope = params.get("scope", "")
    if "openid" not in scope.split():
        raise OAuthError("invalid_scope", "scope must include openid")
    unknown = [s for s in scope.split() if s not in SCOPES]
    if unknown:
        raise OAuthError("invalid_scope", f"unknown scope(s): {' '.join(unknown)}")
    acr = params.get("acr_values")
    if acr is not None and ACR not in acr.split():
        raise OAuthError("invalid_request", f"acr_values must include {ACR}")
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
        secrets.token_urlsafe(16), client, redirect_uri, state, params.get("nonce"), scope, challenge, method, now
    )
    psc.requests[request.id] = request
    return request


def request_ecps_push(psc: PscState, world: WorldState, request: AuthRequest, national_id: str) -> None:
    """The user chose "Application e-CPS" and typed the national id: a push goes to the phone."""
    push = world.ecps.request_push(national_id, request.client.name, "00", world.now())  # EcpsError if none
    request.push_id, request.national_id = push.id, national_id


def ecps_outcome(psc: PscState, world: WorldState, request: AuthRequest) -> PushStatus:
    if request.push_id is None:
        raise OAuthError("invalid_request", "no push was sent for this request")
    try:
        return world.ecps.push(request.push_id, world.now()).status
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


def tokens(psc: PscState, grant: Grant, issuer: str, now: dt.datetime) -> dict[str, Any]:
    """Access token (JWT, 120 s) and id_token, with the named faults applied to the id_token."""
    faults = psc.faults_for(grant.client_id, grant.national_id)
    if Fault.INVALID_GRANT in faults:
        raise OAuthError("invalid_grant", "the grant was refused (fault)")
    if Fault.SERVER_ERROR in faults:
        raise OAuthError("server_error", "PSC met an internal error (fault)", 500)
    iat = int(now.timestamp())
    sub = f"f:{REALM_UUID}:{grant.national_id}"
    header = {"alg": "RS256", "kid": psc.key.kid, "typ": "JWT"}
    access = {
        "iss": issuer, "sub": sub, "aud": grant.client_id, "azp": grant.client_id, "typ": "Bearer",
        "iat": iat, "exp": iat + int(ACCESS_TOKEN_LIFETIME.total_seconds()), "jti": str(uuid.uuid4()),
        "scope": grant.scope, "acr": ACR, "preferred_username": grant.national_id,
        "SubjectNameID": grant.national_id, "auth_time": int(grant.auth_time.timestamp()), "authMode": grant.auth_mode,
    }  # fmt: skip
    id_claims: dict[str, Any] = {
        "iss": issuer, "sub": sub, "aud": grant.client_id, "azp": grant.client_id, "iat": iat,
        "exp": iat + 300, "auth_time": int(grant.auth_time.timestamp()), "acr": ACR,
        "preferred_username": grant.national_id, "typ": "ID",
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
    psc.issued += [access_token, id_token]
    return {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()),
        "id_token": id_token,
        "scope": grant.scope,
    }


def read_access_token(psc: PscState, token: str, issuer: str, now: dt.datetime) -> dict[str, Any]:
    """The claims of a valid, unexpired, unrevoked access token; OAuthError(invalid_token) otherwise."""
    try:
        decoded = jwt.decode(token, psc.key, algorithms=["RS256"])
    except (JoseError, ValueError) as exc:
        raise OAuthError("invalid_token", "the access token is not valid", 401) from exc
    claims = decoded.claims
    if claims.get("iss") != issuer or claims.get("typ") != "Bearer":
        raise OAuthError("invalid_token", "not an access token of this issuer", 401)
    if claims.get("jti") in psc.revoked:
        raise OAuthError("invalid_token", "the access token was revoked", 401)
    if int(claims.get("exp", 0)) <= int(now.timestamp()):
        raise OAuthError("invalid_token", "the access token expired", 401)
    return dict(claims)


def userinfo(professional: Professional, claims: dict[str, Any]) -> dict[str, Any]:
    """PSC's userinfo shapes, filled from the directory (``scope_all``)."""
    identifier = professional.rpps or professional.adeli or ""
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
    national_id = form.get("login_hint", "")
    if not national_id:
        raise OAuthError("invalid_request", "login_hint (the national id) is required")
    scope = form.get("scope", "")
    if "openid" not in scope.split():
        raise OAuthError("invalid_scope", "scope must include openid")
    try:
        push = world.ecps.request_push(national_id, client.name, form.get("binding_message", "00"), world.now())
    except EcpsError as exc:
        raise OAuthError("unknown_user_id", str(exc)) from exc
    request = CibaRequest(
        secrets.token_urlsafe(24),
        client.client_id,
        push.id,
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
    status = world.ecps.push(request.push_id, now).status
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
