"""``simulators.web.testssl.rules``: what ATSAM's "Test SSL" page says about the certificate presented.

``build_report`` for every ``CertificateCheck`` status (screen id, mod_ssl's ``SSL_CLIENT_VERIFY``
value with OpenSSL's reason, the French message and the advice under it) and the certificate's
fields as the guide's table shows them; ``openssl_time`` (OpenSSL's ``ASN1_TIME_print`` format);
``parse_tls_max`` / ``tls_max_name``, the admin switch of the site's TLS ceiling, with bad input.
"""

from __future__ import annotations

import datetime as dt
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from harness.pki import CertVariant, Pki, Professional
from simulators.web.certificates import CertificateCheck, check_certificate
from simulators.web.testssl.rules import (
    DEFAULT_TLS_MAX,
    SUPPORT,
    build_report,
    openssl_time,
    parse_tls_max,
    tls_max_name,
)

START = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
SUPPORT_PHONE = "0 825 852 000"


def judged(pki: Pki, certificate: x509.Certificate) -> CertificateCheck:
    der = certificate.public_bytes(serialization.Encoding.DER)
    return check_certificate(der, pki.cards.authorities.values(), START)


def checked(pki: Pki, who: Professional, variant: CertVariant) -> CertificateCheck:
    return judged(pki, pki.cards.issue(who, START, variant).authentication.certificate)


# -- the verdict: screen, SSL_CLIENT_VERIFY, message, advice -------------------------------------------
def test_a_valid_certificate_shows_the_card_information_with_success(pki: Pki, alain: Professional) -> None:
    report = build_report(checked(pki, alain, CertVariant.VALID))
    assert report.outcome.screen == "information-carte-cps"
    assert report.outcome.verification == "SUCCESS"
    assert report.outcome.message is None
    assert report.advice == ()


def test_no_certificate_reads_none_and_tells_how_to_get_the_card_read() -> None:
    report = build_report(CertificateCheck("absent"))
    assert report.outcome.screen == "aucun-certificat"
    assert report.outcome.verification == "NONE"
    assert report.outcome.message is not None and "n'a pas été lue" in report.outcome.message
    assert any("insérée dans le lecteur" in line for line in report.advice)
    assert any("ATSAM" in line for line in report.advice)
    assert any("code porteur" in line for line in report.advice)
    assert report.advice[-1] == SUPPORT


@pytest.mark.parametrize(
    ("variant", "status", "screen", "reason", "words"),
    [
        (CertVariant.EXPIRED, "expired", "certificat-expire", "certificate has expired", "a expiré"),
        (
            CertVariant.NOT_YET_VALID,
            "not-yet-valid",
            "certificat-pas-encore-valide",
            "certificate is not yet valid",
            "pas encore valide",
        ),
        (CertVariant.REVOKED, "revoked", "certificat-revoque", "certificate revoked", "opposition"),
    ],
)
def test_a_failed_date_or_revocation_check_reads_failed_with_openssls_reason(
    pki: Pki, alain: Professional, variant: CertVariant, status: str, screen: str, reason: str, words: str
) -> None:
    check = checked(pki, alain, variant)
    assert check.status == status
    report = build_report(check)
    assert report.outcome.screen == screen
    assert report.outcome.verification == f"FAILED:{reason}"
    assert report.outcome.message is not None and words in report.outcome.message


def test_a_signature_certificate_reads_unsupported_purpose(pki: Pki, alain: Professional) -> None:
    signature = pki.cards.issue(alain, START).signature.certificate
    report = build_report(judged(pki, signature))
    assert report.outcome.screen == "certificat-inadapte"
    assert report.outcome.verification == "FAILED:unsupported certificate purpose"
    assert report.outcome.message is not None and "authentification" in report.outcome.message


def test_a_certificate_from_another_ca_reads_unable_to_get_the_issuer() -> None:
    report = build_report(CertificateCheck("unknown-ca"))
    assert report.outcome.screen == "autorite-inconnue"
    assert report.outcome.verification == "FAILED:unable to get local issuer certificate"
    assert report.outcome.message is not None and "IGC-Santé" in report.outcome.message


def test_a_status_the_page_does_not_know_reads_as_an_unknown_authority() -> None:
    assert (
        build_report(CertificateCheck("something-new")).outcome == build_report(CertificateCheck("unknown-ca")).outcome
    )


def test_a_revoked_card_is_told_to_declare_the_loss_and_call_support(pki: Pki, alain: Professional) -> None:
    report = build_report(checked(pki, alain, CertVariant.REVOKED))
    assert len(report.advice) == 2
    assert "perte ou le vol" in report.advice[0] and "nouvelle" in report.advice[0]
    assert SUPPORT_PHONE in report.advice[1]


@pytest.mark.parametrize("variant", [CertVariant.EXPIRED, CertVariant.NOT_YET_VALID])
def test_other_failures_are_told_to_call_support_only(pki: Pki, alain: Professional, variant: CertVariant) -> None:
    report = build_report(checked(pki, alain, variant))
    assert report.advice == (SUPPORT,)
    assert SUPPORT_PHONE in SUPPORT and "monserviceclient.cartes@asipsante.fr" in SUPPORT


# -- the certificate's fields -------------------------------------------------------------------------
def test_no_certificate_leaves_every_field_empty() -> None:
    report = build_report(CertificateCheck("absent"))
    fields = [report.organisation, report.authority, report.ca_class, report.given_name, report.surname]
    fields += [report.identifier, report.city, report.serial, report.created, report.expires, report.pem]
    assert fields == [""] * 11


def test_the_igc_block_shows_organisation_first_unit_and_ca_name(pki: Pki, alain: Professional) -> None:
    report = build_report(checked(pki, alain, CertVariant.VALID))
    assert report.organisation == "ASIP-SANTE"
    assert report.authority == "0002 187512751"
    assert report.ca_class == "TEST AC IGC-SANTE FORT PERSONNES"


def test_the_identity_block_shows_the_cps_subject(pki: Pki, alain: Professional) -> None:
    report = build_report(checked(pki, alain, CertVariant.VALID))
    assert (report.given_name, report.surname, report.identifier) == ("ALAIN", "D0000020981", "899700209812")
    assert report.city == "", "the test card's subject has no locality"


def test_the_serial_is_the_certificates_serial_in_uppercase_hex(pki: Pki, alain: Professional) -> None:
    check = checked(pki, alain, CertVariant.VALID)
    assert check.certificate is not None
    serial = build_report(check).serial
    assert serial == serial.upper() and not serial.startswith(("0X", "0x"))
    assert int(serial, 16) == check.certificate.serial_number


def test_the_dates_are_the_certificates_in_openssl_format(pki: Pki, alain: Professional) -> None:
    check = checked(pki, alain, CertVariant.VALID)
    assert check.certificate is not None
    report = build_report(check)

    def parsed(text: str) -> dt.datetime:
        return dt.datetime.strptime(text, "%b %d %H:%M:%S %Y GMT").replace(tzinfo=dt.UTC)

    assert parsed(report.created) == check.certificate.not_valid_before_utc
    assert parsed(report.expires) == check.certificate.not_valid_after_utc


def test_the_pem_block_is_the_presented_certificate(pki: Pki, alain: Professional) -> None:
    check = checked(pki, alain, CertVariant.VALID)
    pem = build_report(check).pem
    assert pem.startswith("-----BEGIN CERTIFICATE-----\n") and pem.rstrip().endswith("-----END CERTIFICATE-----")
    assert x509.load_pem_x509_certificate(pem.encode()) == check.certificate


def test_a_failed_check_still_shows_the_certificate_fields(pki: Pki, alain: Professional) -> None:
    report = build_report(checked(pki, alain, CertVariant.EXPIRED))
    assert report.outcome.verification.startswith("FAILED:")
    assert report.identifier == "899700209812" and report.serial and report.pem


# -- openssl_time ---------------------------------------------------------------------------------------
def test_openssl_time_matches_the_guides_screen() -> None:
    assert openssl_time(dt.datetime(2018, 9, 1, 11, 46, 48, tzinfo=dt.UTC)) == "Sep  1 11:46:48 2018 GMT"


def test_openssl_time_writes_two_digit_days_without_padding() -> None:
    assert openssl_time(dt.datetime(2021, 12, 25, 8, 5, 3, tzinfo=dt.UTC)) == "Dec 25 08:05:03 2021 GMT"


@pytest.mark.parametrize(("month", "name"), [(1, "Jan"), (5, "May"), (6, "Jun"), (7, "Jul"), (10, "Oct")])
def test_openssl_time_uses_english_month_abbreviations(month: int, name: str) -> None:
    assert openssl_time(dt.datetime(2020, month, 10, tzinfo=dt.UTC)).startswith(f"{name} 10 ")


def test_openssl_time_converts_to_gmt_across_midnight() -> None:
    paris_summer = dt.timezone(dt.timedelta(hours=2))
    assert openssl_time(dt.datetime(2018, 9, 1, 1, 0, 0, tzinfo=paris_summer)) == "Aug 31 23:00:00 2018 GMT"


def test_openssl_time_drops_fractions_of_a_second() -> None:
    assert openssl_time(dt.datetime(2018, 9, 1, 11, 46, 48, 999_999, tzinfo=dt.UTC)) == "Sep  1 11:46:48 2018 GMT"


# -- the TLS ceiling switch ---------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "version"), [("1.2", ssl.TLSVersion.TLSv1_2), ("1.3", ssl.TLSVersion.TLSv1_3)])
def test_parse_tls_max_accepts_the_two_ceilings(value: str, version: ssl.TLSVersion) -> None:
    assert parse_tls_max(value) is version


def test_the_default_ceiling_is_tls_1_2_because_a_cps_card_has_no_rsa_pss() -> None:
    assert parse_tls_max(DEFAULT_TLS_MAX) is ssl.TLSVersion.TLSv1_2


@pytest.mark.parametrize("value", ["1.1", "1.0", "", " 1.2", "TLSv1.2", "1.2.0", 1.2, 13, None, ["1.2"]])
def test_parse_tls_max_refuses_anything_else_and_says_what_is_accepted(value: object) -> None:
    with pytest.raises(ValueError) as caught:
        parse_tls_max(value)
    message = str(caught.value)
    assert "'1.2'" in message and "'1.3'" in message
    assert message.endswith(f"not {value!r}")


@pytest.mark.parametrize(("version", "name"), [(ssl.TLSVersion.TLSv1_2, "1.2"), (ssl.TLSVersion.TLSv1_3, "1.3")])
def test_tls_max_name_names_the_ceiling_as_the_admin_api_does(version: ssl.TLSVersion, name: str) -> None:
    assert tls_max_name(version) == name


@pytest.mark.parametrize("value", ["1.2", "1.3"])
def test_tls_max_name_undoes_parse_tls_max(value: str) -> None:
    assert tls_max_name(parse_tls_max(value)) == value


@pytest.mark.parametrize(
    ("version", "name"),
    [(ssl.TLSVersion.TLSv1_1, "TLSv1_1"), (ssl.TLSVersion.MAXIMUM_SUPPORTED, "MAXIMUM_SUPPORTED")],
)
def test_tls_max_name_falls_back_to_the_enum_name_for_other_versions(version: ssl.TLSVersion, name: str) -> None:
    assert tls_max_name(version) == name
