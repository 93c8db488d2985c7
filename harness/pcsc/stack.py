"""A private PC/SC stack: its own pcscd, its own socket, its own vpcd port pair.

Two harnesses on one machine must never meet, and none may touch the system's
``/run/pcscd/pcscd.comm``. pcscd hard-codes that path, but accepts a pre-bound socket through
systemd socket activation (fd 3, ``LISTEN_FDS=1``, ``LISTEN_PID``), and takes a private
``reader.conf.d`` with ``-c``. vpcd's ports are chosen below 32768, outside the kernel's
ephemeral range, so an outgoing connection can never squat them.

vpcd (vsmartcard's reader driver) needs two fixes that only native code inside pcscd can make,
both built with gcc at first use and cached (:mod:`harness.native`): ``vpcd_loopback.c``,
preloaded, makes vpcd listen on 127.0.0.1 instead of every address; ``vpcd_guard.c`` is the
reader's driver as pcscd sees it, passing every call on to vpcd but answering the commands vpcd's
framing cannot carry (0 or 1 byte, over 65,535 bytes), which would otherwise hang the client or
drop the card.

Readiness is proven through the PC/SC API by :mod:`harness.pcsc.keeper`, a child process
(libpcsclite reads ``PCSCLITE_CSOCK_NAME`` once per process) that also keeps pcscd from
exiting when idle. Stopping kills by PID, in reverse order of start.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from harness.errors import SetupError
from harness.lifetime import dies_with_owner, make_private_dir
from harness.native import NativeBuildError, shared_library
from harness.pcsc.sockets import listener_owned_by
from harness.system import PCSCD, VPCD_DRIVER

VPCD_READERS_PER_PORT_PAIR = 2
PORT_RANGE = (20000, 32766)
"""vpcd port pairs are taken here: below Linux's ephemeral range (32768-60999)."""
LOOPBACK_SHIM = Path(__file__).with_name("vpcd_loopback.c")
GUARD_DRIVER = Path(__file__).with_name("vpcd_guard.c")
PCSC_INCLUDE = "/usr/include/PCSC"


class PcscStackError(SetupError):
    """The private stack could not start; the message says why and what to do."""


class PortInUseError(PcscStackError):
    pass


@dataclass(frozen=True)
class ReaderPort:
    """One virtual reader: the name clients see and the TCP port its card connects to."""

    name: str
    port: int


def port_pair_free(port: int) -> bool:
    """Whether vpcd could bind ``port`` and ``port + 1`` on 127.0.0.1 right now."""
    for p in (port, port + 1):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                return False
    return True


class _PortCursor:
    """Where this process looks for its next port pair: it only moves forward.

    It starts at an offset derived from the PID, which spreads parallel processes (pytest-xdist
    workers) over the range, and moves past every pair it hands out, so a process never gives the
    same pair to two stacks in a row: a card or a connection left over from a world that is gone
    cannot meet the next one on its port. Worlds start in threads (``test_parallel_worlds.py``),
    hence the lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: int | None = None
        self._pid = 0

    def take(self, start: int | None = None) -> int:
        low, high = PORT_RANGE
        span = (high - low) // 2
        with self._lock:
            if self._next is None or self._pid != os.getpid():  # a forked child gets its own offset
                self._pid = os.getpid()
                self._next = low + 2 * ((self._pid * 7919) % span)
            first = start if start is not None else self._next
            for i in range(span):
                port = low + ((first - low) // 2 + i) % span * 2
                if port_pair_free(port):
                    if start is None:
                        self._next = low + ((port - low) // 2 + 1) % span * 2
                    return port
        raise PortInUseError(f"no free vpcd port pair in {low}-{high}")


_cursor = _PortCursor()


def pick_port_pair(start: int | None = None) -> int:
    """A free even port pair below 32768, never the same one twice in a row within a process.

    Parallel processes rarely collide (each starts at its own offset); a collision is still caught
    by the reader count.
    """
    return _cursor.take(start)


def vpcd_shims() -> tuple[Path, Path]:
    """(the loopback shim to preload, the guard driver for reader.conf), built or from the cache."""
    try:
        loopback = shared_library(LOOPBACK_SHIM, libs=["-ldl"])
        guard = shared_library(GUARD_DRIVER, cflags=[f"-I{PCSC_INCLUDE}"], libs=["-ldl", "-lpthread"])
    except NativeBuildError as exc:
        raise PcscStackError(f"vpcd's shims could not be built: {exc}; run `cps-harness doctor`") from exc
    return loopback, guard


def _reader_conf(port: int, driver: Path) -> str:
    return f'FRIENDLYNAME "Virtual PCD"\nDEVICENAME /dev/null:{port}\nLIBPATH {driver}\nCHANNELID {port}\n'


# pcscd must see its own PID in LISTEN_PID, which only the exec'd process knows: bash sets it
# from $$ and execs pcscd in place, after moving the listening socket to fd 3 (dash cannot
# redirect fds above 9, and the socket's number is whatever the parent had free). setpriv
# (util-linux) asks the kernel to send pcscd SIGTERM if its parent dies, so a harness killed
# outright (SIGKILL, or SIGTERM, which skips atexit) leaves no daemon behind; it execs in place,
# so the PID stays the one in LISTEN_PID.
_LAUNCH = (
    '{ [ "$SOCKET_FD" = 3 ] || exec 3<&"$SOCKET_FD" {SOCKET_FD}<&-; } '
    '&& export LISTEN_FDS=1 LISTEN_PID=$$ && exec /usr/bin/setpriv --pdeathsig TERM -- "$0" "$@"'
)


class PcscStack:
    """pcscd on a private socket with one vpcd entry (two readers), usable as a context manager.

    ``port`` is the first reader's vpcd port (the second is ``port + 1``); by default a free
    pair is picked. ``env`` holds what clients (pyscard, OpenSC, child processes) need.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        pcscd: str = PCSCD,
        driver: str = VPCD_DRIVER,
        ready_timeout: float = 5.0,
        stop_timeout: float = 5.0,
    ) -> None:
        self._requested_port = port
        self.port = port or 0
        self.pcscd = pcscd
        self.driver = driver
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.run_dir: Path | None = None
        self.readers: list[ReaderPort] = []
        self._daemon: subprocess.Popen[bytes] | None = None
        self._keeper: subprocess.Popen[str] | None = None
        self._log: IO[bytes] | None = None
        self._keeper_lock = threading.Lock()
        self._shims: tuple[Path, Path] | None = None

    # -- what clients need -------------------------------------------------------------
    @property
    def socket_path(self) -> Path:
        if self.run_dir is None:
            raise PcscStackError("the stack is not started")
        return self.run_dir / "pcscd.comm"

    @property
    def env(self) -> dict[str, str]:
        """Variables a PC/SC client process needs to reach this stack (and no other)."""
        return {"PCSCLITE_CSOCK_NAME": str(self.socket_path)}

    @property
    def log_path(self) -> Path:
        if self.run_dir is None:
            raise PcscStackError("the stack is not started")
        return self.run_dir / "pcscd.log"

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in (self._daemon, self._keeper) if p is not None]

    @property
    def daemon_pid(self) -> int | None:
        """The running pcscd's PID; None before start, after stop, or once it died.

        ``restart()`` changes it on the same ports: a card bound to the old pcscd must not
        slip into the new one by itself.
        """
        daemon = self._daemon
        return daemon.pid if daemon is not None and daemon.poll() is None else None

    def owns_listener(self, port: int) -> bool:
        """Whether the socket listening on ``127.0.0.1:port`` is this stack's running pcscd's."""
        pid = self.daemon_pid
        return pid is not None and listener_owned_by(pid, port) is True

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> Self:
        for path, what in ((self.pcscd, "pcscd"), (self.driver, "the vpcd driver")):
            if not os.path.exists(path):
                raise PcscStackError(f"{what} not found at {path}: run `cps-harness doctor`")
        self._shims = vpcd_shims()
        attempts = 1 if self._requested_port else 5
        for attempt in range(attempts):
            self.port = self._requested_port or pick_port_pair()
            if not port_pair_free(self.port):
                if self._requested_port:
                    raise PortInUseError(
                        f"vpcd port {self.port} or {self.port + 1} is already in use; "
                        "choose another port pair below 32768"
                    )
                continue
            try:
                self._start_once()
                atexit.register(self.stop)  # an interpreter that exits without stop() still cleans up
                return self
            except PortInUseError:
                self.stop()
                if self._requested_port or attempt == attempts - 1:
                    raise
            except BaseException:
                self.stop()
                raise
        raise PortInUseError("could not find a free vpcd port pair after 5 attempts")

    def _start_once(self, run_dir: Path | None = None) -> None:
        self.run_dir = run_dir or make_private_dir("pcsc")  # the next command sweeps it if we are killed
        conf_dir = self.run_dir / "reader.conf.d"
        conf_dir.mkdir(exist_ok=True)
        loopback, guard = self._shims or vpcd_shims()
        (conf_dir / "vpcd").write_text(_reader_conf(self.port, guard))
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.socket_path.unlink(missing_ok=True)  # a killed pcscd leaves its socket file
            listener.bind(str(self.socket_path))
            os.chmod(self.socket_path, 0o666)
            listener.listen(64)
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
            fd = listener.fileno()
            self._daemon = subprocess.Popen(
                ["/bin/bash", "-c", _LAUNCH, self.pcscd, "--foreground", "--config", str(conf_dir)],
                env={**_clean_env(), "SOCKET_FD": str(fd), "LD_PRELOAD": str(loopback), "CPS_VPCD_DRIVER": self.driver},
                pass_fds=(fd,),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us, and we stop pcscd in order
            )
        finally:
            listener.close()  # pcscd holds its own copy
        self._keeper = subprocess.Popen(  # it leaves when its stdin closes; the death signal is for a stuck one
            dies_with_owner(
                [sys.executable, "-m", "harness.pcsc.keeper", str(VPCD_READERS_PER_PORT_PAIR), str(self.ready_timeout)]
            ),
            env={**_clean_env(), **self.env, "PYTHONPATH": _source_root()},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        report = self._read_keeper_report()
        names = [str(name) for name in report.get("readers", [])]  # type: ignore[attr-defined]
        if not report.get("ready"):
            if self._daemon.poll() is not None:
                raise PcscStackError(f"pcscd exited with {self._daemon.returncode}; log:\n{self.log_tail()}")
            if report.get("connected") and not names:
                raise PortInUseError(
                    f"pcscd lists 0 readers: vpcd could not listen on port {self.port} or {self.port + 1} "
                    f"(taken by another program?); pcscd log:\n{self.log_tail()}"
                )
            raise PcscStackError(f"pcscd not ready: {report.get('error')}; log:\n{self.log_tail()}")
        self.readers = [ReaderPort(name, self.port + i) for i, name in enumerate(sorted(names))]

    def _read_keeper_report(self) -> dict[str, object]:
        assert self._keeper is not None and self._keeper.stdout is not None
        ready, _, _ = select.select([self._keeper.stdout], [], [], self.ready_timeout + 10)
        line = self._keeper.stdout.readline() if ready else ""
        if not line:
            raise PcscStackError(
                f"the PC/SC readiness probe gave no answer within {self.ready_timeout + 10:.0f} s "
                f"(exit code {self._keeper.poll()}); is pyscard installed?"
            )
        report: dict[str, object] = json.loads(line)
        return report

    def wait_reader(self, name: str, present: bool, timeout: float = 5.0) -> bool:
        """Block until pcscd reports ``name`` with (or without) a card; False on timeout.

        Asked of the keeper, which holds this stack's PC/SC context: pcscd notices a card
        through vpcd's 400 ms presence poll, so "the card's socket is open" is not yet "pcscd
        sees a card".
        """
        keeper = self._keeper
        if keeper is None or keeper.stdin is None or keeper.stdout is None:
            raise PcscStackError("the stack is not started")
        with self._keeper_lock:
            keeper.stdin.write(f"wait {name} {'present' if present else 'empty'} {timeout}\n")
            keeper.stdin.flush()
            ready, _, _ = select.select([keeper.stdout], [], [], timeout + 5)
            line = keeper.stdout.readline() if ready else ""
        if not line:
            raise PcscStackError("the PC/SC probe did not answer")
        return bool(json.loads(line).get("ok"))

    @property
    def alive(self) -> bool:
        """Whether this stack's pcscd is running (it may have crashed or been killed)."""
        return self._daemon is not None and self._daemon.poll() is None

    def restart(self) -> Self:
        """A new pcscd (and keeper) in place of a dead or live one, on the same socket path and vpcd
        ports: clients keep their environment, readers their ports; cards must be inserted again."""
        if self.run_dir is None:
            raise PcscStackError("the stack is not started")
        run_dir = self.run_dir
        self._stop_processes()
        try:
            self._start_once(run_dir)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the keeper, then pcscd, each by PID; safe to call twice and after a failed start."""
        atexit.unregister(self.stop)
        self._stop_processes()
        if self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.run_dir = None
        self.readers = []

    def _stop_processes(self) -> None:
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            if keeper.stdin is not None:
                keeper.stdin.close()
            _terminate(keeper, self.stop_timeout)
            if keeper.stdout is not None:
                keeper.stdout.close()
        daemon, self._daemon = self._daemon, None
        if daemon is not None:
            _terminate(daemon, self.stop_timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except (OSError, PcscStackError):
            return "(no log)"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _terminate(process: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float) -> None:
    """SIGTERM, wait, then SIGKILL: pcscd leaves at once on SIGTERM (SIGINT takes 1.6 s)."""
    if process.poll() is None:
        try:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
        except ProcessLookupError:
            pass


def _clean_env() -> dict[str, str]:
    """Our environment without anything that would point a child at another pcscd."""
    hidden = ("PCSCLITE_CSOCK_NAME", "LISTEN_FDS", "LISTEN_PID")
    return {k: v for k, v in os.environ.items() if k not in hidden}


def _source_root() -> str:
    """The directory holding the ``harness`` package, so the keeper imports this very copy."""
    extra = os.environ.get("PYTHONPATH")
    root = str(Path(__file__).resolve().parent.parent)
    return f"{root}{os.pathsep}{extra}" if extra else root
