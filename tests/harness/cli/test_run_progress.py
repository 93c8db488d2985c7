"""What ``cps-harness run`` shows while it runs (issue 20): in a terminal, a board that fits any height
with an N/M counter and the step each running scenario is on; into a pipe or a CI log, a line per
scenario as soon as it ends."""

from __future__ import annotations

import io
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from rich.console import Console

from harness.cli.progress import Progress, full_table, live_board
from harness.scenario.loader import SCENARIO_DIR, find, load
from harness.scenario.model import Scenario
from harness.scenario.player import Event, Result
from harness.scenario.report import Redactor
from tests.support.processes import command_line, descendants, running, wait_until

LINE_TIMEOUT = 60.0
"""Seconds to wait for the run's next line (a world starts in well under one)."""
SLOW_CARD = """\
id: ZZ-01
title: Une carte qui met une seconde à répondre à chaque commande
guide: tests
world: {cards: true}
personas:
  alain: {from: medecin-alain}
steps:
  - card.insert: {persona: alain}
  - card.fault: {apdu_delay_ms: 1000}
  - card.verify_pin: "1234"
"""
"""Its third step lasts (pkcs11-tool's dozens of APDUs, a second each); its file sorts last."""
BROKEN = (
    "id: G2-08\ntitle: t\nguide: g\nsteps:\n  - browser.open: {site: wallet, path: /activation}\n"
    "    expect: {screen: saisie-codes}\n"  # a screen of the catalogue, but not the one this step reaches
)


def lines_of(process: subprocess.Popen[str]) -> queue.Queue[str | None]:
    """The process's stdout, line by line as it comes (``None`` at its end), read by a thread so each
    wait for a line can have a timeout."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def test_into_a_pipe_each_scenario_is_a_line_as_soon_as_it_ends(pki_cache: Path, tmp_path: Path) -> None:
    """Before, a pipe got nothing until the end (rich's Live prints once when not in a terminal): a CI
    log stayed empty for the whole run. One at a time: the first two lines must come while the third
    scenario still plays (its card answers a command a second: pkcs11-tool runs for a long while)."""
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "G2-08-casse.yaml").write_text(BROKEN)
    (folder / "ZZ-01-carte-lente.yaml").write_text(SLOW_CARD)
    report = tmp_path / "report"
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", "G2-01", str(folder), "-j", "1", "--report", str(report)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "CPS_HARNESS_CACHE": str(pki_cache)},
    )  # fmt: skip
    try:
        lines = lines_of(process)
        heard = [lines.get(timeout=LINE_TIMEOUT) for _ in range(3)]
        # only now look for ZZ-01's card step: what was read came before the run's end
        assert wait_until(lambda: pkcs11_tool_below(process.pid), LINE_TIMEOUT), heard
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=LINE_TIMEOUT) == 143
        rest: list[str | None] = []
        while (line := lines.get(timeout=LINE_TIMEOUT)) is not None:
            rest.append(line)
    finally:
        process.kill()
        process.wait(timeout=LINE_TIMEOUT)
    assert heard[0] == "3 scenarios, 1 at once (protocol driver)"
    assert heard[1] is not None and re.fullmatch(r"\[1/3\] G2-01 PASS \d+\.\d\d s", heard[1]), heard[1]
    assert heard[2] is not None and re.fullmatch(
        r"\[2/3\] G2-08 FAIL \d+\.\d\d s step 1 browser\.open: StepFailed: .*saisie-codes.*", heard[2]
    ), heard[2]
    assert rest[:2] == [
        "",
        "partial report (SIGTERM): 2 of 3 scenarios finished, 1 passed; report: "
        f"{(report / 'report.html').resolve()}  (JUnit: {report / 'junit.xml'})",
    ], rest
    text = "\n".join(line or "" for line in heard + rest)
    assert "ZZ-01" not in text, "an unfinished scenario has no line"
    assert "┃" not in text and "\x1b" not in text, "no table, no redraw in a log"


def pkcs11_tool_below(pid: int) -> bool:
    return any("pkcs11-tool" in " ".join(command_line(child)) for child in descendants(pid) if running(child))


def catalogue() -> list[tuple[Path, Scenario]]:
    loaded, problems = load(find([str(SCENARIO_DIR)]))
    assert problems == []
    return loaded


def finished(path: Path, scenario: Scenario, *, ok: bool) -> Result:
    """A result as the player gives it: every step passed, or the second one failed."""
    if ok:
        events = [Event(i, step.action, "", True, 0.1) for i, step in enumerate(scenario.steps, 1)]
    else:
        events = [
            Event(1, scenario.steps[0].action, "", True, 0.1),
            Event(2, scenario.steps[1].action, "", False, 0.1, failure="StepFailed: expected screen x\nsecond line"),
        ]
    return Result(scenario, path, events, 1.5)


def midway(loaded: list[tuple[Path, Scenario]]) -> Progress:
    """The catalogue half played with -j 4: the second scenario failed early, 20 passed since,
    4 running on their third step, the rest waiting."""
    progress = Progress(s for _, s in loaded)
    for index, (path, scenario) in enumerate(loaded[:26]):
        progress.start(scenario.id)
        if index < 22:
            progress.finish(finished(path, scenario, ok=index != 1), lambda text: text)
        else:
            progress.step_done(scenario.id)
            progress.step_done(scenario.id)
    return progress


def render(progress: Progress, height: int, width: int = 80) -> list[str]:
    """What the terminal shows: the renderable ``run`` gives rich's Live, drawn in a console of that size."""
    console = Console(height=height, width=width, file=io.StringIO(), force_terminal=True, color_system=None)
    live = live_board(progress, console)
    assert live is not None, "a terminal gets the live board"
    console.print(live.renderable)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    return output.splitlines()


def test_the_board_fits_a_24_line_terminal_with_41_scenarios() -> None:
    """The whole catalogue as one table was cut off at the 24th line, the running rows below the edge."""
    loaded = catalogue()
    assert len(loaded) == 41
    screen = render(midway(loaded), 24)
    assert len(screen) <= 24 and all(len(line) <= 80 for line in screen), "\n".join(screen)
    assert screen[0] == "22/41 done · 21 passed · 1 failed · 4 running"
    rows = {line.split()[1]: line for line in screen if line.startswith("│")}
    for scenario in running_ones(loaded):  # each running one, on its third step (or its last)
        on = min(3, len(scenario.steps))
        assert f"running step {on}/{len(scenario.steps)} {scenario.steps[on - 1].action}" in rows[scenario.id]
    failed = loaded[1][1]
    assert f"FAIL step 2 {failed.steps[1].action}" in rows[failed.id] and "1.50 s" in rows[failed.id]
    # 18 rows fit: the 4 running, the failure, and the 13 latest of the 21 passes
    latest_passes = [s.id for _, s in loaded[9:22]]
    assert list(rows) == [s.id for _, s in loaded if s.id in {failed.id, *latest_passes} or s in running_ones(loaded)]
    assert all("PASS" in rows[i] for i in latest_passes)
    assert screen[-1] == "… 8 passed, 15 waiting not shown"


def running_ones(loaded: list[tuple[Path, Scenario]]) -> list[Scenario]:
    return [s for _, s in loaded[22:26]]


@pytest.mark.parametrize(("height", "shown"), [(11, 5), (8, 2)])
def test_in_a_small_terminal_the_running_rows_come_first_then_failures(height: int, shown: int) -> None:
    loaded = catalogue()
    screen = render(midway(loaded), height)
    assert len(screen) <= height, "\n".join(screen)
    assert screen[0].startswith("22/41 done")
    ids = [line.split()[1] for line in screen if line.startswith("│")]
    expected = {s.id for s in running_ones(loaded)[:shown]} | ({loaded[1][1].id} if shown > 4 else set())
    assert set(ids) == expected and len(ids) == shown
    assert screen[-1].startswith("… ") and screen[-1].endswith("not shown")


def test_a_terminal_too_small_for_a_table_still_gets_the_counter() -> None:
    screen = render(midway(catalogue()), 3)
    assert screen == ["22/41 done · 21 passed · 1 failed · 4 running"]


def test_a_short_run_shows_every_row_and_the_full_table_at_the_end() -> None:
    loaded = catalogue()[:3]
    progress = Progress(s for _, s in loaded)
    screen = render(progress, 24)
    assert screen[0] == "0/3 done · 0 passed · 0 failed · 0 running"
    assert sum("waiting" in line for line in screen) == 3 and "not shown" not in screen[-1]
    for path, scenario in loaded:
        progress.start(scenario.id)
        progress.finish(finished(path, scenario, ok=True), lambda text: text)
    console = Console(width=200, file=io.StringIO(), color_system=None)
    console.print(full_table(progress))
    table = console.file.getvalue()  # type: ignore[attr-defined]
    assert "Scénarios du guide" in table and table.count("PASS") == 3


def test_a_pipe_gets_no_live_board() -> None:
    assert live_board(Progress([]), Console(file=io.StringIO())) is None


def test_a_failure_line_masks_the_secrets() -> None:
    path, scenario = catalogue()[1]
    progress = Progress([scenario])
    result = finished(path, scenario, ok=False)
    result.events[1].failure = "curl: pkcs11:token=CPS;pin-value=1234 refused\n(and a traceback)"
    row = progress.finish(result, Redactor(["1234"]).text)
    assert row.failed_step == f"step 2 {scenario.steps[1].action}"
    assert row.failure == "curl: pkcs11:token=CPS;pin-value=•••• refused"
