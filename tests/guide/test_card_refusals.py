"""One situation, one screen: the three sites that judge a card refuse its certificate with the same id.

The wallet's card port (activation with the card, G3), Pro Santé Connect's "Carte CPS" login (G5-05)
and Test SSL (G6) each read the client certificate of the TLS connection and judge it on the world
clock. PSC used to build its own English ids (``carte-revoked``, ``carte-expired``…); a scenario that
checks ``certificat-revoque`` on one site now reads the same on the others. A software key stands
in for the card: only the certificate matters here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from harness.drivers.page import Page, parse_page
from harness.pki import CertVariant, Pki, Professional
from harness.world.assembly import World
from simulators.web.certificates import CertificateCheck
from simulators.web.psc import app as psc_app
from simulators.web.psc.rules import Client, register_client

START = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
DOCTOR = Professional("899700209812", "D0000020981", "ALAIN", "Médecin")
REDIRECT = "https://rp.example.test/callback"
CLIENT_ID = "sidep-test"
CARD_LINK = re.compile(r'href="(https://[^"]+/auth/[^"]+/carte)"')


@pytest.fixture
async def world(session_pki: Pki) -> AsyncIterator[World]:
    async with World(pki=session_pki, start=START, cards=False) as running:
        assert running.psc is not None
        register_client(running.psc, Client(CLIENT_ID, "s3cret", [REDIRECT], "SI-DEP"))
        yield running


def browser(world: World, variant: CertVariant | None, tmp_path: Path) -> ssl.SSLContext:
    """A browser presenting the doctor's authentication certificate of ``variant`` (None: no certificate)."""
    assert world.pki is not None
    context = world.pki.server.client_context()
    if variant is not None:
        credentials = world.pki.cards.issue(DOCTOR, world.state.now(), variant)
        paths = credentials.authentication.write(tmp_path, "auth")
        context.load_cert_chain(paths["cert.pem"], paths["key.pem"])
    return context


async def card_pages(world: World, context: ssl.SSLContext) -> dict[str, Page]:
    """What each site shows that browser: the wallet's activation with the card, PSC's "Carte CPS", Test SSL."""
    params = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT, "response_type": "code", "scope": "openid",
              "state": "st", "nonce": "nn"}  # fmt: skip
    pages = {}
    async with world.client(ssl_context=context) as http:
        async with http.get(world.urls["wallet-card"] + "/carte") as reply:
            pages["wallet"] = parse_page(str(reply.url), reply.status, await reply.text())
        async with http.get(world.urls["wallet"] + "/auth", params=params) as reply:
            link = CARD_LINK.search(await reply.text())
        assert link is not None
        async with http.get(link.group(1), allow_redirects=False) as reply:
            pages["psc"] = parse_page(str(reply.url), reply.status, await reply.text())
        async with http.get(world.urls["testssl"] + "/") as reply:
            pages["testssl"] = parse_page(str(reply.url), reply.status, await reply.text())
    return pages


@pytest.mark.parametrize(
    ("variant", "screen", "says"),
    [
        (None, "aucun-certificat", "Aucun certificat n'a été présenté"),
        (CertVariant.EXPIRED, "certificat-expire", "a expiré"),
        (CertVariant.NOT_YET_VALID, "certificat-pas-encore-valide", "pas encore valide"),
        (CertVariant.REVOKED, "certificat-revoque", "en opposition"),
    ],
    ids=["absent", "expired", "not-yet-valid", "revoked"],
)
async def test_every_card_site_refuses_a_certificate_with_the_same_screen(
    world: World, tmp_path: Path, variant: CertVariant | None, screen: str, says: str
) -> None:
    pages = await card_pages(world, browser(world, variant, tmp_path))
    assert {site: page.screen for site, page in pages.items()} == {"wallet": screen, "psc": screen, "testssl": screen}
    assert (pages["wallet"].status, pages["psc"].status, pages["testssl"].status) == (403, 403, 200), "Test SSL informs"
    assert all(says in page.text for page in pages.values())


async def test_psc_refuses_a_valid_certificate_that_names_no_national_id(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PSC cannot log in a certificate without a national id (its CN): it was ``carte-valid``, an odd name
    for a refusal; it is the unsuitable-certificate screen."""
    judge = psc_app.check_certificate

    def without_national_id(*args: object) -> CertificateCheck:
        return dataclasses.replace(judge(*args), national_id=None)  # type: ignore[arg-type]

    monkeypatch.setattr(psc_app, "check_certificate", without_national_id)
    page = (await card_pages(world, browser(world, CertVariant.VALID, tmp_path)))["psc"]
    assert (page.status, page.screen) == (403, "certificat-inadapte")
    assert "Ce certificat ne permet pas de vous connecter." in page.text
