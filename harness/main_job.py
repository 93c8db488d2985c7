"""The main job as it stands: start what the world has so far, check it through real clients, stop.

Today the world is the private PC/SC stack and the IGC-Santé publication site (CRL, OCSP)
over the test PKI. Scenario replay and its report arrive with the runner; this module is the
command's skeleton they grow into.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from harness.doctor import Check, check_opensc_sees
from harness.pcsc import PcscStack
from harness.pki import CertVariant, Pki, Professional
from harness.serving import start_site
from simulators.web import hosts
from simulators.web.igc.app import OCSP_REQUEST, make_app

DEMO = Professional("899700209812", "D0000020981", "ALAIN", "Médecin")
"""The guide's own example identity (Test SSL screen, page 13)."""
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=10)


@dataclass(frozen=True)
class Running:
    name: str
    where: str
    detail: str


async def _ocsp_status(
    session: aiohttp.ClientSession, url: str, cert: x509.Certificate, issuer: x509.Certificate
) -> str:
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
    body = request.public_bytes(serialization.Encoding.DER)
    async with session.post(url, data=body, headers={"Content-Type": OCSP_REQUEST}) as reply:
        reply.raise_for_status()
        response = ocsp.load_der_ocsp_response(await reply.read())
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        return response.response_status.name
    return response.certificate_status.name


async def start_check_stop(now: dt.datetime | None = None) -> tuple[list[Running], list[Check]]:
    """Start the world, check each part through a real client, stop it; never leaves a process."""
    now = now or dt.datetime.now(dt.UTC)
    pki = Pki()
    valid = pki.cards.issue(DEMO, now)
    revoked = pki.cards.issue(DEMO, now, CertVariant.REVOKED)
    personnes = pki.cards.personnes.certificate
    checks: list[Check] = []
    with PcscStack() as stack:
        igc = await start_site("igc", make_app(pki.cards, lambda: now))
        try:
            running = [
                Running("pcscd", str(stack.socket_path), f"pid {stack.pids[-1] if stack.pids else '?'}"),
                *(
                    Running(f"reader {r.name!r}", f"vpcd tcp/{r.port}", "empty (the card arrives later)")
                    for r in stack.readers
                ),
                Running(
                    f"IGC-Santé publication ({hosts.IGC})", igc.url, f"CRL {hosts.CRL_PATH}, OCSP {hosts.OCSP_PATH}"
                ),
                Running(
                    "TLS server CA",
                    str(pki.keys.directory / "tls-ca.pem"),
                    f"{len(pki.server.hosts)} site certificates",
                ),
            ]
            checks.append(check_opensc_sees(stack.env, len(stack.readers)))
            async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as session:
                async with session.get(igc.url + hosts.CRL_PATH) as reply:
                    reply.raise_for_status()
                    crl = x509.load_der_x509_crl(await reply.read())
                listed = {r.serial_number for r in crl}
                signed = crl.is_signature_valid(personnes.public_key())  # type: ignore[arg-type]
                checks.append(
                    Check(
                        "CRL over HTTP",
                        signed and listed == {c.certificate.serial_number for c in revoked},
                        f"signature {'valid' if signed else 'INVALID'}, {len(listed)} revoked certificates",
                    )
                )
                good = await _ocsp_status(
                    session, igc.url + hosts.OCSP_PATH, valid.authentication.certificate, personnes
                )
                bad = await _ocsp_status(
                    session, igc.url + hosts.OCSP_PATH, revoked.authentication.certificate, personnes
                )
                checks.append(
                    Check("OCSP over HTTP", (good, bad) == ("GOOD", "REVOKED"), f"valid card {good}, lost card {bad}")
                )
        finally:
            await igc.stop()
    return running, checks
