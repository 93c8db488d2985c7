"""``cps-harness card …``: run a command against a card, or serve cards and control them."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from aiohttp import web
from rich.console import Console
from rich.table import Table

from harness.card.control import default_control_path, make_app, request
from harness.card.profile import load_profile, make_card
from harness.card.reader import readers_of
from harness.card.run import run_with_card
from harness.middleware import client_env
from harness.pcsc.stack import PcscStack
from harness.pki import Pki


def add_parser(commands: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser("card", help="the virtual CPS card")
    card = parser.add_subparsers(dest="card_command", required=True)
    run = card.add_parser("run", help="run a command against a virtual card in a private PC/SC stack")
    run.add_argument("--profile", default="pharmacist", help="built-in profile name or YAML path")
    run.add_argument("--trace", action="store_true", help="print the decoded APDU log (codes masked) on stderr")
    run.add_argument(
        "command_line", nargs=argparse.REMAINDER, metavar="-- COMMAND", help="the command to run, after --"
    )

    serve = card.add_parser("serve", help="keep a private stack with virtual readers until Ctrl-C")
    serve.add_argument("--profile", help="insert this profile into reader 0 at start")
    serve.add_argument(
        "--control", type=Path, default=None, help="control socket path (default: $CPS_HARNESS_CONTROL or runtime dir)"
    )
    serve.add_argument("--json", action="store_true", help="print one JSON line (socket, readers, control)")

    for name, what in (
        ("insert", "insert a card"),
        ("remove", "remove the card"),
        ("reset", "reset the card"),
        ("status", "show readers, cards and code counters"),
        ("log", "show a card's APDU log"),
    ):
        sub = card.add_parser(name, help=what)
        sub.add_argument("--reader", type=int, default=0, help="reader number (0 or 1)")
        sub.add_argument("--control", type=Path, default=None, help="control socket of `card serve`")
        if name == "insert":
            sub.add_argument("--profile", default="pharmacist", help="built-in profile name or YAML path")
        if name == "status":
            sub.add_argument("--json", action="store_true", help="print JSON instead of a table")

    fault = card.add_parser("fault", help="switch faults on the card in a reader (replaces the current set)")
    fault.add_argument("--reader", type=int, default=0, help="reader number (0 or 1)")
    fault.add_argument("--control", type=Path, default=None, help="control socket of `card serve`")
    fault.add_argument("--mute", action="store_true", help="the card stops answering (the watchdog removes it)")
    fault.add_argument(
        "--wrong-key-signature", action="store_true", help="sign with a key that does not match the certificate"
    )
    fault.add_argument(
        "--status-word",
        action="append",
        default=[],
        metavar="INS=SW",
        help='e.g. "INTERNAL AUTHENTICATE=6F00" or 88=6F00 (repeatable)',
    )
    fault.add_argument(
        "--timing", choices=["instant", "real-card"], default="instant", help="real-card: a real CPS3's delays"
    )
    fault.add_argument("--remove-on", metavar="INS", help="pull the card out when this instruction arrives")
    return parser


def run(args: argparse.Namespace, console: Console) -> int:
    command = args.card_command
    if command == "run":
        line = list(args.command_line)
        if line and line[0] == "--":
            line = line[1:]
        if not line:
            console.print("cps-harness card run: give the command to run after --")
            return 2
        return asyncio.run(run_with_card(args.profile, line, trace=args.trace, out=sys.stderr))
    if command == "serve":
        return asyncio.run(serve(args.profile, args.control or default_control_path(), args.json, console))
    return asyncio.run(control(args, console))


async def serve(profile: str | None, control_path: Path, as_json: bool, console: Console) -> int:
    first = load_profile(profile) if profile else None  # a wrong profile is ✘ before anything starts
    pki = Pki()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    control_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if control_path.exists():
        control_path.unlink()  # a stale socket from a killed server
    with PcscStack() as stack:
        readers = readers_of(stack)
        runner = web.AppRunner(make_app(readers, pki), access_log=None)
        await runner.setup()
        await web.UnixSite(runner, str(control_path)).start()
        try:
            if first is not None:
                card, credentials = make_card(first, pki)
                await readers[0].insert(card, certificates=credentials.variants)
            info = {
                "PCSCLITE_CSOCK_NAME": str(stack.socket_path),
                "PKCS11_MODULE_PATH": client_env(stack).get("PKCS11_MODULE_PATH"),
                "control": str(control_path),
                "readers": [{"name": r.name, "port": r.port, "present": r.present} for r in readers],
            }
            if as_json:
                print(json.dumps(info), flush=True)
            else:
                console.print(f"PC/SC socket: export PCSCLITE_CSOCK_NAME={stack.socket_path}")
                for reader in readers:
                    console.print(f"  {reader.name}: {'card inserted' if reader.present else 'empty'}")
                console.print(f"control: cps-harness card status --control {control_path}   (Ctrl-C stops)")
            await stop.wait()
        finally:
            for reader in readers:
                await reader.remove()
            await runner.cleanup()
            control_path.unlink(missing_ok=True)
    return 0


async def control(args: argparse.Namespace, console: Console) -> int:
    path = args.control or default_control_path()
    command, reader = args.card_command, args.reader
    body: dict[str, Any] | None = None
    if command == "status":
        method, url = "GET", "/cards"
    elif command == "log":
        method, url = "GET", f"/cards/{reader}/log"
    elif command == "fault":
        method, url = "POST", f"/cards/{reader}/faults"
        body = {
            "mute": args.mute,
            "wrong_key_signature": args.wrong_key_signature,
            "timing": args.timing,
            "status_words": dict(_pair(p) for p in args.status_word),
            "remove_on": args.remove_on,
        }
    else:
        method, url = "POST", f"/cards/{reader}/{command}"
        body = {"profile": args.profile} if command == "insert" else None
    try:
        status, answer = await request(path, method, url, body)
    except FileNotFoundError as exc:
        console.print(str(exc))
        return 1
    if status >= 400:
        console.print(f"[red]✘[/] {answer.get('error', answer) if isinstance(answer, dict) else answer}")
        return 1
    if command == "log":
        for line in answer:
            print(line)
    elif command == "status" and not args.json:
        console.print(_status_table(answer))
    else:
        print(json.dumps(answer, ensure_ascii=False))
    return 0


def _pair(text: str) -> tuple[str, str]:
    ins, _, sw = text.rpartition("=")
    if not ins:
        raise SystemExit(f"--status-word {text!r}: expected INS=SW")
    return ins.strip(), sw.strip()


def _status_table(readers: list[dict[str, Any]]) -> Table:
    table = Table(title="virtual readers")
    for column in ("reader", "card", "certificates", "PIN tries", "PUK tries", "APDUs", "last removal"):
        table.add_column(column)
    for r in readers:
        codes = r.get("codes", {})
        table.add_row(
            r["reader"],
            "present" if r["present"] else "empty",
            _certificates(r.get("certificates")),
            _tries(codes.get("pin")),
            _tries(codes.get("puk")),
            str(r.get("apdus", "")),
            r.get("removal", ""),
        )
    return table


def _certificates(variants: dict[str, str] | None) -> str:
    """``expired`` when both certificates are alike, else ``auth expired, sign valid``."""
    if not variants:
        return ""
    auth, sign = variants["authentication"], variants["signature"]
    return auth if auth == sign else f"auth {auth}, sign {sign}"


def _tries(code: dict[str, Any] | None) -> str:
    if not code:
        return ""
    left = code["tries_left"]
    return f"{left}/{code['max_tries']}" + (" BLOCKED" if left == 0 else " (verified)" if code["verified"] else "")
