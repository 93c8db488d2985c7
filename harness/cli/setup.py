"""``cps-harness setup``: the system part of ``./bootstrap.sh`` for an installed package, without a clone.

The Debian packages a world needs (pcscd, vpcd, OpenSC, curl's PKCS#11 engine, Chromium…) and
Chromium's managed policy for the test card's certificate. As root it runs ``apt-get`` and writes
the policy; as another user (or with ``--dry-run``) it prints the exact commands and changes
nothing. Exit 0 when the machine is ready (or was made ready), 1 when commands remain to be run.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.markup import escape

APT_TIMEOUT = 1800.0


@dataclass(frozen=True)
class Plan:
    packages: list[str]
    policy: bool
    """Whether Chromium's policy must be written."""

    @property
    def empty(self) -> bool:
        return not self.packages and not self.policy

    def commands(self) -> list[list[str]]:
        out = []
        if self.packages:
            out.append(["apt-get", "update", "-q"])
            out.append(["apt-get", "install", "-y", "-q", "--no-install-recommends", *self.packages])
        if self.policy:
            out.append([sys.executable, "-m", "harness.drivers.chromium_policy", "install"])
        return out


def make_plan(for_tests: bool = False) -> Plan:
    from harness.drivers.chromium_policy import policy_installed
    from harness.system import all_components, missing, use_components

    components = all_components() if for_tests else use_components()
    return Plan([c.package for c in missing(components)], not policy_installed())


def add_parser(commands: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        "setup", help="install the Debian packages and Chromium's policy a world needs (as root), or print how"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    parser.add_argument("--for-tests", action="store_true", help="also what cps-harness's own test suite needs")
    return parser


def run(args: argparse.Namespace, console: Console) -> int:
    plan = make_plan(args.for_tests)
    if plan.empty:
        console.print("[green]✔[/] nothing to install: the Debian packages and Chromium's policy are in place")
        return 0
    commands = plan.commands()
    if args.dry_run or os.geteuid() != 0:
        who = "would run" if args.dry_run else "run as root"
        console.print(f"{who}:", highlight=False)
        for command in commands:
            console.print(f"  {escape(shlex.join(command))}", highlight=False, soft_wrap=True)
        return 1
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in commands:
        console.print(f"$ {escape(shlex.join(command))}", highlight=False, soft_wrap=True)
        try:
            done = subprocess.run(command, env=env, timeout=APT_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            console.print(f"[red]✘[/] {command[0]} did not finish within {APT_TIMEOUT:.0f} s")
            return 1
        if done.returncode != 0:
            console.print(f"[red]✘[/] {escape(shlex.join(command))} exited {done.returncode}")
            return 1
    left = make_plan(args.for_tests)
    if not left.empty:
        console.print(f"[red]✘[/] still missing after apt-get: {', '.join(left.packages) or 'the policy'}")
        return 1
    console.print("[green]✔[/] installed; `cps-harness doctor` checks the rest")
    return 0
