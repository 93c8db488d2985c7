"""Faults a trainer switches on the sites: Pro Santé Connect's named errors, "Test SSL"'s TLS ceiling."""

from __future__ import annotations

from pydantic import Field, model_validator

from harness.errors import StepFailed
from harness.scenario.actions.registry import Actor
from harness.scenario.fields import Strict, Text, TlsVersion
from harness.scenario.stage import Stage
from simulators.web.psc.rules import Fault
from simulators.web.sidep.rules import CLIENT_ID as SIDEP_CLIENT_ID

PSC = Actor("psc", "Pro Santé Connect")
TESTSSL = Actor("testssl", "Test SSL")


class PscFault(Strict):
    """``psc.fault``: named faults for a client or for one professional."""

    client_id: Text = Field(default=SIDEP_CLIENT_ID, description="the relying party the faults hit")
    persona: Text | None = Field(default=None, description="or: the professional the faults hit (a persona)")
    faults: list[Fault] = Field(default_factory=list, description="the faults; empty: none")

    @model_validator(mode="after")
    def one_target(self) -> PscFault:
        if self.persona is not None and "client_id" in self.model_fields_set:
            raise ValueError("give client_id or persona, not both")
        return self


@PSC.action(
    "fault", PscFault, "PSC named faults for a client or a user",
    example="- psc.fault: {persona: carole, faults: [access_denied]}",
)  # fmt: skip
async def psc_fault(stage: Stage, args: PscFault) -> str:
    psc = stage.world.psc
    if psc is None:
        raise StepFailed("Pro Santé Connect is not running in this world")
    faults = set(args.faults)
    if args.persona is not None:
        psc.user_faults[stage.persona(args.persona).national_id] = faults
    else:
        psc.client_faults[args.client_id] = faults
    return f"PSC faults {sorted(f.value for f in faults)}"


@TESTSSL.action("tls_max", TlsVersion, "Test SSL accepts TLS up to this version", value="'1.2' or '1.3'")
async def tls_max(stage: Stage, version: str) -> str:
    async with stage.http.post(stage.world.urls["admin"] + "/admin/testssl", json={"tls_max": version}) as reply:
        if reply.status != 200:
            raise StepFailed(f"testssl switch refused: {await reply.text()}")
    return f"testssl accepts TLS up to {version}"
