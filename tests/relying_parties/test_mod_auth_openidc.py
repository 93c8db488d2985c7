"""Apache's mod_auth_openidc (Debian's package) protecting a page with a served Pro Santé Connect.

As an administrator configures it after ANS's templates: PKCE S256, ``acr_values=eidas1``, the
world's CA bundle (read by Apache's workers, another user when run as root), the world reached
through its proxy (``OIDCOutgoingProxy``). The professional logs in with the e-CPS, with the answer
coming back as a query and as a ``form_post``; then logs out through PSC. Apache runs on a free
loopback port, is waited for by polling and stopped by its PID.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urljoin

import aiohttp
import pytest

from harness.drivers.page import parse_page
from tests.support.served import NATIONAL_ID, ServedWorld

APACHE = "/usr/sbin/apache2"
MODULES = Path("/usr/lib/apache2/modules")
PAGE = "Page protégée par Pro Santé Connect"
READY_TIMEOUT = 20.0


@pytest.fixture(scope="module")
def world() -> Iterator[ServedWorld]:
    with ServedWorld() as served:
        served.set_up_professional()
        yield served


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Apache:
    """One Apache with mod_auth_openidc in a folder of its own (readable by its workers)."""

    def __init__(self, world: ServedWorld, response_mode: str) -> None:
        if not Path(APACHE).exists() or not (MODULES / "mod_auth_openidc.so").exists():
            pytest.fail("apache2 and libapache2-mod-auth-openidc are not installed: run ./bootstrap.sh test")
        self.folder = Path(tempfile.mkdtemp(prefix="cps-apache-"))
        self.folder.chmod(0o755)
        (self.folder / "htdocs" / "protected").mkdir(parents=True)
        (self.folder / "htdocs" / "protected" / "page.html").write_text(f"<p>{PAGE}</p>\n", encoding="utf-8")
        (self.folder / "htdocs" / "loggedout.html").write_text("<p>Déconnecté</p>\n", encoding="utf-8")
        for path in (self.folder / "htdocs").rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.redirect = self.base + "/protected/redirect_uri"
        self.client_id = f"apache-rp-{response_mode.replace('_', '-')}"
        self.secret = secrets.token_urlsafe(18)
        world.register(self.client_id, self.secret, self.redirect,
                       post_logout_redirect_uris=[self.base + "/loggedout.html"])  # fmt: skip
        proxy = world.info["proxy"].removeprefix("http://")
        user = "User www-data\nGroup www-data\n" if os.getuid() == 0 else ""
        modules = ("mpm_prefork", "authn_core", "authz_core", "authz_user", "headers", "auth_openidc")
        loads = "".join(f"LoadModule {m}_module {MODULES}/mod_{m}.so\n" for m in modules)
        (self.folder / "httpd.conf").write_text(
            f"""ServerRoot "{self.folder}"
Listen 127.0.0.1:{self.port}
ServerName 127.0.0.1
PidFile {self.folder}/httpd.pid
DefaultRuntimeDir {self.folder}
Mutex file:{self.folder} default
ErrorLog {self.folder}/error.log
LogLevel warn auth_openidc:info
{loads}{user}StartServers 1
MinSpareServers 1
MaxSpareServers 2
DocumentRoot {self.folder}/htdocs
<Directory {self.folder}/htdocs>
    Require all granted
</Directory>
OIDCProviderMetadataURL {world.issuer}/.well-known/openid-configuration
OIDCClientID {self.client_id}
OIDCClientSecret {self.secret}
OIDCRedirectURI {self.redirect}
OIDCCryptoPassphrase {secrets.token_urlsafe(24)}
OIDCScope "openid scope_all"
OIDCAuthRequestParams acr_values=eidas1
OIDCPKCEMethod S256
OIDCResponseMode {response_mode}
OIDCRemoteUserClaim preferred_username
OIDCCABundlePath {world.info["ca_bundle"]}
OIDCOutgoingProxy {proxy}
<Location /protected>
    AuthType openid-connect
    Require valid-user
    Header always set X-Remote-User "expr=%{{REMOTE_USER}}"
</Location>
""",
            encoding="utf-8",
        )
        self.process = subprocess.Popen(
            [APACHE, "-f", str(self.folder / "httpd.conf"), "-DFOREGROUND"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"apache2 exited {self.process.returncode}: {self.log()}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError(f"apache2 did not listen within {READY_TIMEOUT} s: {self.log()}")

    def log(self) -> str:
        out = self.process.stdout.read().decode(errors="replace") if self.process.poll() is not None else ""
        errors = self.folder / "error.log"
        return out + (errors.read_text(errors="replace")[-3000:] if errors.exists() else "")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(params=["query", "form_post"])
def apache(world: ServedWorld, request: pytest.FixtureRequest) -> Iterator[Apache]:
    server = Apache(world, request.param)
    try:
        yield server
    finally:
        server.stop()


async def log_in(world: ServedWorld, apache: Apache, jar: aiohttp.CookieJar) -> aiohttp.ClientResponse:
    """The professional opens the protected page, logs in at PSC with the e-CPS, and lands back on it."""
    async with aiohttp.ClientSession(cookie_jar=jar, timeout=aiohttp.ClientTimeout(total=30)) as http:
        async with http.get(apache.base + "/protected/page.html", allow_redirects=False) as reply:
            assert reply.status == 302, apache.log()
            authorize = reply.headers["Location"]
        assert authorize.startswith("https://wallet.esw.esante.gouv.fr:") and "acr_values=eidas1" in authorize
        status, location, html = await world.login(authorize, jar)
        if status == 303:  # response_mode=query
            assert location.startswith(apache.redirect), location
            async with http.get(location) as reply:
                await reply.read()
                return reply
        page = parse_page(apache.redirect, status, html)  # response_mode=form_post: the page that posts back
        assert page.screen == "retour-application" and page.forms[0].action == apache.redirect, html
        fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', html))
        async with http.post(apache.redirect, data=fields) as reply:
            await reply.read()
            return reply


def test_mod_auth_openidc_protects_a_page_with_psc_and_logs_out(world: ServedWorld, apache: Apache) -> None:
    async def scenario() -> None:
        jar = aiohttp.CookieJar(unsafe=True)
        landed = await log_in(world, apache, jar)
        assert landed.status == 200, apache.log()
        assert str(landed.url).endswith("/protected/page.html")
        assert landed.headers.get("X-Remote-User") == NATIONAL_ID, "Apache's REMOTE_USER: PSC's preferred_username"
        async with aiohttp.ClientSession(cookie_jar=jar, timeout=aiohttp.ClientTimeout(total=30)) as http:
            async with http.get(apache.base + "/protected/page.html") as reply:
                assert reply.status == 200 and PAGE in await reply.text(), "the session holds"
            back = apache.base + "/loggedout.html"
            async with http.get(f"{apache.redirect}?logout={quote(back, safe='')}", allow_redirects=False) as reply:
                to_psc = reply.headers.get("Location", "")
            assert "/protocol/openid-connect/logout" in to_psc and "id_token_hint=" in to_psc, apache.log()
            status, location = await asyncio.to_thread(world.follow, to_psc)
            assert (status, urljoin(to_psc, location)) == (302, back)
            async with http.get(apache.base + "/protected/page.html", allow_redirects=False) as reply:
                assert reply.status == 302, "logged out"
                assert reply.headers["Location"].startswith("https://wallet.esw.esante.gouv.fr:"), "PSC again"

    asyncio.run(scenario())
