"""``simulators.web.certificates.check_certificate``: how a card-TLS site judges a client certificate.

Over the project's test PKI (``TEST AC IGC-SANTE FORT PERSONNES`` issuing CPS certificates): no
certificate, bytes that are no certificate, a certificate from another CA or forged under the
IGC-Santé name, each card variant (valid, expired, not yet valid, revoked, wrong key), the usage
(authentication vs signature, no KeyUsage, a CA certificate), the validity boundaries and the
revocation date, all judged on the ``now`` given (the world clock), and the CPS identity read
from the subject whatever the verdict.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from harness.pki import CertVariant, Pki, Professional
from simulators.web.certificates import CertificateCheck, check_certificate

START = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
SECOND = dt.timedelta(seconds=1)


def der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def auth_certificate(pki: Pki, who: Professional, variant: CertVariant = CertVariant.VALID) -> x509.Certificate:
    return pki.cards.issue(who, START, variant).authentication.certificate


def judge(pki: Pki, certificate: x509.Certificate, now: dt.datetime = START) -> CertificateCheck:
    return check_certificate(der(certificate), pki.cards.authorities.values(), now)


def cps_subject(national_id: str, surname: str, given_name: str, profession: str) -> x509.Name:
    """``CN=<id>+SN=<nom>+GN=<prénom>, title=<profession>, C=FR``, written out here independently."""
    return x509.Name(
        [
            x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR")]),
            x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.TITLE, profession)]),
            x509.RelativeDistinguishedName(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, national_id),
                    x509.NameAttribute(NameOID.SURNAME, surname),
                    x509.NameAttribute(NameOID.GIVEN_NAME, given_name),
                ]
            ),
        ]
    )


def make_certificate(
    issuer: x509.Name,
    signer: rsa.RSAPrivateKey,
    public_key: rsa.RSAPublicKey,
    *,
    digital_signature: bool | None = True,
    subject: x509.Name | None = None,
) -> x509.Certificate:
    """A card-like certificate; ``digital_signature=None`` leaves out the KeyUsage extension."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject or cps_subject("899700209812", "D0000020981", "ALAIN", "Médecin"))
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(START - dt.timedelta(days=1))
        .not_valid_after(START + dt.timedelta(days=365))
    )
    if digital_signature is not None:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature, False, False, False, False, False, False, False, False), critical=True
        )
    return builder.sign(signer, hashes.SHA256())


# -- nothing to judge ---------------------------------------------------------------------------------
def test_no_certificate_presented_is_absent_with_no_identity(pki: Pki) -> None:
    check = check_certificate(None, pki.cards.authorities.values(), START)
    assert check == CertificateCheck("absent")


def test_an_empty_certificate_is_absent(pki: Pki) -> None:
    assert check_certificate(b"", pki.cards.authorities.values(), START).status == "absent"


def test_bytes_that_are_no_certificate_are_an_unknown_authority(pki: Pki) -> None:
    check = check_certificate(b"\x30\x03\x02\x01\x00 not DER", pki.cards.authorities.values(), START)
    assert check.status == "unknown-ca"
    assert check.certificate is None and check.issuer is None


# -- the chain ----------------------------------------------------------------------------------------
def test_a_valid_authentication_certificate_is_valid_and_issued_by_personnes(pki: Pki, alain: Professional) -> None:
    check = judge(pki, auth_certificate(pki, alain))
    assert check.status == "valid"
    assert check.issuer is pki.cards.personnes


def test_the_cps_identity_is_read_from_the_multi_valued_subject(pki: Pki, alain: Professional) -> None:
    check = judge(pki, auth_certificate(pki, alain))
    assert (check.national_id, check.surname, check.given_name, check.profession) == (
        "899700209812",
        "D0000020981",
        "ALAIN",
        "Médecin",
    )


def test_the_checked_certificate_is_the_one_presented(pki: Pki, alain: Professional) -> None:
    certificate = auth_certificate(pki, alain)
    assert judge(pki, certificate).certificate == certificate


def test_the_order_of_the_authorities_does_not_matter(pki: Pki, alain: Professional) -> None:
    certificate = auth_certificate(pki, alain)
    reversed_order = [pki.cards.personnes, pki.cards.root]
    assert check_certificate(der(certificate), reversed_order, START).status == "valid"


def test_a_card_certificate_is_not_accepted_on_the_root_alone(pki: Pki, alain: Professional) -> None:
    """One level of chain: the card's issuer must be one of the authorities given."""
    check = check_certificate(der(auth_certificate(pki, alain)), [pki.cards.root], START)
    assert check.status == "unknown-ca" and check.issuer is None


def test_no_authority_at_all_makes_every_certificate_unknown(pki: Pki, alain: Professional) -> None:
    assert check_certificate(der(auth_certificate(pki, alain)), [], START).status == "unknown-ca"


def test_a_certificate_from_another_ca_is_unknown_but_its_identity_is_still_read(pki: Pki, alain: Professional) -> None:
    card_key = pki.cards.issue(alain, START).authentication.key
    other_ca = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "AC Quelconque")])
    check = judge(pki, make_certificate(other_ca, card_key, card_key.public_key()))
    assert check.status == "unknown-ca"
    assert check.issuer is None
    assert check.national_id == "899700209812" and check.given_name == "ALAIN"


def test_a_certificate_forged_under_the_igc_sante_name_is_unknown(pki: Pki, alain: Professional) -> None:
    """Right issuer name, wrong signature key: the name alone must not make it trusted."""
    card_key = pki.cards.issue(alain, START).authentication.key
    forged = make_certificate(pki.cards.personnes.certificate.subject, card_key, card_key.public_key())
    assert judge(pki, forged).status == "unknown-ca"


# -- dates, on the clock given ------------------------------------------------------------------------
def test_an_expired_card_certificate_is_expired_and_names_its_holder(pki: Pki, alain: Professional) -> None:
    check = judge(pki, auth_certificate(pki, alain, CertVariant.EXPIRED))
    assert check.status == "expired"
    assert check.issuer is pki.cards.personnes
    assert check.national_id == "899700209812"


def test_a_certificate_not_yet_valid_is_refused_as_such(pki: Pki, alain: Professional) -> None:
    assert judge(pki, auth_certificate(pki, alain, CertVariant.NOT_YET_VALID)).status == "not-yet-valid"


def test_a_valid_certificate_reads_expired_once_the_clock_passes_its_end(pki: Pki, alain: Professional) -> None:
    certificate = auth_certificate(pki, alain)
    assert judge(pki, certificate, certificate.not_valid_after_utc).status == "valid"
    assert judge(pki, certificate, certificate.not_valid_after_utc + SECOND).status == "expired"


def test_a_certificate_is_valid_from_its_first_second(pki: Pki, alain: Professional) -> None:
    certificate = auth_certificate(pki, alain)
    assert judge(pki, certificate, certificate.not_valid_before_utc - SECOND).status == "not-yet-valid"
    assert judge(pki, certificate, certificate.not_valid_before_utc).status == "valid"


def test_the_not_yet_valid_certificate_becomes_valid_when_the_clock_reaches_it(pki: Pki, alain: Professional) -> None:
    certificate = auth_certificate(pki, alain, CertVariant.NOT_YET_VALID)
    assert judge(pki, certificate, START + dt.timedelta(days=31)).status == "valid"


def test_the_date_is_compared_in_any_time_zone(pki: Pki, alain: Professional) -> None:
    certificate = auth_certificate(pki, alain)
    paris = dt.timezone(dt.timedelta(hours=1))
    just_after = (certificate.not_valid_after_utc + SECOND).astimezone(paris)
    assert judge(pki, certificate, just_after).status == "expired"


# -- revocation ---------------------------------------------------------------------------------------
def test_a_revoked_card_certificate_is_revoked(pki: Pki, alain: Professional) -> None:
    check = judge(pki, auth_certificate(pki, alain, CertVariant.REVOKED))
    assert check.status == "revoked"
    assert check.surname == "D0000020981"


def test_a_revocation_dated_later_is_not_known_yet(pki: Pki, alain: Professional) -> None:
    certificate = auth_certificate(pki, alain)
    opposition = START + dt.timedelta(hours=2)
    pki.cards.revoke(certificate, opposition)
    assert judge(pki, certificate, opposition - SECOND).status == "valid"
    assert judge(pki, certificate, opposition).status == "revoked"


def test_revoking_the_signature_certificate_leaves_the_authentication_one_valid(pki: Pki, alain: Professional) -> None:
    card = pki.cards.issue(alain, START)
    pki.cards.revoke(card.signature.certificate, START)
    assert judge(pki, card.authentication.certificate).status == "valid"


# -- usage --------------------------------------------------------------------------------------------
def test_the_cards_signature_certificate_is_not_for_authentication(pki: Pki, alain: Professional) -> None:
    signature = pki.cards.issue(alain, START).signature.certificate
    assert judge(pki, signature).status == "bad-usage"


def test_a_certificate_without_key_usage_is_not_for_authentication(pki: Pki, alain: Professional) -> None:
    card_key = pki.cards.issue(alain, START).authentication.key
    personnes = pki.cards.personnes
    certificate = make_certificate(
        personnes.certificate.subject, personnes.key, card_key.public_key(), digital_signature=None
    )
    assert judge(pki, certificate).status == "bad-usage"


def test_the_same_certificate_with_digital_signature_is_valid(pki: Pki, alain: Professional) -> None:
    """The counterpart of the test above: the verdict turns on the usage bit, not on how it was made."""
    card_key = pki.cards.issue(alain, START).authentication.key
    personnes = pki.cards.personnes
    certificate = make_certificate(personnes.certificate.subject, personnes.key, card_key.public_key())
    assert judge(pki, certificate).status == "valid"


def test_the_intermediate_ca_certificate_is_not_a_card_certificate(pki: Pki) -> None:
    assert judge(pki, pki.cards.personnes.certificate).status == "bad-usage"


def test_a_card_whose_key_does_not_match_still_has_a_valid_certificate(pki: Pki, alain: Professional) -> None:
    """The wrong key shows in the TLS handshake's signature, not in the certificate judged here."""
    assert judge(pki, auth_certificate(pki, alain, CertVariant.WRONG_KEY)).status == "valid"
