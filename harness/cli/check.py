"""``cps-harness check``: validate scenario files without running them; optionally write the JSON Schema."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape


def add_parser(commands: Any) -> argparse.ArgumentParser:
    check: argparse.ArgumentParser = commands.add_parser("check", help="validate scenario files without running them")
    check.add_argument("targets", nargs="*", help="scenario files or folders (default: scenarios/)")
    check.add_argument("--schema", type=Path, help="also write the scenario JSON Schema here (for editors)")
    return check


def run(args: argparse.Namespace, console: Console) -> int:
    from harness.scenario.loader import SCENARIO_DIR, find, load, write_schema

    if args.schema:  # an unwritable path is ScenarioError: ✘ and exit code 2 (main)
        console.print(f"schema written to {write_schema(args.schema)}")
    loaded, problems = load(find(args.targets or [str(SCENARIO_DIR)]))  # no such target: ✘, 2 (main)
    for problem in problems:
        console.print(f"[red]✘[/] {escape(problem)}", highlight=False)
    console.print(f"{len(loaded)} scenario files valid, {len(problems)} problems", highlight=False)
    return 1 if problems else 0
