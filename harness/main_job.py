"""The main job as it stands: start what the world has so far, check it through real clients, stop.

Today: a World (wallet, phone, IGC-Santé publication, admin API, private PC/SC stack) with the
guide's doctor card in reader 0. Scenario replay and its report arrive with the runner; this
module is the command's skeleton they grow into.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from harness.card_profile import load_profile, make_card
from harness.card_run import client_env
from harness.doctor import Check, check_opensc_sees
from harness.pki import CertVariant
from harness.pki.names import SHORT_NAMES
from harness.world import World
from simulators.web import hosts
from simulators.web.igc.app import OCSP_REQUEST

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


async def start_check_stop() -> tuple[list[Running], list[Check]]:
    """Start the world, check each part through a real client, stop it; never leaves a process."""
    checks: list[Check] = []
    async with World() as world:
        assert world.pki is not None and world.stack is not None
        now = world.state.now()
        pki = world.pki
        profile = load_profile(DEMO_PROFILE)
        card, credentials = make_card(profile, pki, now)
        revoked = pki.cards.issue(profile.professional(), now, CertVariant.REVOKED)  # the same card, declared lost
        personnes = pki.cards.personnes.certificate
        await world.readers[0].insert(card)
        holder = profile.holder
        running = [Running(name, url, "loopback, TLS" if url.startswith("https") else "loopback, HTTP")
                   for name, url in world.urls.items()]  # fmt: skip
        running += [
            Running("pcscd", str(world.stack.socket_path), f"pid {world.stack.pids[-1]}"),
            Running(
                f"reader {world.readers[0].name!r}",
                f"vpcd tcp/{world.readers[0].port}",
                f"CPS card of {holder.first_name} {holder.last_name} ({holder.national_id})",
            ),
            Running(f"reader {world.readers[1].name!r}", f"vpcd tcp/{world.readers[1].port}", "empty"),
            Running("TLS server CA", str(world.ca_bundle), f"{len(pki.server.hosts)} site certificates"),
        ]
        checks.append(Check("world start-up", True, f"{world.started_in * 1000:.0f} ms, every site answered"))
        checks.append(check_opensc_sees(world.stack.env, len(world.readers)))
        from_card = await _read_card_certificate(client_env(world.stack))
        checks.append(
            Check(
                "card certificate through OpenSC",
                from_card == credentials.authentication.certificate,
                f"pkcs15-tool read {from_card.subject.rfc4514_string(SHORT_NAMES)}",
            )
        )
        igc = world.urls["igc"]
        async with world.client() as http:
            async with http.get(igc + hosts.CRL_PATH) as reply:
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
            good = await _ocsp_status(http, igc + hosts.OCSP_PATH, from_card, personnes)
            bad = await _ocsp_status(http, igc + hosts.OCSP_PATH, revoked.authentication.certificate, personnes)
            checks.append(
                Check("OCSP over HTTP", (good, bad) == ("GOOD", "REVOKED"), f"card in reader {good}, lost card {bad}")
            )
            for name, path, screen in (("wallet", "/activation", "saisie-identifiant"),
                                       ("push", "/telephone/telephone-1", "telephone")):  # fmt: skip
                async with http.get(world.urls[name] + path) as reply:
                    page = await reply.text()
                shown = f'data-screen="{screen}"' in page
                checks.append(Check(f"{name} over HTTPS", reply.status == 200 and shown, f"{path}: screen {screen}"))
    return running, checks
