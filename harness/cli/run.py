"""``cps-harness run [PATHS or IDs]``: replay the guide's scenarios, report, exit 0 only if all pass.

No result is lost: ``--report`` is checked (and created) before anything runs, and a run stopped by
Ctrl-C or SIGTERM writes the report and JUnit file of what finished, marked partial, once every world
is stopped; it then exits 130 (143 for SIGTERM).

``--shard I/N`` plays one part of the selection (``harness.scenario.shard`` says how it is split,
``--durations`` balances it by a previous run's times); every run also leaves ``results.json``
beside its reports, from which ``cps-harness report merge`` rebuilds one report of many shards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from harness.cli.progress import Progress, finished_line, full_table, live_board
from harness.lifetime import interrupted_by, private_dir
from harness.pki import Pki
from harness.scenario.loader import SCENARIO_DIR, find, load
from harness.scenario.model import Scenario

if TYPE_CHECKING:
    from harness.drivers.camera import SnapshotCamera
from harness.scenario.player import Driver, Result, playing, snapshot_camera
from harness.scenario.record import (
    RESULTS_FILE,
    InterruptionRecord,
    PlannedRecord,
    ShardRecord,
    UnfinishedRecord,
    run_record,
    scenario_record,
    selection_of,
)
from harness.scenario.report import Redactor, secrets_of, secrets_of_scenarios, write_html_record, write_junit_record
from harness.scenario.shard import Shard, parse_shard, pick, read_durations

DEFAULT_REPORT_DIR = Path("reports")
REPORT_FILES = ("junit.xml", "report.html", RESULTS_FILE)


class ReportDirError(Exception):
    """``--report`` cannot take the reports; the message says why."""


def check_report_dir(report_dir: Path) -> None:
    """Create ``report_dir`` and prove the reports can be written there, before any scenario runs.

    A run can take minutes: finding out at its end that ``--report`` names a file (or a folder nobody
    may write) used to lose every result in a traceback.
    """
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ReportDirError(f"--report {report_dir}: is a file, not a folder; name a folder for the reports") from None
    except OSError as exc:
        raise ReportDirError(f"--report {report_dir}: cannot create this folder ({exc.strerror})") from None
    for name in REPORT_FILES:
        target = report_dir / name
        if target.exists() and not target.is_file():
            raise ReportDirError(f"--report {report_dir}: {target} exists and is not a file; remove it")
    try:
        with tempfile.TemporaryFile(dir=report_dir):
            pass
    except OSError as exc:
        raise ReportDirError(f"--report {report_dir}: cannot write there ({exc.strerror})") from None


async def run_all(
    targets: Sequence[str], *, jobs: int, report_dir: Path, console: Console,
    driver: Driver = "protocol", headless: bool = True, screenshots: bool = False, shard: Shard | None = None,
    durations: dict[str, float] | None = None,
) -> tuple[list[Result], list[str], float]:  # fmt: skip
    loaded, problems = load(find(targets or [str(SCENARIO_DIR)]))
    if problems:
        return [], problems, 0.0
    selection = selection_of(loaded, Redactor(secrets_of_scenarios(s for _, s in loaded)))
    if shard is not None:
        mine = pick((s for _, s in loaded), shard, durations)
        loaded = [(p, s) for p, s in loaded if s.id in mine]
        console.print(f"shard {shard}: {len(loaded)} of {len(selection)} scenarios", highlight=False)
    # one headless Chromium draws the protocol driver's pages for the whole run (Chromium has its own)
    camera = snapshot_camera() if screenshots and driver == "protocol" else None
    try:
        part = ShardRecord(index=shard.index, total=shard.total) if shard else None
        return await _run_loaded(loaded, jobs=jobs, report_dir=report_dir, console=console, driver=driver,
                                 headless=headless, camera=camera, selection=selection, shard=part)  # fmt: skip
    finally:
        if camera is not None:
            await camera.close()


async def _run_loaded(
    loaded: list[tuple[Path, Scenario]], *, jobs: int, report_dir: Path, console: Console, driver: Driver,
    headless: bool, camera: SnapshotCamera | None, selection: dict[str, PlannedRecord], shard: ShardRecord | None,
) -> tuple[list[Result], list[str], float]:  # fmt: skip
    pki = Pki()  # keys cached once; each scenario still gets a fresh world
    started = time.perf_counter()
    progress = Progress(s for _, s in loaded)
    results: dict[str, Result] = {}
    semaphore = asyncio.Semaphore(max(1, jobs))
    interrupted: BaseException | None = None
    live = live_board(progress, console)  # a terminal's board; None: a line per finished scenario
    if live is None:
        console.print(f"{len(loaded)} scenarios, {max(1, jobs)} at once ({driver} driver)", highlight=False)
    with private_dir("run") as tmp, live or contextlib.nullcontext():

        def redraw() -> None:
            if live is not None:
                live.refresh()

        async def one(path: Path, scenario: Scenario) -> None:
            async with semaphore:
                progress.start(scenario.id)
                redraw()
                workdir = tmp / scenario.id
                workdir.mkdir()

                def step_done(_event: object) -> None:
                    progress.step_done(scenario.id)
                    redraw()

                async with playing(
                    scenario, path, pki, workdir, driver=driver, headless=headless, on_event=step_done, camera=camera
                ) as played:
                    result = played.result
                results[scenario.id] = result
                row = progress.finish(result, Redactor(secrets_of([result])).text)
                if live is None:
                    console.print(finished_line(progress, row), markup=False, highlight=False)
                redraw()

        tasks = [asyncio.create_task(one(path, scenario)) for path, scenario in loaded]
        try:
            await asyncio.gather(*tasks)
        except BaseException as exc:
            # gather gives up at the first task that ends cancelled (one still waiting for its turn) while
            # the others still stop their worlds: wait for all of them, or asyncio.run cancels that too
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
            if not isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
                raise
            interrupted = exc  # Ctrl-C or SIGTERM (asyncio.run cancelled us)
    wall = time.perf_counter() - started
    if live is not None:
        console.print(full_table(progress))
    ordered = [results[s.id] for _, s in loaded if s.id in results]
    redact = Redactor(secrets_of(ordered))
    interruption = None
    if interrupted is not None:
        interruption = InterruptionRecord(
            signal=interrupted_by().name,
            unfinished=[
                UnfinishedRecord(
                    scenario=scenario_record(s, redact),
                    path=str(p),
                    started=progress.rows[s.id].state != "waiting",
                    steps_done=progress.rows[s.id].steps_done,
                )
                for p, s in loaded
                if s.id not in results
            ],
        )
    record = run_record(
        ordered, wall_seconds=wall, redact=redact, selection=selection, shard=shard, interruption=interruption
    )
    record.save(report_dir)
    write_junit_record(record, report_dir / "junit.xml")
    write_html_record(record, report_dir / "report.html", redact.text)
    if interruption is None:
        return ordered, [], wall
    console.print()
    console.print(
        f"[yellow]partial report[/] ({interruption.signal}): {len(ordered)} of {len(loaded)} scenarios finished, "
        f"{sum(r.ok for r in ordered)} passed; report: {(report_dir / 'report.html').resolve()}  "
        f"(JUnit: {report_dir / 'junit.xml'})",
        highlight=False,
    )
    assert interrupted is not None
    raise interrupted  # asyncio.run turns a cancellation back into the KeyboardInterrupt it came from


def main(
    targets: Sequence[str], *, jobs: int, report_dir: Path, console: Console,
    driver: Driver = "protocol", headless: bool = True, screenshots: bool = False, shard: Shard | None = None,
    durations: Path | None = None,
) -> int:  # fmt: skip
    if durations is not None and shard is None:
        console.print("[red]✘[/] --durations balances shards: give --shard I/N with it", highlight=False)
        return 2
    times = read_durations(durations) if durations is not None else None  # InputError: main prints it, exit 2
    try:
        check_report_dir(report_dir)
    except ReportDirError as exc:
        console.print(f"[red]✘[/] {escape(str(exc))}", highlight=False)
        console.print("nothing ran")
        return 2
    results, problems, wall = asyncio.run(
        run_all(
            targets,
            jobs=jobs,
            report_dir=report_dir,
            console=console,
            driver=driver,
            headless=headless,
            screenshots=screenshots,
            shard=shard,
            durations=times,
        )
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
        f"{len(results) - len(failed)}/{len(results)} scenarios passed in {wall:.1f} s"
        f"{f' (shard {shard})' if shard else ''}; "
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
        "--driver", choices=["protocol", "chromium", "firefox"], default="protocol",
        help="the browser: an HTTP client (fast), Debian's Chromium or Debian's Firefox ESR (real dialogs, "
        "error pages, screenshots)",
    )  # fmt: skip
    run.add_argument(
        "--headful", action="store_true",
        help="Chromium with a window (a private Xvfb when there is no screen); the PIN is typed into its dialog "
        "(Firefox always runs headful for card steps: headless, it never shows its PIN prompt)",
    )  # fmt: skip
    run.add_argument(
        "--screenshots", action="store_true",
        help="a picture of every page with the protocol driver too (its page drawn by one headless Chromium; "
        "needs the [chromium] extra); the Chromium driver always takes them",
    )  # fmt: skip
    run.add_argument(
        "--shard", type=_shard, metavar="I/N",
        help="play shard I of N of the selected scenarios (1-based; the same split on every machine); "
        "`cps-harness report merge` joins the shards' --report folders",
    )  # fmt: skip
    run.add_argument(
        "--durations", type=Path, metavar="JUNIT",
        help="with --shard: balance the shards by the scenario times in this JUnit file (a previous run's "
        "junit.xml); without it, a scenario with card readers weighs 4, any other 1",
    )  # fmt: skip
    return run


def _shard(text: str) -> Shard:
    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace, console: Console) -> int:
    return main(
        args.targets, jobs=args.jobs, report_dir=args.report, console=console, driver=args.driver,
        headless=not args.headful, screenshots=args.screenshots, shard=args.shard, durations=args.durations,
    )  # fmt: skip
