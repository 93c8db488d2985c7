"""OpenSC operations and TLS client authentication: our card against SoftHSM2 holding the same key.

Run from the project root: ``.venv/bin/python -m benchmarks --only softhsm,tls`` (the summary
table) or ``.venv/bin/python -m benchmarks.softhsm [--reps 10]`` (this comparison alone).

Why SoftHSM2: it is the cheapest real PKCS#11 token (a library, no device, no daemon), so it is
the floor any smart card sits on. Its token lives in a temporary ``SOFTHSM2_CONF`` directory and
holds what the ``pharmacist`` card holds: the two RSA keys of the card profile from the PKI's key
cache, with the same ids and labels, and their certificates (``softhsm2-util --import``, then
``pkcs11-tool --write-object``). The key is the same: one RSA-PKCS signature of the same
DigestInfo comes out byte for byte the same from both tokens, and the benchmark checks it.

Each command runs ``--reps`` times per token, in A B B A order, the wall time of the whole
process (module load, token discovery, login, the operation) is kept, and the row is the medians:

- ``pkcs11-tool --login --pin 1234 --test``, a fresh card each run (PIN tries intact);
- ``pkcs11-tool --login --pin 1234 --sign -m RSA-PKCS --id <auth id>`` of a SHA-256 DigestInfo;
- curl with OpenSSL's PKCS#11 engine (``--engine pkcs11 --key-type ENG --key pkcs11:...``, the
  module chosen by ``PKCS11_MODULE_PATH``, PKCS#1 signatures only as the protocol driver does)
  GETting a local HTTPS server that requires a client certificate of the card's CA (TLS 1.2,
  as the world's Test SSL: the card has no RSA-PSS); the server answers the serial of the
  certificate it saw. Two rows: the whole curl command, and the TLS handshake alone as curl
  reports it (``time_appconnect - time_connect``), in which the token signs once.

The card sits alone in reader 0 of a private pcscd (``CardHost``); SoftHSM2 needs no stack.
SoftHSM2 is Debian's ``softhsm2`` package; when ``/usr/lib/softhsm/libsofthsm2.so`` is missing
the benchmark says which ``apt-get`` command installs it and leaves these rows out.
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import os
import shutil
import ssl
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from rich.console import Console

from benchmarks.card import PIN, PROFILE, TimedCard, on_card
from benchmarks.common import Row, Target, abba, median, timed
from benchmarks.report import print_notes, table
from harness.card.host import CardHost
from harness.card.profile import card_spec, load_profile, make_card
from harness.middleware import OPENSC_MODULE, PKCS1_ONLY
from harness.pki import CardCredentials, Issued, Pki
from simulators.card import layout, pkcs15
from simulators.web import hosts

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
INSTALL = "apt-get install -y softhsm2"
SO_PIN = "12345678"
TOKEN_LABEL = "CPS-BENCH"
TARGET_RATIO = 3.0
SETUP_TIMEOUT = 30.0
RUN_TIMEOUT = 120.0
SERVER_STOP_TIMEOUT = 5.0
DIGEST_INFO_SHA256 = bytes.fromhex("3031300d060960864801650304020105000420")
"""DER prefix of a SHA-256 DigestInfo: what a TLS 1.2 client signs with RSA-PKCS."""
AUTH_ID = (pkcs15.APP_AID + bytes([layout.AUTH_KEY_REF & 0x7F])).hex()
SIGN_ID = (pkcs15.APP_AID + bytes([layout.SIGN_KEY_REF & 0x7F])).hex()
PARTS = ("pkcs11", "tls")
KNOWN_TEST_FAILURE = "C_DecryptInit failed: rv = CKR_ARGUMENTS_BAD"
"""pkcs11-tool 0.23's ``--test`` on SoftHSM2 2.6 ends here: OAEP with a label, which SoftHSM2 refuses."""


class Missing(RuntimeError):
    """A system package the benchmark needs is absent; the message says how to install it."""


def require_softhsm() -> None:
    if not Path(SOFTHSM_MODULE).exists():
        raise Missing(f"SoftHSM2 is not installed ({SOFTHSM_MODULE} is missing): run `{INSTALL}` as root")


def first_error(output: str) -> str:
    """The line that says what went wrong (pkcs11-tool prints ``error: ...`` then ``Aborting.``)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return next((line for line in lines if "error" in line.lower()), lines[-1] if lines else "")


def check(what: str, run: tuple[float, int, str]) -> str:
    _, code, output = run
    if code != 0:
        raise RuntimeError(f"{what} failed ({code}): {output.strip()[-1500:]}")
    return output


class SoftHsm:
    """A SoftHSM2 token in a temporary directory holding the card's two keys and certificates."""

    def __init__(self, credentials: CardCredentials) -> None:
        self.credentials = credentials
        self.directory = Path(tempfile.mkdtemp(prefix="cps-bench-softhsm-"))
        self.conf = self.directory / "softhsm2.conf"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SOFTHSM2_CONF": str(self.conf), "PKCS11_MODULE_PATH": SOFTHSM_MODULE}

    def _import(self, issued: Issued, key_id: str, key_label: str, cert_label: str) -> None:
        key = self.directory / f"{key_id}.key.pem"
        cert = self.directory / f"{key_id}.cert.der"
        key.write_bytes(
            issued.key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        key.chmod(0o600)
        cert.write_bytes(issued.certificate.public_bytes(serialization.Encoding.DER))
        check(
            "softhsm2-util --import",
            timed(["softhsm2-util", "--import", str(key), "--token", TOKEN_LABEL, "--label", key_label,
                   "--id", key_id, "--pin", PIN], self.env, SETUP_TIMEOUT),
        )  # fmt: skip
        key.unlink()  # the token has it now
        check(
            "pkcs11-tool --write-object",
            timed(["pkcs11-tool", "--module", SOFTHSM_MODULE, "--login", "--pin", PIN, "--write-object", str(cert),
                   "--type", "cert", "--id", key_id, "--label", cert_label], self.env, SETUP_TIMEOUT),
        )  # fmt: skip

    def start(self) -> Self:
        tokens = self.directory / "tokens"
        tokens.mkdir()
        self.conf.write_text(
            f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
        )
        check(
            "softhsm2-util --init-token",
            timed(["softhsm2-util", "--init-token", "--free", "--label", TOKEN_LABEL, "--pin", PIN,
                   "--so-pin", SO_PIN], self.env, SETUP_TIMEOUT),
        )  # fmt: skip
        self._import(self.credentials.authentication, AUTH_ID, layout.AUTH_KEY_LABEL, layout.AUTH_CERT_LABEL)
        self._import(self.credentials.signature, SIGN_ID, layout.SIGN_KEY_LABEL, layout.SIGN_CERT_LABEL)
        return self

    def stop(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class ClientAuthServer:
    """HTTPS on 127.0.0.1 that requires a certificate of the card's CA (TLS 1.2, as Test SSL) and
    answers the serial of the one it got: the proof that the token, not a fallback, signed."""

    def __init__(self, pki: Pki) -> None:
        context = pki.server.server_context(hosts.TESTSSL)
        context.verify_mode = ssl.CERT_REQUIRED
        for authority in pki.cards.authorities.values():
            context.load_verify_locations(
                cadata=authority.certificate.public_bytes(serialization.Encoding.PEM).decode()
            )
        context.maximum_version = ssl.TLSVersion.TLSv1_2

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                der = self.connection.getpeercert(binary_form=True)
                body = format(x509.load_der_x509_certificate(der).serial_number, "X").encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # the handshake happens in accept(); a failed one is an OSError that socketserver drops
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, name="bench-tls", daemon=True)
        self.url = f"https://{hosts.TESTSSL}:{self.server.server_port}/"
        self.resolve = f"{hosts.TESTSSL}:{self.server.server_port}:127.0.0.1"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        stopper = threading.Thread(target=self.server.shutdown, daemon=True)
        stopper.start()
        stopper.join(SERVER_STOP_TIMEOUT)
        self.thread.join(SERVER_STOP_TIMEOUT)
        self.server.server_close()


@dataclass
class Series:
    """Wall times (and, for curl, handshake times) of one command on one token."""

    seconds: list[float] = field(default_factory=list)
    handshakes: list[float] = field(default_factory=list)
    exit_codes: list[int] = field(default_factory=list)
    apdus: list[int] = field(default_factory=list)
    card_busy: list[float] = field(default_factory=list)
    """Seconds the card spent in its own ``process()`` during each run (card series only)."""
    first_error: str = ""


@dataclass
class Comparison:
    ours: dict[str, Series]
    softhsm: dict[str, Series]
    config: dict[str, Any]


def measure(reps: int, parts: tuple[str, ...], log: Callable[[str], None]) -> Comparison:
    """``parts`` among ``pkcs11`` (--test and --sign) and ``tls``; ``reps`` runs per token and command."""
    require_softhsm()
    pki, profile = Pki(), load_profile(PROFILE)
    plain, credentials = make_card(profile, pki)
    card = TimedCard(plain)
    ours: dict[str, Series] = {}
    theirs: dict[str, Series] = {}
    with tempfile.TemporaryDirectory(prefix="cps-bench-") as scratch, SoftHsm(credentials) as hsm, CardHost() as host:
        work = Path(scratch)
        card_env = {**host.client_env(), "PKCS11_MODULE_PATH": OPENSC_MODULE}
        log(f"SoftHSM2 token {TOKEN_LABEL!r} in {hsm.directory}; card stack {host.stack.socket_path}")

        def record(series: Series, seconds: float, code: int, output: str, apdus: int = 0, busy: int = 0) -> None:
            series.seconds.append(seconds)
            series.exit_codes.append(code)
            series.apdus.append(apdus)
            series.card_busy.append(busy / 1e9)
            if code != 0 and not series.first_error:
                series.first_error = first_error(output) or f"exit {code}"

        if "pkcs11" in parts:
            test = ["--login", "--pin", PIN, "--test"]
            ours["test"], theirs["test"] = Series(), Series()

            def card_test() -> None:
                fresh = TimedCard(layout.build_card(card_spec(profile, credentials)))  # PIN tries intact
                run = on_card(host, fresh, ["pkcs11-tool", "--module", OPENSC_MODULE, *test], RUN_TIMEOUT)
                record(ours["test"], run.seconds, run.code, run.output, len(run.entries), fresh.busy_ns)

            def hsm_test() -> None:
                record(theirs["test"], *timed(["pkcs11-tool", "--module", SOFTHSM_MODULE, *test], hsm.env, RUN_TIMEOUT))

            log(f"pkcs11-tool --test × {reps} per token")
            abba(reps, card_test, hsm_test)

        host.insert(card, reader=0)  # from here on one card stays in the reader, as on a desk
        try:
            if "pkcs11" in parts:
                sign_on_both(reps, work, credentials, card, card_env, hsm.env, ours, theirs, record, log)
            if "tls" in parts:
                tls_on_both(reps, work, pki, credentials, card, card_env, hsm.env, ours, theirs, log)
        finally:
            host.remove(0)
    config = {"reps": reps, "profile": PROFILE, "module": SOFTHSM_MODULE, "auth_id": AUTH_ID, "parts": list(parts)}
    return Comparison(ours, theirs, config)


def sign_on_both(
    reps: int,
    work: Path,
    credentials: CardCredentials,
    card: TimedCard,
    card_env: dict[str, str],
    hsm_env: dict[str, str],
    ours: dict[str, Series],
    theirs: dict[str, Series],
    record: Callable[..., None],
    log: Callable[[str], None],
) -> None:
    """One RSA-PKCS signature of a SHA-256 DigestInfo per run; both tokens must give the same bytes."""
    data = work / "digest-info.bin"
    data.write_bytes(DIGEST_INFO_SHA256 + hashlib.sha256(b"cps-harness benchmark").digest())
    signatures: dict[str, bytes] = {}
    ours["sign"], theirs["sign"] = Series(), Series()

    def sign(name: str, module: str, env: dict[str, str], series: Series) -> None:
        out = work / f"{name}.sig"
        out.unlink(missing_ok=True)
        before, busy = len(card.log), card.busy_ns
        command = ["pkcs11-tool", "--module", module, "--login", "--pin", PIN, "--sign", "-m", "RSA-PKCS",
                   "--id", AUTH_ID, "-i", str(data), "-o", str(out)]  # fmt: skip
        seconds, code, output = timed(command, env, RUN_TIMEOUT)
        if name == "card":
            record(series, seconds, code, output, len(card.log) - before, card.busy_ns - busy)
        else:
            record(series, seconds, code, output)
        if code == 0:
            signatures[name] = out.read_bytes()

    log(f"pkcs11-tool --sign -m RSA-PKCS × {reps} per token")
    abba(
        reps,
        lambda: sign("card", OPENSC_MODULE, card_env, ours["sign"]),
        lambda: sign("softhsm", SOFTHSM_MODULE, hsm_env, theirs["sign"]),
    )
    if len(signatures) == 2:
        if signatures["card"] != signatures["softhsm"]:
            raise RuntimeError("the card and SoftHSM2 signed the same DigestInfo differently: not the same key")
        public = credentials.authentication.certificate.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(signatures["card"], b"cps-harness benchmark", padding.PKCS1v15(), hashes.SHA256())


def tls_on_both(
    reps: int,
    work: Path,
    pki: Pki,
    credentials: CardCredentials,
    card: TimedCard,
    card_env: dict[str, str],
    hsm_env: dict[str, str],
    ours: dict[str, Series],
    theirs: dict[str, Series],
    log: Callable[[str], None],
) -> None:
    """curl with the key on the token against a server that requires the card CA's client certificate."""
    conf = work / "pkcs1.cnf"
    conf.write_text(PKCS1_ONLY)
    cert = work / "auth.cert.pem"
    cert.write_bytes(credentials.authentication.certificate.public_bytes(serialization.Encoding.PEM))
    bundle = pki.server.write_ca_bundle(work / "ca.pem")
    expected = credentials.authentication.serial_hex
    ours["tls"], theirs["tls"] = Series(), Series()
    with ClientAuthServer(pki) as server:
        command = [
            "curl", "-sS", "--max-time", str(int(RUN_TIMEOUT)),
            "-w", "\n%{time_connect} %{time_appconnect} %{http_code}", "--engine", "pkcs11", "--key-type", "ENG",
            "--key", f"pkcs11:object={layout.AUTH_KEY_LABEL};type=private;pin-value={PIN}",
            "--cert", str(cert), "--cacert", str(bundle), "--resolve", server.resolve, server.url,
        ]  # fmt: skip

        def fetch(env: dict[str, str], series: Series, is_card: bool) -> None:
            before, busy = len(card.log), card.busy_ns
            seconds, code, output = timed(command, {**env, "OPENSSL_CONF": str(conf)}, RUN_TIMEOUT + 10)
            body, _, tail = output.rpartition("\n")
            fields = tail.split()
            ok = code == 0 and len(fields) == 3 and fields[2] == "200" and body.strip() == expected
            series.seconds.append(seconds)
            series.exit_codes.append(code if ok or code != 0 else 1)
            series.apdus.append(len(card.log) - before if is_card else 0)
            series.card_busy.append((card.busy_ns - busy) / 1e9 if is_card else 0.0)
            if ok:
                series.handshakes.append(float(fields[1]) - float(fields[0]))
            elif not series.first_error:
                series.first_error = " ".join(output.split())[-300:] or f"exit {code}"

        log(f"curl + PKCS#11 engine, TLS 1.2 client auth × {reps} per token")
        abba(reps, lambda: fetch(card_env, ours["tls"], True), lambda: fetch(hsm_env, theirs["tls"], False))


def _status(series: Series) -> str:
    failed = [c for c in series.exit_codes if c != 0]
    return f"{len(failed)}/{len(series.exit_codes)} runs failed: {series.first_error}" if failed else ""


ROWS = {
    "test": ("softhsm", "pkcs11-tool --login --test through OpenSC (wall)", "seconds"),
    "sign": ("softhsm", "one RSA-PKCS signature: pkcs11-tool --login --sign (wall)", "seconds"),
    "tls": ("tls", "curl GET, TLS 1.2 client auth, key on the token (wall)", "seconds"),
    "handshake": ("tls", "  of which TLS set-up (curl appconnect - connect)", "handshakes"),
}
NOTES = {
    "test": "the anchor does less: pkcs11-tool 0.23 on SoftHSM2 2.6 skips signatures (SoftHSM's first "
    "signing mechanism is AES-CMAC) and aborts at OAEP with a label (exit 1)",
    "sign": "same key, same DigestInfo: byte-identical signatures (checked)",
    "tls": "server requires a client certificate of the card CA; PKCS#1 signatures only",
    "handshake": "curl loads the engine's key after the TCP connect: token discovery, login, then the "
    "handshake with its one token signature",
}


def rows(result: Comparison) -> list[Row]:
    out = []
    for key, (group, label, attribute) in ROWS.items():
        name = "tls" if key == "handshake" else key
        if name not in result.ours:
            continue
        ours, theirs = result.ours[name], result.softhsm[name]
        ours_values: list[float] = getattr(ours, attribute)
        theirs_values: list[float] = getattr(theirs, attribute)
        note = NOTES[key]
        if key != "handshake" and ours.apdus and max(ours.apdus):
            note = (
                f"card: {median(ours.apdus):.0f} APDUs a run, {median(ours.card_busy) * 1e3:.1f} ms of them in the "
                f"card's own process(); {note}"
            )
        problems = "; ".join(
            f"{who}: {status}" for who, status in (("card", _status(ours)), ("SoftHSM2", _status(theirs))) if status
        )
        if key == "test" and KNOWN_TEST_FAILURE in theirs.first_error:
            problems = f"card: {_status(ours)}" if _status(ours) else ""  # SoftHSM2's exit 1 is the known one
        if problems:
            note = f"{note}; {problems}"
        out.append(
            Row(
                group,
                label,
                "s",
                median(ours_values) if ours_values else None,
                median(theirs_values) if theirs_values else None,
                "SoftHSM2, same key",
                Target("ratio_max", TARGET_RATIO, f"≤ {TARGET_RATIO:.0f}× SoftHSM2"),
                note,
                {"ours_s": ours_values, "anchor_s": theirs_values},
            )
        )
    return out


def payload(result: Comparison) -> dict[str, Any]:
    return {
        "config": result.config,
        "ours": {k: asdict(v) for k, v in result.ours.items()},
        "softhsm": {k: asdict(v) for k, v in result.softhsm.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reps", type=int, default=10, help="runs per token and command (default 10)")
    parser.add_argument("--parts", default=",".join(PARTS), help="pkcs11, tls or both (default both)")
    args = parser.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 160)
    try:
        result = measure(args.reps, tuple(args.parts.split(",")), lambda text: console.print(f"[dim]{text}[/]"))
    except Missing as missing:
        console.print(f"[red]{missing}[/]")
        return 2
    found = rows(result)
    console.print(table(found, title="Our card vs SoftHSM2, same key"))
    print_notes(console, found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
