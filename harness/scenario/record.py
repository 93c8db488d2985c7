"""A run's results as the reports show them, masked, and saved beside them as ``results.json``.

The HTML report and the JUnit file are both written from a :class:`RunRecord`, never from the
player's objects directly: a single run builds its record from its results, ``report merge`` builds
one from several shards' ``results.json``, and the same code renders both, so a merged report is the
page a single run of the same scenarios would have written (its only additions say which shards it
joined).

A record holds no secret: every text is masked (``Redactor``) when the record is made, APDU logs as
hex, and screenshots are kept as the ``data:`` URIs the page embeds (already shrunk to WebP), so
``results.json`` can be published like the report. It keeps what the page needs (each step's French
sentence, its address as the address bar shows it) rather than the scenario file, so a merge needs
neither the files nor the machine that played them; what it keeps of the files is their digest
(``selection``), which tells a merge whether its shards played the same catalogue.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness import __version__
from harness.errors import InputError
from harness.reporting.pictures import data_uri
from harness.reporting.redact import Redactor
from harness.scenario.french import page_address, step_story
from harness.scenario.model import Scenario
from harness.scenario.player import Result

RESULTS_FILE = "results.json"
FORMAT = 1
"""Bumped when a field changes meaning: a merge refuses a ``results.json`` of another format."""


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScenarioRecord(Record):
    """What the reports say of a scenario file."""

    id: str
    title: str
    guide: str
    variant_of: str | None = None
    steps: int
    """How many steps the file has (a result with fewer events stopped early)."""

    @property
    def path_id(self) -> str:
        return self.variant_of or self.id


class StepRecord(Record):
    """One played step (the player's ``Event``), every text masked, its pictures as ``data:`` URIs."""

    index: int
    action: str
    detail: str
    ok: bool
    seconds: float
    story: str
    """What happened, in one French sentence (``french.step_story``)."""
    screen: str = ""
    status: int | None = None
    url: str = ""
    address: str = ""
    """The address as the professional's address bar shows it."""
    failure: str = ""
    snapshot: str = ""
    apdus: list[str] = Field(default_factory=list)
    http: list[str] = Field(default_factory=list)
    jwts: list[str] = Field(default_factory=list)
    pictures: list[str] = Field(default_factory=list)
    error: bool = False
    client_error: str = ""


class PlannedRecord(Record):
    """A scenario the run was asked for (before sharding), and the digest of its file."""

    scenario: ScenarioRecord
    path: str
    digest: str
    """SHA-256 of the file: two shards played the same scenario only if their digests agree."""


class ResultRecord(Record):
    scenario: ScenarioRecord
    path: str
    driver: str
    seconds: float
    events: list[StepRecord]

    @property
    def ok(self) -> bool:
        return all(e.ok for e in self.events) and len(self.events) == self.scenario.steps

    @property
    def error(self) -> bool:
        """A step ended on a bug of the harness, not on a failed expectation."""
        return any(e.error for e in self.events)


class UnfinishedRecord(Record):
    """A scenario of the run that has no result: the run was interrupted, or (merged) its shard is missing."""

    scenario: ScenarioRecord
    path: str
    started: bool = False
    steps_done: int = 0
    """Steps played to the end before the interruption (0 when it had not started)."""
    missing_shard: str | None = None
    """Merged reports only: the shard (``2/3``) whose results were not among the merged folders."""

    @property
    def reason(self) -> str:
        if self.missing_shard is not None:
            return f"not in the merged reports (shard {self.missing_shard} missing)"
        if not self.started:
            return "not started"
        return f"stopped after step {self.steps_done} of {self.scenario.steps}"

    @property
    def raison(self) -> str:
        """The reason, in the report's French."""
        if self.missing_shard is not None:
            return f"absent des rapports fusionnés (shard {self.missing_shard} manquant)"
        if not self.started:
            return "pas commencé"
        return f"arrêté après l'étape {self.steps_done} sur {self.scenario.steps}"


class InterruptionRecord(Record):
    """Why a run stopped before its end (``SIGINT``, ``SIGTERM``), and what it did not finish."""

    signal: str
    unfinished: list[UnfinishedRecord]

    def why(self, unfinished: UnfinishedRecord) -> str:
        if unfinished.missing_shard is not None:
            return f"not run in the merged reports: {unfinished.reason}"
        return f"not run to its end: the run was interrupted ({self.signal}); {unfinished.reason}"


class ShardRecord(Record):
    index: int
    total: int

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"


class RunRecord(Record):
    """A run (or a merge of shards): its results in run order and what it was asked to play."""

    format: int = FORMAT
    version: str = __version__
    """The cps-harness that played it."""
    finished: str
    """When the run ended, UTC (``YYYY-MM-DD HH:MM``)."""
    wall_seconds: float
    selection: dict[str, PlannedRecord]
    """Every scenario the run was asked for before sharding, by id, in run order: a merge tells from
    it which scenarios a missing shard had, and whether its shards played the same files."""
    shard: ShardRecord | None = None
    merged: list[ShardRecord] = Field(default_factory=list)
    """A merged report: the shards it joined."""
    results: list[ResultRecord]
    interruption: InterruptionRecord | None = None

    def save(self, folder: Path) -> Path:
        path = folder / RESULTS_FILE
        path.write_text(self.model_dump_json(indent=1) + "\n", encoding="utf-8")
        return path

    @classmethod
    def read(cls, folder: Path) -> Self:
        """The record in ``folder`` (a report folder); ``InputError`` that says what is wrong with it."""
        path = folder / RESULTS_FILE if folder.is_dir() else folder
        if not folder.exists():
            raise InputError(f"{folder}: no such folder")
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(
                f"{folder}: no {RESULTS_FILE}; name the --report folders of `cps-harness run` (it writes "
                f"{RESULTS_FILE} beside report.html)"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: cannot be read ({exc})") from None
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from None
        if isinstance(raw, dict) and raw.get("format") != FORMAT:
            raise InputError(
                f"{path}: results format {raw.get('format')!r}, this cps-harness reads format {FORMAT}: "
                "merge reports written by the same version"
            )
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise InputError(f"{path}: {where}: {first['msg']} ({exc.error_count()} problem(s))") from None


def digest(path: Path) -> str:
    """SHA-256 of a scenario file: two shards played the same scenario only if their digests agree."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def scenario_record(scenario: Scenario, redact: Redactor) -> ScenarioRecord:
    return ScenarioRecord(
        id=scenario.id, title=redact.text(scenario.title), guide=redact.text(scenario.guide),
        variant_of=scenario.variant_of, steps=len(scenario.steps),
    )  # fmt: skip


def result_record(result: Result, redact: Redactor) -> ResultRecord:
    """``result`` as the reports show it, masked with ``redact``."""
    text = redact.text
    events = []
    for event in result.events:
        step = result.scenario.steps[event.index - 1]
        record = StepRecord(
                index=event.index, action=text(event.action), detail=text(event.detail), ok=event.ok,
                seconds=event.seconds, story=text(step_story(step, event)), screen=text(event.screen),
                status=event.status, url=text(event.url), address=text(page_address(event.url)),
                failure=text(event.failure), snapshot=text(event.snapshot),
                apdus=[redact.apdus(line) for line in event.apdus],  # hex only: P1P2=0000 is an offset, not the PIN
                http=[text(line) for line in event.http], jwts=[text(token) for token in event.jwts],
                pictures=[data_uri(png) for png in event.screenshots], error=event.error,
                client_error=text(event.client_error),
            )  # fmt: skip
        events.append(record)
    return ResultRecord(
        scenario=scenario_record(result.scenario, redact), path=str(result.path), driver=result.driver,
        seconds=result.seconds, events=events,
    )  # fmt: skip


def now() -> str:
    return f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}"


def run_record(
    results: Sequence[Result], *, wall_seconds: float, redact: Redactor,
    selection: dict[str, PlannedRecord] | None = None,
    shard: ShardRecord | None = None, interruption: InterruptionRecord | None = None,
) -> RunRecord:  # fmt: skip
    """The record of a run; ``selection`` defaults to the results' own scenarios (digests of their files)."""
    if selection is None:
        selection = selection_of(((r.path, r.scenario) for r in results), redact)
    return RunRecord(
        finished=now(), wall_seconds=wall_seconds, selection=selection, shard=shard,
        results=[result_record(r, redact) for r in results], interruption=interruption,
    )  # fmt: skip


def selection_of(loaded: Iterable[tuple[Path, Scenario]], redact: Redactor) -> dict[str, PlannedRecord]:
    """The record of what a run was asked for (``loaded``, in run order)."""
    return {
        scenario.id: PlannedRecord(scenario=scenario_record(scenario, redact), path=str(path), digest=_digest(path))
        for path, scenario in loaded
    }


def _digest(path: Path) -> str:
    try:
        return digest(path)
    except OSError:  # a scenario built in memory (tests, tools): no file to compare
        return ""
