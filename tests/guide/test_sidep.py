"""The SI-DEP portal: G5 through Pro Santé Connect (authlib relying party), G4 degraded mode."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator

import pytest

from harness.drivers.page import Page, parse_page
from harness.pki import Pki
from harness.world.assembly import World
from simulators.web.psc.rules import Fault
from simulators.web.sidep.rules import MAX_FAILURES, password_matches
from simulators.world.directory import Activity, Contacts, Professional
from tests.support.visitor import Visitor

START = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
NATIONAL_ID = "899700209812"


@pytest.fixture
async def world(session_pki: Pki) -> AsyncIterator[World]:
    async with World(pki=session_pki, start=START, cards=False) as running:
        running.state.directory.add(
            Professional(
                "M", "ALAIN", "D0000020981", "10", rpps="99700209812", contacts=Contacts("a@b.test", "+33600000002"),
                activities=[Activity("L", "SA07", "R95141", "CABINET M D0000020981", "75009")],
            )
        )  # fmt: skip
        running.state.ecps.activate(NATIONAL_ID, "telephone-1", "4321", "sans carte", running.state.now())
        yield running


async def portal_login_with_ecps(world: World, visitor: Visitor, answer: str = "approve") -> Page:
    """Guide page 9: the portal → "e-CPS Identification par carte CPS" → "Application e-CPS" → phone."""
    landing = await visitor.get("sidep", "/")
    assert landing.screen == "accueil-sidep" and "e-CPS Identification par carte CPS" in landing.html
    choice = await visitor.get("sidep", "/connexion/psc")  # redirected to PSC's login page (wallet host)
    assert choice.screen == "choix-moyen", choice.html
    assert choice.url.startswith("https://wallet.esw.esante.gouv.fr:")
    action = re.search(r'action="(/auth/[^"]+/ecps)"', choice.html)
    assert action
    waiting = await visitor.post("wallet", action.group(1), identifiant=NATIONAL_ID)
    assert waiting.screen == "attente-telephone"
    _, pushes = await visitor.admin("GET", "/admin/phones/telephone-1/pushes")
    if answer == "approve":
        await visitor.admin("POST", f"/admin/pushes/{pushes[0]['id']}/approve", {"password": "4321"})
    else:
        await visitor.admin("POST", f"/admin/pushes/{pushes[0]['id']}/refuse")
    async with visitor.http.get(waiting.url) as reply:  # the page polls; the redirects lead back to SI-DEP
        return parse_page(str(reply.url), reply.status, await reply.text())


@pytest.fixture
async def visitor(world: World) -> AsyncIterator[Visitor]:
    async with world.client() as http:
        yield Visitor(world, http)


async def test_g5_01_connected_through_psc_with_the_e_cps(world: World, visitor: Visitor) -> None:
    connected = await portal_login_with_ecps(world, visitor)
    assert (connected.status, connected.screen) == (200, "connecte"), connected.html
    assert "Vous êtes connecté(e)." in connected.html
    for value in ("ALAIN", "D0000020981", NATIONAL_ID, "CABINET M D0000020981"):
        assert value in connected.html
    logout = await visitor.get("sidep", "/deconnexion")
    assert logout.url.startswith(world.urls["sidep"]) and logout.screen == "accueil-sidep"
    again = await visitor.get("sidep", "/accueil")
    assert again.screen == "accueil-sidep", "logged out"


async def test_g5_03_refused_on_the_phone_points_to_atsam(world: World, visitor: Visitor) -> None:
    refused = await portal_login_with_ecps(world, visitor, answer="refuse")
    assert (refused.status, refused.screen) == (401, "echec-psc")
    assert "refusée sur le téléphone" in refused.html and "Test SSL" in refused.html and "0 825 852 000" in refused.html


@pytest.mark.parametrize("fault", [Fault.ID_TOKEN_TAMPERED, Fault.ID_TOKEN_EXPIRED, Fault.ID_TOKEN_WRONG_ISSUER])
async def test_the_portal_refuses_a_bad_id_token(world: World, visitor: Visitor, fault: Fault) -> None:
    status, _ = await visitor.admin("POST", "/admin/psc/faults", {"client_id": "portail-sidep", "faults": [fault]})
    assert status == 200
    refused = await portal_login_with_ecps(world, visitor)
    assert (refused.status, refused.screen) == (401, "jeton-invalide"), refused.html


async def test_a_forged_callback_is_refused(world: World, visitor: Visitor) -> None:
    await visitor.get("sidep", "/")
    forged = await visitor.get("sidep", "/callback?code=abc&state=not-mine")
    assert (forged.status, forged.screen) == (400, "requete-invalide")


async def test_g4_01_liberal_account_created_by_the_cis(world: World, visitor: Visitor) -> None:
    status, body = await visitor.admin("POST", "/admin/sidep/accounts", {
        "login": "alain.d", "password": "Motdepasse-CIS-1", "kind": "liberal", "national_id": NATIONAL_ID,
        "first_name": "ALAIN", "last_name": "D0000020981"})  # fmt: skip
    assert (status, body["status"]) == (201, "active")
    assert password_matches("Motdepasse-CIS-1", world.sidep_accounts.by_login["alain.d"].password_hash)
    assert "Motdepasse-CIS-1" not in world.sidep_accounts.by_login["alain.d"].password_hash
    connected = await visitor.post(
        "sidep", "/connexion/mot-de-passe", identifiant="alain.d", mot_de_passe="Motdepasse-CIS-1"
    )
    assert connected.screen == "connecte" and "ALAIN" in connected.html


async def test_g4_02_salaried_account_waits_for_the_ars(world: World, visitor: Visitor) -> None:
    await visitor.admin("POST", "/admin/sidep/accounts", {
        "login": "infirmiere.h", "password": "Hopital-2020!", "kind": "salarie", "first_name": "SOPHIE",
        "last_name": "INFIRMIERE0001"})  # fmt: skip
    pending = await visitor.post(
        "sidep", "/connexion/mot-de-passe", identifiant="infirmiere.h", mot_de_passe="Hopital-2020!"
    )
    assert (pending.status, pending.screen) == (401, "compte-en-attente") and "ARS" in pending.html
    status, body = await visitor.admin("POST", "/admin/sidep/accounts/infirmiere.h/validate")
    assert (status, body["status"]) == (200, "active")
    connected = await visitor.post(
        "sidep", "/connexion/mot-de-passe", identifiant="infirmiere.h", mot_de_passe="Hopital-2020!"
    )
    assert connected.screen == "connecte"


async def test_g4_03_wrong_passwords_lock_the_account(world: World, visitor: Visitor) -> None:
    await visitor.admin("POST", "/admin/sidep/accounts", {"login": "alain.d", "password": "Motdepasse-CIS-1"})
    unknown = await visitor.post("sidep", "/connexion/mot-de-passe", identifiant="nobody", mot_de_passe="x")
    assert (unknown.status, unknown.screen) == (401, "identifiants-incorrects")
    screens = [
        (await visitor.post("sidep", "/connexion/mot-de-passe", identifiant="alain.d", mot_de_passe="wrong")).screen
        for _ in range(MAX_FAILURES)
    ]
    assert screens == ["identifiants-incorrects"] * (MAX_FAILURES - 1) + ["compte-verrouille"]
    locked = await visitor.post(
        "sidep", "/connexion/mot-de-passe", identifiant="alain.d", mot_de_passe="Motdepasse-CIS-1"
    )
    assert locked.screen == "compte-verrouille" and "0 800 08 32 04" in locked.html


@pytest.mark.parametrize(
    "body",
    [{"login": "x"}, {"login": "x", "password": "short"}, {"login": "y", "password": "long-enough", "kind": "z"}],
)
async def test_account_creation_rejects_bad_input(world: World, visitor: Visitor, body: dict[str, str]) -> None:
    status, answer = await visitor.admin("POST", "/admin/sidep/accounts", body)
    assert status == 400 and "error" in answer
