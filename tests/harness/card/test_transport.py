"""Commands vpcd's framing cannot carry, and power cycles, through the real stack (pyscard in a child).

vpcd frames messages as a 2-byte length and a payload, and takes a 1-byte payload for a control: a
client's 1-byte APDU used to reach the card as "power off" and hang the client forever; an empty
one was never sent but still waited for; one over 65,535 bytes made vpcd drop the card. The
stack's reader driver (``harness/pcsc/vpcd_guard.c``) now answers those itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from harness.card.host import CardHost
from harness.card.profile import load_profile, make_card
from harness.pki import Pki

ANSWER_WITHIN = 2.0
"""Seconds a client may wait for any answer or error (the issue's bound; the guard takes microseconds)."""
NOT_TRANSACTED = 0x80100016
VERIFY_PIN = "002000010431323334"  # the built-in profiles' PIN, 1234
PIN_STATUS = "00200001"  # VERIFY without data: 9000 while the PIN is verified, 63Cx otherwise
SELECT_APP = "00A4040C0DE828BD080F8025000001FF0010"

CLIENT = """
import ctypes, json, sys, time
from smartcard import scard

def emit(**fields):
    print(json.dumps(fields), flush=True)

rc, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
rc, card, protocol = scard.SCardConnect(context, sys.argv[1], scard.SCARD_SHARE_SHARED,
                                        scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
assert rc == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(rc)

class IoRequest(ctypes.Structure):
    _fields_ = [("protocol", ctypes.c_ulong), ("length", ctypes.c_ulong)]

def transmit_empty():
    # pyscard refuses an empty list before libpcsclite sees it; a C client can send one
    lib = ctypes.CDLL("libpcsclite.so.1")
    request = IoRequest(protocol, ctypes.sizeof(IoRequest))
    sent, received = (ctypes.c_ubyte * 1)(), (ctypes.c_ubyte * 258)()
    length = ctypes.c_ulong(len(received))
    rc = lib.SCardTransmit(ctypes.c_long(card), ctypes.byref(request), sent, ctypes.c_ulong(0), None,
                           received, ctypes.byref(length))
    return rc, list(received[: length.value])

for step in sys.argv[2:]:
    if step == "unpower":
        emit(step=step, rc=scard.SCardDisconnect(card, scard.SCARD_UNPOWER_CARD) & 0xFFFFFFFF)
        break
    started = time.monotonic()
    if step == "empty":
        rc, response = transmit_empty()
    else:
        apdu = bytes(int(step[6:])) if step.startswith("zeros:") else bytes.fromhex(step)
        rc, response = scard.SCardTransmit(card, protocol, list(apdu))
    rc &= 0xFFFFFFFF
    sw = bytes(response[-2:]).hex().upper() if rc == 0 else None
    emit(step=step, rc=rc, sw=sw, seconds=time.monotonic() - started)
"""


@pytest.fixture(scope="module")
def host() -> Iterator[CardHost]:
    with CardHost() as card_host:
        yield card_host


@pytest.fixture
def inserted(host: CardHost, session_pki: Pki) -> Iterator[CardHost]:
    host.insert(make_card(load_profile("pharmacist"), session_pki)[0])
    yield host
    host.remove()


def client(host: CardHost, *steps: str) -> list[dict[str, Any]]:
    """Run the steps in one PC/SC connection; a step that hung fails here, after a bounded wait."""
    done = subprocess.run(
        [sys.executable, "-c", CLIENT, host.stack.readers[0].name, *steps],
        env=host.client_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert [a["step"] for a in answers] == list(steps), done.stderr[-2000:]
    return answers


def test_short_apdus_are_answered_at_once_and_the_card_keeps_its_state(inserted: CardHost) -> None:
    """Each 1-byte APDU (the four vpcd controls among them), an empty one, and 2 and 3 bytes: 6700
    within 2 s; the card still answers a SELECT and keeps its verified PIN after each."""
    shorts = ["00", "01", "02", "03", "04", "FF", "empty", "0000", "000000"]
    steps = [VERIFY_PIN]
    for short in shorts:
        steps += [short, SELECT_APP, PIN_STATUS]
    answers = client(inserted, *steps)
    assert answers[0]["sw"] == "9000"
    for index, short in enumerate(shorts):
        answer, select, status = answers[1 + 3 * index : 4 + 3 * index]
        print(f"{short}: {answer['sw']} in {answer['seconds'] * 1e6:.0f} µs")  # figures: pytest -s
        assert answer["rc"] == 0 and answer["sw"] == "6700", answer
        assert answer["seconds"] < ANSWER_WITHIN, answer
        assert select["sw"] == "9000", (short, select)
        assert status["sw"] == "9000", f"the PIN is no longer verified after {short}: {status}"
    state = inserted.status()[0]
    assert state["present"] and state["reconnects"] == 0, state


def test_an_apdu_too_long_for_vpcd_is_a_clean_error_and_the_card_stays(inserted: CardHost) -> None:
    """65,536 bytes cannot be framed: SCARD_E_NOT_TRANSACTED within 2 s, no removal, the PIN still
    verified; 65,535 bytes (the most vpcd carries) reach the card, which says wrong length."""
    answers = client(inserted, VERIFY_PIN, "zeros:65536", SELECT_APP, PIN_STATUS, "zeros:65535", PIN_STATUS)
    verify, too_long, select, status, longest, status_again = answers
    assert verify["sw"] == "9000"
    assert too_long["rc"] == NOT_TRANSACTED and too_long["seconds"] < ANSWER_WITHIN, too_long
    assert select["sw"] == "9000" and status["sw"] == "9000", (select, status)
    assert longest["sw"] == "6700" and status_again["sw"] == "9000", (longest, status_again)
    state = inserted.status()[0]
    assert state["present"] and state["reconnects"] == 0, state
    assert "cannot be framed" in inserted.stack.log_path.read_text(errors="replace")


def test_a_power_off_by_pcscd_still_resets_the_card(inserted: CardHost) -> None:
    """SCardDisconnect(SCARD_UNPOWER_CARD) reaches the card as a power-off: the verified PIN is lost."""
    verify, unpower = client(inserted, VERIFY_PIN, "unpower")
    assert verify["sw"] == "9000" and unpower["rc"] == 0
    deadline = time.monotonic() + 5
    state = inserted.status()[0]
    while state["powered"] and time.monotonic() < deadline:  # the power-off is on its way to the card
        time.sleep(0.01)
        state = inserted.status()[0]
    assert not state["powered"], state
    assert state["codes"]["pin"]["verified"] is False, state
    assert client(inserted, PIN_STATUS)[0]["sw"] == "63C3"


LEAVE_THEN_UNPOWER = """
import sys
from smartcard import scard
rc, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
rc, card, protocol = scard.SCardConnect(context, sys.argv[1], scard.SCARD_SHARE_SHARED,
                                        scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
rc, response = scard.SCardTransmit(card, protocol, [0x00, 0xDE, 0x00, 0x00])  # the card pulls itself out
print(hex(rc & 0xFFFFFFFF), flush=True)
print(hex(scard.SCardDisconnect(card, scard.SCARD_UNPOWER_CARD) & 0xFFFFFFFF), flush=True)
"""


def test_a_card_inserted_as_soon_as_a_client_saw_the_last_one_leave_is_taken(host: CardHost, session_pki: Pki) -> None:
    """A card leaves mid-command; the client's SCardDisconnect(SCARD_UNPOWER_CARD) finds the slot
    empty, so pcscd lists it empty before its poller has looked, and the next card goes in at once.
    The poller used to take that card for the old one and never power it (the harness pulled it
    out and in again, 2.3 s; measured 8 times in 8); the guard tells the poller first."""
    for _ in range(3):
        card, _ = make_card(load_profile("pharmacist"), session_pki)
        card.faults.remove_on_ins = 0xDE
        host.insert(card)
        done = subprocess.run(
            [sys.executable, "-c", LEAVE_THEN_UNPOWER, host.stack.readers[0].name],
            env=host.client_env(), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        assert host.status()[0]["removal"] == "removed mid-transaction (fault)"
        host.insert(make_card(load_profile("pharmacist"), session_pki)[0])  # no wait for the poller
        assert client(host, PIN_STATUS)[0]["sw"] == "63C3"
        host.remove()
