"""Who may drive a world: only local programs, never a web page the user happens to have open.

A world's admin API (and the card control API) is plain HTTP on loopback without credentials:
anything that can send it a request owns the world. A browser can: a page on any site can POST a
form or a ``text/plain`` body to ``http://127.0.0.1:<port>`` (CSRF; no CORS preflight for those),
and a name the attacker controls can be made to resolve to 127.0.0.1 (DNS rebinding), after which
the page reads the answers too. ``local_only`` closes both, as a middleware on those apps:

- ``Host`` must name the address the connection arrived on, with its port (``127.0.0.1:<port>``,
  ``localhost:<port>`` on loopback; ``localhost`` over a Unix socket). A rebound name is not one.
- ``Origin``, when a browser sends one, must be that same origin: another site's page is refused.
- A state-changing method (anything but GET, HEAD, OPTIONS) needs ``Content-Type:
  application/json``. A page can only send one cross-site after a CORS preflight, which the
  ``Origin`` rule refuses; forms and ``text/plain`` never carry it.

Refusals are JSON errors: 403 for Host and Origin, 415 for the content type. Every real client
(the harness, curl, scripts, schemathesis) sends a matching Host by itself and no Origin.
"""

from __future__ import annotations

import ipaddress

from aiohttp import web
from aiohttp.typedefs import Handler

from simulators.web.jsonapi import error

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods that change nothing, so need no JSON body."""
JSON = "application/json"


def own_hosts(request: web.Request) -> set[str]:
    """The ``Host`` values that name this server as the request reached it (lower case).

    Taken from the socket, not from configuration: the port a site was given by the kernel, and
    with ``serve --bind`` the very address a client connected to.
    """
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        address = ipaddress.ip_address(str(sockname[0]).split("%")[0])
        port = sockname[1]
        literal = f"[{address.compressed}]" if address.version == 6 else str(address)
        hosts = {f"{literal}:{port}"}
        if address.is_loopback:
            hosts.add(f"localhost:{port}")
        return hosts
    if isinstance(sockname, str | bytes):  # a Unix socket: no address and no port to name
        return {"localhost"}
    return set()


def refusal(request: web.Request) -> web.HTTPException | None:
    """Why ``request`` may not reach the API (a JSON 403 or 415), or None."""
    hosts = request.headers.getall("Host", [])
    own = own_hosts(request)
    if len(hosts) != 1 or hosts[0].lower() not in own:
        given = hosts[0] if len(hosts) == 1 else f"{len(hosts)} Host headers"
        return error(
            web.HTTPForbidden,
            f"Host {given!r} is not this API's address ({', '.join(sorted(own)) or 'none'}): "
            "only local programs may drive a world, not a page through a borrowed name",
        )
    origins = request.headers.getall("Origin", [])
    own_origin = f"{request.scheme}://{hosts[0].lower()}"
    if origins and (len(origins) != 1 or origins[0].lower() != own_origin):
        return error(
            web.HTTPForbidden,
            f"Origin {', '.join(origins)!r} is not this API's ({own_origin}): another site's page cannot drive a world",
        )
    if request.method not in SAFE_METHODS and request.content_type != JSON:
        given = request.headers.get("Content-Type", "none")
        return error(
            web.HTTPUnsupportedMediaType,
            f"{request.method} needs Content-Type: {JSON} (got {given!r}), even with an empty body: "
            "a form or a text/plain POST from another site must not get through",
        )
    return None


@web.middleware
async def local_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse what ``refusal`` refuses before any handler (or the router's 404/405) sees it."""
    refused = refusal(request)
    if refused is not None:
        raise refused
    return await handler(request)
