"""What ``cps-harness run`` shows while the scenarios play: the run's progress, and its two views.

In a terminal, a board redrawn in place that always fits the window: a counter line, the running
scenarios with the step each one is on, and as many finished ones as there is room for (failures kept
before passes). The whole catalogue used to be one table: in a 24-line terminal 41 rows were cut off,
and the rows still running fell below the edge. Into a pipe or a CI log, nothing is redrawn: one line
per scenario as soon as it ends (a job's log shows the run going on, and what a cancelled job had
reached). At the end, in a terminal, the full table as before.

``Progress`` holds the state and says what to show (no I/O); ``Board``, ``full_table`` and
``finished_line`` turn it into what rich prints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from harness.scenario.model import Scenario
from harness.scenario.player import Result

State = Literal["waiting", "running", "passed", "failed"]
TITLE = "Scénarios du guide"
COLUMNS = ("ID", "guide section", "result", "time")
BOARD_FRAME = 4
"""Lines of a table that are not rows: top border, header, the rule below it, bottom border."""


@dataclass
class Row:
    """One scenario of the run, as far as it got."""

    scenario: Scenario
    state: State = "waiting"
    steps_done: int = 0
    seconds: float = 0.0
    failed_step: str = ""
    """``step 3 browser.open``: where a failed scenario stopped."""
    failure: str = ""
    """The first line of why (secrets masked); the summary at the end prints all of it."""

    @property
    def current_step(self) -> str:
        """``step 3/12 card.pin``: the step a running scenario is playing (its world starts with step 1)."""
        steps = self.scenario.steps
        index = min(self.steps_done, len(steps) - 1) if steps else 0
        action = steps[index].action if steps else ""
        return f"step {index + 1}/{len(steps)} {action}".rstrip()


class Progress:
    """The scenarios of one run, in the catalogue's order, and the order they finished in."""

    def __init__(self, scenarios: Iterable[Scenario]) -> None:
        self.rows: dict[str, Row] = {s.id: Row(s) for s in scenarios}
        self.finished_order: list[str] = []

    def start(self, scenario_id: str) -> None:
        self.rows[scenario_id].state = "running"

    def step_done(self, scenario_id: str) -> None:
        self.rows[scenario_id].steps_done += 1

    def finish(self, result: Result, redact: Callable[[str], str]) -> Row:
        """Record a finished scenario; ``redact`` masks its secrets (a card step's failure may quote the PIN)."""
        row = self.rows[result.scenario.id]
        row.state, row.seconds = ("passed" if result.ok else "failed"), result.seconds
        if not result.ok:
            event = next((e for e in result.events if not e.ok), None)
            if event is None:
                row.failed_step, row.failure = f"step {len(result.events) + 1}", "stopped before this step"
            else:
                row.failed_step = f"step {event.index} {event.action}"
                row.failure = redact(event.failure).strip().splitlines()[0] if event.failure.strip() else ""
        self.finished_order.append(row.scenario.id)
        return row

    def count(self, state: State) -> int:
        return sum(row.state == state for row in self.rows.values())

    def counter(self) -> str:
        """``12/41 done · 11 passed · 1 failed · 2 running``."""
        passed, failed, running = self.count("passed"), self.count("failed"), self.count("running")
        return f"{passed + failed}/{len(self.rows)} done · {passed} passed · {failed} failed · {running} running"

    def visible(self, room: int) -> list[Row]:
        """At most ``room`` rows, in the catalogue's order: every running one first, then the most
        recent failures, the most recent passes, and the next waiting ones while there is room."""
        finished = [self.rows[i] for i in self.finished_order]
        waiting = [row for row in self.rows.values() if row.state == "waiting"]
        chosen: list[Row] = []
        for group, latest_first in (
            ([row for row in self.rows.values() if row.state == "running"], False),
            ([row for row in finished if row.state == "failed"], True),
            ([row for row in finished if row.state == "passed"], True),
            (waiting, False),
        ):
            left = max(0, room - len(chosen))
            chosen += (group[::-1] if latest_first else group)[:left]
        shown = {id(row) for row in chosen}
        return [row for row in self.rows.values() if id(row) in shown]

    def hidden(self, shown: Sequence[Row]) -> str:
        """``… 20 passed, 6 waiting not shown``: what the board had no room for, by state."""
        seen = {row.scenario.id for row in shown}
        left = [row for row in self.rows.values() if row.scenario.id not in seen]
        parts = [
            f"{n} {state}"
            for state in ("failed", "passed", "waiting", "running")
            if (n := sum(r.state == state for r in left))
        ]
        return f"… {', '.join(parts)} not shown" if parts else ""


def _result_cell(row: Row, *, final: bool) -> str:
    if row.state == "passed":
        return "[green]PASS[/]"
    if row.state == "failed":
        return f"[red]FAIL[/] {escape(row.failed_step)}"
    if row.state == "running":  # at the end only an interrupted run has one: it stopped there
        return f"[yellow]{'stopped at' if final else 'running'}[/] {escape(row.current_step)}"
    return "[dim]waiting[/]"


def _time_cell(row: Row) -> str:
    return f"{row.seconds:.2f} s" if row.state in ("passed", "failed") else ""


def full_table(progress: Progress) -> Table:
    """Every scenario, as the run ends (or was stopped): the table printed when it is over."""
    table = Table(title=TITLE)
    for column in COLUMNS:
        table.add_column(column)
    for row in progress.rows.values():
        table.add_row(
            escape(row.scenario.id), escape(row.scenario.guide), _result_cell(row, final=True), _time_cell(row)
        )
    return table


class Board:
    """The live view for a terminal: redrawn in place, never taller than the window it is drawn in.

    It is laid out each time it is drawn, from the height rich offers (the terminal's, under ``Live``),
    so a resized window gets a board of its new size at the next redraw.
    """

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        height = options.height or options.max_height
        yield Text(self.progress.counter(), style="bold", no_wrap=True, overflow="ellipsis")
        room = height - 1 - BOARD_FRAME - 1  # the counter above, the "not shown" line below
        if room < 1:
            return  # a window too small for a table still gets the counter
        rows = self.progress.visible(room)
        table = Table(expand=True)
        for column in COLUMNS:  # one line per row, whatever the width: long texts end in "…"
            table.add_column(column, no_wrap=True, overflow="ellipsis", ratio=1 if column == "guide section" else None)
        for row in rows:
            table.add_row(
                escape(row.scenario.id), escape(row.scenario.guide), _result_cell(row, final=False), _time_cell(row)
            )
        yield table
        hidden = self.progress.hidden(rows)
        if hidden:
            yield Text(hidden, style="dim", no_wrap=True, overflow="ellipsis")


def live_board(progress: Progress, console: Console) -> Live | None:
    """The board, redrawn in place, for a terminal; ``None`` for a pipe or a file (a CI log would keep
    every redraw), where ``finished_line`` says each result instead.

    The caller redraws (``refresh``) on each change: rich's own refresh thread would read the
    progress while the run's loop changes it. ``transient``: the full table replaces it at the end.
    """
    if not console.is_terminal:
        return None
    return Live(Board(progress), console=console, auto_refresh=False, transient=True)


def finished_line(progress: Progress, row: Row) -> str:
    """One plain line for a pipe or a CI log: ``[12/41] G6-02 FAIL 4.10 s step 3 browser.open: why``."""
    done = len(progress.finished_order)
    verdict = "PASS" if row.state == "passed" else "FAIL"
    line = f"[{done}/{len(progress.rows)}] {row.scenario.id} {verdict} {row.seconds:.2f} s"
    if row.state == "failed":
        line += f" {row.failed_step}" + (f": {row.failure}" if row.failure else "")
    return line
