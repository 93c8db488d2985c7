"""Retake the trainer guide's pictures: `.venv/bin/python docs/images/shoot.py` from the repository.

- ``trainer-console-G6-02.png``: the trainer console, G6-02 played with the Chromium driver to its
  failure (step 3), as a trainer's French Chromium shows it;
- ``chromium-error-page-G6-02.png``: what the professional saw at that step, the driver's screenshot
  (Chromium's French error page under the drawn address bar).

The same path as ``tests/harness/trainer/test_console_browser.py``, which checks it; this only keeps
the pictures. ``trainer-pin-dialog-G3-04.png`` comes from ``cps-harness demo G3-04 --headful``.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from playwright.async_api import async_playwright, expect

from harness.drivers.chromium_setup import CHROMIUM, check_prerequisites, in_french
from harness.trainer.console import console_url, start_console
from harness.trainer.live import Catalogue, Live

HERE = Path(__file__).parent
STEP = 90_000  # ms: a step with Chromium and the card, on a loaded machine


async def main() -> None:
    check_prerequisites()
    live = Live(Catalogue.guide())
    site = await start_console(live)
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--test-type"], env=in_french(dict(os.environ))
            )
            page = await browser.new_page(viewport={"width": 1440, "height": 1100})
            await page.goto(console_url(site, "G6-02"))
            await page.get_by_label("Chromium (le vrai navigateur)").check()
            await page.get_by_role("button", name="Jouer ce parcours").click()
            await expect(page.locator("#position")).to_have_text("Étape 0 sur 3", timeout=STEP)
            await page.locator("#cible").fill("3")
            await page.get_by_role("button", name="Aller", exact=True).click()
            await expect(page.locator("#position")).to_have_text("Étape 3 sur 3", timeout=STEP)
            await expect(page.locator("#ecran img")).to_be_visible(timeout=STEP)
            await page.locator('input[value="G6-02"]').scroll_into_view_if_needed()
            await page.screenshot(path=HERE / "trainer-console-G6-02.png")
            (HERE / "chromium-error-page-G6-02.png").write_bytes(live.shown[-1].event.screenshots[-1])
            await browser.close()
    finally:
        await live.close()
        await site.stop()


if __name__ == "__main__":
    asyncio.run(main())
