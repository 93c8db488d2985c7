"""The exchanges real CPS3 cards had with their hosts (``tests/data/cpx-real-cards.txt``), and how to
hold a card's answers against them.

What may differ from card to card is marked ``x`` in the recorded answer (D003's serial digits); the
rest must match byte for byte. Exchanges recorded through OpenSC without an Le (opensc-explorer's
``apdu``) could not tell ``61xx`` from ``9000``, so either matches them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.paths import REPO

EXCHANGES = REPO / "tests" / "data" / "cpx-real-cards.txt"


@dataclass(frozen=True)
class Step:
    command: bytes
    answer: str | None
    """The recorded answer's hex digits (``x`` where cards differ), or None when only its SW was recorded."""
    sw: int | None
    """The recorded status word, or None for a step of ours with nothing recorded."""
    recorded: bool
    """False: a step of ours, to reach the state the source was in."""
    folded: bool = False
    """Recorded without Le through OpenSC: a ``61xx`` of the card showed as ``9000``."""

    def mismatch(self, answer: bytes) -> str | None:
        """Why ``answer`` (data + SW) is not what the real card answered; None when it is."""
        sw = int.from_bytes(answer[-2:], "big")
        if self.sw is None:
            return None if sw == 0x9000 or sw >> 8 == 0x61 else f"set-up step answered {sw:04X}"
        if self.folded and self.sw == 0x9000 and sw >> 8 == 0x61:
            return None
        if self.answer is None or self.folded:
            return None if sw == self.sw else f"SW {sw:04X}, the real card {self.sw:04X}"
        pattern = re.compile(self.answer.replace("X", "[0-9A-F]"))
        got = answer.hex().upper()
        return None if pattern.fullmatch(got) else f"answered {got}, the real card {self.answer}"


@dataclass
class Session:
    name: str
    source: str
    steps: list[Step] = field(default_factory=list)

    @property
    def recorded(self) -> list[Step]:
        return [s for s in self.steps if s.recorded]


def load(path: Path = EXCHANGES) -> list[Session]:
    sessions: list[Session] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("="):
            name, _, source = line[1:].partition("|")
            sessions.append(Session(name.strip(), source.strip()))
            continue
        ours = line.startswith(">")
        words = line.lstrip("> ").split()
        command = bytes.fromhex(words[0])
        if len(words) >= 3 and words[1] == "->":
            step = Step(command, None, int(words[2], 16), recorded=not ours)
        elif ours:
            step = Step(command, None, None, recorded=False)
        else:
            answer = words[1].upper()  # the card-to-card digits become X
            step = Step(command, answer, int(answer[-4:], 16), recorded=True, folded=words[2:] == ["~"])
        if not sessions:
            raise ValueError(f"{path}:{number}: an exchange before any '= session' line")
        sessions[-1].steps.append(step)
    return sessions


def replay(session: Session, transmit: Callable[[bytes], bytes]) -> tuple[list[str], list[bytes]]:
    """Send every step of ``session`` (on a card just powered on); the mismatches, and every answer."""
    problems: list[str] = []
    answers: list[bytes] = []
    for step in session.steps:
        answer = transmit(step.command)
        answers.append(answer)
        why = step.mismatch(answer)
        if why:
            problems.append(f"{step.command.hex().upper()}: {why}")
    return problems, answers
