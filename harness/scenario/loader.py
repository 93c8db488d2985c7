"""Finding and loading scenario files; every problem names the file, the line and the field."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from harness.scenario.model import Scenario
from harness.yamlfile import DataFileError, line_of, load_model

SCENARIO_DIR = Path(__file__).resolve().parent.parent.parent / "scenarios"


def find(targets: Iterable[str]) -> list[Path]:
    """Files, folders, or scenario ids (``G2-04``) → scenario files, sorted by id."""
    found: list[Path] = []
    for target in targets:
        path = Path(target)
        if path.is_dir():
            found += sorted(path.glob("*.yaml"))
        elif path.exists():
            found.append(path)
        else:
            matches = sorted(SCENARIO_DIR.glob(f"{target}*.yaml"))
            if not matches:
                raise FileNotFoundError(f"no scenario file or id {target!r} (looked in {SCENARIO_DIR})")
            found += matches
    return sorted(dict.fromkeys(found), key=lambda p: p.name)


def load(paths: Iterable[Path]) -> tuple[list[tuple[Path, Scenario]], list[str]]:
    """The scenarios that load, and one message per problem in those that do not."""
    loaded, problems = [], []
    for path in paths:
        try:
            scenario = load_model(path, Scenario)
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
