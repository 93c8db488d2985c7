"""Nothing reaches beyond loopback, and no PIN, PUK or password appears in clear in a log or report.

Loopback: every listening socket of a running world, of ``cps-harness serve`` and of ``cps-harness
card run`` is on 127.0.0.1, vpcd's two ports in the private pcscd included (vsmartcard's driver
binds every address; a preloaded shim turns that into 127.0.0.1: ``harness/pcsc/vpcd_loopback.c``);
every connection the harness makes in process goes to loopback; and card and web scenarios pass
in a network namespace that has nothing but loopback.

Secrets: "in clear" means the code or password as a word of its own (not inside a longer word or
number: ``0000`` in ``D0000020981`` is a name) or as the hex of its bytes, as an APDU dump would
show it. Scenario files are test data and hold their codes; everything produced from them (HTML
report, JUnit XML, console, Python logs, the card's APDU log, pcscd's log) must not.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from harness.card.host import CardHost
from harness.card.profile import load_profile, make_card
from harness.cli import run as scenario_main
from harness.pki import Pki
from harness.scenario.loader import SCENARIO_DIR, find, load
from harness.scenario.player import play
from harness.world.host import WorldHost
from tests.support.served import ServedWorld

LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}
SECRET_SCENARIOS = ["G3-04", "GC-02", "G4-03", "G5-02"]
SECRET_KEYS = {"pin", "puk", "new_pin", "password", "mot_de_passe", "ecps_password"}
MODULE = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"


# -- loopback ------------------------------------------------------------------------------------------------
def listening(pid: int) -> set[tuple[str, int]]:
    """(address, port) of the TCP sockets process ``pid`` listens on, from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table, size in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port = fields[1].split(":")
            if fields[3] != "0A" or fields[9] not in inodes:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)
            if size == 4:
                host = socket.inet_ntop(socket.AF_INET, raw[::-1])
            else:  # four little-endian 32-bit words
                host = socket.inet_ntop(socket.AF_INET6, b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))
            found.add((host, int(port, 16)))
    return found


@pytest.fixture
def world(session_pki: Pki) -> Iterator[WorldHost]:
    with WorldHost(pki=session_pki, cards=True) as host:
        yield host


def descendants(pid: int) -> set[int]:
    """``pid`` and every process below it, from the parent PIDs in /proc."""
    children: dict[int, set[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, set()).add(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(children.get(current, ()))
    return found


def tree_listening(pid: int) -> set[tuple[str, int]]:
    """What ``pid`` and its descendants (pcscd, the keeper, …) listen on."""
    found: set[tuple[str, int]] = set()
    for member in descendants(pid):
        try:
            found |= listening(member)
        except OSError:  # a process that ended meanwhile
            continue
    return found


def test_every_listening_socket_of_a_world_is_on_loopback(world: WorldHost) -> None:
    ours = listening(os.getpid())
    assert ours, "the world's sites listen in this process"
    assert {host for host, _ in ours} <= LOOPBACK, f"a socket of this process listens beyond loopback: {ours}"
    site_ports = {site.running.port for site in world.world.sites.values()}
    assert site_ports <= {port for _, port in ours}
    stack = world.world.stack
    assert stack is not None
    pcscd = listening(stack.pids[0])
    vpcd_ports = {reader.port for reader in stack.readers}
    assert {port for _, port in pcscd} == vpcd_ports, f"pcscd listens on nothing but vpcd's ports: {pcscd}"
    assert {host for host, _ in pcscd} == {"127.0.0.1"}, f"vpcd listens beyond loopback: {pcscd}"
    assert listening(stack.pids[1]) == set(), "the PC/SC keeper listens on nothing"
    assert stat.S_IMODE(os.stat(stack.socket_path.parent).st_mode) == 0o700, "pcscd's socket is in a private folder"


LISTENERS_OF_PARENT = f"""
import json, os, sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
from tests.qualities.test_loopback_and_secrets import tree_listening
print(json.dumps(sorted(tree_listening(os.getppid()))))
"""


def test_card_run_and_serve_listen_on_loopback_only() -> None:
    """``cps-harness card run -- CMD`` (seen from CMD: its parent and everything below it, pcscd
    included) and ``cps-harness serve`` (seen from here, while it runs)."""
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "card", "run", "--", sys.executable, "-c", LISTENERS_OF_PARENT],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    card_run = {(host, port) for host, port in json.loads(done.stdout.splitlines()[-1])}
    assert len(card_run) >= 2, f"vpcd's two ports at least: {card_run}"
    assert {host for host, _ in card_run} == {"127.0.0.1"}, card_run

    with ServedWorld() as served:
        assert served.process is not None
        serve = tree_listening(served.process.pid)
    assert len(serve) > 2, f"the sites, the admin API, the proxy and vpcd's two ports: {serve}"
    assert {host for host, _ in serve} == {"127.0.0.1"}, serve


def test_in_process_clients_connect_to_loopback_only(
    session_pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every connect() and name lookup while scenarios play (the world's readiness checks, SI-DEP's
    back channel to PSC, the admin and card control calls) goes to loopback."""
    destinations: list[Any] = []
    lookups: list[Any] = []
    connect, connect_ex, getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    def record_connect(self: socket.socket, address: Any) -> Any:
        destinations.append(address)
        return connect(self, address)

    def record_connect_ex(self: socket.socket, address: Any) -> Any:
        destinations.append(address)
        return connect_ex(self, address)

    def record_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        lookups.append(host)
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", record_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", record_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", record_getaddrinfo)
    loaded, problems = load(find(["G5-01", "G3-01"]))
    assert not problems
    for path, scenario in loaded:
        (tmp_path / scenario.id).mkdir()
        result = asyncio.run(play(scenario, path, session_pki, tmp_path / scenario.id))
        assert result.ok, [e.failure for e in result.events if not e.ok]
    inet = [d for d in destinations if isinstance(d, tuple)]
    assert inet, "the scenarios made connections"
    assert {d[0] for d in inet} <= LOOPBACK, f"connections beyond loopback: {set(d[0] for d in inet) - LOOPBACK}"
    assert {h.decode() if isinstance(h, bytes) else h for h in lookups} <= LOOPBACK | {None, "localhost"}, lookups


@pytest.mark.skipif(shutil.which("unshare") is None, reason="util-linux's unshare is needed")
def test_scenarios_pass_in_a_network_namespace_with_nothing_but_loopback(tmp_path: Path) -> None:
    """The strongest form: child processes too (pcscd, curl, OpenSC) run where nothing but loopback
    exists, and card and web scenarios still pass (a user namespace: no privilege needed)."""
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"unprivileged network namespaces are not allowed here: {probe.stderr.decode().strip()}")
    run = f'"{sys.executable}" -m harness.cli run G5-01 G3-01 G6-01 G4-01 --report "{tmp_path}"'
    command = f"ip link set lo up && exec {run}"
    result = subprocess.run(
        ["unshare", "-rn", "sh", "-c", command], capture_output=True, text=True, timeout=300, cwd=SCENARIO_DIR.parent
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "4/4 scenarios passed" in result.stdout


# -- secrets ------------------------------------------------------------------------------------------------
def scenario_secrets(ids: list[str]) -> set[str]:
    """The codes and passwords written in these scenario files, read from the YAML itself (not
    through the report's own list, which is what is under test)."""
    found: set[str] = set()

    def walk(node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k in SECRET_KEYS | {"card.verify_pin", "phone.approve"} and isinstance(v, str | int):
                    found.add(str(v))
                else:
                    walk(v, str(k))
        elif isinstance(node, list):
            for item in node:
                walk(item, key)

    for path in find(ids):
        walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    found |= {load_profile("doctor").pin.value, load_profile("doctor").puk.value}
    return {s for s in found if len(s) >= 4}


def leaks(text: str, secrets: set[str], *, hex_only: bool = False) -> list[str]:
    """Each place a secret stands in clear in ``text``, with its context. ``hex_only`` for APDU logs,
    whose own fields are hex numbers (``READ BINARY P1P2=0000`` is an offset, not the PIN 0000)."""
    found = []
    for secret in secrets:
        hexed = secret.encode().hex()
        forms = [r"\s?".join(hexed[i : i + 2] for i in range(0, len(hexed), 2))]
        if not hex_only:
            forms.append(re.escape(secret))
        for form in forms:
            # a number followed by "ms" is a step's duration (seen: a step of 1111 ms beside the PIN 1111)
            for match in re.finditer(rf"(?<![0-9A-Za-z])(?:{form})(?![0-9A-Za-z])(?! ?ms\b)", text, re.IGNORECASE):
                found.append(f"{secret!r}: …{text[max(0, match.start() - 60) : match.end() + 20]!r}")
    return found


def test_reports_console_and_logs_never_show_a_code_or_password(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, pki_cache: Path
) -> None:
    secrets = scenario_secrets(SECRET_SCENARIOS)
    assert {"0000", "1234", "12345678", "4321", "Motdepasse-CIS-1", "faux-1", "2222"} <= secrets, secrets
    monkeypatch.setattr(scenario_main, "Pki", lambda: Pki(pki_cache))
    caplog.set_level(logging.DEBUG)
    console = io.StringIO()
    code = scenario_main.main(
        SECRET_SCENARIOS, jobs=2, report_dir=tmp_path, console=Console(file=console, width=160, force_terminal=False)
    )
    assert code == 0, console.getvalue()[-3000:]
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert html.count("VERIFY ref 01 -&gt;") >= 4 and "RESET RETRY COUNTER ref 01" in html, "the APDU log is in it"
    apdu_logs = re.findall(r"<summary>\d+ APDUs</summary><pre>(.*?)</pre>", html, re.DOTALL)
    assert apdu_logs
    texts = {
        "report.html": re.sub(r"<summary>\d+ APDUs</summary><pre>.*?</pre>", "", html, flags=re.DOTALL),
        "junit.xml": (tmp_path / "junit.xml").read_text(encoding="utf-8"),
        "console": console.getvalue(),
        "python logs": caplog.text,
    }
    found = {name: leaks(text, secrets) for name, text in texts.items()}
    found["report.html APDU logs"] = leaks("\n".join(apdu_logs), secrets, hex_only=True)
    assert not any(found.values()), found
    # the protocol driver gives curl the PIN by file (RFC 7512 pin-source): no URI can quote it
    assert "pin-value" not in html


def test_card_logs_mask_codes(session_pki: Pki) -> None:
    """The APDU log (``card run --trace``, reports, ``card log``) and pcscd's own log, after OpenSC
    verified, changed and unblocked codes."""
    secrets = {"1234", "4321", "12345678", "0000"}
    card, _ = make_card(load_profile("pharmacist"), session_pki)
    with CardHost() as host:
        host.insert(card)
        for command in (
            ["pkcs11-tool", "--module", MODULE, "--login", "--pin", "0000", "-O"],
            ["pkcs11-tool", "--module", MODULE, "--login", "--pin", "1234", "-O"],
            ["pkcs15-tool", "--change-pin", "--pin", "1234", "--new-pin", "4321"],
            ["opensc-explorer", "/dev/stdin"],  # unblock CHV1 with the PUK, below
        ):
            script = b'unblock CHV1 "12345678" "1234"\n' if command[0] == "opensc-explorer" else None
            subprocess.run(command, input=script, env=host.client_env(), capture_output=True, timeout=60, check=False)
        pcscd_log = host.stack.log_path.read_text(errors="replace")
    lines = "\n".join(entry.line() for entry in card.log)
    assert "VERIFY ref 01 -> 63C2" in lines and "CHANGE REFERENCE DATA ref 01 -> 9000" in lines
    assert "RESET RETRY COUNTER ref 01 -> 9000" in lines and "** ** ** **" in lines
    assert not leaks(lines, secrets, hex_only=True) and not leaks(pcscd_log, secrets)
    assert all(b"1234" not in entry.command and b"4321" not in entry.command for entry in card.log)


def test_the_redactor_masks_codes_standing_alone_only() -> None:
    from harness.scenario.report import Redactor

    redact = Redactor({"0000", "12345678", "Motdepasse-CIS-1"})
    assert redact.text("pin-value=0000;") == "pin-value=••••;"
    assert redact.text("ALAIN D0000020981 / 899700209812") == "ALAIN D0000020981 / 899700209812"
    assert redact.text("mot_de_passe=motdepasse-cis-1&x") == "mot_de_passe=••••&x"
    assert redact.apdus("C> 00 20 00 02 08 31 32 33 34 35 36 37 38  VERIFY") == "C> 00 20 00 02 08 ••••  VERIFY"
    assert redact.apdus("C> 00 B0 00 00 39  READ BINARY P1P2=0000") == "C> 00 B0 00 00 39  READ BINARY P1P2=0000"
    assert Redactor(set()).text("1234") == "1234"


def test_the_ca_bundle_is_readable_by_other_users_and_the_keys_are_not(session_pki: Pki) -> None:
    """An Apache running as www-data must read the bundle `serve --json` prints; nobody else reads a key."""
    with WorldHost(pki=session_pki, cards=False) as host:
        bundle = Path(host.ca_bundle)
        assert stat.S_IMODE(bundle.stat().st_mode) == 0o644 and bundle.read_bytes().startswith(b"-----BEGIN CERT")
        folder = bundle.parent.stat()
        assert stat.S_IMODE(folder.st_mode) == 0o755 and folder.st_uid == os.getuid()
        assert not str(bundle).startswith(str(Path.home())), "a home may be closed to other users (/root is 0700)"
    keys = list(session_pki.keys.directory.rglob("*.pem"))
    assert keys and all(stat.S_IMODE(k.stat().st_mode) == 0o600 for k in keys if b"PRIVATE" in k.read_bytes())
