"""Scenarios with several phones and late answers: personas' ``ecps_devices``, the phone steps'
``device``, the ``push`` expectation, and what the professional sees when "accepter" comes too late."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from harness.pki import Pki
from harness.scenario.loader import load
from harness.scenario.model import Scenario
from harness.scenario.player import Result, play, playing
from harness.scenario.report import write_html
from simulators.world.state import DEFAULT_DEVICE

HEAD = "id: G5-01-x\nvariant_of: G5-01\ntitle: t\nguide: g\n"
ALAIN = "personas:\n  alain:\n    from: medecin-alain\n    ecps_password: '4321'\n"
TWO_PHONES = ALAIN + "    ecps_devices: [telephone-1, telephone-2]\n"
LOGIN = (
    "  - browser.open: {site: sidep, path: /}\n"
    "  - browser.follow: e-CPS Identification par carte CPS\n"
    "  - browser.submit: {identifiant: '{alain.national_id}'}\n"
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "G5-01-x.yaml"
    path.write_text(HEAD + text, encoding="utf-8")
    return path


def loaded(tmp_path: Path, text: str) -> tuple[Path, Scenario]:
    path = write(tmp_path, text)
    [(_, scenario)], problems = load([path])
    assert problems == []
    return path, scenario


def played(tmp_path: Path, pki: Pki, text: str) -> Result:
    path, scenario = loaded(tmp_path, text)
    return asyncio.run(play(scenario, path, pki, tmp_path))


def only_problem(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    found, problems = load([path])
    assert found == [] and len(problems) == 1, problems
    return problems[0].removeprefix(f"{path}:")


# -- personas -----------------------------------------------------------------------------------------
def test_a_persona_has_the_default_phone_unless_it_names_its_phones(tmp_path: Path) -> None:
    _, one = loaded(tmp_path, ALAIN + "steps:\n  - clock.advance: 1s\n")
    assert one.personas["alain"].ecps_devices == [DEFAULT_DEVICE]
    _, two = loaded(tmp_path, TWO_PHONES + "steps:\n  - clock.advance: 1s\n")
    assert two.personas["alain"].ecps_devices == ["telephone-1", "telephone-2"]


@pytest.mark.parametrize(
    ("devices", "field", "says"),
    [
        ("[telephone-1, telephone-1]", "personas.alain.ecps_devices", "telephone-1 named twice"),
        ("[]", "personas.alain.ecps_devices", "at least 1"),
        ("[telephone-1, mon téléphone]", "personas.alain.ecps_devices.2", "a phone's name is letters, digits and -"),
        ("[2]", "personas.alain.ecps_devices.1", "write it in quotes"),
        ("telephone-2", "personas.alain.ecps_devices", "list"),
    ],
)  # fmt: skip
def test_wrong_ecps_devices_name_file_line_and_field(tmp_path: Path, devices: str, field: str, says: str) -> None:
    problem = only_problem(tmp_path, ALAIN + f"    ecps_devices: {devices}\nsteps:\n  - clock.advance: 1s\n")
    assert problem.startswith(f"9: {field}: "), problem
    assert says in problem


# -- which phone a step means, checked when the file is loaded ---------------------------------------------
@pytest.mark.parametrize(
    ("step", "says"),
    [
        ("  - phone.approve: '4321'", "phone.approve: which phone? this scenario has 2 (telephone-1, telephone-2)"),
        ("  - phone.refuse:", "phone.refuse: which phone?"),
        ("  - phone.ignore: {device: telephone-3}", "phone.ignore: no phone 'telephone-3' in this scenario; its "
         "phones (the personas' ecps_devices): telephone-1, telephone-2"),
        ("  - clock.advance: 1s\n    expect: {push: {state: pending}}", "expect.push: which phone?"),
        ("  - clock.advance: 1s\n    expect: {chromium: {push: {device: telefone-2, state: pending}}}",
         "expect.push: no phone 'telefone-2'"),
    ],
)  # fmt: skip
def test_a_step_naming_no_phone_among_several_or_an_unknown_one_is_refused(
    tmp_path: Path, step: str, says: str
) -> None:
    problem = only_problem(tmp_path, TWO_PHONES + "steps:\n  - clock.advance: 1s\n" + step + "\n")
    assert problem.startswith("12: steps.2: "), problem
    assert says in problem


def test_a_wrong_push_state_names_its_field(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, ALAIN + "steps:\n  - clock.advance: 1s\n    expect: {push: {state: retiree}}\n")
    assert problem.startswith("11: steps.1.expect.push.state: "), problem
    assert "'withdrawn'" in problem


def test_one_phone_needs_no_name_and_may_be_named(tmp_path: Path) -> None:
    _, scenario = loaded(
        tmp_path, ALAIN + "steps:\n  - phone.refuse:\n  - phone.approve: {password: '4321', device: telephone-1}\n"
    )
    assert scenario.unknown_phones() == []


# -- played --------------------------------------------------------------------------------------------
def test_two_phones_get_the_push_the_second_approves_and_the_first_ones_is_withdrawn(
    tmp_path: Path, session_pki: Pki
) -> None:
    result = played(
        tmp_path, session_pki,
        TWO_PHONES + "steps:\n" + LOGIN + "    expect: {push: {device: telephone-2, state: pending}}\n"
        + "  - phone.approve: {password: '4321', device: telephone-2}\n"
        "    expect: {screen: connecte, push: {device: telephone-1, state: withdrawn}}\n"
        "  - clock.advance: 1s\n    expect: {push: {device: telephone-2, state: approved}}\n"
        "  - phone.approve: {password: '4321', device: telephone-1}\n",
    )  # fmt: skip
    assert [e.ok for e in result.events] == [True] * 5 + [False]
    assert result.events[3].detail == "approve push from SI-DEP on telephone-2"
    assert result.events[5].failure == "StepFailed: no push is pending on telephone-1 (its last push is withdrawn)"
    html = write_html([result], tmp_path / "report.html", 1.0).read_text(encoding="utf-8")
    assert "telephone-2" in html and "4321" not in html, "the password written in a mapping is masked too"


def test_a_push_expectation_that_does_not_hold_says_what_the_phone_has(tmp_path: Path, session_pki: Pki) -> None:
    result = played(tmp_path, session_pki, ALAIN + "steps:\n" + LOGIN + "  - clock.advance: 1s\n"
                    "    expect: {push: {state: approved}}\n")  # fmt: skip
    assert result.events[-1].failure == f"StepFailed: push on {DEFAULT_DEVICE}: pending, expected approved"
    before = played(
        tmp_path, session_pki, ALAIN + "steps:\n  - clock.advance: 1s\n    expect: {push: {state: expired}}\n"
    )
    assert before.events[-1].failure == f"StepFailed: push on {DEFAULT_DEVICE}: none, expected expired"


@pytest.mark.parametrize(("answer", "verb"), [("phone.approve: '4321'", "approve"), ("phone.refuse:", "refuse")])
def test_an_answer_after_the_push_expired_is_sent_refused_and_psc_says_the_delay_is_over(
    tmp_path: Path, session_pki: Pki, answer: str, verb: str
) -> None:
    result = played(
        tmp_path, session_pki,
        ALAIN + "steps:\n" + LOGIN + "  - clock.advance: 121s\n    expect: {screen: attente-telephone, push: {state: "
        f"expired}}}}\n  - {answer}\n    expect: {{screen: echec-psc, status: 401, text: délai, error: push-expired, "
        "push: {state: expired}}\n",
    )  # fmt: skip
    last = result.events[-1]
    assert result.ok, last.failure
    assert last.detail == f"{verb} SI-DEP on {DEFAULT_DEVICE}: la demande de connexion a expiré"
    assert last.url.startswith("https://") and "/callback?error=access_denied" in " ".join(last.http)


def test_ignore_still_needs_a_pending_push(tmp_path: Path, session_pki: Pki) -> None:
    result = played(tmp_path, session_pki, ALAIN + "steps:\n" + LOGIN + "  - clock.advance: 121s\n  - phone.ignore:\n")
    assert result.events[-1].failure == f"StepFailed: no push is pending on {DEFAULT_DEVICE} (its last push is expired)"


def test_a_held_world_lists_every_phone_of_the_scenario_with_its_page(tmp_path: Path, session_pki: Pki) -> None:
    """What ``serve --scenario`` prints (``--json`` too): one page per phone, the scenario's first."""
    path, scenario = loaded(
        tmp_path, TWO_PHONES.replace("    ecps_password: '4321'\n", "") + "steps:\n  - clock.advance: 1s\n"
    )

    async def held() -> dict[str, str]:
        async with playing(scenario, path, session_pki, tmp_path) as done:
            assert done.world.state.ecps.all() == [], "no e-CPS without ecps_password: the phones are there anyway"
            described = done.world.describe(done.stage.phones)
            assert described["phone"] == described["phones"]["telephone-1"]
            return dict(described["phones"])

    pages = asyncio.run(held())
    assert list(pages) == ["telephone-1", "telephone-2"]
    assert pages["telephone-2"].endswith("/telephone/telephone-2")
