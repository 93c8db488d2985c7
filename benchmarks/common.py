"""What every benchmark hands the runner: rows of "ours" against an anchor measured in the same run.

Shared machines are noisy, so a row is a median next to its anchor's median and their ratio; an
absolute time alone says little. Times are kept in seconds, rates per second, memory in MiB; only
the display picks µs, ms or s.
"""

from __future__ import annotations

import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
VERSION_TIMEOUT = 10.0

Kind = Literal["ratio_max", "ratio_min", "value_max"]


@dataclass(frozen=True)
class Target:
    """The issue's goal for a row: a bound on the ratio to the anchor, or on our own median."""

    kind: Kind
    limit: float
    text: str

    def met(self, ours: float | None, ratio: float | None) -> bool | None:
        if self.kind == "value_max":
            return None if ours is None else ours < self.limit
        if ratio is None:
            return None
        return ratio <= self.limit if self.kind == "ratio_max" else ratio >= self.limit


@dataclass
class Row:
    """One line of the table: our median, the anchor's median (if the row has one), the target."""

    group: str
    label: str
    unit: str
    """``s`` (shown as µs/ms/s), ``MiB``, or a rate such as ``flows/s``."""
    ours: float | None
    anchor: float | None = None
    anchor_label: str = ""
    target: Target | None = None
    note: str = ""
    samples: dict[str, list[float]] = field(default_factory=dict)
    """Per-repetition figures behind the medians, for the JSON."""

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.anchor is None or self.anchor == 0:
            return None
        return self.ours / self.anchor

    @property
    def passed(self) -> bool | None:
        return None if self.target is None else self.target.met(self.ours, self.ratio)

    def as_json(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "row": self.label,
            "unit": self.unit,
            "ours_median": self.ours,
            "anchor": self.anchor_label or None,
            "anchor_median": self.anchor,
            "ratio": self.ratio,
            "target": None if self.target is None else self.target.text,
            "verdict": {True: "PASS", False: "MISS", None: None}[self.passed],
            "note": self.note,
            "samples": self.samples,
        }


def leaves(error: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups, or the exception itself."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def fmt_value(value: float | None, unit: str) -> str:
    if value is None or math.isnan(value):
        return "-"
    if unit == "s":
        if value < 1e-3:
            return f"{value * 1e6:,.0f} µs"
        if value < 1:
            return f"{value * 1e3:,.1f} ms" if value < 0.1 else f"{value * 1e3:,.0f} ms"
        return f"{value:,.2f} s" if value < 100 else f"{value:,.0f} s"
    if unit == "MiB":
        return f"{value:,.1f} MiB"
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:,.1f} {unit}"


def fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    return f"{ratio:.2f}×" if ratio < 10 else f"{ratio:.1f}×"


def timed(command: Sequence[str], env: dict[str, str], timeout: float) -> tuple[float, int, str]:
    """Wall time of one command, its exit code and its output (stdout then stderr)."""
    started = time.perf_counter()
    try:
        done = subprocess.run(list(command), env=env, capture_output=True, text=True, timeout=timeout, check=False)
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired:
        code, output = -1, f"timed out after {timeout:.0f} s"
    return time.perf_counter() - started, code, output


def abba(count: int, first: Callable[[], None], second: Callable[[], None]) -> None:
    """Run both ``count`` times in A B B A order, so that drift on the machine hits both alike."""
    for i in range(count):
        for run in (first, second) if i % 2 == 0 else (second, first):
            run()


# -- the machine ---------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "?"
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return found[1].strip() if found else platform.processor() or "?"


def tool_version(command: Sequence[str], pattern: str = r"\d+\.\d+(\.\d+)?") -> str | None:
    """The first version-looking string a tool prints, or None if it is absent or silent."""
    try:
        done = subprocess.run(list(command), capture_output=True, text=True, timeout=VERSION_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(pattern, done.stdout + done.stderr)
    return found[0] if found else None


def machine() -> dict[str, Any]:
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu_model(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "load_average": os.getloadavg(),
        "tools": {
            "opensc": tool_version(["opensc-tool", "--info"], r"OpenSC \d+\.\d+\.\d+"),
            "pcscd": tool_version(["pcscd", "--version"]),
            "softhsm2": tool_version(["softhsm2-util", "--version"]),
            "openssl": tool_version(["openssl", "version"]),
            "curl": tool_version(["curl", "--version"]),
            "chromium": tool_version(["chromium", "--version"]),
            "firefox": tool_version(["firefox-esr", "--version"]),
        },
    }
