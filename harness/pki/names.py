"""IGC-Santé distinguished names, as ANS's certificates and CertParser samples show them."""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import NameOID

SHORT_NAMES = {NameOID.GIVEN_NAME: "GN", NameOID.SURNAME: "SN", NameOID.TITLE: "title"}
"""For ``Name.rfc4514_string``: print CPS subjects as ANS's tools do (``CN=…+SN=…+GN=…``)."""

IGC_ORGANIZATION = "ASIP-SANTE"
IGC_ORGANIZATION_ID = "0002 187512751"
IGC_TEST_UNIT = "IGC-SANTE TEST"
ROOT_CN = "TEST AC RACINE IGC-SANTE FORT"
PERSONNES_CN = "TEST AC IGC-SANTE FORT PERSONNES"


def _rdn(oid: x509.ObjectIdentifier, value: str) -> x509.RelativeDistinguishedName:
    return x509.RelativeDistinguishedName([x509.NameAttribute(oid, value)])


def ca_name(common_name: str) -> x509.Name:
    """``C=FR, O=ASIP-SANTE, OU=0002 187512751, OU=IGC-SANTE TEST, CN=<common_name>``."""
    return x509.Name(
        [
            _rdn(NameOID.COUNTRY_NAME, "FR"),
            _rdn(NameOID.ORGANIZATION_NAME, IGC_ORGANIZATION),
            _rdn(NameOID.ORGANIZATIONAL_UNIT_NAME, IGC_ORGANIZATION_ID),
            _rdn(NameOID.ORGANIZATIONAL_UNIT_NAME, IGC_TEST_UNIT),
            _rdn(NameOID.COMMON_NAME, common_name),
        ]
    )


def professional_name(national_id: str, surname: str, given_name: str, profession: str) -> x509.Name:
    """``CN=<national id>+SN=<nom>+GN=<prénom>, title=<profession>, C=FR`` (no O: a person).

    The multi-valued RDN is what CPS certificates carry; tools that read "the CN" of a CPS
    certificate must cope with it, which is why the harness reproduces it.
    """
    return x509.Name(
        [
            _rdn(NameOID.COUNTRY_NAME, "FR"),
            _rdn(NameOID.TITLE, profession),
            x509.RelativeDistinguishedName(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, national_id),
                    x509.NameAttribute(NameOID.SURNAME, surname),
                    x509.NameAttribute(NameOID.GIVEN_NAME, given_name),
                ]
            ),
        ]
    )
