"""``report merge``: what it refuses (exit 2, nothing written), what it reports as missing (exit 1),
and a bad ``results.json`` named with its line, never a traceback."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.cli.main import main
from harness.scenario.record import (
    PlannedRecord,
    ResultRecord,
    RunRecord,
    ScenarioRecord,
    ShardRecord,
    StepRecord,
)

IDS = ("G2-01", "G2-04", "G3-01", "G6-02")


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Folders named as a CI job names them, relative (the messages quote them)."""
    monkeypatch.chdir(tmp_path)


def planned(id_: str, digest: str = "d") -> PlannedRecord:
    scenario = ScenarioRecord(id=id_, title=f"titre {id_}", guide=f"Étape {id_[1]}", steps=1)
    return PlannedRecord(scenario=scenario, path=f"scenarios/{id_}.yaml", digest=digest)


def played(id_: str, ok: bool = True) -> ResultRecord:
    step = StepRecord(index=1, action="browser.open", detail="", ok=ok, seconds=0.1, story="On ouvre la page.",
                      failure="" if ok else "expected screen x")  # fmt: skip
    return ResultRecord(scenario=planned(id_).scenario, path=f"scenarios/{id_}.yaml", driver="protocol",
                        seconds=0.1, events=[step])  # fmt: skip


def shard_folder(root: Path, name: str, index: int, total: int, ids: list[str], **changes: object) -> Path:
    selection = {i: planned(i) for i in IDS}
    record = RunRecord(finished="2026-12-08 03:00", wall_seconds=1.0, selection=selection,
                       shard=ShardRecord(index=index, total=total), results=[played(i) for i in ids])  # fmt: skip
    record = record.model_copy(update=changes)
    (root / name).mkdir()
    record.save(root / name)
    return Path(name)


def merge(*folders: Path, out: Path) -> int:
    return main(["report", "merge", *map(str, folders), "--report", str(out)])


def test_two_shards_make_one_report_in_the_selections_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = shard_folder(tmp_path, "a", 1, 2, ["G2-01", "G6-02"])
    b = shard_folder(tmp_path, "b", 2, 2, ["G2-04", "G3-01"])
    assert merge(b, a, out=tmp_path / "out") == 0
    merged = RunRecord.read(tmp_path / "out")
    assert [r.scenario.id for r in merged.results] == list(IDS)
    assert [str(s) for s in merged.merged] == ["1/2", "2/2"]
    suite = ET.parse(tmp_path / "out" / "junit.xml").getroot()
    assert [c.get("name", "").split()[0] for c in suite.iter("testcase")] == list(IDS)
    assert suite.find("properties/property[@name='merged-shards']").get("value") == "1/2,2/2"  # type: ignore[union-attr]
    assert "fusion de 2 shard(s) : 1/2, 2/2" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "4/4 scenarios passed" in capsys.readouterr().out


def test_a_failure_in_a_shard_fails_the_merge_with_exit_1(tmp_path: Path) -> None:
    a = shard_folder(tmp_path, "a", 1, 2, ["G2-01", "G6-02"])
    b = shard_folder(tmp_path, "b", 2, 2, [], results=[played("G2-04"), played("G3-01", ok=False)])
    assert merge(a, b, out=tmp_path / "out") == 1
    suite = ET.parse(tmp_path / "out" / "junit.xml").getroot()
    assert suite.get("failures") == "1" and suite.find("testcase/failure") is not None


def test_a_missing_shard_is_reported_as_not_played_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = shard_folder(tmp_path, "a", 1, 3, ["G2-01"])
    c = shard_folder(tmp_path, "c", 3, 3, ["G3-01"])
    assert merge(a, c, out=tmp_path / "out") == 1
    out = capsys.readouterr().out
    assert "shard(s) 2/3 missing: 2 scenario(s) not in the merged report (G2-04, G6-02)" in out
    suite = ET.parse(tmp_path / "out" / "junit.xml").getroot()
    assert (suite.get("tests"), suite.get("skipped")) == ("4", "2")
    skipped = {c.get("name", "").split()[0]: c.find("skipped") for c in suite.iter("testcase")}
    assert skipped["G2-04"] is not None and "shard 2/3 missing" in skipped["G2-04"].get("message", "")
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "des shards manquent à la fusion" in html and "shard 2/3 manquant" in html


@pytest.mark.parametrize(
    ("second", "says"),
    [
        (("b", 1, 2, ["G2-04"]), "b and a are both shard 1/2: they overlap"),
        (("b", 2, 2, ["G2-01"]), "G2-01 was played by a and by b: the shards overlap"),
        (("b", 2, 3, ["G2-04"]), "the folders are shards of different splits: a is 1/2, b is 2/3"),
    ],
)
def test_overlapping_or_mismatched_shards_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], second: tuple[str, int, int, list[str]], says: str
) -> None:
    a = shard_folder(tmp_path, "a", 1, 2, ["G2-01"])
    b = shard_folder(tmp_path, *second)
    assert merge(a, b, out=tmp_path / "out") == 2
    out = capsys.readouterr().out
    assert says in out and "nothing merged" in out
    assert not (tmp_path / "out" / "report.html").exists()


def test_shards_of_other_catalogue_versions_or_selections_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = shard_folder(tmp_path, "a", 1, 2, ["G2-01"])
    edited = {**{i: planned(i) for i in IDS}, "G3-01": planned("G3-01", digest="other")}
    b = shard_folder(tmp_path, "b", 2, 2, ["G3-01"], selection=edited)
    assert merge(a, b, out=tmp_path / "out") == 2
    assert "G3-01: b played another version of the file than a" in capsys.readouterr().out
    fewer = {i: planned(i) for i in IDS[:3]}
    c = shard_folder(tmp_path, "c", 2, 2, ["G3-01"], selection=fewer)
    assert merge(a, c, out=tmp_path / "out") == 2
    assert "a was asked for G6-02, c was not: the shards ran different selections" in capsys.readouterr().out


def test_another_harness_version_is_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = shard_folder(tmp_path, "a", 1, 2, ["G2-01", "G6-02"])
    b = shard_folder(tmp_path, "b", 2, 2, ["G2-04", "G3-01"], version="0.0.9")
    assert merge(a, b, out=tmp_path / "out") == 0
    assert "b was played by cps-harness 0.0.9" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "no results.json; name the --report folders of `cps-harness run`"),
        ('{\n "format": 1,\n "results": [}', "results.json:3: not JSON"),
        ('{"format": 7}', "results format 7, this cps-harness reads format 1"),
        ('{"format": 1, "finished": "x", "wall_seconds": "fast"}', "results.json: wall_seconds: Input should be"),
    ],
)
def test_a_bad_results_file_is_exit_2_with_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, says: str
) -> None:
    folder = tmp_path / "shard"
    folder.mkdir()
    if content is not None:
        (folder / "results.json").write_text(content)
    assert merge(folder, out=tmp_path / "out") == 2
    out = capsys.readouterr().out
    assert says in out and "Traceback" not in out


def test_a_folder_that_does_not_exist_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert merge(tmp_path / "nowhere", out=tmp_path / "out") == 2
    assert "nowhere: no such folder" in capsys.readouterr().out
