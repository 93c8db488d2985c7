"""The main job as it stands: start what the world has so far, check it through real clients, stop.

Today the world is the private PC/SC stack with the guide's doctor card in reader 0 and the
IGC-Santé publication site (CRL, OCSP) over the test PKI. Scenario replay and its report
arrive with the runner; this module is the command's skeleton they grow into.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from harness.card_profile import load_profile, make_card
from harness.card_run import client_env
from harness.cards import CardReader
from harness.doctor import Check, check_opensc_sees
from harness.pcsc import PcscStack
from harness.pki import CertVariant, Pki
from harness.pki.names import SHORT_NAMES
from harness.serving import start_site
from simulators.web import hosts
from simulators.web.igc.app import OCSP_REQUEST, make_app

DEMO_PROFILE = "doctor"
"""The guide's own example identity (Test SSL screen, page 13)."""
AUTH_CERT_ID = "e828bd080f8025000001ff001002"
TOOL_TIMEOUT = 60
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


async def _read_card_certificate(env: dict[str, str]) -> x509.Certificate:
    """The authentication certificate as OpenSC reads it from the card in the reader."""
    process = await asyncio.create_subprocess_exec(
        "pkcs15-tool",
        "--read-certificate",
        AUTH_CERT_ID,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), TOOL_TIMEOUT)
    if process.returncode != 0:
        raise RuntimeError(f"pkcs15-tool failed: {err.decode(errors='replace').strip()}")
    return x509.load_pem_x509_certificate(out)


async def start_check_stop(now: dt.datetime | None = None) -> tuple[list[Running], list[Check]]:
    """Start the world, check each part through a real client, stop it; never leaves a process."""
    now = now or dt.datetime.now(dt.UTC)
    pki = Pki()
    profile = load_profile(DEMO_PROFILE)
    card, credentials = make_card(profile, pki, now)
    revoked = pki.cards.issue(profile.professional(), now, CertVariant.REVOKED)  # the same card, declared lost
    personnes = pki.cards.personnes.certificate
    checks: list[Check] = []
    with PcscStack() as stack:
        reader = CardReader(stack.readers[0].name, stack.readers[0].port, seen_by=stack.wait_reader)
        igc = await start_site("igc", make_app(pki.cards, lambda: now))
        try:
            await reader.insert(card)
            holder = profile.holder
            running = [
                Running("pcscd", str(stack.socket_path), f"pid {stack.pids[-1] if stack.pids else '?'}"),
                Running(
                    f"reader {stack.readers[0].name!r}",
                    f"vpcd tcp/{stack.readers[0].port}",
                    f"CPS card of {holder.first_name} {holder.last_name} ({holder.national_id})",
                ),
                Running(f"reader {stack.readers[1].name!r}", f"vpcd tcp/{stack.readers[1].port}", "empty"),
                Running(
                    f"IGC-Santé publication ({hosts.IGC})", igc.url, f"CRL {hosts.CRL_PATH}, OCSP {hosts.OCSP_PATH}"
                ),
                Running(
                    "TLS server CA",
                    str(pki.keys.directory / "tls-ca.pem"),
                    f"{len(pki.server.hosts)} site certificates",
                ),
            ]
            env = client_env(stack)
            checks.append(check_opensc_sees(stack.env, len(stack.readers)))
            from_card = await _read_card_certificate(env)
            checks.append(
                Check(
                    "card certificate through OpenSC",
                    from_card == credentials.authentication.certificate,
                    f"pkcs15-tool read {from_card.subject.rfc4514_string(SHORT_NAMES)}",
                )
            )
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
                good = await _ocsp_status(session, igc.url + hosts.OCSP_PATH, from_card, personnes)
                bad = await _ocsp_status(
                    session, igc.url + hosts.OCSP_PATH, revoked.authentication.certificate, personnes
                )
                checks.append(
                    Check(
                        "OCSP over HTTP", (good, bad) == ("GOOD", "REVOKED"), f"card in reader {good}, lost card {bad}"
                    )
                )
        finally:
            await reader.remove()
            await igc.stop()
    return running, checks
