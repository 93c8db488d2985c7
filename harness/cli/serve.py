"""``cps-harness serve``: a world a person (or any tool, with ``--json``) can use until Ctrl-C, with the
trainer console beside it (``trainer`` in ``--json``), or, with ``--scenario``, a world in a scenario's
state held for a trainer (``harness/trainer/serve.py``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from typing import Any

from rich.console import Console

from harness.world.sites import LOOPBACK


def add_parser(commands: Any) -> argparse.ArgumentParser:
    serve: argparse.ArgumentParser = commands.add_parser(
        "serve", help="start a world and keep it running until Ctrl-C (--scenario: in a scenario's state, for trainers)"
    )
    serve.add_argument(
        "--json",
        action="store_true",
        help="print one JSON line: URLs, admin, CA bundle, proxy, PC/SC socket, the trainer console",
    )
    serve.add_argument("--bind", default=LOOPBACK, help="address to listen on (default: loopback only)")
    serve.add_argument(
        "--scenario", metavar="ID_OR_FILE",
        help="start the world in this scenario's state (personas, cards, faults, clock: the steps before the "
        "first one the professional plays) and hold it until Enter or Ctrl-C",
    )  # fmt: skip
    serve.add_argument(
        "--pause-at", type=int, metavar="STEP",
        help="with --scenario: play every step up to and including STEP, then hold the world on the page reached",
    )  # fmt: skip
    serve.add_argument(
        "--driver", choices=["protocol", "chromium"],
        help="with --pause-at: the browser that plays the steps (default: protocol)",
    )  # fmt: skip
    serve.add_argument(
        "--headful", action="store_true",
        help="with --pause-at --driver chromium: a Chromium window (a private Xvfb when there is no screen)",
    )  # fmt: skip
    return serve


def run(args: argparse.Namespace, console: Console) -> int:
    if args.scenario is None:
        if args.pause_at is not None or args.driver is not None or args.headful:
            console.print("[red]✘[/] --pause-at, --driver and --headful go with --scenario")
            return 2
        return asyncio.run(serve(as_json=args.json, bind=args.bind, console=console))
    if args.pause_at is None and (args.driver is not None or args.headful):
        console.print("[red]✘[/] --driver and --headful go with --pause-at (without it no browser step is played)")
        return 2
    from harness.trainer.serve import main

    return main(
        args.scenario, pause_at=args.pause_at, driver=args.driver or "protocol", headless=not args.headful,
        as_json=args.json, bind=args.bind, console=console,
    )  # fmt: skip


async def serve(*, as_json: bool, bind: str, console: Console) -> int:
    """A fresh world until SIGINT or SIGTERM; its URLs printed for a person, or as one JSON line."""
    from harness.trainer.console import console_url, start_console
    from harness.trainer.live import Catalogue, Live
    from harness.world.assembly import World
    from harness.world.console import print_world

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with World(bind=bind) as world:
        trainer = await start_console(Live(Catalogue.guide()))  # beside the world, on loopback
        try:
            url = console_url(trainer)
            if as_json:
                print(json.dumps({**world.describe(), "trainer": url}, ensure_ascii=False), flush=True)
            else:
                print_world(world, console)
                console.print(f"Trainer console: {url}", soft_wrap=True)
                console.print("Ctrl-C stops the world.")
            await stop.wait()
        finally:
            await trainer.stop()
    return 0
