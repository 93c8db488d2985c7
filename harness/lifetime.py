"""Nothing a command starts outlives it: private folders, child processes, termination signals.

A command can end four ways: it returns, it raises, it is asked to stop (Ctrl-C, SIGTERM, a
closed terminal) or it is killed outright (SIGKILL, the OOM killer). The first three run Python's
clean-up (``finally``, context managers) once :func:`interrupt_on_termination` has turned SIGTERM
and SIGHUP into Ctrl-C, which Python does not do by default; nothing of ours runs after the fourth,
so what must not survive is arranged beforehand:

- a child daemon gets the kernel's parent-death signal (:func:`dies_with_owner`, util-linux's
  ``setpriv --pdeathsig``, as pcscd has it), so it stops when its owner is gone, however it went;
- a private folder is named after its owner (:func:`private_dir`: ``cps-<kind>-<pid>-<start>-*``,
  the PID and the process's start time, so a PID reused by another program is not its owner), and
  the next command removes those whose owner is gone (:func:`sweep`), never one whose owner runs:
  other worlds, other commands and pytest-xdist workers share the temporary directory.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType

SETPRIV = "/usr/bin/setpriv"
_PRIVATE = re.compile(r"^cps-(?P<kind>.+)-(?P<pid>\d+)-(?P<start>\d+)-[a-z0-9_]{8}$")
"""A private folder's name: its kind, its owner's PID and start time, then ``mkdtemp``'s 8 characters
(which never hold a ``-``, so the name reads unambiguously from its end)."""
TERMINATIONS = (signal.SIGTERM, signal.SIGHUP)


# -- processes --------------------------------------------------------------------------------------
def process_start(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot), or None if it is gone or a zombie.

    With the PID, it names one process for the machine's uptime: a PID alone may be reused.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    if not fields or fields[0] in ("Z", "X"):  # a zombie has ended: only its exit status is left
        return None
    return int(fields[19])  # field 22 of proc(5); fields[0] is field 3


def owner_tag() -> str:
    """``<pid>-<start time>`` of this process: what a private folder's name records."""
    pid = os.getpid()
    return f"{pid}-{process_start(pid)}"


def pids_whose_command_line_has(argument: str) -> list[int]:
    """The processes of this machine with ``argument`` among their command line's words (a profile
    folder, a display): how to find a grandchild whose PID nobody handed us."""
    wanted = argument.encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            words = Path(entry.path, "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if wanted in words and process_start(int(entry.name)) is not None:
            found.append(int(entry.name))
    return found


def dies_with_owner(argv: Sequence[str]) -> list[str]:
    """``argv`` under ``setpriv --pdeathsig TERM``: the kernel sends it SIGTERM when the thread that
    started it ends, even by SIGKILL, where no clean-up of ours runs. setpriv execs in place, so the
    PID is the command's own.

    Start it from a thread that lives as long as the child should (the event loop's, the main
    one): the kernel watches the starting thread, not the process.
    """
    command = shutil.which(argv[0])
    if command is None:  # the caller's own "not found" path, not setpriv's exit code 127
        raise FileNotFoundError(f"{argv[0]}: command not found")
    return [SETPRIV, "--pdeathsig", "TERM", "--", command, *argv[1:]]


# -- private folders ----------------------------------------------------------------------------------
def make_private_dir(kind: str) -> Path:
    """A new folder (mode 0700) in the temporary directory, named after this process; removing it
    is the caller's job (:func:`private_dir` does it), or the next command's once this one is gone."""
    return Path(tempfile.mkdtemp(prefix=f"cps-{kind}-{owner_tag()}-"))


@contextlib.contextmanager
def private_dir(kind: str) -> Iterator[Path]:
    """:func:`make_private_dir`, removed when the block ends, whichever way it ends."""
    path = make_private_dir(kind)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def owner_alive(name: str) -> bool | None:
    """Whether the process that made private folder ``name`` still runs; None if ``name`` is not one."""
    match = _PRIVATE.match(name)
    if match is None:
        return None
    return process_start(int(match["pid"])) == int(match["start"])


def sweep(directory: Path | None = None) -> list[Path]:
    """Remove the private folders in ``directory`` (the temporary directory by default) whose owner is
    gone; return them. Folders of running processes, other users' folders, symbolic links and names
    that are not private folders (caches such as ``cps-harness-<uid>-public``) are left alone.

    Ownership is read from this machine's process table, so a temporary directory shared with
    another PID namespace must not be swept.
    """
    base = Path(directory or tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = list(os.scandir(base))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith("cps-") or owner_alive(entry.name) is not False:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        if not os.path.lexists(entry.path):
            removed.append(Path(entry.path))
    return removed


# -- termination signals ------------------------------------------------------------------------------
_received: list[int] = []


def interrupt_on_termination() -> None:
    """Make SIGTERM and SIGHUP stop this process the way Ctrl-C does, clean-up included.

    Python's default for them is to die on the spot: no ``finally``, no ``atexit``, so a world's
    folders (and, before ``--pdeathsig``, its daemons) were left behind. The handler passes the
    signal to whatever handles Ctrl-C at that moment: ``asyncio.run``'s, which cancels the main
    task, or Python's, which raises ``KeyboardInterrupt``. Call it from the main thread.
    """
    for signum in TERMINATIONS:
        signal.signal(signum, _on_termination)


def _on_termination(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:  # SIGINT ignored (a background job of a script): interrupt all the same
        raise KeyboardInterrupt


def interrupted_by() -> signal.Signals:
    """The signal that interrupted this process: the last SIGTERM or SIGHUP seen, else SIGINT."""
    return signal.Signals(_received[-1]) if _received else signal.SIGINT


def interrupted_exit_code() -> int:
    """The shell's convention for a process stopped by a signal: 128 + its number (130 for Ctrl-C)."""
    return 128 + int(interrupted_by())
