"""Loading YAML data files into pydantic models, with errors that name the file, line and field.

Trainers edit these files by hand; "validation error" without a place is useless to them. Every
problem a file can have, from its bytes to its last field, comes back as ``DataFileError`` (one
``file:line: field: why`` line each), never as a traceback: a folder's ``check`` must go on to
the next file. A file is read and parsed once; line lookups after loading reuse that parse
(``Document.line_of``), so locating a thousand problems costs no more than locating one.
"""

from __future__ import annotations

import difflib
import re
import stat
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from harness.errors import InputError

Model = TypeVar("Model", bound=BaseModel)

MAX_BYTES = 1024 * 1024
"""The largest scenario, persona or profile file read: 1 MiB. The catalogue's largest file is under
2 KB and a hand-written scenario of 1 MiB would hold about 10,000 steps, so no real file comes near
it; what does is a log, a dump or a generated file gone wrong. Refused by its size, such a file
costs ``check`` nothing, and the largest file accepted a few seconds (a valid 1 MiB scenario of
10,596 steps: about 5 s), where 9 MB took minutes."""
MAX_DEPTH = 64
"""The deepest nesting accepted (mappings and lists, aliases followed). A scenario nests about 7
deep (steps, a step, expect, not, text, an item); the parsers and validators recurse once per
level, so an unbounded depth is a ``RecursionError`` (or worse, a crash in libyaml's composer)."""
MAX_VALUES = 1_000_000
"""The most values (keys, items, scalars) a file may stand for once its aliases (``*name``) are
followed: more than a file of ``MAX_BYTES`` can write out, so only aliases of aliases reach it
(the "billion laughs"), which would otherwise keep the validation busy for hours."""
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml when PyYAML has it (four times faster on large files), else PyYAML's own parser."""
_MERGE = "tag:yaml.org,2002:merge"
_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
"""What YAML counts as a line break, and so its line numbers."""


class DataFileError(InputError, ValueError):
    """A data file that cannot be used; ``str()`` is one line per problem, ``file:line: field: why``."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.path = path
        self.problems = problems


def _dotted(location: tuple[int | str, ...]) -> str:
    """A field as messages name it: items count from 1, as people count them and as `run` numbers steps;
    a key that is no plain name is quoted (an empty one, one with a space or a line break)."""
    return ".".join(_part(p) for p in location) or "(top level)"


def _part(part: int | str) -> str:
    if isinstance(part, int):
        return str(part + 1)
    return part if re.fullmatch(r"[\w.+-]+", part) else repr(part)


def _line_of(node: yaml.Node, location: tuple[int | str, ...]) -> int:
    """The 1-based line of the deepest node along ``location`` that exists in the YAML."""
    line = node.start_mark.line + 1
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


class _SafeLoader(_Loader):  # type: ignore[valid-type,misc]
    """The safe loader, with a scalar that cannot be built (``2026-13-45``, a 5,000-digit number,
    ``!!int 0xZZ``, ``1912-01-01 00:00:00-00:16:08`` which PyYAML resolves as a timestamp and then
    fails to parse) reported as a YAML error at its line instead of a bare exception."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except Exception as exc:  # PyYAML's own slip too: a timestamp it resolves but cannot build
            if not isinstance(node, yaml.ScalarNode):
                raise
            problem = f"{node.value!r} cannot be read as {node.tag.rsplit(':', 1)[-1]}: {exc}"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from None


def _yaml_problem(path: Path, text: str, exc: yaml.YAMLError) -> str:
    """``file:line: not valid YAML: why`` for any error of the parser, composer or constructor."""
    if getattr(exc, "problem", None) == "exceeded maximum nesting depth":  # libyaml's own limit (1,000)
        mark = exc.problem_mark  # type: ignore[attr-defined]
        return _too_deep(path, mark.line + 1 if mark is not None else 1)
    if isinstance(exc, yaml.reader.ReaderError):
        character = exc.character if isinstance(exc.character, str) else chr(exc.character)
        line = len(_BREAKS.findall(text, 0, exc.position)) + 1
        return f"{path}:{line}: not valid YAML: character #x{ord(character):04x} is not allowed ({exc.reason})"
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    last = len(_BREAKS.findall(text)) + 1  # libyaml may place an error at the end of the stream one line past it
    line = min(mark.line + 1, last) if mark is not None else 1
    parts = [getattr(exc, "context", None), getattr(exc, "problem", None)]  # "while parsing…", "found…"
    why = ", ".join(part for part in parts if part) or str(exc)
    return f"{path}:{line}: not valid YAML: {why}"


def _read_text(path: Path, what: str) -> str:
    """The file's text, or ``DataFileError`` saying why not (missing, a folder, too large, not UTF-8)."""
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise DataFileError(path, [f"{path}:1: is a folder, not {what} file"])
        if not stat.S_ISREG(info.st_mode):  # a FIFO would block the read, /dev/zero never end it
            raise DataFileError(path, [f"{path}:1: not a regular file: {what} is a .yaml file"])
        if info.st_size > MAX_BYTES:
            raise DataFileError(path, [_too_large(path, info.st_size, what)])
        with path.open("rb") as file:
            raw = file.read(MAX_BYTES + 1)
    except OSError as exc:
        raise DataFileError(path, [f"{path}:1: cannot read: {exc.strerror or exc}"]) from None
    if len(raw) > MAX_BYTES:  # it grew since stat
        raise DataFileError(path, [_too_large(path, len(raw), what)])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DataFileError(
            path,
            [
                f"{path}:{line}: not UTF-8 text: byte 0x{raw[exc.start]:02x} at column {column}; save the file "
                "as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
            ],
        ) from None


def _too_deep(path: Path, line: int) -> str:
    return f"{path}:{line}: nested deeper than {MAX_DEPTH} levels (aliases followed); is a bracket left open?"


def _too_large(path: Path, size: int, what: str) -> str:
    return f"{path}:1: {size:,} bytes: {what} file is at most {MAX_BYTES:,} bytes (1 MiB); split it into several files"


def _measure(path: Path, root: yaml.Node) -> None:
    """Refuse a document too deep or too large once its aliases are followed, and one that contains
    itself (``&a [*a]``): each would make the validation recurse without end or run for hours.

    One pass over the nodes, each once (a shared node's figures are kept), without recursion.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key, kids = id(node), _children(node)
        if children_done:
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            open_.discard(key)
            if depth[key] > MAX_DEPTH + 1:  # the scalars at the bottom are no level
                raise DataFileError(path, [_too_deep(path, node.start_mark.line + 1)])
            if size[key] > MAX_VALUES:
                line = node.start_mark.line + 1
                raise DataFileError(
                    path, [f"{path}:{line}: its aliases (*name) stand for more than {MAX_VALUES:,} values"]
                )
            continue
        if key in size:
            continue
        open_.add(key)
        stack.append((node, True))
        for kid in kids:
            if id(kid) in open_:
                line = kid.start_mark.line + 1
                raise DataFileError(path, [f"{path}:{line}: an alias (*name) inside the value it names"])
            if id(kid) not in size:
                stack.append((kid, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _twice(path: Path, root: yaml.Node) -> list[str]:
    """A key written twice in one mapping: YAML keeps the last silently (a second ``steps:`` would
    replace the first, a second ``pin:`` the card's code), so it is an error at the second one."""
    problems: list[tuple[int, str]] = []
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, tuple[int | str, ...]]] = [(root, ())]
    while stack:
        node, where = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack += [(item, (*where, index)) for index, item in enumerate(node.value)]
        elif isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                name = key.value if isinstance(key, yaml.ScalarNode) else "?"
                stack.append((value, (*where, name)))
                if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE:
                    continue
                line = key.start_mark.line + 1
                if (key.tag, key.value) in first:
                    problems.append(
                        (
                            line,
                            f"{path}:{line}: {_dotted((*where, name))}: written twice (first on line "
                            f"{first[key.tag, key.value]}); YAML would keep only this one: merge them",
                        )
                    )
                else:
                    first[key.tag, key.value] = line
    return [problem for _, problem in sorted(problems)]


@dataclass(frozen=True)
class Document:
    """A YAML file read and parsed once: its data, and its nodes for the line of any field."""

    path: Path
    node: yaml.Node
    data: Any

    def line_of(self, location: tuple[int | str, ...]) -> int:
        """The line of ``location`` (keys and indexes), for checks made after loading."""
        return _line_of(self.node, location)

    def validate(self, model: type[Model], context: dict[str, Any] | None = None) -> Model:
        """The data validated as ``model``; ``context`` reaches its validators (a scenario's folder, for
        personas). ``DataFileError`` has one ``file:line: field: why`` per problem."""
        path = self.path
        if not isinstance(self.data, dict):
            raise DataFileError(path, [f"{path}:1: expected a mapping of fields at the top level"])
        try:
            return model.model_validate(self.data, context=context)
        except ValidationError as exc:
            problems = []
            for error in exc.errors():
                location = tuple(p for p in error["loc"] if not isinstance(p, str) or not p.startswith("function-"))
                message = error["msg"]
                if error["type"] == "extra_forbidden" and message == EXTRA_FORBIDDEN and location:
                    message = _unknown_field(model, location)
                problems.append(f"{path}:{self.line_of(location)}: {_dotted(location)}: {message}")
            raise DataFileError(path, problems) from exc


def read_document(path: Path, what: str = "a scenario") -> Document:
    """``path`` read (at most ``MAX_BYTES``, UTF-8) and parsed once (one document, ``MAX_DEPTH`` deep at
    most, no key twice); ``what`` names the kind of file in messages ("a card profile")."""
    text = _read_text(path, what)
    try:
        depth, aliases = 0, False
        for event in yaml.parse(text, Loader=_Loader):  # the composers recurse per level: count first
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    line = event.start_mark.line + 1 if event.start_mark is not None else 1
                    raise DataFileError(path, [_too_deep(path, line)])
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            elif isinstance(event, yaml.AliasEvent):
                aliases = True
        loader = _SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                if aliases:  # without them, the file's own size and depth are the document's
                    _measure(path, node)
                if twice := _twice(path, node):
                    raise DataFileError(path, twice)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise DataFileError(path, [_yaml_problem(path, text, exc)]) from None
    if node is None:
        raise DataFileError(path, [f"{path}:1: empty: expected a mapping of fields at the top level"])
    return Document(path, node, data)


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


def load_model(
    path: Path, model: type[Model], context: dict[str, Any] | None = None, what: str = "a YAML data"
) -> Model:
    """The file validated as ``model`` (``read_document`` then ``Document.validate``)."""
    return read_document(path, what).validate(model, context)
