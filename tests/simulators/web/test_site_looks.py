"""What a professional sees of each site: the simulation banner on every page, each family's own
stylesheet and identity, and the phone as a phone-sized view of the e-CPS app."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator

import pytest

from harness.drivers.page import Page
from harness.pki import Pki
from harness.world.assembly import World
from simulators.web.page import BANNER, FAMILIES, stylesheet
from simulators.web.psc.rules import REALM_PATH
from simulators.world.directory import Contacts, Professional
from tests.support.visitor import Visitor

START = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
PHARMACIST = Professional(
    civility="MME", first_name="CAROLE", last_name="PHARMACH0007512", profession="21", rpps="99700075122",
    contacts=Contacts("carole@officine.test", "+33600000001"),
)  # fmt: skip
STYLE = re.compile(r"<style>(.*?)</style>", re.S)
FIRST_IN_BODY = re.compile(r'<body [^>]*>\s*<div class="simulation" role="note" data-banner="simulation">')
FAMILY = re.compile(r'<body data-screen="[^"]+" class="famille-([a-z]+)">')
IDENTITY = {
    "ecps": "Ma e-CPS",
    "psc": "Le service d'identification des professionnels de santé",
    "testssl": "ATSAM — outil de diagnostic « Test SSL »",
    "sidep": "République française",
    "mailbox": "Boîte de réception",
    "phone": "e-CPS",
}
"""Words each family's header (or frame) shows, and no other family does."""


@pytest.fixture
async def world(session_pki: Pki) -> AsyncIterator[World]:
    async with World(pki=session_pki, start=START, cards=False, clock_runs=False) as running:
        running.state.directory.add(PHARMACIST)
        yield running


@pytest.fixture
async def visitor(world: World) -> AsyncIterator[Visitor]:
    async with world.client() as http:
        yield Visitor(world, http)


async def every_family_page(visitor: Visitor) -> list[tuple[str, Page]]:
    """(family, page) for pages of every site, reached as a professional or a trainer reaches them."""
    sidep = await visitor.get("sidep", "/")
    choice = await visitor.browser.load("GET", visitor.world.urls["sidep"] + "/connexion/psc")
    return [
        ("ecps", await visitor.get("wallet", "/")),
        ("ecps", await visitor.get("wallet", "/activation")),
        ("ecps", await visitor.post("wallet", "/activation", identifiant="123")),
        ("psc", choice),
        ("psc", await visitor.post("wallet", choice.forms[0].action, identifiant="899700075122")),
        ("psc", await visitor.get("psc", REALM_PATH + "/protocol/openid-connect/logout")),
        ("sidep", sidep),
        ("sidep", await visitor.post("sidep", "/connexion/mot-de-passe", identifiant="x", mot_de_passe="y")),
        ("testssl", await visitor.get("testssl", "/")),
        ("mailbox", await visitor.get("admin", "/boite/carole@officine.test")),
        ("phone", await visitor.get("push", "/telephone/telephone-1")),
    ]


async def test_every_page_of_every_site_shows_the_simulation_banner_and_its_familys_look(visitor: Visitor) -> None:
    pages = await every_family_page(visitor)
    assert {family for family, _ in pages} == set(FAMILIES)
    links = {label: href for _, page in pages for href, label in page.links}
    assert links["e-CPS Identification par carte CPS"] == "/connexion/psc", "the guide's words, alone in the link"
    assert links["Activer ma e-CPS avec ma carte CPS"].endswith("/carte")
    for family, page in pages:
        assert page.screen, page.url
        assert BANNER in page.text and FIRST_IN_BODY.search(page.html), f"{page.url}: the banner comes first"
        assert FAMILY.findall(page.html) == [family], page.url
        (style,) = STYLE.findall(page.html)
        assert style == stylesheet("base") + stylesheet(family), f"{page.url}: base and {family} stylesheets inlined"
        assert IDENTITY[family] in page.text, page.url
        others = [other for other in FAMILIES if other not in (family, "phone") and IDENTITY[other] in page.text]
        assert others == [], f"{page.url} shows another site's identity: {others}"


def test_each_family_has_its_own_stylesheet_that_styles_its_header() -> None:
    sheets = {family: str(stylesheet(family)) for family in FAMILIES}
    assert len(set(sheets.values())) == len(FAMILIES)
    for family, sheet in sheets.items():
        assert f".famille-{family}" in sheet and "<" not in sheet, family
    assert ".simulation" in stylesheet("base") and "repeating-linear-gradient" in stylesheet("base")


async def test_the_phone_is_a_phone_sized_ecps_app_with_its_screens(world: World, visitor: Visitor) -> None:
    phone = "/telephone/telephone-1"
    fresh = await visitor.get("push", phone)
    assert (fresh.screen, fresh.data["app-screen"]) == ("telephone", "activation")
    assert "Aucune e-CPS n'est activée sur ce téléphone." in fresh.text and "Scanner un QR code" in fresh.text
    assert [(f.action, f.fields) for f in fresh.forms] == [(phone + "/scanner", ["token"])]
    assert "width:390px" in stylesheet("phone") and 'class="barre-etat"' in fresh.html

    status, _ = await visitor.admin("POST", "/admin/ecps", {"national_id": "899700075122", "password": "4321"})
    assert status == 201
    home = await visitor.get("push", phone)
    assert home.data["app-screen"] == "accueil" and "Aucune demande en attente." in home.text
    assert "e-CPS active pour l'identifiant 899700075122." in home.text

    push = world.state.ecps.request_push("899700075122", "SI-DEP", "00", world.state.now()).pushes[0]
    asked = await visitor.get("push", phone)
    assert asked.data["app-screen"] == "notification" and "SI-DEP demande votre connexion" in asked.text
    assert [(f.action, f.fields) for f in asked.forms][:2] == [
        (f"{phone}/demandes/{push.id}/accepter", ["code"]), (f"{phone}/demandes/{push.id}/refuser", []),
    ]  # fmt: skip
    assert ">Accepter</button>" in asked.html and ">Refuser</button>" in asked.html

    accepted = await visitor.post("push", f"{phone}/demandes/{push.id}/accepter", code="4321")
    assert accepted.data["app-result"] == "ok" and "Connexion acceptée." in accepted.text
    assert accepted.data["app-screen"] == "accueil" and f'data-push="{push.id}" data-push-state="approved"' in (
        accepted.html
    )
    unknown = await visitor.post("push", f"{phone}/scanner", token="pas-un-qr-code")
    assert unknown.data["app-result"] == "error" and "Ce QR code n'est pas reconnu." in unknown.text
