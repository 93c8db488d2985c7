"""The catalogue of screens (``simulators/web/screens.py``) against the sites' code.

The sites name a screen only as ``Screen.X`` (mypy holds ``page()`` and the refusals to it); these
checks read the code itself: no id is typed anywhere else as a string, every entry is named by the
code of exactly the sites it lists (a site's own package, and the shared web modules it imports,
such as ``national_id.py``), and the three sites that judge a card refuse a certificate alike.
What the sites serve at run time is checked in ``tests/harness/scenario/test_screens.py``.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path
from typing import get_args

from simulators.web import screens
from simulators.web.certificates import REFUSAL_SCREENS
from simulators.web.screens import SHOWN, SITES, Screen, Site
from simulators.web.testssl.rules import OUTCOMES
from tests.qualities.test_layers import import_graph, project_modules
from tests.support.paths import REPO

CATALOGUE = "simulators.web.screens"
FRENCH_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def named_screens(path: Path) -> set[Screen]:
    """The members of ``Screen`` a module names (``Screen.CERTIFICAT_REVOQUE``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Screen":
            found.add(Screen[node.attr])
    return found


def site_package(module: str) -> str | None:
    """``wallet`` for ``simulators.web.wallet.rules``; None for a shared module of ``simulators/web``."""
    parts = module.split(".")
    return parts[2] if len(parts) >= 4 and parts[:2] == ["simulators", "web"] else None


def screens_named_by_site() -> dict[str, set[Screen]]:
    """What each site's code names: its own modules, and the shared web modules they import (transitively)."""
    modules = project_modules()
    graph = {name: {target for target, _ in targets} for name, targets in import_graph().items()}
    shared = {m for m in modules if m.startswith("simulators.web.") and site_package(m) is None and m != CATALOGUE}
    named: dict[str, set[Screen]] = defaultdict(set)
    for module in modules:
        site = site_package(module)
        if site is None:
            continue
        seen, todo = {module}, [module]
        while todo:
            for target in graph.get(todo.pop(), set()) & shared - seen:
                seen.add(target)
                todo.append(target)
        for reached in seen:
            named[site] |= named_screens(modules[reached])
    return {site: names for site, names in named.items() if names}


def test_the_ids_are_french_unique_and_described() -> None:
    assert len(Screen) == len({screen.value for screen in Screen}) > 30
    for screen in Screen:
        assert FRENCH_ID.fullmatch(screen.value), f"{screen.value}: lower case words joined by hyphens"
        assert screen.name == screen.value.upper().replace("-", "_"), f"{screen.name}: name it after its id"
        assert len(screen.situation.split()) >= 5, f"{screen.value}: say in which situation a site shows it"
        assert len(set(screen.sites)) == len(screen.sites) and set(screen.sites) <= set(SITES), screen.value
    assert set(SITES) == set(get_args(Site))
    assert tuple(screen for screen in Screen if screen.sites) == SHOWN


def test_every_entry_is_named_by_exactly_the_sites_it_lists() -> None:
    named = screens_named_by_site()
    assert set(named) <= set(SITES), f"{set(named) - set(SITES)} show screens but are no site of the catalogue"
    for screen in Screen:
        by = {site for site, names in named.items() if screen in names}
        if screen.sites:
            assert by == set(screen.sites), f"{screen.value}: the catalogue says {screen.sites}, the code {by}"
        else:  # a refusal no page shows: some site's rules raise it all the same
            assert by, f"{screen.value}: no site names it any more; remove it from the catalogue"


def test_no_id_is_typed_outside_the_catalogue() -> None:
    """A screen written as a string elsewhere could drift from the catalogue: ``Screen.X`` cannot."""
    ids = {screen.value for screen in Screen}
    typed = [
        f"{path.relative_to(REPO)}:{node.lineno}: {node.value!r}"
        for top in ("simulators", "harness")
        for path in sorted((REPO / top).rglob("*.py"))
        if path != Path(screens.__file__)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and node.value in ids
    ]
    assert typed == [], "use the catalogue's Screen members instead"


def test_the_sites_that_judge_a_card_refuse_it_with_the_same_screen() -> None:
    """The wallet and PSC take ``REFUSAL_SCREENS``; Test SSL's outcomes must say the same."""
    assert set(REFUSAL_SCREENS) == set(OUTCOMES) - {"valid"}
    for status, screen in REFUSAL_SCREENS.items():
        assert OUTCOMES[status].screen is screen, status
        assert set(screen.sites) == set(screens.CARD_SITES), status
    assert not any(screen.value.startswith("carte-") for screen in Screen), "PSC's English ids are gone"
