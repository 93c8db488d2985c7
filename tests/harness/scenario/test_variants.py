"""Files users write beside the catalogue: a copy with its own id (``variant_of``), ids unique in a run,
and what check and run say when they are not."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.scenario.loader import SCENARIO_DIR, find, load
from harness.scenario.model import GUIDE_PATH_ID

G5_03 = next(SCENARIO_DIR.glob("G5-03-*.yaml"))


def copy_of_g5_03(folder: Path, id_: str, *, variant_of: str | None = "G5-03") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = G5_03.read_text(encoding="utf-8").replace("id: G5-03\n", f"id: {id_}\n", 1)
    if variant_of is not None:
        text = text.replace(f"id: {id_}\n", f"id: {id_}\nvariant_of: {variant_of}\n", 1)
    path = folder / f"{id_}-copie.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_catalogue_holds_guide_paths_only() -> None:
    loaded, problems = load(find([str(SCENARIO_DIR)]))
    assert problems == [] and len(loaded) == 41
    assert all(re.fullmatch(GUIDE_PATH_ID, s.id) and s.variant_of is None for _, s in loaded)


def test_a_copy_that_keeps_the_original_id_is_refused_naming_both_files(tmp_path: Path) -> None:
    copy = copy_of_g5_03(tmp_path, "G5-03", variant_of=None)
    loaded, problems = load(find(["G5-03", str(tmp_path)]))
    assert loaded == [] and len(problems) == 2
    for problem, other in zip(problems, (G5_03, copy), strict=True):  # the copy's problem first (by name)
        assert f": id: 'G5-03' is also the id of {other}" in problem
        assert "variant_of: G5-03" in problem


def test_variant_of_must_name_a_guide_path_and_differ_from_the_id(tmp_path: Path) -> None:
    typo = copy_of_g5_03(tmp_path / "a", "G5-03-tardive", variant_of="G5-30")
    _, problems = load([typo])
    assert problems == [f"{typo}:2: variant_of: no guide path 'G5-30'; closest: G5-05, G5-04, G5-03"]
    same = copy_of_g5_03(tmp_path / "b", "G5-03")
    _, problems = load([same])
    assert len(problems) == 1 and problems[0].startswith(f"{same}:1: (top level): Value error, id: a variant needs")


def test_a_copy_with_its_own_id_runs_beside_its_path(tmp_path: Path) -> None:
    """``cps-harness run G5-03 <copy>``: both play, each under its own id in the table, JUnit and report."""
    copy = copy_of_g5_03(tmp_path / "mes-scenarios", "G5-03-copie")
    report = tmp_path / "report"
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "G5-03", str(copy), "--report", str(report)],
        capture_output=True, text=True, timeout=300, env={**os.environ},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2/2 scenarios passed" in done.stdout
    cases = ET.parse(report / "junit.xml").getroot().findall("testcase")
    assert sorted(case.get("name", "").split()[0] for case in cases) == ["G5-03", "G5-03-copie"]
    html = (report / "report.html").read_text(encoding="utf-8")
    assert 'id="G5-03"' in html and 'id="G5-03-copie"' in html
    assert "G5-03, G5-03-copie (variante de G5-03)" in html, "the coverage view counts the copy under its path"


@pytest.mark.parametrize("command", ["check", "run"])
def test_check_and_run_number_steps_from_one(tmp_path: Path, command: str) -> None:
    bad = tmp_path / "G2-04-casse.yaml"
    bad.write_text(
        "id: G2-04-casse\nvariant_of: G2-04\ntitle: t\nguide: g\nsteps:\n"
        "  - browser.open: {site: wallet, path: /activation}\n  - browser.open: {sitee: wallet}\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", command, str(bad), *(["--report", str(tmp_path)] * (command == "run"))],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode in (1, 2)
    assert f"{bad}:7: steps.2.browser.open.sitee: unknown argument" in done.stdout, done.stdout
