"""httpx clients for a world: the library authlib's OAuth clients are built on.

httpx has no resolver hook, so the transport rewrites each request to the loopback address
of the host's port while keeping the name for SNI and certificate checks (``sni_hostname``)
and the ``Host`` header: the client still talks to ``auth.esw.esante.gouv.fr``.
"""

from __future__ import annotations

import ssl

import httpx


class WorldTransport(httpx.AsyncBaseTransport):
    def __init__(self, names: dict[str, str], context: ssl.SSLContext) -> None:
        self.names = names
        self.inner = httpx.AsyncHTTPTransport(verify=context)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        address = self.names.get(host)
        if address is None:
            raise httpx.ConnectError(f"{host} is not a host of this world", request=request)
        request.url = request.url.copy_with(host=address)
        request.extensions = {**request.extensions, "sni_hostname": host}
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
