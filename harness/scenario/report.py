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

A run stopped by Ctrl-C or SIGTERM still reports what finished, marked partial (``record.InterruptionRecord``):
the HTML page's title and summary say so, and in the JUnit file the suite carries the properties
``partial=true`` and ``interrupted-by=SIGINT`` while each scenario that did not finish is a test case
``skipped`` with the reason (not started, or stopped after step k of n). Skipped rather than ``error``:
nothing failed in those scenarios and the harness has no bug to report (``error`` means that here),
and every JUnit reader (Jenkins, GitLab, GitHub's report actions) lists a skipped case with its
message, while suite properties are read by scripts only; the run's exit code (130, 143) is what fails
the CI job. A merge of shards (``report merge``) that lacks a shard reports its scenarios the same
way, skipped with the missing shard as the reason.

Both files are written from a ``record.RunRecord`` (a run's, or a merge's of several shards'
``results.json``): what a single run and a merge print is the same code.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from harness.card.profile import load_profile
from harness.reporting.redact import MASK, Redactor
from harness.reporting.render import Clean, DataUri, Redact, render
from harness.scenario.model import Scenario
from harness.scenario.player import Result
from harness.scenario.record import (
    InterruptionRecord,
    ResultRecord,
    RunRecord,
    StepRecord,
    UnfinishedRecord,
    run_record,
)

__all__ = [
    "MASK",
    "InterruptionRecord",
    "Redactor",
    "UnfinishedRecord",
    "secrets_of",
    "secrets_of_scenarios",
    "write_html",
    "write_html_record",
    "write_junit",
    "write_junit_record",
]


def secrets_of(results: Iterable[Result]) -> set[str]:
    """The secrets of the results' scenarios (``secrets_of_scenarios``)."""
    return secrets_of_scenarios(r.scenario for r in results)


def secrets_of_scenarios(scenarios: Iterable[Scenario]) -> set[str]:
    """The codes and passwords the scenarios typed or gave the world (4 characters or more: shorter
    ones cannot be told from ordinary text, and no real code is that short).

    Which arguments are secret is each action's to say (``Action.secrets`` in the actions' table);
    defaults count, since a card step that names no PIN still types one.
    """
    found: set[str] = set()
    for scenario in scenarios:
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


def write_junit(results: list[Result], path: Path, interruption: InterruptionRecord | None = None) -> Path:
    """JUnit of ``results`` (a run without a record of its own: tests, tools)."""
    redact = Redactor(secrets_of(results))
    return write_junit_record(run_record(results, wall_seconds=0.0, redact=redact, interruption=interruption), path)


def write_html(
    results: list[Result], path: Path, wall_seconds: float, interruption: InterruptionRecord | None = None
) -> Path:
    """``report.html`` of ``results`` (a run without a record of its own: tests, tools)."""
    redact = Redactor(secrets_of(results))
    record = run_record(results, wall_seconds=wall_seconds, redact=redact, interruption=interruption)
    return write_html_record(record, path, redact.text)


def write_junit_record(run: RunRecord, path: Path) -> Path:
    """The JUnit file of a run or a merge; its texts come masked from the record."""
    unfinished = run.interruption.unfinished if run.interruption else []
    results = run.results
    suite = ET.Element(
        "testsuite",
        name="cps-harness scenarios",
        tests=str(len(results) + len(unfinished)),
        failures=str(sum(not r.ok and not r.error for r in results)),
        errors=str(sum(r.error for r in results)),
        skipped=str(len(unfinished)),
        time=f"{sum(r.seconds for r in results):.3f}",
    )
    properties = [(name, value) for name, value in _junit_properties(run)]
    if properties:
        holder = ET.SubElement(suite, "properties")
        for name, value in properties:
            ET.SubElement(holder, "property", name=name, value=value)
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
            ET.SubElement(
                case, kind, message=message.splitlines()[0] if message else message
            ).text = f"{result.path}: {where}: {message}"
    for item in unfinished:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=item.scenario.guide,
            name=f"{item.scenario.id} {item.scenario.title}",
            time="0.000",
        )
        assert run.interruption is not None
        why = run.interruption.why(item)
        ET.SubElement(case, "skipped", message=why).text = f"{item.path}: {why}"
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
    return path


def _junit_properties(run: RunRecord) -> list[tuple[str, str]]:
    """The suite's properties: whether it is partial, which shard it is or which shards it joins."""
    found = []
    if run.interruption is not None:
        found += [("partial", "true"), ("interrupted-by", run.interruption.signal)]
    if run.shard is not None:
        found.append(("shard", str(run.shard)))
    if run.merged:
        found.append(("merged-shards", ",".join(str(s) for s in run.merged)))
    return found


def _step(event: StepRecord) -> dict[str, Any]:
    """One row of a timeline: the event, its French sentence, its pictures and its masked APDU log."""
    return {
        "event": event,
        "story": event.story,
        "pictures": [DataUri(uri) for uri in event.pictures],
        "apdus": Clean("\n".join(event.apdus)),  # masked as hex already: P1P2=0000 is an offset, not the PIN
        "address": event.address,
    }


def _path_first(result: ResultRecord) -> tuple[str, bool, str]:
    """A guide path, then its variants."""
    scenario = result.scenario
    return scenario.path_id, scenario.variant_of is not None, scenario.id


def _shards_line(run: RunRecord) -> str | None:
    """Which shard the page shows, or which shards it joins (French, as the page)."""
    if run.shard is not None:
        return f"shard {run.shard} : une part des scénarios seulement (fusion : cps-harness report merge)"
    if run.merged:
        return f"fusion de {len(run.merged)} shard(s) : " + ", ".join(str(s) for s in run.merged)
    return None


def write_html_record(run: RunRecord, path: Path, redact: Redact = str) -> Path:
    """``report.html``: one file, pictures included. The record's texts are masked already; ``redact``
    masks every printed value once more (a run passes its own, a merge has no secret to give)."""
    results = run.results
    passed = sum(r.ok for r in results)
    unfinished = run.interruption.unfinished if run.interruption else []
    sections: dict[str, list[ResultRecord]] = defaultdict(list)
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
    if run.interruption is not None:
        total = len(results) + len(unfinished)
        missing_only = all(u.missing_shard is not None for u in unfinished)
        title = "cps-harness — rapport partiel (" + ("shards manquants" if missing_only else "run interrompu") + ")"
        counts = f"{passed}/{total} réussis, {len(unfinished)} non joués"
        counts += " (shards manquants)" if missing_only else " (run interrompu)"
        partial = {
            "signal": run.interruption.signal,
            "total": total,
            "unfinished": unfinished,
            "missing_only": missing_only,
        }
    html = render(
        "harness.scenario", "report.html", redact=redact, title=title, counts=counts, partial=partial,
        wall_seconds=run.wall_seconds, now=run.finished, results=results, shards=_shards_line(run),
        unfinished=unfinished, coverage=coverage,
        drivers=", ".join(sorted({r.driver for r in results})) or "—",
        timelines=[{"result": r, "steps": [_step(e) for e in r.events]} for r in results],
    )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
