"""``cps-harness demo ID``: a scenario played in Chromium, written as slides for a training session.

``DIR/index.html`` has a title slide and one slide per step: what the user saw (Chromium's PIN
dialog first when there was one, then the page or the browser's error page), the guide's words for
the step (its ``say:``, else what the action does), who acts, the screen reached. The screenshots
are PNG files beside the page; the page has no other dependency (arrow keys move between slides,
printing gives one slide per page). A trainer edits the ``say:`` lines of a scenario file, not Python.
"""

from __future__ import annotations

import asyncio
from html import escape
from pathlib import Path

from rich.console import Console

from harness.lifetime import private_dir
from harness.pki import Pki
from harness.scenario.player import Event, Result, playing
from harness.trainer.serve import event_line, load_one

DEFAULT_OUT = Path("reports")
"""``demo ID`` writes to ``reports/demo-ID/`` unless ``--out`` says otherwise."""
STYLE = """
*{box-sizing:border-box}
html{scroll-snap-type:y mandatory}
body{margin:0;font-family:Marianne,Arial,sans-serif;color:#161616;background:#f6f6f6}
.slide{min-height:100vh;scroll-snap-align:start;padding:3vh 4vw;display:flex;flex-direction:column;gap:2vh;
  background:#fff;border-bottom:6px solid #000091}
header{display:flex;justify-content:space-between;color:#000091;font-weight:bold;font-size:1.1em}
h1{color:#000091;font-size:2.4em;margin:18vh 0 2vh}
h2{margin:0;color:#3a3a3a;font-weight:normal}
.say{font-size:1.45em;line-height:1.35;margin:0;padding-left:.8em;border-left:6px solid #000091}
.what{font-size:1.3em;margin:0;color:#3a3a3a;font-style:italic}
.shots{display:flex;gap:2vw;flex:1;align-items:flex-start;justify-content:center;min-height:0}
.shots img{max-width:100%;max-height:62vh;border:1px solid #929292;box-shadow:0 2px 8px #0003}
.shots.two img{max-width:48%}
.noshot{flex:1;display:flex;align-items:center;justify-content:center;font-size:1.4em;color:#666;
  border:2px dashed #ccc}
footer{font-size:.95em;color:#3a3a3a}
code{background:#eee;padding:0 .3em}
.ok{color:#18753c}
.ko{color:#ce0500;font-weight:bold}
@media print{html{scroll-snap-type:none}.slide{page-break-after:always;min-height:auto;border:0}}
"""
KEYS = """
document.addEventListener('keydown', e => {
  const step = {ArrowDown: 1, ArrowRight: 1, PageDown: 1, ' ': 1, ArrowUp: -1, ArrowLeft: -1, PageUp: -1}[e.key];
  if (!step) return;
  const slides = [...document.querySelectorAll('.slide')];
  const now = slides.findIndex(s => s.getBoundingClientRect().top > -window.innerHeight / 2);
  const next = slides[Math.min(slides.length - 1, Math.max(0, now + step))];
  if (next) { e.preventDefault(); next.scrollIntoView({behavior: 'smooth'}); }
});
"""


def _shots(result: Result, event: Event | None, out: Path) -> list[str]:
    """Write the step's screenshots beside the page; their file names, PIN dialog first."""
    if event is None:
        return []
    names = []
    for number, png in enumerate(event.screenshots, 1):
        name = f"{result.scenario.id}-{event.index:02d}-{number}.png"
        (out / name).write_bytes(png)
        names.append(name)
    return names


def _step_slide(result: Result, index: int, event: Event | None, out: Path) -> str:
    """One step's slide; a step not played (an earlier one failed) keeps its slide, so the deck tells the path."""
    scenario = result.scenario
    step = scenario.steps[index - 1]
    actor = step.entry.actor.french
    if step.say:
        words = f'<p class="say">{escape(step.say)}</p>'
    else:
        words = f'<p class="what">{escape(step.entry.summary)}</p>'
    shots = _shots(result, event, out)
    if shots:
        images = "".join(
            f'<img src="{name}" alt="{escape(step.action)}, capture {n}">' for n, name in enumerate(shots, 1)
        )
        pictures = f'<div class="shots{" two" if len(shots) > 1 else ""}">{images}</div>'
    elif event is None:
        pictures = '<div class="noshot">étape non jouée : une étape précédente a échoué</div>'
    else:
        pictures = f'<div class="noshot">{escape(actor)} — rien ne change à l\'écran</div>'
    if event is None:
        facts = f"<code>{escape(step.action)}</code>"
    else:
        verdict = '<span class="ok">✔</span>' if event.ok else f'<span class="ko">✘ {escape(event.failure)}</span>'
        screen = f" · écran <code>{escape(event.screen)}</code>" if event.screen else ""
        status = f" · HTTP {event.status}" if event.status else ""
        facts = f"{verdict} <code>{escape(step.action)}</code> — {escape(event.detail)}{screen}{status}"
    screen_id = escape(event.screen if event else "")
    return (
        f'<section class="slide step" id="step-{index}" data-step="{index}" data-screen="{screen_id}">'
        f"<header><span>{escape(scenario.id)} · étape {index}/{len(scenario.steps)}</span>"
        f"<span>{escape(actor)}</span></header>{words}{pictures}<footer>{facts}</footer></section>"
    )


def write_slides(result: Result, out: Path) -> Path:
    """``out/index.html`` and the PNGs it shows; earlier screenshots of this scenario are removed first."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob(f"{result.scenario.id}-[0-9][0-9]-*.png"):
        old.unlink()
    scenario = result.scenario
    events = {event.index: event for event in result.events}
    passed = sum(e.ok for e in result.events)
    verdict = (
        f'<span class="ok">{passed}/{len(scenario.steps)} étapes réussies</span>'
        if result.ok
        else f'<span class="ko">{passed}/{len(scenario.steps)} étapes réussies</span>'
    )
    title = (
        f'<section class="slide title"><header><span>{escape(scenario.id)}</span><span>cps-harness</span></header>'
        f"<h1>{escape(scenario.title)}</h1><h2>Guide « Se connecter à SI-DEP » — {escape(scenario.guide)}</h2>"
        f"<footer>{verdict} · navigateur : {escape(result.driver)} · {result.seconds:.1f} s</footer></section>"
    )
    slides = [_step_slide(result, index, events.get(index), out) for index in range(1, len(scenario.steps) + 1)]
    html = (
        '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width">'
        f"<title>{escape(scenario.id)} — {escape(scenario.title)}</title><style>{STYLE}</style></head>"
        f"<body>{title}{''.join(slides)}<script>{KEYS}</script></body></html>"
    )
    page = out / "index.html"
    page.write_text(html, encoding="utf-8")
    return page


async def record(target: str, *, headless: bool, console: Console) -> Result:
    """Play the scenario in Chromium, each step printed as it ends."""
    path, scenario = load_one(target)
    console.print(f"[bold]{scenario.id}[/] — {scenario.title}", soft_wrap=True)
    with private_dir(f"demo-{scenario.id}") as tmp:
        async with playing(
            scenario, path, Pki(), tmp, driver="chromium", headless=headless,
            on_event=lambda event: console.print(event_line(event), soft_wrap=True),
        ) as played:  # fmt: skip
            return played.result


def main(target: str, *, out: Path | None, headless: bool, console: Console) -> int:
    result = asyncio.run(record(target, headless=headless, console=console))
    page = write_slides(result, out or DEFAULT_OUT / f"demo-{result.scenario.id}")
    state = "every step passed" if result.ok else "[red]a step failed[/] (its slide says why)"
    console.print(f"{state}; slides: {page.resolve()}", soft_wrap=True)
    return 0 if result.ok else 1
