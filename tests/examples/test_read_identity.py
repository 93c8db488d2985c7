"""``examples/read_identity``: the worked pyscard example, run as a developer runs it.

Most tests go through the real stack (``cps-harness card run``: a private pcscd, vpcd, the
virtual card) and assert on what the example prints. The T=0 corner cases a run never hits
(6Cxx, files over 256 bytes, a blocked PIN) are driven in-process against the same card.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization

from harness.card.profile import BUILTIN_DIR, CodeModel, load_profile, make_card
from harness.pki import Pki
from simulators.card.cpx import CpxCard
from tests.support.paths import REPO

ROOT = REPO
EXAMPLE = "examples/read_identity/read_identity.py"


def run_example(profile: str | Path, *args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    """``cps-harness card run --profile … -- python read_identity.py …`` from the repository root."""
    harness = [sys.executable, "-m", "harness.cli", "card", "run", "--profile", str(profile)]
    return subprocess.run(
        [*harness, "--", sys.executable, EXAMPLE, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        env={**os.environ, "CPS_HARNESS_CACHE": str(cache), "PYTHONIOENCODING": "utf-8"},
    )


def field(stdout: str, label: str) -> str:
    """The value printed after ``label:``."""
    [value] = [line.split(":", 1)[1].strip() for line in stdout.splitlines() if line.startswith(f"{label}:")]
    return value


def activity_lines(stdout: str) -> list[str]:
    return [line.strip() for line in stdout.splitlines() if line.startswith("  ") and ". " in line]


# -- through the real stack ----------------------------------------------------------------------
def test_pharmacist_identity_without_pin(pki_cache: Path) -> None:
    result = run_example("pharmacist", cache=pki_cache)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert field(out, "National id") == "899700075122 (RPPS)"
    assert field(out, "Holder") == "MME CAROLE PHARMACH0007512"
    assert field(out, "Profession") == "21 Pharmacien"
    assert field(out, "Card").startswith("CPS, serial ")
    assert field(out, "Activities") == "1 (PIN-protected: give --pin to read them)"
    assert activity_lines(out) == []


def test_nurse_with_pin_reads_her_activity(pki_cache: Path) -> None:
    result = run_example("nurse", "--pin", "1234", cache=pki_cache)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert field(out, "National id") == "0756012345 (ADELI)"  # 0 + ADELI, kept as text
    assert field(out, "Holder") == "MME SOPHIE INFIRMIERE0001"
    assert field(out, "PIN") == "verified"
    assert activity_lines(out) == [
        "1. L (libéral), sector SA07: CABINET INFIRMIER DU PORT [R60000001], 13002 MARSEILLE"
    ]


def test_wrong_pin_says_two_tries_left_and_exits_1(pki_cache: Path) -> None:
    result = run_example("pharmacist", "--pin", "9999", cache=pki_cache)
    assert result.returncode == 1
    assert "wrong PIN: 2 tries left (63C2)" in result.stderr
    assert field(result.stdout, "Holder") == "MME CAROLE PHARMACH0007512"  # read before the PIN
    assert activity_lines(result.stdout) == []
    assert "9999" not in result.stdout + result.stderr  # the PIN is never echoed


def test_a_profile_file_is_data(pki_cache: Path, tmp_path: Path) -> None:
    profile: dict[str, Any] = yaml.safe_load((BUILTIN_DIR / "doctor.yaml").read_text(encoding="utf-8"))
    profile["holder"]["first_name"] = "BERNADETTE"
    path = tmp_path / "my-doctor.yaml"
    path.write_text(yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8")
    result = run_example(path, "--pin", "1234", cache=pki_cache)
    assert result.returncode == 0, result.stdout + result.stderr
    assert field(result.stdout, "Holder") == "M BERNADETTE D0000020981"
    assert field(result.stdout, "Profession") == "10 Médecin, specialty SM26"
    assert [line.split(": ", 1)[1] for line in activity_lines(result.stdout)] == [
        "CABINET M D0000020981 [R95141], 75009 PARIS",
        "HOPITAL TEST [F750000001], 75013 PARIS",
    ]


def test_an_empty_reader_is_named_and_exits_2(pki_cache: Path) -> None:
    result = run_example("pharmacist", "--reader", "1", cache=pki_cache)
    assert result.returncode == 2
    assert "no card in Virtual PCD 00 01" in result.stderr
    assert result.stdout == ""


def test_no_pcsc_service_exits_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, EXAMPLE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PCSCLITE_CSOCK_NAME": str(tmp_path / "no-pcscd.comm")},
    )
    assert result.returncode == 2
    assert "no PC/SC service" in result.stderr


# -- the same code in-process, against the sans-IO card -------------------------------------------
@pytest.fixture(scope="module")
def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("read_identity", ROOT / EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class DirectConnection:
    """pyscard's ``transmit`` shape over ``CpxCard.process``, with a log of what was sent."""

    def __init__(self, card: CpxCard) -> None:
        self.card = card
        self.sent: list[bytes] = []

    def transmit(self, apdu: list[int]) -> tuple[list[int], int, int]:
        self.sent.append(bytes(apdu))
        answer = self.card.process(bytes(apdu))
        return list(answer[:-2]), answer[-2], answer[-1]


def test_6cxx_is_answered_by_resending_with_the_right_le(example: Any, session_pki: Pki) -> None:
    card, _ = make_card(load_profile("pharmacist"), session_pki)
    connection = DirectConnection(card)
    reader = example.Card(connection)
    reader.select_application()
    size = reader.select_ef(0x7102)
    data, sw = reader.transmit(bytes.fromhex("00B0000000"))  # Le 00: 256 wanted
    assert sw == 0x9000
    assert len(data) == size
    assert connection.sent[-1] == bytes([0x00, 0xB0, 0x00, 0x00, size])
    assert example.utf8_strings(data)[0] == "CPS"


def test_a_file_over_256_bytes_is_read_in_chunks(example: Any, session_pki: Pki) -> None:
    card, credentials = make_card(load_profile("doctor"), session_pki)
    connection = DirectConnection(card)
    reader = example.Card(connection)
    reader.select_application()
    certificate = reader.read_ef(0xA001)  # the authentication certificate
    assert len(certificate) > 256
    assert certificate == credentials.authentication.certificate.public_bytes(serialization.Encoding.DER)
    assert bytes.fromhex("00B00100") in {apdu[:4] for apdu in connection.sent}  # offset 256


def test_the_last_wrong_pin_blocks_it(example: Any, session_pki: Pki) -> None:
    profile = load_profile("nurse").model_copy(update={"pin": CodeModel(value="1234", tries_left=1)})
    card, _ = make_card(profile, session_pki)
    reader = example.Card(DirectConnection(card))
    reader.select_application()
    with pytest.raises(example.CardError, match=r"blocked \(6983\)"):
        reader.verify_pin("9999")  # the card answers 6983 at once, not 63C0
    with pytest.raises(example.CardError, match=r"blocked \(6983\)"):
        reader.verify_pin("1234")  # even the right PIN
