"""Guide paths G6 (ATSAM's "Test SSL" diagnostic) against a running world.

The card itself (curl → OpenSSL's PKCS#11 engine → OpenSC → private pcscd → the virtual card)
drives the paths where the card or the TLS version matters (G6-01, G6-02, G6-06); a software
key stands in for it where only the certificate matters (G6-03, G6-04, G6-05).

What asyncio does with a failed server handshake matters for G6-02: it drops the connection
without sending OpenSSL's alert (``SSLProtocol._fatal_error`` aborts the transport), so the
client sees the connection end, not ``decrypt error``; the server's own reason is only logged,
at debug level, in the loop's debug mode — ``server_handshake_errors`` reads it from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization

from harness.card.profile import load_profile, make_card
from harness.drivers.page import Page, parse_page
from harness.middleware import PKCS1_ONLY, client_env
from harness.pki import CardCredentials, CertVariant, Pki, Professional
from harness.world.assembly import World
from simulators.card.cpx import CpxCard
from simulators.web import hosts
from tests.support.visitor import Visitor

START = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
DOCTOR = Professional("899700209812", "D0000020981", "ALAIN", "Médecin")
SUPPORT = ("0 825 852 000", "monserviceclient.cartes@asipsante.fr")
FIELD = re.compile(r'<td data-field="([^"]+)">(.*?)</td>', re.S)


def fields(html: str) -> dict[str, str]:
    """The page's table, by field name (values still HTML-escaped)."""
    return dict(FIELD.findall(html))


@pytest.fixture
async def world(session_pki: Pki) -> AsyncIterator[World]:
    async with World(pki=session_pki, start=START) as running:
        yield running


def software_card(world: World, credentials: CardCredentials, tmp_path: Path) -> ssl.SSLContext:
    """A browser holding the card's authentication certificate with its key in software."""
    paths = credentials.authentication.write(tmp_path, "auth")
    context = world.pki.server.client_context()  # type: ignore[union-attr]
    context.load_cert_chain(paths["cert.pem"], paths["key.pem"])
    return context


async def open_testssl(world: World, context: ssl.SSLContext | None) -> Page:
    async with world.client(ssl_context=context) as http, http.get(world.urls["testssl"] + "/") as reply:
        return parse_page(str(reply.url), reply.status, await reply.text())


async def set_tls_max(world: World, value: object) -> tuple[int, object]:
    async with world.client() as http:
        return await Visitor(world, http).admin("POST", "/admin/testssl", {"tls_max": value})


async def openssl_x509(certificate: Path, *options: str) -> dict[str, str]:
    """``openssl x509 -noout`` fields (``notBefore``, ``serial``…): the reference for the page's format."""
    process = await asyncio.create_subprocess_exec(
        "openssl", "x509", "-in", str(certificate), "-noout", *options, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    return dict(line.split("=", 1) for line in out.decode().splitlines())


# -- through the virtual card -----------------------------------------------------------------------
async def curl_with_card(
    world: World, card_cert: Path, tmp_path: Path, *, pkcs1_only: bool = True
) -> tuple[int, str, str]:
    """curl -v as the browser, the key on the card; ``pkcs1_only=False`` keeps OpenSSL's defaults.

    The trace is not UTF-8: curl prints the TLS CA's name (``IGC-Santé``) in Latin-1.
    """
    assert world.stack is not None and world.ca_bundle is not None
    env = client_env(world.stack)
    if pkcs1_only:
        conf = tmp_path / "pkcs1.cnf"
        conf.write_text(PKCS1_ONLY)
        env["OPENSSL_CONF"] = str(conf)
    port = world.sites["testssl"].running.port
    process = await asyncio.create_subprocess_exec(
        "curl", "-sS", "-v", "--engine", "pkcs11", "--key-type", "ENG",
        "--key", "pkcs11:object=CPS_PRIV_AUT;type=private;pin-value=1234",
        "--cert", str(card_cert), "--cacert", str(world.ca_bundle),
        "--resolve", f"{hosts.TESTSSL}:{port}:127.0.0.1", f"https://{hosts.TESTSSL}:{port}/",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode(errors="replace")


def curl_error(stderr: str) -> str:
    """curl's own error line (``curl: (35) …``), without the verbose trace around it."""
    return next((line for line in stderr.splitlines() if line.startswith("curl: (")), "")


def card_lines(card: CpxCard) -> list[str]:
    return [entry.line() for entry in card.log]


@contextlib.contextmanager
def server_handshake_errors(caplog: pytest.LogCaptureFixture) -> Iterator[list[str]]:
    """The OpenSSL reasons of the server's failed handshakes meanwhile (e.g. ``BAD_SIGNATURE``).

    asyncio reports them only in debug mode (an ``SSLError`` is an ``OSError``, otherwise silent).
    """
    loop = asyncio.get_running_loop()
    reasons: list[str] = []
    loop.set_debug(True)
    try:
        with caplog.at_level(logging.DEBUG, logger="asyncio"):
            yield reasons
            for record in caplog.records:
                error = record.exc_info[1] if record.exc_info else None
                if isinstance(error, ssl.SSLError) and error.reason and error.reason not in reasons:
                    reasons.append(error.reason)
    finally:
        loop.set_debug(False)


@pytest.fixture
async def inserted(world: World, tmp_path: Path) -> tuple[CpxCard, CardCredentials, Path]:
    card, credentials = make_card(load_profile("doctor"), world.pki, world.state.now())  # type: ignore[arg-type]
    await world.readers[0].insert(card)
    cert = tmp_path / "auth.pem"
    cert.write_bytes(credentials.authentication.certificate.public_bytes(serialization.Encoding.PEM))
    return card, credentials, cert


async def test_g6_01_valid_card_shows_every_field(
    world: World, inserted: tuple[CpxCard, CardCredentials, Path], tmp_path: Path
) -> None:
    card, credentials, cert = inserted
    code, out, err = await curl_with_card(world, cert, tmp_path)
    assert code == 0, err
    page = parse_page("", 200, out)
    assert page.screen == "information-carte-cps" and "Information sur votre carte CPS" in out
    reference = await openssl_x509(cert, "-startdate", "-enddate", "-serial")
    shown = fields(out)
    expected = {
        "organisation": "ASIP-SANTE",
        "autorite": "0002 187512751",
        "classe": "TEST AC IGC-SANTE FORT PERSONNES",
        "prenom": "ALAIN",
        "nom": "D0000020981",
        "identifiant": "899700209812",
        "ville": "",
        "serie": credentials.authentication.serial_hex,
        "cree-le": reference["notBefore"],
        "expire-le": reference["notAfter"],
        "verification": "SUCCESS",
    }
    assert {name: shown.get(name) for name in expected} == expected
    assert int(shown["serie"], 16) == int(reference["serial"], 16)
    assert re.fullmatch(r"[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \d{4} GMT", shown["cree-le"])
    assert "-----BEGIN CERTIFICATE-----" in shown["x509"]
    assert "SSL connection using TLSv1.2" in err
    assert any("INTERNAL AUTHENTICATE -> 6100" in line for line in card_lines(card)), "the card signed"


async def test_g6_02_card_error_on_internal_authenticate(
    world: World,
    inserted: tuple[CpxCard, CardCredentials, Path],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What Chromium shows as ERR_SSL_CLIENT_AUTH_SIGNATURE_FAILED: the token's signature fails."""
    card, _, cert = inserted
    card.faults.forced_sw[0x88] = 0x6F00
    with server_handshake_errors(caplog) as server:
        code, out, err = await curl_with_card(world, cert, tmp_path)
    assert code == 35 and "data-screen" not in out, "the handshake fails: no page"
    assert re.fullmatch(r"curl: \(35\) OpenSSL/[\d.]+: error:41800005:PKCS#11 module::General Error", curl_error(err))
    assert any("INTERNAL AUTHENTICATE -> 6F00" in line for line in card_lines(card))
    assert server == ["TLSV1_ALERT_INTERNAL_ERROR"], "the client aborts with an alert"
    card.faults.forced_sw.clear()
    code, out, err = await curl_with_card(world, cert, tmp_path)
    assert code == 0 and 'data-screen="information-carte-cps"' in out, err


async def test_g6_02_signature_with_the_wrong_key_is_rejected_by_the_server(
    world: World,
    inserted: tuple[CpxCard, CardCredentials, Path],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The card signs, but not with the certificate's key: the server refuses the CertificateVerify."""
    card, _, cert = inserted
    card.faults.wrong_key_signature = True
    with server_handshake_errors(caplog) as server:
        code, out, err = await curl_with_card(world, cert, tmp_path)
    assert code == 35 and "data-screen" not in out
    assert curl_error(err).startswith("curl: (35) OpenSSL SSL_connect: SSL_ERROR_SYSCALL in connection to"), err
    assert "TLSv1.2 (OUT), TLS handshake, CERT verify (15)" in err, "the client did send its signature"
    assert any("INTERNAL AUTHENTICATE -> 6100" in line for line in card_lines(card)), "the card did sign"
    assert server == ["BAD_SIGNATURE"]


# -- the certificate's verdict (a software key is enough) -------------------------------------------
@pytest.mark.parametrize(
    ("variant", "screen", "verification", "says"),
    [
        (CertVariant.EXPIRED, "certificat-expire", "FAILED:certificate has expired", "a expiré"),
        (CertVariant.REVOKED, "certificat-revoque", "FAILED:certificate revoked", "en opposition"),
        (
            CertVariant.NOT_YET_VALID,
            "certificat-pas-encore-valide",
            "FAILED:certificate is not yet valid",
            "pas encore valide",
        ),
    ],
)
async def test_g6_03_04_expired_or_revoked_certificate(
    world: World, tmp_path: Path, variant: CertVariant, screen: str, verification: str, says: str
) -> None:
    credentials = world.pki.cards.issue(DOCTOR, world.state.now(), variant)  # type: ignore[union-attr]
    page = await open_testssl(world, software_card(world, credentials, tmp_path))
    assert (page.status, page.screen) == (200, screen)
    shown = fields(page.html)
    assert shown["verification"] == verification and shown["identifiant"] == "899700209812"
    assert shown["serie"] == credentials.authentication.serial_hex
    assert says in page.html
    assert all(contact in page.html for contact in SUPPORT)


async def test_g6_03_04_the_verdict_follows_the_world_clock_and_crl(pki: Pki, tmp_path: Path) -> None:
    """The same certificate: valid, then revoked (declared lost), then expired three years on."""
    async with World(pki=pki, start=START, cards=False) as world:
        credentials = pki.cards.issue(DOCTOR, world.state.now())
        context = software_card(world, credentials, tmp_path)
        assert (await open_testssl(world, context)).screen == "information-carte-cps"
        pki.cards.revoke(credentials.authentication.certificate, world.state.now() + dt.timedelta(hours=1))
        assert (await open_testssl(world, context)).screen == "information-carte-cps", "not yet on the CRL"
        world.state.clock.advance("+2h")
        assert (await open_testssl(world, context)).screen == "certificat-revoque"
        world.state.clock.advance("+1100d")
        assert (await open_testssl(world, context)).screen == "certificat-expire"


async def test_g6_05_no_certificate_presented(world: World) -> None:
    page = await open_testssl(world, None)
    assert (page.status, page.screen) == (200, "aucun-certificat")
    assert fields(page.html)["verification"] == "NONE" and fields(page.html)["identifiant"] == ""
    for advice in ("Aucun certificat n'a été présenté", "Installez le package ATSAM", "code porteur CPS", *SUPPORT):
        assert advice in page.text


async def test_a_certificate_from_another_ca_fails_the_handshake(world: World, tmp_path: Path) -> None:
    """Test SSL trusts IGC-Santé only: a foreign certificate never reaches the page."""
    foreign = Pki(tmp_path / "foreign").cards.issue(DOCTOR, world.state.now())
    with pytest.raises((aiohttp.ClientError, ssl.SSLError)):
        await open_testssl(world, software_card(world, foreign, tmp_path))


# -- G6-06: the TLS version switch ------------------------------------------------------------------
async def test_g6_06_tls_1_3_allowed_then_capped_again(
    world: World, inserted: tuple[CpxCard, CardCredentials, Path], tmp_path: Path
) -> None:
    card, _, cert = inserted
    assert await set_tls_max(world, "1.3") == (200, {"tls_max": "1.3"})

    # PKCS#1-only client: TLS 1.3 allows no PKCS#1 CertificateVerify, so OpenSSL sends an empty
    # Certificate; the optional client auth lets the handshake through, and the page says so.
    code, out, err = await curl_with_card(world, cert, tmp_path)
    assert code == 0, err
    assert "SSL connection using TLSv1.3" in err and 'data-screen="aucun-certificat"' in out
    # OpenSSL's default signature algorithms: it picks RSA-PSS, which the card's module lacks.
    code, out, err = await curl_with_card(world, cert, tmp_path, pkcs1_only=False)
    assert code == 35 and "data-screen" not in out
    assert re.fullmatch(
        r"curl: \(35\) OpenSSL/[\d.]+: error:41800070:PKCS#11 module::Mechanism invalid", curl_error(err)
    )
    assert not any(" MSE " in line or "INTERNAL AUTHENTICATE" in line for line in card_lines(card)), "nothing signed"

    assert await set_tls_max(world, "1.2") == (200, {"tls_max": "1.2"})
    code, out, err = await curl_with_card(world, cert, tmp_path)
    assert code == 0, err
    assert "SSL connection using TLSv1.2" in err and 'data-screen="information-carte-cps"' in out
    assert any("INTERNAL AUTHENTICATE -> 6100" in line for line in card_lines(card))


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"tls_max": "1.1"}, "tls_max must be one of"),
        ({"tls_max": 1.3}, "tls_max must be one of"),
        ({"tls_max": None}, "tls_max must be one of"),
        ({}, "tls_max is required"),
        ({"tls_max": "1.3", "tls_min": "1.2"}, "unknown field(s): tls_min"),
        (["1.3"], "must be a JSON object"),
    ],
)
async def test_g6_06_the_switch_refuses_bad_input(world: World, body: object, says: str) -> None:
    async with world.client() as http:
        visitor = Visitor(world, http)
        status, answer = await visitor.admin("POST", "/admin/testssl", body)
        assert status == 400 and says in answer["error"]
        assert await visitor.admin("GET", "/admin/testssl") == (200, {"tls_max": "1.2"}), "unchanged"
        async with http.post(
            world.urls["admin"] + "/admin/testssl", data=b"{not json", headers={"Content-Type": "application/json"}
        ) as reply:
            assert reply.status == 400 and "not valid JSON" in (await reply.json())["error"]
