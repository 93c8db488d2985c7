"""``cps-harness serve --scenario ID [--pause-at N]``: a world in a scenario's state, held for a trainer.

Without ``--pause-at`` the player plays the steps that only set the world up (card inserted, fault
set, clock moved, accounts created…: every step before the first one the professional plays at the
browser, the phone or ATSAM's diagnostic) and the world waits there, so a trainer walks the rest
of the path in any browser. With ``--pause-at N`` it plays the scenario itself up to step N
(protocol driver or Chromium) and holds the world on the page reached, a failure screen included,
so the same URL can be opened by hand.
Enter or Ctrl-C ends it; the world (pcscd included) and the browser stop.

The player's own loop plays the steps (``player.playing``); this module only decides where to stop
and what to print.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import termios
from pathlib import Path
from typing import Any

from rich.console import Console

from harness.errors import ScenarioError, StepFailed
from harness.lifetime import private_dir
from harness.pki import Pki
from harness.scenario.actions import ACTIONS
from harness.scenario.actions.browser import CardFollow, CardOpen, Open, page_url
from harness.scenario.loader import find, load
from harness.scenario.model import Scenario, Step
from harness.scenario.player import Driver, Event, Played, arguments, playing
from harness.world.console import print_world
from harness.world.sites import LOOPBACK


class TrainerError(ScenarioError):
    """A request a trainer can fix (unknown scenario, step out of range): the message says how."""


def load_one(target: str) -> tuple[Path, Scenario]:
    """One scenario from an id (``G6-02``) or a file (a trainer's copy), or a clear error."""
    try:
        paths = find([target])
    except FileNotFoundError as exc:
        raise TrainerError(str(exc)) from None
    if len(paths) != 1:
        raise TrainerError(f"{target!r} names {len(paths)} scenario files; give one id or file")
    loaded, problems = load(paths)
    if problems:
        raise TrainerError("\n".join([*problems, "fix the file first (cps-harness check)"]))
    return loaded[0]


def staging_steps(scenario: Scenario) -> int:
    """How many leading steps only set the world up: those before the first one the professional plays."""
    steps = scenario.steps
    return next((i for i, s in enumerate(steps) if s.entry.actor.professional), len(steps))


def step_url(played: Played, step: Step) -> str:
    """The URL a ``browser.open``/``card_open`` step asks for ('' for other steps)."""
    if not isinstance(step.args, Open):
        return ""
    try:
        args = arguments(played.stage, step)
        return page_url(played.stage, args)
    except (StepFailed, KeyError):
        return ""


def event_line(event: Event) -> str:
    """One console line per step played: a trainer sees progress while Chromium works."""
    mark = "[green]✔[/]" if event.ok else "[red]✘[/]"
    tail = f" [red]{event.failure}[/]" if event.failure else ""
    return f"{mark} {event.index} {event.action}: {event.detail}{tail}"


def _event_json(event: Event) -> dict[str, Any]:
    """A step played, for ``--json`` readers (scripts, tests)."""
    return {
        "step": event.index, "action": event.action, "ok": event.ok, "detail": event.detail,
        "screen": event.screen, "status": event.status, "url": event.url, "failure": event.failure,
    }  # fmt: skip


def where(played: Played, pause_at: int | None) -> dict[str, Any]:
    """Where the world is held: the step played last and its page, or the next step to play by hand."""
    scenario, events = played.result.scenario, played.result.events
    if pause_at is None and all(e.ok for e in events):
        index = len(events)  # the steps played, all of them setting the world up
        if index == len(scenario.steps):
            return {"next": None}
        step = scenario.steps[index]
        card = ""
        if isinstance(step.args, CardOpen | CardFollow):
            card = f"{step.args.persona}'s card, PIN {step.args.pin}"
        url = step_url(played, step)
        return {"next": {"step": index + 1, "action": step.action, "url": url, "card": card, "say": step.say or ""}}
    last = events[-1]  # the step asked for, or the one that failed before it
    step = scenario.steps[last.index - 1]
    browser = played.stage.browser
    held = {
        **_event_json(last),
        "of": len(scenario.steps),
        "requested": step_url(played, step),
        "browser_error": browser.client_error if browser.request_failed else "",
        "say": step.say or "",
    }
    return {"stopped_at": held}


def _print_where(info: dict[str, Any], console: Console, *, driver: Driver, headless: bool) -> None:
    if "next" in info:
        following = info["next"]
        if following is None:
            console.print("Every step of the scenario sets the world up; all are played.")
            return
        what = ACTIONS[following["action"]].summary
        console.print(
            f"The world is as it is before step {following['step']} ({following['action']}: {what}).", soft_wrap=True
        )
        if following["url"]:
            console.print(f"Open: {following['url']}", soft_wrap=True)
        if following["card"]:
            console.print(
                f"With {following['card']} (a reader of the world: PCSCLITE_CSOCK_NAME above)", soft_wrap=True
            )
        if following["say"]:
            console.print(f"[dim]{following['say']}[/]", soft_wrap=True)
        return
    held = info["stopped_at"]
    verdict = "" if held["ok"] else " — the step FAILED"
    console.print(
        f"Stopped after step {held['step']} of {held['of']} ({held['action']}){verdict}: "
        f"screen {held['screen'] or '(none)'}" + (f", HTTP {held['status']}" if held["status"] else ""),
        soft_wrap=True,
    )
    if held["url"]:
        console.print(f"URL: {held['url']}", soft_wrap=True)
    if held["browser_error"]:
        console.print(f"The browser shows an error instead of a page: {held['browser_error']}", soft_wrap=True)
    if held["requested"] and held["requested"] != held["url"]:
        console.print(f"Requested: {held['requested']}", soft_wrap=True)
    if driver == "chromium" and not headless:
        if os.environ.get("DISPLAY"):
            console.print("Chromium's window stays on this page.")
        else:
            console.print("Chromium's window is on a private Xvfb (no screen here): open the URL in your browser.")
    if held["say"]:
        console.print(f"[dim]{held['say']}[/]", soft_wrap=True)


async def wait_for_enter(stop: asyncio.Event) -> None:
    """Until a line on stdin or ``stop``; at end of file (stdin /dev/null, a script) only ``stop`` counts."""
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno() if sys.stdin is not None else -1

    def readable() -> None:
        data = os.read(fd, 4096)
        if not data:
            loop.remove_reader(fd)
        elif b"\n" in data:
            stop.set()

    try:
        if os.isatty(fd):
            termios.tcflush(fd, termios.TCIFLUSH)  # a line typed while the steps played is not an answer
        loop.add_reader(fd, readable)
        watching = True
    except (OSError, ValueError):  # no stdin, or a regular file (not pollable)
        watching = False
    try:
        await stop.wait()
    finally:
        if watching:
            loop.remove_reader(fd)


async def serve_scenario(
    target: str, *, pause_at: int | None, driver: Driver, headless: bool, as_json: bool, console: Console,
    bind: str = LOOPBACK,
) -> int:  # fmt: skip
    """Play to where the trainer wants the world, hold it until Enter or Ctrl-C, stop everything."""
    path, scenario = load_one(target)
    if pause_at is not None and not 1 <= pause_at <= len(scenario.steps):
        raise TrainerError(f"--pause-at {pause_at}: {scenario.id} has steps 1 to {len(scenario.steps)}")
    steps = pause_at if pause_at is not None else staging_steps(scenario)
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    stop = asyncio.Event()
    holding = False

    def on_signal() -> None:
        """Held: release the world; still playing: cancel, which stops what was started."""
        if holding:
            stop.set()
        else:
            main.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    if not as_json:
        console.print(f"[bold]{scenario.id}[/] — {scenario.title}", soft_wrap=True)
        console.print(f"[dim]{scenario.guide} · {path}[/]", soft_wrap=True)
    show = None if as_json else (lambda event: console.print(event_line(event), soft_wrap=True))
    try:
        with private_dir(f"serve-{scenario.id}") as tmp:
            async with playing(
                scenario, path, Pki(), tmp, driver=driver, headless=headless, steps=steps, on_event=show,
                bind=bind,
            ) as played:  # fmt: skip
                holding = True
                info = where(played, pause_at)
                if as_json:
                    summary = {
                        "scenario": scenario.id,
                        "file": str(path),
                        "played": [_event_json(e) for e in played.result.events],
                    }
                    described = played.world.describe(played.stage.phones)
                    print(json.dumps({**described, **summary, **info}, ensure_ascii=False), flush=True)
                else:
                    print_world(played.world, console, played.stage.phones)
                    _print_where(info, console, driver=driver, headless=headless)
                    console.print("Enter or Ctrl-C stops the world.")
                await wait_for_enter(stop)
                ok = all(e.ok for e in played.result.events)
    except asyncio.CancelledError:
        if holding:
            raise
        console.print("interrupted; everything started was stopped")
        return 130
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(RuntimeError):
                loop.remove_signal_handler(sig)
    if not as_json:
        console.print("world stopped")
    return 0 if ok else 1


def main(
    target: str, *, pause_at: int | None, driver: Driver, headless: bool, as_json: bool, bind: str, console: Console
) -> int:
    return asyncio.run(
        serve_scenario(
            target, pause_at=pause_at, driver=driver, headless=headless, as_json=as_json, console=console, bind=bind
        )
    )
