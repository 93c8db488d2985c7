"""Every benchmark, one table: ``.venv/bin/python -m benchmarks [--only card,softhsm,...] [--reps N]``.

Each row is our median next to its anchor's median, measured side by side in the same run on this
machine, with their ratio, the issue's target and PASS/MISS (the exit code stays 0 for a MISS:
this is a benchmark, not a test; it is 1 only if a group failed, while a missing package only
marks its rows "not measured" and says how to install it). Groups:

- ``card``: APDU round trip through pcscd, our card vs a bare echo card; in-process APDUs/s;
- ``softhsm``: ``pkcs11-tool --login --test`` and one RSA-PKCS signature, our card vs SoftHSM2
  holding the same key (Debian's ``softhsm2``);
- ``tls``: curl GET with TLS client authentication, key on the token, our card vs SoftHSM2;
- ``psc``: complete OIDC logins per second, PSC's e-CPS flow vs oidc-provider-mock
  (``pip install -e '.[bench]'``);
- ``peer``: complete OIDC code+PKCE logins per second, PSC's e-CPS flow vs panva's oidc-provider
  doing the same code flow with the same client code (``(cd benchmarks/oidc_provider && npm ci)``);
- ``world``: world cold start, against a bare pcscd stack start;
- ``check``: ``check`` of a generated 2,000-step file, against the same steps in small files, and
  against libyaml reading the same text;
- ``suite``: ``cps-harness run`` of every scenario, protocol driver then Chromium then Firefox;
- ``memory``: peak memory of a world process and of its pcscd.

The table is printed, and written with every repetition's figures and each group's details as
JSON (default ``benchmarks/results/results.json``; that folder ignores itself in git).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.util
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console

from benchmarks import card, check, memory, peer, psc, softhsm, suite, world
from benchmarks.common import RESULTS, Row, leaves, machine
from benchmarks.report import print_notes, table, write_json
from harness.pki import Pki

GROUPS = ("card", "softhsm", "tls", "psc", "peer", "world", "check", "suite", "memory")
"""In the table's order; they run in this order too, except that the suites go last: Chromium's
processes load the machine for a while after they end, and no other row should pay for it."""
DEFAULT_JSON = RESULTS / "results.json"
LOAD_POLL = 15.0


class Missing(RuntimeError):
    """Something the group needs is not installed; the message says how to install it."""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    everything = ",".join(GROUPS)
    parser.add_argument("--only", default=everything, help=f"comma-separated groups (default all: {everything})")
    parser.add_argument("--reps", type=int, default=5,
                        help="repetitions of each measurement (card, psc, check); SoftHSM2/TLS and world starts "
                        "run 2× as many (default 5)")  # fmt: skip
    parser.add_argument("--card-n", type=int, default=2000, help="timed APDUs per card and repetition (default 2000)")
    parser.add_argument("--psc-n", type=int, default=100, help="timed OIDC flows per measurement (default 100)")
    parser.add_argument("--psc-concurrency", default="1,4", help="workers, comma-separated (default 1,4)")
    parser.add_argument("--suite-reps", type=int, default=1, help="runs of each full suite (default 1)")
    parser.add_argument(
        "--suite-drivers", default="protocol,chromium,firefox", help="default protocol,chromium,firefox"
    )
    parser.add_argument("--memory-flows", type=int, default=50, help="e-CPS logins before reading peaks")
    parser.add_argument(
        "--wait-load", type=float, metavar="LOAD", help="first wait until the 1-minute load average is below LOAD"
    )
    parser.add_argument("--wait-max", type=float, default=600.0, help="longest wait for --wait-load (default 600 s)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"default {DEFAULT_JSON}")
    args = parser.parse_args(argv)
    args.groups = [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = set(args.groups) - set(GROUPS)
    if unknown:
        parser.error(f"unknown group(s) {sorted(unknown)}: choose among {', '.join(GROUPS)}")
    args.suite_drivers = tuple(d.strip() for d in args.suite_drivers.split(",") if d.strip())
    if set(args.suite_drivers) - set(suite.DRIVERS):
        parser.error(f"--suite-drivers: choose among {', '.join(suite.DRIVERS)}")
    if min(args.reps, args.card_n, args.psc_n, args.suite_reps, args.memory_flows) < 1:
        parser.error("counts must be ≥ 1")
    return args


def wait_for_load(limit: float, longest: float, log: Callable[[str], None]) -> None:
    """Poll the load average: shared machines are noisy, and a quieter minute makes steadier medians."""
    deadline = time.monotonic() + longest
    while (load := os.getloadavg()[0]) >= limit and time.monotonic() < deadline:
        log(f"load average {load:.2f} ≥ {limit}: waiting ({deadline - time.monotonic():.0f} s left)")
        time.sleep(min(LOAD_POLL, max(0.0, deadline - time.monotonic())))
    log(f"load average {os.getloadavg()[0]:.2f}: starting")


# -- one function per group: rows for the table, details for the JSON ----------------------------------
Runner = Callable[[argparse.Namespace, Callable[[str], None]], tuple[list[Row], Any]]


def run_card(args: argparse.Namespace, log: Callable[[str], None]) -> tuple[list[Row], Any]:
    options = card.parse_args(["--n", str(args.card_n), "--reps", str(args.reps), "--skip-pkcs11"])
    results = card.measure(options, log)
    return card.rows(results), card.payload(results)


def run_softhsm(parts: tuple[str, ...]) -> Runner:
    def run(args: argparse.Namespace, log: Callable[[str], None]) -> tuple[list[Row], Any]:
        try:
            result = softhsm.measure(2 * args.reps, parts, log)
        except softhsm.Missing as missing:
            raise Missing(str(missing)) from None
        return softhsm.rows(result), softhsm.payload(result)

    return run


def run_psc(args: argparse.Namespace, log: Callable[[str], None]) -> tuple[list[Row], Any]:
    if importlib.util.find_spec("oidc_provider_mock") is None:
        raise Missing("oidc-provider-mock is not installed: .venv/bin/pip install -e '.[bench]'")
    concurrency = args.psc_concurrency.split(",")
    options = psc.parse_args(["--n", str(args.psc_n), "--reps", str(args.reps), "--concurrency", *concurrency])
    runs = asyncio.run(psc.collect(options, Pki(), log))
    return psc.rows(runs, options), psc.payload(runs, options)


def run_peer(args: argparse.Namespace, log: Callable[[str], None]) -> tuple[list[Row], Any]:
    concurrency = args.psc_concurrency.split(",")
    options = psc.parse_args(["--n", str(args.psc_n), "--reps", str(args.reps), "--concurrency", *concurrency])
    try:
        runs = asyncio.run(peer.collect(options, Pki(), log))
    except peer.Missing as missing:
        raise Missing(str(missing)) from None
    return peer.rows(runs, options), peer.payload(runs)


def run_world(args: argparse.Namespace, log: Callable[[str], None]) -> tuple[list[Row], Any]:
    times = asyncio.run(world.measure(2 * args.reps, log))
    return world.rows(times), times


def run_check(args: argparse.Namespace, log: Callable[[str], None]) -> tuple[list[Row], Any]:
    found = check.measure(args.reps, log=log)
    return check.rows(found), found


def run_suite(args: argparse.Namespace, log: Callable[[str], None]) -> tuple[list[Row], Any]:
    drivers = args.suite_drivers
    if "chromium" in drivers and not Path("/usr/bin/chromium").exists():
        log("Chromium is missing (apt-get install -y chromium): its suite row is left out")
        drivers = tuple(d for d in drivers if d != "chromium")
    if "firefox" in drivers and not Path("/usr/bin/firefox-esr").exists():
        log("Firefox is missing (apt-get install -y firefox-esr firefox-esr-l10n-fr): its suite row is left out")
        drivers = tuple(d for d in drivers if d != "firefox")
    found = suite.measure(drivers, args.suite_reps, log)
    return suite.rows(found), {driver: asdict(runs) for driver, runs in found.items()}


def run_memory(args: argparse.Namespace, log: Callable[[str], None]) -> tuple[list[Row], Any]:
    found = memory.measure(args.memory_flows)
    log(f"memory: world {found['world_vmhwm_kib']} kB, pcscd {found['pcscd_vmhwm_kib']} kB (VmHWM)")
    return memory.rows(found), found


RUNNERS: dict[str, Runner] = {
    "card": run_card,
    "softhsm": run_softhsm(("pkcs11",)),
    "tls": run_softhsm(("tls",)),
    "psc": run_psc,
    "peer": run_peer,
    "world": run_world,
    "check": run_check,
    "suite": run_suite,
    "memory": run_memory,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 160)  # logs and pipes get the whole table

    def log(text: str) -> None:
        console.print(f"[dim]{time.strftime('%H:%M:%S')} {text}[/]", highlight=False)

    if args.wait_load is not None:
        wait_for_load(args.wait_load, args.wait_max, log)
    started, host = dt.datetime.now().astimezone(), machine()
    groups = sorted((g for g in GROUPS if g in args.groups), key=lambda g: g == "suite")
    runners = dict(RUNNERS)
    if "softhsm" in groups and "tls" in groups:  # one token, one card stack, one pass for both
        runners["softhsm"] = run_softhsm(("pkcs11", "tls"))
        groups.remove("tls")
    by_group: dict[str, list[Row]] = {}
    details: dict[str, Any] = {}
    problems: dict[str, str] = {}
    loads: dict[str, dict[str, float]] = {}
    failed = False
    for group in groups:
        loads[group] = {"load_average_at_start": os.getloadavg()[0]}
        log(f"{group}: running (load average {loads[group]['load_average_at_start']:.2f})")
        began = time.perf_counter()
        try:
            by_group[group], details[group] = runners[group](args, log)
        except Missing as missing:
            problems[group] = f"not measured: {missing}"
            by_group[group] = [Row(group, f"{group}: not measured", "s", None, note=str(missing))]
        except KeyboardInterrupt:
            console.print("[yellow]interrupted: every stack, world and server torn down[/]")
            return 130
        except Exception as error:  # one broken group must not hide the others' figures
            failed = True
            problems[group] = "; ".join(
                "".join(traceback.format_exception_only(leaf)).strip() for leaf in leaves(error)
            )
            by_group[group] = [Row(group, f"{group}: failed", "s", None, note=problems[group][-300:])]
            log(f"[red]{group} failed[/]: {traceback.format_exc()[-1500:]}")
        loads[group]["load_average_at_end"] = os.getloadavg()[0]
        loads[group]["seconds"] = time.perf_counter() - began
        log(f"{group}: done in {loads[group]['seconds']:.0f} s")
    finished, load_end = dt.datetime.now().astimezone(), os.getloadavg()
    rows = [row for group in GROUPS for row in by_group.get(group, [])]
    load_start = host["load_average"]
    title = (
        f"cps-harness benchmarks, {started:%Y-%m-%d %H:%M %Z}: {host['nproc']} CPUs ({host['cpu']}); "
        f"load average {load_start[0]:.2f} at start, {load_end[0]:.2f} at end"
    )
    caption = "ours and anchor measured side by side in the same run; ratio = ours / anchor (medians)"
    console.print(table(rows, title, caption))
    print_notes(console, rows)
    console.print(
        "load average (1 min) when each group started: "
        + ", ".join(f"{group} {loads[group]['load_average_at_start']:.2f}" for group in GROUPS if group in loads),
        highlight=False,
    )
    payload = {
        "benchmark": "all",
        "started": started.isoformat(),
        "finished": finished.isoformat(),
        "machine": {**host, "load_average_at_start": load_start, "load_average_at_end": load_end},
        "settings": {k: v for k, v in vars(args).items() if k not in ("json", "only")},
        "rows": [row.as_json() for row in rows],
        "problems": problems,
        "groups": loads,
        "details": details,
    }
    write_json(args.json, payload)
    console.print(f"[dim]JSON: {args.json}[/]")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
