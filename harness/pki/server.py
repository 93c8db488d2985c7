"""The TLS server side of the test PKI: one trustme CA, a leaf per simulated host.

The CA is kept in the cache beside the keys (trustme can reload it with ``CA.from_pem``), so a
trainer who trusted it in a browser once keeps a working browser from one run to the next.
Leaves are ECDSA and cost about a millisecond, so they are issued afresh per world.
"""

from __future__ import annotations

import os
import ssl
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from harness.pki.keys import KeyStore

CA_ORGANIZATION = "cps-harness"
CA_UNIT = "test TLS CA (not IGC-Santé: servers only)"


def _load_or_create_ca(directory: Path) -> trustme.CA:
    cert_path, key_path = directory / "tls-ca.pem", directory / "tls-ca.key.pem"
    if cert_path.exists() and key_path.exists():
        return trustme.CA.from_pem(cert_path.read_bytes(), key_path.read_bytes())
    ca = trustme.CA(organization_name=CA_ORGANIZATION, organization_unit_name=CA_UNIT)
    directory.mkdir(parents=True, exist_ok=True)
    # Publish the pair atomically: the key first, then the certificate, each by hard link, so a
    # concurrent process either sees both files of one CA or loses its own race and waits.
    try:
        _publish(key_path, ca.private_key_pem.bytes())
        _publish(cert_path, ca.cert_pem.bytes())
    except FileExistsError:
        return _wait_for_ca(cert_path, key_path)
    return ca


def _publish(path: Path, data: bytes) -> None:
    """Create ``path`` with ``data`` all at once, or raise FileExistsError if it exists."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".new-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.link(tmp, path)
    finally:
        os.unlink(tmp)


def _wait_for_ca(cert_path: Path, key_path: Path, timeout: float = 5.0) -> trustme.CA:
    """Another process won the race and is about to write the certificate; read its pair."""
    deadline = time.monotonic() + timeout
    while not cert_path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{key_path} exists without {cert_path}: delete both to make a new CA")
        time.sleep(0.01)
    return trustme.CA.from_pem(cert_path.read_bytes(), key_path.read_bytes())


class ServerPki:
    """Server certificates for the simulated sites, and what clients need to trust them."""

    def __init__(self, keys: KeyStore, hosts: Iterable[str]) -> None:
        self.ca = _load_or_create_ca(keys.directory)
        self.hosts = tuple(hosts)
        self._leaves = {host: self.ca.issue_cert(host) for host in self.hosts}

    def leaf(self, host: str) -> trustme.LeafCert:
        try:
            return self._leaves[host]
        except KeyError:
            raise KeyError(f"no server certificate for {host!r}; known hosts: {', '.join(self.hosts)}") from None

    def server_context(self, host: str) -> ssl.SSLContext:
        """A context for an aiohttp server of ``host`` (TLS 1.2 minimum, like the real sites)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.leaf(host).configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts the test CA only (the system's CAs are not even loaded)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificates and host names
        self.ca.configure_trust(context)
        return context

    def write_ca_bundle(self, directory: Path) -> Path:
        """The CA certificate as a PEM file, for curl, openssl, requests, NSS imports.

        Named after the CA's fingerprint (``tls-ca-<16 hex>.pem``): worlds running side by side with
        the same test PKI share one file, worlds with different PKIs (another cache) never overwrite
        each other's. It is written atomically, and only once, so a client never reads it half-written.
        """
        pem = self.ca.cert_pem.bytes()
        fingerprint = x509.load_pem_x509_certificate(pem).fingerprint(hashes.SHA256()).hex()[:16]
        path = directory / f"tls-ca-{fingerprint}.pem"
        if path.exists() and path.read_bytes() == pem:
            return path
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".bundle-")
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        os.chmod(tmp, 0o644)  # a certificate: any local program may read it (mkstemp made it 0600)
        os.replace(tmp, path)
        return path
