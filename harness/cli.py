"""The ``cps-harness`` command: ``doctor`` checks the machine, ``run`` is the main job, ``diagnose`` checks
a card set-up as ATSAM's diagnostic does."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from harness import __version__, card_cli
from harness.diagnose import command as diagnose_cli
from harness.doctor import Check, run_checks


def _checks_table(title: str, checks: Sequence[Check]) -> Table:
    table = Table(title=title, show_lines=False)
    table.add_column("", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("result")
    for check in checks:
        mark = "[green]✔[/]" if check.ok else "[red]✘[/]"
        detail = (
            check.detail if check.ok else f"{check.detail}\n[bold]fix:[/] {check.fix}" if check.fix else check.detail
        )
        table.add_row(mark, check.name, detail)
    return table


def cmd_doctor(args: argparse.Namespace, console: Console) -> int:
    checks = run_checks()
    console.print(_checks_table("cps-harness doctor", checks))
    failed = [c for c in checks if not c.ok]
    console.print(f"{len(checks) - len(failed)} ok, {len(failed)} failed")
    return 1 if failed else 0


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    from harness.scenario.main import main

    return main(
        args.targets,
        jobs=args.jobs,
        report_dir=args.report,
        console=console,
        driver=args.driver,
        headless=not args.headful,
    )


def cmd_check(args: argparse.Namespace, console: Console) -> int:
    from harness.scenario.loader import find, load, write_schema

    if args.schema:
        console.print(f"schema written to {write_schema(args.schema)}")
    try:
        loaded, problems = load(find(args.targets or ["scenarios"]))
    except FileNotFoundError as exc:
        console.print(f"[red]✘[/] {exc}", highlight=False)
        return 2
    for problem in problems:
        console.print(f"[red]✘[/] {problem}", highlight=False)
    console.print(f"{len(loaded)} scenario files valid, {len(problems)} problems", highlight=False)
    return 1 if problems else 0


def cmd_serve(args: argparse.Namespace, console: Console) -> int:
    if args.scenario is None:
        if args.pause_at is not None or args.driver is not None or args.headful:
            console.print("[red]✘[/] --pause-at, --driver and --headful go with --scenario")
            return 2
        from harness.world_serve import serve

        return asyncio.run(serve(as_json=args.json, bind=args.bind, console=console))
    if args.pause_at is None and (args.driver is not None or args.headful):
        console.print("[red]✘[/] --driver and --headful go with --pause-at (without it no browser step is played)")
        return 2
    from harness.scenario.trainer import main

    return main(
        args.scenario, pause_at=args.pause_at, driver=args.driver or "protocol", headless=not args.headful,
        as_json=args.json, bind=args.bind, console=console,
    )  # fmt: skip


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    from harness.scenario.demo import main

    return main(args.target, out=args.out, headless=not args.headful, console=console)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cps-harness", description=__doc__)
    parser.add_argument("--version", action="version", version=f"cps-harness {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("doctor", help="check system components, ports, a private pcscd and the PKI")
    run = commands.add_parser(
        "run", help="the main job: replay the guide's scenarios, write JUnit XML and an HTML report"
    )
    run.add_argument("targets", nargs="*", help="scenario files, folders or ids (default: every scenario)")
    run.add_argument("-j", "--jobs", type=int, default=4, help="scenarios run at once, each in its own world")
    run.add_argument("--report", type=Path, default=Path("reports"), help="where junit.xml and report.html go")
    run.add_argument(
        "--driver", choices=["protocol", "chromium"], default="protocol",
        help="the browser: an HTTP client (fast) or Debian's Chromium (real dialogs, error pages, screenshots)",
    )  # fmt: skip
    run.add_argument(
        "--headful", action="store_true",
        help="Chromium with a window (a private Xvfb when there is no screen); the PIN is typed into its dialog",
    )  # fmt: skip
    check = commands.add_parser("check", help="validate scenario files without running them")
    check.add_argument("targets", nargs="*", help="scenario files or folders (default: scenarios/)")
    check.add_argument("--schema", type=Path, help="also write the scenario JSON Schema here (for editors)")
    serve = commands.add_parser(
        "serve", help="start a world and keep it running until Ctrl-C (--scenario: in a scenario's state, for trainers)"
    )
    serve.add_argument("--json", action="store_true", help="print one JSON line: URLs, admin, CA bundle, PC/SC socket")
    serve.add_argument("--bind", default="127.0.0.1", help="address to listen on (default: loopback only)")
    serve.add_argument(
        "--scenario", metavar="ID_OR_FILE",
        help="start the world in this scenario's state (personas, cards, faults, clock: the steps before the "
        "first one the professional plays) and hold it until Enter or Ctrl-C",
    )  # fmt: skip
    serve.add_argument(
        "--pause-at", type=int, metavar="STEP",
        help="with --scenario: play every step up to and including STEP, then hold the world on the page reached",
    )  # fmt: skip
    serve.add_argument(
        "--driver", choices=["protocol", "chromium"],
        help="with --pause-at: the browser that plays the steps (default: protocol)",
    )  # fmt: skip
    serve.add_argument(
        "--headful", action="store_true",
        help="with --pause-at --driver chromium: a Chromium window (a private Xvfb when there is no screen)",
    )  # fmt: skip
    demo = commands.add_parser(
        "demo", help="play a scenario in Chromium and write slides: one per step, screenshot and the guide's words"
    )
    demo.add_argument("target", metavar="ID_OR_FILE", help="a scenario id (G2-04) or file")
    demo.add_argument("--out", type=Path, help="where index.html and the PNGs go (default: reports/demo-ID)")
    demo.add_argument(
        "--headful", action="store_true",
        help="Chromium with a window (a private Xvfb when there is no screen): the PIN dialog is on the slides",
    )  # fmt: skip
    card_cli.add_parser(commands)
    diagnose_cli.add_parser(commands)
    return parser


COMMANDS = {
    "doctor": cmd_doctor, "run": cmd_run, "check": cmd_check, "serve": cmd_serve, "demo": cmd_demo,
    "card": card_cli.run, "diagnose": diagnose_cli.run,
}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console(highlight=False)
    try:
        return COMMANDS[args.command](args, console)
    except KeyboardInterrupt:
        console.print("interrupted; everything started was stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
