"""An asyncio loop on a background thread, for synchronous callers of the asynchronous harness.

Card hosts, world hosts and fuzzers drive sockets that live on an event loop; their callers
(tests, scripts) are synchronous. Every call waits with a timeout, so nothing can hang.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
CALL_TIMEOUT = 30.0


class BackgroundLoop:
    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = CALL_TIMEOUT) -> T:
        if not self.running:
            coroutine.close()
            raise RuntimeError("the background loop is stopped")
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        if self.running:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
        if not self.loop.is_closed() and not self.running:
            self.loop.close()
