"""Loading YAML data files into pydantic models, with errors that name the file, line and field.

Trainers edit these files by hand; "validation error" without a place is useless to them.
"""

from __future__ import annotations

import difflib
import types
from pathlib import Path
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

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


EXTRA_FORBIDDEN = "Extra inputs are not permitted"
"""pydantic's words for an unknown field: they name neither the field's mapping nor what it takes."""


def _unknown_field(model: type[BaseModel], location: tuple[int | str, ...]) -> str:
    """The unknown field's message with the fields its mapping takes and the closest one."""
    names = _fields_at(model, location[:-1])
    if not names:
        return "unknown field"
    close = difflib.get_close_matches(str(location[-1]), names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown field; {hint}it takes: {', '.join(names)}"


def _fields_at(annotation: Any, location: tuple[int | str, ...]) -> list[str]:
    """The fields (as files write them: aliases) of the mapping at ``location`` in ``annotation``."""
    for part in location:
        annotation = _step(annotation, part)
        if annotation is None:
            return []
    models = _models(annotation)
    return [f.alias or name for name, f in models[0].model_fields.items()] if len(models) == 1 else []


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation may hold (through Annotated, unions and None)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = get_origin(annotation)
    if origin is Annotated:
        return _models(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [m for arg in get_args(annotation) for m in _models(arg)]
    return []


def _step(annotation: Any, part: int | str) -> Any:
    """What is at ``part`` (a field name or a key, or an index) inside ``annotation``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _step(get_args(annotation)[0], part)
    if origin in (Union, types.UnionType):
        found = [a for arg in get_args(annotation) if (a := _step(arg, part)) is not None]
        return found[0] if len(found) == 1 else None
    if origin in (list, tuple, set) and isinstance(part, int):
        return get_args(annotation)[0]
    if origin is dict:
        return get_args(annotation)[1]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = next((f for n, f in annotation.model_fields.items() if part in (n, f.alias)), None)
        return field.annotation if field is not None else None
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
            message = error["msg"]
            if error["type"] == "extra_forbidden" and message == EXTRA_FORBIDDEN and location:
                message = _unknown_field(model, location)
            problems.append(f"{path}:{line or '?'}: {field}: {message}")
        raise DataFileError(path, problems) from exc
