"""A private PC/SC stack with virtual cards, usable from synchronous code (tests, scripts, CLI).

The cards' sockets live on an asyncio loop in a background thread; every call from the caller's
thread goes through ``run_coroutine_threadsafe`` with a timeout, so nothing here can hang.

    with CardHost() as host:
        host.insert(make_card(load_profile("pharmacist"), Pki())[0])
        subprocess.run(["pkcs15-tool", "-D"], env=host.client_env())
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Self, TypeVar

from harness.card_run import client_env
from harness.cards import CardReader
from harness.pcsc import PcscStack
from simulators.card.vpcd import Card, Removal

T = TypeVar("T")
CALL_TIMEOUT = 30.0


class CardHost:
    def __init__(self, stack: PcscStack | None = None, *, mute_watchdog: float = 3.0) -> None:
        self.stack = stack or PcscStack()
        self.mute_watchdog = mute_watchdog
        self.readers: list[CardReader] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        self.stack.start()
        try:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name="cps-card-host", daemon=True)
            self._thread.start()
            self.readers = [
                CardReader(r.name, r.port, self.mute_watchdog, seen_by=self.stack.wait_reader)
                for r in self.stack.readers
            ]
        except BaseException:
            self.stop()
            raise
        return self

    def _call(self, coroutine: Coroutine[Any, Any, T], timeout: float = CALL_TIMEOUT) -> T:
        if self._loop is None:
            coroutine.close()
            raise RuntimeError("the card host is not started")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def reader(self, index: int) -> CardReader:
        try:
            return self.readers[index]
        except IndexError:
            raise IndexError(f"reader {index}: this stack has readers 0-{len(self.readers) - 1}") from None

    def insert(self, card: Card, reader: int = 0) -> None:
        self._call(self.reader(reader).insert(card))

    def remove(self, reader: int = 0) -> Removal | None:
        return self._call(self.reader(reader).remove())

    def reset(self, reader: int = 0) -> None:
        self.reader(reader).reset()

    def status(self) -> list[dict[str, Any]]:
        async def collect() -> list[dict[str, Any]]:
            return [r.status() for r in self.readers]

        return self._call(collect())

    def client_env(self) -> dict[str, str]:
        return client_env(self.stack)

    def stop(self) -> None:
        if self._loop is not None:
            for index, reader in enumerate(self.readers):
                if reader.present:
                    # stopping must go on whatever happens: the stack below still has to go
                    with contextlib.suppress(Exception):
                        self.remove(index)
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(5)
            self._loop.close()
            self._loop = self._thread = None
        self.stack.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
