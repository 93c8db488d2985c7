"""Who listens on a TCP port, read from ``/proc``: the card's check that its reader is its own pcscd.

A vpcd port is a plain TCP port. Before a card connects, it checks that the socket listening on
``127.0.0.1:port`` is held by the pcscd of its own stack (the listening socket's inode, from
``/proc/net/tcp``, among that process's file descriptors). So a card can never plug itself into
another harness's reader, or into a new world that reuses the port of a world that is gone.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

LISTEN = "0A"
"""The LISTEN state in ``/proc/net/tcp``."""


def _address(field: str) -> tuple[str, int]:
    """``0100007F:5DC0`` → ("127.0.0.1", 24000): the kernel prints IPv4 in host (little-endian) order."""
    raw, port = field.split(":")
    packed = bytes.fromhex(raw)
    if len(packed) == 4:
        return socket.inet_ntop(socket.AF_INET, packed[::-1]), int(port, 16)
    words = b"".join(packed[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words), int(port, 16)


def listeners(port: int) -> dict[str, int]:
    """Address → socket inode of every TCP socket listening on ``port`` (IPv4 and IPv6)."""
    found: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != LISTEN:
                continue
            host, local_port = _address(fields[1])
            if local_port == port:
                found[host] = int(fields[9])
    return found


def socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets process ``pid`` holds (empty if it is gone or not ours to read)."""
    inodes: set[int] = set()
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for descriptor in descriptors:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{descriptor}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def listener_owned_by(pid: int, port: int, host: str = "127.0.0.1") -> bool | None:
    """Whether the socket listening on ``host:port`` (or on every address) is held by ``pid``.

    None when nothing listens there; False when something else does.
    """
    found = listeners(port)
    inode = found.get(host, found.get("0.0.0.0"))
    if inode is None:
        return None
    return inode in socket_inodes(pid)
