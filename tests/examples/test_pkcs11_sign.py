"""examples/pkcs11_sign: a PKCS#11 client signing with the virtual card, checked by openssl."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cryptography import x509

from harness.pytest_plugin import VirtualCard
from tests.support.paths import REPO

SIGN = REPO / "examples" / "pkcs11_sign" / "sign.py"
AUTH_ID = "e828bd080f8025000001ff001002"


def run_sign(card: VirtualCard, data: Path, out: Path, pin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SIGN), str(data), str(out)],
        env={**card.env, "CPS_PIN": pin}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_the_signature_verifies_with_the_cards_certificate(cps_card: VirtualCard, tmp_path: Path) -> None:
    data = tmp_path / "ordonnance.txt"
    data.write_bytes(b"Ordonnance du 28/11/2026\n")
    signed = run_sign(cps_card, data, tmp_path / "sig.bin", "1234")
    assert signed.returncode == 0, signed.stderr
    pem = subprocess.run(["pkcs15-tool", "--read-certificate", AUTH_ID], env=cps_card.env,
                         capture_output=True, text=True, timeout=30).stdout  # fmt: skip
    x509.load_pem_x509_certificate(pem.encode())
    (tmp_path / "cert.pem").write_text(pem)
    pub = subprocess.run(["openssl", "x509", "-in", str(tmp_path / "cert.pem"), "-pubkey", "-noout"],
                         capture_output=True, text=True, timeout=30, check=True).stdout  # fmt: skip
    (tmp_path / "pub.pem").write_text(pub)
    check = subprocess.run(
        ["openssl", "dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"), "-signature", str(tmp_path / "sig.bin"),
         str(data)], capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert check.stdout.strip() == "Verified OK"


def test_wrong_then_blocked_pin(cps_card: VirtualCard, tmp_path: Path) -> None:
    data = tmp_path / "d.txt"
    data.write_text("x")
    answers = [run_sign(cps_card, data, tmp_path / "s.bin", "0000") for _ in range(3)]
    assert [a.returncode for a in answers] == [1, 1, 1]
    assert "code porteur incorrect" in answers[0].stderr
    assert "bloqué" in answers[2].stderr and cps_card.pin_tries == 0
