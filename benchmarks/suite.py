"""Full guide suite wall time: ``cps-harness run`` with the protocol driver and with Chromium.

Run: ``.venv/bin/python -m benchmarks --only suite``. Each run is the real command, in a child
process, every scenario of ``scenarios/`` (33 guide paths and the GD diagnostic ones), its report
written to a temporary folder; the wall time is the whole command, Python's start-up included.
The scenario count and the failures are read back from its ``junit.xml``. The protocol run's
target is the issue's "32 scenarios < 15 s", scaled to the number of scenarios there are; the
Chromium run has no target, and the protocol run is its anchor (what a real browser costs).
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.common import ROOT, Row, Target, timed

TARGET_SECONDS, TARGET_SCENARIOS = 15.0, 32
DRIVERS = {
    "protocol": ["-j", "4"],
    "chromium": ["--driver", "chromium", "-j", "2"],
    "firefox": ["--driver", "firefox", "-j", "2"],
}
TIMEOUTS = {"protocol": 600.0, "chromium": 1800.0, "firefox": 1800.0}
BROWSER_NAMES = {"chromium": "Chromium", "firefox": "Firefox"}


@dataclass
class SuiteRuns:
    driver: str
    command: list[str]
    seconds: list[float] = field(default_factory=list)
    scenarios: list[int] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)
    exit_codes: list[int] = field(default_factory=list)
    tail: str = ""


def cli() -> str:
    """The installed ``cps-harness`` of this virtual environment."""
    here = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin" / "cps-harness"
    found = str(here) if here.exists() else shutil.which("cps-harness")
    if found is None:
        raise RuntimeError("cps-harness is not installed: ./bootstrap.sh run (or pip install -e .)")
    return found


def run_suite(driver: str, reps: int, log: Callable[[str], None]) -> SuiteRuns:
    runs = SuiteRuns(driver, [cli(), "run", *DRIVERS[driver]])
    for rep in range(reps):
        with tempfile.TemporaryDirectory(prefix=f"cps-bench-suite-{driver}-") as report:
            seconds, code, output = timed(
                [*runs.command, "--report", report], {**os.environ, "COLUMNS": "120"}, TIMEOUTS[driver]
            )
            junit = Path(report) / "junit.xml"
            suite = ElementTree.parse(junit).getroot() if junit.exists() else None
        runs.seconds.append(seconds)
        runs.exit_codes.append(code)
        runs.scenarios.append(int(suite.get("tests", "0")) if suite is not None else 0)
        runs.failures.append(int(suite.get("failures", "0")) if suite is not None else -1)
        if code != 0 and not runs.tail:
            runs.tail = " ".join(output.strip().splitlines()[-1:])
        log(f"suite ({driver}) run {rep + 1}/{reps}: {seconds:.1f} s, {runs.scenarios[-1]} scenarios, exit {code}")
    return runs


def measure(drivers: tuple[str, ...], reps: int, log: Callable[[str], None]) -> dict[str, SuiteRuns]:
    return {driver: run_suite(driver, reps, log) for driver in drivers}


def _status(runs: SuiteRuns) -> str:
    bad = [(code, failures) for code, failures in zip(runs.exit_codes, runs.failures, strict=True) if code != 0]
    if not bad:
        return "all passed"
    return f"{len(bad)}/{len(runs.exit_codes)} runs failed ({bad[0][1]} scenarios failed: {runs.tail})"


def rows(found: dict[str, SuiteRuns]) -> list[Row]:
    out = []
    protocol = found.get("protocol")
    protocol_median = statistics.median(protocol.seconds) if protocol else None
    for driver, runs in found.items():
        count = max(runs.scenarios, default=0)
        median = statistics.median(runs.seconds)
        jobs = runs.command[-1]
        if driver == "protocol":
            limit = TARGET_SECONDS * count / TARGET_SCENARIOS if count else TARGET_SECONDS
            out.append(
                Row(
                    "suite",
                    f"full suite, protocol driver, -j {jobs}: {count} scenarios",
                    "s",
                    median,
                    target=Target("value_max", limit, f"< {limit:.1f} s ({TARGET_SECONDS:.0f} s/{TARGET_SCENARIOS})"),
                    note=f"cps-harness run -j {jobs}, whole command; {_status(runs)}; "
                    f"{median / count * TARGET_SCENARIOS if count else 0:.1f} s per {TARGET_SCENARIOS} scenarios",
                    samples={"ours_s": runs.seconds},
                )
            )
        else:
            out.append(
                Row(
                    "suite",
                    f"full suite, {BROWSER_NAMES.get(driver, driver)} driver, -j {jobs}: {count} scenarios",
                    "s",
                    median,
                    protocol_median,
                    "protocol driver run" if protocol_median else "",
                    note=f"cps-harness run --driver {driver} -j {jobs}, "
                    f"{'headful on a private Xvfb for card scenarios' if driver == 'firefox' else 'headless'}, "
                    f"whole command; {_status(runs)}",
                    samples={"ours_s": runs.seconds, "anchor_s": protocol.seconds if protocol else []},
                )
            )
    return out
