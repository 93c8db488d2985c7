"""ATSAM's diagnostic tool, run by the professional on their PC (``cps-harness diagnose`` against the world)."""

from __future__ import annotations

from pydantic import Field

from harness.diagnose.diagnosis import diagnose_world
from harness.scenario.actions.browser import DEFAULT_PIN
from harness.scenario.actions.registry import Actor
from harness.scenario.fields import Strict, Text
from harness.scenario.stage import Stage

DIAGNOSE = Actor("diagnose", "L'outil de diagnostic ATSAM", professional=True)


class DiagnoseRun(Strict):
    """``diagnose.run``: ATSAM's diagnostic of reader 0's card, as ``cps-harness diagnose`` runs it."""

    nssdb_middleware: bool = Field(
        default=True, description="the browser's NSS database has the middleware (false: ATSAM not set up in it)"
    )
    pin: Text = Field(default=DEFAULT_PIN, description="the PIN typed for Test SSL")


@DIAGNOSE.action(
    "run", DiagnoseRun,
    "ATSAM's diagnostic (cps-harness diagnose) of the card in reader 0, then Test SSL; check it with "
    "expect.diagnose_failed",
    secrets={"pin"}, produces={"diagnose_failed"},
)  # fmt: skip
async def run(stage: Stage, args: DiagnoseRun) -> str:
    stage.diagnosis = await diagnose_world(
        stage.world, stage.workdir / "diagnose", pin=args.pin, middleware=args.nssdb_middleware
    )
    return f"diagnose: {stage.diagnosis.summary()}"
