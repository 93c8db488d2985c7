"""``cps-harness trainer`` and ``serve``'s console, run as a trainer runs them (a subprocess)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.pcsc
WAIT = 60.0


def start(*args: str, tmp_path: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *args], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
        stderr=(tmp_path / "stderr").open("w"), text=True, env=env,
    )  # fmt: skip


def first_json_line(process: subprocess.Popen[str]) -> dict[str, Any]:
    assert process.stdout is not None
    line = process.stdout.readline()  # the command prints it once ready; a dead one gives ''
    assert line, "the command ended before printing its JSON line"
    data: dict[str, Any] = json.loads(line)
    return data


def get_state(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url.split("?")[0] + "api/state", timeout=WAIT) as reply:
        data: dict[str, Any] = json.load(reply)
        return data


def stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(WAIT)


def test_trainer_serves_the_console_on_loopback_until_sigterm(tmp_path: Path) -> None:
    process = start("trainer", "--json", "--scenario", "G6-02", tmp_path=tmp_path)
    try:
        url = first_json_line(process)["trainer"]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/?parcours=G6-02")
        assert get_state(url)["state"] == "idle"
        with urllib.request.urlopen(url, timeout=WAIT) as reply:
            assert 'value="G6-02" checked' in reply.read().decode()
    finally:
        code = stop(process)
    assert code == 0


def test_serve_prints_the_console_beside_the_world(tmp_path: Path) -> None:
    process = start("serve", "--json", tmp_path=tmp_path)
    try:
        described = first_json_line(process)
        assert "wallet" in described["sites"] and described["trainer"].startswith("http://127.0.0.1:")
        assert get_state(described["trainer"])["state_text"] == "Choisissez un parcours."
    finally:
        assert stop(process) == 0


def test_without_a_screen_the_url_is_printed(tmp_path: Path) -> None:
    process = start("trainer", tmp_path=tmp_path)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline(), process.stdout.readline()]
        assert lines[0].startswith("Trainer console: http://127.0.0.1:")
        assert lines[1].startswith("No screen here (DISPLAY is not set): open the URL")
    finally:
        assert stop(process) == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--scenario", "G9-99"], "--scenario G9-99: not a path of the guide"),
        (["--port", "70000"], "70000 is not a port number"),
    ],
)
def test_misuse_is_exit_2_with_the_reason(args: list[str], words: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "trainer", "--no-open", *args], capture_output=True, text=True,
        timeout=WAIT, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert done.returncode == 2
    assert words in done.stdout + done.stderr


def test_a_port_in_use_is_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "harness.cli", "trainer", "--no-open", "--port", str(port)], capture_output=True,
            text=True, timeout=WAIT,
        )  # fmt: skip
    assert done.returncode == 2
    assert f"port {port}: " in done.stdout and "address already in use; choose another" in done.stdout
