"""IGC-Santé revocation rules (``simulators/web/igc/rules.py``) over an authority's state
(``simulators/world/authorities.py``), called directly with a tiny CA built here.

CRLs: issued by the CA, signed with its key, valid a week, listing only the revocations already in
force at the given instant. OCSP (RFC 6960): ``good`` for an issued certificate, ``revoked`` with
its time and reason, ``unknown`` for a serial the CA never issued, ``malformedRequest`` for bytes
that are not a request and ``unauthorized`` for a CA the site does not run; the nonce is echoed.
Everything is parsed back with ``cryptography``; no sockets, no running world.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from simulators.web.igc.rules import answer_ocsp, build_crl
from simulators.world.authorities import AuthorityState, Revocation
from simulators.world.clock import Clock

T0 = dt.datetime(2024, 3, 1, 8, 0, tzinfo=dt.UTC)
GOOD, REVOKED, NEVER_ISSUED = 0x1001, 0x1002, 0x1003
PERSONNES = "TEST AC IGC-SANTE FORT PERSONNES"


@dataclass(frozen=True)
class Ca:
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ASIP-SANTE"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "IGC-SANTE TEST"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _make_ca(cn: str) -> Ca:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = _name(cn)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(T0 - dt.timedelta(days=365))
        .not_valid_after(T0 + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Ca(key, certificate)


@pytest.fixture(scope="module")
def ca() -> Ca:
    return _make_ca(PERSONNES)


@pytest.fixture(scope="module")
def other_ca() -> Ca:
    return _make_ca("TEST AC IGC-SANTE FORT ORGANISATIONS")


@pytest.fixture(scope="module")
def card_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def card_certificate(issuer: Ca, serial: int, card_key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.COMMON_NAME, "899700209812"),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject)
        .public_key(card_key.public_key())
        .serial_number(serial)
        .not_valid_before(T0 - dt.timedelta(days=30))
        .not_valid_after(T0 + dt.timedelta(days=3 * 365))
        .sign(issuer.key, hashes.SHA256())
    )


@pytest.fixture
def authority(ca: Ca) -> AuthorityState:
    """A fresh state for each test: GOOD and REVOKED issued, REVOKED revoked an hour before T0."""
    state = AuthorityState(ca.certificate, ca.key, issued={GOOD, REVOKED})
    state.revoked[REVOKED] = Revocation(REVOKED, T0 - dt.timedelta(hours=1))
    return state


def ocsp_request(
    issuer: Ca,
    serial: int,
    card_key: ec.EllipticCurvePrivateKey,
    algorithm: hashes.HashAlgorithm | None = None,
    nonce: bytes | None = None,
) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(
        card_certificate(issuer, serial, card_key), issuer.certificate, algorithm or hashes.SHA1()
    )
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def ask(
    authority: AuthorityState,
    issuer: Ca,
    serial: int,
    card_key: ec.EllipticCurvePrivateKey,
    now: dt.datetime = T0,
    algorithm: hashes.HashAlgorithm | None = None,
    nonce: bytes | None = None,
) -> ocsp.OCSPResponse:
    der = answer_ocsp(ocsp_request(issuer, serial, card_key, algorithm, nonce), [authority], now)
    return ocsp.load_der_ocsp_response(der)


# --- AuthorityState.revocations_at --------------------------------------------------------------


def test_revocations_at_lists_a_revocation_already_in_force(authority: AuthorityState) -> None:
    assert [r.serial for r in authority.revocations_at(T0)] == [REVOKED]


def test_revocations_at_includes_a_revocation_dated_exactly_now(authority: AuthorityState) -> None:
    authority.revoked[GOOD] = Revocation(GOOD, T0)
    assert GOOD in {r.serial for r in authority.revocations_at(T0)}


def test_revocations_at_omits_a_revocation_dated_later(authority: AuthorityState) -> None:
    authority.revoked[GOOD] = Revocation(GOOD, T0 + dt.timedelta(seconds=1))
    assert GOOD not in {r.serial for r in authority.revocations_at(T0)}


def test_revocations_at_is_sorted_by_serial(authority: AuthorityState) -> None:
    authority.revoked[7] = Revocation(7, T0 - dt.timedelta(days=2))
    authority.revoked[99999] = Revocation(99999, T0 - dt.timedelta(days=3))
    assert [r.serial for r in authority.revocations_at(T0)] == [7, REVOKED, 99999]


def test_revocation_reason_defaults_to_key_compromise() -> None:
    """A lost card is the guide's case: its key may be in someone else's hands."""
    assert Revocation(1, T0).reason is x509.ReasonFlags.key_compromise


# --- build_crl ----------------------------------------------------------------------------------


def test_crl_is_signed_by_the_authority_key(authority: AuthorityState, ca: Ca) -> None:
    assert build_crl(authority, T0).is_signature_valid(ca.key.public_key())


def test_crl_signature_does_not_verify_with_another_ca_key(authority: AuthorityState, other_ca: Ca) -> None:
    assert not build_crl(authority, T0).is_signature_valid(other_ca.key.public_key())


def test_crl_issuer_is_the_authority_subject(authority: AuthorityState, ca: Ca) -> None:
    assert build_crl(authority, T0).issuer == ca.certificate.subject


def test_crl_is_dated_now_and_valid_for_a_week(authority: AuthorityState) -> None:
    crl = build_crl(authority, T0)
    assert (crl.last_update_utc, crl.next_update_utc) == (T0, T0 + dt.timedelta(weeks=1))


def test_crl_uses_sha256(authority: AuthorityState) -> None:
    assert isinstance(build_crl(authority, T0).signature_hash_algorithm, hashes.SHA256)


def test_crl_lists_the_revoked_certificate_with_date_and_reason(authority: AuthorityState) -> None:
    entry = build_crl(authority, T0).get_revoked_certificate_by_serial_number(REVOKED)
    assert entry is not None
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert (entry.revocation_date_utc, reason) == (T0 - dt.timedelta(hours=1), x509.ReasonFlags.key_compromise)


def test_crl_does_not_list_an_issued_unrevoked_certificate(authority: AuthorityState) -> None:
    assert build_crl(authority, T0).get_revoked_certificate_by_serial_number(GOOD) is None


def test_crl_of_an_authority_without_revocations_is_empty(ca: Ca) -> None:
    state = AuthorityState(ca.certificate, ca.key, issued={GOOD})
    assert len(build_crl(state, T0)) == 0


def test_crl_does_not_yet_list_a_revocation_dated_later(authority: AuthorityState) -> None:
    authority.revoked[GOOD] = Revocation(GOOD, T0 + dt.timedelta(hours=2))
    assert build_crl(authority, T0).get_revoked_certificate_by_serial_number(GOOD) is None


def test_crl_lists_a_later_revocation_once_the_clock_reaches_it(authority: AuthorityState) -> None:
    clock = Clock(T0)
    authority.revoked[GOOD] = Revocation(GOOD, T0 + dt.timedelta(hours=2))
    clock.advance("2h")
    assert build_crl(authority, clock.now()).get_revoked_certificate_by_serial_number(GOOD) is not None


def test_crl_keeps_the_reason_of_each_revocation(authority: AuthorityState) -> None:
    authority.revoked[GOOD] = Revocation(GOOD, T0, x509.ReasonFlags.cessation_of_operation)
    entry = build_crl(authority, T0).get_revoked_certificate_by_serial_number(GOOD)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is (
        x509.ReasonFlags.cessation_of_operation
    )


def test_crl_entry_omits_an_unspecified_reason(authority: AuthorityState) -> None:
    """RFC 5280 §5.3.1: the reasonCode extension SHOULD be absent rather than ``unspecified`` (as OCSP does)."""
    authority.revoked[GOOD] = Revocation(GOOD, T0, x509.ReasonFlags.unspecified)
    entry = build_crl(authority, T0).get_revoked_certificate_by_serial_number(GOOD)
    assert entry is not None
    with pytest.raises(x509.ExtensionNotFound):
        entry.extensions.get_extension_for_class(x509.CRLReason)


def test_crl_authority_key_identifier_names_the_ca_key(authority: AuthorityState, ca: Ca) -> None:
    aki = build_crl(authority, T0).extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest


def test_crl_number_grows_as_the_clock_moves(authority: AuthorityState) -> None:
    first = build_crl(authority, T0).extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    later = build_crl(authority, T0 + dt.timedelta(hours=1)).extensions.get_extension_for_class(x509.CRLNumber)
    assert later.value.crl_number > first


def test_crl_survives_a_der_round_trip(authority: AuthorityState, ca: Ca) -> None:
    crl = x509.load_der_x509_crl(build_crl(authority, T0).public_bytes(serialization.Encoding.DER))
    assert crl.is_signature_valid(ca.key.public_key())
    assert [r.serial_number for r in crl] == [REVOKED]


# --- answer_ocsp: statuses ----------------------------------------------------------------------


def test_ocsp_answers_good_for_an_issued_certificate(
    authority: AuthorityState, ca: Ca, card_key: ec.EllipticCurvePrivateKey
) -> None:
    response = ask(authority, ca, GOOD, card_key)
    assert response.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status is ocsp.OCSPCertStatus.GOOD


def test_ocsp_answers_revoked_with_time_and_reason(
    authority: AuthorityState, ca: Ca, card_key: ec.EllipticCurvePrivateKey
) -> None:
    response = ask(authority, ca, REVOKED, card_key)
    assert (response.certificate_status, response.revocation_time_utc, response.revocation_reason) == (
        ocsp.OCSPCertStatus.REVOKED,
        T0 - dt.timedelta(hours=1),
        x509.ReasonFlags.key_compromise,
    )


def test_ocsp_answers_unknown_for_a_serial_never_issued(
    authority: AuthorityState, ca: Ca, card_key: ec.EllipticCurvePrivateKey
) -> None:
    assert ask(authority, ca, NEVER_ISSUED, card_key).certificate_status is ocsp.OCSPCertStatus.UNKNOWN


def test_ocsp_answers_good_before_a_revocation_dated_later(
    authority: AuthorityState, ca: Ca, card_key: ec.EllipticCurvePrivateKey
) -> None:
    authority.revoked[GOOD] = Revocation(GOOD, T0 + dt.timedelta(minutes=30))
    assert ask(authority, ca, GOOD, card_key).certificate_status is ocsp.OCSPCertStatus.GOOD


def test_ocsp_answers_revoked_once_the_clock_reaches_the_revocation(
    authority: AuthorityState, ca: Ca, card_key: ec.EllipticCurvePrivateKey
) -> None:
    clock = Clock(T0)
    authority.revoked[GOOD] = Revocation(GOOD, T0 + dt.timedelta(minutes=30))
    clock.advance("30min")
    assert ask(authority, ca, GOOD, card_key, clock.now()).certificate_status is ocsp.OCSPCertStatus.REVOKED


def test_ocsp_omits_an_unspecified_reason(
    authority: AuthorityState, ca: Ca, card_key: ec.EllipticCurvePrivateKey
) -> None:
    authority.revoked[GOOD] = Revocation(GOOD, T0, x509.ReasonFlags.unspecified)
    response = ask(authority, ca, GOOD, card_key)
    assert (response.certificate_status, response.revocation_reason) == (ocsp.OCSPCertStatus.REVOKED, None)


def test_ocsp_answers_a_sha256_cert_id_in_kind(
    authority: AuthorityState, ca: Ca, card_key: ec.EllipticCurvePrivateKey
) -> None:
    response = ask(authority, ca, REVOKED, card_key, algorithm=hashes.SHA256())
    assert response.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert isinstance(response.hash_algorithm, hashes.SHA256)


# --- answer_ocsp: the response itself -----------------------------------------------------------


def test_ocsp_response_echoes_the_requested_cert_id(
    authority: AuthorityState, ca: Ca, card_key: ec.EllipticCurvePrivateKey
) -> None:
    request = ocsp.load_der_ocsp_request(ocsp_request(ca, GOOD, card_key))
    response = ocsp.load_der_ocsp_response(
        answer_ocsp(request.public_bytes(serialization.Encoding.DER), [authority], T0)
    )
    assert (response.serial_number, response.issuer_name_hash, response.issuer_key_hash) == (
        request.serial_number,
        request.issuer_name_hash,
        request.issuer_key_hash,
    )


def test_ocsp_response_is_signed_by_the_authority_key(
    authority: AuthorityState, ca: Ca, card_key: ec.EllipticCurvePrivateKey
) -> None:
    response = ask(authority, ca, GOOD, card_key)
    assert response.signature_hash_algorithm is not None
    ca.key.public_key().verify(  # raises InvalidSignature otherwise
        response.signature, response.tbs_response_bytes, padding.PKCS1v15(), response.signature_hash_algorithm
    )


def test_ocsp_responder_is_named_by_the_hash_of_the_ca_key(
    authority: AuthorityState, ca: Ca, card_key: ec.EllipticCurvePrivateKey
) -> None:
    response = ask(authority, ca, GOOD, card_key)
    expected = x509.SubjectKeyIdentifier.from_public_key(ca.key.public_key()).digest
    assert (response.responder_key_hash, response.responder_name) == (expected, None)


def test_ocsp_response_is_valid_for_an_hour_from_now(
    authority: AuthorityState, ca: Ca, card_key: ec.EllipticCurvePrivateKey
) -> None:
    response = ask(authority, ca, GOOD, card_key)
    assert (response.this_update_utc, response.next_update_utc) == (T0, T0 + dt.timedelta(hours=1))


def test_ocsp_response_echoes_the_request_nonce(
    authority: AuthorityState, ca: Ca, card_key: ec.EllipticCurvePrivateKey
) -> None:
    response = ask(authority, ca, GOOD, card_key, nonce=b"0123456789abcdef")
    assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"0123456789abcdef"


def test_ocsp_response_has_no_nonce_when_none_was_asked(
    authority: AuthorityState, ca: Ca, card_key: ec.EllipticCurvePrivateKey
) -> None:
    response = ask(authority, ca, GOOD, card_key)
    with pytest.raises(x509.ExtensionNotFound):
        response.extensions.get_extension_for_class(x509.OCSPNonce)


def test_ocsp_picks_the_authority_that_issued_the_certificate(
    authority: AuthorityState, other_ca: Ca, card_key: ec.EllipticCurvePrivateKey
) -> None:
    other = AuthorityState(other_ca.certificate, other_ca.key, issued={GOOD})
    other.revoked[GOOD] = Revocation(GOOD, T0 - dt.timedelta(days=1))
    der = answer_ocsp(ocsp_request(other_ca, GOOD, card_key), [authority, other], T0)
    response = ocsp.load_der_ocsp_response(der)
    expected = x509.SubjectKeyIdentifier.from_public_key(other_ca.key.public_key()).digest
    assert (response.certificate_status, response.responder_key_hash) == (ocsp.OCSPCertStatus.REVOKED, expected)


# --- answer_ocsp: unsuccessful answers ----------------------------------------------------------


@pytest.mark.parametrize("garbage", [b"", b"not an OCSP request", b"\x30\x00", b"\x30\x03\x02\x01\x01"])
def test_ocsp_answers_malformed_request_to_bytes_that_do_not_parse(authority: AuthorityState, garbage: bytes) -> None:
    response = ocsp.load_der_ocsp_response(answer_ocsp(garbage, [authority], T0))
    assert response.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_ocsp_answers_malformed_request_to_a_truncated_request(
    authority: AuthorityState, ca: Ca, card_key: ec.EllipticCurvePrivateKey
) -> None:
    truncated = ocsp_request(ca, GOOD, card_key)[:-5]
    response = ocsp.load_der_ocsp_response(answer_ocsp(truncated, [authority], T0))
    assert response.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_ocsp_answers_unauthorized_for_a_ca_it_does_not_run(
    authority: AuthorityState, other_ca: Ca, card_key: ec.EllipticCurvePrivateKey
) -> None:
    der = answer_ocsp(ocsp_request(other_ca, GOOD, card_key), [authority], T0)
    assert ocsp.load_der_ocsp_response(der).response_status is ocsp.OCSPResponseStatus.UNAUTHORIZED


def test_ocsp_answers_malformed_request_to_an_unsupported_hash_algorithm(
    authority: AuthorityState, ca: Ca, card_key: ec.EllipticCurvePrivateKey
) -> None:
    sha1_oid, not_a_hash_oid = bytes.fromhex("06052b0e03021a"), bytes.fromhex("06052b0e03021b")  # 1.3.14.3.2.27
    request = ocsp_request(ca, GOOD, card_key)
    assert sha1_oid in request
    der = answer_ocsp(request.replace(sha1_oid, not_a_hash_oid), [authority], T0)
    assert ocsp.load_der_ocsp_response(der).response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_ocsp_answers_unauthorized_for_a_ca_with_the_same_name_but_another_key(
    authority: AuthorityState, ca: Ca, card_key: ec.EllipticCurvePrivateKey
) -> None:
    impostor = _make_ca(PERSONNES)
    assert impostor.certificate.subject == ca.certificate.subject
    der = answer_ocsp(ocsp_request(impostor, GOOD, card_key), [authority], T0)
    assert ocsp.load_der_ocsp_response(der).response_status is ocsp.OCSPResponseStatus.UNAUTHORIZED


def test_ocsp_answers_unauthorized_when_it_runs_no_ca(ca: Ca, card_key: ec.EllipticCurvePrivateKey) -> None:
    der = answer_ocsp(ocsp_request(ca, GOOD, card_key), [], T0)
    assert ocsp.load_der_ocsp_response(der).response_status is ocsp.OCSPResponseStatus.UNAUTHORIZED
