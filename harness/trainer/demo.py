"""``cps-harness demo ID``: a scenario played in a real browser (Chromium by default, or Firefox with
``--driver firefox``), written as slides for a training session.

``DIR/index.html`` (``templates/slides.html``) has a title slide and one slide per step: what the
user saw (the browser's PIN dialog first when there was one, then the page with its drawn address
bar, or the browser's error page), the guide's words for the step (its ``say:``, else what the
action does), who acts, and a footer saying in French what happened (``french.py``) with the
technical line — action, HTTP status, form path, faults, the raw browser or curl error — folded
under "Détails techniques". The page is one file: pictures are embedded, arrow keys move between
slides, printing gives one slide per page. A trainer edits the ``say:`` lines of a scenario file,
not Python. Codes and passwords are masked as in the run's report.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Literal

from rich.console import Console

from harness.lifetime import private_dir
from harness.pki import Pki
from harness.reporting.pictures import data_uri
from harness.reporting.render import render
from harness.scenario.french import action_words, page_address, step_story
from harness.scenario.player import Event, Result, playing
from harness.scenario.report import Redactor, secrets_of
from harness.trainer.serve import event_line, load_one

Browser = Literal["chromium", "firefox"]
"""The real browsers a demo plays in (the protocol driver has no screens of its own to show)."""

DEFAULT_OUT = Path("reports")
"""``demo ID`` writes to ``reports/demo-ID/`` unless ``--out`` says otherwise."""


def _slide(result: Result, index: int, event: Event | None) -> dict[str, Any]:
    """One step's slide; a step not played (an earlier one failed) keeps its slide, so the deck tells the path."""
    step = result.scenario.steps[index - 1]
    entry = step.entry
    slide: dict[str, Any] = {
        "index": index,
        "action": step.action,
        "actor": entry.actor.french,
        "say": step.say,
        "what": action_words(step.action, step.args, entry.actor.french),
        "played": event is not None,
        "screen": event.screen if event else "",
        "pictures": [data_uri(png) for png in event.screenshots] if event else [],
    }
    if event is None:
        return slide
    slide.update(
        ok=event.ok, detail=event.detail, status=event.status, failure=event.failure,
        client_error=event.client_error, address=page_address(event.url), story=step_story(step, event),
    )  # fmt: skip
    return slide


def write_slides(result: Result, out: Path) -> Path:
    """``out/index.html``, pictures included."""
    out.mkdir(parents=True, exist_ok=True)
    events = {event.index: event for event in result.events}
    html = render(
        "harness.trainer", "slides.html", redact=Redactor(secrets_of([result])).text, scenario=result.scenario,
        result=result, passed=sum(e.ok for e in result.events),
        slides=[_slide(result, index, events.get(index)) for index in range(1, len(result.scenario.steps) + 1)],
    )  # fmt: skip
    page = out / "index.html"
    page.write_text(html, encoding="utf-8")
    return page


async def record(target: str, *, headless: bool, console: Console, driver: Browser = "chromium") -> Result:
    """Play the scenario in a real browser, each step printed as it ends."""
    path, scenario = load_one(target)
    console.print(f"[bold]{scenario.id}[/] — {scenario.title}", soft_wrap=True)
    with private_dir(f"demo-{scenario.id}") as tmp:
        async with playing(
            scenario, path, Pki(), tmp, driver=driver, headless=headless,
            on_event=lambda event: console.print(event_line(event), soft_wrap=True),
        ) as played:  # fmt: skip
            return played.result


def main(target: str, *, out: Path | None, headless: bool, console: Console, driver: Browser = "chromium") -> int:
    result = asyncio.run(record(target, headless=headless, console=console, driver=driver))
    page = write_slides(result, out or DEFAULT_OUT / f"demo-{result.scenario.id}")
    state = "every step passed" if result.ok else "[red]a step failed[/] (its slide says why)"
    console.print(f"{state}; slides: {page.resolve()}", soft_wrap=True)
    return 0 if result.ok else 1
