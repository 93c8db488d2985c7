"""The private PC/SC stack, checked through real clients (pyscard in a child, OpenSC's tools)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from harness.pcsc import stack as pcsc
from harness.pcsc.sockets import listener_owned_by, listeners
from harness.pcsc.stack import PcscStack, PcscStackError, PortInUseError, port_pair_free

SYSTEM_SOCKET = Path("/run/pcscd/pcscd.comm")

LIST_READERS = """
from smartcard.System import readers
import json
print(json.dumps([str(r) for r in readers()]))
"""


def readers_seen_by_pyscard(stack: PcscStack) -> list[str]:
    """List readers from a fresh process (libpcsclite binds a process to one pcscd)."""
    out = subprocess.run(
        [sys.executable, "-c", LIST_READERS],
        env={**os.environ, **stack.env},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    readers: list[str] = json.loads(out)
    return readers


def readers_seen_by_opensc(stack: PcscStack) -> str:
    return subprocess.run(
        ["opensc-tool", "--list-readers"],
        env={**os.environ, **stack.env},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_two_private_stacks_run_at_once_and_leave_nothing() -> None:
    system_socket_before = SYSTEM_SOCKET.exists()
    with PcscStack() as first, PcscStack() as second:
        assert first.socket_path != second.socket_path
        assert {first.port, first.port + 1}.isdisjoint({second.port, second.port + 1})
        for stack in (first, second):
            assert stack.port + 1 < 32768
            assert [r.port for r in stack.readers] == [stack.port, stack.port + 1]
            assert readers_seen_by_pyscard(stack) == ["Virtual PCD 00 00", "Virtual PCD 00 01"]
            assert readers_seen_by_opensc(stack).count("Virtual PCD") == 2
            assert stack.env == {"PCSCLITE_CSOCK_NAME": str(stack.socket_path)}
        pids = first.pids + second.pids
        run_dirs = [first.run_dir, second.run_dir]
        ports = [first.port, second.port]
        assert all(alive(pid) for pid in pids)
    assert not any(alive(pid) for pid in pids)
    assert not any(d is not None and d.exists() for d in run_dirs)
    assert all(port_pair_free(p) for p in ports)
    assert SYSTEM_SOCKET.exists() == system_socket_before


def test_stack_is_stopped_when_the_body_raises() -> None:
    with pytest.raises(RuntimeError, match="boom"), PcscStack() as stack:
        pids = stack.pids
        raise RuntimeError("boom")
    assert not any(alive(pid) for pid in pids)


def test_a_taken_port_is_named_in_the_error() -> None:
    port = pcsc.pick_port_pair()
    with socket.socket() as squatter:
        squatter.bind(("0.0.0.0", port + 1))
        squatter.listen()
        with pytest.raises(PortInUseError, match=str(port)):
            PcscStack(port).start()


def test_zero_readers_is_reported_as_a_port_clash(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the port is taken between the check and pcscd's bind, the reader count tells."""
    port = pcsc.pick_port_pair()
    monkeypatch.setattr(pcsc, "port_pair_free", lambda _port: True)
    with socket.socket() as squatter:
        squatter.bind(("0.0.0.0", port))
        squatter.listen()
        stack = PcscStack(port, ready_timeout=1.0)
        with pytest.raises(PortInUseError, match=rf"0 readers.*port {port}"):
            stack.start()
    assert stack.pids == [] and stack.run_dir is None


def test_missing_pcscd_gives_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PcscStackError, match=r"pcscd not found.*doctor"):
        PcscStack(pcscd=str(tmp_path / "pcscd")).start()


def test_stop_is_idempotent() -> None:
    stack = PcscStack().start()
    stack.stop()
    stack.stop()
    with pytest.raises(PcscStackError, match="not started"):
        _ = stack.socket_path


def test_a_killed_harness_leaves_no_pcscd_behind() -> None:
    """SIGKILL skips every clean-up of ours: the kernel's parent-death signal stops pcscd (and the
    keeper) anyway; the stack's folder, named after its dead owner, is swept by the next command."""
    import shutil
    import signal
    import subprocess
    import sys
    import tempfile
    import time

    from harness.lifetime import sweep

    script = (
        "from harness.pcsc.stack import PcscStack; import time; "
        "s = PcscStack().start(); print(s.pids[0], s.run_dir, flush=True); time.sleep(60)"
    )
    own_tmp = Path(tempfile.mkdtemp(prefix="t-"))  # nobody else's sweep takes the folder first
    owner = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(own_tmp)}
    )
    try:
        assert owner.stdout is not None
        pid, run_dir = owner.stdout.readline().split()
        daemon = int(pid)
        assert Path(f"/proc/{daemon}").exists()
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=10)
        assert Path(run_dir).parent == own_tmp and Path(run_dir).name.startswith(f"cps-pcsc-{owner.pid}-")
        assert sweep(own_tmp) == [Path(run_dir)]

        def running() -> bool:  # a zombie waiting for init to reap it is not running
            try:
                return Path(f"/proc/{daemon}/stat").read_text().split(") ")[1][0] != "Z"
            except (FileNotFoundError, ProcessLookupError):
                return False

        deadline = time.monotonic() + 5
        while running() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not running(), "pcscd outlived the process that started it"
    finally:
        owner.kill()
        owner.wait(timeout=10)
        sweep(own_tmp)
        shutil.rmtree(own_tmp, ignore_errors=True)


def test_port_pairs_are_never_handed_out_twice_within_a_process() -> None:
    """Stacks start in threads (parallel worlds); every pick moves the process's cursor past the pair
    it gave, so two stacks of a process, in a row or at once, never share a pair."""
    picked: list[int] = []
    lock = threading.Lock()

    def pick() -> None:
        for _ in range(10):
            port = pcsc.pick_port_pair()
            with lock:
                picked.append(port)

    threads = [threading.Thread(target=pick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(picked) == 40 and len(set(picked)) == 40, sorted(picked)
    low, high = pcsc.PORT_RANGE
    assert all(low <= port and port + 1 <= high and (port - low) % 2 == 0 for port in picked)
    with PcscStack() as first:
        before = first.port
    with PcscStack() as second:
        assert second.port not in (before, *picked)


def test_vpcd_listens_on_loopback_through_the_guard_driver() -> None:
    """pcscd loads the guard as the reader's driver and the loopback shim before libc: both built
    from the package's C sources; vpcd's ports belong to this stack's pcscd and nobody else's."""
    with PcscStack() as stack:
        pid = stack.daemon_pid
        assert pid is not None and pid == stack.pids[0]
        loopback, guard = pcsc.vpcd_shims()
        assert f"LIBPATH {guard}" in (stack.run_dir / "reader.conf.d" / "vpcd").read_text()  # type: ignore[operator]
        environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert f"LD_PRELOAD={loopback}".encode() in environment
        assert f"CPS_VPCD_DRIVER={pcsc.VPCD_DRIVER}".encode() in environment
        for port in (stack.port, stack.port + 1):
            assert listeners(port) == {"127.0.0.1": next(iter(listeners(port).values()))}
            assert stack.owns_listener(port)
            assert listener_owned_by(os.getpid(), port) is False
        assert not stack.owns_listener(stack.port + 2)
    assert stack.daemon_pid is None


def test_a_listener_of_another_process_is_not_the_stacks() -> None:
    port = pcsc.pick_port_pair()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        assert listener_owned_by(os.getpid(), port) is True
        with PcscStack() as stack:
            assert not stack.owns_listener(port)
            assert listener_owned_by(stack.pids[0], port) is False
    assert listener_owned_by(os.getpid(), port) is None
