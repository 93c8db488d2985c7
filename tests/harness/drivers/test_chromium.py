"""The Chromium driver: every guide path in Debian's Chromium, the card through NSS and OpenSC.

Also the pieces around the browser, each on its own: the auto-login wrapper (through
python-pkcs11, as NSS would load it) and the managed policy file.
"""

from __future__ import annotations

import asyncio
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from harness.drivers.address_bar import BAR_HEIGHT
from harness.drivers.chromium import PIN_DIALOG
from harness.drivers.chromium_policy import TEST_ISSUER_CN, install, policy, policy_installed
from harness.drivers.chromium_setup import autologin_module
from harness.pki import Pki
from harness.pytest_plugin import VirtualCard
from harness.scenario.loader import SCENARIO_DIR, find, load
from harness.scenario.player import Result, play

pytestmark = pytest.mark.pcsc


def _scenarios() -> dict[str, tuple[Path, object]]:
    loaded, problems = load(find([str(SCENARIO_DIR)]))
    assert problems == []
    return {s.id: (p, s) for p, s in loaded}


SCENARIOS = _scenarios()


def run_in_chromium(scenario_id: str, workdir: Path, *, headless: bool = True) -> Result:
    path, scenario = SCENARIOS[scenario_id]
    return asyncio.run(play(scenario, path, Pki(), workdir, driver="chromium", headless=headless))  # type: ignore[arg-type]


def failure(result: Result) -> str:
    event = next((e for e in result.events if not e.ok), None)
    return f"step {event.index} {event.action}: {event.failure}" if event else "stopped early"


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("scenario_id", sorted(SCENARIOS))
def test_every_scenario_passes_in_chromium(scenario_id: str, tmp_path: Path) -> None:
    result = run_in_chromium(scenario_id, tmp_path)
    assert result.driver == "chromium"
    assert result.ok, failure(result)
    browser_steps = [e for e in result.events if e.action.startswith("browser.")]
    missing = [e.index for e in browser_steps if not e.screenshots and "the browser was closed" not in e.detail]
    assert missing == [], f"steps {missing} have no screenshot of what the user saw"


@pytest.mark.e2e
def test_test_ssl_identity_page_in_chromium(tmp_path: Path) -> None:
    """G6-01: the card's identity page, reached by Chromium signing with the card."""
    result = run_in_chromium("G6-01", tmp_path)
    assert result.ok, failure(result)
    event = result.events[-1]
    assert event.screen == "information-carte-cps"
    assert "ALAIN" in event.snapshot and "899700209812" in event.snapshot
    assert any("INTERNAL AUTHENTICATE" in line for line in event.apdus), "the card signed the handshake"
    assert any("VERIFY ref 01 -> 9000" in line for line in event.apdus), "the wrapper's PIN reached the card"
    assert png_size(event.screenshots[-1]) == (1024, 720 + BAR_HEIGHT), "the page, under its drawn address bar"


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("scenario_id", "error", "signed"),
    [
        ("G6-02", "ERR_SSL_CLIENT_AUTH_SIGNATURE_FAILED", True),
        ("G6-06", "ERR_SSL_CLIENT_AUTH_NO_COMMON_ALGORITHMS", False),
    ],
)
def test_chromium_error_pages(scenario_id: str, error: str, signed: bool, tmp_path: Path) -> None:
    result = run_in_chromium(scenario_id, tmp_path)
    assert result.ok, failure(result)
    event = next(e for e in result.events if error in e.detail)
    assert event.screenshots, "Chromium's error page is in the report"
    [words] = [line for line in event.http if line.startswith("(Chromium's error page:")]
    # Chromium in French, as on a professional's workstation (English: "Access to … was denied")
    assert "L'accès à testssl.asipsante.fr a été refusé" in words, words
    assert "Essayez de contacter l'administrateur système." in words and error in words
    asked_to_sign = any("INTERNAL AUTHENTICATE" in line for line in event.apdus)
    assert asked_to_sign == signed  # under TLS 1.3 Chromium stops before asking the card


@pytest.mark.e2e
def test_wrong_pin_is_spent_once_and_reported(tmp_path: Path) -> None:
    """G3-04: Chromium would ask forever; the driver sees the card refuse and closes the browser."""
    result = run_in_chromium("G3-04", tmp_path)
    assert result.ok, failure(result)
    wrong = result.events[1]
    assert "the card refused the PIN" in wrong.detail and "63C2" in wrong.detail
    assert sum("VERIFY ref 01 ->" in line for line in wrong.apdus) == 1, "one wrong PIN costs one try"


@pytest.mark.e2e
def test_headful_pin_dialog_is_photographed_and_typed(tmp_path: Path) -> None:
    """The trainer's view: Chromium's own PIN dialog, in French, found by its title and typed into by xdotool.

    The driver looks for the French title only (``PIN_DIALOG``): an English Chromium's "Unlock
    Security Device" window would never be answered and the PIN step would fail."""
    env_display = os.environ.pop("DISPLAY", None)  # a private Xvfb, whatever the machine has
    try:
        result = run_in_chromium("G3-04", tmp_path, headless=False)
    finally:
        if env_display is not None:
            os.environ["DISPLAY"] = env_display
    assert result.ok, failure(result)
    wrong, right = result.events[1], result.events[2]
    assert PIN_DIALOG == "Déverrouiller l'appareil de sécurité"
    assert len(wrong.screenshots) == 1, "the dialog (found by its French title); then the browser was closed"
    assert len(right.screenshots) == 2, "the dialog, then the page"
    assert png_size(wrong.screenshots[0]) == (1280, 900), "the whole screen, with the native dialog"
    assert png_size(right.screenshots[0]) == (1280, 900)
    assert right.screen == "qr-activation"
    assert not (tmp_path / "p11autologin.log").exists() or "C_Login" not in (tmp_path / "p11autologin.log").read_text()


LANGUAGES_PAGE = """<!doctype html><html><body><p id="out"></p>
<script>document.getElementById("out").textContent = "languages=" + navigator.languages.join(",");</script>
</body></html>"""


@pytest.mark.e2e
def test_chromium_asks_for_french_pages(tmp_path: Path) -> None:
    """What sites see of the professional's language: Accept-Language and navigator.languages of a
    French Chromium, read on a page of the test's own (the world's sites do not echo them)."""
    from aiohttp import web

    from harness.drivers.chromium import ChromiumBrowser
    from harness.world.assembly import World

    asked: list[str | None] = []

    async def languages(request: web.Request) -> web.Response:
        asked.append(request.headers.get("Accept-Language"))
        return web.Response(text=LANGUAGES_PAGE, content_type="text/html")

    async def visit() -> str:
        app = web.Application()
        app.router.add_get("/", languages)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with World(pki=Pki(), cards=False) as world:
                browser = ChromiumBrowser(world, tmp_path, middleware=False)
                try:
                    await browser.open(f"http://127.0.0.1:{port}/")
                    return browser.current().text
                finally:
                    await browser.close()
        finally:
            await runner.cleanup()

    text = asyncio.run(visit())
    assert "languages=fr-FR,fr," in text, text  # English: en-US,en
    assert asked and asked[0] is not None and asked[0].startswith("fr-FR,fr;"), asked


@pytest.mark.e2e
def test_headful_browsers_of_one_run_never_share_a_screen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scenarios of one run start their private Xvfb at once, from one process: each gets its own
    screen, alive until its own browser closes (a shared one had the PIN typed into the other's
    dialog, and its end closed both browsers)."""
    from harness.drivers.chromium import ChromiumBrowser
    from harness.world.assembly import World

    monkeypatch.delenv("DISPLAY", raising=False)

    async def answers(display: str) -> bool:
        probe = await asyncio.create_subprocess_exec(
            "xdotool", "getdisplaygeometry", env={**os.environ, "DISPLAY": display},
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        return await asyncio.wait_for(probe.wait(), 10) == 0

    async def screens() -> tuple[list[str], list[bool]]:
        browsers = []
        for n in range(4):
            (tmp_path / str(n)).mkdir()
            browsers.append(ChromiumBrowser(World(cards=False), tmp_path / str(n), middleware=False, headless=False))
        try:
            displays = list(await asyncio.gather(*(b._screen() for b in browsers)))
            await browsers[0].close()
            alive = [await answers(display) for display in displays]
        finally:
            for browser in browsers:
                await browser.close()
        return displays, alive

    displays, alive = asyncio.run(screens())
    assert len(set(displays)) == 4, displays
    assert alive == [False, True, True, True], "closing one browser stops its own screen only"


def test_no_english_chromium_without_its_french_strings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without fr.pak Chromium would show English screens and its PIN dialog would go unanswered."""
    from harness.drivers import chromium_setup

    chromium_setup.check_prerequisites()  # this machine has them
    monkeypatch.setattr(chromium_setup, "CHROMIUM_FRENCH", str(tmp_path / "fr.pak"))
    with pytest.raises(chromium_setup.ChromiumUnavailable, match="chromium-l10n"):
        chromium_setup.check_prerequisites()


# -- the auto-login wrapper, loaded like NSS loads it --------------------------------------------------
PROBE = """
import sys, pkcs11
from pkcs11 import ObjectClass
lib = pkcs11.lib(sys.argv[1])
slots = lib.get_slots(token_present=True)
print("slots", len(slots))
for _ in range(int(sys.argv[2]) if slots else 0):
    with slots[0].get_token().open() as session:  # no PIN: the wrapper logs in, or not
        keys = list(session.get_objects({pkcs11.Attribute.CLASS: ObjectClass.PRIVATE_KEY}))
        print("private keys", len(keys))
"""


def probe(card: VirtualCard, module: Path, pin_file: Path, sessions: int = 1) -> str:
    env = {**card.env, "CPS_P11_PIN_FILE": str(pin_file)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(module), str(sessions)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def wrapper() -> Path:
    return asyncio.run(autologin_module())


def test_wrapper_logs_in_with_the_pin_file(cps_card: VirtualCard, wrapper: Path, tmp_path: Path) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text("1234")
    out = probe(cps_card, wrapper, pin_file)
    assert "slots 1" in out and "private keys 2" in out
    assert any("VERIFY ref 01 -> 9000" in line for line in cps_card.log()), "the PIN went to the card"


def test_wrapper_hides_the_card_without_a_pin_file(cps_card: VirtualCard, wrapper: Path, tmp_path: Path) -> None:
    out = probe(cps_card, wrapper, tmp_path / "absent")
    assert "slots 0" in out


def test_wrapper_never_sends_a_refused_pin_twice(cps_card: VirtualCard, wrapper: Path, tmp_path: Path) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text("0000")
    out = probe(cps_card, wrapper, pin_file, sessions=3)
    assert out.count("private keys 0") == 3, "not logged in: private objects stay hidden"
    assert cps_card.pin_tries == 2, "three sessions, one wrong PIN spent"
    assert (tmp_path / "pin.refused").read_text() == "0000"
    probe(cps_card, wrapper, pin_file, sessions=2)  # another process: still remembered
    assert cps_card.pin_tries == 2
    (tmp_path / "pin.refused").unlink()  # the person types it again
    probe(cps_card, wrapper, pin_file)
    assert cps_card.pin_tries == 1


# -- the policy ------------------------------------------------------------------------------------------
def test_policy_selects_only_the_test_cas_certificates(tmp_path: Path) -> None:
    rules = policy()["AutoSelectCertificateForUrls"]
    assert len(rules) == 1 and TEST_ISSUER_CN in rules[0] and TEST_ISSUER_CN.startswith("TEST ")
    target = tmp_path / "managed" / "cps-harness.json"
    assert not policy_installed(target)
    install(target)
    assert policy_installed(target)
    target.write_text("{}")
    assert not policy_installed(target), "a changed file is reported, not trusted"
