"""Faults of the machinery itself: a card process killed mid-APDU, pcscd killed and restarted.

Clients are pyscard in child processes (libpcsclite binds a process to one pcscd); the card that
dies is hosted by a child process too, so that it can be SIGKILLed like a crashed harness. Other
faults are tested where they live: the mute card's watchdog (``test_card_opensc.py::
test_mute_card_becomes_a_clean_client_error``), a vpcd port already taken (``test_pcsc.py::
test_a_taken_port_is_named_in_the_error`` and ``test_zero_readers_is_reported_as_a_port_clash``),
a scenario file with errors (``test_scenarios.py::test_a_broken_file_names_file_line_and_field``,
``test_doctor_cli.py::test_run_exits_non_zero_when_a_scenario_fails``).
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.card.host import CardHost
from harness.card.profile import load_profile, make_card
from harness.card.vpcd import Removal
from harness.pki import Pki
from harness.scenario.loader import find, load
from harness.scenario.player import play

ERROR_WITHIN = 2.0
"""Seconds a client may wait for its error once the card or pcscd is gone (the issue's bound)."""

CARD_PROCESS = """
import asyncio, sys, time
from pathlib import Path
from harness.card.profile import load_profile, make_card
from harness.pki import Pki
from harness.card.vpcd import CardConnection

card, _ = make_card(load_profile("pharmacist"), Pki(Path(sys.argv[2])))
answer = card.process

def process(apdu):
    if apdu[1:2] == b"\\x84":  # GET CHALLENGE: stuck in the middle of it, until killed
        print("in-apdu", flush=True)
        time.sleep(60)
    return answer(apdu)

card.process = process

async def main():
    connection = CardConnection(card, int(sys.argv[1]))
    serving = asyncio.create_task(connection.serve())
    await connection.powered_once.wait()
    print("ready", flush=True)
    await serving

asyncio.run(main())
"""

CLIENT = """
import json, sys, time
from smartcard.System import readers

reader = next(r for r in readers() if str(r) == sys.argv[1])
connection = reader.createConnection()
connection.connect()
print(json.dumps({"connected": True}), flush=True)
for line in sys.stdin:  # one transmit per line read
    started = time.monotonic()
    try:
        data, sw1, sw2 = connection.transmit([0x00, 0x84, 0x00, 0x00, 0x08])
        print(json.dumps({"ok": True, "sw": f"{sw1:02X}{sw2:02X}", "data": len(data)}), flush=True)
    except Exception as exc:
        print(json.dumps({"ok": False, "error": repr(exc), "seconds": time.monotonic() - started}), flush=True)
        break
"""


class Child:
    """A child process read line by line, every wait with a timeout; killed on exit."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            args, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def line(self, timeout: float) -> str:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError(f"no line from {self.process.args[:2]} within {timeout} s")
        line = self.process.stdout.readline()
        if not line:
            assert self.process.stderr is not None
            raise EOFError(f"{self.process.args[:2]} exited: {self.process.stderr.read()[-2000:]}")
        return line.strip()

    def send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def client(host: CardHost, reader: int = 0) -> Child:
    """A pyscard client connected to ``reader``; each ``send("go")`` is one GET CHALLENGE."""
    child = Child([sys.executable, "-c", CLIENT, host.stack.readers[reader].name], env=host.client_env())
    assert json.loads(child.line(15)) == {"connected": True}
    return child


def transmit(child: Child, timeout: float = 10) -> dict[str, object]:
    child.send("go")
    answer: dict[str, object] = json.loads(child.line(timeout))
    return answer


@pytest.fixture
def host() -> Iterator[CardHost]:
    with CardHost() as card_host:
        yield card_host


def test_card_process_killed_mid_apdu(host: CardHost, session_pki: Pki, pki_cache: Path, tmp_path: Path) -> None:
    """The client gets an error within 2 s, a new card in the same reader works, and the next
    scenario (a fresh world) passes."""
    reader = host.stack.readers[0]
    card_process = Child([sys.executable, "-c", CARD_PROCESS, str(reader.port), str(pki_cache)])
    try:
        assert card_process.line(30) == "ready"
        assert host.stack.wait_reader(reader.name, True, 5)
        pyscard = client(host)
        pyscard.send("go")
        assert card_process.line(10) == "in-apdu"  # the transmit is inside the card now
        os.kill(card_process.process.pid, signal.SIGKILL)
        killed = time.monotonic()
        answer = json.loads(pyscard.line(ERROR_WITHIN + 5))
        waited = time.monotonic() - killed
        print(f"client error {waited:.3f} s after the card process was killed")  # figures: pytest -s
        assert answer["ok"] is False, answer
        assert waited < ERROR_WITHIN, f"the client waited {waited:.2f} s for its error: {answer}"
        pyscard.kill()
    finally:
        card_process.kill()
    assert host.stack.wait_reader(reader.name, False, 5), "pcscd still lists the dead card"

    card, _ = make_card(load_profile("pharmacist"), session_pki)
    host.insert(card)
    again = client(host)
    try:
        assert transmit(again) == {"ok": True, "sw": "9000", "data": 8}
    finally:
        again.kill()

    loaded, problems = load(find(["G6-01"]))
    assert not problems
    path, scenario = loaded[0]
    result = asyncio.run(play(scenario, path, session_pki, tmp_path))
    assert result.ok, [e.failure for e in result.events if not e.ok]


def test_pcscd_killed_then_restarted(host: CardHost, session_pki: Pki) -> None:
    """A connected client errors out within 2 s, a new one finds no reader at once; after
    ``restart()`` the same environment reaches a new pcscd, and a card inserted again works."""
    card, _ = make_card(load_profile("pharmacist"), session_pki)
    host.insert(card)
    connected = client(host)
    assert transmit(connected)["ok"] is True
    env_before = host.client_env()["PCSCLITE_CSOCK_NAME"]
    daemon = host.stack.pids[0]
    os.kill(daemon, signal.SIGKILL)
    killed = time.monotonic()
    try:
        answer = transmit(connected, ERROR_WITHIN + 5)
        print(f"client error {time.monotonic() - killed:.3f} s after pcscd was killed")
        assert answer["ok"] is False and time.monotonic() - killed < ERROR_WITHIN, answer
    finally:
        connected.kill()
    assert not host.stack.alive
    started = time.monotonic()
    late = subprocess.run(
        ["opensc-tool", "--list-readers"], env=host.client_env(), capture_output=True, text=True, timeout=30
    )
    assert time.monotonic() - started < ERROR_WITHIN, late
    assert "No smart card readers found" in late.stdout, late  # OpenSC's words for "no PC/SC service"

    ports = [r.port for r in host.stack.readers]
    restarting = time.monotonic()
    host.stack.restart()
    print(f"pcscd restarted in {time.monotonic() - restarting:.3f} s")
    assert host.stack.alive and host.client_env()["PCSCLITE_CSOCK_NAME"] == env_before
    assert [r.port for r in host.stack.readers] == ports
    assert host.reader(0).status()["removal"] == Removal.READER_GONE.value
    card, _ = make_card(load_profile("pharmacist"), session_pki)
    host.insert(card)
    after = client(host)
    try:
        assert transmit(after) == {"ok": True, "sw": "9000", "data": 8}
    finally:
        after.kill()
