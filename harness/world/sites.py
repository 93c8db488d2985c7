"""Running an aiohttp ``Application`` on a loopback port: the only server socket code of the sites."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from aiohttp import web

LOOPBACK = "127.0.0.1"


@dataclass
class RunningSite:
    """A site listening on ``host:port``; ``url`` is how a client reaches it without a resolver."""

    name: str
    runner: web.AppRunner
    host: str
    port: int
    tls: bool

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_site(
    name: str,
    app: web.Application,
    *,
    host: str = LOOPBACK,
    port: int = 0,
    ssl_context: ssl.SSLContext | None = None,
) -> RunningSite:
    """Start ``app`` on ``host`` (loopback unless asked) and ``port`` (0: the kernel picks one)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    bound_port = runner.addresses[0][1]
    return RunningSite(name, runner, host, bound_port, ssl_context is not None)
