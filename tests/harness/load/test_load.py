"""``cps-harness load`` (issue 22): Locust drives professionals logging into ``examples/psc_webapp``
through the simulated PSC, and its CSV counts what happened; bad arguments exit 2 before anything
starts."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.cli.main import main
from harness.load.directory import BLOCK, professional, serial_for
from harness.load.phone import answer_for
from harness.world.host import WorldHost
from harness.world.resolver import WorldTransport
from harness.world.sites import start_site
from simulators import identifiers
from tests.examples.test_psc_webapp import load_example

LOAD_TIMEOUT = 180.0
"""Seconds the whole 10-second load may take on a busy machine (Locust start-up, stop, CSV)."""


def stats(prefix: Path) -> dict[str, dict[str, str]]:
    with open(f"{prefix}_stats.csv", encoding="utf-8", newline="") as file:
        return {row["Name"]: row for row in csv.DictReader(file)}


def test_a_short_headless_load_logs_professionals_into_the_webapp(tmp_path: Path) -> None:
    """20 users for 10 s, a fifth of the pushes refused and a tenth ignored: every login ends as its
    answer says (the refusals reach the app's callback as access_denied, the ignored ones stay on
    PSC's waiting page), and the app holds a session per approval."""
    example = load_example()
    with WorldHost(cards=False) as world:
        pki = world.world.pki
        assert pki is not None
        settings = example.Settings(
            issuer=world.issuer, client_id="charge", client_secret="s3cret-charge", redirect_uri="",
            transport=lambda: WorldTransport(world.resolve(), pki.server.client_context()),
        )  # fmt: skip
        app = example.make_app(settings)
        site = world.run(start_site("psc-webapp", app))
        try:
            settings.redirect_uri = site.url + "/callback"
            description = tmp_path / "world.json"
            description.write_text(json.dumps(world.world.describe()), encoding="utf-8")
            done = subprocess.run(
                [sys.executable, "-m", "harness.cli.main", "load", "--world", str(description),
                 "--target", site.url, "--users", "20", "--spawn-rate", "20", "--run-time", "10s",
                 "--think", "0.2", "--refuse", "0.2", "--ignore", "0.1", "--headless", "--csv", str(tmp_path / "run"),
                 "--client-id", "charge", "--client-secret", "s3cret-charge", "--redirect-uri", settings.redirect_uri],
                capture_output=True, text=True, timeout=LOAD_TIMEOUT, check=False, env={**os.environ},
            )  # fmt: skip
            sessions: dict[str, dict[str, Any]] = app[example.SESSIONS]
            logged_in = [s["user"] for s in sessions.values() if "user" in s]
            directory = world.world.state.directory.all()
        finally:
            world.run(site.stop())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "login approved" in done.stdout + done.stderr  # Locust's own table
    rows = stats(tmp_path / "run")
    counts = {answer: int(rows[f"login {answer}"]["Request Count"]) for answer in ("approved", "refused", "ignored")}
    assert min(counts.values()) > 0 and sum(counts.values()) >= 20  # every user logged in at least once
    assert rows["Aggregated"]["Failure Count"] == "0"
    approved = rows["login approved"]
    # the app really logged them in: one session per approved login, each a professional of the directory
    assert len(logged_in) >= int(approved["Request Count"])
    generated = {p.national_id for p in directory}
    assert {user["SubjectNameID"] for user in logged_in} <= generated and len(generated) == 20


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["--users", "2"], "--target URL is required"),
        (["--target", "ftp://x"], "an http(s) URL with no path"),
        (["--target", "http://127.0.0.1:8000", "--refuse", "0.7", "--ignore", "0.5"], "add up to more than 1"),
        (["--target", "http://127.0.0.1:8000", "--csv", "out"], "--csv goes with --headless"),
        (["--worker", "--master-host", "127.0.0.1"], "--worker needs --world FILE"),
        (["--target", "http://127.0.0.1:8000", "--client-id", "x"], "go together"),
        (["--target", "http://127.0.0.1:8000", "--world", "/nonexistent/world.json"], "No such file"),
    ],
)
def test_bad_arguments_exit_2_with_the_fix(arguments: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["load", *arguments]) == 2
    assert says in capsys.readouterr().out


@pytest.mark.parametrize("arguments", [["--users", "0"], ["--refuse", "1.5"], ["--run-time", "ten"]])
def test_argparse_refuses_values_out_of_range(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["load", "--target", "http://127.0.0.1:8000", *arguments])
    assert exit_.value.code == 2 and "error: argument" in capsys.readouterr().err


def test_generated_professionals_are_valid_and_distinct_across_workers() -> None:
    serials = [serial_for(w, n) for w in (0, 1, 98) for n in (0, 1, 2, 3, BLOCK - 1)]
    people = [professional(s) for s in serials]
    assert len({p.national_id for p in people}) == len({p.device for p in people}) == len(serials)
    for person in people:
        rpps, adeli = person.record.get("rpps"), person.record.get("adeli")
        assert identifiers.valid_rpps(rpps) if rpps else identifiers.valid_adeli(adeli)
        assert person.national_id == identifiers.national_id(rpps=rpps, adeli=adeli)
    assert any("adeli" in p.record for p in people) and any("rpps" in p.record for p in people)


def test_without_locust_it_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("harness.cli.load.find_spec", lambda name: None)
    assert main(["load", "--target", "http://127.0.0.1:8000", "--headless"]) == 2
    assert "pip install 'cps-harness[load]'" in capsys.readouterr().out


@pytest.mark.parametrize(("refuse", "ignore"), [(0.2, 0.1), (0.05, 0.02), (0.3, 0.7), (1.0, 0.0), (0.0, 0.0)])
def test_the_phones_answers_hold_the_shares_over_any_run(refuse: float, ignore: float) -> None:
    for start, count in ((0, 100), (7, 40), (123, 1000)):
        answers = [answer_for(i, refuse, ignore) for i in range(start, start + count)]
        assert abs(answers.count("refused") - refuse * count) <= 1
        assert abs(answers.count("ignored") - ignore * count) <= 2
