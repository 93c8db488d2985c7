"""The vpcd framing against a fake reader: partial reads, controls, late listeners, removal."""

from __future__ import annotations

import asyncio
import socket
import struct

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
