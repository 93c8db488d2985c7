"""The virtual card held against real CPS3 cards, in process: every exchange OpenSC's issue tracker
recorded (``tests/data/cpx-real-cards.txt``) gets the real card's answer, byte for byte, and what
tools decoded from real cards (TokenInfo, PrKDF, SDOs, EF.DIR) is what the virtual card holds."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from harness.card.profile import load_profile, make_card
from harness.pki import Pki
from simulators.card import pkcs15
from simulators.card.cpx import CpxCard
from simulators.card.tlv import iter_tlv
from tests.support import real_cards

SESSIONS = real_cards.load()


def test_the_transcription_holds_every_complete_exchange() -> None:
    """The data file is what the shared doc lists: 8 sessions, 26 recorded exchanges, 4 sources."""
    assert len(SESSIONS) == 8
    assert sum(len(s.recorded) for s in SESSIONS) == 26
    assert {s.source.split(" (")[0] for s in SESSIONS} == {"issue 2220", "issue 2223", "issue 2224", "issue 2275"}


@pytest.fixture(params=["pharmacist", "doctor", "nurse"])
def card(request: pytest.FixtureRequest, session_pki: Pki) -> CpxCard:
    made, _ = make_card(load_profile(request.param), session_pki)
    return made


@pytest.mark.parametrize("session", SESSIONS, ids=[s.name for s in SESSIONS])
def test_every_recorded_exchange_gets_the_real_answer(card: CpxCard, session: real_cards.Session) -> None:
    card.power_on()
    problems, _ = real_cards.replay(session, card.process)
    assert problems == [], f"{session.name} ({session.source})"


def test_the_signature_hashed_on_card_is_the_message_s(session_pki: Pki) -> None:
    """Issue 2275's signature: PSO HASH with the message itself, then 256 bytes of signature in a
    61 00 and two GET RESPONSEs (E7, then 19). The bytes are a PKCS#1 SHA-1 signature of the message."""
    card, credentials = make_card(load_profile("doctor"), session_pki)
    session = next(s for s in SESSIONS if "signs" in s.name)
    problems, answers = real_cards.replay(session, card.process)
    assert problems == []
    signature = answers[-2][:-2] + answers[-1][:-2]
    assert len(signature) == 256
    public = credentials.signature.certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    message = b"x" * 19 + b"\n"
    public.verify(signature, message, padding.PKCS1v15(), hashes.SHA1())  # the middleware's choice, not ours


def named_bits(bit_string: bytes) -> int:
    """A named-bit BIT STRING as OpenSC decodes it: bit n (from the first byte's MSB) is ``1 << n``."""
    unused, content = bit_string[0], bit_string[1:]
    total = len(content) * 8 - unused
    return sum(1 << n for n in range(total) if content[n // 8] & (0x80 >> (n % 8)))


def _get(card: CpxCard, apdu: str) -> bytes:
    answer = card.process(bytes.fromhex(apdu))
    data = b""
    while answer[-2] == 0x61:
        data += answer[:-2]
        answer = card.process(bytes([0, 0xC0, 0, 0, answer[-1]]))
    assert answer[-2:] == b"\x90\x00", answer.hex()
    return data + answer[:-2]


def _file(card: CpxCard, path: str) -> bytes:
    fcp = _get(card, f"00A40904{len(path) // 2:02X}{path}")
    size = int.from_bytes(dict(iter_tlv(fcp[2:]))[0x80], "big")
    content = b""
    while len(content) < size:
        chunk = min(0xE7, size - len(content))
        content += _get(card, f"00B0{len(content):04X}{chunk:02X}")
    return content


def test_what_tools_decoded_from_real_cards(card: CpxCard) -> None:
    """iasecc-tool --list-sdos (pull 2217), pkcs15-tool's TokenInfo and PrKDF (issue 2267): the
    instance-independent values, read from the card's bytes."""
    pin = _get(card, "00CB3FFF0A4D087006BF810102A080")
    puk = _get(card, "00CB3FFF0A4D087006BF810202A080")
    assert bytes.fromhex("9A01039B0103") in pin and bytes.fromhex("8C06F3000013FF00") in pin
    assert bytes.fromhex("9A010A9B010A9D020064") in puk and bytes.fromhex("8C06F3FF00FFFF00") in puk
    token_info = dict(iter_tlv(next(v for t, v in iter_tlv(_file(card, "3F0000015032")) if t == 0x30)))
    assert token_info[0x02] == b"\x00" and token_info[0x0C] == b"ASIP SANTE"  # version 0, manufacturer
    assert token_info[0x80].startswith(b"CPS3v3-") and token_info[0x03] == bytes.fromhex("06C0")  # readonly, login
    assert dict(iter_tlv(token_info[0xA5]))[0x18] == b"20100316110000Z"
    algorithms = [list(iter_tlv(v)) for _, v in iter_tlv(token_info[0xA2])]
    decoded = [(int.from_bytes(a[0][1]), int.from_bytes(a[1][1]), a[4][1], int.from_bytes(a[5][1])) for a in algorithms]
    assert (
        decoded[:4]
        == [
            (1, 0x220, pkcs15.oid("1.3.14.3.2.26")[2:], 0x10),  # CKM_SHA_1, hash
            (2, 0x250, pkcs15.oid("2.16.840.1.101.3.4.2.1")[2:], 0x40),  # CKM_SHA256, hash
            (3, 0x06, pkcs15.oid("1.2.840.113549.1.1.5")[2:], 0x12),  # CKM_SHA1_RSA_PKCS, compute_signature
            (4, 0x40, pkcs15.oid("1.2.840.113549.1.1.11")[2:], 0x42),  # CKM_SHA256_RSA_PKCS, compute_signature
        ]
    )
    assert decoded[4][:2] == (5, 0x01)  # CKM_RSA_PKCS (the rest was cut off in the issue)
    # supportedOperations as OpenSC prints them: hash [0x40], hash, compute_signature [0x02], compute_signature
    assert [named_bits(a[3][1]) for a in algorithms[:4]] == [0x40, 0x40, 0x02, 0x02]
    assert len(pkcs15.SUPPORTED_ALGORITHMS[3]) == 2 + 26, "SEQUENCE(26){INTEGER 4, INTEGER 64, NULL, BIT STRING…}"
    prkdf = _file(card, "3F0000017002")
    assert prkdf.index(b"CPS_PRIV_SIG") < prkdf.index(b"CPS_PRIV_AUT"), "the signature key first"
    ef_dir = _file(card, "3F002F00")
    assert len(ef_dir) == 0x65 and ef_dir.startswith(bytes.fromhex("61294F0DE828BD080F8025000001FF00105007"))
    assert b"CPX IAS" in ef_dir and bytes.fromhex("730F4F0DE828BD080F8025000001FF0010") in ef_dir
