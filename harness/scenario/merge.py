"""``report merge``: one run's record from several shards' records (sans-IO; the command reads and writes).

What a merge refuses (``MergeRefused``, exit 2, nothing written), because the report would be wrong:
  - shards that overlap: one scenario played by two of the folders, or one shard index twice;
  - shards of different splits (``1/2`` beside ``2/3``);
  - shards asked for different scenarios, or for the same id from files that differ (another
    catalogue version, an edited file): their ``selection`` must be the same.

What it accepts with a warning, because CI still wants the report of what did run:
  - a missing shard: its scenarios are in the report and the JUnit file as not played (skipped,
    "shard 2/3 missing"), and the page says it is partial; the command then exits 1;
  - shards played by different cps-harness versions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.errors import InputError
from harness.scenario.record import (
    InterruptionRecord,
    ResultRecord,
    RunRecord,
    ShardRecord,
    UnfinishedRecord,
)

MISSING = "missing shards"
"""The ``signal`` of a merge that lacks shards (an interrupted shard's is ``SIGINT``/``SIGTERM``)."""


class MergeRefused(InputError):
    """The folders cannot make one report; ``problems`` says why, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Merged:
    record: RunRecord
    warnings: list[str]


def merge(shards: Sequence[tuple[str, RunRecord]]) -> Merged:
    """One record of ``shards`` (each a folder's name and its record), or ``MergeRefused``."""
    if not shards:
        raise MergeRefused(["no report folder to merge"])
    problems: list[str] = []
    warnings: list[str] = []
    first_name, first = shards[0]
    parts = {name: record.shard or ShardRecord(index=1, total=1) for name, record in shards}
    totals = {part.total for part in parts.values()}
    if len(totals) > 1:
        problems.append(
            "the folders are shards of different splits: "
            + ", ".join(f"{name} is {part}" for name, part in parts.items())
            + "; merge the shards of one run (the same N in --shard I/N)"
        )
    seen_index: dict[int, str] = {}
    for name, part in parts.items():
        if part.index in seen_index:
            problems.append(f"{name} and {seen_index[part.index]} are both shard {part}: they overlap")
        seen_index.setdefault(part.index, name)
    played_by: dict[str, str] = {}
    for name, record in shards:
        for result in record.results:
            other = played_by.setdefault(result.scenario.id, name)
            if other != name:
                problems.append(f"{result.scenario.id} was played by {other} and by {name}: the shards overlap")
        for planned_id, planned in record.selection.items():
            known = first.selection.get(planned_id)
            if known is None:
                problems.append(
                    f"{name} was asked for {planned_id}, {first_name} was not: the shards ran different selections"
                )
            elif known.digest != planned.digest:
                problems.append(
                    f"{planned_id}: {name} played another version of the file than {first_name} (their SHA-256 "
                    "differ): merge shards of one catalogue version"
                )
        for planned_id in first.selection.keys() - record.selection.keys():
            problems.append(
                f"{first_name} was asked for {planned_id}, {name} was not: the shards ran different selections"
            )
        if record.version != first.version:
            warnings.append(f"{name} was played by cps-harness {record.version}, {first_name} by {first.version}")
    if problems:
        raise MergeRefused(list(dict.fromkeys(problems)))
    results: dict[str, ResultRecord] = {r.scenario.id: r for _, record in shards for r in record.results}
    unfinished: dict[str, UnfinishedRecord] = {
        u.scenario.id: u for _, record in shards if record.interruption for u in record.interruption.unfinished
    }
    signals = list(dict.fromkeys(record.interruption.signal for _, record in shards if record.interruption))
    total = totals.pop()
    missing = [ShardRecord(index=i, total=total) for i in range(1, total + 1) if i not in seen_index]
    lost = [i for i in first.selection if i not in results and i not in unfinished]
    if lost:
        which = " or ".join(str(part) for part in missing) or "?"
        for planned_id in lost:
            planned = first.selection[planned_id]
            unfinished[planned_id] = UnfinishedRecord(scenario=planned.scenario, path=planned.path, missing_shard=which)
        signals.append(MISSING)
        warnings.append(
            f"shard(s) {', '.join(str(m) for m in missing)} missing: {len(lost)} scenario(s) not in the merged "
            f"report ({', '.join(lost)})"
        )
    interruption = None
    if unfinished:
        ordered = [unfinished[i] for i in first.selection if i in unfinished]
        interruption = InterruptionRecord(signal=", ".join(signals), unfinished=ordered)
    record = RunRecord(
        version=first.version,
        finished=max(record.finished for _, record in shards),
        wall_seconds=max(record.wall_seconds for _, record in shards),  # the shards ran side by side
        selection=first.selection,
        merged=sorted(parts.values(), key=lambda p: p.index),
        results=[results[i] for i in first.selection if i in results],
        interruption=interruption,
    )
    return Merged(record, warnings)
