"""examples/scenario_variants: every variant a trainer wrote there passes with both drivers, and each
one names the guide path it varies."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from harness.pki import Pki
from harness.scenario.loader import find, load
from harness.scenario.player import play
from tests.support.paths import REPO

VARIANTS = REPO / "examples" / "scenario_variants"


def variant_files() -> list[Path]:
    return find([str(VARIANTS)])


def test_every_variant_is_valid_and_varies_a_guide_path() -> None:
    loaded, problems = load(variant_files())
    assert problems == []
    assert all(scenario.variant_of is not None for _, scenario in loaded)
    table = (VARIANTS / "README.md").read_text(encoding="utf-8")
    assert all(f"`{path.name}`" in table for path, _ in loaded), "the README's table lists every file"


@pytest.mark.parametrize("driver", ["protocol", pytest.param("chromium", marks=pytest.mark.e2e)])
@pytest.mark.parametrize("path", variant_files(), ids=lambda p: p.stem)
def test_every_variant_passes(path: Path, driver: str, tmp_path: Path) -> None:
    [(_, scenario)], problems = load([path])
    assert problems == []
    result = asyncio.run(play(scenario, path, Pki(), tmp_path, driver=driver))  # type: ignore[arg-type]
    failed = next((e for e in result.events if not e.ok), None)
    assert result.ok, f"step {failed.index} {failed.action}: {failed.failure}" if failed else "stopped early"
