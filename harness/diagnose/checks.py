"""The diagnostic's verdicts, as pure functions: what a probe saw in, one ``Check`` out.

No I/O and no clock: the probes (``harness/diagnose/probes.py``) hand over plain data — status
words, an ATR, ``pkcs11-tool``'s and ``modutil``'s findings as records, DER bytes, CA
certificates, a CRL, an OCSP answer, the world's time — so every verdict can be made to fail
for its reason, and pass once fixed, in a unit test.

Each check says what it saw in English (``detail``, ``fix``: for whoever maintains the set-up)
and in French for the trainer's page (``message``, ``advice``: the guide's own words).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from simulators.card.cpx import ATR
from simulators.web.screens import Screen
from simulators.web.testssl.rules import OUTCOMES, READ_ADVICE, SUPPORT
from simulators.web.wording import INCIDENT_FORM

Status = Literal["ok", "fail", "skip"]

CPX_ATR = ATR
CPX_ATR_MASK = bytes.fromhex("FF00000000FFFFFFFFFFFF000000FFFFFF")
"""OpenSC's ``iasecc`` table entry "IAS/ECC CPx": what a CPS3 (and CPS4 on T=0) must match."""
SW_OK, SW_BLOCKED, SW_NOT_FOUND = 0x9000, 0x6983, 0x6A82
AUTH_LABEL = "Authentification"
"""The authentication certificate's label holds this word (``Certificat d'Authentification CPS``)."""
SIGN_LABEL = "Signature"
"""The signature certificate's label holds this word (``Certificat de Signature CPS``)."""
SIGNATURE_ASIDE = "signature certificate (no login uses it)"
"""How the validity and revocation checks name the other certificate: they judge the authentication
one, the only one a browser presents, and mention the signature one's state for whoever reads on."""
PSS = "RSA-PKCS-PSS"

ANOTHER_BROWSER = "Essayez de renouveler ces opérations avec un autre navigateur."
ANOTHER_PC = "Essayez de réaliser ces opérations depuis un autre poste en y branchant un lecteur de cartes."
INSERT, INSTALL_ATSAM, TYPE_PIN = READ_ADVICE
UNBLOCK = "Débloquez votre code porteur avec votre code de déblocage (8 chiffres), puis choisissez un nouveau code."
NEW_CARD = "Déclarez la perte ou le vol de votre carte et commandez-en une nouvelle."


@dataclass(frozen=True)
class CheckInfo:
    id: str
    title: str
    """English, for the terminal."""
    titre: str
    """French, for the trainer's page."""


CHECKS: tuple[CheckInfo, ...] = (
    CheckInfo("pcsc-service", "PC/SC service reachable", "Service des cartes à puce (PC/SC)"),
    CheckInfo("readers", "readers listed", "Lecteur de cartes"),
    CheckInfo("card-present", "a card present", "Carte dans le lecteur"),
    CheckInfo("card-recognised", "card recognised", "Carte CPS reconnue"),
    CheckInfo("middleware", "middleware loads (PKCS#11)", "Logiciel de lecture des cartes CPS"),
    CheckInfo("middleware-nss", "middleware in the browser (NSS)", "Module déclaré dans le navigateur"),
    CheckInfo("certificate", "authentication certificate", "Certificat d'authentification"),
    CheckInfo("chain", "chain to the IGC-Santé root", "Chaîne de certification IGC-Santé"),
    CheckInfo("validity", "validity of the authentication certificate", "Validité du certificat d'authentification"),
    CheckInfo(
        "revocation",
        "revocation of the authentication certificate (CRL, OCSP)",
        "Révocation du certificat d'authentification (liste de révocation, OCSP)",
    ),
    CheckInfo("pin", "PIN status", "Code porteur"),
    CheckInfo("testssl", "Test SSL", "Test SSL"),
)
CHECK_IDS: tuple[str, ...] = tuple(info.id for info in CHECKS)
INFO = {info.id: info for info in CHECKS}


@dataclass(frozen=True)
class Check:
    """One line of the diagnosis."""

    id: str
    status: Status
    detail: str
    """English: what was seen, or why the check did not run."""
    message: str = ""
    """French: the verdict in the guide's words (trainer's page)."""
    advice: tuple[str, ...] = ()
    """French: the guide's advice when the check failed."""
    fix: str = ""
    """English: what to change on the machine."""
    data: Mapping[str, Any] = field(default_factory=dict)
    """Facts for scripts (``--json``): tries left, the identity, the module's path…"""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def failed(self) -> bool:
        return self.status == "fail"


def ok(check_id: str, detail: str, message: str, **data: Any) -> Check:
    return Check(check_id, "ok", detail, message, data=data)


def fail(check_id: str, detail: str, message: str, advice: Sequence[str] = (), fix: str = "", **data: Any) -> Check:
    return Check(check_id, "fail", detail, message, tuple(advice), fix, data)


def skip(check_id: str, detail: str, message: str = "Non vérifié.") -> Check:
    return Check(check_id, "skip", detail, message)


def sw_text(sw: int | None) -> str:
    return "no answer" if sw is None else f"{sw:04X}"


# -- PC/SC: service, readers, card ----------------------------------------------------------------
@dataclass(frozen=True)
class ReaderState:
    name: str
    present: bool
    atr: bytes = b""
    select_sw: int | None = None
    """The answer to SELECT of the CPS application (None: not tried)."""


@dataclass(frozen=True)
class PcscState:
    """What the PC/SC probe saw: the service, each reader, and the card it chose."""

    service: bool
    socket: str
    """The pcscd socket asked (``PCSCLITE_CSOCK_NAME``, or the system's default)."""
    error: str = ""
    readers: tuple[ReaderState, ...] = ()
    card_reader: str | None = None
    """The reader of the card checked: the first that answers SELECT of the CPS application."""
    pin_sw: int | None = None
    """``00 20 00 01 00``: VERIFY without data, the PIN's status; it never spends a try."""
    puk_sw: int | None = None
    card_error: str = ""

    @property
    def card(self) -> ReaderState | None:
        return next((r for r in self.readers if r.name == self.card_reader), None)


def check_service(state: PcscState) -> Check:
    if state.service:
        return ok("pcsc-service", f"pcscd answers on {state.socket}", "Le service des cartes à puce répond.")
    return fail(
        "pcsc-service",
        f"no PC/SC service on {state.socket}: {state.error}",
        "Le service des cartes à puce (PC/SC) ne répond pas : aucun lecteur ne peut être utilisé.",
        (INSTALL_ATSAM, ANOTHER_PC, SUPPORT),
        "start pcscd (Debian: apt-get install pcscd; systemctl start pcscd.socket), "
        "or point PCSCLITE_CSOCK_NAME at the running one",
    )


def check_readers(state: PcscState) -> Check:
    names = [r.name for r in state.readers]
    if names:
        return ok("readers", ", ".join(names), f"{len(names)} lecteur(s) : {', '.join(names)}.", readers=names)
    return fail(
        "readers",
        f"pcscd lists no reader{': ' + state.error if state.error else ''}",
        "Aucun lecteur de cartes n'est branché ou reconnu.",
        ("Branchez votre lecteur de cartes (tout lecteur de type PCSC).", INSTALL_ATSAM, ANOTHER_PC),
        "plug a PC/SC reader in; check its driver (pcscd's log, `pcsc_scan`)",
    )


def check_card_present(state: PcscState) -> Check:
    present = [r.name for r in state.readers if r.present]
    if present:
        return ok("card-present", f"card in {', '.join(present)}", "Une carte est insérée.", readers=present)
    return fail(
        "card-present",
        "no card in " + ", ".join(r.name for r in state.readers),
        "Aucune carte n'est insérée dans le lecteur.",
        (INSERT, ANOTHER_PC),
        "insert the CPS card (chip first, facing up)",
    )


def atr_is_cpx(atr: bytes) -> bool:
    """Whether OpenSC's ``iasecc`` driver takes this ATR for a CPx card (exact length, masked compare)."""
    if len(atr) != len(CPX_ATR):
        return False
    return all(a & m == c & m for a, m, c in zip(atr, CPX_ATR_MASK, CPX_ATR, strict=True))


def check_card_recognised(state: PcscState) -> Check:
    card = state.card or next((r for r in state.readers if r.present), None)
    if card is None:
        return fail("card-recognised", "no card to recognise", "Aucune carte à reconnaître.", (INSERT,))
    atr = card.atr.hex(" ").upper()
    if card.select_sw == SW_OK and atr_is_cpx(card.atr):
        return ok(
            "card-recognised",
            f"ATR {atr} (IAS-ECC CPx); CPS application selected (9000) in {card.name}",
            "Carte CPS reconnue.",
            reader=card.name,
            atr=atr,
        )
    if card.select_sw == SW_OK:
        return fail(
            "card-recognised",
            f"the CPS application answers, but the ATR {atr} is not in OpenSC's CPx table",
            "La carte n'est pas reconnue comme une carte CPS par le logiciel de lecture.",
            (INSTALL_ATSAM, SUPPORT),
            "a newer middleware may know this card generation; check `opensc-tool -n`",
            atr=atr,
        )
    why = state.card_error or f"SELECT of the CPS application answered {sw_text(card.select_sw)}"
    return fail(
        "card-recognised",
        f"not a CPS card: ATR {atr}; {why}",
        "La carte insérée n'est pas une carte CPS (carte Vitale ? carte à l'envers ?).",
        (INSERT, SUPPORT),
        "insert the CPS card; another card (e.g. Vitale) may be in this reader",
        atr=atr,
    )


def check_pin(state: PcscState) -> Check:
    """VERIFY with no data: 9000 verified, 63Cx x tries left, 6983 blocked; none counts a try."""
    sw = state.pin_sw
    if sw is None:
        return fail(
            "pin",
            f"the PIN status could not be read: {state.card_error or 'no answer'}",
            "L'état du code porteur n'a pas pu être lu.",
            (INSERT, SUPPORT),
        )
    puk_blocked = state.puk_sw == SW_BLOCKED or state.puk_sw == 0x63C0
    if sw == SW_OK:
        return ok("pin", "PIN already verified by another application (9000)", "Code porteur déjà saisi.")
    if sw & 0xFFF0 == 0x63C0 and sw & 0x0F:
        left = sw & 0x0F
        return ok(
            "pin",
            f"{left} {'try' if left == 1 else 'tries'} left ({sw:04X}), PUK {sw_text(state.puk_sw)}",
            f"Code porteur non bloqué : {left} essai(s) restant(s).",
            tries_left=left,
        )
    if sw in (SW_BLOCKED, 0x63C0):
        if puk_blocked:
            return fail(
                "pin",
                f"PIN blocked ({sw:04X}) and PUK blocked ({sw_text(state.puk_sw)}): the card is unusable",
                "Code porteur et code de déblocage bloqués : la carte est inutilisable.",
                (INCIDENT_FORM, SUPPORT),
                "the card must be replaced (card-incident form)",
                tries_left=0,
                puk_blocked=True,
            )
        return fail(
            "pin",
            f"PIN blocked ({sw:04X}); the PUK can unblock it (PUK {sw_text(state.puk_sw)})",
            "Code porteur bloqué (trois codes faux).",
            (UNBLOCK, INCIDENT_FORM, SUPPORT),
            # pkcs15-tool --unblock-pin refuses an 8-digit PUK on a CPS3 (its AODF names no PUK for the
            # PIN, so the PUK is held to the PIN's 4 digits): OpenSC's card driver does it.
            'unblock with the PUK: echo \'unblock CHV1 "PUK" "NEW PIN"\' | opensc-explorer /dev/stdin',
            tries_left=0,
        )
    return fail(
        "pin",
        f"unexpected answer {sw:04X} to VERIFY without data",
        "L'état du code porteur n'a pas pu être lu.",
        (SUPPORT,),
    )


# -- the middleware ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CertObject:
    label: str
    id: str
    """Hex, as ``pkcs11-tool`` prints it; the private key of the pair has the same id."""


@dataclass(frozen=True)
class ModuleState:
    """What ``pkcs11-tool --module M -I -L -M -O`` said about the PKCS#11 module and the token."""

    path: str
    exists: bool
    loaded: bool = False
    error: str = ""
    library: str = ""
    slots: tuple[str, ...] = ()
    tokens: tuple[str, ...] = ()
    mechanisms: tuple[str, ...] = ()
    certificates: tuple[CertObject, ...] = ()

    @property
    def authentication(self) -> CertObject | None:
        return next((c for c in self.certificates if AUTH_LABEL in c.label), None)

    @property
    def signature(self) -> CertObject | None:
        return next((c for c in self.certificates if SIGN_LABEL in c.label), None)

    @property
    def has_pss(self) -> bool:
        return PSS in self.mechanisms


def check_middleware(module: ModuleState, card_present: bool) -> Check:
    if not module.exists:
        return fail(
            "middleware",
            f"no PKCS#11 module at {module.path}",
            "Le logiciel de lecture des cartes CPS (Cryptolib CPS, package ATSAM) n'est pas installé.",
            (INSTALL_ATSAM, ANOTHER_PC, SUPPORT),
            "install the middleware (here: apt-get install opensc), or give its path with --module",
            module=module.path,
        )
    if not module.loaded:
        return fail(
            "middleware",
            f"{module.path} does not load: {module.error}",
            "Le logiciel de lecture des cartes CPS est installé mais ne fonctionne pas.",
            (INSTALL_ATSAM, SUPPORT),
            "reinstall the middleware; check its dependencies (ldd) and pcscd",
            module=module.path,
        )
    tokens = ", ".join(module.tokens) or "no token"
    pss = "RSA-PSS offered" if module.has_pss else "no RSA-PSS (TLS 1.2 only for client authentication)"
    if card_present and not module.tokens:
        return fail(
            "middleware",
            f"{module.path} ({module.library}) loads but shows no token although a card is inserted",
            "Le logiciel de lecture ne voit pas la carte insérée.",
            (INSERT, INSTALL_ATSAM, SUPPORT),
            "this middleware does not support the card: check `pkcs11-tool -L` and the middleware's version",
            module=module.path,
        )
    return ok(
        "middleware",
        f"{module.path} ({module.library}): {tokens}; {pss}",
        "Le logiciel de lecture des cartes CPS est installé.",
        module=module.path,
        library=module.library,
        tokens=list(module.tokens),
        rsa_pss=module.has_pss,
    )


@dataclass(frozen=True)
class NssModule:
    name: str
    library: str
    status: str = ""
    tokens: tuple[str, ...] = ()


@dataclass(frozen=True)
class NssState:
    """``modutil -dbdir sql:DB -list``: the modules the browser's NSS database loads."""

    db: str
    exists: bool
    error: str = ""
    modules: tuple[NssModule, ...] = ()


def check_nss(nss: NssState, module_path: str) -> Check:
    """Registered means: a module of the database loads the middleware's library (same path; the
    probe resolves symbolic links on both sides)."""
    if not nss.exists:
        return fail(
            "middleware-nss",
            f"no NSS database at {nss.db}",
            "Le navigateur n'a pas de magasin de certificats : le module de la carte n'y est pas déclaré.",
            (INSTALL_ATSAM, ANOTHER_BROWSER),
            f"start the browser once (it creates {nss.db}), then: "
            f"modutil -dbdir sql:{nss.db} -add CPS -libfile {module_path}",
            db=nss.db,
        )
    if nss.error:
        return fail(
            "middleware-nss",
            f"modutil could not read {nss.db}: {nss.error}",
            "Le magasin de certificats du navigateur est illisible.",
            (ANOTHER_BROWSER, SUPPORT),
            "close the browser and retry; recreate the NSS database if it is damaged",
            db=nss.db,
        )
    external = [m for m in nss.modules if m.library]
    found = next((m for m in external if m.library == module_path), None)
    if found is None:
        listed = ", ".join(f"{m.name} ({m.library})" for m in external) or "none besides NSS's own"
        return fail(
            "middleware-nss",
            f"{module_path} is not registered in {nss.db}; modules: {listed}",
            "Le logiciel de lecture des cartes CPS n'est pas déclaré dans le navigateur : "
            "aucun certificat ne pourra être présenté.",
            (INSTALL_ATSAM, ANOTHER_BROWSER, SUPPORT),
            f"modutil -dbdir sql:{nss.db} -add CPS -libfile {module_path}",
            db=nss.db,
        )
    if found.status and found.status != "loaded":
        return fail(
            "middleware-nss",
            f"{found.name} is registered in {nss.db} but NSS says: {found.status}",
            "Le module de la carte est déclaré dans le navigateur mais ne se charge pas.",
            (INSTALL_ATSAM, SUPPORT),
            "reinstall the middleware; the browser must see the same pcscd (PCSCLITE_CSOCK_NAME)",
            db=nss.db,
        )
    tokens = ", ".join(found.tokens) or "no token"
    return ok(
        "middleware-nss",
        f'"{found.name}" in {nss.db} loads {found.library}: {tokens}',
        "Le module de la carte est déclaré dans le navigateur.",
        db=nss.db,
        module=found.name,
    )


# -- the certificate ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CertificateRead:
    der: bytes | None
    label: str = ""
    error: str = ""


SHORT_NAMES = {NameOID.GIVEN_NAME: "GN", NameOID.SURNAME: "SN", NameOID.TITLE: "title"}


def name_text(name: x509.Name) -> str:
    """RFC 4514, with the short names OpenSSL prints (``GN=…+CN=…+SN=…``) rather than OIDs."""
    return name.rfc4514_string(SHORT_NAMES)


def identity(certificate: x509.Certificate) -> dict[str, str]:
    """The CPS subject (``CN=<national id>+SN=<nom>+GN=<prénom>, title=<profession>``)."""

    def first(oid: x509.ObjectIdentifier) -> str:
        values = certificate.subject.get_attributes_for_oid(oid)
        return str(values[0].value) if values else ""

    return {
        "national_id": first(NameOID.COMMON_NAME),
        "surname": first(NameOID.SURNAME),
        "given_name": first(NameOID.GIVEN_NAME),
        "profession": first(NameOID.TITLE),
        "serial": format(certificate.serial_number, "X"),
        "issuer": name_text(certificate.issuer),
        "not_before": certificate.not_valid_before_utc.isoformat(),
        "not_after": certificate.not_valid_after_utc.isoformat(),
    }


def load_certificate(der: bytes | None) -> x509.Certificate | None:
    if not der:
        return None
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        return None


def check_certificate(read: CertificateRead) -> Check:
    certificate = load_certificate(read.der)
    if certificate is None:
        why = read.error or ("not DER X.509" if read.der else "no certificate")
        return fail(
            "certificate",
            f"the authentication certificate could not be read: {why}",
            "Le certificat d'authentification de la carte n'a pas pu être lu.",
            (INSERT, INSTALL_ATSAM, SUPPORT),
            'check `pkcs11-tool -O --type cert`: the card must hold "Certificat d\'Authentification CPS"',
        )
    who = identity(certificate)
    return ok(
        "certificate",
        f"{read.label or 'certificate'}: {name_text(certificate.subject)}, serial {who['serial']}",
        f"Certificat de {who['given_name']} {who['surname']} ({who['national_id']}) lu.",
        **who,
    )


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    if certificate.issuer != issuer.subject:
        return False
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def check_chain(
    der: bytes, intermediates: Sequence[x509.Certificate], roots: Sequence[x509.Certificate], max_depth: int = 4
) -> Check:
    """A path from the card's certificate through ``intermediates`` to one of the trusted ``roots``.

    Signatures are verified at each step; dates are the ``validity`` check's business.
    """
    certificate = load_certificate(der)
    if certificate is None:
        return fail("chain", "no certificate", "Aucun certificat à vérifier.")
    path = [certificate]
    for _ in range(max_depth):
        current = path[-1]
        root = next((r for r in roots if _issued_by(current, r)), None)
        if root is not None:
            names = " → ".join(_cn(c) for c in [*path, root])
            return ok("chain", names, "Certificat émis par l'IGC-Santé.", chain=[_cn(c) for c in [*path, root]])
        parent = next((c for c in intermediates if c not in path and _issued_by(current, c)), None)
        if parent is None:
            break
        path.append(parent)
    return fail(
        "chain",
        f"no path from {_cn(path[-1])} (issuer {name_text(path[-1].issuer)}) to " + ", ".join(_cn(r) for r in roots),
        "Ce certificat n'a pas été émis par l'IGC-Santé.",
        (SUPPORT,),
        "this card was not issued by the expected IGC-Santé (test) authority",
    )


def _cn(certificate: x509.Certificate) -> str:
    values = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else name_text(certificate.subject)


def dates_state(certificate: x509.Certificate, now: dt.datetime) -> Literal["valid", "expired", "not-yet-valid"]:
    if now < certificate.not_valid_before_utc:
        return "not-yet-valid"
    if now > certificate.not_valid_after_utc:
        return "expired"
    return "valid"


def _span(certificate: x509.Certificate) -> str:
    return f"valid {certificate.not_valid_before_utc:%Y-%m-%d} to {certificate.not_valid_after_utc:%Y-%m-%d}"


def check_validity(der: bytes, now: dt.datetime, clock: str = "world clock", signature: bytes | None = None) -> Check:
    """The authentication certificate's dates decide (a browser presents no other); the signature
    certificate's (``signature``, when it could be read) are told beside, never judged."""
    certificate = load_certificate(der)
    if certificate is None:
        return fail("validity", "no certificate", "Aucun certificat à vérifier.")
    end = certificate.not_valid_after_utc
    span = f"{_span(certificate)}, {clock} {now:%Y-%m-%d %H:%M} UTC"
    aside, data = "", {}
    if (signed := load_certificate(signature)) is not None:
        data = {"signature": dates_state(signed, now)}
        dates = f"{signed.not_valid_before_utc:%Y-%m-%d} to {signed.not_valid_after_utc:%Y-%m-%d}"
        aside = f"; {SIGNATURE_ASIDE}: {data['signature']} ({dates})"
    state = dates_state(certificate, now)
    if state == "not-yet-valid":
        return fail(
            "validity",
            f"authentication certificate not yet valid: {span}{aside}",
            OUTCOMES["not-yet-valid"].message or "",
            (SUPPORT,),
            "check the computer's date; else wait for the card's validity to begin",
            **data,
        )
    if state == "expired":
        return fail(
            "validity",
            f"authentication certificate expired: {span}{aside}",
            OUTCOMES["expired"].message or "",
            ("Commandez une nouvelle carte CPS.", SUPPORT),
            "the card must be renewed",
            **data,
        )
    days = (end - now).days
    return ok(
        "validity",
        f"authentication certificate {span}{aside}",
        f"Certificat d'authentification valide jusqu'au {end:%d/%m/%Y}.",
        days_left=days,
        **data,
    )


def crl_urls(certificate: x509.Certificate) -> list[str]:
    try:
        points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    return [str(n.value) for p in points for n in p.full_name or [] if isinstance(n, x509.UniformResourceIdentifier)]


def aia_urls(certificate: x509.Certificate, method: x509.ObjectIdentifier) -> list[str]:
    """``AuthorityInformationAccessOID.OCSP`` or ``CA_ISSUERS`` URLs of a certificate."""
    try:
        access = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [
        str(d.access_location.value)
        for d in access
        if d.access_method == method and isinstance(d.access_location, x509.UniformResourceIdentifier)
    ]


def ocsp_urls(certificate: x509.Certificate) -> list[str]:
    return aia_urls(certificate, AuthorityInformationAccessOID.OCSP)


def _signed_by(issuer: x509.Certificate, signature: bytes, data: bytes, algorithm: Any) -> bool:
    key = issuer.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or algorithm is None:
        return False
    try:
        key.verify(signature, data, padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        return False
    return True


def crl_verdict(
    certificate: x509.Certificate, issuer: x509.Certificate, crl_der: bytes | None, now: dt.datetime
) -> tuple[str, str]:
    """(``good``|``revoked``|``unknown``, why) from the issuer's CRL."""
    if crl_der is None:
        return "unknown", "CRL not fetched"
    try:
        crl = x509.load_der_x509_crl(crl_der)
    except ValueError:
        return "unknown", "the CRL does not parse"
    if crl.issuer != issuer.subject or not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
        return "unknown", "the CRL is not signed by the certificate's issuer"
    if crl.next_update_utc is not None and crl.next_update_utc < now:
        return "unknown", f"the CRL is stale (next update {crl.next_update_utc:%Y-%m-%d})"
    entry = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
    if entry is not None:
        return "revoked", f"on the CRL since {entry.revocation_date_utc:%Y-%m-%d %H:%M}"
    return "good", f"not on the CRL ({len(crl)} entries, issued {crl.last_update_utc:%Y-%m-%d %H:%M})"


def ocsp_verdict(
    certificate: x509.Certificate, issuer: x509.Certificate, response_der: bytes | None
) -> tuple[str, str]:
    """(``good``|``revoked``|``unknown``, why) from the responder's answer, signature checked."""
    if response_der is None:
        return "unknown", "OCSP not asked"
    try:
        response = ocsp.load_der_ocsp_response(response_der)
    except ValueError:
        return "unknown", "the OCSP answer does not parse"
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return "unknown", f"the OCSP responder answered {response.response_status.name}"
    if not _signed_by(issuer, response.signature, response.tbs_response_bytes, response.signature_hash_algorithm):
        return "unknown", "the OCSP answer is not signed by the certificate's issuer"
    if response.serial_number != certificate.serial_number:
        return "unknown", "the OCSP answer is about another certificate"
    if response.certificate_status == ocsp.OCSPCertStatus.REVOKED:
        when = response.revocation_time_utc
        return "revoked", f"OCSP: revoked{f' since {when:%Y-%m-%d %H:%M}' if when else ''}"
    if response.certificate_status == ocsp.OCSPCertStatus.GOOD:
        return "good", "OCSP: good"
    return "unknown", "OCSP: unknown to the responder"


def _revocation_state(verdicts: Sequence[tuple[str, str]]) -> str:
    """Revoked if either source says so; good if one source vouches and none says revoked."""
    states = {state for state, _ in verdicts}
    return "revoked" if "revoked" in states else "good" if "good" in states else "unknown"


def check_revocation(
    der: bytes,
    issuer: x509.Certificate | None,
    crl_der: bytes | None,
    ocsp_der: bytes | None,
    now: dt.datetime,
    errors: Sequence[str] = (),
    signature: tuple[bytes, bytes | None] | None = None,
) -> Check:
    """The authentication certificate's state decides: revoked if either source says so; good if
    one source vouches and none says revoked. ``signature`` (its DER and OCSP answer; the CRL is
    the same) is told beside, never judged: each certificate is revoked on its own."""
    certificate = load_certificate(der)
    if certificate is None or issuer is None:
        return fail("revocation", "no certificate or no issuer to check against", "Révocation non vérifiable.")
    verdicts = [crl_verdict(certificate, issuer, crl_der, now), ocsp_verdict(certificate, issuer, ocsp_der)]
    detail = "authentication certificate: " + "; ".join([why for _, why in verdicts] + list(errors))
    data = {"crl": verdicts[0][0], "ocsp": verdicts[1][0]}
    if signature is not None and (signed := load_certificate(signature[0])) is not None:
        aside = [crl_verdict(signed, issuer, crl_der, now), ocsp_verdict(signed, issuer, signature[1])]
        data["signature"] = _revocation_state(aside)
        detail += f"; {SIGNATURE_ASIDE}: {data['signature']} ({'; '.join(why for _, why in aside)})"
    state = _revocation_state(verdicts)
    if state == "revoked":
        return fail(
            "revocation",
            detail,
            OUTCOMES["revoked"].message or "",
            (NEW_CARD, INCIDENT_FORM, SUPPORT),
            "a revoked card stays revoked: it must be replaced",
            **data,
        )
    if state == "good":
        return ok("revocation", detail, "Certificat d'authentification non révoqué.", **data)
    return fail(
        "revocation",
        detail,
        "L'état de révocation du certificat n'a pas pu être vérifié.",
        (SUPPORT,),
        "the IGC-Santé publication site (CRL, OCSP) must be reachable",
        **data,
    )


# -- "Test SSL" --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TlsAttempt:
    """What happened when the browser (curl, the middleware, the card) opened "Test SSL"."""

    with_card: bool
    """A key and certificate were offered (False: the browser sees no card or no middleware)."""
    exit_code: int
    error: str = ""
    """curl's own error line (``curl: (35) …``)."""
    tls_version: str = ""
    """As curl reports it: ``TLSv1.2``."""
    screen: str = ""
    """The Test SSL page's screen id; empty when no page came back."""
    fields: Mapping[str, str] = field(default_factory=dict)
    """The page's table (``prenom``, ``nom``, ``identifiant``, ``verification``…)."""
    local: bool = False
    """Environment mode: a loopback server that checks the card's signature, not the IGC chain."""
    peer_subject: str = ""
    """Local mode: the certificate the server received ("" if none)."""
    pin_sw: int | None = None
    """The PIN's status read after the key could not be loaded."""
    pss: bool | None = None
    """Whether the middleware offers RSA-PSS (TLS 1.3 needs it for a client signature)."""


NO_COMMON_ALGORITHMS = "ERR_SSL_CLIENT_AUTH_NO_COMMON_ALGORITHMS"
SIGNATURE_FAILED = "ERR_SSL_CLIENT_AUTH_SIGNATURE_FAILED"
BAD_CLIENT_CERT = "ERR_BAD_SSL_CLIENT_AUTH_CERT"


def check_testssl(attempt: TlsAttempt) -> Check:
    """Name the precise failure, as the guide's G6 paths and Chromium's error codes tell them apart."""
    version = attempt.tls_version or "TLS"
    if attempt.exit_code == 58:  # curl: the engine could not load the private key (C_Login refused)
        sw = attempt.pin_sw
        if sw == SW_BLOCKED or sw == 0x63C0:
            return fail(
                "testssl",
                f"the card refused the PIN: blocked ({sw:04X}); {attempt.error}",
                "Test SSL impossible : le code porteur est bloqué.",
                (UNBLOCK, INCIDENT_FORM, SUPPORT),
                "unblock the PIN with the PUK",
                chromium=BAD_CLIENT_CERT,
            )
        if sw is not None and sw & 0xFFF0 == 0x63C0:
            return fail(
                "testssl",
                f"the card refused the PIN ({sw & 0x0F} tries left); {attempt.error}",
                "Test SSL impossible : code porteur erroné.",
                (TYPE_PIN, SUPPORT),
                "type the right PIN (--pin)",
            )
        return fail(
            "testssl",
            f"the middleware could not give the card's key: {attempt.error}",
            "Test SSL impossible : la clé de la carte n'est pas accessible.",
            (INSERT, INSTALL_ATSAM, SUPPORT),
        )
    if attempt.exit_code != 0:
        if "PKCS#11" in attempt.error and "Mechanism invalid" in attempt.error:
            return _no_common_algorithm(attempt)
        if "PKCS#11" in attempt.error:
            return fail(
                "testssl",
                f"the card failed the signature operation ({SIGNATURE_FAILED} in Chromium): {attempt.error}",
                "Échec de la signature par la carte (ERR_SSL_CLIENT_AUTH_SIGNATURE_FAILED).",
                (SUPPORT,),
                "the card answers an error to INTERNAL AUTHENTICATE: see the card's APDU log; replace the card",
                chromium=SIGNATURE_FAILED,
            )
        return fail(
            "testssl",
            f"the TLS handshake failed: {attempt.error or f'curl exit {attempt.exit_code}'}",
            "La connexion sécurisée a été refusée : le certificat ou la signature de la carte n'est pas accepté.",
            (ANOTHER_BROWSER, SUPPORT),
            "the server refused the certificate or its signature (a key that does not match the certificate?)",
        )
    if attempt.local:
        if attempt.peer_subject:
            return ok(
                "testssl",
                f"{version}: the card signed the handshake and the loopback server verified it for "
                f"{attempt.peer_subject} (the IGC chain is not checked offline)",
                "Authentification TLS par la carte réussie.",
                tls=version,
                subject=attempt.peer_subject,
            )
        return _no_certificate(attempt)
    if attempt.screen == Screen.INFORMATION_CARTE_CPS:
        shown = dict(attempt.fields)
        who = f"{shown.get('prenom', '')} {shown.get('nom', '')} ({shown.get('identifiant', '')})"
        return ok(
            "testssl",
            f"{version}: Information sur votre carte CPS — {who}, Vérification {shown.get('verification', '')}",
            "Test SSL réussi : « Information sur votre carte CPS », Vérification SUCCESS.",
            tls=version,
            page=shown,
        )
    if attempt.screen == Screen.AUCUN_CERTIFICAT:
        return _no_certificate(attempt)
    outcome = next((o for o in OUTCOMES.values() if o.screen == attempt.screen), None)
    if outcome is not None:
        return fail(
            "testssl",
            f"{version}: the page says {outcome.verification}",
            f"Test SSL : {outcome.message}",
            (SUPPORT,),
            "see the certificate checks above",
            page=dict(attempt.fields),
        )
    return fail(
        "testssl",
        f"unexpected answer from Test SSL (screen {attempt.screen or 'none'})",
        "Réponse inattendue du Test SSL.",
        (SUPPORT,),
    )


def _no_certificate(attempt: TlsAttempt) -> Check:
    if attempt.with_card and attempt.tls_version == "TLSv1.3":
        return _no_common_algorithm(attempt)
    return fail(
        "testssl",
        "no certificate presented: the browser sees no card"
        + ("" if attempt.with_card else " (no card, or the middleware is missing from the browser)"),
        OUTCOMES["absent"].message or "",
        (*READ_ADVICE, SUPPORT),
        "insert the card and register the middleware in the browser (see the checks above)",
        chromium=BAD_CLIENT_CERT,
    )


def _no_common_algorithm(attempt: TlsAttempt) -> Check:
    why = "the middleware offers no RSA-PSS for this card" if attempt.pss is False else "the card has no RSA-PSS"
    return fail(
        "testssl",
        f"no common signature algorithm under TLS 1.3: {why}, which TLS 1.3 requires for a client signature "
        f"({NO_COMMON_ALGORITHMS} in Chromium); capped at TLS 1.2 the same card works",
        "Pas d'algorithme de signature commun en TLS 1.3 : la carte CPS ne sait pas signer en RSA-PSS "
        "(ERR_SSL_CLIENT_AUTH_NO_COMMON_ALGORITHMS).",
        (ANOTHER_BROWSER, SUPPORT),
        "the site must accept TLS 1.2 for card authentication (cps-harness: --tls-max 1.2)",
        chromium=NO_COMMON_ALGORITHMS,
    )
