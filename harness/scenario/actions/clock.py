"""Time passing: the world clock that every lifetime, delay and propagation reads."""

from __future__ import annotations

from harness.scenario.actions.registry import Actor
from harness.scenario.fields import Duration
from harness.scenario.stage import Stage, refusals_fail_the_step

CLOCK = Actor("clock", "Le temps passe")


@CLOCK.action("advance", Duration, "move the world clock", value="+48h, 16min, 121s")
async def advance(stage: Stage, delta: str) -> str:
    clock = stage.world.state.clock
    with refusals_fail_the_step(ValueError):
        clock.advance(delta)
    return f"clock {delta} → {clock.now().isoformat()}"
