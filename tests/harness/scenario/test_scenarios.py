"""The scenario catalogue: every guide path passes; broken files are refused with file and line."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import ValidationError
from rich.console import Console

from harness.cli.run import run_all
from harness.pki import Pki
from harness.scenario.actions.browser import CardOpen
from harness.scenario.loader import SCENARIO_DIR, find, load
from harness.scenario.model import Scenario, Step
from harness.scenario.player import Result, play
from simulators.web.sidep.rules import Kind
from tests.support.paths import REPO

GUIDE_PATHS = 33
DIAGNOSTIC_OUTCOMES = 8
"""GD-xx: ``cps-harness diagnose`` (ATSAM's diagnostic) on each outcome the guide shows, and the card faults."""


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    """The whole catalogue, run once for this module through the main job's own code."""
    report = tmp_path_factory.mktemp("report")
    results, problems, _ = asyncio.run(run_all([], jobs=2, report_dir=report, console=Console(quiet=True)))
    assert problems == []
    assert (report / "junit.xml").exists() and (report / "report.html").exists()
    return {r.scenario.id: r for r in results}


def scenario_ids() -> list[str]:
    loaded, problems = load(find([str(SCENARIO_DIR)]))
    assert problems == []
    return [s.id for _, s in loaded]


def test_one_file_per_guide_path() -> None:
    ids = scenario_ids()
    assert len(ids) == GUIDE_PATHS + DIAGNOSTIC_OUTCOMES == len(set(ids))
    families = {i.split("-")[0] for i in ids}
    assert families == {"G2", "GC", "G3", "G4", "G5", "G6", "GD"}


@pytest.mark.parametrize("scenario_id", scenario_ids())
def test_scenario_passes(catalogue: dict[str, Result], scenario_id: str) -> None:
    result = catalogue[scenario_id]
    failed = next((e for e in result.events if not e.ok), None)
    assert result.ok, f"step {failed.index} {failed.action}: {failed.failure}" if failed else "stopped early"


def test_card_scenarios_went_through_the_virtual_card(catalogue: dict[str, Result]) -> None:
    for scenario_id in ("G3-01", "G5-05", "G6-01"):
        apdus = [line for event in catalogue[scenario_id].events for line in event.apdus]
        assert any("INTERNAL AUTHENTICATE" in line for line in apdus), scenario_id


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD_HEAD = "id: G2-08\ntitle: t\nguide: g\n"


@pytest.mark.parametrize(
    ("body", "line", "says"),
    [
        ("steps:\n  - browser.opne: {site: wallet}\n", 5, "unknown action 'browser.opne'"),
        ("steps:\n  - browser.open: {site: wallet}\n    expect: {status: deux-cents}\n", 6, "steps.1.expect.status"),
        ("steps:\n  - clock.advance: 1h\n  - card.insert: {persona: bob}\n", 6, "unknown persona 'bob'"),
        ("world: {clock: hier}\nsteps:\n  - clock.advance: 1h\n", 4, "world.clock"),
        ("personas:\n  a: {civility: M, first_name: A, last_name: B, profession: '10', card_certificates: lost}\n"
         "steps:\n  - clock.advance: 1h\n", 5, "personas.a.card_certificates"),
        ("personas:\n  a: {from: medecin-alain, card_certificates: {authentication: lost}}\n"
         "steps:\n  - clock.advance: 1h\n", 5, "personas.a.card_certificates.authentication"),
        ("personas:\n  a:\n    from: medecin-alain\n    card_certificates:\n      signatur: valid\n"
         "steps:\n  - clock.advance: 1h\n", 8, "personas.a.card_certificates.signatur"),
        ("personas:\n  a: {from: medecin-alain, card_certificates: {}}\n"
         "steps:\n  - clock.advance: 1h\n", 5, "give authentication, signature or both"),
        ("steps: []\n", 4, "steps"),
        ("personas:\n  a: {from: nobody}\nsteps:\n  - clock.advance: 1h\n", 5, "no persona file 'nobody'"),
        ("personas:\n  a: {from: medecin-alain, profesion: '10'}\nsteps:\n  - clock.advance: 1h\n", 5, "profesion"),
    ],
)  # fmt: skip
def test_a_broken_file_names_file_line_and_field(tmp_path: Path, body: str, line: int, says: str) -> None:
    path = write(tmp_path, "G2-08-x.yaml", GOOD_HEAD + body)
    loaded, problems = load([path])
    assert loaded == []
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}:{line}:"), problems[0]
    assert says in problems[0]


def test_the_file_name_must_carry_the_id(tmp_path: Path) -> None:
    path = write(tmp_path, "G2-09-x.yaml", GOOD_HEAD + "steps:\n  - clock.advance: 1h\n")
    _, problems = load([path])
    assert problems == [f"{path}:1: id: the file name must start with the scenario id G2-08-"]


def test_published_schema_is_current() -> None:
    published = json.loads((SCENARIO_DIR / "schema.json").read_text())
    assert published == Scenario.model_json_schema(), "run: cps-harness check --schema scenarios/schema.json"


@pytest.mark.parametrize(
    ("step", "line", "field", "says"),
    [
        ("  - browser.open: {sitee: wallet, pathh: /x}\n", 5, "steps.1.browser.open.sitee", "unknown argument"),
        ("  - browser.open:\n      site: wallet\n      pathh: /x\n", 7, "steps.1.browser.open.pathh", "takes: site"),
        ("  - browser.open: {path: /x}\n", 5, "steps.1.browser.open.site", "needs this argument"),
        ("  - browser.open:\n      site: portail\n", 6, "steps.1.browser.open.site", "'wallet'"),
        ("  - browser.open: /activation\n", 5, "steps.1.browser.open", "takes a mapping"),
        ("  - browser.back: {to: 2}\n", 5, "steps.1.browser.back", "takes no argument"),
        ("  - browser.follow: [a, b]\n", 5, "steps.1.browser.follow", "one text value"),
        ("  - browser.submit: {code: 012345}\n", 5, "steps.1.browser.submit.code", "in quotes"),
        ("  - card.verify_pin: 0000\n", 5, "steps.1.card.verify_pin", "in quotes"),
        ("  - clock.advance: demain\n", 5, "steps.1.clock.advance", "expected a duration"),
        ("  - card.remove: 2\n", 5, "steps.1.card.remove", "less than or equal to 1"),
        ("  - card.insert:\n      persona: alain\n      reader: deux\n", 7, "steps.1.card.insert.reader", "integer"),
        ("  - card.fault:\n      status_words: {VERIFY: zz}\n", 6, "steps.1.card.fault.status_words", "hex digits"),
        ("  - card.fault: {mutee: true}\n", 5, "steps.1.card.fault.mutee", "unknown argument"),
        ("  - psc.fault: {faults: [nope]}\n", 5, "steps.1.psc.fault.faults.1", "'access_denied'"),
        ("  - psc.fault: {client_id: a, persona: b}\n", 5, "steps.1.psc.fault", "not both"),
        ("  - sidep.account: {login: a, password: b, kind: autre}\n", 5, "steps.1.sidep.account.kind", "'salarie'"),
        ("  - mailbox.code: {to: a, save_as: Code-1}\n", 5, "steps.1.mailbox.code.save_as", "pattern"),
        ("  - testssl.tls_max: 1.3\n", 5, "steps.1.testssl.tls_max", "in quotes"),
    ],
)  # fmt: skip
def test_wrong_arguments_name_file_line_and_field(tmp_path: Path, step: str, line: int, field: str, says: str) -> None:
    """``check`` finds a misspelt or mistyped argument, not the run; the line is the argument's own."""
    path = write(tmp_path, "G2-08-x.yaml", GOOD_HEAD + "steps:\n" + step)
    loaded, problems = load([path])
    assert loaded == []
    assert any(p.startswith(f"{path}:{line}: {field}: ") and says in p for p in problems), problems


def test_wrong_arguments_and_a_wrong_expect_are_reported_together(tmp_path: Path) -> None:
    body = "steps:\n  - browser.open: {sitee: wallet}\n    expect: {status: deux-cents}\n"
    _, problems = load([write(tmp_path, "G2-08-x.yaml", GOOD_HEAD + body)])
    fields = sorted(p.split(": ")[1] for p in problems)
    assert fields == ["steps.1.browser.open.site", "steps.1.browser.open.sitee", "steps.1.expect.status"]


def test_arguments_are_typed_once_and_give_back_what_was_written() -> None:
    """A step holds its action's typed arguments (defaults declared once, in the model); written
    back, they are exactly what the file said (the player fills placeholders in that form)."""
    written = [
        {"browser.open": {"site": "wallet"}},
        {"browser.submit": {"identifiant": "{carole.national_id}"}},
        {"clock.advance": "+48h"},
        {"card.remove": None},
        {"card.remove": 1},
        {"card.fault": {"reader": 1, "status_words": {"INTERNAL AUTHENTICATE": "6F00"}}},
        {"psc.fault": {"persona": "carole", "faults": ["access_denied"]}},
        {"sidep.account": {"login": "a", "password": "b", "kind": "salarie"}},
        {"phone.refuse": None},
    ]
    for step in written:
        ((action, args),) = step.items()
        parsed = Step.model_validate(step)
        assert parsed.action == action
        back = parsed.entry.as_written(parsed.args)
        assert json.loads(json.dumps(back, default=str)) == args
    opened = Step.model_validate({"browser.card_open": {"site": "testssl", "persona": "alain"}})
    assert isinstance(opened.args, CardOpen) and (opened.args.path, opened.args.pin) == ("/", "1234")
    assert Step.model_validate({"sidep.account": {"login": "a", "password": "b"}}).args.kind is Kind.LIBERAL


def _as_an_editor_reads(value: Any) -> Any:
    """YAML data as an editor validates it: timestamps stay text."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _as_an_editor_reads(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_an_editor_reads(v) for v in value]
    return value


@pytest.fixture(scope="module")
def published_schema() -> jsonschema.protocols.Validator:
    schema = json.loads((SCENARIO_DIR / "schema.json").read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


@pytest.mark.parametrize("path", sorted(SCENARIO_DIR.glob("*.yaml")), ids=lambda p: p.name.split("-", 2)[1])
def test_every_scenario_file_matches_the_published_schema(
    published_schema: jsonschema.protocols.Validator, path: Path
) -> None:
    """Editors validate with scenarios/schema.json: it must accept every file ``check`` accepts."""
    data = _as_an_editor_reads(yaml.safe_load(path.read_text(encoding="utf-8")))
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in published_schema.iter_errors(data)]
    assert errors == []
    loaded, problems = load([path])
    assert problems == [] and len(loaded) == 1


@pytest.mark.parametrize(
    "step",
    [
        {"browser.opne": {"site": "wallet"}},
        {"browser.open": {"sitee": "wallet"}},
        {"browser.open": {"site": "portail"}},
        {"browser.open": {"site": "wallet"}, "expect": {"screen": "x", "colour": "red"}},
        {"browser.open": {"site": "wallet"}, "browser.follow": "Suivant"},
        {"expect": {"screen": "x"}},
        {"browser.back": {"to": 2}},
        {"card.verify_pin": 1234},
        {"card.fault": {"mutee": True}},
        {"clock.advance": "demain"},
        {"testssl.tls_max": "1.4"},
    ],
    ids=str,
)
def test_the_schema_rejects_a_broken_step(
    published_schema: jsonschema.protocols.Validator, step: dict[str, Any]
) -> None:
    scenario = {"id": "G2-08", "title": "t", "guide": "g", "steps": [step]}
    assert not published_schema.is_valid(scenario)
    with pytest.raises(ValidationError):
        Scenario.model_validate(scenario)


@pytest.mark.parametrize(
    ("persona", "valid"),
    [
        ("medecin-alain", True),
        ({"from": "medecin-alain", "email": None, "card_pin_tries_left": 0}, True),
        ({"civility": "M", "first_name": "A", "last_name": "B", "profession": "10"}, True),
        ({"from": "medecin-alain", "profesion": "10"}, False),
        ({"from": "medecin-alain", "card_certificates": "expired"}, True),
        ({"from": "medecin-alain", "card_certificates": {"authentication": "expired"}}, True),
        ({"from": "medecin-alain", "card_certificates": {"authentification": "expired"}}, False),
        ({"from": "medecin-alain", "card_certificates": {"signature": "perdu"}}, False),
        ({"from": "medecin-alain", "card_certificates": {}}, False),
        ({"first_name": "A", "last_name": "B", "profession": "10"}, False),
        (12, False),
    ],
    ids=str,
)
def test_the_schema_takes_personas_as_files_write_them(
    published_schema: jsonschema.protocols.Validator, persona: Any, valid: bool
) -> None:
    scenario = {"id": "G2-08", "title": "t", "guide": "g", "personas": {"a": persona}, "steps": [{"phone.scan": None}]}
    assert published_schema.is_valid(scenario) is valid
    try:
        Scenario.model_validate(scenario)
    except ValidationError:
        assert not valid
    else:
        assert valid


def test_a_persona_overrides_the_profiles_certificates_one_by_one(session_pki: Pki, tmp_path: Path) -> None:
    """The profile says authentication expired; the persona, signature revoked: the card has both,
    and Test SSL judges the authentication certificate."""
    profile = tmp_path / "card.yaml"
    text = (REPO / "harness/card/profiles/doctor.yaml").read_text()
    profile.write_text(text.replace("certificates: valid", "certificates: {authentication: expired}"))
    path = write(
        tmp_path, "G6-03-x.yaml",
        "id: G6-03-x\nvariant_of: G6-03\ntitle: t\nguide: g\nworld: {cards: true}\n"
        f"personas:\n  alain: {{from: medecin-alain, card: {profile}, card_certificates: {{signature: revoked}}}}\n"
        "steps:\n  - card.insert: {persona: alain}\n"
        "  - browser.card_open: {site: testssl, path: /, persona: alain}\n    expect: {screen: certificat-expire}\n",
    )  # fmt: skip
    [(_, scenario)], problems = load([path])
    assert problems == []
    result = asyncio.run(play(scenario, path, session_pki, tmp_path))
    assert result.ok, [e.failure for e in result.events]
    assert "(" + str(profile) + ", authentication expired, signature revoked)" in result.events[0].detail


def test_unknown_target_is_a_clear_error() -> None:
    with pytest.raises(FileNotFoundError, match="no scenario file or id 'G9-99'"):
        find(["G9-99"])


def test_scenarios_start_from_fresh_worlds(session_pki: Pki) -> None:
    """Order does not matter: the same scenario run twice in a row passes twice."""
    loaded, _ = load(find(["G2-09"]))

    async def twice() -> list[bool]:
        path, scenario = loaded[0]
        return [(await play(scenario, path, session_pki, Path("/tmp"))).ok for _ in range(2)]

    assert asyncio.run(twice()) == [True, True]
