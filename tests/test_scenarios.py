"""The scenario catalogue: every guide path passes; broken files are refused with file and line."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from rich.console import Console

from harness.pki import Pki
from harness.scenario.loader import SCENARIO_DIR, find, load
from harness.scenario.main import run_all
from harness.scenario.model import Scenario
from harness.scenario.runner import Result, play

GUIDE_PATHS = 33


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    """The whole catalogue, run once for this module through the main job's own code."""
    report = tmp_path_factory.mktemp("report")
    results, problems, _ = asyncio.run(run_all([], jobs=2, report_dir=report, console=Console(quiet=True)))
    assert problems == []
    assert (report / "junit.xml").exists() and (report / "report.html").exists()
    return {r.scenario.id: r for r in results}


def scenario_ids() -> list[str]:
    loaded, problems = load(find([str(SCENARIO_DIR)]))
    assert problems == []
    return [s.id for _, s in loaded]


def test_one_file_per_guide_path() -> None:
    ids = scenario_ids()
    assert len(ids) == GUIDE_PATHS == len(set(ids))
    families = {i.split("-")[0] for i in ids}
    assert families == {"G2", "GC", "G3", "G4", "G5", "G6"}


@pytest.mark.parametrize("scenario_id", scenario_ids())
def test_scenario_passes(catalogue: dict[str, Result], scenario_id: str) -> None:
    result = catalogue[scenario_id]
    failed = next((e for e in result.events if not e.ok), None)
    assert result.ok, f"step {failed.index} {failed.action}: {failed.failure}" if failed else "stopped early"


def test_card_scenarios_went_through_the_virtual_card(catalogue: dict[str, Result]) -> None:
    for scenario_id in ("G3-01", "G5-05", "G6-01"):
        apdus = [line for event in catalogue[scenario_id].events for line in event.apdus]
        assert any("INTERNAL AUTHENTICATE" in line for line in apdus), scenario_id


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD_HEAD = "id: G2-08\ntitle: t\nguide: g\n"


@pytest.mark.parametrize(
    ("body", "line", "says"),
    [
        ("steps:\n  - browser.opne: {site: wallet}\n", 5, "unknown action 'browser.opne'"),
        ("steps:\n  - browser.open: {site: wallet}\n    expect: {status: deux-cents}\n", 6, "steps.0.expect.status"),
        ("steps:\n  - clock.advance: 1h\n  - card.insert: {persona: bob}\n", 6, "unknown persona 'bob'"),
        ("world: {clock: hier}\nsteps:\n  - clock.advance: 1h\n", 4, "world.clock"),
        ("personas:\n  a: {civility: M, first_name: A, last_name: B, profession: '10', card_certificates: lost}\n"
         "steps:\n  - clock.advance: 1h\n", 5, "personas.a.card_certificates"),
        ("steps: []\n", 4, "steps"),
        ("personas:\n  a: {from: nobody}\nsteps:\n  - clock.advance: 1h\n", 5, "no persona file 'nobody'"),
        ("personas:\n  a: {from: medecin-alain, profesion: '10'}\nsteps:\n  - clock.advance: 1h\n", 5, "profesion"),
    ],
)  # fmt: skip
def test_a_broken_file_names_file_line_and_field(tmp_path: Path, body: str, line: int, says: str) -> None:
    path = write(tmp_path, "G2-08-x.yaml", GOOD_HEAD + body)
    loaded, problems = load([path])
    assert loaded == []
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}:{line}:"), problems[0]
    assert says in problems[0]


def test_the_file_name_must_carry_the_id(tmp_path: Path) -> None:
    path = write(tmp_path, "G2-09-x.yaml", GOOD_HEAD + "steps:\n  - clock.advance: 1h\n")
    _, problems = load([path])
    assert problems == [f"{path}:1: id: the file name must start with the scenario id G2-08-"]


def test_published_schema_is_current() -> None:
    published = json.loads((SCENARIO_DIR / "schema.json").read_text())
    assert published == Scenario.model_json_schema(), "run: cps-harness check --schema scenarios/schema.json"


def test_unknown_target_is_a_clear_error() -> None:
    with pytest.raises(FileNotFoundError, match="no scenario file or id 'G9-99'"):
        find(["G9-99"])


def test_scenarios_start_from_fresh_worlds(session_pki: Pki) -> None:
    """Order does not matter: the same scenario run twice in a row passes twice."""
    loaded, _ = load(find(["G2-09"]))

    async def twice() -> list[bool]:
        path, scenario = loaded[0]
        return [(await play(scenario, path, session_pki, Path("/tmp"))).ok for _ in range(2)]

    assert asyncio.run(twice()) == [True, True]
