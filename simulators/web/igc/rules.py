"""Revocation rules of the IGC-Santé publication site: CRLs and OCSP answers, as pure functions.

No I/O and no clock of their own: the caller passes the issuing authority's state and ``now``
(the world's clock), so a scenario that advances time sees CRLs and OCSP answers move with it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from simulators.world.authorities import AuthorityState

CRL_LIFETIME = dt.timedelta(days=7)
OCSP_LIFETIME = dt.timedelta(hours=1)


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
        entry = x509.RevokedCertificateBuilder().serial_number(revocation.serial).revocation_date(revocation.revoked_at)
        if revocation.reason != x509.ReasonFlags.unspecified:  # RFC 5280 §5.3.1: absent rather than unspecified
            entry = entry.add_extension(x509.CRLReason(revocation.reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
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
