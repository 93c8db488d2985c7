"""Virtual card readers: insert a card into a private stack's reader, remove it, reset it.

Runs on asyncio (the card's socket lives on the world's event loop). Insertion waits until
pcscd has seen the card (it powers it up on detection), never by sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.card.vpcd import Card, CardConnection, Removal
from harness.errors import HarnessError
from harness.pcsc.stack import PcscStack
from harness.pki import CertVariants
from simulators.card.cpx import CpxCard
from simulators.card.view import CardView

INSERT_TIMEOUT = 10.0


class CardReaderError(HarnessError):
    """A reader cannot do what was asked (a card already in it, none in it, pcscd did not take it)."""


@dataclass
class CardReader:
    """One vpcd reader of a stack: at most one card in it at a time.

    ``seen_by`` is how to ask pcscd whether it lists the card (``PcscStack.wait_reader``):
    with it, insert and remove return only once PC/SC clients see the change. ``owner`` gives
    the PID of the stack's running pcscd (``PcscStack.daemon_pid``): a card goes only into a port
    that process listens on, and its connection attempts end with the stack. ``readers_of`` sets
    both.
    """

    name: str
    port: int
    mute_watchdog: float = 3.0
    seen_by: Callable[[str, bool, float], bool] | None = None
    owner: Callable[[], int | None] | None = None
    card: Card | None = None
    certificates: CertVariants | None = None
    """What the card's certificates were issued as, when the inserter said (status shows it)."""
    _connection: CardConnection | None = None
    _task: asyncio.Task[Removal] | None = None
    last_removal: Removal | None = None

    @property
    def present(self) -> bool:
        return self._task is not None and not self._task.done()

    async def insert(
        self, card: Card, timeout: float = INSERT_TIMEOUT, *, certificates: CertVariants | None = None
    ) -> None:
        """Plug ``card`` in and wait until pcscd powers it (it then lists it as present).

        ``certificates``: the variants its certificates were issued as, for ``status`` (a card
        cannot tell an expired or revoked certificate from a valid one: only its issuer knows).

        pcscd powers a card when its poller sees the slot go from empty to full. If another thread
        of pcscd learnt of the last card's removal first (a client's disconnect asks for presence
        too), the poller could take the new card for the old one and never power it; the private
        stack's reader driver tells the poller about every removal first (``vpcd_guard.c``), so
        there is nothing to work around here.
        """
        if self.present:
            raise CardReaderError(f"{self.name}: a card is already inserted; remove it first")
        if self._task is not None:
            await self.remove()  # the last card left on its own (fault, watchdog): let pcscd see it gone
        self.card = card
        self.certificates = certificates
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        connection = self._connection = CardConnection(
            card, self.port, mute_watchdog=self.mute_watchdog, owner=self.owner, connect_timeout=timeout
        )
        task = self._task = asyncio.create_task(connection.serve(), name=f"card in {self.name}")
        powering = asyncio.ensure_future(connection.powered_once.wait())
        try:
            await asyncio.wait({powering, task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            powering.cancel()
        powered = connection.powered_once.is_set()
        seen = powered and await self._seen(True, max(0.5, deadline - loop.time()))
        if not seen:
            reason = task.result() if task.done() else None
            observed = reason.value if reason else f"the reader asked for its ATR {connection.state.atr_requests} times"
            observed += "" if reason else (", powered it" if powered else ", never powered it")
            await self.remove()
            raise CardReaderError(f"{self.name}: pcscd did not take the card within {timeout:.0f} s ({observed})")

    async def _seen(self, present: bool, timeout: float) -> bool:
        if self.seen_by is None:
            return True
        return await asyncio.to_thread(self.seen_by, self.name, present, timeout)

    async def remove(self, timeout: float = 5.0) -> Removal | None:
        """Pull the card out; returns why it left (None if there was none)."""
        if self._task is None or self._connection is None:
            return None
        self._connection.remove()
        try:
            self.last_removal = await asyncio.wait_for(self._task, timeout)
        except (TimeoutError, asyncio.CancelledError):
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self.last_removal = Removal.REQUESTED
        self._task = None
        await self._seen(False, timeout)
        return self.last_removal

    def reset(self) -> None:
        """A warm reset of the card: verified codes and selections are lost, counters kept."""
        if self.card is None:
            raise CardReaderError(f"{self.name}: no card")
        self.card.power_on()

    def status(self) -> dict[str, Any]:
        card = self.card
        state = self._connection.state if self._connection else None
        info: dict[str, Any] = {"reader": self.name, "port": self.port, "present": self.present}
        if self._task is not None and self._task.done():
            info["removal"] = self._task.result().value
        elif self.last_removal:
            info["removal"] = self.last_removal.value
        if self.certificates is not None and self.present:
            info["certificates"] = self.certificates.as_json()
        if isinstance(card, CpxCard):
            view = CardView(card)
            info["codes"] = {
                name: {"tries_left": code.tries_left, "max_tries": code.max_tries, "verified": code.verified}
                for name, code in (("pin", view.pin), ("puk", view.puk))
            }
        if state is not None:
            info["apdus"] = state.apdus
            info["powered"] = state.powered
            info["reconnects"] = state.reconnects
        return info


def readers_of(stack: PcscStack, mute_watchdog: float = 3.0) -> list[CardReader]:
    """The readers of a started stack, each tied to its pcscd (for presence and for connecting)."""

    def owner() -> int | None:
        return stack.daemon_pid

    return [CardReader(r.name, r.port, mute_watchdog, seen_by=stack.wait_reader, owner=owner) for r in stack.readers]
