"""Loading YAML data files into pydantic models, with errors that name the file, line and field.

Trainers edit these files by hand; "validation error" without a place is useless to them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


class DataFileError(ValueError):
    """A data file that cannot be used; ``str()`` is one line per problem, ``file:line: field: why``."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.path = path
        self.problems = problems


def _line_of(node: yaml.Node | None, location: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the deepest node along ``location`` that exists in the YAML."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in location:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            if match is None:
                key = next((k for k, _ in node.value if getattr(k, "value", None) == part), None)
                return key.start_mark.line + 1 if key is not None else line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line


def line_of(path: Path, location: tuple[int | str, ...]) -> int | None:
    """The line of ``location`` (keys and indexes) in the YAML file, for checks made after loading."""
    try:
        return _line_of(yaml.compose(path.read_text(encoding="utf-8")), location)
    except (OSError, yaml.YAMLError):
        return None


def load_model(path: Path, model: type[Model], context: dict[str, Any] | None = None) -> Model:
    """The file validated as ``model``; ``context`` reaches its validators (a scenario's folder, for personas)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataFileError(path, [f"{path}: cannot read: {exc.strerror}"]) from exc
    try:
        node = yaml.compose(text)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise DataFileError(path, [f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from exc
    if not isinstance(data, dict):
        raise DataFileError(path, [f"{path}:1: expected a mapping of fields at the top level"])
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            location = tuple(p for p in error["loc"] if not isinstance(p, str) or not p.startswith("function-"))
            # items count from 1, as people count them and as `run` numbers steps
            field = ".".join(str(p + 1) if isinstance(p, int) else str(p) for p in location) or "(top level)"
            line = _line_of(node, location)
            problems.append(f"{path}:{line or '?'}: {field}: {error['msg']}")
        raise DataFileError(path, problems) from exc
