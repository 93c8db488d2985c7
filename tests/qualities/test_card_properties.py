"""Property tests of the virtual CPS3 card (``simulators.card.cpx``), driven by hypothesis.

The card is sans-IO (``card.process(apdu) -> data + SW``), so hypothesis can throw thousands of
command sequences at it in seconds. Three properties, on the built-in ``pharmacist`` card:

1. Robustness: any APDU (random bytes, random headers over the card's instructions, well-formed
   commands that reach deep states) is answered, never raised, with a status word of the ISO
   set the card uses, and never ``6F00`` (the card's "an exception was swallowed" answer).
2. The PIN guard: INTERNAL AUTHENTICATE, PSO DECIPHER and PSO CDS never succeed, and the
   activity EFs (``D12x``) never give data, unless the PIN was verified since the last power-on
   and no failed comparison came after (a reference model of the security status).
3. The retry counters: they fall by one on a wrong code and only then, come back to the maximum
   only on a right code or a RESET RETRY COUNTER that presented the PUK, never move on status
   queries or on anything else, and a blocked code stays blocked (a reference model of the CHVs).

Property 1 also has an exhaustive companion (every well-formed command of the strategies in
every state worth reaching) and property 2 a plain test showing its oracle does see successes.

Run length: the ``ci`` hypothesis profile is the default (300 examples a test, 30 steps a
state-machine run, no deadline; failures print the shrunk APDU trace and a
``@reproduce_failure`` blob); the whole file takes about 25 s on one core. For a long local
run set ``CPS_FUZZ_EXAMPLES``, which selects the ``fuzz`` profile (that many examples a test,
60 steps a run), and lift pytest's 120 s timeout::

    CPS_FUZZ_EXAMPLES=20000 .venv/bin/python -m pytest tests/test_card_properties.py -p no:xdist --timeout=0
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from harness.card.profile import card_spec, load_profile, make_card
from harness.pki import Pki
from simulators.card.cpx import ATR, CpxCard
from simulators.card.faults import Faults
from simulators.card.fs import DF, EF
from simulators.card.layout import (
    ACTIVITY_FIRST_FID,
    APP_FID,
    MAX_ACTIVITIES,
    PIN_REF,
    PUK_REF,
    CardSpec,
    Code,
    build_card,
)
from simulators.card.pkcs15 import APP_AID
from simulators.card.tlv import tag_bytes, tlv
from tests.qualities.fuzz_card import ChvModel  # one model of a code's counter, shared with the mutation fuzzer

# -- hypothesis profiles --------------------------------------------------------------------------
FUZZ_EXAMPLES = int(os.environ.get("CPS_FUZZ_EXAMPLES") or 0)
settings.register_profile(
    "ci",
    max_examples=300,
    stateful_step_count=30,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz", settings.get_profile("ci"), max_examples=max(FUZZ_EXAMPLES, 1), stateful_step_count=60
)
PROFILE = settings.get_profile("fuzz" if FUZZ_EXAMPLES else "ci")
"""Applied test by test (not loaded globally) so other test modules keep their own settings."""

# -- the card --------------------------------------------------------------------------------------
PIN = b"1234"
PUK = b"12345678"
DIGITS = "0123456789"
ACTIVITY_FIDS = frozenset(range(ACTIVITY_FIRST_FID, ACTIVITY_FIRST_FID + MAX_ACTIVITIES))
CHV_INS = frozenset({0x20, 0x24, 0x2C})
KNOWN_INS = (0xA4, 0xB0, 0xD6, 0xC0, 0x84, 0xCB, 0x20, 0x24, 0x2C, 0x22, 0x88, 0x2A)

FIXED_SW = frozenset(
    {
        0x9000, 0x6282, 0x6700, 0x6881, 0x6882, 0x6884, 0x6981, 0x6982, 0x6983, 0x6985, 0x6986,
        0x6A80, 0x6A81, 0x6A82, 0x6A86, 0x6A88, 0x6B00, 0x6D00, 0x6E00,
    }
)  # fmt: skip
"""The status words of the issue's list; 61xx, 6Cxx and 63Cx are checked by pattern."""


@functools.cache
def pharmacist_spec(pki: Pki) -> CardSpec:
    """The pharmacist's ``CardSpec``: ``make_card`` issues certificates (ms), so once per PKI."""
    profile = load_profile("pharmacist")
    _card, credentials = make_card(profile, pki)
    return card_spec(profile, credentials)


def fresh_card(spec: CardSpec, **changes: Any) -> CpxCard:
    """A new card from ``spec`` (0.6 ms): new files, counters and state, nothing shared."""
    return build_card(dataclasses.replace(spec, faults=Faults(), **changes))


PIN_PADDED = 8
"""The PIN's storedLength: a candidate of 8 bytes is taken without its trailing FF (the AODF's needs-padding)."""


def unpadded(candidate: bytes) -> bytes:
    return candidate.rstrip(b"\xff") if len(candidate) == PIN_PADDED else candidate


def apdu(cla: int, ins: int, p1: int, p2: int, data: bytes = b"", *, le: int | None = None) -> bytes:
    """A short command APDU: header, then ``Lc data`` if any, then ``Le`` if given (P3 when no data)."""
    out = bytes([cla, ins, p1, p2])
    if data:
        out += bytes([len(data)]) + data
    if le is not None:
        out += bytes([le & 0xFF])
    return out


def status_word(answer: bytes) -> int:
    return int.from_bytes(answer[-2:], "big")


def known_sw(sw: int) -> bool:
    return sw in FIXED_SW or sw >> 8 in (0x61, 0x6C) or sw & 0xFFF0 == 0x63C0


def carries_data(sw: int) -> bool:
    """Only success, end of file (6282) and "more data" (61xx) may come with response data."""
    return sw in (0x9000, 0x6282) or sw >> 8 == 0x61


def where(trace: list[str]) -> str:
    """The last exchanges, for assertion messages (only built when an assertion fails)."""
    return f"after {len(trace)} exchanges, the last ones:\n  " + "\n  ".join(trace[-25:])


def check_answer(command: bytes, answer: bytes, trace: list[str]) -> int:
    """Property 1 on one exchange; returns the status word."""
    hx = command.hex(" ").upper()
    assert len(answer) >= 2, f"answer {answer.hex()} to {hx}: shorter than a status word; {where(trace)}"
    sw = status_word(answer)
    assert sw != 0x6F00, f"6F00 to {hx}: the card swallowed an internal exception (a bug); {where(trace)}"
    assert known_sw(sw), f"{sw:04X} to {hx}: outside the card's ISO set; {where(trace)}"
    data = answer[:-2]
    assert not data or carries_data(sw), f"{len(data)} data bytes with error {sw:04X} to {hx}; {where(trace)}"
    assert len(data) <= 256, f"{len(data)} data bytes to {hx}: more than a short response holds; {where(trace)}"
    return sw


def exchange(card: CpxCard, command: bytes, trace: list[str]) -> tuple[bytes, int]:
    try:
        answer = card.process(command)
    except Exception as exc:  # property 1: process() never raises
        raise AssertionError(f"process({command.hex()}) raised {exc!r}; {where(trace)}") from exc
    sw = check_answer(command, answer, trace)
    trace.append(f"{command.hex(' ').upper()} -> {answer[:-2].hex().upper()[:16]} {sw:04X}")
    return answer[:-2], sw


def all_efs(df: DF) -> Iterable[EF]:
    for node in df.children.values():
        if isinstance(node, DF):
            yield from all_efs(node)
        else:
            yield node


def get_data_header(sdo: int, part: int) -> bytes:
    """``4D { 70 { <SDO tag> { <part> 80 } } }`` as OpenSC's iasecc driver asks for an SDO part."""
    return tlv(0x4D, tlv(0x70, tlv(sdo, tag_bytes(part) + b"\x80")))


# -- APDU strategies --------------------------------------------------------------------------------
BYTE = st.integers(0, 255)
CLASSES = st.one_of(st.just(0x00), st.sampled_from([0x10, 0x0C, 0x04, 0x01, 0x03, 0x20, 0x40, 0x80, 0xA0]), BYTE)
INSTRUCTIONS = st.one_of(st.sampled_from(KNOWN_INS), BYTE)
PARAMETERS = st.one_of(
    st.sampled_from(
        list(bytes.fromhex("00 01 02 03 04 08 09 0C 3F 41 80 81 82 86 90 9A 9C 9D 9E A0 A4 AA B6 B8 F3 FF"))
    ),
    BYTE,
)
MSE_COMMANDS = [
    bytes.fromhex("00 22 41 A4 06 84 01 82 80 01 02"),  # authentication, RSA PKCS#1
    bytes.fromhex("00 22 41 B8 06 84 01 82 80 01 1A"),  # decipherment
    bytes.fromhex("00 22 41 B6 06 84 01 81 80 01 42"),  # DST: SHA-256 RSA with the signature key
    bytes.fromhex("00 22 41 B6 06 84 01 81 80 01 12"),  # DST: SHA-1 RSA
    bytes.fromhex("00 22 41 AA 03 80 01 40"),  # HT: SHA-256
    bytes.fromhex("00 22 41 AA 03 80 01 10"),  # HT: SHA-1
    bytes.fromhex("00 22 41 A4 06 84 01 81 80 01 02"),  # the signature key for authentication: refused
    bytes.fromhex("00 22 F3 00"),  # RESTORE
]
GET_DATA_COMMANDS = [
    apdu(0x00, 0xCB, 0x3F, 0xFF, get_data_header(sdo, part))
    for sdo, part in [
        (0xBF8101, 0xA0),
        (0xBF8101, 0x7F41),
        (0xBF8102, 0xA0),
        (0xBF8103, 0xA0),
        (0xBF9002, 0xA0),
        (0xBF9001, 0xA0),
        (0xBFFB01, 0x7B),
        (0xBFFB03, 0x7B),
        (0xBFFB02, 0x7B),
        (0xBF8101, 0x5F),
    ]
]
SELECT_COMMANDS = [
    apdu(0x00, 0xA4, 0x04, 0x0C, APP_AID),
    apdu(0x00, 0xA4, 0x04, 0x00, APP_AID),
    apdu(0x00, 0xA4, 0x00, 0x0C),
    apdu(0x00, 0xA4, 0x00, 0x00, b"\x3f\x00"),
    apdu(0x00, 0xA4, 0x01, 0x0C, b"\x00\x01"),
    apdu(0x00, 0xA4, 0x03, 0x0C),
    apdu(0x00, 0xA4, 0x02, 0x0C, b"\xd1\x20"),
    apdu(0x00, 0xA4, 0x00, 0x04, b"\xd1\x20"),
    apdu(0x00, 0xA4, 0x08, 0x0C, bytes.fromhex("0001D120")),
    apdu(0x00, 0xA4, 0x09, 0x00, bytes.fromhex("3F000001D120")),
    apdu(0x00, 0xA4, 0x09, 0x0C, bytes.fromhex("0001D121")),
    apdu(0x00, 0xA4, 0x08, 0x0C, bytes.fromhex("00017102")),
    apdu(0x00, 0xA4, 0x08, 0x00, bytes.fromhex("00017106")),
    apdu(0x00, 0xA4, 0x08, 0x04, bytes.fromhex("0001A001")),
    apdu(0x00, 0xA4, 0x02, 0x0C, b"\x50\x31"),
    apdu(0x00, 0xA4, 0x02, 0x04, b"\x2f\x00"),
    apdu(0x00, 0xA4, 0x08, 0x0C, bytes.fromhex("D003")),
]
CHV_COMMANDS = [
    apdu(0x00, 0x20, 0x00, 0x01, PIN),
    apdu(0x00, 0x20, 0x00, 0x01),
    apdu(0x00, 0x20, 0x00, 0x01, le=0),
    apdu(0x00, 0x20, 0xFF, 0x01),
    apdu(0x00, 0x20, 0x00, 0x01, b"9999"),
    apdu(0x00, 0x20, 0x00, 0x02, PUK),
    apdu(0x00, 0x24, 0x01, 0x01, PIN),
    apdu(0x00, 0x24, 0x00, 0x01, PIN + PIN),
    apdu(0x00, 0x2C, 0x00, 0x01, PUK + PIN),
    apdu(0x00, 0x2C, 0x01, 0x01, PUK),
    apdu(0x00, 0x2C, 0x02, 0x01, PIN),
    apdu(0x00, 0x2C, 0x03, 0x01),
]
OTHER_COMMANDS = [
    bytes.fromhex("00 2A 9E 9A 00"),
    bytes.fromhex("00 2A 9E 9A"),
    bytes.fromhex("00 84 00 00 08"),
    bytes.fromhex("00 C0 00 00 00"),
    bytes.fromhex("00 B0 00 00 00"),
]
FIXED_COMMANDS = SELECT_COMMANDS + MSE_COMMANDS + GET_DATA_COMMANDS + CHV_COMMANDS + OTHER_COMMANDS
INTERESTING_DATA = st.sampled_from(
    [
        APP_AID,
        b"\x3f\x00",
        b"\x00\x01",
        b"\xd1\x20",
        bytes.fromhex("0001D120"),
        bytes.fromhex("3F000001D120"),
        PIN,
        PUK,
        PUK + PIN,
        PIN + b"5678",
        bytes.fromhex("8401828001 02"),
        bytes.fromhex("84 01 82 80 01 1A"),
        bytes.fromhex("80 01 40"),
        b"\x81" + bytes(128),
        b"\x90\x20" + bytes(32),
        b"\x90\x14" + bytes(20),
        get_data_header(0xBF8101, 0xA0),
        get_data_header(0xBF9002, 0xA0),
        tlv(0x4D, tlv(0x70, b"")),
        tlv(0x4D, tlv(0x70, tlv(0xBF8101, b"\x7f"))),
        tlv(0x4D, b"\x70\x83\xff\xff\xff"),
        b"\x9f",
        b"\xbf\xff\xff\xff\xff",
    ]
)
COMMAND_DATA = st.one_of(st.binary(min_size=1, max_size=255), INTERESTING_DATA)


@st.composite
def structured_apdus(draw: st.DrawFn) -> bytes:
    """A random header over the card's instructions, in one of the ISO cases or a broken one."""
    header = bytes([draw(CLASSES), draw(INSTRUCTIONS), draw(PARAMETERS), draw(PARAMETERS)])
    shape = draw(st.sampled_from(["case 1", "P3 only", "Lc data", "Lc data Le", "bad length"]))
    if shape == "case 1":
        return header
    if shape == "P3 only":
        return header + bytes([draw(BYTE)])
    if shape == "bad length":
        return header + draw(st.binary(min_size=1, max_size=40))
    data = draw(COMMAND_DATA)
    return header + bytes([len(data)]) + data + (bytes([draw(BYTE)]) if shape == "Lc data Le" else b"")


@st.composite
def well_formed_apdus(draw: st.DrawFn) -> bytes:
    """Commands a host really sends, with random parameters, so that sequences reach deep states
    (PIN verified, MSE set, data pending for GET RESPONSE, a decipherment chain open)."""
    kinds = ["fixed", "fixed", "fixed", "read", "get response", "update", "int auth", "decipher", "hash"]
    kind = draw(st.sampled_from(kinds))
    if kind == "read":
        p1 = draw(st.one_of(st.just(0x00), st.sampled_from([0x9C, 0x9D, 0x9E, 0x81]), BYTE))
        return apdu(0x00, 0xB0, p1, draw(st.one_of(st.just(0), BYTE)), le=draw(BYTE))
    if kind == "get response":
        return apdu(0x00, 0xC0, 0x00, 0x00, le=draw(BYTE))
    if kind == "update":
        return apdu(0x00, 0xD6, draw(st.sampled_from([0x00, 0x01, 0x02])), draw(BYTE), draw(COMMAND_DATA))
    if kind == "int auth":
        le = draw(st.one_of(st.none(), BYTE))
        return apdu(0x00, 0x88, 0x00, 0x00, draw(st.binary(min_size=1, max_size=130)), le=le)
    if kind == "decipher":
        cla = draw(st.sampled_from([0x00, 0x10]))
        return apdu(cla, 0x2A, 0x80, 0x86, b"\x81" + draw(st.binary(min_size=0, max_size=254)))
    if kind == "hash":
        return apdu(0x00, 0x2A, 0x90, 0xA0, b"\x90" + bytes([32]) + draw(st.binary(min_size=32, max_size=32)))
    return draw(st.sampled_from(FIXED_COMMANDS))


RAW_APDUS = st.binary(max_size=300)
ANY_APDU = st.one_of(RAW_APDUS, structured_apdus(), well_formed_apdus())


def not_a_chv_command(command: bytes) -> bool:
    """Whether the card cannot take ``command`` as VERIFY / CHANGE / RESET RETRY COUNTER
    (only CLA 00 reaches those handlers: every other class is refused by the class check)."""
    return len(command) < 4 or command[0] != 0x00 or command[1] not in CHV_INS


NOISE = ANY_APDU.filter(not_a_chv_command)
SCRIPT_STEP = st.one_of(RAW_APDUS, structured_apdus(), well_formed_apdus(), well_formed_apdus(), st.none())
"""One step of a script: an APDU (well-formed ones twice as likely) or ``None``, a power-on."""
SELECTS = st.one_of(
    st.sampled_from(SELECT_COMMANDS),
    st.builds(
        lambda p1, p2, fid: apdu(0x00, 0xA4, p1, p2, fid),
        st.sampled_from([0x00, 0x01, 0x02, 0x08, 0x09]),
        st.sampled_from([0x00, 0x04, 0x0C]),
        st.one_of(
            st.sampled_from([b"\xd1\x20", b"\xd1\x21", b"\x00\x01", b"\x3f\x00"]), st.binary(min_size=2, max_size=2)
        ),
    ),
)
MSES = st.one_of(
    st.sampled_from(MSE_COMMANDS),
    st.builds(
        lambda p1, p2, data: apdu(0x00, 0x22, p1, p2, data),
        st.sampled_from([0x41, 0xF3, 0x81, 0x01]),
        st.sampled_from([0xA4, 0xB6, 0xB8, 0xAA, 0x00]),
        st.one_of(
            st.builds(lambda k, a: tlv(0x84, bytes([k])) + tlv(0x80, bytes([a])), BYTE, BYTE), st.binary(max_size=255)
        ),
    ),
)

# =================================================================================================
# Property 1: every APDU gets an ISO status word of the card's set, never an exception or 6F00.
# =================================================================================================


@settings(PROFILE)
@given(script=st.lists(SCRIPT_STEP, min_size=5, max_size=40), t0_get_response=st.booleans())
def test_every_apdu_gets_a_known_status_word(
    session_pki: Pki, script: list[bytes | None], t0_get_response: bool
) -> None:
    """Readers and middleware only survive a card that always answers: a sequence of arbitrary
    commands (``None``: a power-on) must give each an answer ending in a status word of the
    card's ISO set, never 6F00 (an internal exception) nor an exception out of ``process``."""
    card = fresh_card(pharmacist_spec(session_pki), t0_get_response=t0_get_response)
    trace: list[str] = []
    for command in script:
        if command is None:
            assert card.power_on() == ATR
            trace.append("power_on()")
            continue
        exchange(card, command, trace)


@settings(PROFILE)
@given(command=st.binary(max_size=300))
def test_single_raw_apdu_on_a_fresh_card(session_pki: Pki, command: bytes) -> None:
    """The plainest fuzz: one arbitrary byte string, 0 to 300 bytes, on a just-powered card."""
    exchange(fresh_card(pharmacist_spec(session_pki)), command, [])


STATES = {
    "fresh": [],
    "application selected": [apdu(0x00, 0xA4, 0x04, 0x0C, APP_AID)],
    "activity selected": [apdu(0x00, 0xA4, 0x08, 0x0C, bytes.fromhex("0001D120"))],
    "PIN verified": [apdu(0x00, 0x20, 0x00, PIN_REF, PIN), apdu(0x00, 0xA4, 0x08, 0x0C, bytes.fromhex("0001D120"))],
    "PIN verified, MSE set": [apdu(0x00, 0x20, 0x00, PIN_REF, PIN), *MSE_COMMANDS[:5]],
    "PUK verified": [apdu(0x00, 0x20, 0x00, PUK_REF, PUK)],
    "PIN blocked": [apdu(0x00, 0x20, 0x00, PIN_REF, b"0000")] * 3,
    "data pending": [apdu(0x00, 0xA4, 0x04, 0x00, APP_AID)],
    "chain open": [apdu(0x10, 0x2A, 0x80, 0x86, b"\x81" + bytes(100))],
}


def test_every_known_command_in_every_known_state(session_pki: Pki) -> None:
    """Exhaustive complement of the random runs: each well-formed command of the strategies,
    in each state worth reaching, on both transports (a few thousand exchanges, < 1 s)."""
    spec = pharmacist_spec(session_pki)
    for t0_get_response in (True, False):
        for state, prefix in STATES.items():
            for command in FIXED_COMMANDS:
                card = fresh_card(spec, t0_get_response=t0_get_response)
                trace = [f"state {state!r}, t0_get_response={t0_get_response}"]
                for step in [*prefix, command]:
                    exchange(card, step, trace)


# =================================================================================================
# Property 2: the PIN cannot be bypassed.
# =================================================================================================


class PinGuard(RuleBasedStateMachine):
    """Reference model of the PIN's security status: ``unlocked`` becomes True when a VERIFY of
    the right PIN answers 9000 (or a CHANGE REFERENCE DATA that presented it), and False at
    power-on, on a VERIFY FF (reset of the status) and on any failed comparison of a PIN-shaped
    code (4 to 8 bytes; malformed codes are refused before any comparison, 6A80, and leave the
    status as it was). The RSA operations on keys 82 and 81 and reads of the activity EFs may
    only succeed while ``unlocked``; the PUK (verified or inline in RESET RETRY COUNTER) gives a
    new PIN, never the PIN's rights, and unblocking needs it."""

    def __init__(self, spec: CardSpec) -> None:
        super().__init__()
        self.spec = spec
        self.card = fresh_card(spec)
        self.pin = spec.pin.value.encode()
        self.unlocked = False
        self.puk_verified = False
        self.trace: list[str] = []
        self.auth_public = spec.authentication.key.public_key()
        app = self.card.mf.child(APP_FID)
        assert isinstance(app, DF)
        self.activities = {ef.fid: bytes(ef.content) for ef in all_efs(app) if ef.fid in ACTIVITY_FIDS}
        assert self.activities, "the pharmacist profile has activities: nothing to guard otherwise"
        public = [bytes(ef.content) for ef in all_efs(self.card.mf) if ef.fid not in ACTIVITY_FIDS]
        self.secret_grams = {
            content[i : i + 8]
            for content in self.activities.values()
            for i in range(len(content) - 7)
            if not any(content[i : i + 8] in p for p in public)
        }
        """8-byte pieces of the activity EFs found in no public EF: seeing one anywhere is a leak."""

    @initialize(t0_get_response=st.booleans(), pin_tries_left=st.sampled_from([3, 3, 1, 0]))
    def choose_card(self, t0_get_response: bool, pin_tries_left: int) -> None:
        """Both ways of answering case-4 commands (61xx then GET RESPONSE, or at once), and a PIN
        counter that may start low or blocked, so blocked states are explored too."""
        pin = dataclasses.replace(self.spec.pin, tries_left=pin_tries_left)
        self.card = fresh_card(self.spec, t0_get_response=t0_get_response, pin=pin)

    def where(self) -> str:
        return "; " + where(self.trace)

    # -- the oracle, on every exchange ----------------------------------------------------------------
    def send(self, command: bytes) -> tuple[bytes, int]:
        data, sw = exchange(self.card, command, self.trace)
        if len(command) < 4:
            return data, sw  # refused by the parser (6700)
        success = sw == 0x9000 or sw >> 8 == 0x61
        cla, ins, p1p2 = command[0], command[1], command[2:4]
        if success and ins == 0x88:
            assert self.unlocked, f"INTERNAL AUTHENTICATE succeeded ({sw:04X}) without the PIN" + self.where()
            event("PinGuard: INTERNAL AUTHENTICATE succeeded (PIN verified)")
        if success and ins == 0x2A and p1p2 == b"\x80\x86":
            chain_ack = cla & 0x10 and sw == 0x9000 and not data  # an intermediate block of a chain
            assert chain_ack or self.unlocked, f"PSO DECIPHER succeeded ({sw:04X}) without the PIN" + self.where()
            if not chain_ack:
                event("PinGuard: PSO DECIPHER succeeded (PIN verified)")
        if success and ins == 0x2A and p1p2 == b"\x9e\x9a":
            assert self.unlocked, f"PSO COMPUTE DIGITAL SIGNATURE succeeded ({sw:04X}) without the PIN" + self.where()
            event("PinGuard: PSO CDS succeeded (PIN verified)")
        if data and ins == 0xB0 and self.card.current_ef is not None and self.card.current_ef.fid in ACTIVITY_FIDS:
            fid = self.card.current_ef.fid
            assert self.unlocked, f"READ BINARY of activity EF {fid:04X} gave data without the PIN" + self.where()
            event("PinGuard: activity EF read (PIN verified)")
        if not self.unlocked and len(data) >= 8:
            leaked = next((data[i : i + 8] for i in range(len(data) - 7) if data[i : i + 8] in self.secret_grams), None)
            assert leaked is None, f"activity data {leaked!r} in an answer without the PIN" + self.where()
        return data, sw

    @invariant()
    def card_agrees_with_the_model(self) -> None:
        verified = self.card.security.chvs[PIN_REF].verified
        assert verified == self.unlocked, f"card's PIN status {verified}, model's {self.unlocked}" + self.where()
        puk = self.card.security.chvs[PUK_REF].verified
        assert puk == self.puk_verified, f"card's PUK status {puk}, model's {self.puk_verified}" + self.where()

    # -- power and selections --------------------------------------------------------------------------
    @rule()
    def power_on(self) -> None:
        self.card.power_on()
        self.unlocked = self.puk_verified = False
        self.trace.append("power_on()")

    @rule(command=SELECTS)
    def select(self, command: bytes) -> None:
        self.send(command)

    # -- reads -----------------------------------------------------------------------------------------
    @rule(p1=st.one_of(st.just(0x00), st.sampled_from([0x9C, 0x9D, 0x9E]), BYTE), p2=BYTE, le=BYTE)
    def read_binary(self, p1: int, p2: int, le: int) -> None:
        _, sw = self.send(apdu(0x00, 0xB0, p1, p2, le=le))
        if sw >> 8 == 0x6C:  # Le too long: take the card's hint, as hosts do
            self.send(apdu(0x00, 0xB0, p1, p2, le=sw & 0xFF))

    @rule(
        select=st.sampled_from(
            [
                (apdu(0x00, 0xA4, 0x08, 0x0C, bytes.fromhex("0001D120")),),
                (apdu(0x00, 0xA4, 0x09, 0x0C, bytes.fromhex("3F000001D120")),),
                (apdu(0x00, 0xA4, 0x04, 0x0C, APP_AID), apdu(0x00, 0xA4, 0x02, 0x0C, b"\xd1\x20")),
            ]
        )
    )
    def read_activity(self, select: tuple[bytes, ...]) -> None:
        """The path OpenSC takes to an activity: select, then read it whole. Also the liveness
        side of the guard: with the PIN the read must work, without it answer 6982."""
        for command in select:
            self.send(command)
        content = self.activities[ACTIVITY_FIRST_FID]
        data, sw = self.send(apdu(0x00, 0xB0, 0x00, 0x00, le=len(content)))
        if self.unlocked:
            assert (data, sw) == (content, 0x9000), f"PIN verified, yet the activity read gave {sw:04X}" + self.where()
        else:
            assert sw == 0x6982, f"activity read without the PIN answered {sw:04X}, not 6982" + self.where()

    @rule(le=BYTE)
    def get_response(self, le: int) -> None:
        self.send(apdu(0x00, 0xC0, 0x00, 0x00, le=le))

    @rule(command=st.sampled_from(GET_DATA_COMMANDS))
    def get_data(self, command: bytes) -> None:
        self.send(command)

    # -- private-key operations ------------------------------------------------------------------------
    @rule(command=MSES)
    def manage_security_environment(self, command: bytes) -> None:
        self.send(command)

    @rule(data=st.binary(min_size=1, max_size=120), le=st.one_of(st.none(), st.just(0), BYTE), mse=st.booleans())
    def internal_authenticate(self, data: bytes, le: int | None, mse: bool) -> None:
        if mse:
            self.send(MSE_COMMANDS[0])
        _, sw = self.send(apdu(0x00, 0x88, 0x00, 0x00, data, le=le))
        if sw >> 8 == 0x61:
            self.send(apdu(0x00, 0xC0, 0x00, 0x00, le=sw & 0xFF))

    @rule(
        kind=st.sampled_from(["valid", "random", "short"]),
        message=st.binary(max_size=40),
        noise=st.binary(min_size=256, max_size=256),
        indicator=st.sampled_from([0x81, 0x81, 0x00]),
        split=st.one_of(st.sampled_from([255, 200, 129]), st.integers(1, 255)),
        mse=st.booleans(),
    )
    def pso_decipher(self, kind: str, message: bytes, noise: bytes, indicator: int, split: int, mse: bool) -> None:
        """A cryptogram for key 82 (valid, random or short), sent chained as OpenSC does."""
        if mse:
            self.send(MSE_COMMANDS[1])
        if kind == "valid":
            cryptogram = self.auth_public.encrypt(message, padding.PKCS1v15())
        else:
            cryptogram = noise if kind == "random" else noise[: len(message) + 1]
        body = bytes([indicator]) + cryptogram
        blocks = [body[i : i + split] for i in range(0, len(body), split)]
        for block in blocks[:-1]:
            self.send(apdu(0x10, 0x2A, 0x80, 0x86, block))
        _, sw = self.send(apdu(0x00, 0x2A, 0x80, 0x86, blocks[-1]))
        if sw >> 8 == 0x61:
            self.send(apdu(0x00, 0xC0, 0x00, 0x00, le=sw & 0xFF))

    @rule(digest=st.binary(min_size=32, max_size=32), set_ht=st.booleans(), set_dst=st.booleans())
    def pso_compute_digital_signature(self, digest: bytes, set_ht: bool, set_dst: bool) -> None:
        if set_ht:
            self.send(bytes.fromhex("00 22 41 AA 03 80 01 40"))
        if set_dst:
            self.send(bytes.fromhex("00 22 41 B6 06 84 01 81 80 01 42"))
        self.send(apdu(0x00, 0x2A, 0x90, 0xA0, tlv(0x90, digest)))
        _, sw = self.send(bytes.fromhex("00 2A 9E 9A 00"))
        if sw >> 8 == 0x61:
            self.send(apdu(0x00, 0xC0, 0x00, 0x00, le=sw & 0xFF))

    # -- codes -----------------------------------------------------------------------------------------
    @rule(
        candidate=st.one_of(
            st.text(DIGITS, min_size=4, max_size=8).map(str.encode),
            st.binary(min_size=1, max_size=12),
        )
    )
    def verify_wrong_pin(self, candidate: bytes) -> None:
        if unpadded(candidate) == self.pin:
            return
        self.send(apdu(0x00, 0x20, 0x00, PIN_REF, candidate))
        if 4 <= len(unpadded(candidate)) <= 8:
            self.unlocked = False  # a failed comparison (63Cx, or 6983 once blocked)

    @rule()
    def verify_right_pin(self) -> None:
        blocked = self.card.security.chvs[PIN_REF].tries_left == 0
        _, sw = self.send(apdu(0x00, 0x20, 0x00, PIN_REF, self.pin))
        assert sw == (0x6983 if blocked else 0x9000), (
            f"the right PIN, blocked={blocked}, answered {sw:04X}" + self.where()
        )
        self.unlocked = not blocked
        event(f"PinGuard: right PIN answered {sw:04X}")

    @rule(form=st.sampled_from(["status", "status P3", "reset"]), ref=st.sampled_from([PIN_REF, PUK_REF, 0x03]))
    def verify_without_data(self, form: str, ref: int) -> None:
        p1, le = {"status": (0x00, None), "status P3": (0x00, 0), "reset": (0xFF, None)}[form]
        self.send(apdu(0x00, 0x20, p1, ref, le=le))
        if form == "reset" and ref == PIN_REF:
            self.unlocked = False
        if form == "reset" and ref == PUK_REF:
            self.puk_verified = False

    @rule(
        candidate=st.one_of(
            st.just(PUK), st.text(DIGITS, min_size=8, max_size=8).map(str.encode), st.binary(max_size=10)
        )
    )
    def verify_puk(self, candidate: bytes) -> None:
        """The PUK, right or wrong: it unblocks the PIN, it must never stand in for it."""
        if not candidate:
            return
        _, sw = self.send(apdu(0x00, 0x20, 0x00, PUK_REF, candidate))
        if candidate == PUK:
            self.puk_verified = sw == 0x9000
        elif len(candidate) == len(PUK):
            self.puk_verified = False  # a failed comparison

    @rule(p1=st.sampled_from([0x00, 0x01]), data=st.binary(min_size=1, max_size=16), old=st.booleans())
    def change_pin(self, p1: int, data: bytes, old: bool) -> None:
        """CHANGE REFERENCE DATA: P1=01 (no old code) must need the PIN verified; P1=00 must
        compare the old code (here sometimes the right one)."""
        if p1 == 0x00 and old:
            data = self.pin + data
        _, sw = self.send(apdu(0x00, 0x24, p1, PIN_REF, data))
        if p1 == 0x01:
            if sw == 0x9000:
                assert self.unlocked, "CHANGE REFERENCE DATA P1=01 accepted without the PIN" + self.where()
                self.pin = unpadded(data)
            return
        split = PIN_PADDED if len(data) == 2 * PIN_PADDED else len(self.pin)  # both padded, or the old one bare
        old_code, new_code = unpadded(data[:split]), unpadded(data[split:])
        if sw == 0x9000:
            assert old_code == self.pin, "CHANGE REFERENCE DATA accepted a wrong old PIN" + self.where()
            self.pin, self.unlocked = new_code, True
        elif new_code and 4 <= len(new_code) <= 8 and (old_code != self.pin or sw == 0x6983):
            self.unlocked = False  # the old code was compared and failed (or the PIN is blocked)

    @rule(
        p1=st.sampled_from([0x00, 0x01, 0x02, 0x03]),
        puk=st.one_of(st.just(PUK), st.text(DIGITS, min_size=8, max_size=8).map(str.encode), st.binary(max_size=10)),
        new=st.sampled_from([b"", b"0000", b"123456"]),
    )
    def reset_retry_counter(self, p1: int, puk: bytes, new: bytes) -> None:
        """Unblocking must need the PUK (inline, or verified since power-on) and must leave the
        PIN unverified: the PUK holder gets a new PIN, not the PIN's rights."""
        data = {0x00: puk + new, 0x01: puk, 0x02: new, 0x03: b""}[p1]
        _, sw = self.send(apdu(0x00, 0x2C, p1, PIN_REF, data))
        # P1 00/01 carry the PUK inline: the card compares data[:8] once the lengths are right.
        size = len(PUK)
        compared = len(data) == size if p1 == 0x01 else p1 == 0x00 and size + 4 <= len(data) <= size + 8
        if compared and data[:size] == PUK:
            self.puk_verified = self.puk_verified or sw == 0x9000
        elif compared:
            self.puk_verified = False  # a failed comparison
        if sw == 0x9000:
            assert self.puk_verified, "RESET RETRY COUNTER succeeded without the PUK" + self.where()
            self.unlocked = False
            self.pin = new if p1 in (0x00, 0x02) else self.pin

    # -- anything else ---------------------------------------------------------------------------------
    @rule(command=NOISE)
    def noise(self, command: bytes) -> None:
        self.send(command)


def test_pin_cannot_be_bypassed(session_pki: Pki) -> None:
    """No private-key operation and no activity data without the PIN, whatever the sequence."""
    spec = pharmacist_spec(session_pki)
    run_state_machine_as_test(lambda: PinGuard(spec), settings=settings(PROFILE))


def test_the_guard_sees_successes(session_pki: Pki) -> None:
    """The PIN guard is not vacuous: with the PIN, the guarded operations do succeed and their
    answers are the ones the oracle classifies as successes (so a bypass would be seen)."""
    spec = pharmacist_spec(session_pki)
    card = fresh_card(spec)
    trace: list[str] = []

    def send(text: str) -> tuple[bytes, int]:
        return exchange(card, bytes.fromhex(text), trace)

    digest_info = bytes.fromhex("3021300906052B0E03021A05000414") + bytes(range(20))
    assert send("00 A4 08 0C 04 0001D120")[1] == 0x9000
    assert send("00 B0 00 00 10")[1] == 0x6982
    assert send("00 22 41 A4 06 84 01 82 80 01 02")[1] == 0x9000
    assert send("00 88 00 00 23" + digest_info.hex())[1] == 0x6982
    assert send("00 20 00 01 04 31 32 33 34")[1] == 0x9000
    assert send("00 B0 00 00 10")[1] == 0x9000
    assert send("00 88 00 00 23" + digest_info.hex())[1] == 0x6100
    signature, sw = send("00 C0 00 00 00")
    assert sw == 0x9000
    public = spec.authentication.key.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.recover_data_from_signature(signature, padding.PKCS1v15(), None) == digest_info
    card.power_on()
    assert send("00 A4 08 0C 04 0001D120")[1] == 0x9000
    assert send("00 B0 00 00 10")[1] == 0x6982, "power-on must forget the PIN"


# =================================================================================================
# Property 3: retry counters.
# =================================================================================================


def codes(chv: ChvModel) -> st.SearchStrategy[bytes]:
    """Candidates for ``chv``: the right one (bare, and padded as OpenSC sends it), wrong ones of
    its length or of any allowed length, and malformed ones."""
    return _codes(chv.value, chv.min_length, chv.max_length, chv.padded(chv.value))


@functools.lru_cache(maxsize=256)
def _codes(value: bytes, min_length: int, max_length: int, padded: bytes) -> st.SearchStrategy[bytes]:
    """Cached: building and validating a strategy per draw would cost more than the card."""
    return st.one_of(
        st.just(value),
        st.just(padded),
        st.text(DIGITS, min_size=len(value), max_size=len(value)).map(str.encode).filter(lambda c: c != value),
        st.text(DIGITS, min_size=min_length, max_size=max_length).map(str.encode),
        st.binary(max_size=12),
    )


NEW_PINS = st.one_of(
    st.text(DIGITS, min_size=4, max_size=8).map(str.encode),
    st.text(DIGITS, min_size=4, max_size=8).map(lambda pin: pin.encode().ljust(8, b"\xff")),  # padded, as OpenSC
    st.binary(max_size=10),
)


class Counters(RuleBasedStateMachine):
    """Reference model of the two codes (``ChvModel``), starting from random values and counters
    (blocked ones included). After every command the card's counters, values and verification
    flags must be the model's; counters move only as ``ChvModel.compare`` and unblocking say."""

    def __init__(self, spec: CardSpec) -> None:
        super().__init__()
        self.spec = spec
        self.card: CpxCard | None = None
        self.pin = ChvModel(PIN, 3, 3, 4, 8, name="PIN", padded_length=8)
        self.puk = ChvModel(PUK, 10, 10, 8, 8, name="PUK", usages=100, changeable=False)
        self.trace: list[str] = []

    @initialize(
        pin=st.text(DIGITS, min_size=4, max_size=8),
        puk=st.text(DIGITS, min_size=8, max_size=8),
        pin_counter=st.sampled_from([(3, 3), (3, 1), (3, 0), (1, 1), (15, 15), (15, 0)]),
        puk_counter=st.sampled_from([(10, 10), (10, 1), (10, 0), (3, 3), (1, 1), (15, 15)]),
        puk_uses=st.sampled_from([100, 100, 2, 1, 0, None]),
    )
    def build(
        self, pin: str, puk: str, pin_counter: tuple[int, int], puk_counter: tuple[int, int], puk_uses: int | None
    ) -> None:
        (pin_max, pin_left), (puk_max, puk_left) = pin_counter, puk_counter
        self.card = fresh_card(self.spec, pin=Code(pin, pin_left, pin_max), puk=Code(puk, puk_left, puk_max, puk_uses))
        self.pin = ChvModel(pin.encode(), pin_left, pin_max, 4, 8, name="PIN", padded_length=8)
        self.puk = ChvModel(puk.encode(), puk_left, puk_max, 8, 8, name="PUK", usages=puk_uses, changeable=False)

    def where(self) -> str:
        return "; " + where(self.trace)

    def chv(self, ref: int) -> ChvModel | None:
        return {PIN_REF: self.pin, PUK_REF: self.puk}.get(ref)

    def card_state(self) -> tuple[tuple[bytes, int, int | None, bool], ...]:
        assert self.card is not None
        chvs = self.card.security.chvs
        return tuple(
            (chvs[r].value, chvs[r].tries_left, chvs[r].usages_left, chvs[r].verified) for r in (PIN_REF, PUK_REF)
        )

    def model_state(self) -> tuple[tuple[bytes, int, int | None, bool], ...]:
        return tuple((c.value, c.tries, c.usages, c.verified) for c in (self.pin, self.puk))

    def send(self, command: bytes, expected_sw: int | None, why: str) -> int:
        """Send ``command`` (the model already applied), then compare the card with the model."""
        assert self.card is not None
        before = self.card_state()
        _, sw = exchange(self.card, command, self.trace)
        after = self.card_state()

        def moves() -> str:  # built only when an assertion fails
            return (
                f"PIN counter {before[0][1]}->{after[0][1]} (model {self.pin.tries}),"
                f" PUK counter {before[1][1]}->{after[1][1]} (model {self.puk.tries}); {why}" + self.where()
            )

        assert [s[1] for s in after] == [self.pin.tries, self.puk.tries], moves()
        assert after == self.model_state(), f"codes: card {after}, model {self.model_state()}; " + moves()
        if expected_sw is not None:
            assert sw == expected_sw, f"answered {sw:04X}, expected {expected_sw:04X}; " + moves()
        return sw

    @invariant()
    def counters_in_range(self) -> None:
        for chv in (self.pin, self.puk):
            assert 0 <= chv.tries <= chv.max_tries

    @rule()
    def power_on(self) -> None:
        assert self.card is not None
        self.card.power_on()
        self.pin.verified = self.puk.verified = False
        self.trace.append("power_on()")
        assert self.card_state() == self.model_state(), "power-on must keep codes and counters, clear the status"

    @rule(ref=st.sampled_from([PIN_REF, PIN_REF, PUK_REF, 0x03, 0x81]), data=st.data())
    def verify(self, ref: int, data: st.DataObject) -> None:
        chv = self.chv(ref)
        candidate = data.draw(codes(chv) if chv else st.binary(min_size=1, max_size=8), label="candidate")
        if not candidate:
            return
        blocked = bool(chv and chv.blocked)
        expected = chv.compare(candidate) if chv else 0x6A88
        sw = self.send(apdu(0x00, 0x20, 0x00, ref, candidate), expected, f"VERIFY {ref:02X}")
        if blocked:
            assert sw == 0x6983, "a blocked code must answer 6983 to VERIFY with data"

    @rule(ref=st.sampled_from([PIN_REF, PUK_REF, 0x03]), p3=st.booleans())
    def status_query(self, ref: int, p3: bool) -> None:
        """``00 20 00 rr`` or ``00 20 00 rr 00``: the status, for free."""
        chv = self.chv(ref)
        self.send(apdu(0x00, 0x20, 0x00, ref, le=0 if p3 else None), chv.status() if chv else 0x6A88, "status query")

    @rule(ref=st.sampled_from([PIN_REF, PUK_REF, 0x03]))
    def reset_status(self, ref: int) -> None:
        chv = self.chv(ref)
        if chv:
            chv.verified = False
        self.send(apdu(0x00, 0x20, 0xFF, ref), 0x9000 if chv else 0x6A88, "VERIFY FF (reset the status)")

    @rule(
        p1=st.sampled_from([0x01, 0x80, 0xFF]),
        ref=st.sampled_from([PIN_REF, PUK_REF]),
        data=st.binary(min_size=1, max_size=9),
    )
    def verify_bad_p1(self, p1: int, ref: int, data: bytes) -> None:
        self.send(apdu(0x00, 0x20, p1, ref, data), 0x6A86, f"VERIFY P1={p1:02X} with data")

    @rule(
        cla=st.sampled_from([0x80, 0xA0, 0x0C, 0x04, 0x01, 0x02, 0x10, 0x20, 0x40]),
        ins=st.sampled_from(sorted(CHV_INS)),
        p1=st.sampled_from([0x00, 0x01, 0x02]),
        ref=st.sampled_from([PIN_REF, PUK_REF]),
        data=st.data(),
    )
    def chv_command_in_a_foreign_class(self, cla: int, ins: int, p1: int, ref: int, data: st.DataObject) -> None:
        """A code in a command the card refuses at the class check must not be compared."""
        chv = self.chv(ref)
        assert chv is not None
        candidate = data.draw(codes(chv), label="candidate")
        sw = self.send(apdu(cla, ins, p1, ref, candidate), None, f"CLA {cla:02X} INS {ins:02X}")
        assert sw != 0x9000

    @rule(
        p1=st.sampled_from([0x00, 0x00, 0x01, 0x02]), ref=st.sampled_from([PIN_REF, PIN_REF, PUK_REF]), data=st.data()
    )
    def change_reference_data(self, p1: int, ref: int, data: st.DataObject) -> None:
        chv = self.chv(ref)
        assert chv is not None
        new = data.draw(NEW_PINS if ref == PIN_REF else st.one_of(codes(chv), NEW_PINS), label="new")
        if p1 == 0x00:
            payload = data.draw(codes(chv), label="old") + new
            old_length = chv.old_length(payload)
            if not chv.changeable:
                expected = 0x6986
            elif len(payload) <= old_length:
                expected = 0x6700
            elif not chv.well_formed(payload[old_length:]):
                expected = 0x6A80
            else:
                expected = chv.compare(payload[:old_length])
                if expected == 0x9000:
                    chv.value = chv.bare(payload[old_length:])
        elif p1 == 0x01:
            payload = new
            if not chv.changeable:
                expected = 0x6986
            elif not chv.verified:
                expected = 0x6982
            elif not chv.well_formed(new):
                expected = 0x6A80
            else:
                expected, chv.value, chv.verified = 0x9000, chv.bare(new), True
        else:
            payload, expected = new, 0x6A86 if chv.changeable else 0x6986
        self.send(apdu(0x00, 0x24, p1, ref, payload), expected, f"CHANGE REFERENCE DATA P1={p1:02X} {chv.name}")

    @rule(
        p1=st.sampled_from([0x00, 0x00, 0x01, 0x01, 0x02, 0x03, 0x04]),
        ref=st.sampled_from([PIN_REF, PIN_REF, PIN_REF, PUK_REF]),
        data=st.data(),
    )
    def reset_retry_counter(self, p1: int, ref: int, data: st.DataObject) -> None:
        """Unblocking the PIN: with the PUK inline (P1 00/01, the PUK is compared and counted) or
        after a VERIFY of the PUK (P1 02/03). The PUK itself cannot be unblocked."""
        puk = data.draw(codes(self.puk), label="puk")
        new = data.draw(NEW_PINS, label="new PIN")
        payload = {0x00: puk + new, 0x01: puk, 0x02: new, 0x03: b""}.get(p1, puk)
        expected: int
        new_value: bytes | None = None
        if ref == PUK_REF:
            expected = 0x6986
        elif p1 in (0x00, 0x01):
            length = len(self.puk.value)
            if len(payload) < length or (p1 == 0x01 and len(payload) != length):
                expected = 0x6700
            elif p1 == 0x00 and not self.pin.well_formed(payload[length:]):
                expected = 0x6A80
            else:
                expected = self.puk.compare(payload[:length])
                new_value = payload[length:] if p1 == 0x00 else None
        elif p1 in (0x02, 0x03):
            if not self.puk.verified:
                expected = 0x6982
            elif (p1 == 0x02 and not payload) or (p1 == 0x03 and payload):
                expected = 0x6700
            elif p1 == 0x02 and not self.pin.well_formed(payload):
                expected = 0x6A80
            else:
                expected, new_value = 0x9000, payload or None
        else:
            expected = 0x6A86
        if expected == 0x9000:
            self.pin.tries, self.pin.verified = self.pin.max_tries, False
            self.pin.value = self.pin.bare(new_value) if new_value else self.pin.value
        self.send(apdu(0x00, 0x2C, p1, ref, payload), expected, f"RESET RETRY COUNTER P1={p1:02X} ref {ref:02X}")

    @rule(command=NOISE)
    def noise(self, command: bytes) -> None:
        """Any other command (not VERIFY / CHANGE / RESET in class 00) leaves codes and counters alone."""
        self.send(command, None, "a command that is not VERIFY / CHANGE / RESET RETRY COUNTER")


def test_counters_move_only_on_codes(session_pki: Pki) -> None:
    """Counters fall by one per wrong code, reset only on a right code or an unblocking that
    presented the PUK, never move on status queries or other commands; blocked stays blocked."""
    spec = pharmacist_spec(session_pki)
    run_state_machine_as_test(lambda: Counters(spec), settings=settings(PROFILE))
