"""The virtual card through a real private pcscd, used by unmodified OpenSC and openssl."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from harness.card.host import CardHost
from harness.card.profile import load_profile, make_card
from harness.card.vpcd import Removal
from harness.pki import CardCredentials, Pki
from simulators.card.cpx import CpxCard

MODULE = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"
AUTH_ID = "e828bd080f8025000001ff001002"
SHA256_PREFIX = bytes.fromhex("3031300D060960864801650304020105000420")


@pytest.fixture(scope="module")
def host() -> Iterator[CardHost]:
    with CardHost(mute_watchdog=1.0) as card_host:
        yield card_host


@pytest.fixture
def inserted(host: CardHost, session_pki: Pki) -> Iterator[tuple[CpxCard, CardCredentials]]:
    card, credentials = make_card(load_profile("pharmacist"), session_pki)
    host.insert(card)
    yield card, credentials
    host.remove()


def tool(
    host: CardHost, *args: str, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), env={**host.client_env(), **(env or {})}, capture_output=True, text=True, timeout=timeout
    )


def p11(host: CardHost, *args: str) -> subprocess.CompletedProcess[str]:
    return tool(host, "pkcs11-tool", "--module", MODULE, *args)


def opensc_explorer(host: CardHost, command: str) -> subprocess.CompletedProcess[str]:
    """One opensc-explorer command, read from standard input as a script (its exit status is the command's)."""
    return subprocess.run(
        ["opensc-explorer", "/dev/stdin"], input=command + "\n", env=host.client_env(),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def sign_digest_info(host: CardHost, digest_info: Path, signature: Path) -> subprocess.CompletedProcess[str]:
    """CKM_RSA_PKCS over a ready DigestInfo with the authentication key: OpenSC's CPx signing path."""
    return p11(host, "--login", "--pin", "1234", "-m", "RSA-PKCS", "--sign", "--id", AUTH_ID,
               "-i", str(digest_info), "-o", str(signature))  # fmt: skip


def test_opensc_matches_the_card_as_cpx(host: CardHost, inserted: object, tmp_path: Path) -> None:
    conf = tmp_path / "opensc.conf"
    log = tmp_path / "debug.log"
    conf.write_text(f"app default {{\n debug = 3;\n debug_file = {log};\n}}\n")
    result = tool(host, "opensc-tool", "-n", env={"OPENSC_CONF": str(conf)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "IAS-ECC"
    assert "'IAS/ECC CPx' card matched" in log.read_text()


def test_pkcs15_tool_lists_every_object(host: CardHost, inserted: object) -> None:
    result = tool(host, "pkcs15-tool", "-D")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for label in (
        "PIN [Code porteur de la carte CPS]",
        "PIN [Code de déblocage de la carte CPS]",
        "Private RSA Key [CPS_PRIV_AUT]",
        "Private RSA Key [CPS_PRIV_SIG]",
        "X.509 Certificate [Certificat d'Authentification CPS]",
        "X.509 Certificate [Certificat de Signature CPS]",
        "Data object 'CPS_ID_CARD'",
        "Data object 'CPS_NAME_PS'",
        "Data object 'CPS_INFO_PS'",
        "Data object 'CPS_ACTIVITY_01_PS'",
        "Data object 'CPS_DATA'",
    ):
        assert label in out, label
    assert out.index("CPS_PRIV_SIG") < out.index("CPS_PRIV_AUT"), "a real CPS3's PrKDF: the signature key first"
    assert "Manufacturer ID: ASIP SANTE" in out and "Last update    : 20100316110000Z" in out
    assert "unblock-disabled" in out and "needs-padding" in out and "soPin" in out


def test_pkcs15_tool_reads_exactly_the_profiles_certificate(
    host: CardHost, inserted: tuple[CpxCard, CardCredentials]
) -> None:
    result = tool(host, "pkcs15-tool", "--read-certificate", AUTH_ID)
    assert result.returncode == 0, result.stderr
    read = x509.load_pem_x509_certificate(result.stdout.encode())
    assert read == inserted[1].authentication.certificate


def test_pkcs11_tool_test_passes_on_the_authentication_key(host: CardHost, inserted: object) -> None:
    """Random, RSA-PKCS verify and chained decipher pass on CPS_PRIV_AUT.

    A real CPS3's PrKDF lists CPS_PRIV_SIG first, and ``pkcs11-tool --test`` runs its signature
    functions on the first key only: CKM_RSA_X_509/RSA_PKCS are not the signature key's
    mechanisms, so it stops there ("testing key 0 (CPS_PRIV_SIG)" and nothing more) — a real card
    gives the same. The one error OpenSC reports is SHA1-RSA-PKCS on CPS_PRIV_SIG: OpenSC 0.23
    asks a CPx card to hash on card (MSE HT + DST), then needs OpenSSL internals compiled out
    under OpenSSL 3 and returns CKR_FUNCTION_NOT_SUPPORTED (docs §2.7).
    """
    result = p11(host, "--login", "--pin", "1234", "--test")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "C_SeedRandom() and C_GenerateRandom():" in out and "seems to be OK" in out
    signatures = out[out.index("Signatures (currently only for RSA)") : out.index("Verify (currently only for RSA)")]
    assert signatures.split("\n")[1].strip() == "testing key 0 (CPS_PRIV_SIG)"
    assert "testing key 1 (CPS_PRIV_AUT) with 1 mechanism\n    RSA-PKCS: OK" in out
    assert out.count("RSA-PKCS: OK") >= 2  # verify and decrypt on the authentication key
    errors = [line.strip() for line in out.splitlines() if "ERR" in line]
    assert errors == ["SHA1-RSA-PKCS:   ERR: C_Sign() returned CKR_FUNCTION_NOT_SUPPORTED (0x54)"]


def test_rsa_pkcs_signature_verifies_with_openssl(
    host: CardHost, inserted: tuple[CpxCard, CardCredentials], tmp_path: Path
) -> None:
    data = tmp_path / "data.txt"
    data.write_bytes(b"compte rendu SI-DEP")
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data.read_bytes())
    (tmp_path / "di.bin").write_bytes(SHA256_PREFIX + digest.finalize())
    signature = tmp_path / "sig.bin"
    result = sign_digest_info(host, tmp_path / "di.bin", signature)
    assert result.returncode == 0, result.stderr
    public = tmp_path / "pub.pem"
    public.write_bytes(
        inserted[1]
        .authentication.certificate.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    check = subprocess.run(
        ["openssl", "dgst", "-sha256", "-verify", str(public), "-signature", str(signature), str(data)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.stdout.strip() == "Verified OK", check.stderr


def test_wrong_pins_then_lock_then_unblock_then_change(
    host: CardHost, inserted: tuple[CpxCard, CardCredentials]
) -> None:
    card = inserted[0]
    outcomes = [p11(host, "--login", "--pin", "9999", "-O") for _ in range(3)]
    assert card.security.chvs[1].tries_left == 0
    assert "CKR_PIN_INCORRECT" in outcomes[0].stderr
    assert "CKR_PIN_INCORRECT" in outcomes[1].stderr
    assert "CKR_PIN_LOCKED" in outcomes[2].stderr
    assert "CKR_PIN_LOCKED" in p11(host, "--login", "--pin", "1234", "-O").stderr
    statuses = [e.line() for e in card.log if "VERIFY ref 01 ->" in e.line() and "(status)" not in e.line()]
    assert [s.split("-> ")[1][:4] for s in statuses[:4]] == ["63C2", "63C1", "6983", "6983"]

    # A real CPS3's AODF names no PUK object for the PIN (its authId 02 is nobody's): pkcs15-tool then
    # checks the 8-digit PUK against the PIN's maxLength (4) and refuses before asking the card.
    refused = tool(host, "pkcs15-tool", "--unblock-pin", "--puk", "12345678", "--new-pin", "4321")
    assert refused.returncode != 0 and "Invalid PIN length" in refused.stderr
    assert card.security.chvs[2].tries_left == 10, "the card was not asked"
    unblock = opensc_explorer(host, 'unblock CHV1 "12345678" "4321"')
    assert unblock.returncode == 0 and "PIN unblocked." in unblock.stdout, unblock.stdout + unblock.stderr
    assert card.security.chvs[1].tries_left == 3
    assert card.security.chvs[2].usages_left == 99, "a successful PUK spends one of its 100 uses"
    change = tool(host, "pkcs15-tool", "--change-pin", "--pin", "4321", "--new-pin", "5678")
    assert change.returncode == 0, change.stdout + change.stderr
    assert p11(host, "--login", "--pin", "5678", "-O").returncode == 0


def test_the_puk_blocks_after_its_tries(host: CardHost, inserted: tuple[CpxCard, CardCredentials]) -> None:
    tries = [opensc_explorer(host, 'unblock CHV1 "00000000" "4321"') for _ in range(10)]
    assert all(t.returncode != 0 and "PIN code or key incorrect" in t.stderr for t in tries[:9])
    assert "Unable to unblock PIN code" in tries[9].stderr
    puk_answers = [e.line().split("-> ")[1][:4] for e in inserted[0].log if "VERIFY ref 02 ->" in e.line()]
    assert [a for a in puk_answers if a != "63CA"] == [f"63C{n}" for n in range(9, 0, -1)] + ["6983"]
    assert inserted[0].security.chvs[2].tries_left == 0
    again = opensc_explorer(host, 'unblock CHV1 "12345678" "4321"')
    assert again.returncode != 0 and inserted[0].security.chvs[2].tries_left == 0


def test_removed_card_is_seen_as_absent(host: CardHost, session_pki: Pki) -> None:
    host.insert(make_card(load_profile("nurse"), session_pki)[0])
    assert host.remove() is Removal.REQUESTED
    result = tool(host, "opensc-tool", "-n")
    assert result.returncode != 0 and "Card not present" in result.stdout + result.stderr


def test_mute_card_becomes_a_clean_client_error(host: CardHost, session_pki: Pki) -> None:
    """Nothing in pcscd times out; the watchdog (1 s here) pulls the card and the client fails."""
    card, _ = make_card(load_profile("pharmacist"), session_pki)
    card.faults.mute = True
    host.insert(card)
    started = time.monotonic()
    result = tool(host, "opensc-tool", "-n", timeout=30)
    assert result.returncode != 0
    assert time.monotonic() - started < 15
    assert host.status()[0]["removal"] == Removal.MUTE_WATCHDOG.value
    host.remove()


def test_forced_status_on_internal_authenticate_fails_the_signature(
    host: CardHost, inserted: tuple[CpxCard, CardCredentials], tmp_path: Path
) -> None:
    inserted[0].faults.forced_sw[0x88] = 0x6F00
    (tmp_path / "di.bin").write_bytes(SHA256_PREFIX + bytes(32))
    result = sign_digest_info(host, tmp_path / "di.bin", tmp_path / "sig.bin")
    assert result.returncode != 0
    assert any("INTERNAL AUTHENTICATE -> 6F00" in e.line() for e in inserted[0].log)


def test_removal_mid_transaction(host: CardHost, inserted: tuple[CpxCard, CardCredentials]) -> None:
    inserted[0].faults.remove_on_ins = 0x20  # pulled out at the first VERIFY
    result = p11(host, "--login", "--pin", "1234", "-O")
    assert result.returncode != 0
    assert host.status()[0]["removal"] == Removal.FAULT.value


def test_card_run_returns_the_commands_status() -> None:
    base = [sys.executable, "-m", "harness.cli", "card", "run", "--profile", "doctor", "--"]
    ok = subprocess.run([*base, "opensc-tool", "-n"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "IAS-ECC" in ok.stdout
    failing = subprocess.run([*base, "sh", "-c", "exit 7"], capture_output=True, text=True, timeout=60)
    assert failing.returncode == 7
    traced = subprocess.run(
        [*base[:-1], "--trace", "--", "pkcs11-tool", "--module", MODULE, "--login", "--pin", "1234", "-O"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert traced.returncode == 0
    assert "VERIFY ref 01" in traced.stderr and "31 32 33 34" not in traced.stderr
