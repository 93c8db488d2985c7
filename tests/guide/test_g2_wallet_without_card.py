"""Guide paths G2 (e-CPS activation without a card) against a running world, over HTTPS."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from harness.drivers.page import parse_page
from harness.pki import Pki
from harness.world.assembly import World
from simulators.world.directory import Contacts, Professional
from simulators.world.ecps import EcpsRegistry, Push, PushStatus
from tests.support.visitor import Visitor

START = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
PHARMACIST = dict(civility="MME", first_name="CAROLE", last_name="PHARMACH0007512", profession="21", rpps="99700075122")
DOCTOR = dict(civility="M", first_name="ALAIN", last_name="D0000020981", profession="10", rpps="99700209812")
NURSE = dict(civility="MME", first_name="SOPHIE", last_name="INFIRMIERE0001", profession="60", adeli="756012345")
EMAIL, MOBILE = "carole@officine.test", "+33600000001"


@pytest.fixture
async def world(session_pki: Pki) -> AsyncIterator[World]:
    # frozen: these paths check exact instants (48 h and 72 h to the second)
    async with World(pki=session_pki, start=START, cards=False, clock_runs=False) as running:
        yield running


@pytest.fixture
async def visitor(world: World) -> AsyncIterator[Visitor]:
    async with world.client() as http:
        yield Visitor(world, http)


def add(world: World, who: dict[str, str], email: str | None = EMAIL, mobile: str | None = MOBILE) -> Professional:
    return world.state.directory.add(Professional(**who, contacts=Contacts(email, mobile)))  # type: ignore[arg-type]


@pytest.mark.parametrize(("who", "national_id"), [(PHARMACIST, "899700075122"), (DOCTOR, "899700209812")])
async def test_g2_01_02_activation_with_contacts_in_the_directory(
    world: World, visitor: Visitor, who: dict[str, str], national_id: str
) -> None:
    add(world, who)
    done = await visitor.activate_without_card(national_id, EMAIL, MOBILE)
    assert (done.status, done.screen) == (200, "e-cps-activee")
    assert "e-CPS activée" in done.html and "Pro Santé Connect" in done.html
    ecps = world.state.ecps.find(national_id)
    assert ecps is not None and ecps.method == "sans carte" and ecps.device == "telephone-1"


async def test_g2_03_nurse_with_adeli_listed_since_the_bulk_update(world: World, visitor: Visitor) -> None:
    add(world, NURSE)
    done = await visitor.activate_without_card("0756012345", EMAIL, MOBILE)
    assert done.screen == "e-cps-activee"
    world.state.clock.set(dt.datetime(2020, 11, 24, tzinfo=dt.UTC))
    before = await visitor.post("wallet", "/activation", identifiant="0756012345")
    assert before.screen == "identifiant-inconnu", "nurses are in the directory only from 2020-11-25"


async def test_g2_04_no_contacts_in_the_directory(world: World, visitor: Visitor) -> None:
    add(world, PHARMACIST, email=None, mobile=None)
    screen = await visitor.post("wallet", "/activation", identifiant="899700075122")
    assert (screen.status, screen.screen) == (409, "coordonnees-absentes")
    assert "Votre adresse e-mail et votre numéro de mobile ne sont pas présents dans le RPPS." in screen.html
    assert "e-pop.ordre.pharmacien.fr" in screen.html and "carte CPS" in screen.html
    add(world, DOCTOR, mobile=None)
    one_missing = await visitor.post("wallet", "/activation", identifiant="899700209812")
    assert "Votre numéro de mobile n'est pas présent dans le RPPS." in one_missing.text


async def test_g2_05_outdated_contacts_code_goes_to_the_old_address(world: World, visitor: Visitor) -> None:
    add(world, DOCTOR, email="ancienne@adresse.test", mobile="+33600000099")
    start = await visitor.post("wallet", "/activation", identifiant="899700209812")
    assert start.screen == "saisie-codes"
    assert await visitor.messages(EMAIL) == [] and await visitor.messages(MOBILE) == []
    assert len(await visitor.messages("ancienne@adresse.test")) == 1
    world.state.clock.advance("+16min")
    activation = start.url.split("/activation/")[1].split("/")[0]
    late = await visitor.post("wallet", f"/activation/{activation}/codes", code_courriel="000000", code_sms="000000")
    assert late.screen == "activation-expiree"
    assert world.state.ecps.find("899700209812") is None


@pytest.mark.parametrize(
    ("who", "national_id", "hours"), [(PHARMACIST, "899700075122", 48), (DOCTOR, "899700209812", 72)]
)
async def test_g2_06_07_order_update_propagates_after_48_or_72_hours(
    world: World, visitor: Visitor, who: dict[str, str], national_id: str, hours: int
) -> None:
    add(world, who, email=None, mobile=None)
    status, body = await visitor.admin(
        "POST", f"/admin/directory/{national_id}/order-update", {"email": EMAIL, "mobile": MOBILE}
    )
    assert status == 202
    assert dt.datetime.fromisoformat(body["effective_at"]) == START + dt.timedelta(hours=hours)
    assert (await visitor.post("wallet", "/activation", identifiant=national_id)).screen == "coordonnees-absentes"
    await visitor.admin("POST", "/admin/clock", {"advance": f"+{hours - 1}h"})
    assert (await visitor.post("wallet", "/activation", identifiant=national_id)).screen == "coordonnees-absentes"
    await visitor.admin("POST", "/admin/clock", {"advance": "+1h"})
    done = await visitor.activate_without_card(national_id, EMAIL, MOBILE)
    assert done.screen == "e-cps-activee"


@pytest.mark.parametrize(
    ("typed", "screen", "status", "says"),
    [
        ("899700000005", "identifiant-inconnu", 404, "ne figure pas dans l'annuaire santé"),
        ("99700075122", "identifiant-invalide", 400, "commence par 8 (RPPS) ou 0 (ADELI)"),
        ("89970007512", "identifiant-invalide", 400, "12 chiffres"),
        ("899700075123", "identifiant-invalide", 400, "clé de contrôle"),
        ("0123", "identifiant-invalide", 400, "10 caractères"),
        ("", "identifiant-invalide", 400, "Saisissez votre identifiant national"),
    ],
)
async def test_g2_08_unknown_or_malformed_ids(
    world: World, visitor: Visitor, typed: str, screen: str, status: int, says: str
) -> None:
    add(world, PHARMACIST)
    reply = await visitor.post("wallet", "/activation", identifiant=typed)
    assert (reply.status, reply.screen) == (status, screen)
    assert says in reply.text


async def test_g2_09_wrong_codes_then_the_attempt_is_locked(world: World, visitor: Visitor) -> None:
    add(world, PHARMACIST)
    start = await visitor.post("wallet", "/activation", identifiant="899700075122")
    activation = start.url.split("/activation/")[1].split("/")[0]
    email_code, sms_code = await visitor.codes(EMAIL, MOBILE)
    first = await visitor.post("wallet", f"/activation/{activation}/codes", code_courriel="000000", code_sms=sms_code)
    assert (first.status, first.screen) == (422, "code-incorrect") and "Il vous reste 2 essai(s)" in first.html
    second = await visitor.post("wallet", f"/activation/{activation}/codes", code_courriel=email_code, code_sms="1")
    assert "Il vous reste 1 essai(s)" in second.html
    third = await visitor.post("wallet", f"/activation/{activation}/codes", code_courriel="1", code_sms="1")
    assert third.screen == "activation-verrouillee"
    right = await visitor.post("wallet", f"/activation/{activation}/codes", code_courriel=email_code, code_sms=sms_code)
    assert right.screen == "activation-verrouillee", "even the right codes cannot reopen a locked attempt"
    again = await visitor.activate_without_card("899700075122", EMAIL, MOBILE)  # a new attempt works
    assert again.screen == "e-cps-activee"


async def test_password_must_be_four_digits_and_confirmed(world: World, visitor: Visitor) -> None:
    add(world, PHARMACIST)
    bad = await visitor.activate_without_card("899700075122", EMAIL, MOBILE, password="12a4")
    assert (bad.status, bad.screen) == (400, "code-e-cps-invalide")


def pushed(registry: EcpsRegistry, now: dt.datetime) -> Push:
    """A login of the pharmacist, who has one phone: the push it got."""
    [push] = registry.request_push("899700075122", "SI-DEP", "00", now).pushes
    return push


async def test_the_phone_approves_refuses_and_locks(world: World, visitor: Visitor) -> None:
    add(world, PHARMACIST)
    await visitor.activate_without_card("899700075122", EMAIL, MOBILE, password="4321")
    registry, now = world.state.ecps, world.state.now
    refused = pushed(registry, now())
    status, pending = await visitor.admin("GET", "/admin/phones/telephone-1/pushes")
    assert status == 200 and [p["id"] for p in pending] == [refused.id]
    assert (await visitor.admin("POST", f"/admin/pushes/{refused.id}/refuse"))[1]["status"] == "refused"

    push = pushed(registry, now())
    phone = await visitor.get("push", "/telephone/telephone-1")
    assert phone.screen == "telephone" and push.id in phone.html and "SI-DEP" in phone.html
    wrong = await visitor.post("push", f"/telephone/telephone-1/demandes/{push.id}/accepter", code="0000")
    assert "il vous reste 2 essai(s)" in wrong.html
    ok = await visitor.post("push", f"/telephone/telephone-1/demandes/{push.id}/accepter", code="4321")
    assert "Connexion acceptée." in ok.html and registry.push(push.id, now()).status is PushStatus.APPROVED

    ignored = pushed(registry, now())
    world.state.clock.advance("+121s")
    assert registry.push(ignored.id, now()).status is PushStatus.EXPIRED
    late = await visitor.post("push", f"/telephone/telephone-1/demandes/{ignored.id}/accepter", code="4321")
    assert "la demande de connexion a expiré" in late.html
    assert f'data-push="{ignored.id}" data-push-state="expired"' in late.html

    for _ in range(3):
        locking = pushed(registry, now())
        await visitor.admin("POST", f"/admin/pushes/{locking.id}/approve", {"password": "0000"})
    status, body = await visitor.admin("POST", f"/admin/pushes/{locking.id}/approve", {"password": "4321"})
    assert status == 409 and body["error"] == "push-failed"
    ecps = registry.find("899700075122")
    assert ecps is not None and ecps.locked


async def test_two_phones_get_the_push_and_the_one_not_answering_shows_it_withdrawn(
    world: World, visitor: Visitor
) -> None:
    add(world, PHARMACIST)
    for device in ("telephone-1", "telephone-2"):
        status, _ = await visitor.admin("POST", "/admin/ecps", {"national_id": "899700075122", "password": "4321",
                                                                "device": device})  # fmt: skip
        assert status == 201
    _, state = await visitor.admin("GET", "/admin/state")
    assert [(e["national_id"], e["device"]) for e in state["ecps"]] == [
        ("899700075122", "telephone-1"), ("899700075122", "telephone-2"),
    ]  # fmt: skip
    login = world.state.ecps.request_push("899700075122", "SI-DEP", "00", world.state.now())
    first, second = login.pushes
    for push, device in ((first, "telephone-1"), (second, "telephone-2")):
        _, pending = await visitor.admin("GET", f"/admin/phones/{device}/pushes")
        assert [(p["id"], p["device"], p["request"]) for p in pending] == [(push.id, device, login.id)]
    foreign = await visitor.post("push", f"/telephone/telephone-1/demandes/{second.id}/accepter", code="4321")
    assert "inconnue sur ce téléphone" in foreign.html and second.status is PushStatus.PENDING
    ok = await visitor.post("push", f"/telephone/telephone-2/demandes/{second.id}/accepter", code="4321")
    assert "Connexion acceptée." in ok.html
    page = await visitor.get("push", "/telephone/telephone-1")
    assert f'data-push="{first.id}" data-push-state="withdrawn"' in page.html
    assert "retirée (traitée sur un autre appareil)" in page.html and "Aucune demande en attente." in page.html
    late = await visitor.post("push", f"/telephone/telephone-1/demandes/{first.id}/accepter", code="4321")
    assert "déjà été traitée sur un autre appareil" in late.html
    status, body = await visitor.admin("GET", f"/admin/pushes/{first.id}")
    assert (status, body["status"], body["device"]) == (200, "withdrawn", "telephone-1")


async def test_outbox_page_and_faults(world: World, visitor: Visitor) -> None:
    add(world, PHARMACIST)
    status, _ = await visitor.admin("POST", "/admin/faults", {"outbox_drop": [EMAIL]})
    assert status == 200
    await visitor.post("wallet", "/activation", identifiant="899700075122")
    assert await visitor.messages(EMAIL) == [] and len(await visitor.messages(MOBILE)) == 1
    async with visitor.http.get(world.urls["admin"] + "/boite/" + MOBILE) as reply:
        page = parse_page(str(reply.url), reply.status, await reply.text())
    assert page.screen == "boite-reception" and "votre code d'activation" in page.text
    await visitor.admin("POST", "/admin/faults", {"outbox_delay": "10min"})
    await visitor.post("wallet", "/activation", identifiant="899700075122")
    assert len(await visitor.messages(MOBILE)) == 1, "the delayed SMS has not arrived yet"
    world.state.clock.advance("10min")
    assert len(await visitor.messages(MOBILE)) == 2


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/admin/clock", {"advance": "tomorrow"}, 400),
        ("POST", "/admin/clock", {"advance": "+1h", "extra": 1}, 400),
        (
            "POST",
            "/admin/directory",
            {"civility": "M", "first_name": "A", "last_name": "B", "profession": "10", "rpps": "99700209813"},
            400,
        ),
        ("POST", "/admin/directory", {"civility": "X"}, 400),
        ("POST", "/admin/directory/899700000005/order-update", {"email": "a@b"}, 404),
        ("POST", "/admin/faults", {"outbox_delay": "-5"}, 400),
        ("POST", "/admin/pushes/nope/approve", {"password": "1234"}, 404),
        ("POST", "/admin/pushes/nope/approve", ["not", "an", "object"], 400),
    ],
)
async def test_admin_rejects_bad_input_with_4xx(
    world: World, visitor: Visitor, method: str, path: str, body: object, status: int
) -> None:
    got, answer = await visitor.admin(method, path, body)
    assert got == status, answer
    assert "error" in str(answer) or got == 404


async def test_world_listens_on_loopback_only(world: World) -> None:
    for site in world.sites.values():
        assert site.running.host == "127.0.0.1"
    assert "MAP wallet.esw.esante.gouv.fr 127.0.0.1" in world.host_resolver_rules()
