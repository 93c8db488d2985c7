"""An HTTP proxy on loopback that takes a world's real host names to its loopback ports, for any client.

The sites keep their real names (``auth.esw.esante.gouv.fr``…) on loopback ports, and most programs
have no resolver hook: Apache's ``mod_auth_openidc`` (``OIDCOutgoingProxy``), Node's fetch (undici's
``ProxyAgent``), curl (``-x``), Java (``https.proxyHost``) all take a proxy instead. ``CONNECT host:port``
opens a tunnel to the site (TLS stays end to end: the client still checks the site's certificate
against the world's CA); a plain ``GET http://host:port/path`` (the IGC-Santé site's CRL and OCSP)
is forwarded. A name that is not one of the world's is refused with 403: nothing leaves loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from harness.world.sites import LOOPBACK

HEADER_LIMIT = 16 * 1024
IDLE_TIMEOUT = 60.0
"""A tunnel or a request that moves no byte for this long is closed."""


class WorldProxy:
    """``names()`` gives the world's host names and the loopback address each one listens on."""

    def __init__(self, names: Callable[[], dict[str, str]], host: str = LOOPBACK) -> None:
        self.names = names
        self.host = host
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> WorldProxy:
        self._server = await asyncio.start_server(self._serve, self.host, 0, limit=HEADER_LIMIT)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._handle(reader, writer)
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _target(self, authority: str) -> tuple[str, int] | None:
        name, _, port = authority.rpartition(":")
        address = self.names().get(name.lower())
        if address is None or not port.isdigit():
            return None
        return address, int(port)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT)
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, version = [*request_line.split(" "), "", "", ""][:3]
        if method == "CONNECT":
            where = self._target(target)
            if where is None:
                writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            upstream_reader, upstream_writer = await asyncio.open_connection(*where)
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await self._pipe_both(reader, writer, upstream_reader, upstream_writer)
            return
        if not target.startswith("http://"):
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return
        authority, _, path = target[len("http://") :].partition("/")
        where = self._target(authority if ":" in authority else authority + ":80")
        if where is None:
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        upstream_reader, upstream_writer = await asyncio.open_connection(*where)
        kept = [line for line in header_lines if line and not line.lower().startswith(("proxy-", "connection:"))]
        upstream_writer.write(
            "\r\n".join([f"{method} /{path} {version}", *kept, "Connection: close", "", ""]).encode("latin-1")
        )
        await self._pipe_both(reader, writer, upstream_reader, upstream_writer)

    async def _pipe_both(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        upstream_reader: asyncio.StreamReader,
        upstream_writer: asyncio.StreamWriter,
    ) -> None:
        try:
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
        finally:
            upstream_writer.close()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await asyncio.wait_for(source.read(65536), IDLE_TIMEOUT):
            sink.write(data)
            await sink.drain()
    except (ConnectionError, TimeoutError):
        pass
    finally:
        with contextlib.suppress(Exception):
            sink.write_eof()
