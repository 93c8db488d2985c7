"""A child process that proves a private pcscd is ready, then keeps it alive.

Why a child: libpcsclite reads ``PCSCLITE_CSOCK_NAME`` once per process, so one process can
only ever talk to one pcscd; the harness must be able to run several stacks. Why it stays:
a socket-activated pcscd exits about 60 s after its last client leaves, and an idle world
must not lose its readers. When the parent dies, stdin closes and the keeper leaves too.

Protocol: one JSON line on stdout, ``{"ready": true, "readers": [...]}`` or
``{"ready": false, "connected": bool, "error": "...", "readers": [...]}``; then it waits for EOF on stdin.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence

from smartcard import scard


def list_readers(context: int) -> list[str]:
    rc, readers = scard.SCardListReaders(context, [])
    if rc == scard.SCARD_E_NO_READERS_AVAILABLE:
        return []
    if rc != scard.SCARD_S_SUCCESS:
        raise OSError(f"SCardListReaders failed: {scard.SCardGetErrorMessage(rc)}")
    return list(readers)


def wait_ready(expected: int, timeout: float) -> tuple[int | None, list[str], str]:
    """Poll the PC/SC API until ``expected`` readers are listed or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    context: int | None = None
    readers: list[str] = []
    error = "timed out"
    while time.monotonic() < deadline:
        if context is None:
            rc, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if rc == scard.SCARD_S_SUCCESS:
                context = ctx
            else:
                error = f"SCardEstablishContext: {scard.SCardGetErrorMessage(rc)}"
        if context is not None:
            try:
                readers = list_readers(context)
            except OSError as exc:
                error = str(exc)
            if len(readers) >= expected:
                return context, readers, ""
        time.sleep(0.002)
    return context, readers, error


def main(argv: Sequence[str]) -> int:
    expected, timeout = int(argv[0]), float(argv[1])
    context, readers, error = wait_ready(expected, timeout)
    ready = not error
    report = {"ready": ready, "connected": context is not None, "readers": readers, "error": error}
    print(json.dumps(report), flush=True)
    if ready:
        sys.stdin.read()  # hold the context until the parent closes the pipe
    if context is not None:
        scard.SCardReleaseContext(context)
    return 0 if ready else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
