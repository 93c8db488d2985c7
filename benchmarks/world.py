"""World cold start: how long ``World.start()`` takes once the PKI cache exists (target < 1 s).

Run: ``.venv/bin/python benchmarks/world.py [--n 10]``. Each start is a full world: every site on
its loopback TLS port, answered once through the resolver, plus the private pcscd and its
readers (``--no-cards`` leaves them out). The first start fills the key cache and is excluded.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from rich.console import Console
from rich.table import Table

from harness.pki import Pki
from harness.world import World

TARGET = 1.0


async def measure(n: int, cards: bool) -> list[float]:
    warm_up = World(cards=cards)  # fills the key cache; not counted
    await warm_up.start()
    await warm_up.stop()
    times = []
    for _ in range(n):
        started = time.perf_counter()
        world = World(pki=Pki(), cards=cards)
        await world.start()
        times.append(time.perf_counter() - started)
        await world.stop()
    return times


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10)
    args = parser.parse_args()
    table = Table(title=f"World cold start, n={args.n} (target < {TARGET:.0f} s)")
    for column in ("world", "median", "max", "verdict"):
        table.add_column(column)
    for cards in (True, False):
        times = await measure(args.n, cards)
        median = statistics.median(times)
        table.add_row(
            "with pcscd + readers" if cards else "sites only",
            f"{median * 1000:.0f} ms",
            f"{max(times) * 1000:.0f} ms",
            "PASS" if max(times) < TARGET else "MISS",
        )
    Console().print(table)


if __name__ == "__main__":
    asyncio.run(main())
