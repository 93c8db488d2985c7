"""``cps-harness load``: many professionals log into the user's relying party through the simulated PSC
at once, driven by Locust (its statistics, web UI or headless CSV, and its own master/worker
distribution: this command only passes ``--master``/``--worker`` through).

It starts a world in this process (or uses a served one, ``--world FILE`` holding the line
``cps-harness serve --json`` printed), then runs the locustfile shipped in ``harness/load/`` with
Locust in a child process: Locust patches the standard library with gevent, which the world's
asyncio loop must not share. Locust's exit code is the command's (1 when a request or a login
failed), 2 for bad arguments or a missing Locust.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx2
from rich.console import Console

from harness.errors import InputError, SetupError
from harness.world.sites import LOOPBACK

LOCUSTFILE = Path(__file__).resolve().parent.parent / "load" / "locustfile.py"
RUN_TIME = re.compile(r"^(\d+h)?(\d+m)?(\d+s?)?$")
"""Locust's ``--run-time``: 90, 90s, 5m, 1h30m."""
STOP_GRACE = 5.0
"""Seconds past the think time Locust gives logins in flight to finish when the run time is up."""
END_GRACE = 120.0
"""Seconds past ``--run-time`` (start-up, stopping, CSV writing) before Locust is stopped for good."""
KILL_TIMEOUT = 10.0
ADMIN_TIMEOUT = 10.0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: at least 1")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"{value}: 0 to 3600 seconds")
    return value


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share (0 to 1, e.g. 0.1)") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{value}: a share is 0 to 1 (e.g. 0.1 for 10 %)")
    return value


def _run_time(text: str) -> str:
    if not text or not RUN_TIME.match(text):
        raise argparse.ArgumentTypeError(f"{text!r}: Locust's run time, e.g. 30s, 5m, 1h30m")
    return text


def run_seconds(text: str) -> float:
    """Seconds of a Locust run time (``1h30m`` → 5400)."""
    found = RUN_TIME.match(text)
    assert found is not None
    hours, minutes, seconds = (int((part or "0").rstrip("hms") or 0) for part in found.groups())
    return hours * 3600 + minutes * 60 + seconds


def add_parser(commands: Any) -> argparse.ArgumentParser:
    load: argparse.ArgumentParser = commands.add_parser(
        "load",
        help="load-test a relying party: many professionals log in through the simulated PSC at once (Locust)",
    )
    load.add_argument("--target", metavar="URL", help="the relying party under test (Locust's --host), e.g. "
                      "http://127.0.0.1:8000; not with --worker (the master sends it)")  # fmt: skip
    load.add_argument("--login-path", default="/login", help="where a login starts on the target (default /login)")
    load.add_argument("--users", type=_positive_int, default=10, help="concurrent professionals (default 10)")
    load.add_argument("--spawn-rate", type=float, default=10.0, help="users started per second (default 10)")
    load.add_argument("--run-time", type=_run_time, help="stop after this long (30s, 5m); default: until Ctrl-C")
    load.add_argument("--think", type=_seconds, default=1.0,
                      help="seconds the professional takes to answer the push on the phone (default 1)")  # fmt: skip
    load.add_argument("--refuse", type=_share, default=0.0, help="share of pushes refused on the phone (0 to 1)")
    load.add_argument("--ignore", type=_share, default=0.0,
                      help="share of pushes left unanswered (the user gives up on the waiting page)")  # fmt: skip
    load.add_argument("--headless", action="store_true", help="no web UI: run, print Locust's table, exit")
    load.add_argument("--csv", metavar="PREFIX", help="Locust's CSV files PREFIX_stats.csv, PREFIX_failures.csv…")
    load.add_argument("--web-port", type=int, default=8089, help="Locust's web UI port on loopback (default 8089)")
    role = load.add_mutually_exclusive_group()
    role.add_argument("--master", action="store_true", help="Locust master: workers on this or other machines")
    role.add_argument("--worker", action="store_true", help="Locust worker of the master at --master-host")
    load.add_argument("--master-host", default=LOOPBACK, help="with --worker: the master's address (default loopback)")
    load.add_argument("--master-bind-host", default=LOOPBACK,
                      help="with --master: where it listens for workers (default loopback; 0.0.0.0 for other "
                      "machines)")  # fmt: skip
    load.add_argument("--expect-workers", type=_positive_int, default=1,
                      help="with --master --headless: start when this many workers are in (default 1)")  # fmt: skip
    load.add_argument("--world", type=Path, metavar="FILE",
                      help="use this served world (the JSON line `cps-harness serve --json` printed, in a file) "
                      "instead of starting one; required with --worker")  # fmt: skip
    load.add_argument("--client-id", help="first register this relying party at the world's PSC (with "
                      "--client-secret and --redirect-uri; PKCE required)")  # fmt: skip
    load.add_argument("--client-secret", help="with --client-id: the relying party's client secret")
    load.add_argument("--redirect-uri", action="append", default=[], metavar="URI",
                      help="with --client-id: its redirect URI (repeat for several)")  # fmt: skip
    return load


def check_args(args: argparse.Namespace) -> None:
    """What argparse cannot see alone; InputError (exit 2) with the fix."""
    if args.worker:
        if args.target is not None:
            raise InputError("--target goes with the master (or a single Locust), not --worker: the master sends it")
        if args.world is None:
            raise InputError("--worker needs --world FILE: the master's world (`cps-harness serve --json` output)")
    else:
        if args.target is None:
            raise InputError("--target URL is required: the relying party under test, e.g. http://127.0.0.1:8000")
        target = urlparse(args.target)
        if target.scheme not in ("http", "https") or not target.hostname or target.path not in ("", "/"):
            raise InputError(f"--target {args.target!r}: an http(s) URL with no path, e.g. http://127.0.0.1:8000")
    if args.refuse + args.ignore > 1:
        raise InputError(f"--refuse {args.refuse} and --ignore {args.ignore} add up to more than 1")
    if args.spawn_rate <= 0:
        raise InputError(f"--spawn-rate {args.spawn_rate}: more than 0 users per second")
    if not args.login_path.startswith("/"):
        raise InputError(f"--login-path {args.login_path!r}: a path on the target, starting with /")
    if args.csv is not None and not args.headless:
        raise InputError("--csv goes with --headless (the web UI offers its own CSV downloads)")
    registering = (args.client_id, args.client_secret, args.redirect_uri)
    if any(registering) and not all(registering):
        raise InputError("--client-id, --client-secret and --redirect-uri go together")
    if not 1 <= args.web_port <= 65535:
        raise InputError(f"--web-port {args.web_port}: 1 to 65535")


def read_world(path: Path) -> dict[str, Any]:
    """A served world's description, checked enough for the locustfile; InputError if unusable."""
    try:
        world = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"--world {path}: {exc.strerror}") from None
    except ValueError:
        raise InputError(f"--world {path}: not JSON (save the line `cps-harness serve --json` prints)") from None
    if not isinstance(world, dict) or not world.get("admin") or "wallet" not in world.get("sites", {}):
        raise InputError(f"--world {path}: no admin URL or wallet site (save `cps-harness serve --json`'s line)")
    if not world.get("ca_bundle") or not Path(world["ca_bundle"]).is_file():
        raise InputError(f"--world {path}: its CA bundle {world.get('ca_bundle')} is gone (is the world still up?)")
    return world


def register(world: dict[str, Any], args: argparse.Namespace) -> None:
    """The relying party as a PSC client of the world (admin API), when asked."""
    if not args.client_id:
        return
    body = {"client_id": args.client_id, "client_secret": args.client_secret, "redirect_uris": args.redirect_uri,
            "name": args.client_id, "require_pkce": True}  # fmt: skip
    try:
        reply = httpx2.post(world["admin"] + "/admin/psc/clients", json=body, timeout=ADMIN_TIMEOUT)
    except httpx2.HTTPError as exc:
        raise SetupError(f"the world's admin API {world['admin']} did not answer: {exc}") from None
    if reply.status_code >= 300:
        raise InputError(f"registering {args.client_id} at PSC answered {reply.status_code}: {reply.text[:300]}")


def locust_command(args: argparse.Namespace) -> list[str]:
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
    if args.worker:
        return [*command, "--worker", "--master-host", args.master_host]
    command += ["--host", args.target.rstrip("/"), "--users", str(args.users), "--spawn-rate", str(args.spawn_rate),
                "--stop-timeout", f"{math.ceil(args.think + STOP_GRACE)}s"]  # fmt: skip
    if args.run_time:
        command += ["--run-time", args.run_time]
    if args.headless:
        command += ["--headless"]
    else:
        command += ["--web-host", LOOPBACK, "--web-port", str(args.web_port)]
    if args.csv:
        command += ["--csv", args.csv]
    if args.master:
        command += ["--master", "--master-bind-host", args.master_bind_host]
        if args.headless:
            command += ["--expect-workers", str(args.expect_workers)]
    return command


@contextlib.contextmanager
def world_file(args: argparse.Namespace, console: Console) -> Iterator[Path]:
    """The served world's file, or a world started here (its description printed and in a temporary file)."""
    if args.world is not None:
        world = read_world(args.world)
        register(world, args)
        yield args.world
        return
    from harness.world.host import WorldHost

    with WorldHost(cards=False) as host, tempfile.TemporaryDirectory(prefix="cps-load-") as folder:
        description = host.world.describe()
        path = Path(folder) / "world.json"
        path.write_text(json.dumps(description), encoding="utf-8")
        register(description, args)
        console.print(f"world: {json.dumps(description)}", soft_wrap=True)
        yield path


def run(args: argparse.Namespace, console: Console) -> int:
    check_args(args)
    if find_spec("locust") is None:
        raise SetupError("Locust is not installed: pip install 'cps-harness[load]'")
    with world_file(args, console) as path:
        env = {**os.environ, "CPS_LOAD_WORLD": str(path), "CPS_LOAD_THINK": str(args.think),
               "CPS_LOAD_REFUSE": str(args.refuse), "CPS_LOAD_IGNORE": str(args.ignore),
               "CPS_LOAD_LOGIN_PATH": args.login_path}  # fmt: skip
        timeout = run_seconds(args.run_time) + END_GRACE if args.run_time and args.headless else None
        with subprocess.Popen(locust_command(args), env=env) as locust:
            try:
                return locust.wait(timeout)
            except subprocess.TimeoutExpired:
                console.print(f"[red]✘[/] Locust still running {timeout:.0f} s after the start: stopped")
                return _stop(locust) or 1
            except KeyboardInterrupt:
                _stop(locust)
                raise


def _stop(locust: subprocess.Popen[bytes]) -> int:
    locust.terminate()
    try:
        return locust.wait(KILL_TIMEOUT)
    except subprocess.TimeoutExpired:
        locust.kill()
        return locust.wait(KILL_TIMEOUT)
