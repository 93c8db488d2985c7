"""People and offices outside the professional's PC: the order (contacts), the CIS and SI-DEP support
(login/password accounts), the ARS (validating salaried accounts)."""

from __future__ import annotations

from pydantic import Field

from harness.scenario.actions.registry import Actor
from harness.scenario.fields import OptionalText, Strict, Text
from harness.scenario.stage import Stage, refusals_fail_the_step
from simulators.web.sidep.rules import Kind
from simulators.world.directory import Contacts, DirectoryError

ORDER = Actor("order", "L'ordre professionnel")
SIDEP = Actor("sidep", "Le CIS ou le support SI-DEP")
ARS = Actor("ars", "L'ARS")


class OrderUpdate(Strict):
    """``order.update``: the contacts the professional gives the order."""

    persona: Text = Field(description="who (a persona of the file)")
    email: OptionalText = Field(default=None, description="the new e-mail")
    mobile: OptionalText = Field(default=None, description="the new mobile number")


class SidepAccount(Strict):
    """``sidep.account``: the SI-DEP login/password account created."""

    login: Text = Field(description="the login")
    password: Text = Field(description="the password")
    kind: Kind = Field(default=Kind.LIBERAL, description="liberal: active at once; salarie: the ARS validates it")
    national_id: Text = Field(default="", description="the professional's national id, if known")
    first_name: Text = Field(default="", description="as SI-DEP shows it")
    last_name: Text = Field(default="", description="as SI-DEP shows it")


@ORDER.action("update", OrderUpdate, "the professional updates contacts at the order")
async def update_contacts(stage: Stage, args: OrderUpdate) -> str:
    state = stage.world.state
    national = stage.persona(args.persona).national_id
    with refusals_fail_the_step(DirectoryError):
        update = state.directory.order_update(national, Contacts(args.email, args.mobile), state.now())
    return f"order update for {national}, effective {update.effective_at.isoformat()}"


@SIDEP.action(
    "account", SidepAccount, "the CIS (liberal) or SI-DEP support (salaried) creates an account", secrets={"password"}
)
async def create_account(stage: Stage, args: SidepAccount) -> str:
    with refusals_fail_the_step(ValueError):
        stage.world.sidep_accounts.create(
            args.login, args.password, args.kind, args.national_id, args.first_name, args.last_name
        )
    return f"account {args.login} ({args.kind.value})"


@ARS.action("validate", Text, "the ARS validates a salaried account", value="the login")
async def validate(stage: Stage, login: str) -> str:
    with refusals_fail_the_step(KeyError):
        stage.world.sidep_accounts.validate_by_ars(login)
    return f"ARS validated {login}"
