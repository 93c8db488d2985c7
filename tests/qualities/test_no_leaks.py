"""Results are never lost and nothing leaks, whichever way a command ends.

Each command runs in a child process with a temporary directory of its own (``TMPDIR``), so that
what it leaves there is its own and nobody else's sweep can take it first; its processes are
found below it in ``/proc``. Waits poll with a deadline; no assertion is about time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.lifetime import owner_tag, process_start, sweep
from tests.support.processes import command_line, descendants, running, still_running, wait_until

pytestmark = pytest.mark.pcsc

START_TIMEOUT = 120.0
"""Seconds a command may take to reach the state a test interrupts it in (a loaded machine)."""
EXIT_TIMEOUT = 60.0
GONE_TIMEOUT = 15.0
"""Seconds the kernel's parent-death signals and the processes' own exits may take."""
SLOW_CARD = """\
id: ZZ-01
title: Une carte qui met une seconde à répondre à chaque commande
guide: tests
world: {cards: true}
personas:
  alain: {from: medecin-alain}
steps:
  - card.insert: {persona: alain}
  - card.fault: {apdu_delay_ms: 1000}
  - card.verify_pin: "1234"
"""
"""A scenario whose third step lasts (pkcs11-tool's dozens of APDUs, a second each): what runs
while a test interrupts the run. Its file name sorts after the catalogue's, so with ``-j 1`` it
starts once G2-01 has finished."""


@pytest.fixture
def own_tmp() -> Iterator[Path]:
    """A temporary directory for one command alone (short: pcscd's socket path must fit 108 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="t-"))
    yield path
    sweep(path)  # what a killed command left, as its next command would
    leftovers = sorted(p.name for p in path.glob("cps-*") if p.name != f"cps-harness-{os.getuid()}-public")
    for entry in path.iterdir():  # the shared CA bundle cache (kept on purpose), Chromium's own temp files
        subprocess.run(["rm", "-rf", str(entry)], check=True, timeout=60)
    path.rmdir()
    assert leftovers == [], "private folders of a live owner left behind"


def private_folders(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.glob("cps-*") if p.name != f"cps-harness-{os.getuid()}-public")


def _as_in_a_terminal() -> None:
    """Ctrl-C's signal handled as in a terminal. A suite started in the background (``cmd &`` in a
    script, as a CI runner may) ignores SIGINT, the child would inherit that, and Python installs no
    KeyboardInterrupt handler for an ignored signal: seen in a fresh-clone run, a 60 s timeout."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Command:
    """``cps-harness ARGS`` in a child, its output in a file, its temporary directory ``tmp``."""

    def __init__(self, *args: str, tmp: Path, cache: Path, display: bool = True) -> None:
        env = {**os.environ, "TMPDIR": str(tmp), "CPS_HARNESS_CACHE": str(cache), "COLUMNS": "200"}
        if not display:
            env.pop("DISPLAY", None)  # a private Xvfb, whatever the machine has
        self.output = tmp.parent / f"{tmp.name}.out"
        with self.output.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "harness.cli", *args], env=env, stdout=out, stderr=subprocess.STDOUT,
                preexec_fn=_as_in_a_terminal,
            )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.process.pid

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_for_process(self, wanted: str) -> list[int]:
        """Wait until a process below the command has ``wanted`` in its command line; then every
        process below it."""

        def started() -> bool:
            return any(wanted in " ".join(command_line(pid)) for pid in descendants(self.pid) if running(pid))

        if not wait_until(started, START_TIMEOUT):
            self.process.kill()
            self.process.wait(EXIT_TIMEOUT)
            pytest.fail(f"no {wanted!r} below the command within {START_TIMEOUT:.0f} s; output:\n{self.text()}")
        return descendants(self.pid)

    def stop(self, signum: int) -> int:
        self.process.send_signal(signum)
        return self.process.wait(EXIT_TIMEOUT)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(EXIT_TIMEOUT)
        self.output.unlink(missing_ok=True)


@pytest.fixture
def command(own_tmp: Path, pki_cache: Path) -> Iterator[type[Command]]:
    started: list[Command] = []

    class Started(Command):
        def __init__(self, *args: str, display: bool = True) -> None:
            super().__init__(*args, tmp=own_tmp, cache=pki_cache, display=display)
            started.append(self)

    yield Started
    for one in started:
        one.close()


# -- results are never lost -------------------------------------------------------------------------------
def test_a_report_folder_that_is_a_file_is_refused_before_anything_runs(tmp_path: Path, pki_cache: Path) -> None:
    """It used to run every scenario, then end on FileExistsError with neither report nor JUnit file."""
    taken = tmp_path / "report"
    taken.write_text("someone's file\n")
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "G2-01", "--report", str(taken)],
        env={**os.environ, "CPS_HARNESS_CACHE": str(pki_cache), "COLUMNS": "200"},
        capture_output=True, text=True, timeout=EXIT_TIMEOUT,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"✘ --report {taken}: is a file, not a folder" in done.stdout
    assert "nothing ran" in done.stdout
    assert "G2-01" not in done.stdout and "Traceback" not in done.stderr
    assert taken.read_text() == "someone's file\n"


def test_a_report_file_name_taken_by_a_folder_is_refused_before_anything_runs(tmp_path: Path) -> None:
    (tmp_path / "junit.xml").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "G2-01", "--report", str(tmp_path)],
        env={**os.environ, "COLUMNS": "200"}, capture_output=True, text=True, timeout=EXIT_TIMEOUT,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{tmp_path / 'junit.xml'} exists and is not a file" in done.stdout
    assert not (tmp_path / "report.html").exists()


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_writes_the_report_of_what_finished_marked_partial(
    command: type[Command], tmp_path: Path, signum: signal.Signals, code: int
) -> None:
    """Ctrl-C used to stop the run cleanly and write nothing of what had finished."""
    slow = tmp_path / "ZZ-01-carte-lente.yaml"
    slow.write_text(SLOW_CARD)
    report = tmp_path / "report"
    run = command("run", "G2-01", str(slow), "-j", "1", "--report", str(report))
    run.wait_for_process("pkcs11-tool")  # G2-01 has finished, ZZ-01 is in its third step
    assert run.stop(signum) == code, run.text()
    assert f"partial report ({signum.name}): 1 of 2 scenarios finished, 1 passed" in run.text()
    assert f"interrupted ({signum.name}); everything started was stopped" in run.text()

    suite = ET.parse(report / "junit.xml").getroot()
    assert {p.get("name"): p.get("value") for p in suite.iter("property")} == {
        "partial": "true",
        "interrupted-by": signum.name,
    }
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
        "2",
        "0",
        "0",
        "1",
    )
    finished, unfinished = suite.findall("testcase")
    assert finished.get("name", "").startswith("G2-01 ") and list(finished) == []
    [skipped] = list(unfinished)
    assert unfinished.get("name", "").startswith("ZZ-01 ") and skipped.tag == "skipped"
    assert skipped.get("message") == (
        f"not run to its end: the run was interrupted ({signum.name}); stopped after step 2 of 3"
    )

    html = (report / "report.html").read_text(encoding="utf-8")
    assert "<title>cps-harness — rapport partiel (run interrompu)</title>" in html
    assert f"<strong>Rapport partiel</strong> : le run a été interrompu ({signum.name})" in html
    assert "1 scénario(s) sur 2 terminé(s)" in html and "1/2 réussis, 1 non joués (run interrompu)" in html
    assert '<span class="notrun">NON JOUÉ</span> (arrêté après l&#39;étape 2 sur 3)' in html
    assert 'href="#G2-01"' in html and 'id="G2-01"' in html  # what finished keeps its timeline


# -- nothing leaks ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "running_below", "signum", "code"),
    [
        (["run", "ZZ-01"], "pkcs11-tool", signal.SIGINT, 130),
        (["run", "ZZ-01"], "pkcs11-tool", signal.SIGTERM, 143),
        (["card", "run", "--", "sleep", "600"], "sleep", signal.SIGTERM, 143),
    ],
    ids=["run-SIGINT", "run-SIGTERM", "card-run-SIGTERM"],
)
def test_an_interrupted_command_leaves_no_private_folder_nor_process(
    command: type[Command], own_tmp: Path, tmp_path: Path, args: list[str], running_below: str,
    signum: signal.Signals, code: int,
) -> None:  # fmt: skip
    """SIGTERM used to kill a command on the spot: its ``cps-pcsc-*`` folder (socket, log, config)
    and its others stayed; ``card run``'s own command went on without its card."""
    if args[0] == "run":
        slow = tmp_path / "ZZ-01-carte-lente.yaml"
        slow.write_text(SLOW_CARD)
        args = ["run", str(slow), "--report", str(tmp_path / "report")]
    started = command(*args)
    below = started.wait_for_process(running_below)
    assert any(name.startswith("cps-pcsc-") for name in private_folders(own_tmp))
    assert started.stop(signum) == code, started.text()
    assert private_folders(own_tmp) == []
    assert still_running(below, GONE_TIMEOUT) == []


@pytest.mark.parametrize(
    ("args", "display", "running_below"),
    [
        (["run", "ZZ-01"], True, "pkcs11-tool"),
        pytest.param(
            ["run", "G3-04", "--driver", "chromium", "--headful"], False, "--user-data-dir=", marks=pytest.mark.e2e
        ),
    ],
    ids=["protocol-card", "chromium-headful"],
)
def test_a_killed_command_leaves_no_process_and_its_folders_are_swept(
    command: type[Command], own_tmp: Path, tmp_path: Path, args: list[str], display: bool, running_below: str
) -> None:
    """SIGKILL runs nothing of ours: what the command started must die with it (the kernel's
    parent-death signal, or its own end of input). A headful run's private Xvfb used to survive,
    adopted by init. Its folders stay until the next command sweeps them."""
    if args[1] == "ZZ-01":
        slow = tmp_path / "ZZ-01-carte-lente.yaml"
        slow.write_text(SLOW_CARD)
        args = ["run", str(slow)]
    started = command(*args, "--report", str(tmp_path / "report"), display=display)
    below = started.wait_for_process(running_below)
    names = {" ".join(command_line(pid)).split(" ")[0].rsplit("/", 1)[-1] for pid in below}
    assert {"pcscd"} <= names and ("Xvfb" in names) == (not display), names
    assert started.stop(signal.SIGKILL) == -signal.SIGKILL
    assert still_running(below, GONE_TIMEOUT) == []
    left = private_folders(own_tmp)
    assert {name.split("-")[1] for name in left} == {"run", "pcsc"}
    assert all(f"-{started.pid}-" in name for name in left)
    assert sorted(p.name for p in sweep(own_tmp)) == left


def test_a_stale_folder_of_a_dead_owner_is_swept_by_the_next_command(own_tmp: Path, pki_cache: Path) -> None:
    """Folders record their owner (PID and start time); the next command removes those whose owner is
    gone, and nothing else: other worlds, commands and xdist workers share the directory."""
    gone = subprocess.Popen(["sleep", "600"])
    start = process_start(gone.pid)
    gone.kill()
    gone.wait(EXIT_TIMEOUT)
    stale = own_tmp / f"cps-pcsc-{gone.pid}-{start}-abcd1234"
    reused = own_tmp / f"cps-run-{os.getpid()}-{(process_start(os.getpid()) or 0) + 1}-abcd1234"  # the PID reused
    live = own_tmp / f"cps-pcsc-{owner_tag()}-abcd1234"  # this test's own: it runs
    others = [
        own_tmp / "cps-pcsc-8vmz2ai2",  # no owner recorded (an older version's): cannot be told stale
        own_tmp / f"cps-harness-{os.getuid()}-public",  # a shared cache
    ]
    for folder in (stale, reused, live, *others):
        folder.mkdir()
        (folder / "pcscd.log").write_text("log\n")
    a_file = own_tmp / f"cps-run-{gone.pid}-{start}-abcd5678"
    a_file.write_text("not a folder of ours\n")
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "check", "G2-01"],
        env={**os.environ, "TMPDIR": str(own_tmp), "CPS_HARNESS_CACHE": str(pki_cache)},
        capture_output=True, text=True, timeout=EXIT_TIMEOUT,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert not stale.exists() and not reused.exists()
    assert live.is_dir() and all(folder.is_dir() for folder in others) and a_file.is_file()
    for folder in (live, *others):
        subprocess.run(["rm", "-rf", str(folder)], check=True, timeout=60)
    a_file.unlink()
