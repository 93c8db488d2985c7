"""The virtual card held against real CPS3 cards through the real stack: the recorded exchanges
(``tests/data/cpx-real-cards.txt``) sent raw by a PC/SC client through pcscd and vpcd, and what
OpenSC's own tools printed for real cards (iasecc-tool, pkcs15-tool) printed again here."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from harness.card.host import CardHost
from harness.card.profile import load_profile, make_card
from harness.pki import Pki
from tests.support import real_cards

RAW_CLIENT = """
import json, sys
from smartcard import scard

sessions = json.load(sys.stdin)
rc, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
rc, readers = scard.SCardListReaders(context, [])
rc, card, protocol = scard.SCardConnect(context, readers[0], scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T0)
assert rc == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(rc)
answers = []
for commands in sessions:
    # a warm reset before each session: the card starts with the MF current, as the sources' did
    rc, protocol = scard.SCardReconnect(card, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T0, scard.SCARD_RESET_CARD)
    assert rc == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(rc)
    session = []
    for command in commands:
        rc, answer = scard.SCardTransmit(card, scard.SCARD_PCI_T0, list(bytes.fromhex(command)))
        assert rc == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(rc)
        session.append(bytes(answer).hex())
    answers.append(session)
print(json.dumps(answers))
"""


@pytest.fixture(scope="module")
def host(pki_cache: object) -> Iterator[CardHost]:
    with CardHost() as card_host:
        card_host.insert(make_card(load_profile("doctor"), Pki(pki_cache))[0])  # type: ignore[arg-type]
        yield card_host


def run(host: CardHost, *command: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        list(command), input=stdin, env=host.client_env(), capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_every_recorded_exchange_gets_the_real_answer_through_pcscd(host: CardHost) -> None:
    sessions = real_cards.load()
    commands = [[step.command.hex() for step in session.steps] for session in sessions]
    answers = json.loads(run(host, sys.executable, "-c", RAW_CLIENT, stdin=json.dumps(commands)))
    problems = [
        f"{session.name}: {step.command.hex().upper()}: {why}"
        for session, got in zip(sessions, answers, strict=True)
        for step, answer in zip(session.steps, got, strict=True)
        if (why := step.mismatch(bytes.fromhex(answer)))
    ]
    assert problems == []
    assert sum(len(s.recorded) for s in sessions) == 26


def test_iasecc_tool_prints_what_it_printed_for_a_real_card(host: CardHost) -> None:
    """Pull 2217: ``iasecc-tool --list-sdos 1`` and ``--list-applications`` on a real CPx card."""
    sdos = [line.strip() for line in run(host, "iasecc-tool", "--list-sdos", "1").splitlines()]
    assert sdos == [
        "Found SDO class 1, reference 1",
        "contact ACLs:\tF3:00:00:13:FF:00",
        "tries maximum:\t03",
        "tries remaining:\t03",
        "Found SDO class 1, reference 2",
        "contact ACLs:\tF3:FF:00:FF:FF:00",
        "tries maximum:\t0A",
        "tries remaining:\t0A",
        "usage remaining:\t00:64",
    ]
    applications = run(host, "iasecc-tool", "--list-applications")
    assert (
        "Application 'CPX IAS':\n\tAID: E828BD080F8025000001FF0010\n\tDDO: 4F0DE828BD080F8025000001FF0010"
        in applications
    )
    assert "CPX IAS CL" not in applications, "the contactless application is left out (docs/client-tool-developer.md)"


def test_pkcs15_tool_prints_what_it_printed_for_a_real_card(host: CardHost) -> None:
    """Issue 2267: TokenInfo (``--list-info``) and the PrKDF (``-k``) of a real CPS3, but for the
    serial; issue 2224: the AODF's labels."""
    info = run(host, "pkcs15-tool", "--list-info")
    for line in (
        "PKCS#15 Card [CPS3v3-TEST]:",
        "Version        : 0",
        "Manufacturer ID: ASIP SANTE",
        "Last update    : 20100316110000Z",
        "Flags          : Read-only, Login required",
    ):
        assert line in info
    algorithms = [
        (mechanism.strip(), operations.strip(), algo_id.strip(), algo_ref.strip())
        for mechanism, operations, algo_id, algo_ref in zip(
            *(
                [line.split(":", 1)[1] for line in info.splitlines() if line.strip().startswith(field)]
                for field in ("mechanism", "operations", "algo_id", "algo_ref")
            ),
            strict=True,
        )
    ]
    assert algorithms[:4] == [
        ("[0x220] CKM_SHA_1", "[0x40], hash", "1.3.14.3.2.26", "[0x10]"),
        ("[0x250] CKM_SHA256", "[0x40], hash", "2.16.840.1.101.3.4.2.1", "[0x40]"),
        ("[0x06] CKM_SHA1_RSA_PKCS", "[0x02], compute_signature", "1.2.840.113549.1.1.5", "[0x12]"),
        ("[0x40] CKM_SHA256_RSA_PKCS", "[0x02], compute_signature", "1.2.840.113549.1.1.11", "[0x42]"),
    ]
    assert algorithms[4][0] == "[0x01] CKM_RSA_PKCS"
    keys = run(host, "pkcs15-tool", "-k").split("Private RSA Key ")[1:]
    assert [k.split("]")[0] for k in keys] == ["[CPS_PRIV_SIG", "[CPS_PRIV_AUT"]
    for key, usage, rules, reference, key_id in (
        (keys[0], "[0x200], nonRepudiation", "pso_cds:01;", "129 (0x81)", "e828bd080f8025000001ff001001"),
        (
            keys[1],
            "[0x06], decrypt, sign",
            "pso_decrypt:01; int_auth:01;",
            "130 (0x82)",
            "e828bd080f8025000001ff001002",
        ),
    ):
        fields = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in key.splitlines()[1:]) if v}
        assert fields["Usage"] == usage and fields["Access Rules"] == rules and fields["Key ref"] == reference
        assert fields["Access Flags"].startswith("[0x0D]") and fields["ModLength"] == "2048"
        assert fields["Auth ID"] == "01" and fields["ID"] == key_id
    dump = run(host, "pkcs15-tool", "-D")
    assert "PIN [Code porteur de la carte CPS]" in dump and "PIN [Code de déblocage de la carte CPS]" in dump
