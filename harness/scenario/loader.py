"""Finding and loading scenario files; every problem names the file, the line and the field.

Each file is read and parsed once (``read_document``): the checks made after validation (personas,
phones, the id, the clock) find their lines in that parse, so a file with thousands of problems is
located in one pass, not in one re-read per problem.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from pathlib import Path

from harness.errors import ScenarioError
from harness.scenario.catalogue import catalogue_dir
from harness.scenario.model import Scenario
from harness.yamlfile import DataFileError, Document, read_document

SCENARIO_DIR = catalogue_dir()
"""The packaged catalogue: what ``cps-harness run`` plays by default and where ids (``G2-04``) are looked up."""


class ScenarioNotFound(ScenarioError, FileNotFoundError):
    """No file, folder or id of that name: commands print it and exit 2."""


def find(targets: Iterable[str]) -> list[Path]:
    """Files, folders, or scenario ids (``G2-04``, any case, or its start: ``g2-0``) → scenario files,
    sorted by id."""
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
            found += by_id(target)
    return sorted(dict.fromkeys(found), key=lambda p: p.name)


def by_id(target: str) -> list[Path]:
    """The catalogue's files whose name starts with ``target``, whatever its case (``g2-04`` is G2-04,
    as people type it); none is ``ScenarioNotFound`` with the closest ids."""
    files = sorted(SCENARIO_DIR.glob("*.yaml"))
    matches = [p for p in files if p.name.casefold().startswith(target.casefold())]
    if matches:
        return matches
    ids = sorted({m.group(1) for p in files if (m := GUIDE_FILE.match(p.name))})
    close = difflib.get_close_matches(target.upper(), ids, n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(close)}?" if close else f"the catalogue's ids run {ids[0]} … {ids[-1]}"
    raise ScenarioNotFound(f"no scenario file or id {target!r} in {SCENARIO_DIR}: {hint}")


def guide_path_ids() -> list[str]:
    """The ids of the catalogue's guide paths (``G5-03``), from its file names."""
    return sorted({m.group(1) for p in SCENARIO_DIR.glob("*.yaml") if (m := GUIDE_FILE.match(p.name))})


GUIDE_FILE = re.compile(r"^(G[CD0-9]+-\d\d)-")


def load(paths: Iterable[Path]) -> tuple[list[tuple[Path, Scenario]], list[str]]:
    """The scenarios that load, and one message per problem in those that do not (a file whose id
    another file of the same run has too is a problem of both: reports and JUnit key on ids)."""
    loaded: list[tuple[Path, Scenario]] = []
    documents: dict[Path, Document] = {}
    problems: list[str] = []
    for path in paths:
        try:
            document = read_document(path)
            scenario = document.validate(Scenario, context={"folder": path.parent})
        except DataFileError as exc:
            problems += exc.problems
            continue
        if found := _problems(path, document, scenario):
            problems += found
            continue
        loaded.append((path, scenario))
        documents[path] = document
    by_id: dict[str, list[tuple[Path, Scenario]]] = {}
    for path, scenario in loaded:
        by_id.setdefault(scenario.id, []).append((path, scenario))
    twins = {id_: files for id_, files in by_id.items() if len(files) > 1}
    for id_, files in twins.items():
        for path, scenario in files:
            others = ", ".join(str(other) for other, _ in files if other != path)
            problems.append(
                f"{path}:{documents[path].line_of(('id',))}: id: {id_!r} is also the id of {others}; ids are unique "
                f"in a run: give a copy its own id (e.g. {id_}-ma-variante, the file name starting with it) and "
                f"`variant_of: {scenario.path_id}`"
            )
    return [(p, s) for p, s in loaded if s.id not in twins], problems


def _problems(path: Path, document: Document, scenario: Scenario) -> list[str]:
    """What a valid file still gets wrong across its fields: a step's persona or phone, the file
    name, the guide path it varies, a clock moved out of range (the first kind found)."""

    def step_line(index: int) -> int:
        return document.line_of(("steps", index))

    if unknown := scenario.unknown_personas():
        declared = ", ".join(scenario.personas) or "none"
        return [
            f"{path}:{step_line(index)}: steps.{index + 1}: unknown persona {name!r}; declared: {declared}"
            for index, name in unknown
        ]
    if wrong_phones := scenario.unknown_phones():
        return [f"{path}:{step_line(index)}: steps.{index + 1}: {why}" for index, why in wrong_phones]
    if path.stem != scenario.id and not path.name.startswith(scenario.id + "-"):
        return [f"{path}:{document.line_of(('id',))}: id: the file name must start with the scenario id {scenario.id}-"]
    if scenario.variant_of is not None and scenario.variant_of not in (known := guide_path_ids()):
        close = difflib.get_close_matches(scenario.variant_of, known, n=3)
        hint = f"; closest: {', '.join(close)}" if close else f"; known: {', '.join(known)}"
        where = document.line_of(("variant_of",))
        return [f"{path}:{where}: variant_of: no guide path {scenario.variant_of!r}{hint}"]
    if (late := scenario.clock_out_of_range()) is not None:
        index, why = late
        field = f"steps.{index + 1}.clock.advance" if index >= 0 else "world.clock"
        line = step_line(index) if index >= 0 else document.line_of(("world", "clock"))
        return [f"{path}:{line}: {field}: {why}"]
    return []


def write_schema(path: Path) -> Path:
    """The scenario JSON Schema (for editors) written to ``path``; ``ScenarioError`` when it cannot be."""
    try:
        path.write_text(json.dumps(Scenario.model_json_schema(), indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise ScenarioError(f"--schema: cannot write {path}: {exc.strerror or exc}") from None
    return path
