"""The one table every benchmark row ends up in, its notes, and the JSON beside it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.common import RESULTS, Row, fmt_ratio, fmt_value

VERDICT = {True: "[green]PASS[/]", False: "[red]MISS[/]", None: "[dim]-[/]"}


def table(rows: Sequence[Row], title: str, caption: str = "") -> Table:
    """Row, our median, the anchor and its median, ratio (ours / anchor), target and verdict."""
    out = Table(title=title, title_justify="left", caption=caption or None, caption_justify="left")
    out.add_column("#", justify="right")
    out.add_column("row")
    out.add_column("ours (median)", justify="right")
    out.add_column("anchor")
    out.add_column("anchor (median)", justify="right")
    out.add_column("ratio", justify="right")
    out.add_column("target")
    out.add_column("verdict")
    group = None
    for number, row in enumerate(rows, 1):
        if group is not None and row.group != group:
            out.add_section()
        group = row.group
        out.add_row(
            str(number),
            row.label,
            fmt_value(row.ours, row.unit),
            row.anchor_label or "-",
            fmt_value(row.anchor, row.unit) if row.anchor_label else "-",
            fmt_ratio(row.ratio),
            row.target.text if row.target else "-",
            VERDICT[row.passed],
        )
    return out


def print_notes(console: Console, rows: Sequence[Row]) -> None:
    """One line per row that has something to say, numbered as in the table."""
    for number, row in enumerate(rows, 1):
        if row.note:
            console.print(f"[dim]{number:>2}.[/] {row.note}", highlight=False)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write the results; the default folder ignores itself in git (benchmark output is never committed)."""
    folder = path.parent
    if not folder.exists():
        folder.mkdir(parents=True)
        if folder == RESULTS:
            (folder / ".gitignore").write_text("# benchmark output: never committed\n*\n")
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")
