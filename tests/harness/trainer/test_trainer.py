"""Trainer mode: ``serve --scenario`` (a world in a scenario's state), ``--pause-at`` (held on a step), ``demo``.

The CLI runs as a subprocess, as a trainer runs it; every wait has a deadline, and a test that
fails stops the process with SIGTERM (which stops its pcscd and browser) before anything harsher.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from PIL import Image

from harness.cli.main import main as cli_main
from harness.middleware import OPENSC_MODULE
from harness.scenario.loader import find, load
from harness.scenario.model import Scenario
from harness.scenario.player import Event, Result
from harness.trainer.demo import write_slides
from harness.trainer.serve import staging_steps

pytestmark = pytest.mark.pcsc
SHA256_DIGEST_INFO = bytes.fromhex("3031300D060960864801650304020105000420") + bytes(32)
WAIT = 60.0
"""Seconds any one wait may take (a world starts in about one)."""


class Cli:
    """``python -m harness.cli ARGS`` with a pipe on stdin; stdout read line by line in a thread."""

    def __init__(self, *args: str, stderr: Path) -> None:
        self.stderr = stderr.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "harness.cli", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.stderr, text=True, env={**os.environ, "COLUMNS": "200"},
        )  # fmt: skip
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, wanted: Callable[[str], bool], timeout: float = WAIT) -> str:
        """The first line (from now on) that ``wanted`` accepts."""
        while True:
            try:
                line = self._queue.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"nothing wanted within {timeout} s; output so far: {self.lines}") from None
            if line is None:
                raise AssertionError(f"the command ended (exit {self.process.poll()}); output: {self.lines}")
            self.lines.append(line)
            if wanted(line):
                return line

    def press_enter(self) -> int:
        assert self.process.stdin is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        return self.process.wait(timeout=WAIT)

    def stop(self) -> None:
        """SIGTERM first (the command stops its world), SIGKILL only if it does not end."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=WAIT)
        self.stderr.close()


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Callable[..., Cli]]:
    started: list[Cli] = []

    def start(*args: str) -> Cli:
        started.append(Cli(*args, stderr=tmp_path / f"stderr-{len(started)}.txt"))
        return started[-1]

    yield start
    for command in started:
        command.stop()


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=WAIT) as reply:  # the admin API: plain HTTP on loopback
        return json.loads(reply.read())


def curl(url: str, ca_bundle: str) -> str:
    """GET a site of the world by its real host name, as a browser started with the printed rules would."""
    parsed = urlparse(url)
    result = subprocess.run(
        ["curl", "-sS", "--cacert", ca_bundle, "--resolve", f"{parsed.hostname}:{parsed.port}:127.0.0.1", url],
        capture_output=True, text=True, timeout=WAIT, check=True,
    )  # fmt: skip
    return result.stdout


def scenario(scenario_id: str) -> Scenario:
    loaded, problems = load(find([scenario_id]))
    assert problems == [] and len(loaded) == 1
    return loaded[0][1]


# -- serve --scenario: the world in the scenario's state ------------------------------------------------
def test_staging_stops_before_the_first_browser_or_phone_step() -> None:
    assert staging_steps(scenario("G6-02")) == 2  # card.insert, card.fault
    assert staging_steps(scenario("G2-04")) == 0  # the browser opens the wallet at once
    assert staging_steps(scenario("G4-02")) == 1  # sidep.account
    assert staging_steps(scenario("GC-02")) == 7  # PIN blocked and unblocked through the middleware


def test_serve_g6_02_leaves_a_card_that_fails_its_signature(cli: Callable[..., Cli], tmp_path: Path) -> None:
    command = cli("serve", "--scenario", "G6-02", "--json")
    info = json.loads(command.wait_for(lambda line: line.startswith("{")))
    assert [(s["action"], s["ok"]) for s in info["played"]] == [("card.insert", True), ("card.fault", True)]
    assert info["next"]["step"] == 3 and info["next"]["action"] == "browser.card_open"
    assert info["next"]["url"] == info["sites"]["testssl"] + "/"
    assert "ERR_SSL_CLIENT_AUTH_SIGNATURE_FAILED" in info["next"]["say"]

    # the card in reader 0 is the scenario's: OpenSC through the printed socket cannot sign with it
    (tmp_path / "di.bin").write_bytes(SHA256_DIGEST_INFO)
    signed = subprocess.run(
        ["pkcs11-tool", "--module", OPENSC_MODULE, "--login", "--pin", "1234", "-m", "RSA-PKCS", "--sign",
         # by id: pkcs11-tool --sign ignores --label and would take the first key, CPS_PRIV_SIG
         "--id", "e828bd080f8025000001ff001002", "-i", str(tmp_path / "di.bin"), "-o", str(tmp_path / "sig.bin")],
        env={**os.environ, "PCSCLITE_CSOCK_NAME": info["PCSCLITE_CSOCK_NAME"]},
        capture_output=True, text=True, timeout=WAIT,
    )  # fmt: skip
    assert signed.returncode != 0, signed.stdout
    assert any("INTERNAL AUTHENTICATE -> 6F00" in line for line in get(info["admin"] + "/admin/cards/0/log"))
    assert get(info["admin"] + "/admin/cards")[0]["codes"]["pin"]["tries_left"] == 3

    assert command.press_enter() == 0
    assert not Path(info["PCSCLITE_CSOCK_NAME"]).exists(), "pcscd was not stopped"


def test_serve_g6_06_caps_test_ssl_at_tls_1_3(cli: Callable[..., Cli]) -> None:
    command = cli("serve", "--scenario", "G6-06", "--json")
    info = json.loads(command.wait_for(lambda line: line.startswith("{")))
    assert get(info["admin"] + "/admin/testssl") == {"tls_max": "1.3"}
    started = dt.datetime.fromisoformat(info["clock"]) - dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
    assert dt.timedelta(0) <= started < dt.timedelta(minutes=1), "the scenario's start, the clock running since"
    assert command.press_enter() == 0


# -- --pause-at: the world held on a step's screen ------------------------------------------------------
def test_pause_at_holds_the_world_on_the_step_until_enter(cli: Callable[..., Cli]) -> None:
    """G6-06 step 3 of 5: Test SSL still takes TLS 1.3 (step 4 would cap it) and shows its screen to anyone."""
    command = cli("serve", "--scenario", "G6-06", "--pause-at", "3")
    stopped = command.wait_for(lambda line: line.startswith("Stopped after"))
    assert "step 3 of 5 (browser.card_open): screen aucun-certificat, HTTP 200" in stopped
    url = command.wait_for(lambda line: line.startswith("URL: ")).removeprefix("URL: ")
    command.wait_for(lambda line: "Enter or Ctrl-C" in line)
    output = "\n".join(command.lines)
    bundle = re.search(r"^CA bundle: (\S+)$", output, re.M)
    admin = re.search(r"│ admin\s+│ (http://\S+)", output)
    assert bundle and admin, output

    assert 'data-screen="aucun-certificat"' in curl(url, bundle.group(1))
    assert get(admin.group(1) + "/admin/testssl") == {"tls_max": "1.3"}
    assert [line for line in command.lines if line.startswith(("✔", "✘"))] == [
        "✔ 1 card.insert: alain's card (doctor, valid) in reader 0",
        "✔ 2 testssl.tls_max: testssl accepts TLS up to 1.3",
        "✔ 3 browser.card_open: testssl/ with alain's card",
    ]
    assert command.press_enter() == 0
    assert command.wait_for(lambda line: line == "world stopped")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--scenario", "G6-02", "--pause-at", "4"], "G6-02 has steps 1 to 3"),
        (["--scenario", "G9-99"], "no scenario file or id 'G9-99'"),
        (["--scenario", "G6"], "names 6 scenario files"),
        (["--scenario", "G6-02", "--driver", "chromium"], "go with --pause-at"),
        (["--pause-at", "2"], "go with --scenario"),
    ],
)
def test_serve_refuses_what_it_cannot_do(args: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["serve", *args]) == 2
    assert says in " ".join(capsys.readouterr().out.split())


# -- say: and demo ----------------------------------------------------------------------------------------
def test_say_is_optional_and_a_wrong_one_names_file_line_and_field(tmp_path: Path) -> None:
    head = "id: G2-08\ntitle: t\nguide: g\nsteps:\n  - clock.advance: 1h\n"
    good, bad = tmp_path / "G2-08-a.yaml", tmp_path / "G2-08-b.yaml"
    good.write_text(head + "    say: Le temps passe.\n  - clock.advance: 1h\n")
    bad.write_text(head + "    say: [deux, phrases]\n")
    (loaded, problems) = load([good, bad])
    assert [s.steps[0].say for _, s in loaded] == ["Le temps passe."]
    assert loaded[0][1].steps[1].say is None
    assert len(problems) == 1 and problems[0].startswith(f"{bad}:6: steps.1.say: "), problems


def test_the_five_trainer_scenarios_carry_the_guides_words() -> None:
    for scenario_id in ("G2-04", "G3-04", "G6-01", "G6-02", "G6-06"):
        steps = scenario(scenario_id).steps
        assert all(step.say for step in steps), scenario_id
    assert "ne sont pas présents dans le RPPS" in (scenario("G2-04").steps[1].say or "")


def test_slides_without_a_run_show_unplayed_steps_and_the_actions_words(tmp_path: Path) -> None:
    """A step that failed stops the deck's story; later steps still get a slide, marked as not played."""
    g6_06 = scenario("G6-06")
    bare = g6_06.model_copy(update={"steps": [s.model_copy(update={"say": None}) for s in g6_06.steps]})
    failed = Event(1, "card.insert", "card.insert", False, 0.1, failure="StepFailed: no reader")
    page = write_slides(Result(bare, Path("x.yaml"), [failed], 0.1, "chromium"), tmp_path)
    html = page.read_text(encoding="utf-8")
    assert html.count('class="slide step"') == 5
    assert "StepFailed: no reader" in html and html.count("étape non jouée") == 4
    assert "✘ L'étape a échoué :</span> La carte CPS du professionnel est insérée dans le lecteur" in html
    # no say: the French words of the action
    assert '<p class="what">Test SSL n&#39;accepte TLS que jusqu&#39;à la version 1.3</p>' in html


@pytest.mark.e2e
def test_demo_writes_one_slide_per_step_with_chromiums_screenshots(tmp_path: Path) -> None:
    out = tmp_path / "slides"
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "demo", "G6-02", "--out", str(out)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    html = (out / "index.html").read_text(encoding="utf-8")
    steps = yaml.safe_load(Path(find(["G6-02"])[0]).read_text(encoding="utf-8"))["steps"]
    assert html.count('class="slide step"') == len(steps) == 3
    assert html.count('class="slide title"') == 1
    assert list(out.iterdir()) == [out / "index.html"], "the slides are one file"
    pictures = re.findall(r'<img src="data:image/webp;base64,([^"]+)"', html)
    assert len(pictures) == 1  # only the browser step has a screen: Chromium's error page
    with Image.open(io.BytesIO(base64.b64decode(pictures[0]))) as picture:
        assert picture.format == "WEBP" and picture.width == 1024
    assert "Contactez alors votre support de l&#39;Agence du Numérique en Santé" in html  # the step's say:
    # the footer says what happened in French, from its cause; the raw error is folded away
    said = "la connexion sécurisée a échoué : la carte n&#39;a pas pu signer (ERR_SSL_CLIENT_AUTH_SIGNATURE_FAILED)"
    footer = html.split('id="step-3"')[1].split("<details>")[0]
    assert said in footer, footer


def test_demo_in_firefox_shows_its_own_pin_dialog(tmp_path: Path) -> None:
    """``demo --driver firefox``: the card step's slide shows Firefox's PIN dialog (a photograph of the
    private screen), then the page it opened; the title slide names the browser."""
    out = tmp_path / "slides"
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "demo", "G6-01", "--driver", "firefox", "--out", str(out)],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "navigateur : firefox" in html
    card_slide = html.split('id="step-2"')[1]
    pictures = re.findall(r'<img src="data:image/webp;base64,([^"]+)"', card_slide)
    assert len(pictures) == 2, "the PIN dialog, then the page"
    with Image.open(io.BytesIO(base64.b64decode(pictures[0]))) as dialog:
        screen = dialog.size
    with Image.open(io.BytesIO(base64.b64decode(pictures[1]))) as page:
        assert page.width == 1024 and page.size != screen  # the page under its bar, not the whole screen
