"""The vpcd framing against a fake reader: partial reads, controls, late listeners, removal, reconnection,
and the check that the listener is the card's own pcscd."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from harness.card.vpcd import CardConnection, Removal
from simulators.card.cpx import ATR
from simulators.card.faults import Faults


class Echo:
    """A bare card: answers any APDU with its data and 9000."""

    def __init__(self) -> None:
        self.faults = Faults()
        self.powered = 0

    def power_on(self) -> bytes:
        self.powered += 1
        return ATR

    def process(self, apdu: bytes) -> bytes:
        return apdu[5:] + b"\x90\x00"


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    (length,) = struct.unpack(">H", await asyncio.wait_for(reader.readexactly(2), 5))
    return await asyncio.wait_for(reader.readexactly(length), 5)


@contextlib.asynccontextmanager
async def fake_reader() -> AsyncIterator[tuple[int, asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]]:
    """A listener in vpcd's place on a free loopback port: each connection a card makes lands in the queue."""
    accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accepted.put((reader, writer))

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], accepted
    finally:
        server.close()
        await server.wait_closed()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_framing_with_byte_by_byte_writes_and_late_listener() -> None:
    port = free_port()
    card = Echo()
    connection = CardConnection(card, port, connect_timeout=5)
    task = asyncio.create_task(connection.serve())
    await asyncio.sleep(0.1)  # the card retries while nobody listens yet
    accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accepted.put((reader, writer))

    server = await asyncio.start_server(on_connect, "127.0.0.1", port)
    reader, writer = await asyncio.wait_for(accepted.get(), 5)

    writer.write(struct.pack(">HB", 1, 4))  # ATR request
    assert await read_frame(reader) == ATR
    writer.write(struct.pack(">HB", 1, 1))  # power on
    await asyncio.wait_for(connection.powered_once.wait(), 5)

    apdu = bytes.fromhex("00EE000004DEADBEEF")
    for byte in struct.pack(">H", len(apdu)) + apdu:  # the worst fragmentation
        writer.write(bytes([byte]))
        await writer.drain()
    assert await read_frame(reader) == bytes.fromhex("DEADBEEF9000")
    assert connection.state.apdus == 1 and connection.state.powered

    writer.close()
    assert await asyncio.wait_for(task, 5) is Removal.READER_GONE
    server.close()
    await server.wait_closed()


async def test_remove_and_removal_faults() -> None:
    port = free_port()
    card = Echo()
    accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accepted.put((reader, writer))

    server = await asyncio.start_server(on_connect, "127.0.0.1", port)
    connection = CardConnection(card, port)
    task = asyncio.create_task(connection.serve())
    reader, _ = await asyncio.wait_for(accepted.get(), 5)
    connection.remove()
    assert await asyncio.wait_for(task, 5) is Removal.REQUESTED
    assert await reader.read() == b""  # the reader sees the stream close: the card is gone

    card.faults.remove_after_apdus = 1
    connection = CardConnection(card, port)
    task = asyncio.create_task(connection.serve())
    reader, writer = await asyncio.wait_for(accepted.get(), 5)
    for _ in range(2):
        writer.write(struct.pack(">H", 5) + bytes.fromhex("00EE000000"))
    assert await read_frame(reader) == b"\x90\x00"
    assert await asyncio.wait_for(task, 5) is Removal.FAULT

    card.faults = Faults(mute=True)
    connection = CardConnection(card, port, mute_watchdog=0.2)
    task = asyncio.create_task(connection.serve())
    reader, writer = await asyncio.wait_for(accepted.get(), 5)
    writer.write(struct.pack(">H", 5) + bytes.fromhex("00EE000000"))
    assert await asyncio.wait_for(task, 5) is Removal.MUTE_WATCHDOG
    assert await reader.read() == b""
    server.close()
    await server.wait_closed()


async def test_no_reader_listening_gives_up_after_the_timeout() -> None:
    connection = CardConnection(Echo(), free_port(), connect_timeout=0.2)
    assert await asyncio.wait_for(connection.serve(), 5) is Removal.NOT_LISTENING


async def test_one_byte_payloads_other_than_vpcds_controls_get_wrong_length() -> None:
    """vpcd sends 00, 01, 02 and 04 as controls and nothing else: any other single byte is a command
    (through a reader without the stack's guard) and gets 6700 at once, not silence."""
    async with fake_reader() as (port, accepted):
        card = Echo()
        connection = CardConnection(card, port)
        task = asyncio.create_task(connection.serve())
        reader, writer = await asyncio.wait_for(accepted.get(), 5)
        for code in (0x03, 0x05, 0x80, 0xFF):
            writer.write(struct.pack(">HB", 1, code))
            assert await read_frame(reader) == b"\x67\x00", hex(code)
        powered = card.powered
        writer.write(struct.pack(">HB", 1, 2))  # a reset: no answer, the card powers on
        writer.write(struct.pack(">HB", 1, 4))
        assert await read_frame(reader) == ATR
        assert card.powered == powered + 1 and connection.state.apdus == 0
        connection.remove()
        assert await asyncio.wait_for(task, 5) is Removal.REQUESTED


async def test_a_card_dropped_by_its_reader_plugs_itself_back_with_its_state() -> None:
    """The reader (owned by this process here) closes the stream: the card connects again at once,
    without a power-on, a bounded number of times; then it is removed."""
    async with fake_reader() as (port, accepted):
        card = Echo()
        connection = CardConnection(card, port, owner=os.getpid, reconnects=2)
        task = asyncio.create_task(connection.serve())
        powered = card.powered
        for _ in range(3):  # the first connection, then two reconnections
            reader, writer = await asyncio.wait_for(accepted.get(), 5)
            writer.write(struct.pack(">H", 9) + bytes.fromhex("00EE000004CAFEF00D"))
            assert await read_frame(reader) == bytes.fromhex("CAFEF00D9000")
            writer.close()
        assert await asyncio.wait_for(task, 5) is Removal.READER_GONE
        assert connection.state.reconnects == 2 and card.powered == powered
        assert connection.state.events.count("reconnected (the reader had dropped the connection)") == 2


def sleeper() -> subprocess.Popen[bytes]:
    """Another process, whose PID no listener of ours belongs to."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


async def test_a_card_refuses_a_listener_that_is_not_its_pcscd() -> None:
    """The listener on the port is checked against the owner's PID before connecting: someone
    else's is refused at once (nothing reaches it), the owner's is taken."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen(1)
        port = squatter.getsockname()[1]
        other = sleeper()
        try:
            refused = CardConnection(Echo(), port, owner=lambda: other.pid)
            assert await asyncio.wait_for(refused.serve(), 5) is Removal.FOREIGN_LISTENER
            squatter.setblocking(False)
            with pytest.raises(BlockingIOError):
                squatter.accept()  # no connection was made
        finally:
            other.kill()
            other.wait(10)
        taken = CardConnection(Echo(), port, owner=os.getpid)
        task = asyncio.create_task(taken.serve())
        deadline = asyncio.get_running_loop().time() + 5
        while not taken.state.inserted and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        assert taken.state.inserted
        taken.remove()
        assert await asyncio.wait_for(task, 5) is Removal.REQUESTED


async def test_a_stopped_stack_ends_the_connect_loop_at_once() -> None:
    """An owner that says its pcscd is gone: no retrying for the whole connect timeout."""
    connection = CardConnection(Echo(), free_port(), connect_timeout=60, owner=lambda: None)
    assert await asyncio.wait_for(connection.serve(), 5) is Removal.NOT_LISTENING


def syn_sent_to(port: int) -> int:
    """Sockets of this machine still trying to connect to ``port`` (SYN_SENT in /proc/net/tcp)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "02" and int(fields[2].split(":")[1], 16) == port:
            count += 1
    return count


async def test_removing_a_card_stuck_connecting_closes_its_socket() -> None:
    """A full accept queue (vpcd's backlog is 0: one waiting connection fills it) drops the card's
    SYN, and the kernel would retry it for two minutes. Removing the card ends the attempt and
    closes the socket: no SYN of a removed card can reach a later listener on that port."""
    with socket.socket() as listener, socket.socket() as first:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        first.connect(("127.0.0.1", port))  # queued, never accepted: the queue is full
        connection = CardConnection(Echo(), port, connect_timeout=60)
        task = asyncio.create_task(connection.serve())
        deadline = asyncio.get_running_loop().time() + 5
        while syn_sent_to(port) == 0 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        assert syn_sent_to(port) == 1 and not task.done()
        connection.remove()
        assert await asyncio.wait_for(task, 5) is Removal.REQUESTED
        assert syn_sent_to(port) == 0
