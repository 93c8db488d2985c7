"""What ATSAM's "Test SSL" page says about the certificate a browser presented, as pure functions.

The guide's screen ("Information sur votre carte CPS") reads like Apache mod_ssl's client
variables: issuer O / OU / CN, the subject's GN / SN / CN, the serial in uppercase hex, dates in
OpenSSL's print format (``Sep  1 11:46:48 2018 GMT``) and ``Vérification SUCCESS`` (mod_ssl's
``SSL_CLIENT_VERIFY``). A failed check is written the same way, ``FAILED:<OpenSSL's reason>``,
and no certificate is ``NONE``; ANS does not publish those screens, so their wording is ours.

The verdict itself is ``certificates.check_certificate`` on the world clock and CRL state: the TLS
layer only proves the chain (a certificate from another CA never gets this far).
"""

from __future__ import annotations

import datetime as dt
import ssl
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from simulators.web.certificates import CertificateCheck
from simulators.web.screens import Screen

TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
"""The TLS ceilings the site can be switched to (a CPS card needs 1.2: it has no RSA-PSS)."""
DEFAULT_TLS_MAX = "1.2"

SUPPORT = (
    "Contactez alors votre support de l'Agence du Numérique en Santé : "
    "par mail : monserviceclient.cartes@asipsante.fr, "
    "ou par téléphone : 0 825 852 000 Service 0,06€/min + prix appel, 24/24 heures - 7/7 jours."
)
"""The guide's words under its failure screen."""
READ_ADVICE = (
    "Vérifiez que votre carte est bien insérée dans le lecteur.",
    "Installez le package ATSAM (logiciels de lecture des cartes CPS).",
    "Sélectionnez le certificat, puis saisissez votre code porteur CPS.",
)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
"""OpenSSL prints English month names whatever the locale (hence no ``strftime("%b")``)."""


@dataclass(frozen=True)
class Outcome:
    screen: Screen
    verification: str
    """mod_ssl style: ``SUCCESS``, ``FAILED:<reason>`` or ``NONE``."""
    message: str | None
    """French sentence for a failure; None when the check succeeded."""


OUTCOMES = {
    "valid": Outcome(Screen.INFORMATION_CARTE_CPS, "SUCCESS", None),
    "absent": Outcome(
        Screen.AUCUN_CERTIFICAT, "NONE", "Aucun certificat n'a été présenté : votre carte CPS n'a pas été lue."
    ),
    "expired": Outcome(
        Screen.CERTIFICAT_EXPIRE, "FAILED:certificate has expired", "Le certificat de votre carte CPS a expiré."
    ),
    "not-yet-valid": Outcome(
        Screen.CERTIFICAT_PAS_ENCORE_VALIDE,
        "FAILED:certificate is not yet valid",
        "Le certificat de votre carte CPS n'est pas encore valide.",
    ),
    "revoked": Outcome(
        Screen.CERTIFICAT_REVOQUE,
        "FAILED:certificate revoked",
        "Votre carte CPS est en opposition (certificat révoqué).",
    ),
    "bad-usage": Outcome(
        Screen.CERTIFICAT_INADAPTE,
        "FAILED:unsupported certificate purpose",
        "Ce certificat n'est pas un certificat d'authentification CPS.",
    ),
    "unknown-ca": Outcome(
        Screen.AUTORITE_INCONNUE,
        "FAILED:unable to get local issuer certificate",
        "Ce certificat n'a pas été émis par l'IGC-Santé.",
    ),
}


@dataclass(frozen=True)
class CardReport:
    """Everything the page shows; the certificate fields are empty when none was presented."""

    outcome: Outcome
    advice: tuple[str, ...] = ()
    organisation: str = ""
    authority: str = ""
    ca_class: str = ""
    given_name: str = ""
    surname: str = ""
    identifier: str = ""
    city: str = ""
    serial: str = ""
    created: str = ""
    expires: str = ""
    pem: str = ""


def openssl_time(when: dt.datetime) -> str:
    """``Sep  1 11:46:48 2018 GMT``: OpenSSL's ``ASN1_TIME_print``, as the guide's screen shows."""
    utc = when.astimezone(dt.UTC)
    return f"{MONTHS[utc.month - 1]} {utc.day:2d} {utc:%H:%M:%S} {utc.year} GMT"


def _first(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def build_report(check: CertificateCheck) -> CardReport:
    """The page's content for ``check``; AUTORITE is the issuer's first OU, as on the guide's screen."""
    outcome = OUTCOMES.get(check.status, OUTCOMES["unknown-ca"])
    advice: tuple[str, ...] = ()
    if check.status == "absent":
        advice = (*READ_ADVICE, SUPPORT)
    elif check.status == "revoked":
        advice = ("Déclarez la perte ou le vol de votre carte et commandez-en une nouvelle.", SUPPORT)
    elif check.status != "valid":
        advice = (SUPPORT,)
    certificate = check.certificate
    if certificate is None:
        return CardReport(outcome, advice)
    issuer, subject = certificate.issuer, certificate.subject
    return CardReport(
        outcome,
        advice,
        organisation=_first(issuer, NameOID.ORGANIZATION_NAME),
        authority=_first(issuer, NameOID.ORGANIZATIONAL_UNIT_NAME),
        ca_class=_first(issuer, NameOID.COMMON_NAME),
        given_name=check.given_name or "",
        surname=check.surname or "",
        identifier=check.national_id or "",
        city=_first(subject, NameOID.LOCALITY_NAME),
        serial=format(certificate.serial_number, "X"),
        created=openssl_time(certificate.not_valid_before_utc),
        expires=openssl_time(certificate.not_valid_after_utc),
        pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
    )


def parse_tls_max(value: object) -> ssl.TLSVersion:
    """The admin switch's value (``"1.2"`` or ``"1.3"``); ValueError says what is accepted."""
    if not isinstance(value, str) or value not in TLS_VERSIONS:
        raise ValueError(f"tls_max must be one of {', '.join(repr(v) for v in TLS_VERSIONS)}, not {value!r}")
    return TLS_VERSIONS[value]


def tls_max_name(version: ssl.TLSVersion) -> str:
    """``"1.2"`` for ``TLSv1_2``: how the admin API names a context's ceiling."""
    return next((name for name, known in TLS_VERSIONS.items() if known == version), version.name)
