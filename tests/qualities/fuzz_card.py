"""Mutation fuzzing of the virtual CPS card, seeded from real OpenSC traffic.

The seed corpus (``tests/data/opensc-apdus.txt``) is what unmodified OpenSC tools sent to the
card through pcscd and vpcd: ``pkcs15-tool -D``, ``pkcs11-tool --login --test``, PIN change and
unblock, wrong PINs… (``record`` below re-records it). Each fuzz session takes one to three
recorded sessions, mutates them (bit flips, byte insertions and deletions, length fields, CLA
variants, chaining, INS/P1/P2 swaps, replays, splices, power-ons, right and wrong PINs) and plays
them on a fresh card in process, checking after every APDU:

- ``process`` returns, never raises, an answer ending in a status word of the card's ISO set
  (``61xx``/``6Cxx``/``63Cx`` by pattern), never ``6F00`` (a swallowed exception: its traceback is
  captured), data only with ``9000``/``6282``/``61xx``; a malformed length gets ``6700``;
- no INTERNAL AUTHENTICATE, PSO DECIPHER or PSO COMPUTE DIGITAL SIGNATURE succeeds, no PIN-protected
  EF is read or written, no 8-byte piece of a protected EF appears in any answer, and CHANGE
  REFERENCE DATA P1=01 is refused, unless the PIN was verified (VERIFY, or CHANGE P1=00 with the
  right old PIN) since the last power-on, status reset (``VERIFY FF``), failed comparison or unblock;
- the PIN and PUK (value, tries left, verified flag) are exactly what an independent model of
  VERIFY / CHANGE REFERENCE DATA / RESET RETRY COUNTER predicts: a counter falls by one on a
  wrong code only, returns to its maximum only on a right code or an unblocking that presented
  the PUK, stays in ``0..max``, and nothing else moves them.

Everything is deterministic by ``--seed`` (the card's GET CHALLENGE included); session ``k`` can be
replayed alone with ``--session k``. Commands::

    .venv/bin/python -m tests.fuzz_card --apdus 1000000 --seed 1     # the long campaign
    .venv/bin/python -m tests.fuzz_card --seed 1 --session 4711 -v   # replay one session, printed
    .venv/bin/python -m tests.fuzz_card --engine atheris --apdus 1000000 --seed 1  # coverage-guided
    .venv/bin/python -m tests.fuzz_card --input crash-…               # replay an atheris input
    .venv/bin/python -m tests.fuzz_card record                       # re-record the OpenSC corpus

``tests/test_fuzz_card.py`` runs a short budget in CI.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import functools
import os
import random
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from harness.card.profile import card_spec, load_profile, make_card
from harness.middleware import OPENSC_MODULE
from harness.pki import Pki
from simulators.card import cpx
from simulators.card.apdu import CardError
from simulators.card.cpx import CpxCard
from simulators.card.fs import DF, EF
from simulators.card.layout import PIN_REF, PUK_REF, CardSpec, Code, build_card
from tests.support.paths import DATA

CORPUS = DATA / "opensc-apdus.txt"
RESET = None
"""A power-on (or warm reset) in a session's list of steps."""
Steps = list[bytes | None]

KNOWN_INS = (0xA4, 0xB0, 0xD6, 0xC0, 0x84, 0xCB, 0x20, 0x24, 0x2C, 0x22, 0x88, 0x2A)
CHV_INS = frozenset({0x20, 0x24, 0x2C})
FIXED_SW = frozenset(
    {
        0x9000, 0x6282, 0x6700, 0x6881, 0x6882, 0x6884, 0x6981, 0x6982, 0x6983, 0x6985, 0x6986,
        0x6A80, 0x6A81, 0x6A82, 0x6A86, 0x6A88, 0x6B00, 0x6D00, 0x6E00,
    }
)  # fmt: skip
"""The ISO 7816-4 status words the card may answer; 61xx, 6Cxx and 63Cx are checked by pattern."""


def known_sw(sw: int) -> bool:
    return sw in FIXED_SW or sw >> 8 in (0x61, 0x6C) or sw & 0xFFF0 == 0x63C0


def success(sw: int) -> bool:
    return sw == 0x9000 or sw >> 8 == 0x61


# =================================================================================================
# The corpus: real OpenSC sessions
# =================================================================================================


@dataclasses.dataclass
class Session:
    """One recorded tool run: its command line and what the card received (``None``: a power-on)."""

    name: str
    steps: Steps
    sws: list[int | None]
    """The status word the card answered at recording time, step by step (None for power-ons)."""


def load_corpus(path: Path = CORPUS) -> list[Session]:
    """``= <command>`` starts a session, ``reset`` is a power-on, else ``<APDU hex> <SW hex>``."""
    sessions: list[Session] = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("= "):
            sessions.append(Session(line[2:], [], []))
        elif not sessions:
            raise ValueError(f"{path}:{number}: a session header (= command) must come first")
        elif line == "reset":
            sessions[-1].steps.append(RESET)
            sessions[-1].sws.append(None)
        else:
            command, sw = line.split()
            sessions[-1].steps.append(bytes.fromhex(command))
            sessions[-1].sws.append(int(sw, 16))
    return sessions


ISSUED_AT = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
"""When the recorded and the replayed cards' certificates are issued: their serial numbers (derived from
the issue time) and so their lengths, hence the offsets OpenSC reads at, are the same."""
AUTH_ID = "e828bd080f8025000001ff001002"
SIGN_ID = "e828bd080f8025000001ff001001"
P11 = ("pkcs11-tool", "--module", OPENSC_MODULE)
RECORDED: tuple[tuple[str, ...], ...] = (
    ("opensc-tool", "--name"),
    ("pkcs15-tool", "--dump"),
    ("pkcs15-tool", "--read-certificate", AUTH_ID),
    ("pkcs15-tool", "--read-data-object", "CPS_NAME_PS"),
    ("pkcs15-tool", "--verify-pin", "--pin", "1234"),
    ("pkcs15-tool", "--read-data-object", "CPS_ACTIVITY_01_PS", "--verify-pin", "--pin", "1234"),
    (*P11, "--list-objects"),
    (*P11, "--login", "--pin", "1234", "--list-objects"),
    (*P11, "--login", "--pin", "1234", "--test"),
    (*P11, "--login", "--pin", "0000", "--list-objects"),
    ("pkcs15-tool", "--change-pin", "--pin", "1234", "--new-pin", "4321"),
    ("opensc-explorer", 'unblock CHV1 "12345678" "5678"'),
    ("opensc-explorer", 'unblock CHV1 "00000000" "5678"'),
)
"""Each runs on a fresh pharmacist card (PIN 1234, PUK 12345678). An ``opensc-explorer`` entry is one
command of its shell, read on standard input: ``pkcs15-tool --unblock-pin`` stops before the card with
a real CPS3's AODF (it checks the PUK against the PIN's maxLength), OpenSC's card driver does not."""


def record(path: Path = CORPUS) -> list[Session]:
    """Run each of ``RECORDED`` against a fresh virtual card through pcscd, and write what the card
    received, unmasked (the card's own log masks codes: ``process`` is wrapped instead)."""
    from harness.card.host import CardHost

    pki = Pki()
    sessions: list[Session] = []
    with CardHost() as host, tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "opensc.conf"
        conf.write_text("app default {\n framework pkcs15 {\n  use_file_caching = no;\n }\n}\n")
        for command in RECORDED:
            card, _ = make_card(load_profile("pharmacist"), pki, ISSUED_AT)
            session = Session(" ".join(command), [], [])
            answer_of = card.process
            power_on = card.power_on

            def recording_process(apdu: bytes, session: Session = session, answer_of: Any = answer_of) -> bytes:
                answer: bytes = answer_of(apdu)
                session.steps.append(apdu)
                session.sws.append(int.from_bytes(answer[-2:], "big"))
                return answer

            def recording_power_on(session: Session = session, power_on: Any = power_on) -> bytes:
                if session.steps and session.steps[-1] is not RESET:
                    session.steps.append(RESET)
                    session.sws.append(None)
                atr: bytes = power_on()
                return atr

            card.process = recording_process  # type: ignore[method-assign]
            card.power_on = recording_power_on  # type: ignore[method-assign]
            host.insert(card)
            env = {**host.client_env(), "OPENSC_CONF": str(conf)}
            if command[0] == "opensc-explorer":
                subprocess.run(["opensc-explorer", "/dev/stdin"], input=command[1].encode() + b"\n", env=env,
                               capture_output=True, timeout=120, check=False)  # fmt: skip
            else:
                subprocess.run(command, env=env, capture_output=True, timeout=120, check=False)
            host.remove()
            while session.steps and session.steps[-1] is RESET:
                session.steps.pop()
                session.sws.pop()
            sessions.append(session)
    lines = [
        "# APDUs unmodified OpenSC tools sent to a fresh virtual pharmacist card (PIN 1234, PUK 12345678),",
        "# recorded by `python -m tests.fuzz_card record`: the seed corpus of the card fuzzer.",
        "# `= command` starts a session, `reset` is a power-on, then `APDU SW` (the answer's status word).",
    ]
    for session in sessions:
        lines.append(f"= {session.name}")
        for step, sw in zip(session.steps, session.sws, strict=True):
            lines.append("reset" if step is None else f"{step.hex().upper()} {sw:04X}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return sessions


# =================================================================================================
# The oracle
# =================================================================================================


class Finding(AssertionError):
    """An invariant broke; ``trace`` holds the session's exchanges up to it."""

    def __init__(self, kind: str, message: str, trace: Sequence[str], sent: int) -> None:
        super().__init__(f"{kind}: {message}\n  " + "\n  ".join(trace[-30:]))
        self.kind = kind
        self.message = message
        self.sent = sent
        """APDUs of the session sent, the failing one included."""


@dataclasses.dataclass
class ChvModel:
    """What one code should be: value, counter, verification status (``Chv`` re-derived from the spec)."""

    value: bytes
    tries: int
    max_tries: int
    min_length: int
    max_length: int
    verified: bool = False
    name: str = "code"
    usages: int | None = None
    """Successful uses left (a real CPS3's PUK has 100); None: no usage counter."""
    padded_length: int | None = None
    """A candidate of exactly this length is taken without its trailing ``FF`` padding (the PIN: 8)."""
    changeable: bool = True
    """False: CHANGE REFERENCE DATA is never allowed (the PUK: 6986)."""

    @property
    def blocked(self) -> bool:
        return self.tries == 0 or self.usages == 0

    def bare(self, candidate: bytes) -> bytes:
        if self.padded_length is not None and len(candidate) == self.padded_length:
            return candidate.rstrip(b"\xff")
        return candidate

    def padded(self, code: bytes) -> bytes:
        """``code`` as OpenSC sends it when the AODF says needs-padding."""
        return code.ljust(self.padded_length, b"\xff") if self.padded_length else code

    def well_formed(self, candidate: bytes) -> bool:
        return self.min_length <= len(self.bare(candidate)) <= self.max_length

    def old_length(self, data: bytes) -> int:
        """Where CHANGE REFERENCE DATA P1=00 splits old from new: both padded, or the old one bare."""
        padded = self.padded_length
        return padded if padded is not None and len(data) == 2 * padded else len(self.value)

    def compare(self, candidate: bytes) -> int:
        """Blocked 6983 (no change); malformed 6A80 (no try spent); wrong: one try fewer, status
        cleared, 63Cx or 6983 on the last; right: counter back to its maximum, one use spent,
        verified, 9000."""
        if self.blocked:
            return 0x6983
        if not self.well_formed(candidate):
            return 0x6A80
        if self.bare(candidate) != self.value:
            self.tries -= 1
            self.verified = False
            return 0x6983 if self.tries == 0 else 0x63C0 | self.tries
        self.tries, self.verified = self.max_tries, True
        if self.usages is not None:
            self.usages -= 1
        return 0x9000

    def status(self) -> int:
        """The answer to a VERIFY without data: spends nothing."""
        if self.blocked:
            return 0x6983
        return 0x9000 if self.verified else 0x63C0 | self.tries

    @classmethod
    def of(cls, chv: Any, name: str) -> ChvModel:
        """The model of a code as a fresh card holds it."""
        return cls(
            chv.value, chv.tries_left, chv.max_tries, chv.min_length, chv.max_length, name=name,
            usages=chv.usages_left, padded_length=chv.padded_length, changeable=chv.change_scb != 0xFF,
        )  # fmt: skip


def split_apdu(apdu: bytes) -> tuple[bytes, bool]:
    """(command data, well formed) as ISO 7816-3 short APDUs read, independently of the card's parser."""
    body = apdu[4:]
    if len(body) <= 1:
        return b"", True
    lc = body[0]
    if lc == 0 or len(body) not in (1 + lc, 2 + lc):
        return b"", False
    return bytes(body[1 : 1 + lc]), True


class Oracle:
    """A card and the model it must agree with; ``send`` checks every invariant on one exchange."""

    def __init__(self, card: CpxCard, *, keep_trace: bool = True) -> None:
        self.card = card
        chvs = card.security.chvs
        self.pin = ChvModel.of(chvs[PIN_REF], "PIN")
        self.puk = ChvModel.of(chvs[PUK_REF], "PUK")
        self.trace: list[str] = []
        self.keep_trace = keep_trace
        self.stats: Counter[str] = Counter()
        self.sent = 0
        self.protected = {id(ef) for ef in all_efs(card.mf) if ef.access.read != 0x00}
        self.protected_update = {id(ef) for ef in all_efs(card.mf) if ef.access.update not in (0x00, 0xFF)}
        efs = list(all_efs(card.mf))
        self.secret_grams = secret_grams(
            tuple(bytes(ef.content) for ef in efs if id(ef) in self.protected),
            tuple(bytes(ef.content) for ef in efs if id(ef) not in self.protected),
        )

    def fail(self, kind: str, message: str) -> Finding:
        return Finding(kind, message, self.trace, self.sent)

    def power_on(self) -> None:
        self.card.power_on()
        self.pin.verified = self.puk.verified = False
        if self.keep_trace:
            self.trace.append("power_on()")
        self.stats["power-on"] += 1

    def send(self, apdu: bytes) -> bytes:
        card = self.card
        self.sent += 1
        BUGS.clear()
        try:
            answer = card.process(apdu)
        except Exception as exc:
            raise self.fail("exception", f"process({apdu.hex()}) raised {exc!r}\n{traceback.format_exc()}") from exc
        if len(answer) < 2:
            raise self.fail("short answer", f"{answer.hex()} to {apdu.hex()}")
        sw = int.from_bytes(answer[-2:], "big")
        data = answer[:-2]
        if self.keep_trace:
            shown = data[:12].hex().upper() + ("…" if len(data) > 12 else "")
            self.trace.append(f"{apdu.hex(' ').upper()} -> {shown} {sw:04X}")
        self.stats[f"sw {sw:04X}" if sw >> 8 not in (0x61, 0x6C, 0x63) else f"sw {sw >> 8:02X}xx"] += 1
        if sw == 0x6F00:
            raise self.fail("6F00", "the card swallowed an exception:\n" + "\n".join(BUGS or ["(no traceback)"]))
        if not known_sw(sw):
            raise self.fail("unknown status word", f"{sw:04X}")
        if data and not (sw in (0x9000, 0x6282) or sw >> 8 == 0x61):
            raise self.fail("data with an error", f"{len(data)} bytes with {sw:04X}")
        if len(data) > 256:
            raise self.fail("long answer", f"{len(data)} bytes")
        if len(apdu) < 4:
            if sw != 0x6700:
                raise self.fail("length", f"{len(apdu)}-byte command answered {sw:04X}, not 6700")
            return answer
        command_data, well_formed = split_apdu(apdu)
        if not well_formed:
            if sw != 0x6700:
                raise self.fail("length", f"inconsistent Lc answered {sw:04X}, not 6700")
            return answer
        self._check_security(apdu, command_data, sw, data)
        self._check_codes(apdu, command_data, sw)
        return answer

    # -- the PIN guard ---------------------------------------------------------------------------
    def _check_security(self, apdu: bytes, command_data: bytes, sw: int, data: bytes) -> None:
        cla, ins, p1p2 = apdu[0], apdu[1], (apdu[2] << 8) | apdu[3]
        unlocked = self.pin.verified
        if success(sw) and not unlocked:
            if ins == 0x88:
                raise self.fail("PIN bypass", "INTERNAL AUTHENTICATE succeeded without the PIN")
            if ins == 0x2A and p1p2 == 0x9E9A:
                raise self.fail("PIN bypass", "PSO COMPUTE DIGITAL SIGNATURE succeeded without the PIN")
            if ins == 0x2A and p1p2 == 0x8086 and not (cla & 0x10 and sw == 0x9000 and not data):
                raise self.fail("PIN bypass", "PSO DECIPHER succeeded without the PIN")
            if ins == 0x24 and cla == 0x00 and apdu[2] == 0x01:
                raise self.fail("PIN bypass", "CHANGE REFERENCE DATA P1=01 accepted without the PIN")
        if success(sw) and not (cla & 0x10) and (ins, p1p2) in GUARDED:
            self.stats[f"guarded success {GUARDED[ins, p1p2]}"] += 1
        ef = self.card.current_ef
        if ins == 0xB0 and data and ef is not None and id(ef) in self.protected:
            if not unlocked:
                raise self.fail("PIN bypass", f"READ BINARY of protected EF {ef.fid:04X} without the PIN")
            self.stats["protected read"] += 1
        if ins == 0xD6 and sw == 0x9000 and ef is not None and id(ef) in self.protected_update and not unlocked:
            raise self.fail("PIN bypass", f"UPDATE BINARY of protected EF {ef.fid:04X} without the PIN")
        if data and not unlocked and len(data) >= 8:
            grams = self.secret_grams
            leaked = next((data[i : i + 8] for i in range(len(data) - 7) if data[i : i + 8] in grams), None)
            if leaked is not None:
                raise self.fail("PIN bypass", f"protected data {leaked.hex()} in an answer without the PIN")

    # -- the codes' model ------------------------------------------------------------------------
    def _check_codes(self, apdu: bytes, data: bytes, sw: int) -> None:
        cla, ins, p1, p2 = apdu[:4]
        expected: int | None = None
        if cla == 0x00 and ins in CHV_INS:
            expected = self._model(ins, p1, p2, data)
        card_chvs = self.card.security.chvs
        for name, model, chv in (("PIN", self.pin, card_chvs[PIN_REF]), ("PUK", self.puk, card_chvs[PUK_REF])):
            if not 0 <= chv.tries_left <= chv.max_tries:
                raise self.fail("counter", f"{name} tries left {chv.tries_left} outside 0..{chv.max_tries}")
            card_state = (chv.value, chv.tries_left, chv.usages_left, chv.verified)
            model_state = (model.value, model.tries, model.usages, model.verified)
            if card_state != model_state:
                raise self.fail(
                    "codes",
                    f"{name}: card (value, tries, uses, verified) {card_state}, model {model_state}; SW {sw:04X}",
                )
        if expected is not None and sw != expected:
            raise self.fail("codes", f"answered {sw:04X}, the model expects {expected:04X}")

    def _chv(self, ref: int) -> ChvModel | None:
        return {PIN_REF: self.pin, PUK_REF: self.puk}.get(ref)

    def _model(self, ins: int, p1: int, p2: int, data: bytes) -> int:
        """Apply one VERIFY / CHANGE REFERENCE DATA / RESET RETRY COUNTER to the model; the SW due."""
        chv = self._chv(p2)
        if ins == 0x20:
            if p1 == 0xFF and not data:
                if chv is None:
                    return 0x6A88
                chv.verified = False
                return 0x9000
            if p1 != 0x00:
                return 0x6A86
            if chv is None:
                return 0x6A88
            if not data:
                return chv.status()
            return chv.compare(data)
        if chv is None:
            return 0x6A88
        if ins == 0x24:
            if not chv.changeable:
                return 0x6986
            if p1 == 0x00:
                old = chv.old_length(data)
                if len(data) <= old:
                    return 0x6700
                if not chv.well_formed(data[old:]):
                    return 0x6A80
                sw = chv.compare(data[:old])
                if sw == 0x9000:
                    chv.value = chv.bare(data[old:])
                return sw
            if p1 == 0x01:
                if not chv.verified:
                    return 0x6982
                if not chv.well_formed(data):
                    return 0x6A80
                chv.value, chv.verified = chv.bare(data), True
                return 0x9000
            return 0x6A86
        # RESET RETRY COUNTER: only the PIN can be unblocked, by the PUK
        if chv is self.puk:
            return 0x6986
        new: bytes | None
        if p1 in (0x00, 0x01):
            size = len(self.puk.value)
            if len(data) < size or (p1 == 0x01 and len(data) != size):
                return 0x6700
            new = data[size:] if p1 == 0x00 else None
            if new is not None and not self.pin.well_formed(new):
                return 0x6A80
            sw = self.puk.compare(data[:size])
            if sw != 0x9000:
                return sw
        elif p1 in (0x02, 0x03):
            if not self.puk.verified:
                return 0x6982
            if (p1 == 0x02 and not data) or (p1 == 0x03 and data):
                return 0x6700
            new = data if p1 == 0x02 else None
            if new is not None and not self.pin.well_formed(new):
                return 0x6A80
        else:
            return 0x6A86
        self.pin.tries, self.pin.verified = self.pin.max_tries, False
        self.pin.value = self.pin.bare(new) if new is not None else self.pin.value
        self.stats["unblocked"] += 1
        return 0x9000


@functools.lru_cache(maxsize=64)
def secret_grams(protected: tuple[bytes, ...], public: tuple[bytes, ...]) -> frozenset[bytes]:
    """8-byte pieces of protected EFs found in no public EF: one in an answer is a leak (cached:
    every fresh card of a spec has the same files)."""
    return frozenset(
        content[i : i + 8]
        for content in protected
        for i in range(len(content) - 7)
        if not any(content[i : i + 8] in p for p in public)
    )


GUARDED = {(0x88, 0x0000): "INTERNAL AUTHENTICATE", (0x2A, 0x9E9A): "PSO CDS", (0x2A, 0x8086): "PSO DECIPHER"}


def all_efs(df: DF) -> Iterator[EF]:
    for node in df.children.values():
        if isinstance(node, DF):
            yield from all_efs(node)
        else:
            yield node


BUGS: list[str] = []
"""Tracebacks of exceptions the card's handlers raised during the last APDU (filled by ``catching_bugs``)."""


@contextlib.contextmanager
def catching_bugs() -> Iterator[None]:
    """Wrap the card's instruction handlers so that an exception it turns into 6F00 leaves its
    traceback in ``BUGS`` (the card itself must keep answering; the fuzzer wants the cause)."""
    original = dict(cpx.INSTRUCTIONS)

    def wrap(handler: cpx.Handler) -> cpx.Handler:
        def wrapped(card: CpxCard, command: Any) -> bytes:
            try:
                return handler(card, command)
            except CardError:
                raise
            except Exception as exc:
                BUGS.append("".join(traceback.format_exception(exc, chain=False)))
                raise

        return wrapped

    cpx.INSTRUCTIONS.update({ins: wrap(handler) for ins, handler in original.items()})
    try:
        yield
    finally:
        cpx.INSTRUCTIONS.update(original)


# =================================================================================================
# Mutations
# =================================================================================================

CLASSES = (0x00, 0x00, 0x10, 0x0C, 0x04, 0x01, 0x03, 0x20, 0x40, 0x80, 0xA0, 0xFF)
INTERESTING = (0x00, 0x01, 0x02, 0x03, 0x04, 0x08, 0x09, 0x0C, 0x10, 0x1F, 0x3F, 0x41, 0x7F, 0x80, 0x81, 0x82,
               0x86, 0x90, 0x9A, 0x9E, 0xA0, 0xA4, 0xAA, 0xB6, 0xB8, 0xF3, 0xFE, 0xFF)  # fmt: skip
RECIPES: tuple[tuple[str, ...], ...] = (
    (
        "00 22 41 AA 03 80 01 40",
        "00 22 41 B6 06 84 01 81 80 01 42",
        "00 2A 90 A0 22 90 20" + " 5A" * 32,
        "00 2A 9E 9A 00",
        "00 C0 00 00 00",
    ),  # PSO COMPUTE DIGITAL SIGNATURE, SHA-256, signature key
    (
        "00 22 41 AA 03 80 01 10",
        "00 22 41 B6 06 84 01 81 80 01 12",
        "00 2A 90 A0 16 90 14" + " A5" * 20,
        "00 2A 9E 9A 00",
    ),  # the same in SHA-1
    ("00 22 41 A4 06 84 01 82 80 01 02", "00 88 00 00 23 3021300906052B0E03021A05000414" + " 11" * 20),
    ("00 A4 08 0C 04 00 01 D1 20", "00 B0 00 00 00"),  # an activity EF (PIN-protected)
    ("00 A4 09 00 06 3F 00 00 01 D1 20", "00 C0 00 00 00", "00 B0 00 00 10"),
    ("00 A4 08 0C 04 00 01 71 06", "00 D6 00 00 04 DE AD BE EF", "00 B0 00 00 08"),  # CPS_DATA, writable
    ("00 84 00 00 08",),
    ("00 22 F3 00",),  # MSE RESTORE
)
"""Hand-written sequences spliced in: paths OpenSC never takes on a CPx (on-card hashing, CDS, writes)."""
PIN_GUESSES = (b"1234", b"1234\xff\xff\xff\xff", b"0000", b"4321", b"5678", b"9999", b"12345678", b"123",
               b"123456789", b"")  # fmt: skip


class Mutator:
    """Deterministic mutations of APDUs and of sessions, from one ``random.Random``."""

    def __init__(self, rng: random.Random, corpus: list[Session]) -> None:
        self.rng = rng
        self.corpus = corpus
        self.pool = [s for session in corpus for s in session.steps if s is not None]

    # -- one APDU ---------------------------------------------------------------------------------
    def apdu(self, apdu: bytes) -> Steps:
        """One to three stacked mutations; chaining may turn one APDU into several."""
        rng = self.rng
        out = bytearray(apdu)
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            kind = rng.randrange(15)
            if kind == 0 and out:  # flip one to three bits
                for _ in range(rng.randint(1, 3)):
                    i = rng.randrange(len(out))
                    out[i] ^= 1 << rng.randrange(8)
            elif kind == 1 and out:  # an interesting byte anywhere
                out[rng.randrange(len(out))] = rng.choice(INTERESTING)
            elif kind == 2:  # insert random bytes
                i = rng.randint(0, len(out))
                out[i:i] = rng.randbytes(rng.choice((1, 1, 2, 4)))
            elif kind == 3 and out:  # delete bytes
                i = rng.randrange(len(out))
                del out[i : i + rng.choice((1, 1, 2, 5))]
            elif kind == 4:  # truncate
                del out[rng.randint(0, len(out)) :]
            elif kind == 5:  # extend
                out += rng.randbytes(rng.randint(1, 40))
            elif kind == 6 and len(out) >= 5:  # the length byte (Lc or Le)
                data_length = len(out) - 5
                out[4] = rng.choice((0, 1, 0xFF, data_length, data_length + 1, max(data_length - 1, 0),
                                     rng.randrange(256))) & 0xFF  # fmt: skip
            elif kind == 7 and len(out) > 5:  # add or drop a trailing Le
                if rng.random() < 0.5:
                    out.append(rng.choice((0, rng.randrange(256))))
                else:
                    out.pop()
            elif kind == 8 and out:  # the class byte
                out[0] = rng.choice(CLASSES) if rng.random() < 0.8 else rng.randrange(256)
            elif kind == 9 and len(out) >= 2:  # another instruction
                out[1] = rng.choice(KNOWN_INS) if rng.random() < 0.8 else rng.randrange(256)
            elif kind == 10 and len(out) >= 4:  # P1 / P2
                out[rng.choice((2, 3))] = rng.choice(INTERESTING) if rng.random() < 0.7 else rng.randrange(256)
            elif kind == 11 and len(out) > 5:  # new data, same or another length, Lc kept consistent
                data = rng.randbytes(rng.choice((1, 2, 4, 8, len(out) - 5, rng.randint(1, 255))))
                out[4:] = bytes([len(data) & 0xFF]) + data
            elif kind == 12 and out:  # chaining bit
                out[0] ^= 0x10
            elif kind == 13 and len(out) > 6:  # split into a chain, as OpenSC does for long data
                return self._chain(bytes(out))
            elif kind == 14:  # a random whole command from the corpus in its place
                out = bytearray(rng.choice(self.pool))
        return [bytes(out)]

    def _chain(self, apdu: bytes) -> Steps:
        data = apdu[5:]
        size = self.rng.randint(1, max(1, len(data) - 1))
        blocks = [data[i : i + size] for i in range(0, len(data), size)]
        head = apdu[:4]
        out: Steps = [bytes([head[0] | 0x10, *head[1:4], len(b)]) + b for b in blocks[:-1]]
        out.append(head + bytes([len(blocks[-1])]) + blocks[-1])
        return out

    # -- a session ----------------------------------------------------------------------------------
    def session(self) -> Steps:
        """One to three corpus sessions joined by power-ons, mutated at both levels."""
        rng = self.rng
        steps: Steps = []
        for _ in range(rng.choice((1, 1, 2, 3))):
            if steps:
                steps.append(RESET)
            steps += rng.choice(self.corpus).steps
        for _ in range(rng.choice((0, 1, 2, 4, 8))):
            steps = self._sequence_mutation(steps)
        rate = rng.choice((0.0, 0.02, 0.05, 0.1, 0.3))
        mutated: Steps = []
        for step in steps:
            if step is not None and rng.random() < rate:
                mutated += self.apdu(step)
            else:
                mutated.append(step)
        return mutated

    def _sequence_mutation(self, steps: Steps) -> Steps:
        rng = self.rng
        n = len(steps)
        kind = rng.randrange(11)
        i = rng.randint(0, n)
        if kind == 10:  # a hand-written recipe
            return steps[:i] + [bytes.fromhex(c) for c in rng.choice(RECIPES)] + steps[i:]
        if kind == 0 and n:  # replay one command
            return [*steps[:i], steps[min(i, n - 1)], *steps[i:]]
        if kind == 1 and n:  # replay a window several times
            j = min(n, i + rng.randint(1, 8))
            return steps[:j] + steps[i:j] * rng.randint(1, 3) + steps[j:]
        if kind == 2 and n:  # drop a window
            return steps[:i] + steps[i + rng.randint(1, 6) :]
        if kind == 3 and n > 1:  # swap two commands
            a, b = rng.randrange(n), rng.randrange(n)
            steps = list(steps)
            steps[a], steps[b] = steps[b], steps[a]
            return steps
        if kind == 4:  # a power-on anywhere
            return [*steps[:i], RESET, *steps[i:]]
        if kind == 5:  # splice a window of another session
            other = rng.choice(self.corpus).steps
            k = rng.randrange(max(1, len(other)))
            return steps[:i] + other[k : k + rng.randint(1, 20)] + steps[i:]
        if kind == 6:  # a VERIFY, right or wrong, or a status query / reset of the status
            guess = rng.choice(PIN_GUESSES)
            ref = rng.choice((PIN_REF, PIN_REF, PUK_REF))
            p1 = rng.choice((0x00, 0x00, 0x00, 0xFF))
            command = bytes([0x00, 0x20, p1, ref]) + (bytes([len(guess)]) + guess if guess else b"")
            return [*steps[:i], command, *steps[i:]]
        if kind == 7:  # a GET RESPONSE with any Le
            return [*steps[:i], bytes([0x00, 0xC0, 0x00, 0x00, rng.randrange(256)]), *steps[i:]]
        if kind == 8:  # unblock or change, with the codes or not
            puk, new = rng.choice((b"12345678", b"00000000")), rng.choice((b"1234", b"4321", b"12", b""))
            p1 = rng.choice((0x00, 0x01, 0x02, 0x03))
            data = {0x00: puk + new, 0x01: puk, 0x02: new, 0x03: b""}[p1]
            ins = rng.choice((0x2C, 0x24))
            if ins == 0x24:
                p1, data = rng.choice((0x00, 0x01)), rng.choice((b"1234", b"0000")) + new
            command = bytes([0x00, ins, p1, PIN_REF]) + (bytes([len(data)]) + data if data else b"")
            return [*steps[:i], command, *steps[i:]]
        if kind == 9 and n:  # truncate the session
            return steps[:i]
        return steps


def encrypt_pkcs1(public: rsa.RSAPublicKey, message: bytes, rng: random.Random) -> bytes:
    """RSA PKCS#1 v1.5 encryption with the padding drawn from ``rng`` (cryptography's is random:
    sessions must be reproducible by seed)."""
    numbers, size = public.public_numbers(), public.key_size // 8
    filler = bytes(rng.randrange(1, 256) for _ in range(size - 3 - len(message)))
    block = int.from_bytes(b"\x00\x02" + filler + b"\x00" + message, "big")
    return pow(block, numbers.e, numbers.n).to_bytes(size, "big")


def fit_to_key(
    steps: Steps, public: rsa.RSAPublicKey, rng: random.Random, recorded_sws: Sequence[int | None] | None = None
) -> Steps:
    """Re-encrypt the recorded PSO DECIPHER cryptograms for this card's key (the corpus was recorded
    with another PKI's), keeping OpenSC's chaining, so that deciphering can succeed. With the
    recorded status words, the new plaintext has the recorded length (``61xx`` of the last block)."""
    out: Steps = []
    chain: list[bytes] = []
    for index, step in enumerate(steps):
        if step is not None and len(step) > 5 and step[1] == 0x2A and step[2:4] == b"\x80\x86":
            chain.append(step)
            if step[0] & 0x10:
                continue
            total = b"".join(c[5:] for c in chain)
            if total[:1] == b"\x81" and len(total) - 1 == public.key_size // 8:
                sw = recorded_sws[index] if recorded_sws is not None else None
                length = sw & 0xFF if sw is not None and sw >> 8 == 0x61 else rng.randint(1, 64)
                body = b"\x81" + encrypt_pkcs1(public, rng.randbytes(length), rng)
                start, rebuilt = 0, []
                for c in chain:
                    rebuilt.append(c[:5] + body[start : start + len(c) - 5])
                    start += len(c) - 5
                chain = rebuilt
            out += chain
            chain = []
        else:
            out += chain
            chain = []
            out.append(step)
    return out + chain


# =================================================================================================
# The campaign
# =================================================================================================


@dataclasses.dataclass
class Report:
    seed: int
    apdus: int = 0
    sessions: int = 0
    seconds: float = 0.0
    findings: list[tuple[int, Finding]] = dataclasses.field(default_factory=list)
    stats: Counter[str] = dataclasses.field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.apdus / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        kinds = Counter(f.kind for _, f in self.findings)
        guarded = sum(v for k, v in self.stats.items() if k.startswith("guarded success"))
        return (
            f"seed {self.seed}: {self.apdus:,} APDUs in {self.sessions:,} sessions, {self.seconds:.1f} s, "
            f"{self.rate:,.0f} APDUs/s; findings: {len(self.findings)} {dict(kinds) if kinds else ''}\n"
            f"  reached: {self.stats['sw 9000']:,} × 9000, {guarded:,} private-key operations with the PIN, "
            f"{self.stats['protected read']:,} protected reads with the PIN, {self.stats['unblocked']:,} unblockings, "
            f"{self.stats['sw 6983']:,} × 6983 (blocked), {self.stats['sw 6700']:,} × 6700, "
            f"{self.stats['power-on']:,} power-ons"
        )


class Fuzzer:
    """Builds a fresh card per session from one ``CardSpec``; everything derives from ``seed``."""

    def __init__(self, spec: CardSpec, corpus: list[Session], seed: int) -> None:
        self.spec = spec
        self.corpus = corpus
        self.seed = seed
        public = spec.authentication.key.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        self.public = public

    def card_for(self, rng: random.Random) -> CpxCard:
        """A fresh card, sometimes with low or exhausted counters so blocked states are reached too."""
        pin_left = rng.choice((3, 3, 3, 3, 2, 1, 0))
        puk_left = rng.choice((3, 3, 3, 3, 1, 0))
        spec = dataclasses.replace(
            self.spec,
            pin=Code(self.spec.pin.value, pin_left, 3),
            puk=Code(self.spec.puk.value, puk_left, 3),
            t0_get_response=rng.random() < 0.8,
        )
        card = build_card(spec)
        card.random_bytes = rng.randbytes
        return card

    def steps_for(self, index: int) -> tuple[random.Random, Steps]:
        rng = random.Random(f"{self.seed}:{index}")
        steps = Mutator(rng, self.corpus).session()
        return rng, fit_to_key(steps, self.public, rng)

    def play(self, index: int, *, keep_trace: bool = False) -> Oracle:
        """Play session ``index`` on a fresh card; its oracle (``sent``, ``stats``, ``trace``). Raises Finding."""
        rng, steps = self.steps_for(index)
        oracle = Oracle(self.card_for(rng), keep_trace=keep_trace)
        for step in steps:
            if step is None:
                oracle.power_on()
            else:
                oracle.send(step)
        return oracle

    def run(self, apdus: int, *, max_findings: int = 20, progress: Callable[[Report], None] | None = None) -> Report:
        report = Report(self.seed)
        started = time.perf_counter()
        last_progress = started
        index = 0
        with catching_bugs():
            while report.apdus < apdus and len(report.findings) < max_findings:
                try:
                    oracle = self.play(index)
                    report.apdus += oracle.sent
                    report.stats.update(oracle.stats)
                except Finding:
                    # played again with the trace kept, for the message (sessions are deterministic)
                    try:
                        self.play(index, keep_trace=True)
                    except Finding as finding:
                        report.findings.append((index, finding))
                        report.apdus += finding.sent
                report.sessions += 1
                index += 1
                now = time.perf_counter()
                if progress is not None and now - last_progress > 10:
                    report.seconds = now - started
                    progress(report)
                    last_progress = now
        report.seconds = time.perf_counter() - started
        return report


def replay(session: Session, spec: CardSpec) -> list[str]:
    """Play a recorded session unmutated on a fresh card under the oracle; the exchanges whose
    status word differs from the recording's (none expected: the card answers OpenSC as it did)."""
    public = spec.authentication.key.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    rng = random.Random(0)
    card = build_card(spec)
    card.random_bytes = rng.randbytes
    oracle = Oracle(card)
    differences = []
    for step, recorded in zip(fit_to_key(session.steps, public, rng, session.sws), session.sws, strict=True):
        if step is None:
            oracle.power_on()
            continue
        sw = int.from_bytes(oracle.send(step)[-2:], "big")
        if sw != recorded:
            differences.append(f"{step.hex().upper()}: {sw:04X}, recorded {recorded:04X}")
    return differences


def pharmacist_spec(pki: Pki) -> CardSpec:
    profile = load_profile("pharmacist")
    _card, credentials = make_card(profile, pki, ISSUED_AT)
    return card_spec(profile, credentials)


# =================================================================================================
# atheris: coverage-guided, with the same oracle and mutations
# =================================================================================================


def encode(steps: Steps) -> bytes:
    """A session as bytes for libFuzzer: ``<length><APDU>`` records, length 0 being a power-on."""
    out = bytearray()
    for step in steps:
        chunk = b"" if step is None else step[:255]
        out += bytes([len(chunk)]) + chunk
    return bytes(out)


def decode(data: bytes) -> Steps:
    steps: Steps = []
    i = 0
    while i < len(data):
        n = data[i]
        steps.append(RESET if n == 0 else data[i + 1 : i + 1 + n])
        i += 1 + n
    return steps


def instrument_card(atheris: Any) -> int:
    """Coverage instrumentation of the card's own code only (``simulators.card``): instrumenting
    everything loaded (cryptography, pydantic…) costs minutes and slows each input tenfold."""
    import importlib
    import inspect
    import pkgutil

    import simulators.card

    count = 0
    for info in pkgutil.iter_modules(simulators.card.__path__, "simulators.card."):
        module = importlib.import_module(info.name)
        for _, member in inspect.getmembers(module):
            targets = [member] if inspect.isfunction(member) else []
            if inspect.isclass(member):
                targets = [m for m in vars(member).values() if inspect.isfunction(m)]
            for function in targets:
                if function.__module__ == info.name:
                    atheris.instrument_func(function)
                    count += 1
    return count


def run_atheris(spec: CardSpec, corpus: list[Session], apdus: int, seed: int) -> int:  # pragma: no cover - manual
    """libFuzzer drives the inputs (coverage of the card's code guides it); our mutations are its
    custom mutator, our oracle its crash detector (a Finding is a crash: libFuzzer saves the input)."""
    import atheris  # type: ignore[import-not-found]

    fuzzer = Fuzzer(spec, corpus, seed)
    totals = {"apdus": 0, "inputs": 0}
    started: list[float] = []

    def one_input(data: bytes) -> None:
        if not started:
            started.append(time.perf_counter())
        rng = random.Random(data)
        oracle = Oracle(fuzzer.card_for(rng), keep_trace=True)
        for step in fit_to_key(decode(data), fuzzer.public, rng):
            if step is None:
                oracle.power_on()
            else:
                oracle.send(step)
                totals["apdus"] += 1
        totals["inputs"] += 1
        if totals["apdus"] >= apdus:
            elapsed = time.perf_counter() - started[0]
            print(f"atheris: {totals['apdus']:,} APDUs in {totals['inputs']:,} inputs, {elapsed:.1f} s, "
                  f"{totals['apdus'] / elapsed:,.0f} APDUs/s; no finding", flush=True)  # fmt: skip
            os._exit(0)

    def custom_mutator(data: bytes, max_size: int, mutator_seed: int) -> bytes:
        rng = random.Random(mutator_seed)
        mutator = Mutator(rng, corpus)
        steps = decode(data) or rng.choice(corpus).steps
        if rng.random() < 0.2:
            return bytes(atheris.Mutate(data, max_size))
        for _ in range(rng.randint(1, 3)):
            steps = mutator._sequence_mutation(steps)
        out: Steps = []
        for step in steps:
            out += mutator.apdu(step) if step is not None and rng.random() < 0.1 else [step]
        return encode(out)[:max_size]

    seeds = Path(tempfile.mkdtemp(prefix="cps-fuzz-corpus-"))
    for n, session in enumerate(corpus):
        (seeds / f"seed-{n}").write_bytes(encode(session.steps))
    print(f"atheris: {instrument_card(atheris)} functions of simulators.card instrumented", flush=True)
    with catching_bugs():
        atheris.Setup(
            [sys.argv[0], f"-seed={seed}", "-max_len=65536", "-rss_limit_mb=4096", "-print_final_stats=1", str(seeds)],
            one_input,
            custom_mutator=custom_mutator,
        )
        atheris.Fuzz()
    return 0


# =================================================================================================
# The command
# =================================================================================================


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz_card", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", choices=["fuzz", "record"], default="fuzz")
    parser.add_argument("--apdus", type=int, default=100_000, help="APDU budget (default 100,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--session", type=int, help="replay this one session of the seed, and print it")
    parser.add_argument("--engine", choices=["random", "atheris"], default="random")
    parser.add_argument("--input", type=Path, help="play one atheris input (e.g. a crash- file) and print it")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "record":
        sessions = record()
        print(f"{CORPUS}: {len(sessions)} sessions, {sum(len(s.steps) for s in sessions)} steps")
        return 0
    corpus = load_corpus()
    spec = pharmacist_spec(Pki())
    if args.engine == "atheris":
        return run_atheris(spec, corpus, args.apdus, args.seed)
    fuzzer = Fuzzer(spec, corpus, args.seed)
    if args.input is not None:
        data = args.input.read_bytes()
        rng = random.Random(data)
        oracle = Oracle(fuzzer.card_for(rng), keep_trace=True)
        with catching_bugs():
            try:
                for step in fit_to_key(decode(data), fuzzer.public, rng):
                    oracle.power_on() if step is None else oracle.send(step)
            except Finding as finding:
                print(finding)
                return 1
        print("\n".join(oracle.trace) + f"\n{oracle.sent} APDUs, no finding")
        return 0
    if args.session is not None:
        with catching_bugs():
            try:
                oracle = fuzzer.play(args.session, keep_trace=True)
            except Finding as finding:
                print(finding)
                return 1
        if args.verbose:
            print("\n".join(oracle.trace))
        print(f"session {args.session}: {oracle.sent} APDUs, no finding")
        return 0

    def progress(report: Report) -> None:
        print(f"  … {report.apdus:,} APDUs, {report.rate:,.0f}/s, {len(report.findings)} findings", flush=True)

    report = fuzzer.run(args.apdus, progress=progress)
    for index, finding in report.findings:
        print(f"\n--- session {index} (replay: --seed {args.seed} --session {index}) ---\n{finding}")
    print(report.summary())
    return 1 if report.findings else 0


if __name__ == "__main__":
    sys.exit(main())
