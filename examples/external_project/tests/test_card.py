"""My PC/SC and PKCS#11 code against a virtual CPS card (the ``cps_card`` fixture of cps-harness).

``cps_card.env`` holds ``PCSCLITE_CSOCK_NAME`` (the private pcscd's socket) and
``PKCS11_MODULE_PATH`` (OpenSC's module): give it to the process that talks to the card. pcsc-lite
reads the socket name once per process, so PC/SC code runs in a child process, as a real tool does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ATR = "3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00"
AUTH_LABEL = "Certificat d'Authentification CPS"
AUTH_ID = "e828bd080f8025000001ff001002"
PIN = "1234"
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
"""The card signs with CKM_RSA_PKCS only (no hashing on card, no PSS): the tool hashes and wraps."""

READ_ATR = """
from smartcard.System import readers
from smartcard.util import toHexString
connection = readers()[0].createConnection()
connection.connect()
print(toHexString(connection.getATR()))
"""


def pkcs11_tool(cps_card, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, **cps_card.env}
    return subprocess.run(
        ["pkcs11-tool", "--module", env["PKCS11_MODULE_PATH"], *args], env=env, capture_output=True, timeout=60
    )


def test_pyscard_reads_the_cps3_atr(cps_card) -> None:
    result = subprocess.run(
        [sys.executable, "-c", READ_ATR],
        env={**os.environ, **cps_card.env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ATR


def test_the_authentication_certificate_comes_from_the_test_igc_sante(cps_card, tmp_path: Path) -> None:
    out = tmp_path / "auth.der"
    result = pkcs11_tool(cps_card, "--read-object", "--type", "cert", "--id", AUTH_ID, "--output-file", str(out))
    assert result.returncode == 0, result.stderr
    certificate = x509.load_der_x509_certificate(out.read_bytes())
    issuer = certificate.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert issuer == "TEST AC IGC-SANTE FORT PERSONNES"


def test_a_pkcs11_signature_verifies_with_the_certificate(cps_card, tmp_path: Path) -> None:
    data, signature, cert = tmp_path / "data", tmp_path / "signature", tmp_path / "auth.der"
    message = b"ordonnance 42"
    digest = hashes.Hash(hashes.SHA256())
    digest.update(message)
    data.write_bytes(SHA256_DIGEST_INFO + digest.finalize())
    assert (
        pkcs11_tool(cps_card, "--read-object", "--type", "cert", "--id", AUTH_ID, "--output-file", str(cert)).returncode
        == 0
    )
    signed = pkcs11_tool(
        cps_card,
        "--login",
        "--pin",
        PIN,
        "--sign",
        "--mechanism",
        "RSA-PKCS",
        "--id",
        AUTH_ID,
        "--input-file",
        str(data),
        "--output-file",
        str(signature),
    )
    assert signed.returncode == 0, signed.stderr
    key = x509.load_der_x509_certificate(cert.read_bytes()).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(signature.read_bytes(), message, padding.PKCS1v15(), hashes.SHA256())  # raises if wrong
    assert cps_card.pin_tries == 3, "a right PIN leaves the counter full"
