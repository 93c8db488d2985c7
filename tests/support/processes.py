"""The machine's process table, read from ``/proc``: who descends from whom, who still runs.

Tests that kill a command check what it started through these, and the session's end checks that
nothing the suite started outlives it (``tests/conftest.py``).
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

POLL = 0.05


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def running(pid: int) -> bool:
    """Whether ``pid`` runs: a zombie (ended, waiting for its parent to read its status) does not."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def command_line(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children…), zombies included."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children[int(fields[1])].append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; whether it held."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL)
    return True


def still_running(pids: Iterable[int], timeout: float) -> list[tuple[int, list[str]]]:
    """Those of ``pids`` still running after up to ``timeout`` seconds of polling, with their command."""
    pids = list(pids)
    wait_until(lambda: not any(running(pid) for pid in pids), timeout)
    return [(pid, command_line(pid)) for pid in pids if running(pid)]
