"""A private PC/SC stack with virtual cards, usable from synchronous code (tests, scripts, CLI).

The cards' sockets live on an asyncio loop in a background thread; every call from the caller's
thread goes through ``run_coroutine_threadsafe`` with a timeout, so nothing here can hang.

    with CardHost() as host:
        host.insert(make_card(load_profile("pharmacist"), Pki())[0])
        subprocess.run(["pkcs15-tool", "-D"], env=host.client_env())
"""

from __future__ import annotations

import contextlib
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Self, TypeVar

from harness.background import CALL_TIMEOUT, BackgroundLoop
from harness.card.reader import CardReader, CardReaderError, readers_of
from harness.card.vpcd import Card, Removal
from harness.middleware import client_env
from harness.pcsc.stack import PcscStack
from harness.pki import CertVariants

T = TypeVar("T")


class CardHost:
    def __init__(self, stack: PcscStack | None = None, *, mute_watchdog: float = 3.0) -> None:
        self.stack = stack or PcscStack()
        self.mute_watchdog = mute_watchdog
        self.readers: list[CardReader] = []
        self._background: BackgroundLoop | None = None

    def start(self) -> Self:
        self.stack.start()
        try:
            self._background = BackgroundLoop("cps-card-host")
            self.readers = readers_of(self.stack, self.mute_watchdog)
        except BaseException:
            self.stop()
            raise
        return self

    def _call(self, coroutine: Coroutine[Any, Any, T], timeout: float = CALL_TIMEOUT) -> T:
        if self._background is None:
            coroutine.close()
            raise RuntimeError("the card host is not started")
        return self._background.run(coroutine, timeout)

    def reader(self, index: int) -> CardReader:
        try:
            return self.readers[index]
        except IndexError:
            raise IndexError(f"reader {index}: this stack has readers 0-{len(self.readers) - 1}") from None

    def insert(self, card: Card, reader: int = 0, certificates: CertVariants | None = None) -> None:
        try:
            self._call(self.reader(reader).insert(card, certificates=certificates))
        except CardReaderError as exc:  # what pcscd said is the only clue to why it did not take the card
            raise CardReaderError(f"{exc}; pcscd's log ends with:\n{self.stack.log_tail()}") from exc

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
        if self._background is not None:
            for index, reader in enumerate(self.readers):
                if reader.present:
                    # stopping must go on whatever happens: the stack below still has to go
                    with contextlib.suppress(Exception):
                        self.remove(index)
            self._background.stop()
            self._background = None
        self.stack.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
