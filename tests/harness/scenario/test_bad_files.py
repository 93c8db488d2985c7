"""Broken scenario and persona files (issue 19): one error path, ``file:line: field: why``, never a
traceback; a folder's ``check`` reports every file even when one cannot be read; a file is parsed
once however many problems it has."""

from __future__ import annotations

import os
import pathlib
from pathlib import Path
from typing import Any

import pytest

from harness.scenario.fields import LONGEST
from harness.scenario.loader import SCENARIO_DIR, ScenarioNotFound, find, load
from harness.yamlfile import MAX_BYTES, MAX_DEPTH

HEAD = "id: G2-08\ntitle: t\nguide: g\n"
STEP = "steps:\n  - clock.advance: 1h\n"


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def one_problem(path: Path) -> str:
    loaded, problems = load([path])
    assert loaded == [] and len(problems) == 1, problems
    return problems[0]


@pytest.mark.parametrize(
    ("content", "line", "says"),
    [
        (HEAD.encode() + b"title: caf\xe9\n" + STEP.encode(), 4, "not UTF-8 text: byte 0xe9 at column 11"),
        (HEAD + "world: " + "[" * 5000 + "]" * 5000 + "\n" + STEP, 4, f"nested deeper than {MAX_DEPTH} levels"),
        (HEAD + "world: " + "{a: " * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1) + "\n" + STEP, 4, "nested deeper"),
        (HEAD + "title: \x00\n" + STEP, 4, "character #x0000 is not allowed"),
        (HEAD + "world: {clock: 2026-13-45}\n" + STEP, 4, "'2026-13-45' cannot be read as timestamp"),
        (HEAD + "x: &a [*a]\n" + STEP, 4, "an alias (*name) inside the value it names"),
        ("", 1, "empty: expected a mapping"),
        (HEAD + "---\n" + HEAD, 4, "expected a single document"),
    ],
)  # fmt: skip
def test_unreadable_text_is_a_located_problem_not_a_traceback(
    tmp_path: Path, content: str | bytes, line: int, says: str
) -> None:
    path = write(tmp_path, "G2-08-x.yaml", content)
    problem = one_problem(path)
    assert problem.startswith(f"{path}:{line}: ") and says in problem, problem


def test_aliases_of_aliases_are_refused_before_validation(tmp_path: Path) -> None:
    """The "billion laughs": ten aliases of ten aliases… stand for 10⁹ values; validating them would
    run for hours."""
    text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10)
    )
    problem = one_problem(write(tmp_path, "G2-08-x.yaml", HEAD + text + STEP))
    assert "stand for more than 1,000,000 values" in problem


def test_a_folder_reports_every_file_even_when_one_cannot_be_read(tmp_path: Path) -> None:
    good = write(tmp_path, "G2-08-bon.yaml", HEAD + STEP)
    latin1 = write(tmp_path, "G2-09-latin1.yaml", "id: G2-09\ntitle: café\n".encode("latin-1"))
    deep = write(tmp_path, "G2-10-profond.yaml", "id: " + "[" * 5000 + "]" * 5000 + "\n")
    wrong = write(tmp_path, "G2-11-faux.yaml", "id: G2-11\ntitle: t\nguide: g\nsteps:\n  - browser.opne: {}\n")
    (tmp_path / "G2-12-dossier.yaml").mkdir()
    loaded, problems = load(find([str(tmp_path)]))
    assert [path for path, _ in loaded] == [good]
    assert [p.split(": ")[0] for p in problems] == [
        f"{latin1}:2",
        f"{deep}:1",
        f"{wrong}:5",
        f"{tmp_path / 'G2-12-dossier.yaml'}:1",
    ]


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    """Opening a FIFO for reading waits for a writer: ``check`` would hang on it."""
    fifo = tmp_path / "G2-08-x.yaml"
    os.mkfifo(fifo)
    assert "not a regular file" in one_problem(fifo)


def test_a_file_over_the_size_cap_is_refused_with_its_size(tmp_path: Path) -> None:
    steps = "".join(f"  - clock.advance: {i % 9 + 1}h\n" for i in range(MAX_BYTES // 20))
    path = write(tmp_path, "G2-08-x.yaml", HEAD + "steps:\n" + steps)
    size = path.stat().st_size
    assert size > MAX_BYTES
    assert one_problem(path) == (
        f"{path}:1: {size:,} bytes: a scenario file is at most {MAX_BYTES:,} bytes (1 MiB); split it into several files"
    )


@pytest.mark.parametrize(
    ("body", "line", "field"),
    [
        (STEP + "steps:\n  - browser.open: {site: wallet}\n", 6, "steps"),
        ("steps:\n  - browser.open: {site: wallet}\n    expect: {status: 200}\n    expect: {status: 404}\n", 7,
         "steps.1.expect"),
        ("steps:\n  - browser.open: {site: wallet, site: psc}\n", 5, "steps.1.browser.open.site"),
        ("personas:\n  a: {from: medecin-alain}\n  a: {from: pharmacienne-carole}\n" + STEP, 6, "personas.a"),
        ("title: u\n" + STEP, 4, "title"),
    ],
)  # fmt: skip
def test_a_key_written_twice_is_an_error_at_the_second(tmp_path: Path, body: str, line: int, field: str) -> None:
    """YAML keeps the last of two equal keys silently: a second ``steps:`` replaced the first and
    ``check`` said valid."""
    path = write(tmp_path, "G2-08-x.yaml", HEAD + body)
    problem = one_problem(path)
    assert problem.startswith(f"{path}:{line}: {field}: written twice (first on line "), problem


def test_merge_keys_may_override_what_they_merge(tmp_path: Path) -> None:
    """``<<: *base`` then a key of ``base`` again is YAML's way to override, not a key written twice."""
    body = "steps:\n  - browser.open: &base {site: wallet, path: /}\n  - browser.open: {<<: *base, path: /activation}\n"
    [(_, scenario)], problems = load([write(tmp_path, "G2-08-x.yaml", HEAD + body)])
    assert problems == []
    assert scenario.steps[1].args.path == "/activation"


@pytest.mark.parametrize("name", ["../../harness/card/profiles/doctor", "/etc/passwd", "a.b", "a b"])
def test_a_persona_file_is_found_by_name_only_never_by_path(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, "G2-08-x.yaml", HEAD + f"personas:\n  a: {{from: '{name}'}}\n" + STEP)
    problem = one_problem(path)
    assert problem.startswith(f"{path}:5: personas: ") and "a persona file's name" in problem, problem


@pytest.mark.parametrize(
    ("persona", "says"),
    [
        (b"civility: M\nfirst_name: \xe9\n", ":2: not UTF-8 text"),
        (b"civility: M\ncivility: MME\n", ":2: civility: written twice (first on line 1)"),
        (b"civility: [M\n", ":2: not valid YAML"),
        (b"- M\n", ":1: expected a mapping of persona fields"),
    ],
)
def test_a_broken_persona_file_is_named_with_its_own_line(tmp_path: Path, persona: bytes, says: str) -> None:
    (tmp_path / "personas").mkdir()
    persona_file = write(tmp_path / "personas", "bob.yaml", persona)
    path = write(tmp_path, "G2-08-x.yaml", HEAD + "personas:\n  a: bob\n" + STEP)
    problem = one_problem(path)
    assert problem.startswith(f"{path}:5: personas: ") and f"{persona_file}{says}" in problem, problem


def test_many_problems_are_located_from_one_read_of_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``check`` of 2,000 steps naming an unknown persona took 479 s: each problem's line re-read
    and re-parsed the whole file. Now each file is opened once, whatever it holds."""
    steps = "".join("  - card.insert: {persona: inconnu}\n" for _ in range(200))
    path = write(tmp_path, "G2-08-x.yaml", HEAD + "steps:\n" + steps)
    opened: list[Path] = []
    real_open = pathlib.Path.open

    def counting_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == path:
            opened.append(self)
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "open", counting_open)
    _, problems = load([path])
    assert len(problems) == 200 and problems[-1].startswith(f"{path}:204: steps.200: unknown persona 'inconnu'")
    assert len(opened) == 1


@pytest.mark.parametrize(
    ("body", "line", "field", "says"),
    [
        ("  - clock.advance: '+99999999999h'\n", 5, "steps.1.clock.advance", "at most 36525 days"),
        ("  - clock.advance: '+99999999h'\n", 5, "steps.1.clock.advance", f"at most {LONGEST.days} days"),
        ("  - clock.advance: 36526d\n", 5, "steps.1.clock.advance", "(100 years)"),
        ("  - clock.advance: 36500d\n" * 10, 14, "steps.10.clock.advance", "past its last year 2999"),
    ],
)
def test_check_refuses_durations_the_clock_cannot_take(
    tmp_path: Path, body: str, line: int, field: str, says: str
) -> None:
    """A duration of millions of hours passed ``check`` and failed the run halfway (the clock
    cannot go past the year 9999); ten centuries in ten steps too."""
    path = write(tmp_path, "G2-08-x.yaml", HEAD + "steps:\n" + body)
    problem = one_problem(path)
    assert problem.startswith(f"{path}:{line}: {field}: ") and says in problem, problem


@pytest.mark.parametrize(
    ("clock", "says"),
    [
        ("9999-12-31T23:00:00Z", "stays between 2000-01-01 and 2999-12-31"),
        ("1900-01-01T00:00:00Z", "stays between 2000-01-01 and 2999-12-31"),
        ("2026-11-28T09:00:00", "give the time zone"),
    ],
)
def test_check_refuses_a_world_clock_out_of_range(tmp_path: Path, clock: str, says: str) -> None:
    path = write(tmp_path, "G2-08-x.yaml", HEAD + f"world: {{clock: {clock}}}\n" + STEP)
    problem = one_problem(path)
    assert problem.startswith(f"{path}:4: world.clock: ") and says in problem, problem


def test_scenario_ids_match_whatever_their_case() -> None:
    assert [p.name for p in find(["g2-04"])] == ["G2-04-coordonnees-absentes.yaml"]
    assert find(["gd-0"]) == find(["GD-0"]) != []


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("G2-4", "did you mean G2-04"),
        ("G2_04", "did you mean G2-04"),
        ("NOPE-99", f"the catalogue's ids run {sorted(SCENARIO_DIR.glob('*.yaml'))[0].name[:5]} … GD-08"),
    ],
)
def test_an_unknown_id_names_the_closest(target: str, says: str) -> None:
    with pytest.raises(ScenarioNotFound, match=f"no scenario file or id '{target}'") as caught:
        find([target])
    assert says in str(caught.value)
