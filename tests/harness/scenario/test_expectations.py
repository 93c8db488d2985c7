"""Negative and absence expectations, channel faults, and what check says of expectations a step
cannot meet: each played on a small scenario, both ways (it holds, it does not)."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest

from harness.pki import Pki
from harness.scenario.loader import load
from harness.scenario.player import Result, play

HEAD = """\
id: G2-01-essai
variant_of: G2-01
title: essai
guide: essai
personas:
  carole:
    from: pharmacienne-carole
steps:
"""
TO_CODES = """\
- browser.open: {site: wallet, path: /activation}
- browser.submit: {identifiant: "{carole.national_id}"}
"""
"""Steps as written at the left margin, ``expect`` two spaces in (``write`` puts them under ``steps:``)."""


def write(folder: Path, steps: str) -> Path:
    path = folder / "G2-01-essai.yaml"
    path.write_text(HEAD + textwrap.indent(steps, "  "), encoding="utf-8")
    return path


def played(folder: Path, steps: str) -> Result:
    path = write(folder, steps)
    [(_, scenario)], problems = load([path])
    assert problems == []
    return asyncio.run(play(scenario, path, Pki(), folder))


def failure(result: Result) -> str:
    failed = next((e for e in result.events if not e.ok), None)
    return failed.failure if failed else ""


def test_not_holds_when_each_negated_field_fails_and_fails_when_one_holds(tmp_path: Path) -> None:
    ok = played(tmp_path, TO_CODES + "  expect: {not: {screen: e-cps-activee, text: [e-CPS activée, XYZ]}}\n")
    assert ok.ok, failure(ok)
    bad = played(tmp_path, TO_CODES + "  expect: {not: {screen: saisie-codes, text: [XYZ]}}\n")
    assert not bad.ok and "screen 'saisie-codes' holds, expected it not to" in failure(bad)
    page_text = played(tmp_path, "- browser.open: {site: wallet, path: /activation}\n  expect: {not: {status: 200}}\n")
    assert "status 200 holds, expected it not to" in failure(page_text)


def test_a_missing_code_is_a_failure_unless_the_step_expects_no_message(tmp_path: Path) -> None:
    steps = "- outbox.drop: {channel: sms}\n" + TO_CODES + '- mailbox.code: {to: "{carole.mobile}", save_as: sms}\n'
    missing = played(tmp_path, steps)
    assert not missing.ok and "no code received by +33600000001" in failure(missing)
    expected = played(tmp_path, steps + '  expect: {no_message: {to: "{carole.mobile}", channel: sms}}\n')
    assert expected.ok, failure(expected)
    other = played(tmp_path, steps + '  expect: {no_message: {to: "{carole.email}", channel: sms}}\n')
    assert not other.ok and "no code received by +33600000001" in failure(other), "no_message names another address"


def test_no_message_fails_when_a_message_arrived(tmp_path: Path) -> None:
    result = played(tmp_path, TO_CODES + '  expect: {no_message: {to: "{carole.email}"}}\n')
    assert not result.ok and "1 message(s) reached carole@officine.test (email), expected none" in failure(result)
    other_channel = played(tmp_path, TO_CODES + '  expect: {no_message: {to: "{carole.email}", channel: sms}}\n')
    assert other_channel.ok, failure(other_channel)


def test_a_channel_delay_lets_the_other_channel_through(tmp_path: Path) -> None:
    steps = "- outbox.delay: {by: 20min, channel: sms}\n" + TO_CODES
    steps += '- mailbox.code: {to: "{carole.email}", save_as: mail}\n'
    steps += '  expect: {no_message: {to: "{carole.mobile}"}}\n'
    steps += "- clock.advance: 20min\n"
    steps += '- mailbox.code: {to: "{carole.mobile}", save_as: sms}\n'
    result = played(tmp_path, steps)
    assert result.ok, failure(result)


def test_ecps_activated_false_means_no_persona_has_one(tmp_path: Path) -> None:
    assert played(tmp_path, TO_CODES + "  expect: {ecps_activated: false}\n").ok
    path = write(tmp_path, TO_CODES + "  expect: {ecps_activated: false}\n")
    persona = "from: pharmacienne-carole"
    path.write_text(path.read_text().replace(persona, persona + '\n    ecps_password: "4321"'))
    [(_, scenario)], _ = load([path])
    result = asyncio.run(play(scenario, path, Pki(), tmp_path))
    assert not result.ok and "e-CPS activated for 899700075122" in failure(result)


@pytest.mark.parametrize(
    ("step", "field", "says"),
    [
        ("- clock.advance: 2h\n  expect: {fails: true}", "steps.1.expect.fails", "clock.advance cannot give `fails`"),
        ("- browser.open: {site: wallet}\n  expect: {diagnose_failed: none}", "steps.1.expect.diagnose_failed",
         "browser.open cannot give `diagnose_failed`; steps that can: diagnose.run"),
        ("- outbox.drop: {channel: fax}", "steps.1.outbox.drop.channel", "Input should be 'email' or 'sms'"),
        ("- outbox.drop: {to: a@b, channel: sms}", "steps.1.outbox.drop", "an address or a channel, not both"),
        ("- browser.open: {site: wallet}\n  expect: {ecps_activated: true}", "steps.1.expect.ecps_activated",
         "name whose e-CPS is activated"),
        ("- browser.open: {site: wallet}\n  expect: {scren: x}", "steps.1.expect.scren",
         "unknown field; did you mean 'screen'? it takes: screen, status"),
        ("- browser.open: {site: wallet}\n  expect: {not: {pin_tries: 3}}", "steps.1.expect.not.pin_tries",
         "unknown field; it takes: screen, status, text, url_starts, error, ecps_activated, apdu"),
    ],
)  # fmt: skip
def test_check_refuses_what_a_step_cannot_mean(tmp_path: Path, step: str, field: str, says: str) -> None:
    path = write(tmp_path, step + "\n")
    _, problems = load([path])
    assert any(f": {field}: " in p and says in p for p in problems), problems
