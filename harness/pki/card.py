"""The card side of the test PKI: an IGC-Santé-shaped chain and the CPS certificates it issues.

trustme cannot make these profiles (multi-valued subject RDN, nonRepudiation, an RSA chain
named like ANS's), so they are built with cryptography. The CA certificates have fixed dates
and serials, and RSA PKCS#1 v1.5 signatures are deterministic: with the cached keys, the root
and intermediate are byte-identical from one run to the next, so a trust store made once stays
valid. Professionals' certificates depend on the world clock and are issued on demand.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from harness.pki.keys import KeyStore
from harness.pki.names import PERSONNES_CN, ROOT_CN, ca_name, professional_name
from simulators.web import hosts
from simulators.world.authorities import AuthorityState, Revocation

CA_NOT_BEFORE = dt.datetime(2013, 6, 25, tzinfo=dt.UTC)
CA_NOT_AFTER = dt.datetime(2033, 6, 25, tzinfo=dt.UTC)
"""The real IGC-Santé roots' validity period (2013-06-25 to 2033-06-25)."""
CARD_VALIDITY = dt.timedelta(days=3 * 365)
"""CPS cards and their certificates last three years."""

PUBLICATION = f"http://{hosts.IGC}"


class CertVariant(enum.StrEnum):
    """What a scenario can ask of a card's certificates."""

    VALID = "valid"
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"
    REVOKED = "revoked"
    WRONG_KEY = "wrong-key"
    """The card holds a key that does not match its certificate: signatures fail to verify."""


@dataclass(frozen=True)
class CertVariants:
    """The variant of each of a card's two certificates, issued and revoked independently.

    Logins (Test SSL, the wallet's card path, PSC's card login) use the authentication
    certificate only, so "authentication expired, signature valid" is a card that cannot log in
    although it can still sign: a scenario has to be able to say it.
    """

    authentication: CertVariant = CertVariant.VALID
    signature: CertVariant = CertVariant.VALID

    @classmethod
    def of(cls, variant: CertVariant | CertVariants) -> CertVariants:
        """One variant stands for both certificates."""
        return variant if isinstance(variant, CertVariants) else cls(variant, variant)

    def as_json(self) -> dict[str, str]:
        return {"authentication": self.authentication.value, "signature": self.signature.value}

    def __str__(self) -> str:
        """``expired`` when both are alike, else ``authentication expired, signature valid``."""
        if self.authentication is self.signature:
            return self.authentication.value
        return f"authentication {self.authentication.value}, signature {self.signature.value}"


class Usage(enum.StrEnum):
    AUTHENTICATION = "auth"
    SIGNATURE = "sign"


@dataclass(frozen=True)
class Professional:
    """Who a card belongs to, as its certificates name them."""

    national_id: str
    surname: str
    given_name: str
    profession: str
    """The ``title`` attribute: the profession's label (``Médecin``, ``Pharmacien``…)."""


@dataclass(frozen=True)
class Issued:
    """One certificate, the key the card holds for it, and the chain up to the root."""

    certificate: x509.Certificate
    key: rsa.RSAPrivateKey
    chain: tuple[x509.Certificate, ...]
    variant: CertVariant = CertVariant.VALID
    """What it was issued as (``revoked``: on the CRL from its issuance on)."""

    @property
    def serial_hex(self) -> str:
        return format(self.certificate.serial_number, "X")

    def key_matches(self) -> bool:
        return self.certificate.public_key() == self.key.public_key()

    def write(self, directory: Path, stem: str, *, p12_password: bytes = b"") -> dict[str, Path]:
        """Write PEM, DER, the key, the chain and a PKCS#12 bundle; returns the paths by kind.

        A ``wrong-key`` pair has no PKCS#12: the format binds a key to its certificate, and a
        bundle that cannot be opened as a pair would only move the failure somewhere else.
        """
        directory.mkdir(parents=True, exist_ok=True)
        encryption = (
            serialization.BestAvailableEncryption(p12_password) if p12_password else serialization.NoEncryption()
        )
        files = {
            "cert.pem": self.certificate.public_bytes(serialization.Encoding.PEM),
            "cert.der": self.certificate.public_bytes(serialization.Encoding.DER),
            "key.pem": self.key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
            "chain.pem": b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain),
        }
        if self.key_matches():
            files["p12"] = pkcs12.serialize_key_and_certificates(
                stem.encode(), self.key, self.certificate, list(self.chain), encryption
            )
        paths = {}
        for kind, data in files.items():
            path = directory / f"{stem}.{kind}"
            path.write_bytes(data)
            paths[kind] = path
        return paths


@dataclass(frozen=True)
class CardCredentials:
    """The two key pairs of a CPS card: authentication (TLS, PSC) and signature."""

    professional: Professional
    authentication: Issued
    signature: Issued

    @property
    def variants(self) -> CertVariants:
        return CertVariants(self.authentication.variant, self.signature.variant)

    def __iter__(self) -> Iterator[Issued]:
        return iter((self.authentication, self.signature))


def _serial(*parts: str) -> int:
    """A 128-bit positive serial derived from what the certificate is, so reruns match."""
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:16], "big") >> 1


class CardPki:
    """``TEST AC RACINE IGC-SANTE FORT`` → ``TEST AC IGC-SANTE FORT PERSONNES`` → CPS certificates.

    Also the authority's memory (issued and revoked serials), from which the publication site
    answers CRL and OCSP requests.
    """

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys
        root_key = keys.rsa("ca/test-racine-igc-sante-fort", 4096)
        root_cert = self._ca_cert(ca_name(ROOT_CN), root_key, ca_name(ROOT_CN), root_key, path_length=1)
        personnes_key = keys.rsa("ca/test-ac-igc-sante-fort-personnes", 2048)
        personnes_cert = self._ca_cert(ca_name(PERSONNES_CN), personnes_key, ca_name(ROOT_CN), root_key, path_length=0)
        self.root = AuthorityState(root_cert, root_key, issued={personnes_cert.serial_number})
        self.personnes = AuthorityState(personnes_cert, personnes_key)

    @property
    def authorities(self) -> dict[str, AuthorityState]:
        return {"root": self.root, "personnes": self.personnes}

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """Intermediate then root: what a verifier needs beside a card certificate."""
        return (self.personnes.certificate, self.root.certificate)

    def _ca_cert(
        self,
        subject: x509.Name,
        key: rsa.RSAPrivateKey,
        issuer: x509.Name,
        issuer_key: rsa.RSAPrivateKey,
        *,
        path_length: int,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(_serial("ca", subject.rfc4514_string()))
            .not_valid_before(CA_NOT_BEFORE)
            .not_valid_after(CA_NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        )
        if subject != issuer:
            builder = builder.add_extension(_crl_distribution(hosts.ROOT_CRL_PATH), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    def issue(
        self,
        professional: Professional,
        now: dt.datetime,
        variant: CertVariant | CertVariants = CertVariant.VALID,
        *,
        validity: dt.timedelta = CARD_VALIDITY,
    ) -> CardCredentials:
        """Both certificates of a card, each shaped by its variant relative to ``now`` (the world clock).

        One ``variant`` stands for both certificates; ``CertVariants`` gives each its own.
        ``expired`` lies wholly in the past (like the guide's 2018–2021 example), ``not-yet-valid``
        starts in 30 days, ``revoked`` is valid but on the CRL and answered revoked by OCSP from
        ``now`` on (that certificate only: its serial is its own), ``wrong-key`` pairs the
        certificate with another key on the card.
        """
        variants = CertVariants.of(variant)
        auth, sign = (
            self._issue_shaped(professional, usage, shaped, now, validity)
            for usage, shaped in (
                (Usage.AUTHENTICATION, variants.authentication),
                (Usage.SIGNATURE, variants.signature),
            )
        )
        return CardCredentials(professional, auth, sign)

    def _issue_shaped(
        self, who: Professional, usage: Usage, variant: CertVariant, now: dt.datetime, validity: dt.timedelta
    ) -> Issued:
        not_before = now - dt.timedelta(days=1)
        if variant is CertVariant.EXPIRED:
            not_before = now - validity - dt.timedelta(days=30)
        elif variant is CertVariant.NOT_YET_VALID:
            not_before = now + dt.timedelta(days=30)
        issued = self._issue_one(who, usage, variant, not_before, not_before + validity)
        if variant is CertVariant.REVOKED:
            self.revoke(issued.certificate, now)
        return issued

    def _issue_one(
        self,
        who: Professional,
        usage: Usage,
        variant: CertVariant,
        not_before: dt.datetime,
        not_after: dt.datetime,
    ) -> Issued:
        label = f"card/{who.national_id}/{usage}"
        cert_key = self.keys.rsa(label)
        card_key = self.keys.rsa(f"{label}-mismatch") if variant is CertVariant.WRONG_KEY else cert_key
        authentication = usage is Usage.AUTHENTICATION
        builder = (
            x509.CertificateBuilder()
            .subject_name(professional_name(who.national_id, who.surname, who.given_name, who.profession))
            .issuer_name(self.personnes.certificate.subject)
            .public_key(cert_key.public_key())
            .serial_number(_serial(label, variant, not_before.isoformat()))
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                _key_usage(digital_signature=authentication, content_commitment=not authentication), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(cert_key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.personnes.key.public_key()),
                critical=False,
            )
            .add_extension(_crl_distribution(hosts.CRL_PATH), critical=False)
            .add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.OCSP,
                            x509.UniformResourceIdentifier(PUBLICATION + hosts.OCSP_PATH),
                        ),
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.CA_ISSUERS,
                            x509.UniformResourceIdentifier(PUBLICATION + hosts.CA_CERT_PATHS["personnes"]),
                        ),
                    ]
                ),
                critical=False,
            )
        )
        if authentication:
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        certificate = builder.sign(self.personnes.key, hashes.SHA256())
        self.personnes.issued.add(certificate.serial_number)
        return Issued(certificate, card_key, self.chain, variant)

    # -- revocation (the card declared lost: "opposition") ---------------------------------
    def revoke(
        self,
        certificate: x509.Certificate,
        when: dt.datetime,
        reason: x509.ReasonFlags = x509.ReasonFlags.key_compromise,
    ) -> None:
        serial = certificate.serial_number
        if serial not in self.personnes.issued:
            raise ValueError(f"certificate {serial:X} was not issued by {PERSONNES_CN}")
        self.personnes.revoked[serial] = Revocation(serial, when, reason)


def _key_usage(**allowed: bool) -> x509.KeyUsage:
    """A KeyUsage with only the named usages set (cryptography wants all nine spelled out)."""
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")  # fmt: skip
    return x509.KeyUsage(**{name: allowed.get(name, False) for name in names})


def _crl_distribution(path: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints(
        [
            x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(PUBLICATION + path)],
                relative_name=None,
                reasons=None,
                crl_issuer=None,
            )
        ]
    )
