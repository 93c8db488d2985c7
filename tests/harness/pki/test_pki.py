"""The test PKI, verified by openssl (an independent implementation), not by the code that built it."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import ssl
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from harness.cli.doctor import tls_handshake
from harness.pki import CertVariant, CertVariants, KeyStore, Pki, Professional
from harness.pki.names import PERSONNES_CN, ROOT_CN
from simulators.web import hosts
from simulators.web.igc.rules import build_crl
from simulators.world.clock import EARLIEST, LATEST


def openssl(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30, check=check)


def write_pem(path: Path, *certs: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    return path


@pytest.fixture
def chain_files(pki: Pki, tmp_path: Path) -> tuple[Path, Path]:
    root = write_pem(tmp_path / "root.pem", pki.cards.root.certificate)
    inter = write_pem(tmp_path / "inter.pem", pki.cards.personnes.certificate)
    return root, inter


def verify(card_pem: Path, chain_files: tuple[Path, Path], *extra: str) -> subprocess.CompletedProcess[str]:
    root, inter = chain_files
    return openssl("verify", "-CAfile", str(root), "-untrusted", str(inter), *extra, str(card_pem))


# -- the chain and the profiles ----------------------------------------------------------------
def test_ca_names_follow_igc_sante(pki: Pki) -> None:
    root, inter = pki.cards.root.certificate, pki.cards.personnes.certificate
    assert root.subject.rfc4514_string() == (f"CN={ROOT_CN},OU=IGC-SANTE TEST,OU=0002 187512751,O=ASIP-SANTE,C=FR")
    assert inter.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == PERSONNES_CN
    assert inter.issuer == root.subject
    assert root.public_key().key_size == 4096  # type: ignore[union-attr]


def test_ca_certificates_are_identical_across_runs(pki_cache: Path) -> None:
    """Fixed dates and serials over cached keys: a trust store made once stays valid."""
    a, b = Pki(pki_cache), Pki(pki_cache)
    assert a.cards.root.certificate == b.cards.root.certificate
    assert a.cards.personnes.certificate == b.cards.personnes.certificate
    assert a.server.ca.cert_pem.bytes() == b.server.ca.cert_pem.bytes()


def test_valid_card_certificates_verify_with_openssl(
    pki: Pki, alain: Professional, now: dt.datetime, tmp_path: Path, chain_files: tuple[Path, Path]
) -> None:
    card = pki.cards.issue(alain, now)
    for issued in card:
        paths = issued.write(tmp_path, issued.certificate.serial_number.__str__())
        result = verify(paths["cert.pem"], chain_files)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().endswith(": OK")
    result = verify(
        write_pem(tmp_path / "auth.pem", card.authentication.certificate), chain_files, "-purpose", "sslclient"
    )
    assert result.returncode == 0, result.stderr


def test_subject_is_a_multivalued_rdn_with_title(
    pki: Pki, alain: Professional, now: dt.datetime, tmp_path: Path
) -> None:
    card = pki.cards.issue(alain, now)
    pem = write_pem(tmp_path / "c.pem", card.authentication.certificate)
    subject = openssl("x509", "-in", str(pem), "-noout", "-subject", "-nameopt", "RFC2253,-esc_msb", check=True).stdout
    rdn = subject.removeprefix("subject=").strip().split(",")
    assert set(rdn[0].split("+")) == {"CN=899700209812", "SN=D0000020981", "GN=ALAIN"}
    assert rdn[1:] == ["title=Médecin", "C=FR"]


def test_key_usages_separate_authentication_from_signature(pki: Pki, alain: Professional, now: dt.datetime) -> None:
    card = pki.cards.issue(alain, now)
    auth_ku = card.authentication.certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    sign_ku = card.signature.certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert auth_ku.digital_signature and not auth_ku.content_commitment
    assert sign_ku.content_commitment and not sign_ku.digital_signature
    eku = card.authentication.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    for issued in card:
        assert issued.certificate.public_key().key_size == 2048  # type: ignore[union-attr]
        lifetime = issued.certificate.not_valid_after_utc - issued.certificate.not_valid_before_utc
        assert lifetime == dt.timedelta(days=3 * 365)


@pytest.mark.parametrize(
    ("variant", "openssl_error"),
    [(CertVariant.EXPIRED, "certificate has expired"), (CertVariant.NOT_YET_VALID, "certificate is not yet valid")],
)
def test_time_variants_fail_openssl_verification(
    variant: CertVariant,
    openssl_error: str,
    pki: Pki,
    alain: Professional,
    now: dt.datetime,
    tmp_path: Path,
    chain_files: tuple[Path, Path],
) -> None:
    card = pki.cards.issue(alain, now, variant)
    result = verify(write_pem(tmp_path / "c.pem", card.authentication.certificate), chain_files)
    assert result.returncode != 0
    assert openssl_error in result.stdout + result.stderr


def test_wrong_key_variant_holds_a_key_that_does_not_match(
    pki: Pki, alain: Professional, now: dt.datetime, tmp_path: Path, chain_files: tuple[Path, Path]
) -> None:
    card = pki.cards.issue(alain, now, CertVariant.WRONG_KEY)
    assert not card.authentication.key_matches()
    paths = card.authentication.write(tmp_path, "wrong")
    assert verify(paths["cert.pem"], chain_files).returncode == 0  # the certificate itself is fine
    cert_pub = openssl("x509", "-in", str(paths["cert.pem"]), "-noout", "-pubkey", check=True).stdout
    key_pub = openssl("pkey", "-in", str(paths["key.pem"]), "-pubout", check=True).stdout
    assert cert_pub != key_pub
    assert pki.cards.issue(alain, now).authentication.key_matches()


# -- one variant per certificate ------------------------------------------------------------
def test_each_certificate_gets_its_own_dates(
    pki: Pki, alain: Professional, now: dt.datetime, tmp_path: Path, chain_files: tuple[Path, Path]
) -> None:
    """Authentication expired, signature valid: openssl refuses the one and accepts the other."""
    card = pki.cards.issue(alain, now, CertVariants(authentication=CertVariant.EXPIRED))
    assert card.variants == CertVariants(CertVariant.EXPIRED, CertVariant.VALID)
    expired = verify(write_pem(tmp_path / "auth.pem", card.authentication.certificate), chain_files)
    assert expired.returncode != 0 and "certificate has expired" in expired.stdout + expired.stderr
    valid = verify(write_pem(tmp_path / "sign.pem", card.signature.certificate), chain_files)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert card.signature.certificate.not_valid_before_utc <= now < card.signature.certificate.not_valid_after_utc


def test_revocation_is_per_certificate(
    pki: Pki, alain: Professional, now: dt.datetime, tmp_path: Path, chain_files: tuple[Path, Path]
) -> None:
    """A revoked signature certificate is on the CRL; the valid authentication one of the same card is not."""
    card = pki.cards.issue(alain, now, CertVariants(signature=CertVariant.REVOKED))
    crl = tmp_path / "crl.pem"
    crl.write_bytes(build_crl(pki.cards.personnes, now).public_bytes(serialization.Encoding.PEM))
    checked = ("-crl_check", "-CRLfile", str(crl))
    auth = verify(write_pem(tmp_path / "auth.pem", card.authentication.certificate), chain_files, *checked)
    assert auth.returncode == 0, auth.stdout + auth.stderr
    sign = verify(write_pem(tmp_path / "sign.pem", card.signature.certificate), chain_files, *checked)
    assert sign.returncode != 0 and "certificate revoked" in sign.stdout + sign.stderr
    assert set(pki.cards.personnes.revoked) == {card.signature.certificate.serial_number}


def test_wrong_key_is_per_key(pki: Pki, alain: Professional, now: dt.datetime) -> None:
    card = pki.cards.issue(alain, now, CertVariants(authentication=CertVariant.WRONG_KEY))
    assert not card.authentication.key_matches()
    assert card.signature.key_matches()


def test_one_variant_stands_for_both_certificates(pki: Pki, alain: Professional, now: dt.datetime) -> None:
    card = pki.cards.issue(alain, now, CertVariant.REVOKED)
    assert card.variants == CertVariants.of(CertVariant.REVOKED)
    assert set(pki.cards.personnes.revoked) == {issued.certificate.serial_number for issued in card}
    assert str(card.variants) == "revoked"
    assert str(CertVariants(CertVariant.EXPIRED)) == "authentication expired, signature valid"


def test_exports_pem_der_and_pkcs12(pki: Pki, alain: Professional, now: dt.datetime, tmp_path: Path) -> None:
    card = pki.cards.issue(alain, now)
    paths = card.authentication.write(tmp_path, "auth", p12_password=b"1234")
    der_fingerprint = openssl(
        "x509", "-inform", "DER", "-in", str(paths["cert.der"]), "-noout", "-fingerprint", check=True
    )
    pem_fingerprint = openssl("x509", "-in", str(paths["cert.pem"]), "-noout", "-fingerprint", check=True)
    assert der_fingerprint.stdout == pem_fingerprint.stdout
    info = openssl("pkcs12", "-in", str(paths["p12"]), "-passin", "pass:1234", "-nokeys", check=True).stdout
    assert info.count("BEGIN CERTIFICATE") == 3  # card, intermediate, root
    wrong = openssl("pkcs12", "-in", str(paths["p12"]), "-passin", "pass:0000", "-nokeys")
    assert wrong.returncode != 0


# -- the key cache -------------------------------------------------------------------------
def test_key_cache_returns_the_same_key_in_a_new_store(tmp_path: Path) -> None:
    first = KeyStore(tmp_path).rsa("card/1/auth", 1024)
    again = KeyStore(tmp_path).rsa("card/1/auth", 1024)
    assert first.private_numbers() == again.private_numbers()
    assert KeyStore(tmp_path).rsa("card/2/auth", 1024).public_key() != first.public_key()


def test_concurrent_stores_agree_on_one_key(tmp_path: Path) -> None:
    """Parallel workers racing to create one label all end up with the winner's key."""
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        keys = list(pool.map(lambda _: KeyStore(tmp_path).rsa("race", 1024), range(4)))
    on_disk = KeyStore(tmp_path).rsa("race", 1024)
    assert all(k.private_numbers() == on_disk.private_numbers() for k in keys)
    assert [p.name for p in (tmp_path / "keys").iterdir()] == ["race.rsa1024.pem"]


def test_key_labels_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="key label"):
        KeyStore(tmp_path).rsa("../escape")


# -- TLS servers (trustme) -----------------------------------------------------------------
@pytest.mark.parametrize("host", hosts.TLS_SITES)
def test_every_site_certificate_verifies_for_its_host(session_pki: Pki, host: str) -> None:
    server = session_pki.server
    assert tls_handshake(server.client_context(), server.server_context(host), host).startswith("TLSv1.")


def test_a_site_certificate_is_refused_for_another_host(session_pki: Pki) -> None:
    server = session_pki.server
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        tls_handshake(server.client_context(), server.server_context(hosts.WALLET), hosts.TESTSSL)


def test_the_server_ca_is_not_trusted_by_default(session_pki: Pki) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_handshake(ssl.create_default_context(), session_pki.server.server_context(hosts.PSC), hosts.PSC)


def test_ca_bundle_works_with_openssl(session_pki: Pki, tmp_path: Path) -> None:
    bundle = session_pki.server.write_ca_bundle(tmp_path)
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(session_pki.server.leaf(hosts.SIDEP).cert_chain_pems[0].bytes())
    result = openssl("verify", "-CAfile", str(bundle), "-verify_hostname", hosts.SIDEP, str(leaf))
    assert result.returncode == 0, result.stdout + result.stderr


def test_unknown_host_is_a_clear_error(session_pki: Pki) -> None:
    with pytest.raises(KeyError, match="known hosts"):
        session_pki.server.leaf("example.org")


@pytest.mark.parametrize("at", [EARLIEST, LATEST + dt.timedelta(days=366)], ids=["earliest", "a-year-past-latest"])
def test_every_variant_and_a_crl_can_be_issued_wherever_a_world_clock_may_stand(
    pki: Pki, alain: Professional, at: dt.datetime
) -> None:
    """The clock's bounds (``simulators/world/clock.py``) keep what is computed from it inside X.509
    and ``datetime``: at the earliest instant, and a year past the latest (a running clock drifts on),
    each variant's certificates (3 years and 30 days either side) and a CRL (a week ahead) exist."""
    for variant in CertVariant:
        card = pki.cards.issue(alain, at, variant)
        for issued in (card.authentication.certificate, card.signature.certificate):
            assert issued.not_valid_before_utc.year >= 1950
            assert issued.not_valid_before_utc < issued.not_valid_after_utc
    assert build_crl(pki.cards.personnes, at).next_update_utc > at
