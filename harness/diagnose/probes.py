"""The diagnostic's I/O: what pcscd, the middleware, the browser's NSS database, the IGC-Santé
publication site and "Test SSL" say, turned into the plain records ``checks`` judges.

Every probe is a subprocess or an HTTP request awaited with a timeout, never a blocking call:
in a world, the virtual card is served by the same event loop, and a tool that waits on the
card while the loop waits on the tool would deadlock. A probe never raises for what it finds
(a missing tool, a timeout): that becomes part of the record, and so a ✘ with its reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import ssl
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

import aiohttp
import trustme
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

from harness.diagnose.checks import (
    CertificateRead,
    CertObject,
    ModuleState,
    NssModule,
    NssState,
    PcscState,
    ReaderState,
    TlsAttempt,
    aia_urls,
    crl_urls,
    name_text,
    ocsp_urls,
)
from harness.middleware import PKCS1_ONLY
from harness.world.sites import start_site
from simulators.web.igc.app import OCSP_REQUEST
from simulators.web.testssl.rules import TLS_VERSIONS

PROBE_TIMEOUT = 20.0
"""Seconds any one tool or request may take (a mute card is removed by its watchdog in 3 s)."""
SYSTEM_SOCKET = "/run/pcscd/pcscd.comm"
"""Where libpcsclite looks when ``PCSCLITE_CSOCK_NAME`` is not set."""
KEY_TYPE = "private"
LOCAL_HOST = "testssl.local"


@dataclass(frozen=True)
class ToolResult:
    code: int
    out: bytes
    err: str

    @property
    def text(self) -> str:
        return self.out.decode(errors="replace")


async def run_tool(*command: str, env: dict[str, str], timeout: float = PROBE_TIMEOUT) -> ToolResult:
    """Run a tool to completion within ``timeout``; 127 if absent, 124 (killed) on timeout."""
    try:
        process = await asyncio.create_subprocess_exec(
            *command, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
    except FileNotFoundError:
        return ToolResult(127, b"", f"{command[0]}: command not found")
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        return ToolResult(124, b"", f"{command[0]} did not finish within {timeout:.0f} s")
    assert process.returncode is not None
    return ToolResult(process.returncode, out, err.decode(errors="replace"))


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


# -- PC/SC ---------------------------------------------------------------------------------------------
def _source_root() -> str:
    """The directory holding the ``harness`` package, so the child imports this very copy."""
    return str(Path(__file__).resolve().parent.parent.parent)


async def pcsc_state(env: dict[str, str]) -> PcscState:
    """Ask pcscd through pyscard, in a child process pointed at ``env``'s socket."""
    socket = env.get("PCSCLITE_CSOCK_NAME") or f"{SYSTEM_SOCKET} (the system's)"
    path = os.pathsep.join(p for p in (_source_root(), env.get("PYTHONPATH", "")) if p)
    result = await run_tool(sys.executable, "-m", "harness.diagnose.reader_child", env={**env, "PYTHONPATH": path})
    try:
        report = json.loads(result.text)
    except ValueError:
        why = last_line(result.err) or f"exit {result.code}"
        return PcscState(False, socket, f"the PC/SC probe failed: {why}")
    readers = tuple(
        ReaderState(r["name"], r["present"], bytes.fromhex(r["atr"]), r.get("select_sw")) for r in report["readers"]
    )
    return PcscState(
        report["service"], socket, report["error"], readers, report["card_reader"],
        report.get("pin_sw"), report.get("puk_sw"), report.get("card_error", ""),
    )  # fmt: skip


# -- the middleware ------------------------------------------------------------------------------------
SLOT = re.compile(r"^Slot \d+ \(0x[0-9a-f]+\): (.*)$")
FIELD = re.compile(r"^\s+([A-Za-z ]+?)\s*:\s*(.*)$")


def parse_pkcs11_tool(path: str, result: ToolResult) -> ModuleState:
    """``pkcs11-tool -I -L -M -O --type cert`` output → what the module and its token show."""
    text = result.text
    if "Cryptoki version" not in text:
        said = [line.strip() for line in (result.err + text).splitlines() if "error" in line.lower()]
        error = (said[0] if said else last_line(result.err) or last_line(text)) or f"exit {result.code}"
        return ModuleState(path, True, False, error)
    library = next((v for k, v in _fields(text) if k == "Library"), "")
    slots, tokens, mechanisms, certificates = [], [], [], []
    section = ""
    current: dict[str, str] | None = None
    for line in text.splitlines():
        if slot := SLOT.match(line):
            slots.append(slot.group(1))
            continue
        if line.startswith("Supported mechanisms:"):
            section = "mechanisms"
            continue
        if line.startswith("Certificate Object"):
            section, current = "certificate", {}
            continue
        if line and not line.startswith(" "):
            section = "" if section == "mechanisms" else section
        field = FIELD.match(line)
        if section == "mechanisms" and line.startswith("  "):
            mechanisms.append(line.strip().split(",")[0])
        elif field and field.group(1) == "token label":
            tokens.append(field.group(2))
        elif section == "certificate" and field and current is not None:
            current[field.group(1)] = field.group(2)
            if field.group(1) == "ID":
                certificates.append(CertObject(current.get("label", ""), field.group(2)))
    return ModuleState(
        path, True, True, "", library, tuple(slots), tuple(tokens), tuple(mechanisms), tuple(certificates)
    )


def _fields(text: str) -> list[tuple[str, str]]:
    found = []
    for line in text.splitlines():
        key, sep, value = line.partition(" ")
        if sep and key in ("Library", "Manufacturer"):
            found.append((key, value.strip()))
    return found


async def module_state(module: str, env: dict[str, str]) -> ModuleState:
    if not os.path.isfile(module):
        return ModuleState(module, False)
    result = await run_tool("pkcs11-tool", "--module", module, "-I", "-L", "-M", "-O", "--type", "cert", env=env)
    return parse_pkcs11_tool(module, result)


async def read_certificate(module: ModuleState, certificate: CertObject, env: dict[str, str]) -> CertificateRead:
    result = await run_tool(
        "pkcs11-tool", "--module", module.path, "--read-object", "--type", "cert", "--id", certificate.id, env=env
    )
    if result.code != 0 or not result.out:
        return CertificateRead(None, certificate.label, last_line(result.err) or f"exit {result.code}")
    return CertificateRead(result.out, certificate.label)


def key_uri(certificate_id: str, pin_file: Path) -> str:
    """The card's private key of the same id as its certificate, for OpenSSL's PKCS#11 engine.

    The PIN is read from a file (``pin-source``, RFC 7512), never put on a command line where
    any local user could read it (``/proc/PID/cmdline``): on a real machine it is the real PIN.
    """
    encoded = "".join(f"%{certificate_id[i : i + 2]}" for i in range(0, len(certificate_id), 2))
    return f"pkcs11:id={encoded};type={KEY_TYPE};pin-source=file:{pin_file}"


def write_pin(directory: Path, pin: str) -> Path:
    """The PIN in a file only this user can read, for ``key_uri``."""
    path = directory / "pin"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(pin)
    return path


# -- NSS --------------------------------------------------------------------------------------------------
MODULE_LINE = re.compile(r"^\s*\d+\. (.*)$")


def parse_modutil(db: Path, result: ToolResult) -> NssState:
    """``modutil -list``: each module's name, library (links resolved), status and tokens."""
    if result.code != 0:
        return NssState(str(db), True, last_line(result.err) or last_line(result.text) or f"exit {result.code}")
    modules: list[NssModule] = []
    name, library, status = "", "", ""
    tokens: list[str] = []
    for line in [*result.text.splitlines(), "  0. end"]:
        if found := MODULE_LINE.match(line):
            if name:
                modules.append(NssModule(name, os.path.realpath(library) if library else "", status, tuple(tokens)))
            name, library, status, tokens = found.group(1).strip(), "", "", []
            continue
        key, _, value = line.strip().partition(":")
        if key == "library name":
            library = value.strip()
        elif key == "status":
            status = value.strip()
        elif key == "token" and value.strip():
            tokens.append(value.strip())
    return NssState(str(db), True, "", tuple(modules))


async def nss_state(db: Path, env: dict[str, str]) -> NssState:
    if not (db / "cert9.db").exists() and not (db / "pkcs11.txt").exists():
        return NssState(str(db), False)
    return parse_modutil(db, await run_tool("modutil", "-dbdir", f"sql:{db}", "-list", env=env))


# -- the IGC-Santé publication site -----------------------------------------------------------------------
class Publication:
    """CA certificates, CRL and OCSP at the URLs a certificate names (``locate`` maps them to a world)."""

    def __init__(self, http: aiohttp.ClientSession, locate: Callable[[str], str]) -> None:
        self.http = http
        self.locate = locate
        self.errors: list[str] = []

    async def get(self, url: str, data: bytes | None = None, content_type: str = "") -> bytes | None:
        where = self.locate(url)
        try:
            method = "POST" if data is not None else "GET"
            headers = {"Content-Type": content_type} if content_type else {}
            timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT)
            async with self.http.request(method, where, data=data, headers=headers, timeout=timeout) as reply:
                body = await reply.read()
                if reply.status != 200:
                    self.errors.append(f"{url}: HTTP {reply.status}")
                    return None
                return body
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self.errors.append(f"{url}: {type(exc).__name__} {exc}")
            return None

    async def issuers(self, certificate: x509.Certificate, depth: int = 3) -> list[x509.Certificate]:
        """The CA certificates the chain's ``caIssuers`` URLs lead to, up the chain."""
        found: list[x509.Certificate] = []
        current = certificate
        for _ in range(depth):
            urls = aia_urls(current, AuthorityInformationAccessOID.CA_ISSUERS)
            if not urls:
                break
            body = await self.get(urls[0])
            if body is None:
                break
            try:
                parent = x509.load_der_x509_certificate(body)
            except ValueError:
                self.errors.append(f"{urls[0]}: not a DER certificate")
                break
            found.append(parent)
            if parent.issuer == parent.subject:
                break
            current = parent
        return found

    async def crl(self, certificate: x509.Certificate) -> bytes | None:
        urls = crl_urls(certificate)
        if not urls:
            self.errors.append("the certificate names no CRL")
            return None
        return await self.get(urls[0])

    async def ocsp(self, certificate: x509.Certificate, issuer: x509.Certificate) -> bytes | None:
        urls = ocsp_urls(certificate)
        if not urls:
            self.errors.append("the certificate names no OCSP responder")
            return None
        request = ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, hashes.SHA1()).build()
        return await self.get(urls[0], request.public_bytes(serialization.Encoding.DER), OCSP_REQUEST)


# -- "Test SSL" ---------------------------------------------------------------------------------------------
class _Table(HTMLParser):
    """The Test SSL page's screen id and its ``<td data-field="…">`` cells."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.screen = ""
        self.fields: dict[str, str] = {}
        self._field: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "body":
            self.screen = values.get("data-screen") or ""
        if tag == "td" and values.get("data-field"):
            self._field = values["data-field"]
            self.fields[self._field or ""] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._field = None

    def handle_data(self, data: str) -> None:
        if self._field:
            self.fields[self._field] += data


def read_page(html: str) -> tuple[str, dict[str, str]]:
    parser = _Table()
    parser.feed(html)
    return parser.screen, {k: v.strip() for k, v in parser.fields.items() if k != "x509"}


TLS_LINE = re.compile(r"SSL connection using (TLSv[\d.]+)")


@dataclass(frozen=True)
class CardKey:
    """What the browser would present: the key on the card (by URI) and its certificate (PEM file)."""

    uri: str
    certificate: Path


async def curl_testssl(
    url: str, ca_bundle: Path, env: dict[str, str], workdir: Path, card: CardKey | None
) -> tuple[ToolResult, str]:
    """GET ``url`` as the browser: with the card's key through OpenSSL's PKCS#11 engine, or without.

    PKCS#1 signature algorithms only: the card has no RSA-PSS, and a TLS 1.2 client that offers
    it first fails on the card (``Mechanism invalid``); Chromium does the same by itself.
    """
    parsed = urlparse(url)
    conf = workdir / "pkcs1.cnf"
    conf.write_text(PKCS1_ONLY)
    command = ["curl", "-sS", "-v", "--max-time", str(int(PROBE_TIMEOUT)), "--cacert", str(ca_bundle),
               "--resolve", f"{parsed.hostname}:{parsed.port}:127.0.0.1"]  # fmt: skip
    if card is not None:
        command += ["--engine", "pkcs11", "--key-type", "ENG", "--key", card.uri, "--cert", str(card.certificate)]
    result = await run_tool(*command, url, env={**env, "OPENSSL_CONF": str(conf)}, timeout=PROBE_TIMEOUT + 5)
    version = TLS_LINE.search(result.err)
    return result, version.group(1) if version else ""


def curl_error(stderr: str) -> str:
    return next((line for line in stderr.splitlines() if line.startswith("curl: (")), "")


async def world_testssl(
    url: str, ca_bundle: Path, env: dict[str, str], workdir: Path, card: CardKey | None, pss: bool | None
) -> TlsAttempt:
    result, version = await curl_testssl(url, ca_bundle, env, workdir, card)
    screen, fields = read_page(result.text) if result.code == 0 else ("", {})
    return TlsAttempt(card is not None, result.code, curl_error(result.err), version, screen, fields, pss=pss)


@contextlib.asynccontextmanager
async def local_testssl(trusted: bytes | None, tls_max: str, workdir: Path) -> AsyncIterator[tuple[str, Path]]:
    """A loopback stand-in for Test SSL (environment mode): it trusts the card's own certificate.

    Offline, IGC-Santé's real chain is out of reach; what matters for the middleware set-up is
    that the card signs the handshake and the server verifies that signature against the
    certificate. So the certificate itself is the trust anchor (``VERIFY_X509_PARTIAL_CHAIN``),
    dates are left to the ``validity`` check, and the page answers with the subject received.
    Yields the URL and the CA bundle curl must trust.
    """
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(LOCAL_HOST).configure_cert(context)
    context.verify_mode = ssl.CERT_OPTIONAL
    context.maximum_version = TLS_VERSIONS[tls_max]
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN | 0x200000  # X509_V_FLAG_NO_CHECK_TIME
    if trusted:
        pem = x509.load_der_x509_certificate(trusted).public_bytes(serialization.Encoding.PEM).decode()
        context.load_verify_locations(cadata=pem)

    async def page(request: web.Request) -> web.Response:
        ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
        der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
        subject = name_text(x509.load_der_x509_certificate(der).subject) if der else ""
        return web.json_response({"subject": subject})

    app = web.Application()
    app.router.add_get("/", page)
    site = await start_site("testssl-local", app, ssl_context=context)
    bundle = workdir / "local-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    try:
        yield f"https://{LOCAL_HOST}:{site.port}/", bundle
    finally:
        await site.stop()


async def local_attempt(
    url: str, ca_bundle: Path, env: dict[str, str], workdir: Path, card: CardKey | None, pss: bool | None
) -> TlsAttempt:
    result, version = await curl_testssl(url, ca_bundle, env, workdir, card)
    subject = ""
    if result.code == 0:
        with contextlib.suppress(ValueError, AttributeError):
            subject = str(json.loads(result.text).get("subject", ""))
    return TlsAttempt(card is not None, result.code, curl_error(result.err), version, local=True,
                      peer_subject=subject, pss=pss)  # fmt: skip
