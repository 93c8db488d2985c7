"""The CPS card and its reader: insert a persona's card, pull it out, type codes into the middleware,
switch the card's faults. Cards are real virtual cards behind the world's private pcscd."""

from __future__ import annotations

from typing import Annotated, Any

from cryptography.hazmat.primitives import serialization
from pydantic import Field

from harness.card.profile import FaultsModel, load_profile, make_card
from harness.card.reader import CardReaderError
from harness.errors import StepFailed
from harness.middleware import OPENSC_MODULE
from harness.scenario.actions.registry import VALUE, Actor
from harness.scenario.fields import Reader, Strict, Text
from harness.scenario.stage import Stage, refusals_fail_the_step
from harness.yamlfile import DataFileError
from simulators.card.layout import PIN_REF

CARD = Actor("card", "La carte CPS et son lecteur")


class CardInsert(Strict):
    """``card.insert``: whose card, in which reader."""

    persona: Text = Field(description="a persona of the file with a card profile")
    reader: Reader = Field(default=0, description="reader 0 or 1")


Digits = Annotated[str, Field(pattern=r"^[0-9]{1,16}$")]


class Unblock(Strict):
    """``card.unblock``: the codes typed into the middleware."""

    puk: Digits = Field(description="the PUK (code de déblocage), digits")
    new_pin: Digits = Field(description="the new PIN, digits")


class CardFault(FaultsModel):
    """``card.fault``: the card profile's faults (replacing the current ones), and the reader."""

    reader: Reader = Field(default=0, description="reader 0 or 1")


def _reader(stage: Stage, number: int) -> Any:
    if not stage.world.readers:
        raise StepFailed("card steps need world.cards: true")
    return stage.world.readers[number]


@CARD.action("insert", CardInsert, "insert the persona's card")
async def insert(stage: Stage, args: CardInsert) -> str:
    persona = stage.persona(args.persona)
    if persona.card is None:
        raise StepFailed(f"persona {args.persona} has no card profile")
    world = stage.world
    assert world.pki is not None
    with refusals_fail_the_step(FileNotFoundError, DataFileError):
        profile = load_profile(persona.card)
    updates: dict[str, Any] = {}
    if persona.card_certificates is not None:
        updates["certificates"] = profile.certificates.overridden_by(persona.card_certificates)
    if persona.card_pin_tries_left is not None:
        updates["pin"] = profile.pin.model_copy(update={"tries_left": persona.card_pin_tries_left})
    puk_updates = {
        name: value
        for name, value in (("tries_left", persona.card_puk_tries_left), ("usages_left", persona.card_puk_usages_left))
        if value is not None
    }
    if puk_updates:
        updates["puk"] = profile.puk.model_copy(update=puk_updates)
    card, credentials = make_card(profile.model_copy(update=updates), world.pki, world.state.now())
    with refusals_fail_the_step(CardReaderError):
        await _reader(stage, args.reader).insert(card, certificates=credentials.variants)
    stage.browser.card_changed()
    stage.cards[args.reader] = card
    cert = stage.workdir / f"{args.persona}-auth.pem"
    cert.write_bytes(credentials.authentication.certificate.public_bytes(serialization.Encoding.PEM))
    stage.card_certs[args.persona] = cert
    return f"{args.persona}'s card ({persona.card}, {credentials.variants}) in reader {args.reader}"


@CARD.action(
    "remove", Reader | None, "remove the card from a reader", value="the reader (0 when left empty)",
    example="- card.remove: 0\n  expect: {not: {apdu: INTERNAL AUTHENTICATE}}",
)  # fmt: skip
async def remove(stage: Stage, reader: int | None) -> str:
    number = reader or 0
    await _reader(stage, number).remove()
    stage.cards.pop(number, None)
    stage.browser.card_changed()
    return f"card removed from reader {number}"


async def _middleware(stage: Stage, command: list[str], script: str | None = None) -> str:
    exit_code, output = await stage.tool(command, script)
    stage.tool_failed = exit_code != 0
    stage.tool_error = f"{command[0]} exit {exit_code}" if exit_code else ""
    return f"{command[0]}: exit {exit_code}, {output.strip().splitlines()[-1] if output.strip() else ''}"


@CARD.action(
    "verify_pin", Text, "type the PIN into the middleware (pkcs11-tool --login through OpenSC)", value="the PIN",
    secrets={VALUE}, produces={"fails"},
)  # fmt: skip
async def verify_pin(stage: Stage, pin: str) -> str:
    return await _middleware(stage, ["pkcs11-tool", "--module", OPENSC_MODULE, "--login", "--pin", pin, "-O"])


@CARD.action(
    "unblock", Unblock, "unblock the PIN with the PUK (OpenSC's card driver, through opensc-explorer)",
    secrets={"puk", "new_pin"}, produces={"fails"},
)  # fmt: skip
async def unblock(stage: Stage, args: Unblock) -> str:
    """Why not ``pkcs15-tool --unblock-pin``: a real CPS3's AODF gives the PIN an authId (02) that no
    object has, so OpenSC 0.23's PKCS#15 layer finds no PUK object and checks the 8-digit PUK against
    the PIN's own maxLength (4): "Invalid PIN length", before the card is asked. OpenSC's iasecc
    driver unblocks through the PIN's SDO instead (reset rule → SE #3 → the PUK), which is what
    opensc-explorer's ``unblock`` reaches. The codes go in on standard input, never on a command line."""
    script = f'unblock CHV{PIN_REF} "{args.puk}" "{args.new_pin}"\n'
    return await _middleware(stage, ["opensc-explorer", "/dev/stdin"], script)


@CARD.action("fault", CardFault, "switch card faults")
async def fault(stage: Stage, args: CardFault) -> str:
    card = stage.cards.get(args.reader)
    if card is None:
        raise StepFailed(f"no card in reader {args.reader}")
    faults = FaultsModel.model_validate(args.model_dump(exclude={"reader"}, exclude_unset=True))
    card.faults.replace_with(faults.faults())
    return f"card faults {args.model_dump(mode='json', exclude={'reader'}, exclude_unset=True)}"
