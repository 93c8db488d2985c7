"""The IGC-Santé publication site: CA certificates, CRLs and an OCSP responder (RFC 6960, RFC 5019).

Plain HTTP, as PKI publication is, so that an OCSP or CRL fetch never depends on TLS trust.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from aiohttp import web
from cryptography.hazmat.primitives import serialization

from simulators.web import hosts
from simulators.web.igc.rules import answer_ocsp, build_crl
from simulators.world.authorities import AuthorityState

Clock = Callable[[], dt.datetime]

OCSP_REQUEST = "application/ocsp-request"
OCSP_RESPONSE = "application/ocsp-response"
MAX_OCSP_REQUEST = 16 * 1024


class Authorities(Protocol):
    """What the site publishes: the CAs by name (``root``, ``personnes``)."""

    @property
    def authorities(self) -> Mapping[str, AuthorityState]: ...


AUTHORITIES_KEY = web.AppKey("authorities", Authorities)
CLOCK_KEY: web.AppKey[Clock] = web.AppKey("clock")


def make_app(authorities: Authorities, clock: Clock) -> web.Application:
    app = web.Application(client_max_size=MAX_OCSP_REQUEST)
    app[AUTHORITIES_KEY] = authorities
    app[CLOCK_KEY] = clock
    app.router.add_get(hosts.CRL_PATH, _crl_handler("personnes"))
    app.router.add_get(hosts.ROOT_CRL_PATH, _crl_handler("root"))
    for name, path in hosts.CA_CERT_PATHS.items():
        app.router.add_get(path, _ca_handler(name))
    app.router.add_post(hosts.OCSP_PATH, ocsp_post)
    app.router.add_get(hosts.OCSP_PATH + "/{request:.+}", ocsp_get)
    return app


def _crl_handler(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.Response:
        authority = request.app[AUTHORITIES_KEY].authorities[name]
        crl = build_crl(authority, request.app[CLOCK_KEY]())
        return web.Response(body=crl.public_bytes(serialization.Encoding.DER), content_type="application/pkix-crl")

    return handler


def _ca_handler(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.Response:
        certificate = request.app[AUTHORITIES_KEY].authorities[name].certificate
        return web.Response(
            body=certificate.public_bytes(serialization.Encoding.DER), content_type="application/pkix-cert"
        )

    return handler


def _ocsp_response(request: web.Request, der: bytes) -> web.Response:
    authorities = request.app[AUTHORITIES_KEY].authorities.values()
    body = answer_ocsp(der, authorities, request.app[CLOCK_KEY]())
    return web.Response(body=body, content_type=OCSP_RESPONSE)


async def ocsp_post(request: web.Request) -> web.Response:
    if request.content_type != OCSP_REQUEST:
        raise web.HTTPUnsupportedMediaType(text=f"send the request as {OCSP_REQUEST}")
    return _ocsp_response(request, await request.read())


async def ocsp_get(request: web.Request) -> web.Response:
    """RFC 6960 A.1: the DER request, base64 then URL-encoded, as the path's last segment."""
    try:
        der = base64.b64decode(request.match_info["request"], validate=True)
    except (binascii.Error, ValueError):
        der = b""  # answered as a malformed request, like any other undecodable input
    return _ocsp_response(request, der)
