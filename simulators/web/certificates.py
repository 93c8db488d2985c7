"""How a card-TLS site judges the certificate a client presented: chain, dates, revocation, usage.

The wallet's card port, Pro Santé Connect's "Carte CPS" login and "Test SSL" all ask the same
questions on the world clock (TLS itself ignores dates, so a scenario can move time); they read
the certificate from the connection here too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import web
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from simulators.web.screens import Screen
from simulators.world.authorities import AuthorityState

REFUSAL_SCREENS: dict[str, Screen] = {
    "absent": Screen.AUCUN_CERTIFICAT,
    "unknown-ca": Screen.AUTORITE_INCONNUE,
    "expired": Screen.CERTIFICAT_EXPIRE,
    "not-yet-valid": Screen.CERTIFICAT_PAS_ENCORE_VALIDE,
    "revoked": Screen.CERTIFICAT_REVOQUE,
    "bad-usage": Screen.CERTIFICAT_INADAPTE,
}
"""The screen of each refusal, the same on every site that judges a card (the wallet's card port,
PSC's "Carte CPS" login, Test SSL): a scenario checks one id for one situation wherever it plays."""


@dataclass(frozen=True)
class CertificateCheck:
    """What a relying site concludes about a client certificate, on the world clock.

    ``status``: ``valid``, ``absent``, ``unknown-ca``, ``expired``, ``not-yet-valid``,
    ``revoked`` or ``bad-usage``; the identity fields come from the CPS subject
    (``CN=<national id>+SN=<nom>+GN=<prénom>, title=<profession>``) whatever the status.
    """

    status: str
    certificate: x509.Certificate | None = None
    issuer: AuthorityState | None = None
    national_id: str | None = None
    surname: str | None = None
    given_name: str | None = None
    profession: str | None = None


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def check_certificate(
    certificate_der: bytes | None, authorities: Iterable[AuthorityState], now: dt.datetime
) -> CertificateCheck:
    """Chain (one level, to a CA we run), validity at ``now``, revocation, authentication usage."""
    if not certificate_der:
        return CertificateCheck("absent")
    try:
        certificate = x509.load_der_x509_certificate(certificate_der)
    except ValueError:
        return CertificateCheck("unknown-ca")
    subject = certificate.subject
    identity = {
        "national_id": _attribute(subject, x509.NameOID.COMMON_NAME),
        "surname": _attribute(subject, x509.NameOID.SURNAME),
        "given_name": _attribute(subject, x509.NameOID.GIVEN_NAME),
        "profession": _attribute(subject, x509.NameOID.TITLE),
    }
    issuer = None
    for authority in authorities:
        if authority.certificate.subject != certificate.issuer:
            continue
        try:
            certificate.verify_directly_issued_by(authority.certificate)
        except (ValueError, TypeError, InvalidSignature):
            continue
        issuer = authority
        break
    if issuer is None:
        return CertificateCheck("unknown-ca", certificate, None, **identity)
    if now < certificate.not_valid_before_utc:
        return CertificateCheck("not-yet-valid", certificate, issuer, **identity)
    if now > certificate.not_valid_after_utc:
        return CertificateCheck("expired", certificate, issuer, **identity)
    if any(r.serial == certificate.serial_number for r in issuer.revocations_at(now)):
        return CertificateCheck("revoked", certificate, issuer, **identity)
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
        authentication = usage.digital_signature
    except x509.ExtensionNotFound:
        authentication = False
    if not authentication:
        return CertificateCheck("bad-usage", certificate, issuer, **identity)
    return CertificateCheck("valid", certificate, issuer, **identity)


def peer_certificate(request: web.Request) -> bytes | None:
    """The DER of the client certificate of the request's TLS connection (None: none was sent)."""
    ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
    if ssl_object is None:
        return None
    der: bytes | None = ssl_object.getpeercert(binary_form=True)
    return der
