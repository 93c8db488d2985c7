"""A small aiohttp web app that logs professionals in with Pro Santé Connect (authlib client).

What a relying party must do with PSC, and nothing more: discovery at PSC's non-standard
``/.well-known/wallet-openid-configuration``, code flow with PKCE S256, ``state`` and ``nonce``,
``acr_values=eidas1``, the id_token checked against the JWKS (issuer, audience, nonce, acr,
expiry), then userinfo. PSC's access tokens last 120 s: ``/profil`` reads userinfo again and, when
PSC says the token is no longer valid, uses the refresh token (rotated at each use, as Keycloak
does) — the new id_token must name the same professional (OpenID Connect Core §12.2); when the
session is over (refresh token expired or revoked: ``invalid_grant``) it logs in again. Run it
against a cps-harness world (see README.md) or the real PSC; ``python app.py --world world.json`` serves
it against a world started by ``cps-harness serve --json > world.json`` (what ``cps-harness load``
drives in docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import Any

import httpx2
from aiohttp import web
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet


@dataclass
class Settings:
    issuer: str
    """e.g. https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet"""
    client_id: str
    client_secret: str
    redirect_uri: str
    transport: Callable[[], httpx2.AsyncBaseTransport] | None = None
    """How to reach PSC (tests inject one); None: httpx's default (DNS, system CAs)."""
    now: Callable[[], float] = time.time
    """The clock the id_token is judged on (tests inject the world's)."""


SETTINGS = web.AppKey("settings", Settings)
SESSIONS = web.AppKey("sessions", dict[str, dict[str, Any]])


def _client(settings: Settings) -> AsyncOAuth2Client:
    extra: dict[str, Any] = {"transport": settings.transport()} if settings.transport else {}
    return AsyncOAuth2Client(
        settings.client_id, settings.client_secret, scope="openid scope_all", redirect_uri=settings.redirect_uri,
        code_challenge_method="S256", timeout=10, **extra,
    )  # fmt: skip


def _check_id_token(
    id_token: str, jwks: KeySet, config: dict[str, Any], settings: Settings, **expected: str
) -> dict[str, Any]:
    """Signature, issuer, audience and expiry on the app's clock, plus what this answer must say."""
    claims: dict[str, Any] = jwt.decode(id_token, jwks, algorithms=["RS256"]).claims
    jwt.JWTClaimsRegistry(
        now=int(settings.now()),
        iss={"essential": True, "value": config["issuer"]},
        aud={"essential": True, "value": settings.client_id},
        **{name: {"essential": True, "value": value} for name, value in expected.items()},
    ).validate(claims)
    return claims


async def _jwks(client: AsyncOAuth2Client, config: dict[str, Any]) -> KeySet:
    return KeySet.import_key_set((await client.request("GET", config["jwks_uri"], withhold_token=True)).json())


async def _discover(client: AsyncOAuth2Client, settings: Settings) -> dict[str, Any]:
    reply = await client.request(
        "GET", settings.issuer + "/.well-known/wallet-openid-configuration", withhold_token=True
    )
    reply.raise_for_status()
    config: dict[str, Any] = reply.json()
    return config


def _session(request: web.Request) -> tuple[str, dict[str, Any]]:
    sid = request.cookies.get("sid") or secrets.token_urlsafe(16)
    return sid, request.app[SESSIONS].setdefault(sid, {})


async def login(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    sid, session = _session(request)
    session["nonce"], session["verifier"] = generate_token(20), generate_token(64)
    async with _client(settings) as client:
        config = await _discover(client, settings)
        url, session["state"] = client.create_authorization_url(
            config["authorization_endpoint"], code_verifier=session["verifier"], nonce=session["nonce"],
            acr_values="eidas1",
        )  # fmt: skip
    response = web.HTTPFound(url)
    response.set_cookie("sid", sid, httponly=True, samesite="Lax")
    raise response


async def callback(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    _, session = _session(request)
    if "error" in request.query:
        return web.Response(status=401, text=f"Connexion refusée : {request.query.get('error_description', '')}")
    if request.query.get("state") != session.pop("state", None):
        return web.Response(status=400, text="state invalide")
    async with _client(settings) as client:
        config = await _discover(client, settings)
        token = await client.fetch_token(
            config["token_endpoint"], code=request.query.get("code", ""), code_verifier=session["verifier"]
        )
        try:
            claims = _check_id_token(
                token["id_token"], await _jwks(client, config), config, settings, nonce=session["nonce"], acr="eidas1"
            )
        except JoseError as exc:
            return web.Response(status=401, text=f"id_token refusé : {exc.error}")
        session["user"] = (await client.get(config["userinfo_endpoint"])).json()
    session["sub"], session["token"] = claims["sub"], dict(token)
    raise web.HTTPFound("/")


async def profile(request: web.Request) -> web.Response:
    """The professional's userinfo read now, refreshing the access token if PSC no longer accepts it."""
    settings = request.app[SETTINGS]
    _, session = _session(request)
    if "token" not in session:
        raise web.HTTPFound("/login")
    async with _client(settings) as client:
        config = await _discover(client, settings)
        client.token = session["token"]
        reply = await client.get(config["userinfo_endpoint"])
        if reply.status_code == 401:  # expired (120 s) or revoked: PSC's WWW-Authenticate says invalid_token
            try:
                token = await client.refresh_token(
                    config["token_endpoint"], refresh_token=session["token"]["refresh_token"]
                )
            except OAuthError:  # invalid_grant: the PSC session is over, log in again
                session.clear()
                raise web.HTTPFound("/login") from None
            if "id_token" in token:
                try:
                    _check_id_token(token["id_token"], await _jwks(client, config), config, settings,
                                    sub=session["sub"])  # fmt: skip
                except JoseError as exc:
                    session.clear()
                    return web.Response(status=401, text=f"id_token refusé : {exc.error}")
            session["token"] = dict(token)
            session["refreshed"] = session.get("refreshed", 0) + 1
            reply = await client.get(config["userinfo_endpoint"])
        reply.raise_for_status()
        session["user"] = reply.json()
    return await home(request)


async def home(request: web.Request) -> web.Response:
    _, session = _session(request)
    user = session.get("user")
    if user is None:
        return web.Response(text='<a href="/login">Se connecter avec Pro Santé Connect</a>', content_type="text/html")
    name = f"{user.get('given_name', '')} {user.get('family_name', '')}"
    renewed = f"<p>Session renouvelée {session['refreshed']} fois</p>" if session.get("refreshed") else ""
    return web.Response(
        text=f"<p>Bonjour {escape(name)} ({escape(user.get('SubjectNameID', ''))})</p>{renewed}",
        content_type="text/html",
    )


def make_app(settings: Settings) -> web.Application:
    app = web.Application()
    app[SETTINGS] = settings
    app[SESSIONS] = {}
    app.router.add_get("/", home)
    app.router.add_get("/login", login)
    app.router.add_get("/callback", callback)
    app.router.add_get("/profil", profile)
    return app


def main() -> None:
    """Serve the app against a running world (``cps-harness serve --json``'s line in a file): its PSC
    reached by the world's host names, resolved as its ``host_resolver_rules`` say, and its CA trusted;
    the app registered at the world's PSC through the admin API first."""
    from harness.world.resolver import WorldTransport  # only this runner needs the harness

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--world", required=True, help="file holding the line `cps-harness serve --json` printed")
    parser.add_argument("--port", type=int, default=8000, help="loopback port (default 8000)")
    parser.add_argument("--client-id", default="my-app")
    parser.add_argument("--client-secret", default=secrets.token_urlsafe(16))
    args = parser.parse_args()
    with open(args.world, encoding="utf-8") as file:
        world = json.load(file)
    names = dict(re.findall(r"MAP ([^\s,]+) ([^\s,]+)", world["host_resolver_rules"]))
    context = ssl.create_default_context(cafile=world["ca_bundle"])
    redirect = f"http://127.0.0.1:{args.port}/callback"
    registered = httpx2.post(
        world["admin"] + "/admin/psc/clients", timeout=10,
        json={"client_id": args.client_id, "client_secret": args.client_secret, "redirect_uris": [redirect],
              "name": "psc_webapp", "require_pkce": True},
    )  # fmt: skip
    registered.raise_for_status()
    settings = Settings(
        issuer=world["sites"]["psc"] + "/auth/realms/esante-wallet", client_id=args.client_id,
        client_secret=args.client_secret, redirect_uri=redirect, transport=lambda: WorldTransport(names, context),
    )  # fmt: skip
    web.run_app(make_app(settings), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
