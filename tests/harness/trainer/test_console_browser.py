"""The trainer console in a real browser: Playwright drives Debian's Chromium on the console's page,
which plays G6-02 to its failure, as a trainer would in front of professionals."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Page, async_playwright, expect

from harness.drivers.address_bar import BAR_HEIGHT
from harness.drivers.chromium_setup import CHROMIUM, check_prerequisites, in_french
from harness.trainer.console import console_url, start_console
from harness.trainer.live import Catalogue, Live

pytestmark = [pytest.mark.pcsc, pytest.mark.e2e, pytest.mark.slow]
STEP = 90_000
"""Milliseconds a step may take on the page (the Chromium driver starts its own browser at step 3)."""


@pytest.fixture
async def trainer_page() -> AsyncIterator[tuple[Page, Live, str]]:
    """The console on a loopback port, and the trainer's Chromium on its page."""
    check_prerequisites()
    live = Live(Catalogue.guide())
    site = await start_console(live)
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--test-type"],
                timeout=30_000,
                env=in_french(dict(os.environ)),
            )
            try:
                page = await browser.new_page(viewport={"width": 1400, "height": 1000}, locale="fr-FR")
                errors: list[str] = []
                page.on("pageerror", lambda error: errors.append(str(error)))
                url = console_url(site, "G6-02")
                await page.goto(url, timeout=30_000)
                yield page, live, url
                assert errors == [], "the page's script raised"
            finally:
                await browser.close()
    finally:
        await site.stop()


async def next_step(page: Page, position: int) -> None:
    await page.get_by_role("button", name="Étape suivante ▶").click()
    await expect(page.locator("#position")).to_have_text(f"Étape {position} sur 3", timeout=STEP)
    await expect(page.locator("#etat")).to_have_text("Prêt", timeout=STEP)


async def test_g6_02_played_to_its_failure_in_chromium(trainer_page: tuple[Page, Live, str]) -> None:
    page, live, _ = trainer_page
    await expect(page.get_by_role("heading", name="Console du formateur")).to_be_visible()
    await expect(page.get_by_text("Installation du package ATSAM – En cas d'échec")).to_be_visible()
    await expect(page.locator('input[value="G6-02"]')).to_be_checked()  # ?parcours=G6-02 chose it
    await page.get_by_label("Chromium (le vrai navigateur)").check()
    await page.get_by_role("button", name="Jouer ce parcours").click()
    await expect(page.locator("#position")).to_have_text("Étape 0 sur 3", timeout=STEP)
    await expect(page.locator("#titre")).to_contain_text("G6-02 — La carte échoue l'opération de signature")
    await expect(page.locator("#suite")).to_contain_text("À suivre — étape 1 (La carte CPS et son lecteur)")
    await next_step(page, 1)
    await expect(page.locator("#ecran")).to_have_text("Le navigateur n'a encore rien ouvert.")
    for position in (2, 3):
        await next_step(page, position)

    await expect(page.locator("#dire")).to_contain_text("En cas d'échec, vous obtiendrez l'écran suivant")
    await expect(page.locator("#acteur")).to_have_text("Le navigateur")
    await expect(page.locator("#verdict")).to_have_text("Échec attendu : c'est l'écran d'erreur que montre le guide.")
    failure = page.locator("#erreur-navigateur")
    await expect(failure).to_contain_text("La connexion sécurisée a échoué : la carte n'a pas pu signer")
    await expect(failure).to_contain_text("ERR_SSL_CLIENT_AUTH_SIGNATURE_FAILED")
    await expect(page.locator("#suite")).to_have_text("Parcours terminé.")
    # the professional's view: the Chromium driver's screenshot of its own error page
    picture = page.locator("#ecran img")
    await expect(picture).to_be_visible()
    size: Any = await picture.evaluate("img => img.decode().then(() => [img.naturalWidth, img.naturalHeight])")
    assert size == [1024, 720 + BAR_HEIGHT], "the page under its drawn address bar"
    assert live.shown[-1].event.screenshots, "the picture is the driver's screenshot of step 3"
    assert live.driver == "chromium" and live.shown[-1].client_error == "ERR_SSL_CLIENT_AUTH_SIGNATURE_FAILED"

    # back and restart from the page
    await page.get_by_role("button", name="◀ Étape précédente").click()
    await expect(page.locator("#position")).to_have_text("Étape 2 sur 3", timeout=STEP)
    await expect(page.locator("#verdict")).to_have_text("Conforme au guide.", timeout=STEP)
    await page.get_by_role("button", name="Recommencer").click()
    await expect(page.locator("#position")).to_have_text("Étape 0 sur 3", timeout=STEP)
    await expect(page.locator("#ecran")).to_contain_text("Pas encore d'écran")


async def test_the_protocol_driver_s_page_in_a_sandboxed_frame(trainer_page: tuple[Page, Live, str]) -> None:
    """G6-01 with the protocol driver: its page snapshot, shown in a frame that runs nothing."""
    page, _, _ = trainer_page
    await page.locator('input[value="G6-01"]').check()
    await page.get_by_role("button", name="Jouer ce parcours").click()
    await expect(page.locator("#position")).to_have_text("Étape 0 sur 2", timeout=STEP)
    await page.locator("#cible").fill("2")
    await page.get_by_role("button", name="Aller", exact=True).click()
    await expect(page.locator("#position")).to_have_text("Étape 2 sur 2", timeout=STEP)
    frame = page.locator("#ecran iframe")
    await expect(frame).to_have_attribute("sandbox", "")
    await expect(page.frame_locator("#ecran iframe").locator("body")).to_contain_text("ALAIN", timeout=STEP)
    await expect(page.locator("#identifiant")).to_have_text("information-carte-cps")
