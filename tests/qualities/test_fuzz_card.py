"""The card fuzzer (``tests/fuzz_card.py``) in CI: a short campaign, and proof that its oracle bites.

The long campaign is a command (``python -m tests.fuzz_card --apdus 1000000 --seed 1``, figures in
``docs/reliability.md``); here ``CPS_FUZZ_APDUS`` (default 20,000, about 2 s) sets the budget.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import pytest

from harness.pki import Pki
from simulators.card import cpx, security
from simulators.card.apdu import CardError
from simulators.card.layout import CardSpec
from tests.qualities.fuzz_card import Finding, Fuzzer, decode, encode, load_corpus, pharmacist_spec, replay

APDUS = int(os.environ.get("CPS_FUZZ_APDUS") or 20_000)


@functools.cache
def spec(pki: Pki) -> CardSpec:
    return pharmacist_spec(pki)


def test_the_corpus_is_opensc_traffic_the_card_still_answers_the_same(session_pki: Pki) -> None:
    """Every recorded OpenSC session replays on a fresh card with the recorded status words and no
    finding: the seeds are valid traffic (and a change of the card's answers to OpenSC shows here)."""
    corpus = load_corpus()
    names = " | ".join(s.name for s in corpus)
    for tool in ("pkcs15-tool --dump", "--login --pin 1234 --test", "--change-pin", "unblock CHV1", "--pin 0000"):
        assert tool in names
    assert sum(len(s.steps) for s in corpus) > 500
    for session in corpus:
        assert replay(session, spec(session_pki)) == [], session.name


def test_short_campaign_finds_nothing_and_reaches_deep_states(session_pki: Pki) -> None:
    report = Fuzzer(spec(session_pki), load_corpus(), seed=1).run(APDUS)
    assert not report.findings, "\n\n".join(f"session {i}: {f}" for i, f in report.findings)
    assert report.apdus >= APDUS
    stats = report.stats
    assert stats["guarded success INTERNAL AUTHENTICATE"] and stats["guarded success PSO DECIPHER"], stats
    assert stats["protected read"] and stats["unblocked"] and stats["sw 6983"] and stats["sw 6700"], stats


def test_sessions_are_deterministic_by_seed(session_pki: Pki) -> None:
    corpus = load_corpus()
    first, again = Fuzzer(spec(session_pki), corpus, seed=5), Fuzzer(spec(session_pki), corpus, seed=5)
    assert [first.steps_for(k)[1] for k in range(20)] == [again.steps_for(k)[1] for k in range(20)]
    assert first.play(7, keep_trace=True).trace == again.play(7, keep_trace=True).trace
    other = Fuzzer(spec(session_pki), corpus, seed=6)
    assert [first.steps_for(k)[1] for k in range(5)] != [other.steps_for(k)[1] for k in range(5)]


def test_the_libfuzzer_encoding_round_trips(session_pki: Pki) -> None:
    steps = Fuzzer(spec(session_pki), load_corpus(), seed=2).steps_for(3)[1]
    short = [s if s is None or 0 < len(s) < 256 else s[:255] for s in steps]
    assert decode(encode(short)) == [s if s != b"" else None for s in short]


# -- the oracle bites: each planted bug is found within a small budget ----------------------------------


def lenient_pin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Private-key operations no longer need the PIN."""
    original = security.Security.require
    monkeypatch.setattr(security.Security, "require", lambda self, scb: None if scb == 0x11 else original(self, scb))


def free_tries(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong code costs no try."""
    original = security.Chv.verify

    def verify(self: security.Chv, candidate: bytes) -> None:
        if candidate != self.value and self.min_length <= len(candidate) <= self.max_length and not self.blocked:
            raise CardError(0x63C0 | self.tries_left)
        original(self, candidate)

    monkeypatch.setattr(security.Chv, "verify", verify)


def reset_keeps_the_pin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(security.Security, "reset", lambda self: self.current.clear())


def unblock_grants_the_pin(monkeypatch: pytest.MonkeyPatch) -> None:
    original = security.Chv.unblock

    def unblock(self: security.Chv, new: bytes | None) -> None:
        original(self, new)
        self.verified = True

    monkeypatch.setattr(security.Chv, "unblock", unblock)


def crash_in_get_response(monkeypatch: pytest.MonkeyPatch) -> None:
    """A handler that raises: the card answers 6F00, the fuzzer shows the traceback."""
    original = cpx.INSTRUCTIONS[0xC0]

    def get_response(card: cpx.CpxCard, command: Any) -> bytes:
        if command.expected == 0x27:  # the length of an EF's FCP
            raise IndexError("planted")
        return original(card, command)

    monkeypatch.setitem(cpx.INSTRUCTIONS, 0xC0, get_response)


def activity_readable(monkeypatch: pytest.MonkeyPatch) -> None:
    """READ BINARY reads as if the PIN were verified."""
    original = cpx.INSTRUCTIONS[0xB0]

    def read_binary(card: cpx.CpxCard, command: Any) -> bytes:
        pin = card.security.chvs[1]
        was, pin.verified = pin.verified, True
        try:
            return original(card, command)
        finally:
            pin.verified = was

    monkeypatch.setitem(cpx.INSTRUCTIONS, 0xB0, read_binary)


def odd_status_word(monkeypatch: pytest.MonkeyPatch) -> None:
    def get_challenge(card: cpx.CpxCard, command: Any) -> bytes:
        raise CardError(0x6999, "not an ISO status word")

    monkeypatch.setitem(cpx.INSTRUCTIONS, 0x84, get_challenge)


@pytest.mark.parametrize(
    ("plant", "kind", "says"),
    [
        (lenient_pin, "PIN bypass", "without the PIN"),
        (free_tries, "codes", "model"),
        (reset_keeps_the_pin, "codes", "model"),
        (unblock_grants_the_pin, "codes", "model"),
        (crash_in_get_response, "6F00", "IndexError: planted"),
        (activity_readable, "PIN bypass", "protected"),
        (odd_status_word, "unknown status word", "6999"),
    ],
)
def test_the_oracle_finds_a_planted_bug(
    session_pki: Pki,
    monkeypatch: pytest.MonkeyPatch,
    plant: Callable[[pytest.MonkeyPatch], None],
    kind: str,
    says: str,
) -> None:
    card_spec = spec(session_pki)
    plant(monkeypatch)
    report = Fuzzer(card_spec, load_corpus(), seed=1).run(20_000, max_findings=1)
    assert report.findings, f"{plant.__name__}: not found in {report.apdus} APDUs"
    _, finding = report.findings[0]
    assert isinstance(finding, Finding)
    assert finding.kind == kind and says in str(finding), str(finding)
