"""The card side of vsmartcard's vpcd protocol: the only socket code of the card.

Framing (vpcd.c): every message either way is a 2-byte big-endian length and a payload. From
the reader, a 1-byte payload is a control: 00 power off, 01 power on, 02 reset, 04 "send your
ATR" (asked on every presence poll, so it is not a reset). Anything longer is a command APDU,
answered with one framed response. Closing the stream removes the card.

``TCP_QUICKACK`` is set before every receive: vpcd writes length and APDU in two sends with
Nagle on, and without quick ACKs each APDU waits 40 ms for a delayed ACK.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from simulators.card.faults import Faults

POWER_OFF, POWER_ON, RESET, GET_ATR = 0, 1, 2, 4
MAX_RESPONSE = 65533
"""vpcd frames up to 65535 bytes; keep the response (with SW) inside that."""


class Card(Protocol):
    """What the transport needs of a card: the CPx card, or a bare echo card in benchmarks."""

    faults: Faults

    def power_on(self) -> bytes: ...

    def process(self, apdu: bytes) -> bytes: ...


class Removal(enum.StrEnum):
    REQUESTED = "removed"
    MUTE_WATCHDOG = "card mute: removed by the watchdog"
    FAULT = "removed mid-transaction (fault)"
    READER_GONE = "the reader closed the connection"
    NOT_LISTENING = "the reader never listened"


@dataclass
class SlotState:
    """What an observer (status command, report) can read of a card in a reader."""

    inserted: bool = False
    powered: bool = False
    apdus: int = 0
    atr_requests: int = 0
    """How often the reader asked for the ATR (vpcd does at every presence poll)."""
    removal: Removal | None = None
    events: list[str] = field(default_factory=list)


class CardConnection:
    """One card plugged into one vpcd port until removed. Run ``serve()`` as a task."""

    def __init__(
        self,
        card: Card,
        port: int,
        host: str = "127.0.0.1",
        *,
        connect_timeout: float = 10.0,
        mute_watchdog: float = 3.0,
        on_powered: Callable[[], None] | None = None,
    ) -> None:
        self.card = card
        self.host, self.port = host, port
        self.connect_timeout = connect_timeout
        self.mute_watchdog = mute_watchdog
        self.state = SlotState()
        self.atr = card.power_on()
        self._on_powered = on_powered
        self._sock: socket.socket | None = None
        self._stop = asyncio.Event()
        self.powered_once = asyncio.Event()
        """Set when the reader first powers the card: pcscd has seen it."""

    async def _connect(self) -> socket.socket:
        """Connect, retrying while the reader is not listening yet (pcscd still starting)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.connect_timeout
        while True:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                await loop.sock_connect(sock, (self.host, self.port))
                return sock
            except (ConnectionRefusedError, OSError):
                sock.close()
                if loop.time() > deadline or self._stop.is_set():
                    raise
                await asyncio.sleep(0.02)

    async def _recv_exact(self, sock: socket.socket, count: int) -> bytes:
        loop = asyncio.get_running_loop()
        buffer = bytearray()
        while len(buffer) < count:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            chunk = await loop.sock_recv(sock, count - len(buffer))
            if not chunk:
                raise ConnectionResetError("reader closed the connection")
            buffer += chunk
        return bytes(buffer)

    async def _send(self, sock: socket.socket, payload: bytes) -> None:
        await asyncio.get_running_loop().sock_sendall(sock, struct.pack(">H", len(payload)) + payload)

    async def serve(self) -> Removal:
        """Plug in, answer the reader until removed; returns why the card left."""
        try:
            sock = await self._connect()
        except OSError:
            self.state.removal = Removal.NOT_LISTENING
            return Removal.NOT_LISTENING
        self._sock = sock
        self.state.inserted, self.state.removal = True, None
        self.state.events.append("inserted")
        reason = Removal.READER_GONE
        try:
            reason = await self._loop(sock)
        except (ConnectionError, OSError):
            reason = Removal.REQUESTED if self._stop.is_set() else Removal.READER_GONE
        except asyncio.CancelledError:
            reason = Removal.REQUESTED
            raise
        finally:
            self._close()
            self.state.inserted = self.state.powered = False
            self.state.removal = reason
            self.state.events.append(reason.value)
        return reason

    async def _loop(self, sock: socket.socket) -> Removal:
        faults = self.card.faults
        while not self._stop.is_set():
            (length,) = struct.unpack(">H", await self._recv_exact(sock, 2))
            payload = await self._recv_exact(sock, length)
            if length == 1:
                await self._control(sock, payload[0])
                continue
            self.state.apdus += 1
            ins = payload[1] if len(payload) > 1 else -1
            if faults.remove_on_ins == ins or (
                faults.remove_after_apdus is not None and self.state.apdus > faults.remove_after_apdus
            ):
                return Removal.FAULT
            if faults.mute:
                # Nothing in pcscd or vpcd times out a transmit: without this watchdog the
                # client would hang forever. Pull the card, as a person would.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.mute_watchdog)
                return Removal.MUTE_WATCHDOG
            delay = faults.delay_for(ins)
            if delay:
                await asyncio.sleep(delay)
            answer = self.card.process(payload)
            if len(answer) > MAX_RESPONSE:
                answer = b"\x67\x00"
            await self._send(sock, answer)
        return Removal.REQUESTED

    async def _control(self, sock: socket.socket, code: int) -> None:
        if code == GET_ATR:
            self.state.atr_requests += 1
            await self._send(sock, self.atr)
        elif code in (POWER_ON, RESET):
            self.card.power_on()
            self.state.powered = True
            self.state.events.append("power on" if code == POWER_ON else "reset")
            if not self.powered_once.is_set():
                self.powered_once.set()
                if self._on_powered:
                    self._on_powered()
        elif code == POWER_OFF:
            self.card.power_on()  # volatile state goes with the power
            self.state.powered = False
            self.state.events.append("power off")

    def remove(self) -> None:
        """Pull the card out now (closing the stream is how vpcd sees a removal).

        The socket is shut down, not closed: the serving task wakes up from its receive with
        end-of-stream and closes the socket itself.
        """
        self._stop.set()
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)

    def _close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None
