"""Revocation as a verifier sees it: the served CRL and OCSP responder, queried by openssl."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from harness.pki import CertVariant, Pki, Professional
from harness.world.sites import RunningSite, start_site
from simulators.web import hosts
from simulators.web.igc.app import OCSP_REQUEST, make_app


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock(now: dt.datetime) -> Clock:
    return Clock(now)


@pytest.fixture
async def igc(pki: Pki, clock: Clock) -> AsyncIterator[RunningSite]:
    site = await start_site("igc", make_app(pki.cards, clock))
    yield site
    await site.stop()


def pem(path: Path, *certs: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    return path


async def openssl(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        "openssl", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def fetch(url: str, **kwargs: object) -> tuple[int, str, bytes]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        method = "POST" if "data" in kwargs else "GET"
        async with session.request(method, url, **kwargs) as reply:  # type: ignore[arg-type]
            return reply.status, reply.content_type, await reply.read()


async def test_openssl_ocsp_says_good_then_revoked_for_a_lost_card(
    pki: Pki, alain: Professional, now: dt.datetime, igc: RunningSite, tmp_path: Path
) -> None:
    card = pki.cards.issue(alain, now)
    cert = pem(tmp_path / "card.pem", card.authentication.certificate)
    issuer = pem(tmp_path / "issuer.pem", pki.cards.personnes.certificate)
    root = pem(tmp_path / "root.pem", pki.cards.root.certificate)
    args = ["ocsp", "-issuer", str(issuer), "-cert", str(cert), "-url", igc.url + hosts.OCSP_PATH]
    args += ["-CAfile", str(root), "-verify_other", str(issuer)]

    code, out = await openssl(*args)
    assert code == 0, out
    assert "Response verify OK" in out
    assert f"{cert}: good" in out

    pki.cards.revoke(card.authentication.certificate, now)  # the professional declares the card lost
    code, out = await openssl(*args)
    assert code == 0, out
    assert "Response verify OK" in out
    assert f"{cert}: revoked" in out
    assert "Reason: keyCompromise" in out


async def test_openssl_ocsp_unknown_for_a_certificate_never_issued(
    pki: Pki, igc: RunningSite, tmp_path: Path, now: dt.datetime
) -> None:
    stranger = Pki(tmp_path / "other-cache").cards.issue(Professional("899700366240", "DOC", "KIT", "Médecin"), now)
    # Same CA names but another key: the request names an issuer key hash we do not hold.
    cert = pem(tmp_path / "s.pem", stranger.authentication.certificate)
    issuer = pem(tmp_path / "si.pem", stranger.authentication.chain[0])
    _, out = await openssl("ocsp", "-issuer", str(issuer), "-cert", str(cert), "-url", igc.url + hosts.OCSP_PATH)
    assert "unauthorized" in out.lower(), out


async def test_served_crl_lists_revoked_cards_and_openssl_rejects_them(
    pki: Pki, alain: Professional, now: dt.datetime, igc: RunningSite, tmp_path: Path
) -> None:
    lost = pki.cards.issue(alain, now, CertVariant.REVOKED)
    valid = pki.cards.issue(Professional("899700366240", "DOC0036624", "KIT", "Médecin"), now)
    status, content_type, body = await fetch(igc.url + hosts.CRL_PATH)
    assert (status, content_type) == (200, "application/pkix-crl")
    crl_der = tmp_path / "crl.der"
    crl_der.write_bytes(body)
    chain = pem(tmp_path / "chain.pem", pki.cards.personnes.certificate, pki.cards.root.certificate)

    code, out = await openssl("crl", "-inform", "DER", "-in", str(crl_der), "-CAfile", str(chain), "-noout", "-text")
    assert code == 0, out
    assert "verify OK" in out
    for issued in lost:
        assert format(issued.certificate.serial_number, "X") in out.replace(":", "").upper()
    assert format(valid.authentication.certificate.serial_number, "X") not in out.replace(":", "").upper()

    crl_pem = tmp_path / "crl.pem"
    crl_pem.write_bytes(x509.load_der_x509_crl(body).public_bytes(serialization.Encoding.PEM))
    root_crl_status, _, root_crl = await fetch(igc.url + hosts.ROOT_CRL_PATH)
    assert root_crl_status == 200
    root_crl_pem = tmp_path / "root-crl.pem"
    root_crl_pem.write_bytes(x509.load_der_x509_crl(root_crl).public_bytes(serialization.Encoding.PEM))
    crl_args = ["-crl_check_all", "-CRLfile", str(crl_pem), "-CRLfile", str(root_crl_pem)]
    root, inter = (
        pem(tmp_path / "r.pem", pki.cards.root.certificate),
        pem(tmp_path / "i.pem", pki.cards.personnes.certificate),
    )
    base = ["verify", "-CAfile", str(root), "-untrusted", str(inter), *crl_args]
    code, out = await openssl(*base, str(pem(tmp_path / "lost.pem", lost.authentication.certificate)))
    assert code != 0 and "certificate revoked" in out, out
    code, out = await openssl(*base, str(pem(tmp_path / "ok.pem", valid.authentication.certificate)))
    assert code == 0, out


async def test_revocation_follows_the_world_clock(
    pki: Pki, alain: Professional, now: dt.datetime, clock: Clock, igc: RunningSite
) -> None:
    """A revocation dated tomorrow is not on today's CRL; advancing the clock publishes it."""
    card = pki.cards.issue(alain, now)
    pki.cards.revoke(card.authentication.certificate, now + dt.timedelta(days=1))
    _, _, body = await fetch(igc.url + hosts.CRL_PATH)
    assert len(x509.load_der_x509_crl(body)) == 0
    clock.now = now + dt.timedelta(days=2)
    _, _, body = await fetch(igc.url + hosts.CRL_PATH)
    crl = x509.load_der_x509_crl(body)
    assert [r.serial_number for r in crl] == [card.authentication.certificate.serial_number]
    assert crl.last_update_utc == clock.now


async def test_ocsp_get_form_and_bad_requests(
    pki: Pki, alain: Professional, now: dt.datetime, igc: RunningSite
) -> None:
    card = pki.cards.issue(alain, now)
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(card.authentication.certificate, pki.cards.personnes.certificate, hashes.SHA1())
        .build()
    )
    encoded = base64.b64encode(request.public_bytes(serialization.Encoding.DER)).decode()
    status, content_type, body = await fetch(igc.url + hosts.OCSP_PATH + "/" + encoded.replace("/", "%2F"))
    assert (status, content_type) == (200, "application/ocsp-response")
    assert ocsp.load_der_ocsp_response(body).certificate_status is ocsp.OCSPCertStatus.GOOD

    for garbage in (b"", b"\x30\x03\x02\x01\x00", b"not der at all"):
        status, _, body = await fetch(igc.url + hosts.OCSP_PATH, data=garbage, headers={"Content-Type": OCSP_REQUEST})
        assert status == 200
        assert ocsp.load_der_ocsp_response(body).response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    status, _, body = await fetch(igc.url + hosts.OCSP_PATH + "/%%%notbase64")
    assert ocsp.load_der_ocsp_response(body).response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST

    status, _, _ = await fetch(igc.url + hosts.OCSP_PATH, data=b"x", headers={"Content-Type": "text/plain"})
    assert status == 415


async def test_ca_certificates_are_published(pki: Pki, igc: RunningSite) -> None:
    for name, path in hosts.CA_CERT_PATHS.items():
        status, content_type, body = await fetch(igc.url + path)
        assert (status, content_type) == (200, "application/pkix-cert")
        assert x509.load_der_x509_certificate(body) == pki.cards.authorities[name].certificate


async def test_site_listens_on_loopback_only(igc: RunningSite) -> None:
    assert igc.host == "127.0.0.1"
    assert [a[0] for a in igc.runner.addresses] == ["127.0.0.1"]
