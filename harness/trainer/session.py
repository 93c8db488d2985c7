"""The trainer console's session rules, sans-IO: which operation is allowed in which state, and what
it asks the world to do.

A session holds at most one path at a time. Its state says what a trainer may do next, as h11's
state machine says what a connection may send: nothing while an operation runs (a second click is
refused, never raced), play forward or go anywhere while the world is held on a step, only start
again once a world broke. ``begin`` checks an operation against the table and returns the ``Plan``
(replay from a fresh world or play on, up to which step, with which live faults where);
``finished``/``broke`` record how it ended. Nothing here starts a world or awaits: the console's I/O
layer (``live.py``) does that, and the rules are tested on their own.

Going back is replaying: a scenario in a fresh world replayed up to step N reaches the same state
(the world clock is set per scenario). Live faults belong to the timeline: a fault switched after
step k is switched again after step k in every replay that reaches k, and forgotten by a replay that
stops before it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from harness.trainer.switches import SWITCHES


class State(enum.Enum):
    IDLE = "idle"
    """No path chosen yet, or the last one stopped."""
    WORKING = "working"
    """An operation runs: every other one is refused until it ends."""
    HOLDING = "holding"
    """The world is held after step ``position`` (0: before the first)."""
    BROKEN = "broken"
    """The last operation failed to reach its step (a world that did not start, a timeout, a bug)."""


class Op(enum.Enum):
    START = "start"
    NEXT = "next"
    BACK = "back"
    GOTO = "goto"
    RESTART = "restart"
    SWITCH = "switch"
    STOP = "stop"
    OWN_BROWSER = "own-browser"


ALLOWED: dict[State, frozenset[Op]] = {
    State.IDLE: frozenset({Op.START, Op.STOP}),
    State.WORKING: frozenset(),
    State.HOLDING: frozenset(Op),
    State.BROKEN: frozenset({Op.START, Op.GOTO, Op.RESTART, Op.STOP}),
}
"""The table: what each state lets a trainer do."""
WORDS: dict[Op, str] = {
    Op.START: "choisir un parcours",
    Op.NEXT: "passer à l'étape suivante",
    Op.BACK: "revenir à l'étape précédente",
    Op.GOTO: "aller à une étape",
    Op.RESTART: "recommencer le parcours",
    Op.SWITCH: "déclencher une panne",
    Op.STOP: "arrêter le parcours",
    Op.OWN_BROWSER: "ouvrir le site dans votre navigateur",
}


class Refused(Exception):
    """An operation the session does not allow now, or a request it cannot read: the French message
    is for the trainer, ``status`` for the HTTP answer (409 not now, 400 bad request, 404 unknown)."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Applied:
    """A live fault switched by the trainer once ``after`` steps had been played."""

    after: int
    switch: str


@dataclass(frozen=True)
class Plan:
    """What an operation asks of the I/O layer."""

    op: Op
    fresh: bool
    """Start a new world (a new path, going back, restarting) rather than go on in the held one."""
    target: int
    """Hold the world after this many steps."""
    switch: str | None = None
    """``Op.SWITCH``: the fault to play now, on the held world."""


@dataclass
class Session:
    """One trainer's session: the chosen path, where its world is held, the faults switched."""

    state: State = State.IDLE
    scenario: str | None = None
    steps: int = 0
    """How many steps the chosen path has."""
    position: int = 0
    """Steps played in the world held now."""
    switches: frozenset[str] = frozenset()
    """The faults the chosen path offers (``switches.available``)."""
    applied: list[Applied] = field(default_factory=list)
    working: Op | None = None
    problem: str | None = None
    """Why the last operation broke the world, in French (shown until the next operation)."""
    _resume: State = State.IDLE

    def allowed(self) -> frozenset[Op]:
        return ALLOWED[self.state]

    def begin(
        self, op: Op, *, scenario: str | None = None, steps: int = 0, switches: frozenset[str] = frozenset(),
        target: int | None = None, switch: str | None = None,
    ) -> Plan:  # fmt: skip
        """Check ``op`` against the table and the path, then enter WORKING; ``Refused`` says why not."""
        if op not in ALLOWED[self.state]:
            if self.state is State.WORKING:
                assert self.working is not None
                raise Refused(f"Une opération est en cours ({WORDS[self.working]}) : attendez qu'elle se termine.")
            if self.state is State.IDLE:
                raise Refused(f"Impossible de {WORDS[op]} : choisissez d'abord un parcours.")
            raise Refused(f"Impossible de {WORDS[op]} : le monde s'est arrêté sur une erreur ; rejouez le parcours.")
        plan = self._plan(op, scenario, steps, switches, target, switch)
        self._resume, self.state, self.working, self.problem = self.state, State.WORKING, op, None
        if op is Op.START:
            assert scenario is not None
            self.scenario, self.steps, self.switches, self.applied = scenario, steps, switches, []
            self.position = 0
        elif op is Op.RESTART:  # from the very beginning: the faults switched live go too
            self.applied = []
        return plan

    def _plan(
        self, op: Op, scenario: str | None, steps: int, switches: frozenset[str], target: int | None,
        switch: str | None,
    ) -> Plan:  # fmt: skip
        if op is Op.START:
            if scenario is None or steps < 1:
                raise Refused("Choisissez un parcours.", 400)
            return Plan(op, fresh=True, target=0)
        if op is Op.NEXT:
            if self.position >= self.steps:
                raise Refused(f"Le parcours est terminé : ses {self.steps} étapes sont jouées.")
            return Plan(op, fresh=False, target=self.position + 1)
        if op is Op.BACK:
            if self.position == 0:
                raise Refused("Vous êtes au début du parcours : aucune étape à défaire.")
            return Plan(op, fresh=True, target=self.position - 1)
        if op is Op.GOTO:
            if target is None or not 0 <= target <= self.steps:
                raise Refused(f"Choisissez une étape entre 0 et {self.steps}.", 400)
            onward = self.state is State.HOLDING and target >= self.position
            return Plan(op, fresh=not onward, target=target)
        if op is Op.RESTART:
            return Plan(op, fresh=True, target=0)
        if op is Op.SWITCH:
            if switch not in SWITCHES:
                raise Refused("Panne inconnue.", 400)
            if switch not in self.switches:
                raise Refused(f"« {SWITCHES[switch].label} » ne concerne pas ce parcours.", 400)
            return Plan(op, fresh=False, target=self.position, switch=switch)
        return Plan(op, fresh=False, target=self.position)  # STOP, OWN_BROWSER

    def finished(self, plan: Plan, position: int) -> None:
        """The operation ended with the world held after ``position`` steps (or stopped, for STOP)."""
        self.working = None
        if plan.op is Op.STOP:
            self.state, self.scenario, self.steps, self.position, self.applied = State.IDLE, None, 0, 0, []
            return
        self.state, self.position = State.HOLDING, position
        if plan.fresh:  # a replay forgets the faults switched after the step it stopped at
            self.applied = [a for a in self.applied if a.after <= position]
        if plan.switch is not None:
            self.applied.append(Applied(position, plan.switch))

    def broke(self, problem: str) -> None:
        """The operation failed; the world it had is stopped. ``problem``: why, in French."""
        self.working, self.problem = None, problem
        self.state = State.BROKEN if self.scenario is not None else State.IDLE

    def refused_midway(self, plan: Plan, problem: str) -> None:
        """The operation could not be done but the world is as it was (a fault with no effect here)."""
        self.working, self.problem, self.state = None, problem, self._resume
        if plan.op is Op.START:
            self.state = State.IDLE

    def faults_before(self, step: int) -> list[str]:
        """The faults to switch, in order, once ``step`` steps are played in a replay."""
        return [a.switch for a in self.applied if a.after == step]

    def wrong_pin_at(self, step: int) -> bool:
        """Whether the professional types a wrong PIN at ``step`` (1-based): the last PIN switch before it."""
        mode = False
        for applied in self.applied:
            if applied.after < step and SWITCHES[applied.switch].pin is not None:
                mode = bool(SWITCHES[applied.switch].pin)
        return mode
