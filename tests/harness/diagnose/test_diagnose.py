"""``cps-harness diagnose``: each check fails for its reason, and passes once the cause is fixed.

The verdicts are pure functions (``harness/diagnose/checks.py``): most are tested on plain data
here. Then the whole diagnosis runs through worlds with the virtual card (pcscd, OpenSC, NSS,
curl, the IGC-Santé site, Test SSL), in world mode and in environment mode, and through the CLI.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from harness.card.profile import load_profile, make_card, parse_certificates
from harness.cli.main import main as cli_main
from harness.diagnose import checks as c
from harness.diagnose import render
from harness.diagnose.diagnosis import (
    ENVIRONMENT_NOTE,
    Diagnosis,
    WorldOptions,
    diagnose_environment,
    diagnose_new_world,
    diagnose_world,
    parse_faults,
)
from harness.diagnose.probes import ToolResult, key_uri, parse_modutil, parse_pkcs11_tool, read_page, write_pin
from harness.middleware import OPENSC_MODULE, client_env, make_nss_db
from harness.pki import CertVariant, CertVariants, Pki, Professional
from harness.scenario.loader import load
from harness.scenario.player import play
from harness.world.assembly import World
from simulators.card.cpx import CpxCard
from simulators.web.igc.rules import answer_ocsp, build_crl

PHARMACIST = Professional("899700075122", "PHARMACH0007512", "CAROLE", "Pharmacien")
VITALE_ATR = bytes.fromhex("3B6800000073C84013009000")
CPS4_T0_ATR = bytes.fromhex("3BDC18FF00001225006480000401009000")


# -- PC/SC: service, readers, card, PIN ---------------------------------------------------------------------
def state(**changes: Any) -> c.PcscState:
    """A PC/SC probe report with a CPS card in reader 0, changed as a test needs."""
    reader = c.ReaderState("Reader 0", True, c.CPX_ATR, 0x9000)
    base = c.PcscState(True, "/run/test.comm", "", (reader, c.ReaderState("Reader 1", False)), "Reader 0", 0x63C3)
    return dataclasses.replace(base, **changes)


def test_service_fails_when_pcscd_does_not_answer_and_passes_when_it_does() -> None:
    down = c.check_service(state(service=False, error="Service not available"))
    assert down.failed and "Service not available" in down.detail and "pcscd" in down.fix
    assert c.check_service(state()).ok


def test_readers_fail_when_none_is_listed_and_pass_with_one() -> None:
    none = c.check_readers(state(readers=()))
    assert none.failed and "no reader" in none.detail and "lecteur" in none.message
    assert c.check_readers(state()).ok


def test_card_present_fails_on_empty_readers_with_the_guide_advice() -> None:
    empty = state(readers=(c.ReaderState("Reader 0", False), c.ReaderState("Reader 1", False)), card_reader=None)
    check = c.check_card_present(empty)
    assert check.failed and "no card in Reader 0, Reader 1" in check.detail
    assert "Vérifiez que votre carte est bien insérée dans le lecteur." in check.advice
    assert c.check_card_present(state()).ok


@pytest.mark.parametrize(
    ("atr", "select_sw", "says"),
    [
        (VITALE_ATR, 0x6A82, "not a CPS card"),
        (VITALE_ATR, 0x9000, "not in OpenSC's CPx table"),
    ],
)
def test_card_recognised_fails_for_another_card(atr: bytes, select_sw: int, says: str) -> None:
    other = state(readers=(c.ReaderState("Reader 0", True, atr, select_sw),), card_reader=None)
    check = c.check_card_recognised(other)
    assert check.failed and says in check.detail
    assert c.check_card_recognised(state()).ok


def test_cpx_atr_mask_takes_cps3_and_cps4_t0_only() -> None:
    assert c.atr_is_cpx(c.CPX_ATR) and c.atr_is_cpx(CPS4_T0_ATR)
    assert not c.atr_is_cpx(VITALE_ATR) and not c.atr_is_cpx(c.CPX_ATR + b"\x00")


@pytest.mark.parametrize(
    ("pin_sw", "puk_sw", "status", "says"),
    [
        (0x63C3, 0x63C3, "ok", "3 tries left"),
        (0x63C1, 0x63C3, "ok", "1 try left"),
        (0x9000, 0x63C3, "ok", "already verified"),
        (0x6983, 0x63C3, "fail", "PIN blocked (6983); the PUK can unblock it"),
        (0x6983, 0x6983, "fail", "the card is unusable"),
        (None, None, "fail", "could not be read"),
    ],
)
def test_pin_status(pin_sw: int | None, puk_sw: int | None, status: str, says: str) -> None:
    check = c.check_pin(state(pin_sw=pin_sw, puk_sw=puk_sw))
    assert check.status == status and says in check.detail, check.detail
    if puk_sw == 0x6983:
        assert any("formulaire d'incident" in a for a in check.advice)


# -- the middleware and the browser ----------------------------------------------------------------------------
PKCS11_TOOL = """Cryptoki version 3.0
Manufacturer     OpenSC Project
Library          OpenSC smartcard framework (ver 0.23)
Available slots:
Slot 0 (0x0): Virtual PCD 00 00
  token label        : CPS3v3-TEST (code porteur)
  token manufacturer : ASIP SANTE
Slot 1 (0x4): Virtual PCD 00 01
  (empty)
Supported mechanisms:
  SHA-1, digest
  RSA-PKCS, keySize={512,2048}, hw, decrypt, sign, verify
  SHA256-RSA-PKCS, keySize={512,2048}, sign, verify
Certificate Object; type = X.509 cert
  label:      Certificat d'Authentification CPS
  subject:    DN: C=FR/title=Pharmacien, GN=CAROLE+CN=899700075122+SN=PHARMACH0007512
  ID:         e828bd080f8025000001ff001002
Certificate Object; type = X.509 cert
  label:      Certificat de Signature CPS
  ID:         e828bd080f8025000001ff001001
"""


def test_pkcs11_tool_output_is_read_into_the_module_state() -> None:
    module = parse_pkcs11_tool(OPENSC_MODULE, ToolResult(0, PKCS11_TOOL.encode(), "Using slot 0"))
    assert module.loaded and module.library == "OpenSC smartcard framework (ver 0.23)"
    assert module.slots == ("Virtual PCD 00 00", "Virtual PCD 00 01")
    assert module.tokens == ("CPS3v3-TEST (code porteur)",)
    assert module.mechanisms == ("SHA-1", "RSA-PKCS", "SHA256-RSA-PKCS") and not module.has_pss
    assert module.authentication == c.CertObject("Certificat d'Authentification CPS", "e828bd080f8025000001ff001002")
    broken = parse_pkcs11_tool("/x.so", ToolResult(1, b"", "sc_dlopen failed\nerror: Failed to load pkcs11 module\n"))
    assert not broken.loaded and broken.error == "error: Failed to load pkcs11 module"


def test_key_uri_names_the_key_by_the_certificate_id_and_keeps_the_pin_off_the_command_line(tmp_path: Path) -> None:
    pin = write_pin(tmp_path, "1234")
    assert pin.read_text() == "1234" and pin.stat().st_mode & 0o777 == 0o600
    assert key_uri("e828bd", pin) == f"pkcs11:id=%e8%28%bd;type=private;pin-source=file:{pin}"


def test_middleware_fails_when_absent_broken_or_blind_to_the_card() -> None:
    absent = c.check_middleware(c.ModuleState("/opt/cps/libcps3.so", False), card_present=True)
    assert absent.failed and "no PKCS#11 module at /opt/cps/libcps3.so" in absent.detail
    assert "Installez le package ATSAM (logiciels de lecture des cartes CPS)." in absent.advice
    broken = c.check_middleware(c.ModuleState("/x.so", True, False, "invalid ELF header"), card_present=True)
    assert broken.failed and "invalid ELF header" in broken.detail
    loaded = parse_pkcs11_tool(OPENSC_MODULE, ToolResult(0, PKCS11_TOOL.encode(), ""))
    blind = c.check_middleware(dataclasses.replace(loaded, tokens=()), card_present=True)
    assert blind.failed and "shows no token although a card is inserted" in blind.detail
    assert c.check_middleware(dataclasses.replace(loaded, tokens=()), card_present=False).ok, "no card: no token"
    fixed = c.check_middleware(loaded, card_present=True)
    assert fixed.ok and "no RSA-PSS" in fixed.detail and fixed.data["rsa_pss"] is False


MODUTIL = """
Listing of PKCS #11 Modules
-----------------------------------------------------------
  1. NSS Internal PKCS #11 Module
\t   uri: pkcs11:library-manufacturer=Mozilla%20Foundation
\t slots: 2 slots attached
\tstatus: loaded

\t slot: NSS Internal Cryptographic Services
\ttoken: NSS Generic Crypto Services

  2. CPS (OpenSC)
\tlibrary name: /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
\t slots: 2 slots attached
\tstatus: loaded

\t slot: Virtual PCD 00 00
\ttoken: CPS3v3-TEST (code porteur)

\t slot: Virtual PCD 00 01
\ttoken:
-----------------------------------------------------------
"""


def test_nss_fails_without_database_without_the_module_or_unloaded_and_passes_registered(tmp_path: Path) -> None:
    missing = c.check_nss(c.NssState(str(tmp_path / "nssdb"), False), OPENSC_MODULE)
    assert missing.failed and "no NSS database" in missing.detail and "modutil" in missing.fix
    listed = parse_modutil(tmp_path, ToolResult(0, MODUTIL.encode(), ""))
    assert [m.name for m in listed.modules] == ["NSS Internal PKCS #11 Module", "CPS (OpenSC)"]
    assert listed.modules[1].tokens == ("CPS3v3-TEST (code porteur)",)
    other = c.check_nss(listed, "/usr/lib/cryptolib/libcps3_pkcs11_lin.so")
    assert other.failed and "is not registered" in other.detail and "CPS (OpenSC)" in other.detail
    unloaded = dataclasses.replace(listed, modules=(dataclasses.replace(listed.modules[1], status="not loaded"),))
    assert "NSS says: not loaded" in c.check_nss(unloaded, OPENSC_MODULE).detail
    unreadable = parse_modutil(tmp_path, ToolResult(46, b"", "modutil: function failed: SEC_ERROR_BAD_DATABASE"))
    assert c.check_nss(unreadable, OPENSC_MODULE).failed
    registered = c.check_nss(listed, OPENSC_MODULE)
    assert registered.ok and "CPS3v3-TEST (code porteur)" in registered.detail


# -- the certificate: readable, chain, validity, revocation ------------------------------------------------
@pytest.fixture
def now() -> dt.datetime:
    return dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)


def der_of(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def test_certificate_fails_unreadable_and_passes_with_the_identity(session_pki: Pki, now: dt.datetime) -> None:
    assert "no certificate" in c.check_certificate(c.CertificateRead(None, error="no certificate")).detail
    assert c.check_certificate(c.CertificateRead(b"not DER")).failed
    issued = session_pki.cards.issue(PHARMACIST, now).authentication
    check = c.check_certificate(c.CertificateRead(der_of(issued.certificate), "Certificat d'Authentification CPS"))
    assert check.ok and check.data["national_id"] == "899700075122" and check.data["given_name"] == "CAROLE"
    assert "GN=CAROLE+CN=899700075122+SN=PHARMACH0007512" in check.detail


def test_chain_fails_without_the_intermediate_and_passes_with_it(session_pki: Pki, now: dt.datetime) -> None:
    der = der_of(session_pki.cards.issue(PHARMACIST, now).authentication.certificate)
    roots = [session_pki.cards.root.certificate]
    broken = c.check_chain(der, [], roots)
    assert broken.failed and "no path from 899700075122" in broken.detail
    chain = c.check_chain(der, [session_pki.cards.personnes.certificate], roots)
    assert chain.ok and chain.data["chain"] == [
        "899700075122", "TEST AC IGC-SANTE FORT PERSONNES", "TEST AC RACINE IGC-SANTE FORT",
    ]  # fmt: skip


def test_validity_follows_the_clock(session_pki: Pki, now: dt.datetime) -> None:
    der = der_of(session_pki.cards.issue(PHARMACIST, now).authentication.certificate)
    assert c.check_validity(der, now).ok
    expired = c.check_validity(der, now + dt.timedelta(days=4 * 365))
    assert expired.failed and expired.detail.startswith("authentication certificate expired")
    assert "a expiré" in expired.message
    early = c.check_validity(der, now - dt.timedelta(days=2))
    assert early.failed and early.detail.startswith("authentication certificate not yet valid")


def test_validity_judges_the_authentication_certificate_and_tells_the_signature_ones(
    session_pki: Pki, now: dt.datetime
) -> None:
    card = session_pki.cards.issue(PHARMACIST, now, CertVariants(CertVariant.EXPIRED, CertVariant.VALID))
    auth, sign = der_of(card.authentication.certificate), der_of(card.signature.certificate)
    check = c.check_validity(auth, now, signature=sign)
    assert check.failed and check.data == {"signature": "valid"}
    assert check.detail.startswith("authentication certificate expired") and "; signature certificate" in check.detail
    swapped = c.check_validity(sign, now, signature=auth)
    assert swapped.ok and swapped.data["signature"] == "expired", "the signature certificate never decides"


def test_revocation_judges_the_authentication_certificate_and_tells_the_signature_ones(
    pki: Pki, now: dt.datetime
) -> None:
    card = pki.cards.issue(PHARMACIST, now, CertVariants(signature=CertVariant.REVOKED))
    issuer = pki.cards.personnes.certificate
    crl = build_crl(pki.cards.authorities["personnes"], now).public_bytes(serialization.Encoding.DER)
    auth, sign = card.authentication.certificate, card.signature.certificate
    signature = (der_of(sign), ocsp_answer(pki, sign, now))
    check = c.check_revocation(der_of(auth), issuer, crl, ocsp_answer(pki, auth, now), now, signature=signature)
    assert check.ok and check.data == {"crl": "good", "ocsp": "good", "signature": "revoked"}
    assert check.detail.startswith("authentication certificate: not on the CRL")
    assert "signature certificate (no login uses it): revoked (on the CRL since" in check.detail


def ocsp_answer(pki: Pki, certificate: x509.Certificate, now: dt.datetime) -> bytes:
    request = ocsp.OCSPRequestBuilder().add_certificate(certificate, pki.cards.personnes.certificate, hashes.SHA1())
    return answer_ocsp(request.build().public_bytes(serialization.Encoding.DER), pki.cards.authorities.values(), now)


def test_revocation_by_crl_and_ocsp(pki: Pki, now: dt.datetime) -> None:
    certificate = pki.cards.issue(PHARMACIST, now).authentication.certificate
    der, issuer = der_of(certificate), pki.cards.personnes.certificate

    def crl(at: dt.datetime) -> bytes:
        return build_crl(pki.cards.authorities["personnes"], at).public_bytes(serialization.Encoding.DER)

    good = c.check_revocation(der, issuer, crl(now), ocsp_answer(pki, certificate, now), now)
    assert good.ok and good.data == {"crl": "good", "ocsp": "good"}
    assert c.check_revocation(der, issuer, crl(now), None, now).ok, "one source is enough"
    stale = c.check_revocation(der, issuer, crl(now), None, now + dt.timedelta(days=8))
    assert stale.failed and "the CRL is stale" in stale.detail, "an old CRL vouches for nothing"
    unsigned = c.check_revocation(der, pki.cards.root.certificate, crl(now), None, now)
    assert unsigned.failed and "not signed by the certificate's issuer" in unsigned.detail

    pki.cards.revoke(certificate, now)
    revoked = c.check_revocation(der, issuer, crl(now), ocsp_answer(pki, certificate, now), now)
    assert revoked.failed and revoked.data == {"crl": "revoked", "ocsp": "revoked"}
    assert "en opposition" in revoked.message
    only_ocsp = c.check_revocation(der, issuer, None, ocsp_answer(pki, certificate, now), now)
    assert only_ocsp.failed and "OCSP: revoked" in only_ocsp.detail


# -- Test SSL -------------------------------------------------------------------------------------------------
SUCCESS_PAGE = {"prenom": "CAROLE", "nom": "PHARMACH0007512", "identifiant": "899700075122", "verification": "SUCCESS"}


@pytest.mark.parametrize(
    ("attempt", "status", "says", "chromium"),
    [
        (c.TlsAttempt(True, 0, tls_version="TLSv1.2", screen="information-carte-cps", fields=SUCCESS_PAGE),
         "ok", "CAROLE PHARMACH0007512 (899700075122), Vérification SUCCESS", None),
        (c.TlsAttempt(False, 0, tls_version="TLSv1.2", screen="aucun-certificat"),
         "fail", "no certificate presented", c.BAD_CLIENT_CERT),
        (c.TlsAttempt(True, 0, tls_version="TLSv1.3", screen="aucun-certificat", pss=False),
         "fail", "no common signature algorithm under TLS 1.3", c.NO_COMMON_ALGORITHMS),
        (c.TlsAttempt(True, 35, "curl: (35) OpenSSL/3.0.19: error:41800005:PKCS#11 module::General Error"),
         "fail", "the card failed the signature operation", c.SIGNATURE_FAILED),
        (c.TlsAttempt(True, 35, "curl: (35) OpenSSL/3.0.19: error:41800070:PKCS#11 module::Mechanism invalid"),
         "fail", "no common signature algorithm", c.NO_COMMON_ALGORITHMS),
        (c.TlsAttempt(True, 58, "curl: (58) failed to load private key", pin_sw=0x6983),
         "fail", "the card refused the PIN: blocked (6983)", c.BAD_CLIENT_CERT),
        (c.TlsAttempt(True, 58, "curl: (58) failed to load private key", pin_sw=0x63C2),
         "fail", "refused the PIN (2 tries left)", None),
        (c.TlsAttempt(True, 35, "curl: (35) OpenSSL SSL_connect: SSL_ERROR_SYSCALL"),
         "fail", "the TLS handshake failed", None),
        (c.TlsAttempt(True, 0, tls_version="TLSv1.2", screen="certificat-expire"),
         "fail", "FAILED:certificate has expired", None),
        (c.TlsAttempt(True, 0, tls_version="TLSv1.2", screen="certificat-revoque"),
         "fail", "FAILED:certificate revoked", None),
        (c.TlsAttempt(True, 0, tls_version="TLSv1.2", local=True, peer_subject="CN=899700075122"),
         "ok", "the card signed the handshake", None),
        (c.TlsAttempt(True, 0, tls_version="TLSv1.3", local=True, pss=False),
         "fail", "no common signature algorithm", c.NO_COMMON_ALGORITHMS),
    ],
)  # fmt: skip
def test_testssl_names_the_precise_failure(attempt: c.TlsAttempt, status: str, says: str, chromium: str | None) -> None:
    check = c.check_testssl(attempt)
    assert check.status == status and says in check.detail, check.detail
    assert check.data.get("chromium") == chromium


def test_the_testssl_page_is_read_field_by_field() -> None:
    html = (
        '<body data-screen="information-carte-cps"><table><tr><th>Prénom</th><td data-field="prenom">CAROLE</td>'
        '</tr><tr><td data-field="x509"><pre>PEM</pre></td></tr><tr><td data-field="ville"></td></tr></table></body>'
    )
    assert read_page(html) == ("information-carte-cps", {"prenom": "CAROLE", "ville": ""})


def test_card_faults_are_parsed_like_the_card_command() -> None:
    assert parse_faults(["INTERNAL AUTHENTICATE=6F00"]).faults().forced_sw == {0x88: 0x6F00}
    for wrong in ("INTERNAL AUTHENTICATE", "=6F00", "INTERNAL AUTHENTICATE=zz", "BOGUS=6F00"):
        with pytest.raises(ValueError):
            parse_faults([wrong])


# -- end to end: a world, its virtual card, the real stack --------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "first_failure", "says"),
    [
        ({}, None, "Vérification SUCCESS"),
        ({"card": False}, "card-present", "no card in Virtual PCD 00 00"),
        ({"middleware": False}, "middleware-nss", "is not registered in"),
        ({"module": "/opt/cryptolib/libcps3_pkcs11_lin.so"}, "middleware", "no PKCS#11 module at"),
        ({"pin_tries_left": 0}, "pin", "PIN blocked (6983)"),
        ({"certificates": CertVariant.EXPIRED}, "validity", "expired: valid"),
        ({"certificates": CertVariant.REVOKED}, "revocation", "on the CRL since"),
        ({"certificates": parse_certificates({"signature": "expired"})}, None, "Vérification SUCCESS"),
        ({"certificates": parse_certificates({"authentication": "revoked"})}, "revocation", "on the CRL since"),
        ({"faults": ("INTERNAL AUTHENTICATE=6F00",)}, "testssl", "the card failed the signature operation"),
        ({"tls_max": "1.3"}, "testssl", "no common signature algorithm under TLS 1.3"),
    ],
)
async def test_world_diagnosis_names_the_first_failing_check(
    session_pki: Pki, options: dict[str, Any], first_failure: str | None, says: str
) -> None:
    diagnosis = await diagnose_new_world(WorldOptions(**options), pki=session_pki)
    failed = diagnosis.first_failure
    assert (failed.id if failed else None) == first_failure, diagnosis.summary()
    shown = failed or diagnosis.check("testssl")
    assert says in shown.detail, shown.detail
    if failed is not None:
        assert failed.advice, "a failure carries the guide's advice"


@pytest.fixture
async def world(session_pki: Pki) -> AsyncIterator[World]:
    async with World(pki=session_pki) as running:
        yield running


async def insert(world: World, tries_left: int | None = None) -> CpxCard:
    assert world.pki is not None
    profile = load_profile("pharmacist")
    if tries_left is not None:
        profile = profile.model_copy(update={"pin": profile.pin.model_copy(update={"tries_left": tries_left})})
    card, _ = make_card(profile, world.pki, world.state.now())
    await world.readers[0].insert(card)
    return card


def first_failure(diagnosis: Diagnosis) -> str:
    failed = diagnosis.first_failure
    return failed.id if failed else "none"


async def set_tls_max(world: World, value: str) -> None:
    async with world.client() as http, http.post(world.urls["admin"] + "/admin/testssl", json={"tls_max": value}):
        pass


async def test_each_fault_fixed_in_the_same_world_passes_again(world: World, tmp_path: Path) -> None:
    """Card removed, then inserted; a signing fault, then cleared; TLS 1.3, then 1.2: ✘ then ✔."""
    empty = await diagnose_world(world, tmp_path / "1", pin="1234")
    assert first_failure(empty) == "card-present"
    assert [empty.check(i).status for i in ("card-recognised", "certificate", "pin")] == ["skip"] * 3
    card = await insert(world)
    healthy = await diagnose_world(world, tmp_path / "2", pin="1234")
    assert first_failure(healthy) == "none", healthy.summary()
    assert healthy.page["identifiant"] == "899700075122" and healthy.page["verification"] == "SUCCESS"

    card.faults.forced_sw[0x88] = 0x6F00
    broken = await diagnose_world(world, tmp_path / "3", pin="1234")
    assert first_failure(broken) == "testssl" and broken.check("testssl").data["chromium"] == c.SIGNATURE_FAILED
    assert any("INTERNAL AUTHENTICATE -> 6F00" in entry.line() for entry in card.log)
    card.faults.forced_sw.clear()
    assert first_failure(await diagnose_world(world, tmp_path / "4", pin="1234")) == "none"

    await set_tls_max(world, "1.3")
    no_pss = await diagnose_world(world, tmp_path / "5", pin="1234")
    assert no_pss.check("testssl").data["chromium"] == c.NO_COMMON_ALGORITHMS
    await set_tls_max(world, "1.2")
    assert first_failure(await diagnose_world(world, tmp_path / "6", pin="1234")) == "none"

    unregistered = await diagnose_world(world, tmp_path / "7", pin="1234", middleware=False)
    assert first_failure(unregistered) == "middleware-nss"
    assert "no certificate presented" in unregistered.check("testssl").detail, "the browser cannot see the card"


async def test_pin_status_is_read_without_spending_a_try(world: World, tmp_path: Path) -> None:
    card = await insert(world, tries_left=2)
    env = client_env(world.stack)  # type: ignore[arg-type]
    db = await make_nss_db(tmp_path / "home", None, Path(OPENSC_MODULE), env)
    diagnosis = await diagnose_environment(env=env, nssdb=db, pin=None)
    assert diagnosis.check("pin").data["tries_left"] == 2
    assert card.security.chvs[1].tries_left == 2, "VERIFY without data counts no try"
    verifies = [entry.line() for entry in card.log if entry.command[1:2] == b"\x20"]
    assert verifies and all(" 00 20 00 0" in line and "** **" not in line for line in verifies)


async def test_environment_mode_checks_a_real_stack_and_skips_the_world_only_checks(
    world: World, tmp_path: Path
) -> None:
    """``PCSCLITE_CSOCK_NAME`` pointing at a stack the diagnosis did not start, as on a real machine."""
    card = await insert(world)
    env = client_env(world.stack)  # type: ignore[arg-type]
    db = await make_nss_db(tmp_path / "home", None, Path(OPENSC_MODULE), env)

    no_pin = await diagnose_environment(env=env, nssdb=db)
    assert no_pin.ok and no_pin.notes == (ENVIRONMENT_NOTE,)
    skipped = {check.id: check.detail for check in no_pin.checks if check.status == "skip"}
    assert set(skipped) == {"chain", "revocation", "testssl"}
    assert skipped["chain"].startswith("world only") and skipped["revocation"].startswith("world only")
    assert "give --pin" in skipped["testssl"]
    assert "this computer's clock" in no_pin.check("validity").detail

    signed = await diagnose_environment(env=env, nssdb=db, pin="1234")
    assert signed.check("testssl").ok and "the card signed the handshake" in signed.check("testssl").detail
    assert any("INTERNAL AUTHENTICATE -> 61" in entry.line() for entry in card.log)
    tls13 = await diagnose_environment(env=env, nssdb=db, pin="1234", tls_max="1.3")
    assert first_failure(tls13) == "testssl" and tls13.check("testssl").data["chromium"] == c.NO_COMMON_ALGORITHMS

    nowhere = await diagnose_environment(env={**env, "PCSCLITE_CSOCK_NAME": str(tmp_path / "none.comm")}, nssdb=db)
    assert first_failure(nowhere) == "pcsc-service" and "none.comm" in nowhere.check("pcsc-service").detail
    assert first_failure(await diagnose_environment(env=env, nssdb=tmp_path / "absent")) == "middleware-nss"


# -- output: terminal, JSON, the trainer's page, the CLI ------------------------------------------------------
def test_cli_json_and_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli_main(["diagnose", "--json", "--html", str(tmp_path / "page.html")])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["ok"] and report["first_failure"] is None
    assert [check["id"] for check in report["checks"]] == list(c.CHECK_IDS)
    page = (tmp_path / "page.html").read_text(encoding="utf-8")
    assert 'data-verdict="ok"' in page and "Toutes les vérifications ont réussi." in page
    assert page.count('data-status="ok"') == len(c.CHECK_IDS)
    assert '<td data-field="verification">SUCCESS</td>' in page and "Information sur votre carte CPS" in page

    code = cli_main(["diagnose", "--no-card", "--json", "--html", str(tmp_path / "fail.html")])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["first_failure"] == "card-present"
    failing = next(check for check in report["checks"] if check["id"] == "card-present")
    assert "Vérifiez que votre carte est bien insérée dans le lecteur." in failing["advice"]
    page = (tmp_path / "fail.html").read_text(encoding="utf-8")
    assert 'data-verdict="card-present"' in page and "Aucune carte n&#39;est insérée" in page


def test_cli_refuses_options_of_the_other_mode(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["diagnose", "--environment", "--no-card"]) == 2
    assert "--no-card: world only" in capsys.readouterr().out
    assert cli_main(["diagnose", "--pin", "1234"]) == 2
    assert cli_main(["diagnose", "--card-fault", "INTERNAL AUTHENTICATE"]) == 2


def test_cli_certificates_take_one_variant_or_one_per_certificate(capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli.diagnose import certificates_option

    assert certificates_option("revoked").variants() == CertVariants.of(CertVariant.REVOKED)
    mixed = certificates_option("authentication=expired, signature=valid")
    assert mixed.variants() == CertVariants(CertVariant.EXPIRED, CertVariant.VALID)
    assert certificates_option("signature=revoked").authentication is None, "the profile's, as a persona's"
    with pytest.raises(SystemExit):
        cli_main(["diagnose", "--certificates", "authentification=expired"])
    assert "authentification: Extra inputs are not permitted" in capsys.readouterr().err


def test_terminal_table_names_the_failure_and_the_advice(session_pki: Pki) -> None:
    from rich.console import Console

    diagnosis = asyncio.run(diagnose_new_world(WorldOptions(card=False), pki=session_pki))
    console = Console(record=True, width=160)
    render.print_table(diagnosis, console)
    text = console.export_text()
    assert "✘" in text and "card-present" in text and "first failure: card-present" in text
    assert "guide: Vérifiez que votre carte est bien insérée dans le lecteur." in text


# -- the scenario step ------------------------------------------------------------------------------------------
async def test_a_wrong_diagnose_expectation_fails_the_step_and_says_what_failed(
    session_pki: Pki, tmp_path: Path
) -> None:
    path = tmp_path / "GD-03-x.yaml"
    path.write_text(
        "id: GD-03\ntitle: t\nguide: g\nworld: {cards: true}\nsteps:\n"
        "  - diagnose.run: {}\n    expect: {diagnose_failed: none}\n"
    )
    (loaded,), problems = load([path])
    assert problems == []
    result = await play(loaded[1], path, session_pki, tmp_path)
    assert not result.ok
    assert "diagnose: first failure 'card-present'" in result.events[0].failure
    assert "expected 'none'" in result.events[0].failure


def test_an_unknown_check_id_is_refused_when_the_file_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "GD-03-x.yaml"
    path.write_text(
        "id: GD-03\ntitle: t\nguide: g\nsteps:\n  - diagnose.run: {}\n    expect: {diagnose_failed: pin-code}\n"
    )
    _, problems = load([path])
    assert len(problems) == 1 and "is not a check of the diagnosis" in problems[0] and "testssl" in problems[0]
