"""The run's reports: JUnit XML for CI, and one self-contained HTML page for people.

The HTML page (French, ``templates/report.html``) has, per scenario, the timeline of its steps:
what happened in one French sentence (``french.py``), the failing expectation highlighted, the
screenshots of what the professional saw (always with the Chromium driver, Chromium's PIN dialog
and error pages included; with the protocol driver under ``run --screenshots``), and folded under
"Détails techniques" the action's own line, the raw error, HTTP exchanges, decoded tokens, the
card's APDUs with PINs masked and the page as the driver received it; then a coverage table by
guide section. The page is the unit: screenshots are embedded (``data:`` URIs, re-encoded as
WebP by ``harness.reporting.pictures``), so ``report.html`` alone can be published or mailed.

Neither report shows a code or a password in clear: the card's log already masks what VERIFY,
CHANGE REFERENCE DATA and RESET RETRY COUNTER carry, and every text written here goes through
``redact`` (every value the template prints, ``harness.reporting.render``), which replaces the scenario's PINs, PUKs and passwords (the secret arguments of its
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
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from harness.card.profile import load_profile
from harness.reporting.pictures import data_uri
from harness.reporting.redact import MASK, Redactor
from harness.reporting.render import Clean, render
from harness.scenario.french import page_address, step_story
from harness.scenario.model import Scenario
from harness.scenario.player import Event, Result

__all__ = ["MASK", "Interruption", "Redactor", "Unfinished", "secrets_of", "write_html", "write_junit"]


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

    @property
    def raison(self) -> str:
        """The reason, in the report's French."""
        if not self.started:
            return "pas commencé"
        return f"arrêté après l'étape {self.steps_done} sur {len(self.scenario.steps)}"


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


def _step(result: Result, event: Event, redact: Redactor) -> dict[str, Any]:
    """One row of a timeline: the event, its French sentence, its pictures and its masked APDU log."""
    step = result.scenario.steps[event.index - 1]
    return {
        "event": event,
        "story": step_story(step, event),
        "pictures": [data_uri(png) for png in event.screenshots],
        "apdus": Clean(redact.apdus("\n".join(event.apdus))),  # hex only: P1P2=0000 is an offset, not the PIN
        "address": page_address(event.url),
    }


def _path_first(result: Result) -> tuple[str, bool, str]:
    """A guide path, then its variants."""
    scenario = result.scenario
    return scenario.path_id, scenario.variant_of is not None, scenario.id


def write_html(
    results: list[Result], path: Path, wall_seconds: float, interruption: Interruption | None = None
) -> Path:
    """``report.html``: one file, pictures included; every value printed goes through ``redact``."""
    redact = Redactor(secrets_of(results))
    passed = sum(r.ok for r in results)
    unfinished = interruption.unfinished if interruption else []
    sections: dict[str, list[Result]] = defaultdict(list)
    for result in results:
        sections[result.scenario.guide].append(result)
    coverage = [
        {
            "name": name,
            "scenarios": [r.scenario for r in sorted(items, key=_path_first)],
            "passed": sum(r.ok for r in items),
        }
        for name, items in sorted(sections.items())
    ]
    title, counts, partial = "cps-harness — rapport", f"{passed}/{len(results)} réussis", None
    if interruption is not None:
        total = len(results) + len(unfinished)
        title = "cps-harness — rapport partiel (run interrompu)"
        counts = f"{passed}/{total} réussis, {len(unfinished)} non joués (run interrompu)"
        partial = {"signal": interruption.signal, "total": total, "unfinished": unfinished}
    html = render(
        "harness.scenario", "report.html", redact=redact.text, title=title, counts=counts, partial=partial,
        wall_seconds=wall_seconds, now=f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}", results=results,
        unfinished=unfinished, coverage=coverage,
        drivers=", ".join(sorted({r.driver for r in results})) or "—",
        timelines=[
            {"result": r, "steps": [_step(r, e, redact) for e in r.events]} for r in results
        ],
    )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
