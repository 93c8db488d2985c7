"""``cps-harness check`` of a large generated file: loading is linear in the file (issue 19).

Run: ``.venv/bin/python -m benchmarks.check [--reps 5] [--steps 2000]``. Two rows, each with an
anchor measured in the same run, interleaved (A B B A):

1. The issue's case: one file of ``--steps`` steps each naming a persona the file does not
   declare (as many problems as steps; it took 479 s when each problem's line re-read and
   re-parsed the whole file). Anchor: the same steps split into files of 20 steps, each checked
   the same way. Linear loading puts the ratio near 1; a cost per problem that grows with the
   file's size puts it at tens or hundreds.
2. A valid file of ``--steps`` varied steps (pages, forms, the card, the clock, messages, with
   expectations). Anchor: ``yaml.load`` of the same text with libyaml's loader, PyYAML's fastest
   way to read it: the ratio is what validation, the nesting and duplicate-key checks and the
   line map cost on top of reading the YAML.

Both time ``load(find([folder]))``, what ``check`` does between its arguments and its output, in
process (Python's start-up and the imports are no part of it).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from benchmarks.common import Row, Target
from harness.scenario.loader import find, load

STEPS = 2000
SPLIT = 20
"""Steps per file in the anchor of row 1."""
HEAD = "title: généré\nguide: benchmark\nworld: {cards: true}\npersonas:\n  carole: pharmacienne-carole\nsteps:\n"
VARIED = (
    "  - browser.open: {site: wallet, path: /activation}\n    expect: {status: 200, text: [e-CPS]}\n",
    '  - browser.submit: {identifiant: "{carole.national_id}"}\n    say: étape {n}\n',
    "  - card.insert: {persona: carole}\n",
    "  - clock.advance: +1h\n",
    '  - mailbox.code: {to: "{carole.email}", save_as: code_{n}}\n',
)


def scenario(id_: str, steps: list[str]) -> str:
    return f"id: {id_}\n{HEAD}{''.join(steps)}"


def write_files(folder: Path, steps: int) -> dict[str, Path]:
    """The three folders the rows check: one big file with unknown personas, the same split, one
    valid big file (``valid``'s text is also the YAML anchor's)."""
    unknown = [f"  - card.insert: {{persona: inconnu}}\n    say: étape {n}\n" for n in range(steps)]
    varied = [VARIED[n % len(VARIED)].replace("{n}", str(n)) for n in range(steps)]
    folders = {name: folder / name for name in ("one", "split", "valid")}
    for path in folders.values():
        path.mkdir()
    (folders["one"] / "G2-08-un-fichier.yaml").write_text(scenario("G2-08", unknown), encoding="utf-8")
    for start in range(0, steps, SPLIT):
        name = f"X{start // SPLIT:04d}"
        (folders["split"] / f"{name}-morceau.yaml").write_text(
            scenario(name, unknown[start : start + SPLIT]), encoding="utf-8"
        )
    (folders["valid"] / "G2-08-valide.yaml").write_text(scenario("G2-08", varied), encoding="utf-8")
    return folders


def check_seconds(folder: Path, problems: int) -> float:
    """One timed ``check`` of ``folder``; it must find exactly ``problems`` problems."""
    started = time.perf_counter()
    loaded, found = load(find([str(folder)]))
    elapsed = time.perf_counter() - started
    assert len(found) == problems, (len(found), found[:3])
    assert problems or loaded
    return elapsed


def yaml_seconds(text: str) -> float:
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    started = time.perf_counter()
    yaml.load(text, Loader=loader)  # libyaml's safe loader
    return time.perf_counter() - started


def measure(reps: int, steps: int = STEPS, log: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Per-repetition seconds of each of the four timings, interleaved, after one warm-up of each."""
    times: dict[str, list[float]] = {"one": [], "split": [], "valid": [], "yaml": []}
    with tempfile.TemporaryDirectory(prefix="cps-bench-check-") as scratch:
        folders = write_files(Path(scratch), steps)
        valid = next(folders["valid"].glob("*.yaml"))
        text = valid.read_text(encoding="utf-8")
        timings: dict[str, Callable[[], float]] = {
            "one": lambda: check_seconds(folders["one"], steps),
            "split": lambda: check_seconds(folders["split"], steps),
            "valid": lambda: check_seconds(folders["valid"], 0),
            "yaml": lambda: yaml_seconds(text),
        }
        for timing in timings.values():
            timing()  # warm-up: imports, the persona files, the caches of pydantic
        order = list(timings)
        for i in range(reps):
            for name in order if i % 2 == 0 else order[::-1]:
                times[name].append(timings[name]())
        sizes = {
            "one_bytes": sum(p.stat().st_size for p in folders["one"].glob("*.yaml")),
            "valid_bytes": valid.stat().st_size,
        }
    log(f"check: {steps} steps, {reps} repetitions of each timing")
    return {"steps": steps, "seconds": times, **sizes}


def rows(found: dict[str, Any]) -> list[Row]:
    times, steps = found["seconds"], found["steps"]
    one, split, valid, parse = (statistics.median(times[name]) for name in ("one", "split", "valid", "yaml"))
    return [
        Row(
            "check",
            f"check of one {steps:,}-step file, every step an unknown persona ({steps:,} problems)",
            "s",
            one,
            split,
            f"same steps, {steps // SPLIT} files of {SPLIT}",
            Target("ratio_max", 2.0, "≤ 2× split files"),
            f"{found['one_bytes'] / 1024:,.0f} KiB; issue 19 measured 479 s for this case before (a re-parse per "
            "problem)",
            {"ours_s": times["one"], "anchor_s": times["split"]},
        ),
        Row(
            "check",
            f"check of one valid {steps:,}-step file",
            "s",
            valid,
            parse,
            "yaml.load (libyaml) of its text",
            None,
            f"{found['valid_bytes'] / 1024:,.0f} KiB; the ratio is validation, nesting, duplicate keys and line map",
            {"ours_s": times["valid"], "anchor_s": times["yaml"]},
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--steps", type=int, default=STEPS)
    args = parser.parse_args()
    from benchmarks.report import table

    Console().print(table(rows(measure(args.reps, args.steps)), f"check of {args.steps:,} steps, {args.reps} reps"))


if __name__ == "__main__":
    main()
