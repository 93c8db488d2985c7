"""PSC against the strongest peer: complete OIDC code+PKCE logins per second, our PSC (e-CPS push
included) beside panva's ``oidc-provider`` (Node.js, OpenID certified), measured in the same run.

Run from the project root::

    (cd benchmarks/oidc_provider && npm ci)       # oidc-provider, pinned in its package-lock.json
    .venv/bin/python -m benchmarks --only peer     # or: python -m benchmarks.peer [--n 200] [--reps 3]

Both providers get the same relying party and browser code (``benchmarks/psc.py``'s: authlib's
``AsyncOAuth2Client`` with PKCE S256, ``state`` and ``nonce``; an aiohttp browser), the same
id_token verification (``verify_id_token``: joserfc, RS256 signature against the JWKS, ``iss``,
``aud``, ``nonce``, ``exp``) and userinfo, both over HTTPS on loopback:

- **PSC**: ``psc.PscWorker``'s e-CPS flow: authorization page, national id, the phone approves the
  push (in process), the waiting page redirects with the code, token, id_token, userinfo.
- **oidc-provider** 9 (``benchmarks/oidc_provider/server.mjs``, its own process, Node's HTTPS
  server with a trustme certificate): GET the authorization URL (303 to its interaction page),
  POST the login form with the subject (the server finishes the interaction with login and
  consent at once, as PSC's single national-id form does), follow its redirects back through the
  authorization endpoint to the redirect_uri with the code, then token (client_secret_basic +
  code_verifier; PKCE required), id_token, userinfo.

Caveats: the clients share this Python process with PSC's world, so PSC's row pays for its clients'
CPU on the same event loop, while oidc-provider runs in a process of its own (a second core on a
2-core machine): the comparison is conservative for PSC. oidc-provider warns that Node 20 is not
its supported runtime (22 LTS is); it runs correctly on it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlparse

import aiohttp
import httpx2
import trustme
from joserfc.jwk import KeySet

from benchmarks import psc
from benchmarks.common import Row, Target, median
from harness.pki import Pki

SERVER = Path(__file__).resolve().parent / "oidc_provider"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0
TARGET_RATIO = 1.0
SUB = "899700209812"
SCOPE = "openid profile email"
FORM = 'action="(/interaction/[^"]+/login)"'
PEER_LEGS = ("authorize", "login", "token", "id_token", "userinfo")
MAX_REDIRECTS = 10


class Missing(RuntimeError):
    """Node.js or the npm packages are not installed; the message says how."""


def check_installed() -> None:
    if shutil.which("node") is None:
        raise Missing("Node.js is missing: apt-get install -y nodejs npm")
    if not (SERVER / "node_modules" / "oidc-provider").is_dir():
        raise Missing("oidc-provider is not installed: (cd benchmarks/oidc_provider && npm ci)")


@contextlib.contextmanager
def peer_server() -> Iterator[tuple[str, Path]]:
    """oidc-provider in its own Node process over HTTPS on 127.0.0.1: its issuer and the CA to trust."""
    check_installed()
    ca = trustme.CA()
    with tempfile.TemporaryDirectory(prefix="cps-bench-peer-") as folder:
        cert, key, ca_file = Path(folder) / "cert.pem", Path(folder) / "key.pem", Path(folder) / "ca.pem"
        issued = ca.issue_cert("127.0.0.1")
        issued.cert_chain_pems[0].write_to_path(cert)
        issued.private_key_pem.write_to_path(key)
        ca.cert_pem.write_to_path(ca_file)
        env = {**os.environ, "BENCH_CERT": str(cert), "BENCH_KEY": str(key), "BENCH_CLIENT_ID": psc.CLIENT_ID,
               "BENCH_CLIENT_SECRET": psc.SECRET, "BENCH_REDIRECT": psc.REDIRECT}  # fmt: skip
        with subprocess.Popen(
            ["node", "server.mjs"], cwd=SERVER, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        ) as node:
            try:
                yield _issuer(node), ca_file
            finally:
                node.terminate()
                try:
                    node.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    node.kill()
                    node.wait(STOP_TIMEOUT)


def _issuer(node: subprocess.Popen[str]) -> str:
    """The issuer from the server's one JSON line, read with a timeout (a thread: pipes have none)."""
    assert node.stdout is not None
    found: list[str] = []

    def read() -> None:
        assert node.stdout is not None
        found.append(node.stdout.readline())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(START_TIMEOUT)
    if not found or not found[0].strip():
        raise psc.BenchError(f"oidc-provider did not start within {START_TIMEOUT:.0f} s (exit code {node.poll()})")
    issuer: str = json.loads(found[0])["issuer"]
    return issuer


class PeerWorker(psc.Worker):
    legs = PEER_LEGS

    def __init__(self, issuer: str, ca_file: Path) -> None:
        super().__init__()
        self.issuer, self.ca_file = issuer, ca_file

    async def open(self) -> None:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        timeout = aiohttp.ClientTimeout(total=psc.HTTP_TIMEOUT)
        connector = aiohttp.TCPConnector(ssl=context)
        jar = aiohttp.CookieJar(unsafe=True)  # cookies of 127.0.0.1, an IP address
        session = aiohttp.ClientSession(timeout=timeout, connector=connector, cookie_jar=jar)
        self.browser = await self.stack.enter_async_context(session)
        transport = httpx2.AsyncHTTPTransport(verify=context)
        self.rp = await self.stack.enter_async_context(psc.oauth_client(SCOPE, transport))
        self.config = await psc.fetch_json(self.rp, self.issuer + "/.well-known/openid-configuration")
        self.jwks = KeySet.import_key_set(await psc.fetch_json(self.rp, self.config["jwks_uri"]))  # type: ignore[arg-type]

    async def _until_redirect_uri(self, reply: aiohttp.ClientResponse) -> str:
        """Follow the provider's redirects by hand until one goes to the redirect_uri (never fetched)."""
        for _ in range(MAX_REDIRECTS):
            location = urljoin(str(reply.url), reply.headers.get("Location", ""))
            psc.expect(reply.status in (302, 303) and bool(location), f"expected a redirect, got {reply.status}")
            if location.startswith(psc.REDIRECT):
                return location
            async with self.browser.get(location, allow_redirects=False) as reply:
                await reply.read()
        raise psc.BenchError(f"more than {MAX_REDIRECTS} redirects")

    async def flow(self) -> dict[str, float]:
        laps = psc.Laps()
        verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
        url, state = self.rp.create_authorization_url(
            self.config["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        self.browser.cookie_jar.clear()
        async with self.browser.get(url) as reply:  # 303 to the interaction page, followed
            page = await reply.text()
        action = re.search(FORM, page)
        psc.expect(reply.status == 200 and action is not None, f"login form: {reply.status} {page[:200]}")
        assert action is not None
        laps.lap("authorize")
        origin = f"{reply.url.scheme}://{reply.url.host}:{reply.url.port}"
        async with self.browser.post(origin + action.group(1), data={"login": SUB}, allow_redirects=False) as reply:
            await reply.read()
            location = await self._until_redirect_uri(reply)
        query = parse_qs(urlparse(location).query)
        psc.expect(query.get("state") == [state] and "code" in query, f"redirect without code or state: {location}")
        laps.lap("login")
        token = await self.rp.fetch_token(self.config["token_endpoint"], code=query["code"][0], code_verifier=verifier)
        laps.lap("token")
        claims = psc.verify_id_token(
            token["id_token"], self.jwks, issuer=self.config["issuer"], audience=psc.CLIENT_ID, nonce=nonce, now=None
        )
        psc.expect(claims["sub"] == SUB, f"id_token: {claims}")
        laps.lap("id_token")
        info = await self.rp.get(self.config["userinfo_endpoint"])
        psc.expect(info.status_code == 200 and info.json().get("sub") == SUB, f"userinfo: {info.status_code}")
        laps.lap("userinfo")
        return laps.times


async def measure_peer(concurrency: int, rep: int, args: argparse.Namespace) -> psc.Measurement:
    async with asyncio.timeout(psc.measurement_timeout(args)):
        with peer_server() as (issuer, ca_file):
            workers: list[psc.Worker] = [PeerWorker(issuer, ca_file) for _ in range(concurrency)]
            seconds, flows = await psc.drive(workers, args.warmup, args.n, "login")
    return psc.Measurement("peer", "login", concurrency, rep, seconds, flows)


@dataclass
class Runs:
    psc: dict[int, list[psc.Measurement]]
    peer: dict[int, list[psc.Measurement]]


async def collect(args: argparse.Namespace, pki: Pki, log: Callable[[str], None]) -> Runs:
    """Each concurrency ``--reps`` times per provider, alternating which goes first."""
    check_installed()
    runs = Runs({}, {})
    for concurrency in args.concurrency:
        for rep in range(args.reps):
            for provider in ("psc", "peer") if rep % 2 == 0 else ("peer", "psc"):
                if provider == "psc":
                    found = await psc.measure("psc", "login", concurrency, rep, args, pki)
                    runs.psc.setdefault(concurrency, []).append(found)
                else:
                    found = await measure_peer(concurrency, rep, args)
                    runs.peer.setdefault(concurrency, []).append(found)
                log(f"{provider:4} login c={concurrency} run {rep + 1}/{args.reps}: {found.rate:.1f}/s")
    return runs


def rows(runs: Runs, args: argparse.Namespace) -> list[Row]:
    out = []
    for concurrency in args.concurrency:
        ours, peer = (
            psc.summarise(runs.psc[concurrency], psc.PSC_LEGS),
            psc.summarise(runs.peer[concurrency], PEER_LEGS),
        )
        workers = f"{concurrency} worker{'s' if concurrency > 1 else ''}"
        out.append(
            Row(
                "peer", f"complete OIDC code+PKCE logins per second, {workers}", "flows/s", ours.rate, peer.rate,
                f"oidc-provider {version()}", Target("ratio_min", TARGET_RATIO, f"≥ {TARGET_RATIO:.0f}× oidc-provider"),
                f"PSC e-CPS flow (push approved) vs oidc-provider's code flow, both HTTPS, same RP code and id_token "
                f"check, {args.n} × {args.reps}; one {ours.median_ms:.1f} ms vs {peer.median_ms:.1f} ms (median)",
                {"ours_rates": ours.rates, "anchor_rates": peer.rates},
            )
        )  # fmt: skip
    return out


def payload(runs: Runs) -> dict[str, Any]:
    def legs(measurements: list[psc.Measurement], names: tuple[str, ...]) -> dict[str, float]:
        return {leg: median([f.legs[leg] for m in measurements for f in m.flows]) * 1000 for leg in names}

    return {
        "oidc_provider": version(),
        "psc": {c: {"rates": [m.rate for m in ms], "legs_ms": legs(ms, psc.PSC_LEGS)} for c, ms in runs.psc.items()},
        "peer": {c: {"rates": [m.rate for m in ms], "legs_ms": legs(ms, PEER_LEGS)} for c, ms in runs.peer.items()},
    }


def version() -> str:
    try:
        found: str = json.loads((SERVER / "node_modules/oidc-provider/package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "?"
    return found


def main() -> None:
    from rich.console import Console

    from benchmarks.report import table

    args = psc.parse_args()
    console = Console()
    found = asyncio.run(collect(args, Pki(), console.log))
    console.print(table(rows(found, args), "PSC vs oidc-provider", "ratio = PSC / oidc-provider (medians)"))


if __name__ == "__main__":
    main()
