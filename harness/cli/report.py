"""``cps-harness report merge DIR… [--report OUT]``: one report and one JUnit file of many shards' reports.

Each ``DIR`` is the ``--report`` folder of a ``cps-harness run --shard I/N`` (any run: a run without
``--shard`` is shard 1/1); the merge reads their ``results.json`` and writes ``OUT/report.html``,
``OUT/junit.xml`` and ``OUT/results.json`` as a single run of the same scenarios would have. What a
merge refuses and what it only warns about is in ``harness.scenario.merge``. Exit 0 when every
scenario passed, 1 when one failed or a shard is missing, 2 when the folders cannot be merged.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from harness.cli.run import DEFAULT_REPORT_DIR, ReportDirError, check_report_dir
from harness.errors import InputError
from harness.scenario.merge import MergeRefused, merge
from harness.scenario.record import RunRecord
from harness.scenario.report import write_html_record, write_junit_record


def add_parser(commands: Any) -> argparse.ArgumentParser:
    report: argparse.ArgumentParser = commands.add_parser("report", help="work on run reports: merge shards")
    actions = report.add_subparsers(dest="report_action", required=True)
    merge_parser = actions.add_parser(
        "merge", help="one report.html and junit.xml of the --report folders of several `run --shard I/N`"
    )
    merge_parser.add_argument("folders", nargs="+", type=Path, metavar="DIR", help="the shards' report folders")
    merge_parser.add_argument(
        "--report", type=Path, default=DEFAULT_REPORT_DIR, help="where the merged junit.xml and report.html go"
    )
    return report


def run(args: argparse.Namespace, console: Console) -> int:
    return merge_folders(args.folders, args.report, console)


def merge_folders(folders: list[Path], out: Path, console: Console) -> int:
    records: list[tuple[str, RunRecord]] = []
    problems: list[str] = []
    for folder in folders:
        try:
            records.append((str(folder), RunRecord.read(folder)))
        except InputError as exc:
            problems.append(str(exc))
    if not problems:
        try:
            check_report_dir(out)
        except ReportDirError as exc:
            problems.append(str(exc))
    if not problems:
        try:
            merged = merge(records)
        except MergeRefused as exc:
            problems = exc.problems
    if problems:
        for problem in problems:
            console.print(f"[red]✘[/] {escape(problem)}", highlight=False)
        console.print("nothing merged")
        return 2
    for warning in merged.warnings:
        console.print(f"[yellow]⚠[/] {escape(warning)}", highlight=False)
    record = merged.record
    record.save(out)
    write_junit_record(record, out / "junit.xml")
    write_html_record(record, out / "report.html")
    passed = sum(r.ok for r in record.results)
    total = len(record.selection)
    console.print(
        f"{len(records)} report(s) merged: {passed}/{total} scenarios passed; report: {(out / 'report.html').resolve()}"
        f"  (JUnit: {out / 'junit.xml'})",
        highlight=False,
    )
    return 0 if passed == total else 1
