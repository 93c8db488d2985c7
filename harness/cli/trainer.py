"""``cps-harness trainer``: the trainer console, a French web page that plays any path of the guide live.

It starts the console on a loopback port and opens it in the user's browser when there is a screen
(``--no-open``, or no screen: the URL is printed). Ctrl-C stops it and the world it holds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import webbrowser
from typing import Any

from rich.console import Console

OPEN_TIMEOUT = 10.0
"""Seconds the user's browser may take to be handed the URL."""


def port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0 to 65535; 0: any free port)")
    return port


def add_parser(commands: Any) -> argparse.ArgumentParser:
    trainer: argparse.ArgumentParser = commands.add_parser(
        "trainer", help="the trainer console: a French web page to play any path of the guide live (until Ctrl-C)"
    )
    trainer.add_argument("--scenario", metavar="ID", help="open the console with this path selected (G6-02)")
    trainer.add_argument("--port", type=port_number, default=0, help="loopback port (default: any free one)")
    trainer.add_argument("--no-open", action="store_true", help="print the URL; do not open a browser")
    trainer.add_argument("--json", action="store_true", help="print one JSON line with the console's URL")
    return trainer


def run(args: argparse.Namespace, console: Console) -> int:
    from harness.trainer.live import Catalogue

    catalogue = Catalogue.guide()
    if args.scenario is not None and args.scenario not in catalogue.scenarios:
        console.print(f"[red]✘[/] --scenario {args.scenario}: not a path of the guide (e.g. G6-02; cps-harness check)")
        return 2
    return asyncio.run(serve_console(catalogue, args, console))


async def serve_console(catalogue: Any, args: argparse.Namespace, console: Console) -> int:
    from harness.trainer.console import console_url, start_console
    from harness.trainer.live import Live
    from harness.trainer.own_browser import has_display

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        site = await start_console(Live(catalogue), port=args.port)
    except OSError as exc:
        console.print(f"[red]✘[/] port {args.port}: {exc.strerror or exc}; choose another (--port 0: any free one)")
        return 2
    try:
        url = console_url(site, args.scenario)
        if args.json:
            print(json.dumps({"trainer": url}), flush=True)
        else:
            console.print(f"Trainer console: {url}", soft_wrap=True)
        if not args.no_open:
            if not has_display():
                console.print("No screen here (DISPLAY is not set): open the URL in a browser on this machine.")
            elif not await asyncio.wait_for(asyncio.to_thread(webbrowser.open, url), OPEN_TIMEOUT):
                console.print("No browser could be opened: open the URL yourself.")
        if not args.json:
            console.print("Ctrl-C stops the console and the world it holds.")
        await stop.wait()
    finally:
        await site.stop()
    if not args.json:
        console.print("console stopped")
    return 0
