"""``run --shard I/N``: the split is the same whatever the order of the files, every scenario is in
exactly one shard, recorded times balance it, and wrong input is a clear error with exit code 2."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli.main import main
from harness.errors import InputError
from harness.scenario.loader import SCENARIO_DIR, find, load
from harness.scenario.shard import CARD_WEIGHT, Shard, balance, parse_shard, pick, read_durations, split, weights

CATALOGUE = [s for _, s in load(find([str(SCENARIO_DIR)]))[0]]


@pytest.mark.parametrize("text", ["0/2", "3/2", "x", "1/0", "-1/2", "1/2/3", ""])
def test_a_wrong_shard_is_exit_2_with_the_reason(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["run", f"--shard={text}"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "argument --shard:" in err
    assert any(why in err for why in ("is not I/N", "counts from 1 to N", "at least 1"))
    assert "Traceback" not in err


def test_shards_are_counted_from_one() -> None:
    assert parse_shard("1/2") == Shard(1, 2) and parse_shard(" 2 / 2 ") == Shard(2, 2)
    with pytest.raises(ValueError, match="counts from 1 to N"):
        parse_shard("0/2")
    with pytest.raises(ValueError, match="counts from 1 to N"):
        parse_shard("3/2")
    with pytest.raises(ValueError, match="is not I/N"):
        parse_shard("x")


@pytest.mark.parametrize("total", [1, 2, 3, 4, 7, 41, 50])
def test_every_scenario_is_in_exactly_one_shard(total: int) -> None:
    chosen = [pick(CATALOGUE, Shard(i, total), None) for i in range(1, total + 1)]
    assert sum(len(ids) for ids in chosen) == len(CATALOGUE)
    assert set().union(*chosen) == {s.id for s in CATALOGUE}


def test_the_split_does_not_depend_on_the_order_of_the_files() -> None:
    times = {s.id: 0.1 + (i * 37 % 11) / 10 for i, s in enumerate(CATALOGUE)}
    expected = [pick(CATALOGUE, Shard(i, 3), times) for i in (1, 2, 3)]
    for seed in range(5):
        shuffled = CATALOGUE[:]
        random.Random(seed).shuffle(shuffled)
        shuffled_times = dict(random.Random(seed).sample(sorted(times.items()), len(times)))
        assert [pick(shuffled, Shard(i, 3), shuffled_times) for i in (1, 2, 3)] == expected
        assert [pick(shuffled, Shard(i, 3), None) for i in (1, 2, 3)] == [
            pick(CATALOGUE, Shard(i, 3), None) for i in (1, 2, 3)
        ]


def test_the_split_is_the_same_in_another_process_with_another_hash_seed(tmp_path: Path) -> None:
    """Sets and dicts iterate in a hash-seeded order: a split that leaned on one would differ per machine."""
    code = (
        "from harness.scenario.loader import SCENARIO_DIR, find, load\n"
        "from harness.scenario.shard import Shard, pick\n"
        "c = [s for _, s in load(find([str(SCENARIO_DIR)]))[0]]\n"
        "print([sorted(pick(c, Shard(i, 4), None)) for i in range(1, 5)])\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1
    assert outputs.pop().strip() == str([sorted(pick(CATALOGUE, Shard(i, 4), None)) for i in range(1, 5)])


def test_recorded_times_balance_the_shards() -> None:
    """Uneven times (one scenario 10 s, the others 0.1–1.1 s): the shards end within one small scenario of
    each other (or the 10 s one is a shard by itself), and better than round-robin over the ids."""
    times = {s.id: 0.1 + (i * 37 % 11) / 10 for i, s in enumerate(CATALOGUE)}
    times[CATALOGUE[0].id] = 10.0
    for total in (2, 3, 4):
        loads = balance(times, split(weights(CATALOGUE, times), total))
        mean = sum(times.values()) / total
        assert max(loads) <= mean + max(times.values()) / 2
        # within one small scenario (≤ 1.1 s) of each other, unless the 10 s scenario alone is the longest shard
        assert max(loads) - min(loads) <= 1.1 or max(loads) == 10.0
        ids = sorted(times)
        round_robin = balance(times, [ids[i::total] for i in range(total)])
        assert max(loads) < max(round_robin)


def test_without_times_a_scenario_with_card_readers_weighs_more() -> None:
    chosen = weights(CATALOGUE, None)
    assert {chosen[s.id] for s in CATALOGUE if s.world.cards} == {CARD_WEIGHT}
    assert {chosen[s.id] for s in CATALOGUE if not s.world.cards} == {1.0}
    loads = balance(chosen, split(chosen, 2))
    assert abs(loads[0] - loads[1]) <= CARD_WEIGHT


def test_a_scenario_the_durations_do_not_know_weighs_their_median() -> None:
    known = {s.id: float(i + 1) for i, s in enumerate(CATALOGUE[:3])}  # 1, 2, 3 s: median 2
    chosen = weights(CATALOGUE, known)
    assert [chosen[s.id] for s in CATALOGUE[:3]] == [1.0, 2.0, 3.0]
    assert {chosen[s.id] for s in CATALOGUE[3:]} == {2.0}


def test_durations_are_read_from_a_junit_file(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<?xml version="1.0"?>\n<testsuites><testsuite name="x">\n'
        '<testcase classname="c" name="G2-04 Ni e-mail ni mobile" time="1.250"/>\n'
        '<testcase classname="c" name="G3-01 Carte" time="3"><failure message="m">t</failure></testcase>\n'
        "</testsuite></testsuites>\n"
    )
    assert read_durations(junit) == {"G2-04": 1.25, "G3-01": 3.0}


def suite(*cases: str) -> str:
    return "<testsuite>\n" + "\n".join(cases) + "\n</testsuite>\n"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (suite("<testcase name='G2-04 x' time='1'>"), "junit.xml:3: not a JUnit XML file (mismatched tag"),
        (suite("<testcase name='G2-04 x' time='fast'/>"), "junit.xml:2: testcase 'G2-04': time 'fast' is not"),
        (suite("<testcase name='G2-04 x' time='-1'/>"), "junit.xml:2: testcase 'G2-04': time '-1'"),
        (suite("", "<testcase time='1'/>"), "junit.xml:3: testcase without a name"),
        ("<html><testcase name='G2-04' time='1'/></html>", "junit.xml:1: not a JUnit file: its root is <html>"),
        ("<testsuite></testsuite>", "junit.xml: no testcase with a time"),
        ("", "junit.xml:1: not a JUnit XML file (no element found"),
    ],
)
def test_a_bad_durations_file_is_exit_2_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, says: str
) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(content)
    with pytest.raises(InputError, match=r"junit\.xml"):
        read_durations(junit)
    assert main(["run", "--shard", "1/2", "--durations", str(junit), "--report", str(tmp_path / "r")]) == 2
    out = capsys.readouterr().out
    assert says in out.replace("\n", " ") and "Traceback" not in out
    assert not (tmp_path / "r").exists()  # refused before anything, even the report folder


def test_durations_without_a_shard_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--durations", str(tmp_path / "junit.xml"), "--report", str(tmp_path / "r")]) == 2
    assert "--durations balances shards: give --shard I/N" in capsys.readouterr().out
