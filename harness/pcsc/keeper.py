"""A child process that proves a private pcscd is ready, then keeps it alive.

Why a child: libpcsclite reads ``PCSCLITE_CSOCK_NAME`` once per process, so one process can
only ever talk to one pcscd; the harness must be able to run several stacks. Why it stays:
a socket-activated pcscd exits about 60 s after its last client leaves, and an idle world
must not lose its readers. When the parent dies, stdin closes and the keeper leaves too.

Protocol: one JSON line on stdout, ``{"ready": true, "readers": [...]}`` or
``{"ready": false, "connected": bool, "error": "...", "readers": [...]}``. Then it answers
requests, one line each way, until EOF on stdin:
``wait <reader name> present|empty <timeout s>`` → ``{"ok": bool, "present": bool}``, which lets
the harness know that pcscd itself has seen a card arrive or leave (vpcd polls every 400 ms).
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


def reader_present(context: int, reader: str, timeout: float, want_present: bool) -> tuple[bool, bool]:
    """Wait (through SCardGetStatusChange) until ``reader`` is or is not PRESENT; (ok, present)."""
    deadline = time.monotonic() + timeout
    known = scard.SCARD_STATE_UNAWARE
    present = False
    while True:
        remaining = max(0, int((deadline - time.monotonic()) * 1000))
        rc, states = scard.SCardGetStatusChange(context, remaining, [(reader, known)])
        if rc == scard.SCARD_S_SUCCESS:
            _, event, _ = states[0]
            present = bool(event & scard.SCARD_STATE_PRESENT)
            if present == want_present:
                return True, present
            known = event & ~scard.SCARD_STATE_CHANGED
        elif rc != scard.SCARD_E_TIMEOUT:
            return False, present
        if time.monotonic() >= deadline:
            return False, present


def answer(context: int, line: str) -> dict[str, object]:
    try:
        verb, rest = line.strip().split(" ", 1)
        name, wanted, timeout = rest.rsplit(" ", 2)
        if verb != "wait" or wanted not in ("present", "empty"):
            raise ValueError(line)
        ok, present = reader_present(context, name, float(timeout), wanted == "present")
        return {"ok": ok, "present": present}
    except ValueError:
        return {"ok": False, "error": f"bad request {line.strip()!r}"}


def main(argv: Sequence[str]) -> int:
    expected, timeout = int(argv[0]), float(argv[1])
    context, readers, error = wait_ready(expected, timeout)
    ready = not error
    report = {"ready": ready, "connected": context is not None, "readers": readers, "error": error}
    print(json.dumps(report), flush=True)
    if ready and context is not None:
        for line in sys.stdin:  # hold the context until the parent closes the pipe
            print(json.dumps(answer(context, line)), flush=True)
    if context is not None:
        scard.SCardReleaseContext(context)
    return 0 if ready else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
