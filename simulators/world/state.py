"""Everything a world's sites share, in one object handed to every app factory."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from simulators.world.clock import Clock
from simulators.world.directory import Directory
from simulators.world.ecps import EcpsRegistry
from simulators.world.outbox import Outbox

DEFAULT_DEVICE = "telephone-1"
"""The virtual phone every activation binds to unless a scenario names another."""


@dataclass
class WorldState:
    clock: Clock = field(default_factory=Clock)
    directory: Directory = field(default_factory=Directory)
    outbox: Outbox = field(default_factory=Outbox)
    ecps: EcpsRegistry = field(default_factory=EcpsRegistry)

    def now(self) -> dt.datetime:
        return self.clock.now()
