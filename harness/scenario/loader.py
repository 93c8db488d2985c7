"""Finding and loading scenario files; every problem names the file, the line and the field."""

from __future__ import annotations

import difflib
import glob
import json
import re
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


def guide_path_ids() -> list[str]:
    """The ids of the catalogue's guide paths (``G5-03``), from its file names."""
    return sorted({m.group(1) for p in SCENARIO_DIR.glob("*.yaml") if (m := GUIDE_FILE.match(p.name))})


GUIDE_FILE = re.compile(r"^(G[CD0-9]+-\d\d)-")


def load(paths: Iterable[Path]) -> tuple[list[tuple[Path, Scenario]], list[str]]:
    """The scenarios that load, and one message per problem in those that do not (a file whose id
    another file of the same run has too is a problem of both: reports and JUnit key on ids)."""
    loaded: list[tuple[Path, Scenario]] = []
    problems: list[str] = []
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
                f"{path}:{line_of(path, ('steps', index)) or '?'}: steps.{index + 1}: unknown persona {name!r}; "
                f"declared: {declared}"
                for index, name in unknown
            ]
            continue
        if wrong_phones := scenario.unknown_phones():
            problems += [
                f"{path}:{line_of(path, ('steps', index)) or '?'}: steps.{index + 1}: {why}"
                for index, why in wrong_phones
            ]
            continue
        if path.stem != scenario.id and not path.name.startswith(scenario.id + "-"):
            line = line_of(path, ("id",)) or 1
            problems.append(f"{path}:{line}: id: the file name must start with the scenario id {scenario.id}-")
            continue
        if scenario.variant_of is not None and scenario.variant_of not in (known := guide_path_ids()):
            close = difflib.get_close_matches(scenario.variant_of, known, n=3)
            hint = f"; closest: {', '.join(close)}" if close else f"; known: {', '.join(known)}"
            where = line_of(path, ("variant_of",)) or "?"
            problems.append(f"{path}:{where}: variant_of: no guide path {scenario.variant_of!r}{hint}")
            continue
        loaded.append((path, scenario))
    by_id: dict[str, list[tuple[Path, Scenario]]] = {}
    for path, scenario in loaded:
        by_id.setdefault(scenario.id, []).append((path, scenario))
    twins = {id_: files for id_, files in by_id.items() if len(files) > 1}
    for id_, files in twins.items():
        for path, scenario in files:
            others = ", ".join(str(other) for other, _ in files if other != path)
            problems.append(
                f"{path}:{line_of(path, ('id',)) or 1}: id: {id_!r} is also the id of {others}; ids are unique in a "
                f"run: give a copy its own id (e.g. {id_}-ma-variante, the file name starting with it) and "
                f"`variant_of: {scenario.path_id}`"
            )
    return [(p, s) for p, s in loaded if s.id not in twins], problems


def write_schema(path: Path) -> Path:
    path.write_text(json.dumps(Scenario.model_json_schema(), indent=2, ensure_ascii=False) + "\n")
    return path
