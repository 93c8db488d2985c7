"""The phone reads the wallet's QR code from pixels: the page's image (protocol driver) or a screenshot
(Chromium), decoded by zxing-cpp; a page with no readable QR code cannot be scanned."""

from __future__ import annotations

import asyncio
import base64
import io
from pathlib import Path

from PIL import Image, ImageDraw
from playwright.async_api import async_playwright

from harness.drivers.chromium_setup import CHROMIUM
from harness.pki import Pki
from harness.scenario.actions.camera import inline_images, qr_codes_seen, read_qr_codes
from harness.scenario.loader import load
from harness.scenario.player import play
from simulators.web.page import ENVIRONMENT
from simulators.web.wallet.qr import qr_image
from simulators.web.wallet.rules import qr_payload, token_from_qr

WALLET = "https://wallet.esw.esante.gouv.fr:8443"
TOKEN = "Zq3-x_9AbCdEfGhIjKlMnO"


def wallet_qr_page(image_uri: str) -> str:
    """The wallet's QR page as it renders, with ``image_uri`` as its QR code."""
    return ENVIRONMENT.get_template("wallet_qr.html").render(
        screen="qr-activation", title="Activation avec votre carte CPS", holder="ALAIN D0000020981",
        national_id="899700209812", token=TOKEN, qr_image=image_uri, qr_size=222, action="/carte/x/confirmation",
        seconds=90,
    )  # fmt: skip


def damaged(image_uri: str) -> str:
    """The same QR code with its middle painted over, as a smudge or a bad print would hide it."""
    png = base64.b64decode(image_uri.split(",", 1)[1])
    with Image.open(io.BytesIO(png)) as picture:
        grey = picture.convert("L")
    width, height = grey.size
    ImageDraw.Draw(grey).rectangle((width // 5, height // 5, width * 4 // 5, height * 4 // 5), fill=255)
    out = io.BytesIO()
    grey.save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def test_the_wallet_page_s_qr_image_decodes_to_the_wallet_url_carrying_the_token() -> None:
    payload = qr_payload(WALLET, TOKEN)
    assert payload == f"{WALLET}/activation/qr?jeton={TOKEN}"
    page = wallet_qr_page(qr_image(payload).data_uri)
    assert 'alt="QR code à scanner avec l\'application e-CPS"' in page
    assert qr_codes_seen(None, page) == [payload]
    assert token_from_qr(payload) == TOKEN
    assert token_from_qr(f"  {TOKEN} ") == TOKEN, "a token typed by hand is taken as it is"
    assert token_from_qr("https://ailleurs.example/page?jeton=x") == "https://ailleurs.example/page?jeton=x"


def test_a_page_without_a_readable_qr_code_shows_the_camera_nothing() -> None:
    good = qr_image(qr_payload(WALLET, TOKEN)).data_uri
    assert qr_codes_seen(None, wallet_qr_page(damaged(good))) == []
    assert qr_codes_seen(None, wallet_qr_page("data:image/png;base64,iVBORw0KGgo=")) == [], "a truncated PNG"
    assert qr_codes_seen(None, wallet_qr_page("data:image/png;base64,@@@")) == [], "not base64"
    assert qr_codes_seen(None, wallet_qr_page("https://elsewhere.example/qr.png")) == [], "not inline"
    assert inline_images("<p>Pas d'image</p>") == [] and read_qr_codes(b"not an image") == []


def test_with_a_screen_the_camera_reads_the_screenshot_not_the_page_images() -> None:
    page = wallet_qr_page(qr_image(qr_payload(WALLET, TOKEN)).data_uri)

    async def screenshot() -> bytes:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                tab = await browser.new_page(viewport={"width": 1024, "height": 720})
                await tab.set_content(page, timeout=15_000)
                return await tab.screenshot(timeout=15_000)
            finally:
                await browser.close()

    shot = asyncio.run(screenshot())
    assert qr_codes_seen(shot, page) == [qr_payload(WALLET, TOKEN)]
    blank = io.BytesIO()
    Image.new("RGB", (1024, 720), "white").save(blank, format="PNG")
    assert qr_codes_seen(blank.getvalue(), page) == [], "a screen that shows no QR code: the page's image is not read"


SCAN_WITHOUT_QR = """id: G3-01-x
variant_of: G3-01
title: t
guide: g
personas:
  alain:
    from: medecin-alain
steps:
  - browser.open: {site: wallet, path: /}
    expect: {screen: accueil}
  - phone.scan:
"""


def test_the_scan_step_on_a_page_without_a_qr_code_fails_and_says_why(tmp_path: Path, session_pki: Pki) -> None:
    path = tmp_path / "G3-01-x.yaml"
    path.write_text(SCAN_WITHOUT_QR, encoding="utf-8")
    [(_, scenario)], problems = load([path])
    assert problems == []
    result = asyncio.run(play(scenario, path, session_pki, tmp_path))
    assert [event.ok for event in result.events] == [True, False]
    assert result.events[1].failure == (
        "StepFailed: no readable QR code on the current page (the phone's camera decoded none)"
    )
