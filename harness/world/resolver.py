"""How clients reach a world's sites by their real host names, on loopback, without DNS.

aiohttp takes a resolver (``StaticResolver``); httpx, the library authlib's OAuth clients are
built on, has no resolver hook, so the transport rewrites each request to the loopback address
of the host's port while keeping the name for SNI and certificate checks (``sni_hostname``)
and the ``Host`` header: the client still talks to ``auth.esw.esante.gouv.fr``.
"""

from __future__ import annotations

import socket
import ssl

import httpx2
from aiohttp import abc as aiohttp_abc
from aiohttp.abc import ResolveResult


class WorldTransport(httpx2.AsyncBaseTransport):
    def __init__(self, names: dict[str, str], context: ssl.SSLContext) -> None:
        self.names = names
        self.inner = httpx2.AsyncHTTPTransport(verify=context)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        host = request.url.host
        address = self.names.get(host)
        if address is None:
            raise httpx2.ConnectError(f"{host} is not a host of this world", request=request)
        request.url = request.url.copy_with(host=address)
        request.extensions = {**request.extensions, "sni_hostname": host}
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class StaticResolver(aiohttp_abc.AbstractResolver):
    """Resolves the world's host names to loopback; anything else is refused (no real DNS)."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[ResolveResult]:
        address = self.names.get(host)
        if address is None:
            raise OSError(f"{host} is not a host of this world")
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        return None
