"""``cps-harness run [PATHS or IDs]``: replay the guide's scenarios, report, exit 0 only if all pass."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from harness.pki import Pki
from harness.scenario.loader import SCENARIO_DIR, find, load
from harness.scenario.model import Scenario
from harness.scenario.player import Driver, Result, play
from harness.scenario.report import Redactor, secrets_of, write_html, write_junit

DEFAULT_REPORT_DIR = Path("reports")


def _table(rows: list[tuple[str, str, str, str]]) -> Table:
    table = Table(title="Scénarios du guide")
    for column in ("ID", "guide section", "result", "time"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    return table


async def run_all(
    targets: Sequence[str], *, jobs: int, report_dir: Path, console: Console,
    driver: Driver = "protocol", headless: bool = True,
) -> tuple[list[Result], list[str], float]:  # fmt: skip
    loaded, problems = load(find(targets or [str(SCENARIO_DIR)]))
    if problems:
        return [], problems, 0.0
    pki = Pki()  # keys cached once; each scenario still gets a fresh world
    started = time.perf_counter()
    rows: dict[str, tuple[str, str, str, str]] = {s.id: (s.id, s.guide, "[dim]waiting[/]", "") for _, s in loaded}
    results: dict[str, Result] = {}
    semaphore = asyncio.Semaphore(max(1, jobs))
    with (
        tempfile.TemporaryDirectory(prefix="cps-run-") as tmp,
        Live(_table(list(rows.values())), console=console, refresh_per_second=8, transient=False) as live,
    ):

        async def one(path: Path, scenario: Scenario) -> None:
            async with semaphore:
                rows[scenario.id] = (scenario.id, scenario.guide, "[yellow]running[/]", "")
                live.update(_table(list(rows.values())))
                workdir = Path(tmp) / scenario.id
                workdir.mkdir()
                result = await play(scenario, path, pki, workdir, driver=driver, headless=headless)
                results[scenario.id] = result
                verdict = "[green]PASS[/]" if result.ok else "[red]FAIL[/]"
                rows[scenario.id] = (scenario.id, scenario.guide, verdict, f"{result.seconds:.2f} s")
                live.update(_table(list(rows.values())))

        await asyncio.gather(*(one(path, scenario) for path, scenario in loaded))
    wall = time.perf_counter() - started
    ordered = [results[s.id] for _, s in loaded]
    write_junit(ordered, report_dir / "junit.xml")
    write_html(ordered, report_dir / "report.html", wall)
    return ordered, [], wall


def main(
    targets: Sequence[str], *, jobs: int, report_dir: Path, console: Console,
    driver: Driver = "protocol", headless: bool = True,
) -> int:  # fmt: skip
    results, problems, wall = asyncio.run(
        run_all(targets, jobs=jobs, report_dir=report_dir, console=console, driver=driver, headless=headless)
    )
    if problems:
        for problem in problems:
            console.print(f"[red]✘[/] {problem}", highlight=False)
        console.print("nothing ran: fix the scenario files first (cps-harness check)")
        return 2
    console.print()
    failed = [r for r in results if not r.ok]
    redact = Redactor(secrets_of(results)).text  # a failing card step may quote the PIN (curl's PKCS#11 URI)
    for result in failed:
        event = next((e for e in result.events if not e.ok), None)
        if event is not None:
            console.print(
                f"[red]✘ {result.scenario.id}[/] step {event.index} {event.action}: {redact(event.failure)}",
                highlight=False,
            )
    console.print(
        f"{len(results) - len(failed)}/{len(results)} scenarios passed in {wall:.1f} s; "
        f"report: {(report_dir / 'report.html').resolve()}  (JUnit: {report_dir / 'junit.xml'})",
        highlight=False,
    )
    return 1 if failed else 0


def add_parser(commands: Any) -> argparse.ArgumentParser:
    run: argparse.ArgumentParser = commands.add_parser(
        "run", help="the main job: replay the guide's scenarios, write JUnit XML and an HTML report"
    )
    run.add_argument("targets", nargs="*", help="scenario files, folders or ids (default: every scenario)")
    run.add_argument("-j", "--jobs", type=int, default=4, help="scenarios run at once, each in its own world")
    run.add_argument("--report", type=Path, default=DEFAULT_REPORT_DIR, help="where junit.xml and report.html go")
    run.add_argument(
        "--driver", choices=["protocol", "chromium"], default="protocol",
        help="the browser: an HTTP client (fast) or Debian's Chromium (real dialogs, error pages, screenshots)",
    )  # fmt: skip
    run.add_argument(
        "--headful", action="store_true",
        help="Chromium with a window (a private Xvfb when there is no screen); the PIN is typed into its dialog",
    )  # fmt: skip
    return run


def run(args: argparse.Namespace, console: Console) -> int:
    return main(
        args.targets, jobs=args.jobs, report_dir=args.report, console=console, driver=args.driver,
        headless=not args.headful,
    )  # fmt: skip
