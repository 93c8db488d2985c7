"""ATSAM's "Test SSL" site (``testssl.asipsante.fr``): what the card presented, and its verdict.

The world serves it over TLS asking for a client certificate (optional), with the IGC-Santé CAs
trusted and certificate dates left to the site, which judges them on the world clock. So an
expired, not-yet-valid or revoked card gets a page saying which, no card gets a page saying
none was presented, and a certificate from another CA fails the TLS handshake itself (no page).

Unlike the wallet, which refuses access (403), this is a diagnostic: every verdict is a 200 page
with its own screen id. The TLS ceiling is a per-world switch on the live ``ssl.SSLContext``
(``POST /admin/testssl``), read by each new handshake: 1.2 by default, 1.3 for guide path G6-06.
"""

from __future__ import annotations

import datetime as dt
import logging
import ssl
from collections.abc import Callable, Iterable

from aiohttp import web

from simulators.web.certificates import check_certificate, peer_certificate
from simulators.web.jsonapi import error, read_object
from simulators.web.page import render
from simulators.web.testssl.rules import build_report, parse_tls_max, tls_max_name
from simulators.world.authorities import AuthorityState

log = logging.getLogger(__name__)

TITLE = "Information sur votre carte CPS"
CLOCK_KEY: web.AppKey[Callable[[], dt.datetime]] = web.AppKey("testssl_clock")
AUTHORITIES_KEY: web.AppKey[Callable[[], Iterable[AuthorityState]]] = web.AppKey("testssl_authorities")
TLS_CONTEXT_KEY = web.AppKey("testssl_tls", ssl.SSLContext)


async def information(request: web.Request) -> web.Response:
    now = request.app[CLOCK_KEY]()
    check = check_certificate(peer_certificate(request), request.app[AUTHORITIES_KEY](), now)
    report = build_report(check)
    log.debug("testssl: certificate %s -> %s", report.serial or "(none)", report.outcome.verification)
    return render("testssl_information.html", report.outcome.screen, title=TITLE, report=report)


def make_app(clock: Callable[[], dt.datetime], authorities: Callable[[], Iterable[AuthorityState]]) -> web.Application:
    """``clock`` and ``authorities`` are read per request: the world's time and CRL state move."""
    app = web.Application(client_max_size=1024)
    app[CLOCK_KEY] = clock
    app[AUTHORITIES_KEY] = authorities
    app.router.add_get("/", information)
    return app


# -- the admin switch --------------------------------------------------------------------------------
async def tls_get(request: web.Request) -> web.Response:
    return web.json_response({"tls_max": tls_max_name(request.app[TLS_CONTEXT_KEY].maximum_version)})


async def tls_post(request: web.Request) -> web.Response:
    """``{"tls_max": "1.2"|"1.3"}``: set on the live context, so the next handshake obeys it."""
    body = await read_object(request)
    unknown = sorted(set(body) - {"tls_max"})
    if unknown:
        raise error(web.HTTPBadRequest, f"unknown field(s): {', '.join(unknown)}; expected tls_max")
    if "tls_max" not in body:
        raise error(web.HTTPBadRequest, "tls_max is required")
    try:
        version = parse_tls_max(body["tls_max"])
    except ValueError as exc:
        raise error(web.HTTPBadRequest, str(exc)) from None
    context = request.app[TLS_CONTEXT_KEY]
    context.maximum_version = version
    log.info("testssl: TLS %s at most from the next handshake", tls_max_name(version))
    return web.json_response({"tls_max": tls_max_name(context.maximum_version)})


def add_admin_routes(admin: web.Application, context: ssl.SSLContext, prefix: str = "/admin") -> None:
    """Mount the TLS switch on a world's admin app; ``context`` is the one the site listens with."""
    admin[TLS_CONTEXT_KEY] = context
    admin.router.add_get(f"{prefix}/testssl", tls_get)
    admin.router.add_post(f"{prefix}/testssl", tls_post)
