"""The actions' table is the one place an action is defined: a made-up action registered here, and only
here, is validated, published in the JSON Schema and the reference, played, and masked in the report.
A handler that breaks is reported as a bug of the harness, not as a failed scenario."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import Field

from harness import refdocs
from harness.errors import StepFailed
from harness.pki import Pki
from harness.scenario.actions.registry import ACTIONS, Actor, remove
from harness.scenario.fields import Strict, Text
from harness.scenario.loader import load
from harness.scenario.model import Scenario
from harness.scenario.player import play
from harness.scenario.report import write_html, write_junit
from harness.scenario.stage import Stage

LOCKSMITH = Actor("locksmith", "Le serrurier", professional=True)
SECRET = "8675309"


class Pick(Strict):
    """``locksmith.pick``: a made-up action for this test."""

    door: Text = Field(description="which door")
    combination: Text = Field(default=SECRET, description="what the locksmith types")


@pytest.fixture
def made_up_actions() -> Iterator[list[str]]:
    """Two actions registered from the test: one that works and saves a value, one with a bug."""
    played: list[str] = []

    @LOCKSMITH.action("pick", Pick, "open a door with a combination", secrets={"combination"},
                      example="- locksmith.pick: {door: cave}")  # fmt: skip
    async def pick(stage: Stage, args: Pick) -> str:
        played.append(f"{args.door}:{args.combination}")
        stage.saved["door"] = args.door
        if args.door == "mur":
            raise StepFailed(f"{args.door} is not a door (combination {args.combination})")
        return f"opened {args.door} with {args.combination}"

    @LOCKSMITH.action("break", None, "a handler with a bug")
    async def broken(stage: Stage, _: None) -> str:
        return {"a": "b"}["missing"]

    yield played
    remove("locksmith.pick")
    remove("locksmith.break")


def scenario_file(tmp_path: Path, steps: str) -> tuple[Path, Scenario]:
    path = tmp_path / "G9-01-serrure.yaml"
    path.write_text(f"id: G9-01\ntitle: Une serrure\nguide: essai\nworld: {{cards: false}}\nsteps:\n{steps}")
    loaded, problems = load([path])
    assert problems == []
    return loaded[0]


def test_a_made_up_action_is_validated_from_its_model(made_up_actions: list[str], tmp_path: Path) -> None:
    path = tmp_path / "G9-01-serrure.yaml"
    path.write_text("id: G9-01\ntitle: t\nguide: g\nsteps:\n  - locksmith.pick: {doors: cave}\n")
    _, problems = load([path])
    assert [p.split(": ")[1] for p in problems] == ["steps.1.locksmith.pick.door", "steps.1.locksmith.pick.doors"]


def test_a_made_up_action_is_in_the_json_schema(made_up_actions: list[str]) -> None:
    schema = json.dumps(Scenario.model_json_schema())
    assert '"locksmith.pick"' in schema and "open a door with a combination: {door, combination}" in schema


def test_a_made_up_action_is_in_the_reference(made_up_actions: list[str]) -> None:
    page = refdocs.scenario_format()
    assert "### locksmith.pick\n" in page and "`combination`" in page and "- locksmith.pick: {door: cave}" in page
    assert "| [`locksmith.pick`](#locksmithpick) | open a door with a combination: {door, combination} |" in page


def test_a_made_up_action_plays_and_its_secret_is_masked_in_the_reports(
    made_up_actions: list[str], tmp_path: Path, session_pki: Pki
) -> None:
    path, scenario = scenario_file(tmp_path, "  - locksmith.pick: {door: cave}\n  - locksmith.pick: {door: mur}\n")
    result = asyncio.run(play(scenario, path, session_pki, tmp_path))
    assert made_up_actions == [f"cave:{SECRET}", f"mur:{SECRET}"], "the handler got the typed model, default filled"
    assert result.events[0].ok and result.events[0].detail == f"opened cave with {SECRET}"
    assert not result.events[1].ok and not result.events[1].error
    html = write_html([result], tmp_path / "report" / "report.html", 1.0).read_text(encoding="utf-8")
    junit = write_junit([result], tmp_path / "report" / "junit.xml").read_text(encoding="utf-8")
    assert "locksmith.pick" in html and "opened cave with ••••" in html and "combination ••••" in junit
    assert SECRET not in html and SECRET not in junit


def test_a_bug_in_a_handler_is_a_harness_error_not_a_scenario_failure(
    made_up_actions: list[str], tmp_path: Path, session_pki: Pki
) -> None:
    path, scenario = scenario_file(tmp_path, "  - locksmith.break:\n  - locksmith.pick: {door: cave}\n")
    result = asyncio.run(play(scenario, path, session_pki, tmp_path))
    (event,) = result.events
    assert event.error and not event.ok and result.error and not result.ok
    assert "harness error" in event.failure and "KeyError: 'missing'" in event.failure
    assert "test_registry.py" in event.failure, "the traceback says where the bug is"
    suite = ET.parse(write_junit([result], tmp_path / "junit.xml")).getroot()
    assert (suite.get("errors"), suite.get("failures")) == ("1", "0")
    assert suite.find("testcase/error") is not None and suite.find("testcase/failure") is None


def test_the_table_is_back_to_the_built_in_actions() -> None:
    assert not any(name.startswith("locksmith.") for name in ACTIONS)
