"""cps-harness as its users install it: the wheel, in a fresh virtual environment outside the repository.

Built with the project's own backend (an isolated ``pip wheel``), installed without ``-e`` into a
venv in a temporary folder, and every command run from another folder, so nothing can come from
the clone: the packaged catalogue (41 scenarios, personas, schema), card profiles, the Chromium
helper's C source. No command may print a warning (authlib's httpx deprecation notice was one).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import REPO

pytestmark = pytest.mark.slow
INSTALL_TIMEOUT = 600.0
RUN_TIMEOUT = 300.0


class Installed:
    def __init__(self, root: Path, wheel: Path) -> None:
        self.root, self.wheel = root, wheel
        self.bin = root / "venv" / "bin"
        self.cwd = root / "ailleurs"
        self.cwd.mkdir()

    def env(self) -> dict[str, str]:
        drop = ("PYTHONPATH", "VIRTUAL_ENV", "PYTEST_XDIST_WORKER", "PYTEST_CURRENT_TEST")
        env = {k: v for k, v in os.environ.items() if k not in drop}
        return {**env, "PATH": f"{self.bin}{os.pathsep}{env.get('PATH', '')}", "COLUMNS": "160"}

    def run(self, *args: str, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "cps-harness"), *args], cwd=self.cwd, env=self.env(), capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip

    def pip(self, *args: str) -> None:
        subprocess.run(
            [str(self.bin / "python"), "-m", "pip", "install", "-q", *args], cwd=self.cwd, env=self.env(),
            capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=True,
        )  # fmt: skip


def no_warning(result: subprocess.CompletedProcess[str]) -> None:
    text = result.stdout + result.stderr
    assert "Warning" not in text and "Traceback" not in text, text[-3000:]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("wheel-user")
    dist = root / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(REPO)],
        capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=True,
    )  # fmt: skip
    (wheel,) = dist.glob("cps_harness-*.whl")
    subprocess.run(
        [sys.executable, "-m", "venv", str(root / "venv")], capture_output=True, timeout=INSTALL_TIMEOUT, check=True
    )
    user = Installed(root, wheel)
    user.pip(str(wheel))
    yield user


def test_the_wheel_ships_the_catalogue_and_every_data_file(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    scenarios = sorted(p.name for p in (REPO / "scenarios").glob("*.yaml"))
    assert {f"harness/catalogue/{name}" for name in scenarios} <= names
    personas = {f"harness/catalogue/personas/{p.name}" for p in (REPO / "scenarios" / "personas").glob("*.yaml")}
    assert personas <= names and "harness/catalogue/schema.json" in names
    assert {"harness/drivers/p11autologin.c", "harness/pcsc/vpcd_guard.c", "harness/pcsc/vpcd_loopback.c"} <= names
    assert {f"harness/card/profiles/{p.name}" for p in (REPO / "harness" / "card" / "profiles").glob("*.yaml")} <= names
    web = REPO / "simulators" / "web"
    site_files = [*(web / "templates").glob("*.html"), *(web / "static").glob("*.css")]
    assert len(site_files) > 20 and {f"simulators/web/{p.parent.name}/{p.name}" for p in site_files} <= names
    runtime = subprocess.run(
        [str(installed.bin / "python"), "-m", "pip", "list", "--format=json"], capture_output=True, text=True,
        check=True, timeout=60,
    )  # fmt: skip
    packages = {p["name"].lower() for p in json.loads(runtime.stdout)}
    assert not packages & {"playwright", "mypy", "tox", "pytest-asyncio", "schemathesis"}, packages


def test_every_scenario_passes_from_the_installed_package(installed: Installed) -> None:
    result = installed.run("run", "-j", "4", "--report", str(installed.root / "rapport"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    count = len(list((REPO / "scenarios").glob("*.yaml")))
    assert f"{count}/{count} scenarios passed" in result.stdout
    no_warning(result)


def test_card_run_serve_and_diagnose_from_the_installed_package(installed: Installed) -> None:
    ready = installed.run("setup", "--dry-run")
    assert ready.returncode == 0 and "nothing to install" in ready.stdout, ready.stdout + ready.stderr
    card = installed.run("card", "run", "--", "pkcs15-tool", "-D")
    assert card.returncode == 0 and "PKCS#15 Card [CPS3v3-TEST]" in card.stdout, card.stdout + card.stderr
    no_warning(card)
    diagnosis = installed.run("diagnose", "--json")
    assert diagnosis.returncode == 0 and json.loads(diagnosis.stdout)["ok"] is True, diagnosis.stdout[-2000:]
    no_warning(diagnosis)
    serve = subprocess.Popen(
        [str(installed.bin / "cps-harness"), "serve", "--json"], cwd=installed.cwd, env=installed.env(),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert serve.stdout is not None
        line = serve.stdout.readline()  # one line, the world up; then stopped by its PID
        info = json.loads(line)
        assert Path(info["ca_bundle"]).is_file() and info["proxy"].startswith("http://127.0.0.1:")
    finally:
        serve.send_signal(signal.SIGTERM)
        out, err = serve.communicate(timeout=30)
    assert serve.returncode == 0, err
    assert "Warning" not in out + err and "Traceback" not in out + err, err


def test_check_a_users_own_folder_with_its_personas(installed: Installed) -> None:
    mine = installed.cwd / "mes-scenarios"
    (mine / "personas").mkdir(parents=True)
    original = (REPO / "scenarios" / "G5-01-connexion-e-cps.yaml").read_text(encoding="utf-8")
    (mine / "G5-80-mon-medecin.yaml").write_text(
        original.replace("id: G5-01", "id: G5-80").replace("medecin-alain", "mon-medecin"), encoding="utf-8"
    )
    shutil.copy(REPO / "scenarios" / "personas" / "medecin-alain.yaml", mine / "personas" / "mon-medecin.yaml")
    shutil.copy(REPO / "scenarios" / "G5-02-mot-de-passe-e-cps-faux.yaml", mine)  # the packaged medecin-alain
    checked = installed.run("check", "mes-scenarios")
    assert checked.returncode == 0 and "2 scenario files valid, 0 problems" in checked.stdout, checked.stdout
    played = installed.run("run", "mes-scenarios", "--report", str(installed.root / "rapport-perso"))
    assert played.returncode == 0 and "2/2 scenarios passed" in played.stdout, played.stdout[-3000:]
    no_warning(played)


def test_chromium_asks_for_its_extra_then_plays_a_card_scenario(installed: Installed) -> None:
    without = installed.run("run", "--driver", "chromium", "G6-02")
    assert without.returncode == 2, without.stdout + without.stderr
    assert "pip install 'cps-harness[chromium]'" in without.stdout, without.stdout
    no_camera = installed.run("run", "--screenshots", "G2-04", "--report", str(installed.root / "rapport-photos"))
    assert no_camera.returncode == 2 and "pip install 'cps-harness[chromium]'" in no_camera.stdout, no_camera.stdout
    installed.pip(f"{installed.wheel}[chromium]")
    played = installed.run("run", "--driver", "chromium", "G6-02", "--report", str(installed.root / "rapport-chromium"))
    assert played.returncode == 0 and "1/1 scenarios passed" in played.stdout, played.stdout[-3000:] + played.stderr
    no_warning(played)


def test_the_external_project_example_passes_with_the_installed_plugin(installed: Installed) -> None:
    """examples/external_project, copied outside the repository: its tests find the fixtures through
    the installed plugin's entry point, with no conftest.py, and pytest reports no warning."""
    project = installed.root / "mon-outil-cps"
    shutil.copytree(REPO / "examples" / "external_project", project, ignore=shutil.ignore_patterns("__pycache__"))
    installed.pip("pytest>=8")
    result = subprocess.run(
        [str(installed.bin / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project,
        env=installed.env(), capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "4 passed" in result.stdout and "warning" not in result.stdout.lower(), result.stdout[-3000:]


def test_the_sdist_builds_a_wheel_with_the_same_files(installed: Installed) -> None:
    """The sdist carries the catalogue as files (the repository's link is followed), so a wheel built
    from it — as pip does from an index without wheels — holds exactly what the direct wheel holds."""
    sdists = installed.root / "sdist"
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "-o", str(sdists), str(REPO)], capture_output=True, text=True,
        timeout=INSTALL_TIMEOUT, check=True,
    )  # fmt: skip
    (sdist,) = sdists.glob("cps_harness-*.tar.gz")
    rebuilt = installed.root / "from-sdist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(rebuilt), str(sdist)],
        capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=True,
    )  # fmt: skip
    (wheel,) = rebuilt.glob("cps_harness-*.whl")
    files = {name for name in zipfile.ZipFile(wheel).namelist() if ".dist-info/" not in name}
    direct = {name for name in zipfile.ZipFile(installed.wheel).namelist() if ".dist-info/" not in name}
    assert files == direct and "harness/catalogue/G2-04-coordonnees-absentes.yaml" in files
