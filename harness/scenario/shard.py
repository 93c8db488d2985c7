"""``run --shard I/N``: which of the selected scenarios shard I of N plays, the same on every machine.

The split depends only on the scenarios' ids and weights, never on the order of files on disk or on
the machine: the scenarios are taken heaviest first (ties by id), each given to the shard that is
lightest so far (ties to the lowest index) — the longest-processing-time rule, within 4/3 of the
best split, and exact for equal weights (then it is round-robin over the sorted ids).

The weight of a scenario is its time in a previous run's JUnit file (``--durations``, the file
``run`` writes: each testcase's ``time``, its id the first word of its ``name``); a scenario that
file does not know (new, renamed) weighs the median of the known ones. Without a file a scenario
whose world has card readers (``world.cards``: a private pcscd, vpcd and OpenSC) weighs
:data:`CARD_WEIGHT`, any other 1: that stack is most of a scenario's time (measured on the catalogue
with the protocol driver: 1.08 s on average with it, 0.27 s without), while the step count does
not follow the time at all (correlation −0.14). Unlike a time, this weight is the same on every
machine; the figures of both splits are in ``docs/trainer-and-ci.md``.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.parsers import expat

from harness.errors import InputError
from harness.scenario.model import Scenario

CARD_WEIGHT = 4.0
"""A scenario with card readers against one without (measured ratio 1.08 s / 0.27 s)."""
SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    index: int
    """1-based, as CI matrices count."""
    total: int

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"


def parse_shard(text: str) -> Shard:
    """``"2/3"`` → ``Shard(2, 3)``; ``ValueError`` saying what is wrong (argparse prints it, exit 2)."""
    match = SHARD.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not I/N (shard I of N, e.g. 1/2)")
    index, total = int(match[1]), int(match[2])
    if total < 1:
        raise ValueError(f"{text!r}: N is the number of shards, at least 1")
    if not 1 <= index <= total:
        raise ValueError(f"{text!r}: I counts from 1 to N ({total}), e.g. 1/{total} … {total}/{total}")
    return Shard(index, total)


def split(weights: Mapping[str, float], total: int) -> list[list[str]]:
    """The ids of each of ``total`` shards, each list sorted by id; every id in exactly one shard."""
    loads = [0.0] * total
    shards: list[list[str]] = [[] for _ in range(total)]
    for id_ in sorted(weights, key=lambda i: (-weights[i], i)):
        lightest = min(range(total), key=lambda k: (loads[k], k))
        shards[lightest].append(id_)
        loads[lightest] += weights[id_]
    return [sorted(ids) for ids in shards]


def default_weight(scenario: Scenario) -> float:
    """A scenario's weight without recorded times: its card stack (see the module's docstring)."""
    return CARD_WEIGHT if scenario.world.cards else 1.0


def weights(scenarios: Iterable[Scenario], durations: Mapping[str, float] | None) -> dict[str, float]:
    """Each scenario's weight: its recorded time, the median recorded time when it has none, or
    (no durations) ``default_weight``."""
    chosen = list(scenarios)
    if durations is None:
        return {s.id: default_weight(s) for s in chosen}
    known = [durations[s.id] for s in chosen if s.id in durations]
    fallback = statistics.median(known) if known else 1.0
    return {s.id: durations.get(s.id, fallback) for s in chosen}


def pick(scenarios: Iterable[Scenario], shard: Shard, durations: Mapping[str, float] | None) -> set[str]:
    """The ids shard ``shard`` plays."""
    return set(split(weights(scenarios, durations), shard.total)[shard.index - 1])


def read_durations(path: Path) -> dict[str, float]:
    """Scenario id → seconds, from a JUnit file (``run``'s ``junit.xml``, or a merge's); ``InputError``
    with ``file:line`` when it is not one."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"--durations {path}: cannot be read ({exc.strerror or exc})") from None
    durations: dict[str, float] = {}
    problems: list[str] = []
    roots: list[str] = []
    parser = expat.ParserCreate()

    def start(tag: str, attributes: dict[str, str]) -> None:
        line = parser.CurrentLineNumber
        if not roots:
            roots.append(tag)
        if tag != "testcase":
            return
        name, time = attributes.get("name", "").strip(), attributes.get("time")
        if not name:
            problems.append(f"{path}:{line}: testcase without a name")
            return
        try:
            seconds = float(time) if time is not None else None
        except ValueError:
            seconds = None
        if seconds is None or not seconds >= 0 or seconds == float("inf"):
            problems.append(f"{path}:{line}: testcase {name.split()[0]!r}: time {time!r} is not a number of seconds")
            return
        durations[name.split()[0]] = seconds

    parser.StartElementHandler = start
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise InputError(
            f"{path}:{exc.lineno}: not a JUnit XML file ({expat.ErrorString(exc.code)}, column {exc.offset + 1})"
        ) from None
    if problems:
        raise InputError("; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""))
    if roots and roots[0] not in ("testsuite", "testsuites"):
        raise InputError(f"{path}:1: not a JUnit file: its root is <{roots[0]}>, not <testsuite> or <testsuites>")
    if not durations:
        raise InputError(f"{path}: no testcase with a time; give the junit.xml of a previous `cps-harness run`")
    return durations


def balance(weights: Mapping[str, float], shards: Sequence[Sequence[str]]) -> list[float]:
    """Each shard's total weight (how even a split is)."""
    return [sum(weights[i] for i in ids) for ids in shards]
