"""The shape of the code, checked from its imports: dependencies point down, and nothing imports in a loop.

The walk reads every module of ``harness/`` and ``simulators/`` with ``ast`` (imports inside
functions included; those under ``if TYPE_CHECKING:`` count for the layers, not for cycles, since
they never run) and checks the rules ``docs/architecture.md`` states:

- ``simulators/`` never imports ``harness/``; the card imports nothing but itself (bytes → bytes);
  world state imports only world state and identifiers; a site's ``rules.py`` imports no aiohttp;
  no site imports another site, but for the two links the real systems have (the phone's app sends
  the QR code it scanned to the wallet's backend; the admin API is every site's back office);
- in ``harness/``, each package sits on a layer and imports only from layers below it;
- no cycle between packages, and none between modules.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from tests.support.paths import REPO

HARNESS_LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(layer)
    for layer in (
        {"harness.errors"},  # the error root: every layer raises its kinds (yamlfile's DataFileError is an InputError)
        {
            "harness",
            "harness.system",
            "harness.yamlfile",
            "harness.background",
            "harness.cache",
            "harness.lifetime",
            "harness.reporting",  # the pages people read: templates, stylesheet, pictures, the mask (harness-free)
        },
        {"harness.native"},
        {"harness.pcsc"},
        {"harness.pki"},
        {"harness.middleware"},
        {"harness.card"},
        {"harness.world"},
        {"harness.drivers"},
        {"harness.diagnose"},
        {"harness.scenario"},
        {"harness.trainer"},
        {"harness.cli", "harness.pytest_plugin"},
        {"harness.refdocs"},
    )
)
"""Bottom first. A package may import its own modules and any package of a lower layer."""
SITE_LINKS = {
    ("simulators.web.push", "simulators.web.wallet.rules"),  # the phone's app sends a scanned QR code to the wallet
    ("simulators.web.admin", "simulators.web.push.app"),  # the back office mounts the phone's API
    ("simulators.web.admin", "simulators.web.wallet.rules"),  # ... and holds the wallet's state
}
"""Where one site may use another's code: the links the real systems have."""
SHARED_WEB = "simulators.web"


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for top in ("harness", "simulators")
        for path in sorted((REPO / top).rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def _type_checking_lines(tree: ast.Module) -> set[int]:
    """The line numbers inside ``if TYPE_CHECKING:`` blocks (imports there never run)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        test = node.test if isinstance(node, ast.If) else None
        if isinstance(test, ast.Name | ast.Attribute) and ast.unparse(test).endswith("TYPE_CHECKING"):
            for child in node.body:
                lines |= set(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(name: str, path: Path, known: Iterable[str]) -> Iterator[tuple[str, bool]]:
    """(imported project module, runs at import time or call time) for every import in the file."""
    modules = set(known)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = _type_checking_lines(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        runs = getattr(node, "lineno", 0) not in typing_only
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in ("harness", "simulators"):
                    yield _known(alias.name, modules), runs
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.split(".")[0] not in ("harness", "simulators"):
                continue
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield (candidate if candidate in modules else _known(base, modules)), runs


def _known(name: str, modules: set[str]) -> str:
    while name not in modules and "." in name:
        name = name.rpartition(".")[0]
    return name


def import_graph() -> dict[str, set[tuple[str, bool]]]:
    modules = project_modules()
    return {
        name: set(imports_of(name, path, modules)) - {(name, True), (name, False)} for name, path in modules.items()
    }


def harness_unit(module: str) -> str:
    """The package (or top-level module) of ``harness`` a module belongs to."""
    return ".".join(module.split(".")[:2])


def harness_layer(module: str) -> int:
    unit = harness_unit(module)
    for number, layer in enumerate(HARNESS_LAYERS):
        if unit in layer:
            return number
    raise AssertionError(f"{module}: its package {unit} has no layer in HARNESS_LAYERS (add it where it belongs)")


def site_of(module: str) -> str | None:
    parts = module.split(".")
    return ".".join(parts[:3]) if len(parts) >= 4 and parts[:2] == ["simulators", "web"] else None


def layer_violations(graph: dict[str, set[tuple[str, bool]]]) -> list[str]:
    found = []
    for source, targets in sorted(graph.items()):
        for target, _ in sorted(targets):
            if source.startswith("simulators") and target.startswith("harness"):
                found.append(f"{source} -> {target}: simulators never import harness")
            elif source.startswith("simulators.card") and not target.startswith("simulators.card"):
                found.append(f"{source} -> {target}: the card is bytes -> bytes, it imports only itself")
            elif source.startswith("simulators.world") and not target.startswith(
                ("simulators.world", "simulators.identifiers")
            ):
                found.append(f"{source} -> {target}: world state imports only world state")
            elif source.startswith("simulators.web"):
                found += _site_violations(source, target)
            elif (
                source.startswith("harness")
                and target.startswith("harness")
                and harness_unit(source) != harness_unit(target)
                and harness_layer(target) >= harness_layer(source)
            ):
                found.append(f"{source} -> {target}: {harness_unit(target)} is not below {harness_unit(source)}")
    return found


def _site_violations(source: str, target: str) -> list[str]:
    """A site imports itself, the web's shared modules, world state, identifiers, and the links the systems have;
    a shared web module imports no site."""
    mine, theirs = site_of(source), site_of(target)
    if target.startswith(("simulators.world", "simulators.identifiers")) or (mine is not None and mine == theirs):
        return []
    if theirs is None and target.startswith(SHARED_WEB + "."):
        return []
    if theirs is not None and mine is not None and (mine, target) in SITE_LINKS:
        return []
    if theirs is not None:
        return [f"{source} -> {target}: a site (or a shared web module) imports another site"]
    return [f"{source} -> {target}: the sites import only the web's shared modules, world state and identifiers"]


def rules_with_aiohttp(modules: dict[str, Path]) -> list[str]:
    found = []
    for name, path in modules.items():
        if name.endswith(".rules"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                if any(n.split(".")[0] == "aiohttp" for n in names):
                    found.append(f"{name}: a site's rules are plain functions, no aiohttp")
    return found


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def unit_of(module: str) -> str:
    if module.startswith("harness"):
        return harness_unit(module)
    return site_of(module) or ".".join(module.split(".")[:2])


def running_edges(graph: dict[str, set[tuple[str, bool]]], *, by: str) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for source, targets in graph.items():
        for target, runs in targets:
            if not runs:
                continue
            a, b = (unit_of(source), unit_of(target)) if by == "package" else (source, target)
            if a != b and not (by == "module" and _is_own_package_face(a, b)):
                edges[a].add(b)
    return edges


def _is_own_package_face(source: str, target: str) -> bool:
    """A package's ``__init__`` importing its own modules (its face) is not a loop back into the package."""
    return source.startswith(target + ".")


@pytest.fixture(scope="module")
def graph() -> dict[str, set[tuple[str, bool]]]:
    return import_graph()


def test_the_walk_reads_the_imports_it_must(graph: dict[str, set[tuple[str, bool]]]) -> None:
    """If the walker went blind, every rule below would pass: it must see these arrows."""
    seen = {source: {target for target, _ in targets} for source, targets in graph.items()}
    assert "harness.cli.run" in seen["harness.cli.main"]
    assert "harness.scenario.stage" in seen["harness.scenario.actions.registry"]  # under TYPE_CHECKING
    assert "harness.trainer.serve" in seen["harness.cli.serve"]  # imported inside a function
    assert "simulators.card.apdu" in seen["simulators.card.cpx"]
    assert len(graph) > 100


def test_the_rules_catch_what_they_forbid() -> None:
    forbidden = {
        "harness.world.assembly": {("harness.scenario.player", True)},
        "harness.card.reader": {("harness.world.host", True)},
        "simulators.card.cpx": {("simulators.web.page", True)},
        "simulators.world.clock": {("harness.errors", True)},
        "simulators.web.psc.app": {("simulators.web.wallet.app", True)},
        "simulators.web.wallet.rules": {("harness.pki", True)},
    }
    assert len(layer_violations(forbidden)) == 6
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_dependencies_point_down(graph: dict[str, set[tuple[str, bool]]]) -> None:
    assert layer_violations(graph) == []


def test_a_sites_rules_import_no_aiohttp() -> None:
    assert rules_with_aiohttp(project_modules()) == []


def test_no_cycle_between_packages(graph: dict[str, set[tuple[str, bool]]]) -> None:
    assert cycles(running_edges(graph, by="package")) == []


def test_no_cycle_between_modules(graph: dict[str, set[tuple[str, bool]]]) -> None:
    assert cycles(running_edges(graph, by="module")) == []


def test_no_module_of_harness_is_named_by_a_prefix_instead_of_a_folder() -> None:
    prefixed = [
        name
        for name in project_modules()
        if name.startswith("harness.") and name.rpartition(".")[2].startswith(("card_", "world_", "pcsc_"))
    ]
    assert prefixed == []
