"""The reference pages are generated from the code: a committed page that differs fails here."""

from __future__ import annotations

import argparse

import pytest
import yaml

from harness import refdocs
from harness.cli.main import build_parser
from harness.pki import Pki
from harness.scenario.actions import ACTIONS
from harness.scenario.expect import Expect
from harness.scenario.loader import find, load
from harness.scenario.model import Step
from harness.world.host import WorldHost
from simulators.web.admin.app import ROUTES
from simulators.web.screens import Screen

REGENERATE = f"regenerate them with: .venv/bin/{refdocs.COMMAND}"


def test_committed_pages_are_what_the_generator_produces() -> None:
    stale = refdocs.stale_pages()
    assert stale == [], f"stale reference pages: {', '.join(stale)}; {REGENERATE}"


def test_generated_pages_say_so_and_are_deterministic() -> None:
    first, second = refdocs.expected_pages(), refdocs.expected_pages()
    assert first == second
    for path, text in first.items():
        assert str(refdocs.ROOT) not in text, f"{path} holds an absolute path"
        if path in refdocs.PAGES:
            assert text.startswith("> Generated from ") and refdocs.COMMAND in text.splitlines()[0], path


def test_every_action_is_documented_with_an_example() -> None:
    page = refdocs.scenario_format()
    examples = refdocs.action_examples()
    for name, action in ACTIONS.items():
        assert f"### {name}\n" in page, name
        assert name in examples or action.example, f"{name}: no example"


def test_examples_of_actions_no_scenario_uses_are_valid_steps() -> None:
    given = {name: action.example for name, action in ACTIONS.items() if action.example}
    assert given, "the table gives no example at all"
    for name, text in given.items():
        (step,) = yaml.safe_load(text)
        assert Step.model_validate(step).action == name


def test_examples_are_copied_exactly_from_the_scenario_files() -> None:
    for action, (path, source) in refdocs.action_examples().items():
        (step,) = yaml.safe_load(source)
        assert action in step
        original = yaml.safe_load(path.read_text(encoding="utf-8"))["steps"]
        assert step in original, f"{action}: {source!r} is not a step of {path.name}"


def test_every_expectation_field_has_a_meaning() -> None:
    missing = [name for name, info in Expect.model_fields.items() if not info.description]
    assert missing == [], f"Expect fields without a description (harness/scenario/model.py): {missing}"


def test_the_screens_page_lists_the_catalogue_and_the_docs_link_to_it() -> None:
    page = refdocs.screens()
    for screen in Screen:
        sites = ", ".join(f"`{site}`" for site in screen.sites)
        assert (f"| `{screen.value}` | {sites} |" if sites else f"| `{screen.value}` |") in page, screen.value
    assert "| `screen` | [screen id](screens.md) \\| null |" in refdocs.scenario_format(), "expect.screen links to it"
    for doc in ("README.md", "docs/getting-started.md"):
        assert "reference/screens.md)" in (refdocs.ROOT / doc).read_text(encoding="utf-8"), doc


def test_every_cli_argument_has_help() -> None:
    missing = []
    for name, _, parser in refdocs._commands(build_parser(), "cps-harness", ""):
        for action in parser._actions:
            if not isinstance(action, argparse._SubParsersAction | argparse._VersionAction) and not action.help:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert missing == [], f"arguments without help=: {missing}"


def test_guide_map_names_every_scenario() -> None:
    page = (refdocs.ROOT / refdocs.GUIDE_MAP_PAGE).read_text(encoding="utf-8")
    loaded, problems = load(find([str(refdocs.SCENARIO_DIR)]))
    assert problems == []
    for _, scenario in loaded:
        assert f"[{scenario.id}](" in page, f"{scenario.id} missing from {refdocs.GUIDE_MAP_PAGE}; {REGENERATE}"


def test_check_names_stale_pages_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(refdocs, "expected_pages", lambda: {"docs/reference/cli.md": "not what is committed"})
    assert refdocs.main(["--check"]) == 1
    out = capsys.readouterr().out
    assert "stale: docs/reference/cli.md" in out and refdocs.COMMAND in out


def test_admin_route_table_is_what_a_world_serves(session_pki: Pki) -> None:
    """``ROUTES`` documents every admin route of a world with cards, and nothing it does not serve."""
    with WorldHost(pki=session_pki, cards=True) as host:
        app = host.world.sites["admin"].running.runner.app
        assert app is not None
        served = set()
        for route in app.router.routes():
            info = route.resource.get_info() if route.resource else {}
            template = info.get("formatter") or info.get("path")
            if route.method in ("GET", "POST") and template:
                served.add((route.method, template))
    documented = {(r.method, r.path) for r in ROUTES}
    assert served - documented == set(), "add these to ROUTES in simulators/web/admin/app.py"
    assert documented - served == set(), "ROUTES documents routes a world does not serve"
    assert len(documented) == len(ROUTES), "a route is documented twice"
