"""World cold start: how long ``World.start()`` takes once the PKI cache exists (target < 1 s).

Run: ``.venv/bin/python -m benchmarks.world [--n 10]``. Each start is a full world: every site on
its loopback TLS port, answered once through the resolver, plus the private pcscd and its
readers. The first start fills the key cache and is excluded. Three kinds of start are
interleaved, so that the machine's drift hits them alike: the full world, the same world
without cards (sites only), and a bare ``PcscStack`` (pcscd and its readers, nothing else): the
anchor, the part of a start that is Debian's pcscd rather than the harness.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from benchmarks.common import Row, Target
from harness.pcsc.stack import PcscStack
from harness.pki import Pki
from harness.world.assembly import World

TARGET = 1.0
START_TIMEOUT = 60.0
KINDS = ("world", "sites", "stack")


async def start_once(kind: str) -> float:
    """Seconds one cold start of ``kind`` takes (a fresh ``Pki`` object: keys read back from disk)."""
    async with asyncio.timeout(START_TIMEOUT):
        if kind == "stack":
            started = time.perf_counter()
            stack = await asyncio.to_thread(PcscStack().start)
            elapsed = time.perf_counter() - started
            await asyncio.to_thread(stack.stop)
            return elapsed
        started = time.perf_counter()
        world = World(pki=Pki(), cards=kind == "world")
        try:
            await world.start()
            return time.perf_counter() - started
        finally:
            await world.stop()


async def measure(n: int, log: Callable[[str], None] = lambda _: None) -> dict[str, list[float]]:
    """``n`` cold starts of each kind, interleaved, after one uncounted warm-up world."""
    async with asyncio.timeout(START_TIMEOUT):
        async with World(cards=True):  # fills the key cache; not counted
            pass
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for i in range(n):
        for kind in KINDS if i % 2 == 0 else KINDS[::-1]:
            times[kind].append(await start_once(kind))
    log(f"world cold start: {n} × {', '.join(KINDS)}")
    return times


def rows(times: dict[str, list[float]]) -> list[Row]:
    world, sites, stack = (statistics.median(times[kind]) for kind in KINDS)
    return [
        Row(
            "world",
            "World cold start, with pcscd + readers",
            "s",
            world,
            stack,
            "bare PcscStack start",
            Target("value_max", TARGET, f"< {TARGET:.0f} s"),
            f"max {max(times['world']) * 1000:.0f} ms over {len(times['world'])} starts; the anchor is the pcscd part",
            {"ours_s": times["world"], "anchor_s": times["stack"]},
        ),
        Row(
            "world",
            "World cold start, sites only (no cards)",
            "s",
            sites,
            target=Target("value_max", TARGET, f"< {TARGET:.0f} s"),
            note=f"max {max(times['sites']) * 1000:.0f} ms",
            samples={"ours_s": times["sites"]},
        ),
    ]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10)
    args = parser.parse_args()
    times = await measure(args.n)
    table = Table(title=f"World cold start, n={args.n} (target < {TARGET:.0f} s)")
    for column in ("start", "median", "max"):
        table.add_column(column)
    for kind, label in zip(KINDS, ("world with pcscd + readers", "world, sites only", "bare PcscStack"), strict=True):
        table.add_row(label, f"{statistics.median(times[kind]) * 1000:.0f} ms", f"{max(times[kind]) * 1000:.0f} ms")
    Console().print(table)


if __name__ == "__main__":
    asyncio.run(main())
