"""The run's reports: JUnit XML for CI, and one self-contained HTML page for people.

The HTML page has, per scenario, the timeline of its steps (the screen reached, HTTP status,
URL, the card's decoded APDUs with PINs masked, the failing expectation highlighted, a snapshot
of the page as the driver received it and, with the Chromium driver, a screenshot of what the user
saw — Chromium's PIN dialog and error pages included), and a coverage table by guide section.
Screenshots are PNG files in ``screens/`` beside the page, so the page stays small.

Neither report shows a code or a password in clear: the card's log already masks what VERIFY,
CHANGE REFERENCE DATA and RESET RETRY COUNTER carry, and every text written here goes through
``redact``, which replaces the scenario's PINs, PUKs and passwords (the secret arguments of its
steps, personas' e-CPS passwords and their cards' codes) wherever they stand alone, in text or as
APDU hex, by ``••••``. Which step arguments hold a secret is said once, by each action in the
actions' table.

A scenario that ended on a bug of the harness (not on a failed expectation) is a JUnit ``error``,
not a ``failure``, and the HTML page says so.

A run stopped by Ctrl-C or SIGTERM still reports what finished, marked partial (:class:`Interruption`):
the HTML page's title and summary say so, and in the JUnit file the suite carries the properties
``partial=true`` and ``interrupted-by=SIGINT`` while each scenario that did not finish is a test case
``skipped`` with the reason (not started, or stopped after step k of n). Skipped rather than ``error``:
nothing failed in those scenarios and the harness has no bug to report (``error`` means that here),
and every JUnit reader (Jenkins, GitLab, GitHub's report actions) lists a skipped case with its
message, while suite properties are read by scripts only; the run's exit code (130, 143) is what fails
the CI job.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape
from pathlib import Path
from xml.etree import ElementTree as ET

from harness.card.profile import load_profile
from harness.scenario.model import Scenario
from harness.scenario.player import Result

MASK = "••••"

STYLE = """
body{font-family:Arial,sans-serif;margin:24px;color:#161616}h1{color:#000091}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
.pass{color:#18753c;font-weight:bold}.fail{color:#ce0500;font-weight:bold}tr.failed{background:#fee}
.notrun{color:#716043;font-weight:bold}tr.notrun{background:#fff8e0}p.partial{background:#fff8e0;border:1px solid #b34000;padding:8px}
details{margin:4px 0}pre{background:#f6f6f6;padding:6px;white-space:pre-wrap;font-size:12px}
iframe{width:100%;height:320px;border:1px solid #ccc}
img.shot{max-width:640px;border:1px solid #999;margin:4px 4px 0 0;display:block}
"""


@dataclass(frozen=True)
class Unfinished:
    """A scenario an interrupted run did not finish."""

    scenario: Scenario
    path: Path
    started: bool
    steps_done: int
    """Steps played to the end before the interruption (0 when it had not started)."""

    @property
    def reason(self) -> str:
        if not self.started:
            return "not started"
        return f"stopped after step {self.steps_done} of {len(self.scenario.steps)}"


@dataclass(frozen=True)
class Interruption:
    """Why a run stopped before its end (``SIGINT``, ``SIGTERM``), and what it did not finish."""

    signal: str
    unfinished: list[Unfinished]

    def why(self, unfinished: Unfinished) -> str:
        return f"not run to its end: the run was interrupted ({self.signal}); {unfinished.reason}"


def secrets_of(results: Iterable[Result]) -> set[str]:
    """The codes and passwords the scenarios typed or gave the world (4 characters or more: shorter
    ones cannot be told from ordinary text, and no real code is that short).

    Which arguments are secret is each action's to say (``Action.secrets`` in the actions' table);
    defaults count, since a card step that names no PIN still types one.
    """
    found: set[str] = set()
    for result in results:
        scenario = result.scenario
        for step in scenario.steps:
            found |= step.entry.secret_values(step.args)
        for persona in scenario.personas.values():
            if persona.ecps_password:
                found.add(persona.ecps_password)
            if persona.card:
                try:
                    profile = load_profile(persona.card)
                except (OSError, ValueError):
                    continue
                found |= {profile.pin.value, profile.puk.value}
    return {s for s in found if len(s) >= 4}


class Redactor:
    """Masks each secret where it stands alone (not inside a longer word or number): as text (raw
    or HTML-escaped) in anything a step reports, and as the hex of its bytes in APDU logs (whose own
    numbers, ``P1P2=0000``, are not codes)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        texts, hexes = set(), set()
        for secret in secrets:
            texts |= {re.escape(secret), re.escape(escape(secret))}
            hexes.add(r"\s?".join(f"{b:02x}" for b in secret.encode()))
        self._text = self._pattern(texts | hexes)
        self._hex = self._pattern(hexes)

    @staticmethod
    def _pattern(forms: set[str]) -> re.Pattern[str] | None:
        if not forms:
            return None
        alternatives = "|".join(sorted(forms, key=len, reverse=True))
        return re.compile(rf"(?<![0-9A-Za-z])(?:{alternatives})(?![0-9A-Za-z])", re.IGNORECASE)

    def text(self, text: str) -> str:
        return self._text.sub(MASK, text) if self._text else text

    def apdus(self, text: str) -> str:
        return self._hex.sub(MASK, text) if self._hex else text


def write_junit(results: list[Result], path: Path, interruption: Interruption | None = None) -> Path:
    unfinished = interruption.unfinished if interruption else []
    suite = ET.Element(
        "testsuite",
        name="cps-harness scenarios",
        tests=str(len(results) + len(unfinished)),
        failures=str(sum(not r.ok and not r.error for r in results)),
        errors=str(sum(r.error for r in results)),
        skipped=str(len(unfinished)),
        time=f"{sum(r.seconds for r in results):.3f}",
    )
    if interruption is not None:
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", name="partial", value="true")
        ET.SubElement(properties, "property", name="interrupted-by", value=interruption.signal)
    redact = Redactor(secrets_of(results)).text
    for result in results:
        case = ET.SubElement(
            suite, "testcase", classname=result.scenario.guide, name=f"{result.scenario.id} {result.scenario.title}",
            time=f"{result.seconds:.3f}",
        )  # fmt: skip
        if not result.ok:
            failed = next((e for e in result.events if not e.ok), None)
            message = failed.failure if failed else "the scenario stopped early"
            where = f"step {failed.index} ({failed.action})" if failed else ""
            kind = "error" if result.error else "failure"
            ET.SubElement(case, kind, message=redact(message.splitlines()[0] if message else message)).text = redact(
                f"{result.path}: {where}: {message}"
            )
    for item in unfinished:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=item.scenario.guide,
            name=f"{item.scenario.id} {item.scenario.title}",
            time="0.000",
        )
        assert interruption is not None
        ET.SubElement(case, "skipped", message=interruption.why(item)).text = f"{item.path}: {interruption.why(item)}"
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
    return path


def _screens(result: Result, folder: Path) -> dict[int, list[str]]:
    """Write each step's screenshots to ``folder``; their paths relative to the report, by step."""
    paths: dict[int, list[str]] = defaultdict(list)
    for event in result.events:
        for number, png in enumerate(event.screenshots, 1):
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{result.scenario.id}-{event.index:02d}-{number}.png"
            (folder / name).write_bytes(png)
            paths[event.index].append(f"{folder.name}/{name}")
    return paths


def _timeline(result: Result, screens: dict[int, list[str]], redact: Redactor) -> str:
    rows = []
    text = redact.text
    for event in result.events:
        mark = '<span class="pass">✔</span>' if event.ok else '<span class="fail">✘</span>'
        extra = ""
        if event.failure:
            extra += f'<p class="fail">{escape(text(event.failure))}</p>'
        for shot in screens.get(event.index, []):
            extra += f'<a href="{shot}"><img class="shot" loading="lazy" src="{shot}" alt="screenshot"></a>'
        if event.http:
            extra += f"<details><summary>{len(event.http)} HTTP exchanges</summary><pre>{escape(text(chr(10).join(event.http)))}</pre></details>"
        for token in event.jwts:
            extra += f"<details><summary>JWT — {escape(text(token.splitlines()[0]))}</summary><pre>{escape(text(token))}</pre></details>"
        if event.apdus:
            extra += f"<details><summary>{len(event.apdus)} APDUs</summary><pre>{escape(redact.apdus(chr(10).join(event.apdus)))}</pre></details>"
        if event.snapshot:
            extra += (
                f'<details><summary>page snapshot</summary><iframe sandbox srcdoc="{escape(text(event.snapshot), quote=True)}">'
                "</iframe></details>"
            )
        rows.append(
            f'<tr class="{"" if event.ok else "failed"}"><td>{event.index}</td><td>{mark}</td><td>{escape(event.action)}</td>'
            f"<td>{escape(text(event.detail))}{extra}</td><td>{escape(event.screen)}</td><td>{event.status or ''}</td>"
            f"<td>{escape(text(event.url))}</td><td>{event.seconds * 1000:.0f} ms</td></tr>"
        )
    head = "<tr><th>#</th><th></th><th>action</th><th>detail</th><th>screen</th><th>HTTP</th><th>URL</th><th>time</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _verdict(result: Result) -> str:
    if result.ok:
        return "<span class=pass>PASS</span>"
    return "<span class=fail>ERROR (harness)</span>" if result.error else "<span class=fail>FAIL</span>"


def _path_first(result: Result) -> tuple[str, bool, str]:
    """A guide path, then its variants."""
    scenario = result.scenario
    return scenario.path_id, scenario.variant_of is not None, scenario.id


def _covered(result: Result) -> str:
    scenario = result.scenario
    if scenario.variant_of is None:
        return escape(scenario.id)
    return f"{escape(scenario.id)} (variante de {escape(scenario.variant_of)})"


def write_html(
    results: list[Result], path: Path, wall_seconds: float, interruption: Interruption | None = None
) -> Path:
    shutil.rmtree(path.parent / "screens", ignore_errors=True)  # no screenshot of an earlier run survives
    redact = Redactor(secrets_of(results))
    passed = sum(r.ok for r in results)
    unfinished = interruption.unfinished if interruption else []
    coverage: dict[str, list[Result]] = defaultdict(list)
    for result in results:
        coverage[result.scenario.guide].append(result)
    summary = "".join(
        f'<tr class="{"" if r.ok else "failed"}"><td><a href="#{r.scenario.id}">{r.scenario.id}</a></td>'
        f"<td>{escape(r.scenario.title)}</td><td>{_verdict(r)}</td>"
        f"<td>{r.seconds:.2f} s</td></tr>"
        for r in results
    ) + "".join(
        f'<tr class="notrun"><td>{escape(u.scenario.id)}</td><td>{escape(u.scenario.title)}</td>'
        f"<td><span class=notrun>NOT RUN</span> ({escape(u.reason)})</td><td></td></tr>"
        for u in unfinished
    )
    cover = "".join(
        f"<tr><td>{escape(section)}</td><td>{', '.join(_covered(r) for r in sorted(items, key=_path_first))}</td>"
        f"<td>{sum(r.ok for r in items)}/{len(items)}</td></tr>"
        for section, items in sorted(coverage.items())
    )
    details = "".join(
        f'<h2 id="{r.scenario.id}">{r.scenario.id} — {escape(r.scenario.title)} '
        f"{_verdict(r)}</h2>"
        f"<p>{escape(r.scenario.guide)} · <code>{escape(str(r.path))}</code> · driver: {r.driver}</p>"
        f"{_timeline(r, _screens(r, path.parent / 'screens'), redact)}"
        for r in results
    )
    title, counts, partial, finished_only = "cps-harness — rapport", f"{passed}/{len(results)} passed", "", ""
    if interruption is not None:
        total = len(results) + len(unfinished)
        title = "cps-harness — rapport partiel (run interrompu)"
        counts = f"{passed}/{total} passed, {len(unfinished)} not run (interrupted)"
        partial = (
            f'<p class="partial"><strong>Partial report</strong>: the run was interrupted ({escape(interruption.signal)}) '
            f"after {wall_seconds:.1f} s; {len(results)} of {total} scenarios finished, the other {len(unfinished)} "
            "are listed as NOT RUN.</p>"
        )
        finished_only = " (finished scenarios only)"
    html = (
        f'<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{STYLE}</style></head><body><h1>cps-harness — scénarios du guide « Se connecter à SI-DEP »</h1>"
        f"{partial}<p>{counts} in {wall_seconds:.1f} s · {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC</p>"
        f"<table><tr><th>ID</th><th>path</th><th>result</th><th>time</th></tr>{summary}</table>"
        f"<h2>Coverage by guide section{finished_only}</h2><table><tr><th>section</th><th>scenarios</th><th>passed</th></tr>{cover}</table>"
        f"{details}</body></html>"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
