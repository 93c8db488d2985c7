"""``cps-harness demo ID``: play a scenario in a real browser (Chromium, or Firefox) and write a trainer's slides."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console


def add_parser(commands: Any) -> argparse.ArgumentParser:
    demo: argparse.ArgumentParser = commands.add_parser(
        "demo", help="play a scenario in a real browser and write slides: per step, screenshot and the guide's words"
    )
    demo.add_argument("target", metavar="ID_OR_FILE", help="a scenario id (G2-04) or file")
    demo.add_argument("--out", type=Path, help="where index.html goes, pictures inside (default: reports/demo-ID)")
    demo.add_argument(
        "--driver", choices=["chromium", "firefox"], default="chromium",
        help="the browser (default chromium; firefox: card steps through Firefox's own PIN dialog, on the slides)",
    )  # fmt: skip
    demo.add_argument(
        "--headful", action="store_true",
        help="Chromium with a window (a private Xvfb when there is no screen): the PIN dialog is on the slides",
    )  # fmt: skip
    return demo


def run(args: argparse.Namespace, console: Console) -> int:
    from harness.trainer.demo import main

    return main(args.target, out=args.out, headless=not args.headful, driver=args.driver, console=console)
