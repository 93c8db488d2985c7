"""Running the diagnosis: the checks in the guide's order, against a world or the environment.

``diagnose(target)`` is the one sequence: probe, judge, and skip (saying why) what a failure
upstream makes meaningless. A ``Target`` says where to look: a running world (its private pcscd,
its IGC-Santé publication site, its "Test SSL", its clock), or whatever PC/SC stack the
environment points at (``PCSCLITE_CSOCK_NAME``) — a real reader, card and middleware — where the
world-only checks (test IGC-Santé chain, revocation, the simulated Test SSL) are skipped.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from harness.card.profile import CertificatesModel, FaultsModel, load_profile, make_card, parse_certificates
from harness.diagnose import checks as c
from harness.diagnose import probes
from harness.lifetime import private_dir
from harness.middleware import OPENSC_MODULE, MiddlewareError, client_env, make_nss_db
from harness.pki import CertVariant, Pki
from harness.world.assembly import World

Mode = Literal["world", "environment"]


def default_module() -> str:
    """The middleware to check: ``$PKCS11_MODULE_PATH`` if set, else OpenSC's (Cryptolib CPS's stand-in)."""
    return os.environ.get("PKCS11_MODULE_PATH") or OPENSC_MODULE


@dataclass
class Target:
    """Where the diagnosis looks, and what it may use there."""

    mode: Mode
    env: dict[str, str]
    """For every tool: ``PCSCLITE_CSOCK_NAME`` (if any) and ``PKCS11_MODULE_PATH``."""
    module: str
    nssdb: Path
    now: dt.datetime
    workdir: Path
    description: str
    pin: str | None = None
    """Typed for Test SSL; None: Test SSL is skipped (a wrong PIN would spend a try)."""
    world: World | None = None
    tls_max: str = "1.2"
    """Environment mode: the loopback Test SSL's TLS ceiling."""


@dataclass(frozen=True)
class Diagnosis:
    mode: Mode
    target: str
    checks: tuple[c.Check, ...]
    clock: dt.datetime
    seconds: float
    notes: tuple[str, ...] = ()

    @property
    def first_failure(self) -> c.Check | None:
        return next((check for check in self.checks if check.failed), None)

    @property
    def ok(self) -> bool:
        return self.first_failure is None

    def check(self, check_id: str) -> c.Check:
        return next(check for check in self.checks if check.id == check_id)

    @property
    def page(self) -> Mapping[str, str]:
        """Test SSL's table, when the page came back ("Information sur votre carte CPS")."""
        page: Mapping[str, str] = self.check("testssl").data.get("page", {})
        return page

    def summary(self) -> str:
        failed = self.first_failure
        counts = {s: sum(1 for x in self.checks if x.status == s) for s in ("ok", "fail", "skip")}
        head = f"{counts['ok']} ok, {counts['fail']} failed, {counts['skip']} skipped"
        return head + (f"; first failure: {failed.id} ({failed.detail})" if failed else "")

    def as_json(self) -> dict[str, Any]:
        failed = self.first_failure
        return {
            "ok": self.ok,
            "mode": self.mode,
            "target": self.target,
            "clock": self.clock.isoformat(),
            "seconds": round(self.seconds, 3),
            "first_failure": failed.id if failed else None,
            "notes": list(self.notes),
            "checks": [
                {
                    "id": check.id,
                    "title": c.INFO[check.id].title,
                    "status": check.status,
                    "detail": check.detail,
                    "message": check.message,
                    "advice": list(check.advice),
                    "fix": check.fix,
                    "data": dict(check.data),
                }
                for check in self.checks
            ],
        }


def _needs(check_id: str, upstream: c.Check) -> c.Check:
    return c.skip(check_id, f"needs {upstream.id} ({c.INFO[upstream.id].title}), which did not pass")


WORLD_ONLY = "world only"
ENVIRONMENT_NOTE = (
    "environment mode: the test IGC-Santé chain, revocation and the simulated Test SSL are world-only checks "
    "(skipped); Test SSL runs against a loopback server that verifies the card's signature"
)


async def diagnose(target: Target) -> Diagnosis:
    """Every check in order; a check whose input a failed one should have given is skipped."""
    started = time.perf_counter()
    env = target.env
    pcsc = await probes.pcsc_state(env)
    service = c.check_service(pcsc)
    readers = c.check_readers(pcsc) if service.ok else _needs("readers", service)
    present = c.check_card_present(pcsc) if readers.ok else _needs("card-present", readers)
    recognised = c.check_card_recognised(pcsc) if present.ok else _needs("card-recognised", present)

    module = await probes.module_state(target.module, env)
    middleware = c.check_middleware(module, card_present=present.ok)
    nss = c.check_nss(await probes.nss_state(target.nssdb, env), os.path.realpath(target.module))

    der: bytes | None = None
    signature: bytes | None = None  # told beside the authentication certificate's verdicts, never judged
    auth = module.authentication
    if not middleware.ok:
        certificate = _needs("certificate", middleware)
    elif not recognised.ok:
        certificate = _needs("certificate", recognised)
    elif auth is None:
        certificate = c.check_certificate(c.CertificateRead(None, error="no authentication certificate on the token"))
    else:
        read = await probes.read_certificate(module, auth, env)
        certificate = c.check_certificate(read)
        der = read.der if certificate.ok else None
        if der is not None and module.signature is not None:
            signature = (await probes.read_certificate(module, module.signature, env)).der

    chain, revocation = await _igc_checks(target, der, certificate, signature)
    clock = "world clock" if target.world else "this computer's clock"
    validity = c.check_validity(der, target.now, clock, signature) if der else _needs("validity", certificate)
    pin = c.check_pin(pcsc) if recognised.ok else _needs("pin", recognised)
    testssl = await _testssl(target, module, der, auth, middleware, nss, pin)
    checks = (service, readers, present, recognised, middleware, nss, certificate, chain, validity, revocation,
              pin, testssl)  # fmt: skip
    assert tuple(check.id for check in checks) == c.CHECK_IDS
    notes: tuple[str, ...] = ()
    if target.mode == "environment":
        notes = (ENVIRONMENT_NOTE,)
    return Diagnosis(target.mode, target.description, checks, target.now, time.perf_counter() - started, notes)


async def _igc_checks(
    target: Target, der: bytes | None, certificate: c.Check, signature: bytes | None = None
) -> tuple[c.Check, c.Check]:
    """Chain and revocation through the world's IGC-Santé publication site (caIssuers, CRL, OCSP),
    for the authentication certificate; the signature certificate's OCSP answer is asked too, so
    the revocation check can tell its state beside."""
    if der is None:
        return _needs("chain", certificate), _needs("revocation", certificate)
    leaf = x509.load_der_x509_certificate(der)
    world = target.world
    if world is None or world.pki is None:
        urls = ", ".join(c.crl_urls(leaf) + c.ocsp_urls(leaf)) or "none"
        return (
            c.skip("chain", f"{WORLD_ONLY}: issued by {c.name_text(leaf.issuer)}; the test IGC-Santé root "
                   "is not what a real card chains to"),
            c.skip("revocation", f"{WORLD_ONLY}: offline, IGC-Santé's CRL and OCSP are out of reach ({urls})"),
        )  # fmt: skip
    async with world.client() as http:
        publication = probes.Publication(http, lambda url: _locate(world, url))
        intermediates = await publication.issuers(leaf)
        roots = [world.pki.cards.root.certificate]
        chain = c.check_chain(der, intermediates, roots)
        if not chain.ok:
            return chain, _needs("revocation", chain)
        issuer = next((i for i in [*intermediates, *roots] if i.subject == leaf.issuer), None)
        crl = await publication.crl(leaf)
        ocsp = await publication.ocsp(leaf, issuer) if issuer is not None else None
        errors = list(publication.errors)  # the authentication certificate's: the verdict's own
        signed = c.load_certificate(signature)
        aside = None
        if signature is not None and signed is not None and issuer is not None and signed.issuer == issuer.subject:
            aside = (signature, await publication.ocsp(signed, issuer))
        return chain, c.check_revocation(der, issuer, crl, ocsp, target.now, errors, aside)


def _locate(world: World, url: str) -> str:
    """A URL a certificate names (``http://igc-sante.esante.gouv.fr/…``) at the world's own port."""
    parsed = urlparse(url)
    for site in world.sites.values():
        if site.host == parsed.hostname and site.url.startswith(parsed.scheme + "://"):
            return site.url + parsed.path + (f"?{parsed.query}" if parsed.query else "")
    return url


async def _testssl(
    target: Target,
    module: c.ModuleState,
    der: bytes | None,
    auth: c.CertObject | None,
    middleware: c.Check,
    nss: c.Check,
    pin: c.Check,
) -> c.Check:
    """Open Test SSL as the browser would: with the card only if the browser can reach it."""
    card: probes.CardKey | None = None
    if der is not None and auth is not None and middleware.ok and nss.ok:
        if target.pin is None:
            return c.skip("testssl", "give --pin: Test SSL needs the PIN, and a wrong one spends a try")
        if target.mode == "environment" and pin.data.get("tries_left") == 1:
            return c.skip("testssl", "one PIN try left: the diagnosis will not risk blocking the card")
        pem = target.workdir / "card-auth.pem"
        pem.write_bytes(x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM))
        card = probes.CardKey(probes.key_uri(auth.id, probes.write_pin(target.workdir, target.pin)), pem)
    pss = module.has_pss if module.loaded else None
    if target.world is not None:
        world = target.world
        assert world.ca_bundle is not None
        attempt = await probes.world_testssl(
            world.urls["testssl"] + "/", world.ca_bundle, target.env, target.workdir, card, pss
        )
    else:
        async with probes.local_testssl(der, target.tls_max, target.workdir) as (url, bundle):
            attempt = await probes.local_attempt(url, bundle, target.env, target.workdir, card, pss)
    if attempt.exit_code == 58:  # the key did not load: was it the PIN? (VERIFY without data again)
        attempt = replace(attempt, pin_sw=(await probes.pcsc_state(target.env)).pin_sw)
    return c.check_testssl(attempt)


# -- against a world --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WorldOptions:
    """What a trainer can make go wrong in the world the diagnosis starts."""

    profile: str = "pharmacist"
    card: bool = True
    faults: Sequence[str] = ()
    """``INS=SW`` pairs, e.g. ``INTERNAL AUTHENTICATE=6F00``."""
    certificates: CertVariant | CertificatesModel | None = None
    """One variant for both certificates, or per certificate over the profile's (as a persona's)."""
    pin_tries_left: int | None = None
    tls_max: str | None = None
    middleware: bool = True
    """Register the middleware in the throwaway NSS database (False: ATSAM not set up in the browser)."""
    nssdb: Path | None = None
    module: str = field(default_factory=default_module)


def parse_faults(pairs: Sequence[str]) -> FaultsModel:
    """``["INTERNAL AUTHENTICATE=6F00"]`` → the card profile's faults; ValueError says what is wrong."""
    words = {}
    for pair in pairs:
        ins, sep, sw = pair.rpartition("=")
        if not sep or not ins.strip():
            raise ValueError(f"card fault {pair!r}: write INSTRUCTION=SW, e.g. 'INTERNAL AUTHENTICATE=6F00'")
        words[ins.strip()] = sw.strip()
    return FaultsModel(status_words=words)


async def diagnose_world(
    world: World,
    workdir: Path,
    *,
    pin: str | None,
    middleware: bool = True,
    nssdb: Path | None = None,
    module: str = OPENSC_MODULE,
    description: str = "",
) -> Diagnosis:
    """Diagnose a running world's PC/SC stack and sites; the NSS database is made here unless given."""
    if world.stack is None:
        raise ValueError("diagnose needs a world with cards (world.cards: true)")
    env = {**client_env(world.stack), "PKCS11_MODULE_PATH": module}
    workdir.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    if nssdb is None:
        home = workdir / "nss-home"
        registered = Path(module) if middleware and os.path.isfile(module) else None
        try:
            nssdb = await make_nss_db(home, world.ca_bundle, registered, env)
        except MiddlewareError as exc:
            nssdb = home / ".pki" / "nssdb"
            notes.append(f"the NSS database could not be made: {exc}")
    reader = world.readers[0]
    what = f"world: {reader.name} {'holds a card' if reader.present else 'is empty'}; NSS database {nssdb}"
    target = Target("world", env, module, nssdb, world.state.now(), workdir, description or what, pin, world)
    diagnosis = await diagnose(target)
    return replace(diagnosis, notes=diagnosis.notes + tuple(notes)) if notes else diagnosis


async def diagnose_new_world(options: WorldOptions, pki: Pki | None = None) -> Diagnosis:
    """Start a world, insert the profile's card (faults applied), diagnose it, stop the world."""
    profile = load_profile(options.profile)
    updates: dict[str, Any] = {}
    if options.certificates is not None:
        updates["certificates"] = profile.certificates.overridden_by(parse_certificates(options.certificates))
    if options.pin_tries_left is not None:
        updates["pin"] = profile.pin.model_copy(update={"tries_left": options.pin_tries_left})
    if options.faults:
        updates["faults"] = parse_faults(options.faults)
    profile = profile.model_copy(update=updates)
    with private_dir("diagnose") as tmp:
        async with World(pki=pki, cards=True) as world:
            assert world.pki is not None
            if options.tls_max is not None:
                async with (
                    world.client() as http,
                    http.post(world.urls["admin"] + "/admin/testssl", json={"tls_max": options.tls_max}) as reply,
                ):
                    reply.raise_for_status()
            if options.card:
                card, credentials = make_card(profile, world.pki, world.state.now())
                await world.readers[0].insert(card, certificates=credentials.variants)
            held = f"{options.profile} card (certificates {profile.certificates})" if options.card else "no card"
            faults = f", faults {', '.join(options.faults)}" if options.faults else ""
            tls = f", Test SSL up to TLS {options.tls_max}" if options.tls_max else ""
            description = f"world: {held} in {world.readers[0].name}{faults}{tls}"
            return await diagnose_world(
                world, tmp, pin=profile.pin.value, middleware=options.middleware, nssdb=options.nssdb,
                module=options.module, description=description,
            )  # fmt: skip


# -- against the environment's PC/SC stack ---------------------------------------------------------------
async def diagnose_environment(
    *,
    module: str | None = None,
    nssdb: Path | None = None,
    pin: str | None = None,
    tls_max: str = "1.2",
    env: Mapping[str, str] | None = None,
) -> Diagnosis:
    """Diagnose whatever ``PCSCLITE_CSOCK_NAME`` points at (the system's pcscd when unset)."""
    environment = dict(os.environ if env is None else env)
    module = module or environment.get("PKCS11_MODULE_PATH") or OPENSC_MODULE
    environment["PKCS11_MODULE_PATH"] = module
    if nssdb is None:  # where Chromium (and NSS's tools) keep the user's database on Linux
        nssdb = Path(environment.get("HOME", "~")).expanduser() / ".pki" / "nssdb"
    socket = environment.get("PCSCLITE_CSOCK_NAME") or f"{probes.SYSTEM_SOCKET} (system)"
    with private_dir("diagnose") as tmp:
        target = Target(
            "environment", environment, module, nssdb, dt.datetime.now(dt.UTC), tmp,
            f"environment: pcscd {socket}; module {module}; NSS database {nssdb}", pin, tls_max=tls_max,
        )  # fmt: skip
        return await diagnose(target)
