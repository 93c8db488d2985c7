"""Finding and loading scenario files; every problem names the file, the line and the field."""

from __future__ import annotations

import glob
import json
from collections.abc import Iterable
from pathlib import Path

from harness.errors import ScenarioError
from harness.scenario.catalogue import catalogue_dir
from harness.scenario.model import Scenario
from harness.yamlfile import DataFileError, line_of, load_model

SCENARIO_DIR = catalogue_dir()
"""The packaged catalogue: what ``cps-harness run`` plays by default and where ids (``G2-04``) are looked up."""


class ScenarioNotFound(ScenarioError, FileNotFoundError):
    """No file, folder or id of that name: commands print it and exit 2."""


def find(targets: Iterable[str]) -> list[Path]:
    """Files, folders, or scenario ids (``G2-04``) → scenario files, sorted by id."""
    found: list[Path] = []
    for target in targets:
        path = Path(target)
        if path.is_dir():
            found += sorted(path.glob("*.yaml"))
        elif path.exists():
            found.append(path)
        elif "/" in target or target.endswith((".yaml", ".yml")) or not target:
            raise ScenarioNotFound(f"no scenario file or folder {target!r}")
        else:
            matches = sorted(SCENARIO_DIR.glob(f"{glob.escape(target)}*.yaml"))
            if not matches:
                raise ScenarioNotFound(f"no scenario file or id {target!r} (looked in {SCENARIO_DIR})")
            found += matches
    return sorted(dict.fromkeys(found), key=lambda p: p.name)


def load(paths: Iterable[Path]) -> tuple[list[tuple[Path, Scenario]], list[str]]:
    """The scenarios that load, and one message per problem in those that do not."""
    loaded, problems = [], []
    for path in paths:
        try:
            scenario = load_model(path, Scenario, context={"folder": path.parent})
        except DataFileError as exc:
            problems += exc.problems
            continue
        unknown = scenario.unknown_personas()
        if unknown:
            declared = ", ".join(scenario.personas) or "none"
            problems += [
                f"{path}:{line_of(path, ('steps', index)) or '?'}: steps.{index}: unknown persona {name!r}; "
                f"declared: {declared}"
                for index, name in unknown
            ]
            continue
        if not path.name.startswith(scenario.id + "-"):
            problems.append(f"{path}:1: id: the file name must start with the scenario id {scenario.id}-")
            continue
        loaded.append((path, scenario))
    return loaded, problems


def write_schema(path: Path) -> Path:
    path.write_text(json.dumps(Scenario.model_json_schema(), indent=2, ensure_ascii=False) + "\n")
    return path
