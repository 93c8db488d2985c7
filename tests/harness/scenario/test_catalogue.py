"""The scenario catalogue as an installed package finds it, and a user's own folder of scenarios."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.scenario.catalogue import catalogue_dir, packaged_personas
from harness.scenario.loader import SCENARIO_DIR, find, load
from tests.support.paths import REPO


def test_the_packaged_catalogue_is_the_repository_scenarios_folder() -> None:
    """In the repository, harness/catalogue links to scenarios/: the same 41 files, the personas, the schema."""
    assert catalogue_dir() == SCENARIO_DIR == (REPO / "scenarios").resolve()
    assert len(list(SCENARIO_DIR.glob("*.yaml"))) == len(list((REPO / "scenarios").glob("*.yaml"))) >= 41
    assert (catalogue_dir() / "schema.json").is_file() and (packaged_personas() / "medecin-alain.yaml").is_file()


def test_a_copied_folder_uses_its_own_personas_first_then_the_packaged_ones(tmp_path: Path) -> None:
    mine = tmp_path / "mes-scenarios"
    (mine / "personas").mkdir(parents=True)
    shutil.copy(SCENARIO_DIR / "G5-01-connexion-e-cps.yaml", mine)
    text = (SCENARIO_DIR / "G5-01-connexion-e-cps.yaml").read_text(encoding="utf-8")
    assert "medecin-alain" in text, "G5-01 uses the packaged persona medecin-alain"
    (mine / "G5-90-ma-connexion.yaml").write_text(
        text.replace("id: G5-01", "id: G5-90").replace("medecin-alain", "mon-medecin"), encoding="utf-8"
    )
    (mine / "personas" / "mon-medecin.yaml").write_text(
        (packaged_personas() / "medecin-alain.yaml").read_text(encoding="utf-8").replace("ALAIN", "BERNARD"),
        encoding="utf-8",
    )
    loaded, problems = load(find([str(mine)]))
    assert problems == []
    by_id = {scenario.id: scenario for _, scenario in loaded}
    assert set(by_id) == {"G5-01", "G5-90"}
    assert by_id["G5-90"].personas  # the folder's own persona file
    assert {p.first_name for p in by_id["G5-90"].personas.values()} == {"BERNARD"}
    assert {p.first_name for p in by_id["G5-01"].personas.values()} == {"ALAIN"}  # the packaged one


def test_an_unknown_persona_names_both_folders(tmp_path: Path) -> None:
    path = tmp_path / "G2-91-x.yaml"
    path.write_text("id: G2-91\ntitle: t\nguide: g\npersonas:\n  a: personne\nsteps:\n  - clock.advance: 1h\n")
    _, problems = load([path])
    assert len(problems) == 1
    assert "no persona file 'personne'" in problems[0] and str(tmp_path / "personas") in problems[0]
    assert str(packaged_personas()) in problems[0] and "medecin-alain" in problems[0]


@pytest.mark.parametrize("name", ["../medecin-alain", ".cache", ""])
def test_a_persona_name_is_a_file_name(tmp_path: Path, name: str) -> None:
    path = tmp_path / "G2-92-x.yaml"
    path.write_text(
        f"id: G2-92\ntitle: t\nguide: g\npersonas:\n  a: {{from: '{name}'}}\nsteps:\n  - clock.advance: 1h\n"
    )
    _, problems = load([path])
    assert len(problems) == 1 and "a persona file's name" in problems[0]


def test_a_missing_path_is_a_clear_error_not_a_glob(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no scenario file or folder"):
        find([str(tmp_path / "absent")])
    with pytest.raises(FileNotFoundError, match="no scenario file or id 'Z9'"):
        find(["Z9"])
    assert [p.name for p in find(["G2-04"])] == ["G2-04-coordonnees-absentes.yaml"]
