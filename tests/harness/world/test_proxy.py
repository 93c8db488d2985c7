"""The world's HTTP proxy: real host names to loopback for clients that take a proxy, and nothing else.

Checked with curl, as a user's tool would reach the world: a CONNECT tunnel to PSC (TLS checked
against the world's CA end to end), a plain GET to the IGC-Santé publication site, and refusals.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from harness.pki import Pki
from harness.world.host import WorldHost
from simulators.web import hosts
from simulators.web.psc.rules import REALM_PATH


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorldHost]:
    with WorldHost(pki=Pki(tmp_path_factory.mktemp("pki")), cards=False) as host:
        yield host


def curl(world: WorldHost, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["curl", "-sS", "-x", world.proxy, "--cacert", world.ca_bundle, "-w", "\n%{http_code}", *extra, url],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip


def test_a_tunnel_reaches_psc_by_its_real_name_with_tls_checked(world: WorldHost) -> None:
    done = curl(world, world.discovery_url)
    assert done.returncode == 0, done.stderr
    body, status = done.stdout.rsplit("\n", 1)
    assert status == "200" and f'"issuer": "{world.issuer}"'.replace(" ", "") in body.replace(" ", "")


def test_tls_through_the_tunnel_is_end_to_end(world: WorldHost) -> None:
    """Without the world's CA, curl refuses the site's certificate: the proxy does not terminate TLS."""
    done = subprocess.run(
        ["curl", "-sS", "-x", world.proxy, "--cacert", "/etc/ssl/certs/ca-certificates.crt", world.discovery_url],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 60, done.stderr  # CURLE_PEER_FAILED_VERIFICATION


def test_plain_http_is_forwarded_to_the_igc_site(world: WorldHost) -> None:
    url = world.urls["igc"] + hosts.CA_CERT_PATHS["root"]
    done = curl(world, url, "-o", "/dev/null")
    assert done.returncode == 0 and done.stdout.strip() == "200", done.stderr


def test_a_name_that_is_not_the_worlds_is_refused(world: WorldHost) -> None:
    port = world.urls["psc"].rsplit(":", 1)[1]
    for url in (f"https://example.org:{port}{REALM_PATH}", "http://example.org/"):
        done = curl(world, url)
        assert "403" in (done.stdout + done.stderr), (url, done.stdout, done.stderr)
