"""The card side of vsmartcard's vpcd protocol: the only socket code of the card.

Framing (vpcd.c): every message either way is a 2-byte big-endian length and a payload. From
the reader, a 1-byte payload is a control: 00 power off, 01 power on, 02 reset, 04 "send your
ATR" (asked on every presence poll, so it is not a reset). Anything longer is a command APDU,
answered with one framed response. Closing the stream removes the card.

A client's own 1-byte APDU would be framed exactly like a control: the card could not tell
``00`` (a command) from ``00`` (power off), and the client would wait forever for an answer. The
private stack's reader driver (``harness/pcsc/vpcd_guard.c``) answers those itself, so here a
1-byte payload is always a control; a value vpcd never uses as a control can only be a command
from a reader without that guard, and gets ``6700`` (wrong length).

``TCP_QUICKACK`` is set before every receive: vpcd writes length and APDU in two sends with
Nagle on, and without quick ACKs each APDU waits 40 ms for a delayed ACK.

Which reader a card plugs into: given ``owner`` (the PID of the stack's pcscd), the card connects
only when that process holds the socket listening on its port, and is bound to it from then on.
If the reader drops the connection while the card is in, the card plugs itself back at once, to
the same pcscd only (a new pcscd on the same ports, or another world, never gets it by itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from harness.pcsc.sockets import listener_owned_by
from simulators.card.faults import Faults

POWER_OFF, POWER_ON, RESET, GET_ATR = 0, 1, 2, 4
CONTROLS = frozenset({POWER_OFF, POWER_ON, RESET, GET_ATR})
WRONG_LENGTH = b"\x67\x00"
MAX_RESPONSE = 65533
"""vpcd frames up to 65535 bytes; keep the response (with SW) inside that."""
RECONNECTS = 3
"""How often a card plugs itself back after the reader dropped it, per insertion."""
CONNECT_POLL = 0.02
"""Seconds between two looks at a port nobody listens on yet (pcscd still starting)."""


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
    FOREIGN_LISTENER = "refused: the reader's port is held by another process than the stack's pcscd"


@dataclass
class SlotState:
    """What an observer (status command, report) can read of a card in a reader."""

    inserted: bool = False
    powered: bool = False
    apdus: int = 0
    atr_requests: int = 0
    """How often the reader asked for the ATR (vpcd does at every presence poll)."""
    reconnects: int = 0
    """How often the card plugged itself back after the reader dropped the connection."""
    removal: Removal | None = None
    events: list[str] = field(default_factory=list)


class ForeignListenerError(ConnectionError):
    """The port's listener is not the stack's pcscd: the card does not plug itself into it."""


class CardConnection:
    """One card plugged into one vpcd port until removed. Run ``serve()`` as a task.

    ``owner`` gives the PID of the pcscd the port must belong to (None once that stack stopped);
    without it (a card in a child process given only a port), any listener is taken.
    """

    def __init__(
        self,
        card: Card,
        port: int,
        host: str = "127.0.0.1",
        *,
        connect_timeout: float = 10.0,
        mute_watchdog: float = 3.0,
        on_powered: Callable[[], None] | None = None,
        owner: Callable[[], int | None] | None = None,
        reconnects: int = RECONNECTS,
    ) -> None:
        self.card = card
        self.host, self.port = host, port
        self.connect_timeout = connect_timeout
        self.mute_watchdog = mute_watchdog
        self.owner = owner
        self.max_reconnects = reconnects
        self.state = SlotState()
        self.atr = card.power_on()
        self._on_powered = on_powered
        self._sock: socket.socket | None = None
        self._stop = asyncio.Event()
        self._bound_to: int | None = None
        """The pcscd this card went into: the only one it may plug itself back into."""
        self.powered_once = asyncio.Event()
        """Set when the reader first powers the card: pcscd has seen it."""

    def _listener_pid(self) -> int | None:
        """The PID that must hold the port's listener, or None if the stack is gone; raises when
        the listener is someone else's. Only asked with an ``owner``."""
        assert self.owner is not None
        pid = self.owner()
        if pid is None or (self._bound_to is not None and pid != self._bound_to):
            return None
        owned = listener_owned_by(pid, self.port, self.host)
        if owned is False:
            raise ForeignListenerError(f"port {self.port} is not held by pcscd {pid}")
        return pid if owned else None

    async def _connect(self, timeout: float, *, retry: bool = True) -> socket.socket:
        """Connect, retrying while the reader is not listening yet (pcscd still starting).

        Every attempt is bounded by what is left of ``timeout``, and ends as soon as the card is
        removed: a retry loop never outlives its reader, and its socket is closed on every exit.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._stop.is_set():
            pid = self._listener_pid() if self.owner is not None else 0
            if pid is not None:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                try:
                    sock.setblocking(False)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    await self._until_stopped(loop.sock_connect(sock, (self.host, self.port)), deadline)
                    if self.owner is not None:
                        self._bound_to = pid
                    return sock
                except (OSError, TimeoutError):
                    sock.close()
                    if not retry or loop.time() >= deadline:
                        raise
                except BaseException:
                    sock.close()
                    raise
            elif not retry or (self.owner is not None and self.owner() is None):
                raise ConnectionRefusedError(f"the reader of port {self.port} is not running")
            if loop.time() >= deadline:
                raise TimeoutError(f"nothing listened on port {self.port} within {timeout:.0f} s")
            await asyncio.sleep(CONNECT_POLL)
        raise ConnectionAbortedError("the card was removed while connecting")

    async def _until_stopped(self, operation: Awaitable[None], deadline: float) -> None:
        """Await ``operation`` until it ends, the card is removed or ``deadline`` passes."""
        loop = asyncio.get_running_loop()
        work = asyncio.ensure_future(operation)
        stopped = asyncio.ensure_future(self._stop.wait())
        try:
            done, _ = await asyncio.wait({work, stopped}, timeout=max(0.0, deadline - loop.time()),
                                         return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        finally:
            stopped.cancel()
            if not work.done():
                work.cancel()
        if work in done:
            work.result()
        elif stopped in done:
            raise ConnectionAbortedError("the card was removed while connecting")
        else:
            raise TimeoutError(f"connecting to port {self.port} took too long")

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
            sock = await self._connect(self.connect_timeout)
        except ForeignListenerError:
            self.state.removal = Removal.FOREIGN_LISTENER
            return Removal.FOREIGN_LISTENER
        except (OSError, TimeoutError):
            self.state.removal = Removal.REQUESTED if self._stop.is_set() else Removal.NOT_LISTENING
            return self.state.removal
        self._sock = sock
        self.state.inserted, self.state.removal = True, None
        self.state.events.append("inserted")
        reason = Removal.READER_GONE
        try:
            while True:
                try:
                    reason = await self._loop(sock)
                    break
                except (ConnectionError, OSError):
                    if self._stop.is_set():
                        reason = Removal.REQUESTED
                        break
                    reconnected = await self._reconnect()
                    if reconnected is None:
                        reason = Removal.READER_GONE
                        break
                    sock = reconnected
        except asyncio.CancelledError:
            reason = Removal.REQUESTED
            raise
        finally:
            self._close()
            self.state.inserted = self.state.powered = False
            self.state.removal = reason
            self.state.events.append(reason.value)
        return reason

    async def _reconnect(self) -> socket.socket | None:
        """The reader dropped the card while it was in: plug it back into the same pcscd, at once.

        vpcd closes the card's connection on any error of its own. With the card back before
        pcscd's next presence poll (every 400 ms), pcscd never sees a removal: the client gets an
        error for the one exchange that failed and the card keeps its state. Not without an owner
        (nothing tells this pcscd from another), never into a different pcscd, and a bounded
        number of times, so a dying reader ends in a removal.
        """
        if self.owner is None or self.state.reconnects >= self.max_reconnects:
            return None
        self._close()
        try:
            sock = await self._connect(self.connect_timeout, retry=False)
        except (OSError, TimeoutError):
            return None
        self._sock = sock
        self.state.reconnects += 1
        self.state.events.append("reconnected (the reader had dropped the connection)")
        return sock

    async def _loop(self, sock: socket.socket) -> Removal:
        faults = self.card.faults
        while not self._stop.is_set():
            (length,) = struct.unpack(">H", await self._recv_exact(sock, 2))
            payload = await self._recv_exact(sock, length)
            if length == 1 and payload[0] in CONTROLS:
                await self._control(sock, payload[0])
                continue
            if length == 1:  # not a control vpcd sends: a 1-byte command, through a reader without the guard
                await self._send(sock, WRONG_LENGTH)
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
                answer = WRONG_LENGTH
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
