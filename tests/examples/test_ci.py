"""examples/ci: the shell snippet really runs scenarios and leaves the reports; the YAML is valid; the
sharded examples' commands are run as written (two shards, then the merge)."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import yaml

from harness.scenario.record import RunRecord
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


def sharded_commands() -> tuple[int, str, str]:
    """(shards, the shard job's command, the merge job's command) of both sharded examples, which must
    agree: GitHub's matrix expressions read as GitLab's ``CI_NODE_*`` variables give GitLab's commands."""
    github = yaml.safe_load((CI / "github-actions-shards.yml").read_text())
    gitlab = yaml.safe_load((CI / "gitlab-ci.yml").read_text())
    shards_job, report_job = github["jobs"]["shards"], github["jobs"]["report"]
    matrix = shards_job["strategy"]["matrix"]["shard"]
    assert matrix == list(range(1, len(matrix) + 1)) and gitlab["scenarios"]["parallel"] == len(matrix)
    assert github["env"]["REPORTS"] == "${{ github.workspace }}/reports"
    assert gitlab["variables"]["REPORTS"] == "$CI_PROJECT_DIR/reports"

    def step(job: dict[str, Any], name: str) -> dict[str, Any]:
        return next(s for s in job["steps"] if s.get("name") == name)

    def as_gitlab(command: str) -> str:
        command = command.replace("${{ matrix.shard }}", "$CI_NODE_INDEX")
        return command.replace("${{ strategy.job-total }}", "$CI_NODE_TOTAL")

    play = as_gitlab(step(shards_job, "Play this shard")["run"])
    merge = step(report_job, "Merge the shards' reports")["run"]
    assert [play] == gitlab["scenarios"]["script"] and [merge] == gitlab["report"]["script"]
    assert "${{" not in play + merge
    # what the merge job downloads is what each shard job uploaded, where the merge command looks for it
    kept = step(shards_job, "Keep this shard's reports")["with"]
    assert (kept["name"], kept["path"]) == ("shard-${{ matrix.shard }}", "reports/shard-${{ matrix.shard }}")
    assert step(report_job, "Fetch the shards' reports")["with"] == {"pattern": "shard-*", "path": "reports"}
    assert report_job["needs"] == "shards" and report_job["if"] == "always()"
    assert gitlab["report"]["when"] == "always" and gitlab["report"]["needs"] == ["scenarios"]
    return len(matrix), play, merge


def verdicts(junit: Path) -> dict[str, str]:
    return {
        case.get("name", ""): next((child.tag for child in case), "passed")
        for case in ET.parse(junit).getroot().iter("testcase")
    }


def test_the_sharded_examples_split_the_catalogue_and_merge_it_into_a_single_runs_report(tmp_path: Path) -> None:
    """The examples' own commands, as a CI job runs them from the folder holding the clone: two shards of
    the catalogue, then the merge; the merged report has what a single run of the catalogue has."""
    shards, play, merge = sharded_commands()
    (tmp_path / "cps-harness").symlink_to(REPO)
    reports = tmp_path / "reports"
    env = {**os.environ, "REPORTS": str(reports), "CI_NODE_TOTAL": str(shards)}
    for index in range(1, shards + 1):
        done = subprocess.run(["bash", "-c", play], cwd=tmp_path, env={**env, "CI_NODE_INDEX": str(index)},
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert f"(shard {index}/{shards})" in done.stdout
    done = subprocess.run(["bash", "-c", merge], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"{shards} report(s) merged: 41/41 scenarios passed" in done.stdout
    single = tmp_path / "single"
    done = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--report", str(single)],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    parts = [RunRecord.read(reports / f"shard-{i}") for i in range(1, shards + 1)]
    ids = [[r.scenario.id for r in part.results] for part in parts]
    every = [id_ for part_ids in ids for id_ in part_ids]
    assert all(ids) and len(every) == len(set(every))  # no shard empty, none overlapping
    merged, alone = RunRecord.read(reports / "merged"), RunRecord.read(single)
    assert [str(s) for s in merged.merged] == [f"{i}/{shards}" for i in range(1, shards + 1)]

    def played(record: RunRecord) -> list[tuple[str, bool, int, list[tuple[int, str, bool, str]]]]:
        return [
            (r.scenario.id, r.ok, len(r.events), [(e.index, e.action, e.ok, e.screen) for e in r.events])
            for r in record.results
        ]

    assert len(alone.results) == 41 and played(merged) == played(alone)
    assert merged.selection == alone.selection
    assert verdicts(reports / "merged" / "junit.xml") == verdicts(single / "junit.xml")
    assert len(verdicts(reports / "merged" / "junit.xml")) == 41
    html = (reports / "merged" / "report.html").read_text(encoding="utf-8")
    assert all(f'<h2 id="{r.scenario.id}">' in html for r in alone.results)
    assert "41/41 réussis" in html and f"fusion de {shards} shard(s)" in html
