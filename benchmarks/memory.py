"""Peak memory of a world: the world's own process, and its pcscd, measured in a child process.

Run: ``.venv/bin/python -m benchmarks.memory``. A child process (so that nothing the benchmark
runner has loaded counts) imports the harness, notes its peak resident size (``VmHWM``): the
anchor, Python and the libraries before any world exists. Then it starts a world with its private
pcscd, inserts the ``pharmacist`` card, plays ``--flows`` complete e-CPS logins through PSC and
one GET of Test SSL with TLS client authentication signed by the card (curl, OpenSSL's PKCS#11
engine, OpenSC, pcscd: the protocol driver's ``card_open``), and reads the peaks again: its own
``VmHWM``, and ``VmHWM`` of pcscd and of the stack's keeper process. (``ru_maxrss`` is in the JSON
but not the table: Linux keeps the pre-``execve`` peak in it, the runner's when the runner spawns us.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, Row

CHILD_TIMEOUT = 240.0
MIB = 1024 * 1024


def status_kib(pid: int | str, field: str) -> int | None:
    """A ``kB`` field of ``/proc/PID/status`` (``VmHWM``, ``VmRSS``), None if the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


async def child(flows: int) -> dict[str, Any]:
    """The measurement itself (in the child process): peaks before and after a busy world."""
    from benchmarks.card import PIN, PROFILE
    from benchmarks.psc import PscWorker, psc_world, run_flows
    from harness.card.profile import load_profile, make_card
    from harness.drivers.protocol import ProtocolBrowser
    from harness.pki import Pki

    baseline = status_kib("self", "VmHWM")
    pki = Pki()
    async with asyncio.timeout(CHILD_TIMEOUT - 30), psc_world(pki, 1, cards=True) as (world, identities):
        assert world.stack is not None and world.pki is not None
        card, credentials = make_card(load_profile(PROFILE), world.pki, world.state.now())
        await world.readers[0].insert(card)
        async with PscWorker(world, identities[0], "inproc") as worker:
            await run_flows([worker], flows)
        with tempfile.TemporaryDirectory(prefix="cps-bench-mem-") as scratch:
            paths = credentials.authentication.write(Path(scratch), "auth")
            browser = ProtocolBrowser(world, Path(scratch))
            try:
                await browser.card_open(world.urls["testssl"] + "/", paths["cert.pem"], PIN)
            finally:
                await browser.close()
            if browser.page is None or browser.page.status != 200:
                raise RuntimeError(f"Test SSL with the card failed: {browser.client_error or browser.page}")
        pcscd, keeper = world.stack.pids
        result = {
            "flows": flows,
            "baseline_vmhwm_kib": baseline,
            "world_vmhwm_kib": status_kib("self", "VmHWM"),
            "world_vmrss_kib": status_kib("self", "VmRSS"),
            # Linux carries the peak of the image before execve over: spawned by a big parent, this
            # figure is the parent's peak, hence VmHWM above (kept for the record, not the table)
            "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "pcscd_vmhwm_kib": status_kib(pcscd, "VmHWM"),
            "pcscd_vmrss_kib": status_kib(pcscd, "VmRSS"),
            "keeper_vmhwm_kib": status_kib(keeper, "VmHWM"),
            "card_apdus": len(card.log),
        }
    return result


def measure(flows: int) -> dict[str, Any]:
    """Run the child and return what it measured."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", "--child", "--flows", str(flows)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the memory child failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def rows(found: dict[str, Any]) -> list[Row]:
    def mib(key: str) -> float | None:
        value = found.get(key)
        return None if value is None else value * 1024 / MIB

    return [
        Row(
            "memory",
            "peak memory of a world process (VmHWM)",
            "MiB",
            mib("world_vmhwm_kib"),
            mib("baseline_vmhwm_kib"),
            "same process, imports only",
            note=f"after start, {found['flows']} e-CPS logins and one card TLS request to Test SSL "
            f"({found['card_apdus']} APDUs); resident at the end {mib('world_vmrss_kib') or 0:.1f} MiB",
        ),
        Row(
            "memory",
            "  its pcscd (VmHWM)",
            "MiB",
            mib("pcscd_vmhwm_kib"),
            note=f"plus the stack's keeper process (pyscard, holds pcscd open): {mib('keeper_vmhwm_kib') or 0:.1f} MiB",
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--flows", type=int, default=50, help="e-CPS logins played before reading (default 50)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.flows))))
        return 0
    print(json.dumps(measure(args.flows), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
