"""Pro Santé Connect, two faces: the OIDC endpoints on ``auth.`` and the login pages on ``wallet.``.

``make_app`` (auth host): discovery at both ``/.well-known/openid-configuration`` and PSC's
``/.well-known/wallet-openid-configuration`` under the realm, then ``/protocol/openid-connect/``
token, userinfo, certs, logout, token/introspect, revoke, and CIBA at ``/ext/ciba/auth``.
``make_login_app`` (mounted at ``/auth`` on the wallet site, as in production): the choice
between "Application e-CPS" and "Carte CPS", the waiting page that polls, and the redirect
back with the code. Every malformed request gets its RFC 6749 / OIDC error, never a 500
(except the ``server_error`` fault, which is one on purpose).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_plus, urlencode

from aiohttp import web
from joserfc import jwt
from joserfc.errors import JoseError

from simulators.web.certificates import REFUSAL_SCREENS, check_certificate, peer_certificate
from simulators.web.forms import form_fields
from simulators.web.jsonapi import error, read_object
from simulators.web.national_id import check_national_id
from simulators.web.page import render
from simulators.web.psc.rules import (
    ACR,
    AUTHORIZATION_CODE,
    CIBA_INTERVAL,
    CIBA_LIFETIME,
    GRANT_TYPES,
    REALM_PATH,
    REFRESH_TOKEN,
    RESPONSE_MODES,
    SCOPES,
    AuthRequest,
    BadRedirect,
    Client,
    Fault,
    OAuthError,
    PscState,
    authenticate_client,
    ecps_outcome,
    exchange_code,
    exchange_refresh,
    issue_code,
    poll_ciba,
    read_access_token,
    read_refresh_token,
    register_client,
    request_ecps_push,
    response_mode,
    revoke_session,
    start_authorization,
    start_ciba,
    tokens,
    userinfo,
)
from simulators.web.screens import Screen
from simulators.web.wording import CARD_ADVICE, SUPPORT, Refusal
from simulators.world.authorities import AuthorityState
from simulators.world.ecps import EcpsError, PushStatus
from simulators.world.state import WorldState

WORLD_KEY = web.AppKey("world", WorldState)
PSC_KEY = web.AppKey("psc", PscState)
URLS_KEY: web.AppKey[Callable[[], dict[str, str]]] = web.AppKey("urls")
AUTHORITIES_KEY: web.AppKey[Callable[[], Iterable[AuthorityState]]] = web.AppKey("authorities")
OIDC = REALM_PATH + "/protocol/openid-connect"
ATSAM_ADVICE = "Vérifiez votre installation avec l'outil de diagnostic ATSAM (« Test SSL »)."


def _urls(request: web.Request) -> dict[str, str]:
    """``issuer``, ``auth`` (the wallet host's base), ``card`` (the wallet's card port base)."""
    return request.app[URLS_KEY]()


def oauth_error(exc: OAuthError) -> web.Response:
    headers = {"Cache-Control": "no-store"}
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="esante-wallet"' if exc.error == "invalid_client" else "Bearer"
    return web.json_response(exc.as_json(), status=exc.status, headers=headers)


async def _form(request: web.Request) -> dict[str, str]:
    if request.content_type != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "send the parameters as application/x-www-form-urlencoded")
    try:
        data = await request.post()
    except (ValueError, UnicodeDecodeError) as exc:
        raise OAuthError("invalid_request", "unreadable form") from exc
    return {k: v for k, v in data.items() if isinstance(v, str)}


def _basic(request: web.Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    try:
        client_id, _, secret = base64.b64decode(header[6:], validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise OAuthError("invalid_client", "malformed Basic credentials", 401) from exc
    # RFC 6749 §2.3.1: both are form-urlencoded before base64 (node-rp arrives as node%2Drp); Keycloak decodes
    return unquote_plus(client_id), unquote_plus(secret)


# -- discovery, keys ---------------------------------------------------------------------------------
CIBA_PATH = "/protocol/openid-connect/ext/ciba/auth"
"""Keycloak's CIBA endpoint under the issuer, as ANS documents it (``/ext/ciba/auth`` is also served)."""
CLAIMS = ("aud", "sub", "iss", "auth_time", "name", "given_name", "family_name", "preferred_username", "email", "acr")


def discovery_document(urls: dict[str, str]) -> dict[str, Any]:
    """The sandbox's discovery document field for field, with this world's URLs and only what the
    simulator does (``docs/differences-and-guide-map.md`` lists what is left out)."""
    issuer = urls["issuer"]
    oidc = issuer + "/protocol/openid-connect"
    return {
        "issuer": issuer,
        "authorization_endpoint": urls["auth"] + "/auth",
        "token_endpoint": oidc + "/token",
        "introspection_endpoint": oidc + "/token/introspect",
        "userinfo_endpoint": oidc + "/userinfo",
        "end_session_endpoint": oidc + "/logout",
        "jwks_uri": oidc + "/certs",
        "grant_types_supported": list(GRANT_TYPES),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_modes_supported": list(RESPONSE_MODES),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "claims_supported": list(CLAIMS),
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": False,
        "scopes_supported": list(SCOPES),
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "code_challenge_methods_supported": ["plain", "S256"],
        "revocation_endpoint": oidc + "/revoke",
        "backchannel_authentication_endpoint": issuer + CIBA_PATH,
        "backchannel_token_delivery_modes_supported": ["poll"],
        "acr_values_supported": [ACR],
    }


async def discovery(request: web.Request) -> web.Response:
    return web.json_response(discovery_document(_urls(request)))


async def certs(request: web.Request) -> web.Response:
    return web.json_response(request.app[PSC_KEY].jwks())


# -- token, userinfo, introspection, revocation, CIBA -------------------------------------------------------
async def token(request: web.Request) -> web.Response:
    psc, world = request.app[PSC_KEY], request.app[WORLD_KEY]
    try:
        form = await _form(request)
        client = authenticate_client(psc, _basic(request), form)
        if Fault.SLOW_TOKEN in psc.faults_for(client.client_id, None):
            await asyncio.sleep(psc.slow_token_seconds)
        grant_type, issuer = form.get("grant_type"), _urls(request)["issuer"]
        if not grant_type:
            raise OAuthError("invalid_request", "grant_type is required")
        if grant_type not in GRANT_TYPES:
            raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
        if grant_type not in client.grant_types:
            raise OAuthError("unauthorized_client", f"this client may not use the {grant_type} grant")
        if grant_type == AUTHORIZATION_CODE:
            grant = exchange_code(psc, client, form, world.now())
        elif grant_type == REFRESH_TOKEN:
            grant = exchange_refresh(psc, client, form, issuer, world.now())
        else:
            grant = poll_ciba(psc, world, client, form)
        answer = tokens(psc, grant, issuer, world.now())
    except OAuthError as exc:
        return oauth_error(exc)
    return web.json_response(answer, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


async def userinfo_endpoint(request: web.Request) -> web.Response:
    psc, world = request.app[PSC_KEY], request.app[WORLD_KEY]
    header = request.headers.get("Authorization", "")
    try:
        if not header.startswith("Bearer "):
            raise OAuthError("invalid_token", "a Bearer access token is required", 401)
        claims = read_access_token(psc, header[7:], _urls(request)["issuer"], world.now())
        professional = world.directory.find(claims.get("preferred_username", ""), world.now())
        if professional is None:
            raise OAuthError("invalid_token", "the token's subject is no longer in the directory", 401)
    except OAuthError as exc:
        return oauth_error(exc)
    return web.json_response(userinfo(professional, claims))


async def _client_token(request: web.Request) -> tuple[Client, dict[str, Any] | None]:
    """For introspection and revocation: the authenticated client, and the claims of the token it
    names (None when the token is not a live access or refresh token of ours)."""
    psc, world = request.app[PSC_KEY], request.app[WORLD_KEY]
    form = await _form(request)
    client = authenticate_client(psc, _basic(request), form)
    value = form.get("token")
    if not value:
        raise OAuthError("invalid_request", "token is required")
    issuer, now = _urls(request)["issuer"], world.now()
    readers: list[Callable[[], dict[str, Any]]] = [
        lambda: read_access_token(psc, value, issuer, now),
        lambda: read_refresh_token(psc, value, issuer, now)[1],
    ]
    if form.get("token_type_hint") == "refresh_token":  # RFC 7009 §2.1: a hint, not a rule
        readers.reverse()
    for read in readers:
        try:
            claims = read()
        except OAuthError:
            continue
        return client, claims
    return client, None


async def introspect(request: web.Request) -> web.Response:
    try:
        _, claims = await _client_token(request)  # realm-wide, as Keycloak answers any of its clients
    except OAuthError as exc:
        return oauth_error(exc)
    if claims is None:
        return web.json_response({"active": False})
    return web.json_response({"active": True, "client_id": claims["azp"],
                              "username": claims.get("preferred_username", ""), **claims})  # fmt: skip


async def revoke(request: web.Request) -> web.Response:
    try:
        client, claims = await _client_token(request)
    except OAuthError as exc:
        return oauth_error(exc)
    # RFC 7009 §2.1-2.2: only a token issued to this client is revoked; an unknown one is answered 200 too
    if claims is not None and claims.get("azp") == client.client_id:
        if claims.get("typ") == "Bearer":
            request.app[PSC_KEY].revoked.add(str(claims["jti"]))
        else:  # a refresh token: its whole session ends, its access tokens with it
            revoke_session(request.app[PSC_KEY], str(claims.get("sid", "")))
    return web.Response(status=200)


async def ciba_auth(request: web.Request) -> web.Response:
    psc, world = request.app[PSC_KEY], request.app[WORLD_KEY]
    try:
        form = await _form(request)
        client = authenticate_client(psc, _basic(request), form)
        ciba = start_ciba(psc, world, client, form)
    except OAuthError as exc:
        return oauth_error(exc)
    return web.json_response({"auth_req_id": ciba.auth_req_id, "expires_in": CIBA_LIFETIME, "interval": CIBA_INTERVAL})


async def logout(request: web.Request) -> web.Response:
    """RP-initiated logout: the session named by ``id_token_hint`` ends (its refresh and access tokens with it)."""
    psc = request.app[PSC_KEY]
    hint = request.query.get("id_token_hint")
    if hint:
        try:
            claims = jwt.decode(hint, psc.key, algorithms=["RS256"]).claims
        except (JoseError, ValueError):
            return oauth_error(OAuthError("invalid_request", "id_token_hint is not an id_token of this issuer"))
        revoke_session(psc, str(claims.get("sid", "")))
    target = request.query.get("post_logout_redirect_uri")
    if target:
        allowed = {uri for c in psc.clients.values() for uri in (c.post_logout_redirect_uris or c.redirect_uris)}
        if target not in allowed:
            return oauth_error(OAuthError("invalid_request", "post_logout_redirect_uri is not registered"))
        state = request.query.get("state")
        raise web.HTTPFound(target + (("&" if "?" in target else "?") + urlencode({"state": state}) if state else ""))
    return render("psc_logout.html", Screen.DECONNEXION, title="Vous êtes déconnecté(e)")


def make_app(world: WorldState, psc: PscState, urls: Callable[[], dict[str, str]]) -> web.Application:
    app = web.Application(client_max_size=16 * 1024)
    app[WORLD_KEY] = world
    app[PSC_KEY] = psc
    app[URLS_KEY] = urls
    for well_known in ("/.well-known/openid-configuration", "/.well-known/wallet-openid-configuration"):
        app.router.add_get(REALM_PATH + well_known, discovery)
    app.router.add_get(OIDC + "/certs", certs)
    app.router.add_post(OIDC + "/token", token)
    app.router.add_get(OIDC + "/userinfo", userinfo_endpoint)
    app.router.add_post(OIDC + "/userinfo", userinfo_endpoint)
    app.router.add_post(OIDC + "/token/introspect", introspect)
    app.router.add_post(OIDC + "/revoke", revoke)
    app.router.add_get(OIDC + "/logout", logout)
    app.router.add_post(REALM_PATH + CIBA_PATH, ciba_auth)
    app.router.add_post(REALM_PATH + "/ext/ciba/auth", ciba_auth)
    return app


# -- the login pages (wallet host, /auth) ------------------------------------------------------------------
def to_client(request: AuthRequest, **params: str | None) -> web.Response:
    """The answer to the relying party (a code or an error, with ``state``) in its ``response_mode``:
    a redirect with a query or a fragment, or a page that posts the fields to the ``redirect_uri``."""
    fields = {k: v for k, v in {**params, "state": request.state}.items() if v is not None}
    if request.response_mode == "form_post":
        return render(
            "psc_to_client.html", Screen.RETOUR_APPLICATION,
            title="Connexion réussie" if "code" in fields else "Connexion impossible",
            client=request.client.name, redirect_uri=request.redirect_uri, fields=fields,
        )  # fmt: skip
    separator = "#" if request.response_mode == "fragment" else "&" if "?" in request.redirect_uri else "?"
    return web.Response(status=303, headers={"Location": request.redirect_uri + separator + urlencode(fields)})


def _auth_request(request: web.Request) -> AuthRequest:
    found = request.app[PSC_KEY].requests.get(request.match_info["request"])
    if found is None:
        raise web.HTTPNotFound(text="demande d'authentification inconnue ou terminée")
    return found


def _failure(screen: Screen, message: str, advice: Iterable[str], status: int) -> web.Response:
    return render("psc_refusal.html", screen, status=status, title="Connexion impossible", text=message, items=advice)


async def authorize(request: web.Request) -> web.Response:
    world, psc = request.app[WORLD_KEY], request.app[PSC_KEY]
    params = dict(request.query)
    try:
        auth = start_authorization(psc, params, world.now())
    except BadRedirect as exc:
        return _failure(Screen.REQUETE_INVALIDE, f"Requête invalide : {exc.description}", [SUPPORT], 400)
    except OAuthError as exc:
        client = psc.clients[params["client_id"]]
        try:
            mode = response_mode(params)
        except OAuthError:
            mode = "query"  # a wrong response_mode is itself answered the default way
        fake = AuthRequest(
            "-", client, params["redirect_uri"], params.get("state"), None, "", None, None, world.now(),
            response_mode=mode,
        )  # fmt: skip
        return to_client(fake, error=exc.error, error_description=exc.description)
    card_base = _urls(request)["card"]
    return render(
        "psc_choice.html", Screen.CHOIX_MOYEN, title="Connexion avec Pro Santé Connect", client=auth.client.name,
        action=f"/auth/{auth.id}/ecps", card_href=f"{card_base}/auth/{auth.id}/carte",
    )  # fmt: skip


async def ecps_submit(request: web.Request) -> web.Response:
    world, psc = request.app[WORLD_KEY], request.app[PSC_KEY]
    auth = _auth_request(request)
    fields = await form_fields(request, "identifiant")
    try:
        national_id = check_national_id(fields["identifiant"])
        request_ecps_push(psc, world, auth, national_id)
    except Refusal as refusal:
        return _failure(refusal.screen, refusal.message, refusal.advice, 400)
    except EcpsError as exc:
        if exc.code == "not-activated":
            message = f"Aucune e-CPS n'est activée pour l'identifiant {national_id}."
            return _failure(
                Screen.AUCUNE_E_CPS, message, ["Activez votre e-CPS (avec ou sans carte CPS).", SUPPORT], 404
            )
        return _failure(Screen.E_CPS_BLOQUEE, str(exc), ["Réactivez votre e-CPS.", SUPPORT], 423)
    raise web.HTTPSeeOther(f"/auth/{auth.id}/attente")


async def ecps_wait(request: web.Request) -> web.Response:
    """The page waits for the phone by polling: it reloads itself every second."""
    world, psc = request.app[WORLD_KEY], request.app[PSC_KEY]
    auth = _auth_request(request)
    try:
        status = ecps_outcome(psc, world, auth)
    except OAuthError:
        raise web.HTTPNotFound(text="aucune demande envoyée au téléphone") from None
    if status is PushStatus.PENDING:
        return render("psc_waiting.html", Screen.ATTENTE_TELEPHONE, title="Validez la connexion sur votre téléphone")
    psc.requests.pop(auth.id, None)
    if status is PushStatus.APPROVED:
        assert auth.national_id is not None
        try:
            code = issue_code(psc, auth, auth.national_id, "MOBILE", world.now())
        except OAuthError as exc:
            return to_client(auth, error=exc.error, error_description=exc.description)
        return to_client(auth, code=code)
    reasons = {
        PushStatus.REFUSED: "la connexion a été refusée sur le téléphone",
        PushStatus.EXPIRED: "le délai de validation sur le téléphone est dépassé",
        PushStatus.FAILED: "mot de passe e-CPS incorrect trop de fois : l'e-CPS est bloquée",
    }
    return to_client(auth, error="access_denied", error_description=reasons.get(status, status.value))


async def card_login(request: web.Request) -> web.Response:
    world, psc = request.app[WORLD_KEY], request.app[PSC_KEY]
    auth = _auth_request(request)
    check = check_certificate(peer_certificate(request), request.app[AUTHORITIES_KEY](), world.now())
    if check.status != "valid" or check.national_id is None:
        messages = {
            "absent": "Aucun certificat n'a été présenté : votre carte CPS n'a pas été lue.",
            "expired": "Le certificat de votre carte CPS a expiré.",
            "not-yet-valid": "Le certificat de votre carte CPS n'est pas encore valide.",
            "revoked": "Votre carte CPS est en opposition (certificat révoqué).",
        }
        message = messages.get(check.status, "Ce certificat ne permet pas de vous connecter.")
        screen = REFUSAL_SCREENS.get(check.status, Screen.CERTIFICAT_INADAPTE)  # valid, but names no national id
        return _failure(screen, message, [*CARD_ADVICE[:-1], ATSAM_ADVICE, SUPPORT], 403)
    try:
        code = issue_code(psc, auth, check.national_id, "CARD", world.now())
    except OAuthError as exc:
        return to_client(auth, error=exc.error, error_description=exc.description)
    return to_client(auth, code=code)


def make_login_app(
    world: WorldState,
    psc: PscState,
    urls: Callable[[], dict[str, str]],
    authorities: Callable[[], Iterable[AuthorityState]],
) -> web.Application:
    """Mounted at ``/auth`` on the wallet site (both its ports)."""
    app = web.Application(client_max_size=4096)
    app[WORLD_KEY] = world
    app[PSC_KEY] = psc
    app[URLS_KEY] = urls
    app[AUTHORITIES_KEY] = authorities
    app.router.add_get("", authorize)
    app.router.add_post("/{request}/ecps", ecps_submit)
    app.router.add_get("/{request}/attente", ecps_wait)
    app.router.add_get("/{request}/carte", card_login)
    return app


def add_psc_admin_routes(app: web.Application, psc: PscState) -> None:
    """Register clients and switch named faults at run time (mounted in the world's admin API)."""
    app[PSC_KEY] = psc
    app.router.add_post("/admin/psc/clients", admin_client)
    app.router.add_post("/admin/psc/faults", admin_faults)


async def admin_client(request: web.Request) -> web.Response:
    body = await read_object(request)
    try:
        client = Client(
            client_id=str(body["client_id"]),
            secret=str(body["client_secret"]),
            redirect_uris=[str(u) for u in body["redirect_uris"]],
            name=str(body.get("name", body["client_id"])),
            require_pkce=bool(body.get("require_pkce", False)),
            post_logout_redirect_uris=[str(u) for u in body.get("post_logout_redirect_uris", [])],
            grant_types=tuple(str(g) for g in body.get("grant_types", GRANT_TYPES)),
        )
        unknown = [g for g in client.grant_types if g not in GRANT_TYPES]
        if unknown or isinstance(body.get("grant_types", []), str):
            raise ValueError(f"grant_types: a list of {', '.join(GRANT_TYPES)}; unknown: {unknown}")
        register_client(request.app[PSC_KEY], client)
    except (KeyError, TypeError, ValueError) as exc:
        raise error(web.HTTPBadRequest, f"client_id, client_secret and redirect_uris are required ({exc})") from None
    return web.json_response({"client_id": client.client_id}, status=201)


async def admin_faults(request: web.Request) -> web.Response:
    body = await read_object(request)
    psc = request.app[PSC_KEY]
    try:
        faults = {Fault(f) for f in body.get("faults", [])}
    except (ValueError, TypeError):
        raise error(web.HTTPBadRequest, f"faults: a list of {', '.join(f.value for f in Fault)}") from None
    target: dict[str, set[Fault]]
    if isinstance(body.get("client_id"), str):
        target, key = psc.client_faults, body["client_id"]
    elif isinstance(body.get("national_id"), str):
        target, key = psc.user_faults, body["national_id"]
    else:
        raise error(web.HTTPBadRequest, "client_id or national_id (a string) is required")
    target[key] = faults
    return web.json_response({"faults": sorted(f.value for f in faults)})
