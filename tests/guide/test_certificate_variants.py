"""One variant per certificate of the card, against a running world and through the virtual card.

A card's two certificates are issued and revoked on their own (``certificates: {authentication: …,
signature: …}``). Every login (Test SSL, the wallet's card path, PSC's card login seen from SI-DEP)
judges the authentication certificate, the one the browser presents; the signature certificate
keeps its own state, which the world's IGC-Santé site publishes and openssl checks independently.
No scenario action can show the signature certificate's state (OpenSC cannot sign with
``CPS_PRIV_SIG`` under OpenSSL 3, see docs/client-tool-developer.md), so this test does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from harness.diagnose.diagnosis import diagnose_world
from harness.middleware import client_env
from harness.pki import Pki
from harness.world.assembly import World
from simulators.web import hosts
from simulators.world.directory import Contacts, Professional
from tests.support.paths import REPO
from tests.support.visitor import Visitor

START = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
AUTH_ID, SIGN_ID = "e828bd080f8025000001ff001002", "e828bd080f8025000001ff001001"
"""The PKCS#15 ids of the authentication and signature certificates (docs/client-tool-developer.md)."""


@pytest.fixture
async def world(session_pki: Pki) -> AsyncIterator[World]:
    async with World(pki=session_pki, start=START) as running:
        running.state.directory.add(
            Professional(
                "M", "ALAIN", "D0000020981", "10", rpps="99700209812",
                contacts=Contacts("alain@cabinet.test", "+33600000002"),
            )
        )  # fmt: skip
        yield running


def profile_with(tmp_path: Path, certificates: str) -> Path:
    """The built-in doctor's profile, its ``certificates:`` line replaced."""
    text = (REPO / "harness/card/profiles/doctor.yaml").read_text(encoding="utf-8")
    assert "certificates: valid\n" in text
    path = tmp_path / "card.yaml"
    path.write_text(text.replace("certificates: valid\n", f"certificates: {certificates}\n"), encoding="utf-8")
    return path


async def run(*command: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")


async def card_certificate(world: World, certificate_id: str, path: Path) -> x509.Certificate:
    """The certificate as OpenSC reads it from the card in reader 0 (its CDF, then its file)."""
    assert world.stack is not None
    code, out = await run("pkcs15-tool", "--read-certificate", certificate_id, env=client_env(world.stack))
    assert code == 0, out
    path.write_text(out[out.index("-----BEGIN CERTIFICATE-----") :], encoding="ascii")
    return x509.load_pem_x509_certificate(path.read_bytes())


async def openssl_verify(world: World, certificate: Path, tmp_path: Path) -> tuple[int, str]:
    """openssl's verdict at the world clock, with the CRL the world's IGC-Santé site publishes."""
    assert world.pki is not None
    async with world.client() as http, http.get(world.urls["igc"] + hosts.CRL_PATH) as reply:
        crl = x509.load_der_x509_crl(await reply.read())
    crl_file, root, intermediate = tmp_path / "crl.pem", tmp_path / "root.pem", tmp_path / "inter.pem"
    crl_file.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    root.write_bytes(world.pki.cards.root.certificate.public_bytes(serialization.Encoding.PEM))
    intermediate.write_bytes(world.pki.cards.personnes.certificate.public_bytes(serialization.Encoding.PEM))
    at = str(int(world.state.now().timestamp()))
    return await run(
        "openssl", "verify", "-CAfile", str(root), "-untrusted", str(intermediate), "-crl_check",
        "-CRLfile", str(crl_file), "-attime", at, str(certificate),
    )  # fmt: skip


async def logins(world: World, certificate: Path, tmp_path: Path) -> dict[str, str]:
    """The screen each login shows with the card (curl, the key on the card through OpenSC)."""
    screens = {}
    async with world.client() as http:
        visitor = Visitor(world, http, tmp_path)
        browser = visitor.browser
        await browser.card_open(world.urls["testssl"] + "/", certificate, "1234")
        screens["testssl"] = browser.current().screen
        await browser.card_open(world.urls["wallet-card"] + "/carte", certificate, "1234")
        screens["wallet"] = browser.current().screen
        await browser.open(world.urls["sidep"] + "/")
        await browser.follow("e-CPS Identification par carte CPS")
        await browser.card_follow("Se connecter avec ma carte CPS", certificate, "1234")
        screens["psc"] = browser.current().screen
    return screens


@pytest.mark.parametrize(
    ("certificates", "shown", "screens", "signature_says", "diagnosis"),
    [
        (
            "{authentication: expired, signature: valid}",
            {"authentication": "expired", "signature": "valid"},
            {"testssl": "certificat-expire", "wallet": "certificat-expire", "psc": "certificat-expire"},
            ": OK",
            "validity",
        ),
        (
            "{signature: revoked}",
            {"authentication": "valid", "signature": "revoked"},
            {"testssl": "information-carte-cps", "wallet": "qr-activation", "psc": "connecte"},
            "certificate revoked",
            None,
        ),
    ],
    ids=["authentication-expired", "signature-revoked"],
)
async def test_logins_judge_the_authentication_certificate_and_the_signature_one_keeps_its_state(
    world: World,
    tmp_path: Path,
    certificates: str,
    shown: dict[str, str],
    screens: dict[str, str],
    signature_says: str,
    diagnosis: str | None,
) -> None:
    async with world.client() as http:
        admin = Visitor(world, http)
        status, reader = await admin.admin(
            "POST", "/admin/cards/0/insert", {"profile": str(profile_with(tmp_path, certificates))}
        )
        assert status == 200 and reader["certificates"] == shown, reader
        assert (await admin.admin("GET", "/admin/cards"))[1][0]["certificates"] == shown

    now = world.state.now()
    auth_pem, sign_pem = tmp_path / "auth.pem", tmp_path / "sign.pem"
    auth, sign = await card_certificate(world, AUTH_ID, auth_pem), await card_certificate(world, SIGN_ID, sign_pem)
    auth_valid = auth.not_valid_before_utc <= now <= auth.not_valid_after_utc
    assert auth_valid is (shown["authentication"] != "expired"), "the card carries the certificate as issued"
    assert sign.not_valid_before_utc <= now <= sign.not_valid_after_utc
    assert auth.serial_number != sign.serial_number

    code, said = await openssl_verify(world, sign_pem, tmp_path)
    assert (code == 0) is (signature_says == ": OK") and signature_says in said, said
    code, said = await openssl_verify(world, auth_pem, tmp_path)
    assert (code == 0) is (shown["authentication"] == "valid"), said

    assert await logins(world, auth_pem, tmp_path) == screens

    found = await diagnose_world(world, tmp_path / "diagnose", pin="1234")
    failed = found.first_failure
    assert (failed.id if failed else None) == diagnosis, found.summary()
    validity, revocation = found.check("validity"), found.check("revocation")
    assert validity.detail.startswith("authentication certificate")
    assert validity.data["signature"] == "valid"
    assert revocation.data["signature"] == ("revoked" if shown["signature"] == "revoked" else "good")
    assert revocation.data["ocsp"] == "good", "the authentication certificate is not revoked"
