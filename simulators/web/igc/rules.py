"""Revocation rules of the IGC-Santé publication site: CRLs and OCSP answers, as pure functions.

No I/O and no clock of their own: the caller passes the issuing authority's state and ``now``
(the world's clock), so a scenario that advances time sees CRLs and OCSP answers move with it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp

CRL_LIFETIME = dt.timedelta(days=7)
OCSP_LIFETIME = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Revocation:
    serial: int
    revoked_at: dt.datetime
    reason: x509.ReasonFlags = x509.ReasonFlags.key_compromise


@dataclass
class AuthorityState:
    """What a CA knows of its own certificates: which serials it issued, which it revoked."""

    certificate: x509.Certificate
    key: rsa.RSAPrivateKey
    issued: set[int] = field(default_factory=set)
    revoked: dict[int, Revocation] = field(default_factory=dict)

    def revocations_at(self, now: dt.datetime) -> list[Revocation]:
        """Revocations already in force at ``now`` (a revocation dated later is not yet known)."""
        return sorted((r for r in self.revoked.values() if r.revoked_at <= now), key=lambda r: r.serial)


def build_crl(authority: AuthorityState, now: dt.datetime) -> x509.CertificateRevocationList:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(authority.certificate.subject)
        .last_update(now)
        .next_update(now + CRL_LIFETIME)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key()), critical=False)
        .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
    )
    for revocation in authority.revocations_at(now):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(revocation.serial)
            .revocation_date(revocation.revoked_at)
            .add_extension(x509.CRLReason(revocation.reason), critical=False)
            .build()
        )
    return builder.sign(authority.key, hashes.SHA256())


def _issuer_hashes(certificate: x509.Certificate, algorithm: hashes.HashAlgorithm) -> tuple[bytes, bytes]:
    """(issuerNameHash, issuerKeyHash) as RFC 6960 defines them, for matching a request."""
    name = hashes.Hash(algorithm)
    name.update(certificate.subject.public_bytes())
    key = hashes.Hash(algorithm)
    key.update(certificate.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1))
    return name.finalize(), key.finalize()


def answer_ocsp(request_der: bytes, authorities: Iterable[AuthorityState], now: dt.datetime) -> bytes:
    """The DER OCSP response for ``request_der``: never raises on bad input.

    A request that does not parse gets ``malformedRequest``; one for a CA we do not run gets
    ``unauthorized`` (RFC 6960 §2.3). A nonce in the request is echoed, as openssl expects.
    """
    try:
        request = ocsp.load_der_ocsp_request(request_der)
        algorithm = request.hash_algorithm
    except (ValueError, UnsupportedAlgorithm):
        return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    wanted = (request.issuer_name_hash, request.issuer_key_hash)
    authority = next((a for a in authorities if _issuer_hashes(a.certificate, algorithm) == wanted), None)
    if authority is None:
        return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
    status, revoked_at, reason = _status(authority, request.serial_number, now)
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash,
            issuer_key_hash=request.issuer_key_hash,
            serial_number=request.serial_number,
            algorithm=algorithm,
            cert_status=status,
            this_update=now,
            next_update=now + OCSP_LIFETIME,
            revocation_time=revoked_at,
            revocation_reason=reason,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, authority.certificate)
    )
    for extension in request.extensions:
        if isinstance(extension.value, x509.OCSPNonce):
            builder = builder.add_extension(extension.value, critical=False)
    response = builder.sign(authority.key, hashes.SHA256())
    return response.public_bytes(serialization.Encoding.DER)


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)


def _status(
    authority: AuthorityState, serial: int, now: dt.datetime
) -> tuple[ocsp.OCSPCertStatus, dt.datetime | None, x509.ReasonFlags | None]:
    revocation = {r.serial: r for r in authority.revocations_at(now)}.get(serial)
    if revocation is not None:
        reason = None if revocation.reason == x509.ReasonFlags.unspecified else revocation.reason
        return ocsp.OCSPCertStatus.REVOKED, revocation.revoked_at, reason
    if serial in authority.issued:
        return ocsp.OCSPCertStatus.GOOD, None, None
    return ocsp.OCSPCertStatus.UNKNOWN, None, None


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
