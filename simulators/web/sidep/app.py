"""The SI-DEP portal (``portail-sidep.aphp.fr``): a Pro Santé Connect relying party, and degraded mode.

The PSC side uses authlib's OAuth client (code + PKCE S256 + state + nonce, ``acr_values``
``eidas1``) and checks the id_token with joserfc against PSC's JWKS on the world clock, as a
real relying party would. Degraded mode (G4) checks login/password accounts (``rules.py``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2
from aiohttp import web
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client  # on httpx2, which authlib 1.9 looks for
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from simulators.web.forms import form_fields
from simulators.web.jsonapi import error, read_object
from simulators.web.page import render
from simulators.web.screens import Screen
from simulators.web.sidep.rules import SIDEP_SUPPORT, Accounts, Kind, LoginRefused
from simulators.web.wording import SUPPORT
from simulators.world.state import WorldState

IDENTITY_ROWS = (
    ("Prénom", "given_name"),
    ("Nom", "family_name"),
    ("Identifiant", "SubjectNameID"),
    ("Structure", "SubjectOrganization"),
)
"""What the home page shows of the professional: label, userinfo claim."""
COOKIE = "sidep_session"
ATSAM = "Vérifiez votre poste avec l'outil de diagnostic ATSAM : https://testssl.asipsante.fr/ (« Test SSL »)."


@dataclass
class RelyingParty:
    """How SI-DEP reaches PSC: its registration, PSC's address and an HTTP transport to it."""

    client_id: str
    client_secret: str
    psc_issuer: Callable[[], str]
    own_url: Callable[[], str]
    transport: Callable[[], httpx2.AsyncBaseTransport]


@dataclass
class Session:
    user: dict[str, Any] | None = None
    state: str | None = None
    nonce: str | None = None
    verifier: str | None = None
    id_token: str | None = None


WORLD_KEY = web.AppKey("world", WorldState)
ACCOUNTS_KEY = web.AppKey("accounts", Accounts)
RP_KEY = web.AppKey("rp", RelyingParty)
SESSIONS_KEY = web.AppKey("sessions", dict[str, Session])


def _session(request: web.Request) -> tuple[str, Session]:
    sessions = request.app[SESSIONS_KEY]
    sid = request.cookies.get(COOKIE, "")
    if sid not in sessions:
        sid = secrets.token_urlsafe(24)
        sessions[sid] = Session()
    return sid, sessions[sid]


def _with_cookie(response: web.StreamResponse, sid: str) -> web.StreamResponse:
    response.set_cookie(COOKIE, sid, secure=True, httponly=True, samesite="Lax")
    return response


def _client(rp: RelyingParty) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        rp.client_id,
        rp.client_secret,
        scope="openid scope_all",
        redirect_uri=rp.own_url() + "/callback",
        code_challenge_method="S256",
        transport=rp.transport(),
        timeout=10,
    )


async def _discovery(client: AsyncOAuth2Client, rp: RelyingParty) -> dict[str, Any]:
    url = rp.psc_issuer() + "/.well-known/wallet-openid-configuration"
    reply = await client.request("GET", url, withhold_token=True)
    reply.raise_for_status()
    config: dict[str, Any] = reply.json()
    return config


async def landing(request: web.Request) -> web.StreamResponse:
    sid, _ = _session(request)
    return _with_cookie(render("sidep_landing.html", Screen.ACCUEIL_SIDEP, title="Connexion à SI-DEP"), sid)


async def psc_start(request: web.Request) -> web.StreamResponse:
    rp = request.app[RP_KEY]
    sid, session = _session(request)
    session.nonce, session.verifier = generate_token(20), generate_token(64)
    try:
        async with _client(rp) as client:
            config = await _discovery(client, rp)
            url, session.state = client.create_authorization_url(
                config["authorization_endpoint"],
                code_verifier=session.verifier,
                nonce=session.nonce,
                acr_values="eidas1",
            )
    except httpx2.HTTPError:
        return _failure(Screen.PSC_INDISPONIBLE, "Pro Santé Connect ne répond pas.", [SUPPORT], 502)
    response = web.HTTPSeeOther(url)
    _with_cookie(response, sid)
    raise response


def _failure(screen: Screen, message: str, advice: list[str], status: int) -> web.Response:
    return render("sidep_failure.html", screen, status=status, title="Connexion impossible", text=message, items=advice)


async def callback(request: web.Request) -> web.StreamResponse:
    rp, world = request.app[RP_KEY], request.app[WORLD_KEY]
    sid, session = _session(request)
    if "error" in request.query:
        description = request.query.get("error_description", request.query["error"])
        return _failure(Screen.ECHEC_PSC, f"La connexion par Pro Santé Connect a échoué : {description}.",
                        [ATSAM, SUPPORT], 401)  # fmt: skip
    state, code = request.query.get("state"), request.query.get("code")
    if not code or not state or state != session.state:
        return _failure(Screen.REQUETE_INVALIDE, "Réponse de Pro Santé Connect invalide (state).", [SUPPORT], 400)
    session.state = None
    try:
        async with _client(rp) as client:
            config = await _discovery(client, rp)
            token = await client.fetch_token(config["token_endpoint"], code=code, code_verifier=session.verifier)
            jwks = KeySet.import_key_set((await client.request("GET", config["jwks_uri"], withhold_token=True)).json())
            decoded = jwt.decode(token["id_token"], jwks, algorithms=["RS256"])
            jwt.JWTClaimsRegistry(
                now=int(world.now().timestamp()),
                iss={"essential": True, "value": config["issuer"]},
                aud={"essential": True, "value": rp.client_id},
                nonce={"essential": True, "value": session.nonce or ""},
                acr={"essential": True, "value": "eidas1"},
            ).validate(decoded.claims)
            session.user = (await client.get(config["userinfo_endpoint"])).raise_for_status().json()
            session.id_token = token["id_token"]
    except JoseError as exc:
        return _failure(Screen.JETON_INVALIDE, f"Le jeton d'identité de Pro Santé Connect est refusé ({exc.error}).",
                        [SUPPORT], 401)  # fmt: skip
    except (httpx2.HTTPError, KeyError, ValueError) as exc:
        return _failure(Screen.ECHEC_PSC, f"Pro Santé Connect a refusé la connexion ({exc}).", [ATSAM, SUPPORT], 401)
    raise _with_cookie(web.HTTPSeeOther("/accueil"), sid)  # type: ignore[misc]


async def password_login(request: web.Request) -> web.StreamResponse:
    sid, session = _session(request)
    fields = await form_fields(request, "identifiant", "mot_de_passe")
    try:
        account = request.app[ACCOUNTS_KEY].login(fields["identifiant"], fields["mot_de_passe"])
    except LoginRefused as refusal:
        return _with_cookie(_failure(refusal.screen, refusal.message, [SIDEP_SUPPORT], 401), sid)
    session.user = {
        "given_name": account.first_name, "family_name": account.last_name, "SubjectNameID": account.national_id,
        "mode": "identifiant et mot de passe",
    }  # fmt: skip
    raise _with_cookie(web.HTTPSeeOther("/accueil"), sid)  # type: ignore[misc]


async def home(request: web.Request) -> web.StreamResponse:
    sid, session = _session(request)
    user = session.user
    if user is None:
        raise web.HTTPSeeOther("/")
    rows = [(label, str(user.get(key, ""))) for label, key in IDENTITY_ROWS]
    return _with_cookie(render("sidep_home.html", Screen.CONNECTE, title="Vous êtes connecté(e)", rows=rows), sid)


async def logout(request: web.Request) -> web.StreamResponse:
    _, session = _session(request)
    id_token, session.user, session.id_token = session.id_token, None, None
    if id_token is None:
        raise web.HTTPSeeOther("/")
    rp = request.app[RP_KEY]
    target = rp.psc_issuer() + "/protocol/openid-connect/logout"
    raise web.HTTPSeeOther(f"{target}?id_token_hint={id_token}&post_logout_redirect_uri={rp.own_url()}/")


async def admin_create_account(request: web.Request) -> web.Response:
    body = await read_object(request)
    try:
        account = request.app[ACCOUNTS_KEY].create(
            str(body["login"]),
            str(body["password"]),
            Kind(body.get("kind", "liberal")),
            str(body.get("national_id", "")),
            str(body.get("first_name", "")),
            str(body.get("last_name", "")),
        )
    except (KeyError, ValueError) as exc:
        raise error(web.HTTPBadRequest, f"login, password (8+), kind liberal|salarie: {exc}") from None
    return web.json_response({"login": account.login, "status": account.status.value}, status=201)


async def admin_validate(request: web.Request) -> web.Response:
    try:
        account = request.app[ACCOUNTS_KEY].validate_by_ars(request.match_info["login"])
    except KeyError:
        raise error(web.HTTPNotFound, "no such account") from None
    return web.json_response({"login": account.login, "status": account.status.value})


def add_admin_routes(app: web.Application, accounts: Accounts, prefix: str = "/admin") -> None:
    """The CIS creates accounts; the ARS validates salaried ones (mounted in the world's admin API)."""
    app[ACCOUNTS_KEY] = accounts
    app.router.add_post(prefix + "/sidep/accounts", admin_create_account)
    app.router.add_post(prefix + "/sidep/accounts/{login}/validate", admin_validate)


def make_app(world: WorldState, accounts: Accounts, rp: RelyingParty) -> web.Application:
    app = web.Application(client_max_size=4096)
    app[WORLD_KEY] = world
    app[ACCOUNTS_KEY] = accounts
    app[RP_KEY] = rp
    app[SESSIONS_KEY] = {}
    app.router.add_get("/", landing)
    app.router.add_get("/connexion/psc", psc_start)
    app.router.add_get("/callback", callback)
    app.router.add_post("/connexion/mot-de-passe", password_login)
    app.router.add_get("/accueil", home)
    app.router.add_get("/deconnexion", logout)
    return app
