"""examples/ci: the shell snippet really runs scenarios and leaves the reports; the YAML is valid."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.support.paths import REPO

CI = REPO / "examples" / "ci"


def test_github_actions_file_runs_the_main_command_and_publishes_both_reports() -> None:
    workflow = yaml.safe_load((CI / "github-actions.yml").read_text())
    steps = workflow["jobs"]["scenarios"]["steps"]
    assert any("./bootstrap.sh run" in step.get("run", "") for step in steps)
    published = {step["with"]["path"] for step in steps if "with" in step}
    assert published == {"cps-harness/reports/junit.xml", "cps-harness/reports/report.html"}


def test_run_sh_replays_scenarios_and_leaves_the_reports(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    done = subprocess.run([str(CI / "run.sh"), str(out), "G2-04", "G4-01"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "2/2 scenarios passed" in done.stdout
    assert f"JUnit XML: {out}/junit.xml" in done.stdout
    assert (out / "junit.xml").exists() and (out / "report.html").exists()
