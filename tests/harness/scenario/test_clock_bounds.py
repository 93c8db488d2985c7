"""The world clock's bounds in scenarios (issue 19): ``check`` refuses a file that starts the world
outside them or moves it past them; played anyway, the step that would fails as a step, in the
clock's words.

Before, ``clock.advance`` could take the world to year 9999, after which every step adding a
lifetime to the time failed with OverflowError, and ``world.clock: 9999-…`` was a valid file.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml

from harness.pki import Pki
from harness.scenario.loader import load
from harness.scenario.model import Scenario
from harness.scenario.player import play

SCENARIO = """\
id: G2-01-horloge
variant_of: G2-01
title: the clock's last month
guide: essai
world: {{clock: "{start}", clock_frozen: true}}
personas:
  carole: {{from: pharmacienne-carole}}
steps:
  - clock.advance: 29d
  - clock.advance: 29d
  - clock.advance: 1h
"""


def test_an_advance_past_the_last_instant_fails_its_step_and_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "G2-01-horloge.yaml"
    path.write_text(SCENARIO.format(start="2999-12-01T09:00:00+00:00"), encoding="utf-8")
    loaded, problems = load([path])
    assert loaded == [] and any("past its last year 2999" in p for p in problems), "check sees it first"
    scenario = Scenario.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))  # the file as run anyway
    result = asyncio.run(play(scenario, path, Pki(), tmp_path))
    first, second = result.events
    assert first.ok and "2999-12-30T09:00:00+00:00" in first.detail
    assert not second.ok and not second.error, "a failed step, not a harness error"
    assert "cannot move past 2999-12-31" in second.failure
    assert len(result.events) == 2, "the first failure ends the scenario"


def test_a_world_that_would_start_outside_the_bounds_is_refused_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "G2-01-horloge.yaml"
    path.write_text(SCENARIO.format(start="9999-12-01T09:00:00+00:00"), encoding="utf-8")
    loaded, problems = load([path])
    assert loaded == []
    assert any(f"{path}:5: world.clock:" in p and "stays between 2000-01-01 and 2999-12-31" in p for p in problems)
