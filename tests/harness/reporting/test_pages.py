"""The pages people read: templates, the mask on every printed value, embedded pictures, the drawn
address bar, French step stories, and the protocol driver's pictures under ``run --screenshots``."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from harness.cli.main import main as cli_main
from harness.diagnose import render as diagnose_render
from harness.diagnose.checks import CHECK_IDS, Check
from harness.diagnose.diagnosis import Diagnosis
from harness.drivers.address_bar import BAR_HEIGHT, shown_address, with_address_bar
from harness.pki import Pki
from harness.reporting.pictures import data_uri
from harness.reporting.redact import MASK
from harness.scenario.french import request_failure, story
from harness.scenario.loader import find, load
from harness.scenario.model import Scenario
from harness.scenario.player import Event, Result, play, snapshot_camera
from harness.scenario.report import write_html
from harness.trainer.demo import write_slides

WIDTH, HEIGHT = 320, 200


def page_png(colour: str = "#f6f6f6") -> bytes:
    image = Image.new("RGB", (WIDTH, HEIGHT), colour)
    image.paste(Image.new("RGB", (60, 40), "#000091"), (20, 20))  # something on the page that must survive
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def image(png: bytes) -> Image.Image:
    with Image.open(io.BytesIO(png)) as opened:
        opened.load()
        return opened.convert("RGB")


def scenario(scenario_id: str) -> tuple[Path, Scenario]:
    (found,), problems = load(find([scenario_id]))
    assert problems == []
    return found


def pictures_in(html: str) -> list[Image.Image]:
    return [
        image(base64.b64decode(data)) for data in re.findall(r'src="data:image/[a-z]+;base64,([A-Za-z0-9+/=]+)"', html)
    ]


# -- the address bar ------------------------------------------------------------------------------------
def test_the_address_bar_adds_rows_above_the_page_and_leaves_the_page_untouched() -> None:
    framed = image(with_address_bar(page_png(), "https://wallet.esw.esante.gouv.fr:44081/activation"))
    assert framed.size == (WIDTH, HEIGHT + BAR_HEIGHT)
    below = framed.crop((0, BAR_HEIGHT, WIDTH, HEIGHT + BAR_HEIGHT))
    assert ImageChops.difference(below, image(page_png())).getbbox() is None, "the page is kept pixel for pixel"
    bar = framed.crop((0, 0, WIDTH, BAR_HEIGHT))
    page_top = image(page_png()).crop((0, 0, WIDTH, BAR_HEIGHT))
    assert ImageChops.difference(bar, page_top).getbbox() is not None, "a bar is drawn, not blank rows"


def test_the_address_bar_shows_the_real_host_and_path_never_the_loopback_port() -> None:
    assert shown_address("https://wallet.esw.esante.gouv.fr:44081/activation?appareil=telephone-1") == (
        "https://wallet.esw.esante.gouv.fr",
        "/activation?appareil=telephone-1",
    )
    png = page_png()
    with_port = with_address_bar(png, "https://wallet.esw.esante.gouv.fr:44081/activation")
    real = with_address_bar(png, "https://wallet.esw.esante.gouv.fr/activation")
    other_host = with_address_bar(png, "https://testssl.asipsante.fr:44081/activation")
    loopback = with_address_bar(png, "https://127.0.0.1:44081/activation")
    assert with_port == real, "the world's port is not drawn"
    drawn = {bytes(image(p).crop((0, 0, WIDTH, BAR_HEIGHT)).tobytes()) for p in (real, other_host, loopback)}
    assert len(drawn) == 3, "the text drawn is the page's host"


def test_an_error_page_has_no_padlock() -> None:
    url = "https://testssl.asipsante.fr/"
    secure, failed = (image(with_address_bar(page_png(), url, secure=s)) for s in (True, False))
    assert ImageChops.difference(secure, failed).getbbox() is not None


# -- French words ---------------------------------------------------------------------------------------
def test_an_expected_failure_is_told_from_its_cause_with_the_code_at_the_end() -> None:
    signature = ["INTERNAL AUTHENTICATE (256 bytes) -> 6F00"]
    assert request_failure("ERR_SSL_CLIENT_AUTH_SIGNATURE_FAILED", signature) == (
        "La connexion sécurisée a échoué : la carte n'a pas pu signer (ERR_SSL_CLIENT_AUTH_SIGNATURE_FAILED)"
    )
    curl = "curl exit 35: curl: (35) OpenSSL/3.0.19: error:41800005:PKCS#11 module::General Error"
    assert request_failure(curl, signature) == "La connexion sécurisée a échoué : la carte n'a pas pu signer"
    wrong_pin = ["VERIFY ref 01 (status) -> 63C3 3 tries left", "VERIFY ref 01 -> 63C2 2 tries left"]
    assert request_failure("curl exit 58: Login failed", wrong_pin).endswith(
        "la carte a refusé le code porteur (il reste 2 essai(s))"
    )


def test_a_step_story_says_what_was_done_and_what_the_page_answered() -> None:
    said = story(
        "browser.submit", {"identifiant": "{carole.national_id}"}, "Le navigateur", on_screen=True, ok=True,
        client_error="", apdus=[], snapshot="<title>x</title><h1>Activation impossible</h1>",
    )  # fmt: skip
    assert said == (
        "Le professionnel saisit son identifiant (RPPS ou ADELI) et envoie le formulaire — la page répond : "
        "Activation impossible"
    )


# -- templates: every value masked, pictures embedded -----------------------------------------------------
SECRETS_IN = "PIN 1234 typed; card-pin 0000"


def test_report_slides_and_diagnose_mask_every_value_and_embed_pictures(tmp_path: Path) -> None:
    """G3-04 types the PINs 0000 and 1234: wherever a step's text carries them (detail, failure, raw
    error, page snapshot, HTTP lines, APDU hex), the report and the slides show ••••; the pictures
    are in the page and still decode."""
    path, g3_04 = scenario("G3-04")
    apdus = ["VERIFY ref 01 (4 bytes) 31 32 33 34 -> 9000 OK", "READ BINARY P1P2=0000 -> 9000"]
    event = Event(
        2, "browser.card_open", SECRETS_IN, False, 0.2, screen="qr-activation", status=200,
        url="https://wallet.esw.esante.gouv.fr:4444/carte", failure=f"StepFailed: {SECRETS_IN}",
        snapshot=f"<h1>Bienvenue</h1><p>{SECRETS_IN}</p>", apdus=apdus, http=[f"GET /?pin=1234 -> 200 {SECRETS_IN}"],
        screenshots=[with_address_bar(page_png(), "https://wallet.esw.esante.gouv.fr:4444/carte")],
        client_error=f"curl exit 58: {SECRETS_IN}",
    )  # fmt: skip
    result = Result(g3_04, path, [Event(1, "card.insert", "alain's card", True, 0.1), event], 0.3, "protocol")
    report = write_html([result], tmp_path / "report" / "report.html", 1.0)
    slides = write_slides(result, tmp_path / "slides")
    for page in (report, slides):
        html = page.read_text(encoding="utf-8")
        assert "1234" not in html and "31 32 33 34" not in html and MASK in html, page
        assert list(page.parent.iterdir()) == [page], "one file: no screens/ folder, no PNG beside it"
        (picture,) = pictures_in(html)
        assert picture.size == (WIDTH, HEIGHT + BAR_HEIGHT)
    html = report.read_text(encoding="utf-8")
    assert "READ BINARY P1P2=0000" in html, "APDU logs are masked as hex only: 0000 there is an offset"
    assert "card-pin ••••" in html
    assert "<details><summary>Détails techniques</summary>" in html

    diagnosis = Diagnosis(
        mode="environment", target="environment", clock=dt.datetime(2026, 11, 28, 9, tzinfo=dt.UTC), seconds=0.1,
        checks=tuple(Check(check_id, "ok", f"PIN 1234 accepted ({check_id})") for check_id in CHECK_IDS),
    )  # fmt: skip
    page = diagnose_render.html(diagnosis, secrets=["1234"])
    assert "1234" not in page and "PIN •••• accepted (pin)" in page and "<style>" in page


def test_a_picture_is_shrunk_for_the_page_and_keeps_its_size() -> None:
    png = with_address_bar(page_png(), "https://wallet.esw.esante.gouv.fr/activation")
    uri = data_uri(png)
    assert uri.startswith("data:image/webp;base64,")
    assert image(base64.b64decode(uri.split(",", 1)[1])).size == (WIDTH, HEIGHT + BAR_HEIGHT)


# -- run --screenshots ------------------------------------------------------------------------------------
def test_screenshots_without_playwright_say_the_pip_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "playwright.async_api", None)  # as if the [chromium] extra were absent
    monkeypatch.delitem(sys.modules, "harness.drivers.camera", raising=False)
    assert cli_main(["run", "G2-04", "--screenshots", "--report", str(tmp_path)]) == 2
    out = " ".join(capsys.readouterr().out.split())
    assert "✘ --screenshots needs Playwright" in out and "pip install 'cps-harness[chromium]'" in out, out
    assert not (tmp_path / "report.html").exists(), "nothing ran"


def test_without_screenshots_no_chromium_is_imported_and_no_picture_taken(tmp_path: Path) -> None:
    probe = (
        "import sys\nfrom harness.cli.main import main\n"
        f"code = main(['run', 'G2-04', '--report', {str(tmp_path)!r}])\n"
        "print(code, 'playwright' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.stdout.splitlines()[-1] == "0 False", done.stdout[-2000:] + done.stderr[-2000:]
    assert pictures_in((tmp_path / "report.html").read_text(encoding="utf-8")) == []


@pytest.mark.e2e
def test_screenshots_give_every_page_of_the_protocol_driver_a_picture(tmp_path: Path, session_pki: Pki) -> None:
    """G3-01: the card's page, then the phone's steps; each step that shows a page has its picture,
    Chromium's drawing of the snapshot under the address bar; card steps have none."""
    path, g3_01 = scenario("G3-01")

    async def played() -> Result:
        camera = snapshot_camera()
        try:
            return await play(g3_01, path, session_pki, tmp_path, camera=camera)
        finally:
            await camera.close()

    result = asyncio.run(played())
    assert result.ok
    for event in result.events:
        on_screen = event.action.startswith(("browser.", "phone."))
        assert len(event.screenshots) == (1 if on_screen else 0), event.action
        if on_screen:
            picture = image(event.screenshots[0])
            assert picture.size == (1024, 720 + BAR_HEIGHT)
            colours = picture.crop((0, BAR_HEIGHT, 1024, 720)).getcolors(1 << 20) or []
            assert len(colours) > 2, "the page is drawn, not blank"
