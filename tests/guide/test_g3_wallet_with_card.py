"""Guide paths G3 (e-CPS activation with the card): TLS client authentication on the wallet.

The rules are driven with a software key (aiohttp as the browser) for every certificate
variant; the real chain — curl → OpenSSL's PKCS#11 engine → OpenSC → private pcscd → the
virtual card signing the TLS handshake — is driven for the paths that involve the card itself.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization

from harness.card.profile import load_profile, make_card
from harness.drivers.page import Page, parse_page
from harness.middleware import PKCS1_ONLY, client_env
from harness.pki import CardCredentials, CertVariant, Pki, Professional
from harness.scenario.actions.camera import qr_codes_seen
from harness.world.assembly import World
from simulators.card.cpx import CpxCard
from simulators.web import hosts
from simulators.web.wallet.rules import token_from_qr
from tests.support.visitor import Visitor

START = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
DOCTOR = Professional("899700209812", "D0000020981", "ALAIN", "Médecin")


@pytest.fixture
async def world(session_pki: Pki) -> AsyncIterator[World]:
    async with World(pki=session_pki, start=START) as running:
        yield running


def client_context(world: World, credentials: CardCredentials, tmp_path: Path) -> ssl.SSLContext:
    """A browser holding the card's certificate with its key in software."""
    issued = credentials.authentication
    paths = issued.write(tmp_path, "auth")
    context = world.pki.server.client_context()  # type: ignore[union-attr]
    context.load_cert_chain(paths["cert.pem"], paths["key.pem"])
    return context


async def card_page(world: World, context: ssl.SSLContext | None) -> Page:
    async with (
        world.client(ssl_context=context) as http,
        http.get(world.urls["wallet-card"] + "/carte") as reply,
    ):
        return parse_page(str(reply.url), reply.status, await reply.text())


async def test_g3_01_activation_with_the_card_certificate(world: World, tmp_path: Path) -> None:
    credentials = world.pki.cards.issue(DOCTOR, world.state.now())  # type: ignore[union-attr]
    qr = await card_page(world, client_context(world, credentials, tmp_path))
    assert (qr.status, qr.screen) == (200, "qr-activation")
    assert "ALAIN D0000020981 (899700209812)" in qr.html and "valable 90 secondes" in qr.html
    (scanned_text,) = qr_codes_seen(None, qr.html)  # the phone reads the image, as its camera would
    assert scanned_text.startswith(world.urls["wallet-card"] + "/activation/qr?jeton=")
    token = token_from_qr(scanned_text)
    activation = re.search(r'action="/carte/([^/]+)/confirmation"', qr.html)
    assert activation
    async with world.client() as http:
        visitor = Visitor(world, http)
        early = await visitor.post("wallet-card", f"/carte/{activation.group(1)}/confirmation", code="123456")
        assert early.screen == "qr-non-scanne"
        status, scanned = await visitor.admin("POST", "/admin/phones/telephone-1/scan", {"token": token})
        assert status == 200 and scanned["national_id"] == "899700209812"
        shown = await visitor.get("push", "/telephone/telephone-1")  # the app's "saisie du code" screen
        assert (shown.data["app-screen"], shown.data["code"]) == ("code", scanned["code"])
        confirmed = await visitor.post(
            "wallet-card", f"/carte/{activation.group(1)}/confirmation", code=scanned["code"]
        )
        assert confirmed.screen == "choix-code-e-cps"
        done = await visitor.post(
            "wallet-card", f"/activation/{activation.group(1)}/code-e-cps", code="2468", confirmation="2468"
        )
    assert done.screen == "e-cps-activee"
    ecps = world.state.ecps.find("899700209812")
    assert ecps is not None and ecps.method == "carte"


async def test_the_qr_code_expires_after_90_seconds(world: World, tmp_path: Path) -> None:
    credentials = world.pki.cards.issue(DOCTOR, world.state.now())  # type: ignore[union-attr]
    qr = await card_page(world, client_context(world, credentials, tmp_path))
    world.state.clock.advance("+91s")
    async with world.client() as http:
        status, answer = await Visitor(world, http).admin(
            "POST", "/admin/phones/telephone-1/scan", {"token": qr_codes_seen(None, qr.html)[0]}
        )
    assert status == 404 and "délai est dépassé" in answer["message"]


@pytest.mark.parametrize(
    ("variant", "screen", "says"),
    [
        (CertVariant.EXPIRED, "certificat-expire", "a expiré"),
        (CertVariant.NOT_YET_VALID, "certificat-pas-encore-valide", "pas encore valide"),
        (CertVariant.REVOKED, "certificat-revoque", "en opposition"),
    ],
)
async def test_certificate_variants_get_their_own_screen(
    world: World, tmp_path: Path, variant: CertVariant, screen: str, says: str
) -> None:
    credentials = world.pki.cards.issue(DOCTOR, world.state.now(), variant)  # type: ignore[union-attr]
    page = await card_page(world, client_context(world, credentials, tmp_path))
    assert (page.status, page.screen) == (403, screen)
    assert says in page.html and "0 825 852 000" in page.html


async def test_g3_02_03_no_certificate_presented(world: World) -> None:
    """No card, or no middleware: the browser presents nothing, the wallet explains."""
    page = await card_page(world, None)
    assert (page.status, page.screen) == (403, "aucun-certificat")
    for advice in (
        "Vérifiez que votre carte est bien insérée",
        "Installez le package ATSAM",
        "autre navigateur",
        "0 825 852 000",
    ):
        assert advice in page.html


async def test_a_certificate_from_another_ca_fails_the_handshake(world: World, tmp_path: Path) -> None:
    """The card port trusts IGC-Santé only: a foreign certificate never reaches the page."""
    foreign = Pki(tmp_path / "foreign").cards.issue(DOCTOR, world.state.now())
    with pytest.raises((aiohttp.ClientError, ssl.SSLError)):
        await card_page(world, client_context(world, foreign, tmp_path))


# -- through the virtual card ---------------------------------------------------------------------
async def curl_with_card(world: World, card_cert: Path, tmp_path: Path, pin: str = "1234") -> tuple[int, str, str]:
    assert world.stack is not None and world.ca_bundle is not None
    conf = tmp_path / "pkcs1.cnf"
    conf.write_text(PKCS1_ONLY)
    port = world.sites["wallet-card"].running.port
    process = await asyncio.create_subprocess_exec(
        "curl", "-sS", "--engine", "pkcs11", "--key-type", "ENG",
        "--key", f"pkcs11:object=CPS_PRIV_AUT;type=private;pin-value={pin}",
        "--cert", str(card_cert), "--cacert", str(world.ca_bundle),
        "--resolve", f"{hosts.WALLET}:{port}:127.0.0.1", f"https://{hosts.WALLET}:{port}/carte",
        env={**client_env(world.stack), "OPENSSL_CONF": str(conf)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
async def inserted(world: World, tmp_path: Path) -> tuple[CpxCard, Path]:
    card, credentials = make_card(load_profile("doctor"), world.pki, world.state.now())  # type: ignore[arg-type]
    await world.readers[0].insert(card)
    cert = tmp_path / "auth.pem"
    cert.write_bytes(credentials.authentication.certificate.public_bytes(serialization.Encoding.PEM))
    return card, cert


async def test_g3_01_with_the_virtual_card_through_opensc(
    world: World, inserted: tuple[CpxCard, Path], tmp_path: Path
) -> None:
    card, cert = inserted
    code, out, err = await curl_with_card(world, cert, tmp_path)
    assert code == 0, err
    assert 'data-screen="qr-activation"' in out and "ALAIN D0000020981" in out
    assert any("INTERNAL AUTHENTICATE -> 6100" in entry.line() for entry in card.log), "the card signed the handshake"


async def test_g3_04_wrong_pin_then_right_pin(world: World, inserted: tuple[CpxCard, Path], tmp_path: Path) -> None:
    card, cert = inserted
    code, _, _ = await curl_with_card(world, cert, tmp_path, pin="0000")
    assert code != 0
    assert card.security.chvs[1].tries_left == 2, "the wrong PIN was spent on the card"
    code, out, err = await curl_with_card(world, cert, tmp_path, pin="1234")
    assert code == 0 and 'data-screen="qr-activation"' in out, err
    assert card.security.chvs[1].tries_left == 3


async def test_g3_05_card_removed_during_the_handshake(
    world: World, inserted: tuple[CpxCard, Path], tmp_path: Path
) -> None:
    card, cert = inserted
    card.faults.remove_on_ins = 0x88  # pulled out when the handshake asks for the signature
    code, out, _ = await curl_with_card(world, cert, tmp_path)
    assert code != 0 and "qr-activation" not in out, "TLS fails cleanly: no page"
    card.faults.remove_on_ins = None
    await world.readers[0].remove()
    await world.readers[0].insert(card)
    code, out, err = await curl_with_card(world, cert, tmp_path)
    assert code == 0 and 'data-screen="qr-activation"' in out, err
