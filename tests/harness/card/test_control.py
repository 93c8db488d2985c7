"""``cps-harness card serve``'s control socket: its own CLI still drives it; nothing else does (issue 19).

The socket serves the same routes a world mounts under ``/admin/cards``, behind the same guard
(``simulators/web/guard.py``): ``Host: localhost``, no foreign ``Origin``, JSON for every POST.
``card insert/remove/reset/fault/status/log`` are run as a trainer runs them, against a real
``card serve`` (its private pcscd and vpcd), and the attacks are sent byte for byte.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.card.control import request


@pytest.fixture(scope="module")
def control(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A ``card serve`` with its control socket; stopped (SIGTERM, as Ctrl-C) at the end."""
    path = tmp_path_factory.mktemp("control") / "card-control.sock"
    serve = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "card", "serve", "--json", "--control", str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert serve.stdout is not None
        started = json.loads(serve.stdout.readline())
        assert started["control"] == str(path)
        yield path
    finally:
        serve.terminate()
        try:
            serve.wait(30)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait(30)


def cli(control: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "harness.cli", "card", *args, "--control", str(control)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def over_socket(control: Path, head: str, body: bytes = b"") -> tuple[int, Any]:
    """One raw request (``head``: request line and headers) over the Unix socket; (status, JSON body)."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(30)
        sock.connect(str(control))
        sock.sendall(f"{head}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, payload = answer.partition(b"\r\n\r\n")
    return int(status_line.split(b" ", 2)[1]), json.loads(payload)


def present(control: Path, reader: int = 0) -> bool:
    status, readers = asyncio.run(request(control, "GET", "/cards"))
    assert status == 200, readers
    return bool(readers[reader]["present"])


def test_the_card_commands_drive_the_socket(control: Path) -> None:
    """Every command of ``cps-harness card`` goes through the guard (remove and reset send no body)."""
    inserted = cli(control, "insert", "--reader", "0", "--profile", "pharmacist")
    assert inserted.returncode == 0, inserted.stdout + inserted.stderr
    status = cli(control, "status", "--json")
    assert status.returncode == 0 and json.loads(status.stdout)[0]["present"], status.stdout + status.stderr
    for args in (("reset",), ("fault", "--status-word", "INTERNAL AUTHENTICATE=6F00"), ("log",)):
        done = cli(control, *args)
        assert done.returncode == 0, (args, done.stdout + done.stderr)
    removed = cli(control, "remove")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert not present(control)


def test_the_socket_refuses_other_hosts_other_origins_and_non_json_posts(control: Path) -> None:
    assert asyncio.run(request(control, "POST", "/cards/1/insert", {"profile": "nurse"}))[0] == 200
    try:
        attacks = [
            ("POST /cards/1/remove HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain", b"{}", 415),
            ("POST /cards/1/remove HTTP/1.1\r\nHost: localhost", b"", 415),
            ("POST /cards/1/remove HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded",
             b"a=1", 415),
            ("POST /cards/1/remove HTTP/1.1\r\nHost: localhost\r\nOrigin: http://evil.example\r\n"
             "Content-Type: application/json", b"{}", 403),
            ("POST /cards/1/remove HTTP/1.1\r\nHost: evil.example\r\nContent-Type: application/json", b"{}", 403),
            ("GET /cards/1/log HTTP/1.1\r\nHost: evil.example:80", b"", 403),
            ("GET /cards HTTP/1.1\r\nHost: cards", b"", 403),
        ]  # fmt: skip
        for head, body, expected in attacks:
            status, answer = over_socket(control, head, body)
            assert status == expected and answer["error"], (head, status, answer)
        assert present(control, 1), "the card is still in reader 1"
        status, readers = over_socket(control, "GET /cards HTTP/1.1\r\nHost: localhost")
        assert status == 200 and readers[1]["present"]
    finally:
        asyncio.run(request(control, "POST", "/cards/1/remove"))


def test_broken_profiles_and_bad_readers_are_4xx_with_a_reason(control: Path, tmp_path: Path) -> None:
    not_utf8 = tmp_path / "latin1.yaml"
    not_utf8.write_bytes("holder: {first_name: HÉLÈNE}\n".encode("latin-1"))
    deep = tmp_path / "deep.yaml"
    deep.write_text("holder: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n")

    def call(method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        return asyncio.run(request(control, method, path, body))

    status, answer = call("POST", "/cards/0/insert", {"profile": str(not_utf8)})
    assert status == 400 and answer["error"].startswith(f"{not_utf8}:1: not UTF-8"), answer
    status, answer = call("POST", "/cards/0/insert", {"profile": str(deep)})
    assert status == 400 and answer["error"].startswith(str(deep)), answer
    status, answer = call("POST", "/cards/0/insert", {"profile": str(tmp_path)})
    assert status == 400 and answer["error"] == f"{tmp_path}:1: is a folder, not a card profile file", answer
    for reader in ("-1", "2", "+1"):
        status, answer = call("GET", f"/cards/{reader}/log")
        assert status == 404 and answer["error"] == f"no reader {reader!r}; readers 0-1", answer
    assert not present(control)
