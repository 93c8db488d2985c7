"""``cps-harness diagnose``: its arguments and how they become a diagnosis and an exit status."""

from __future__ import annotations

import argparse
import asyncio
import getpass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from harness.card.profile import CertificatesModel, parse_certificates
from harness.pki import CertVariant

WORLD_ONLY_OPTIONS = ("profile", "no_card", "card_fault", "certificates", "pin_tries_left", "no_middleware")


def certificates_option(text: str) -> CertificatesModel:
    """``expired``, or ``authentication=expired,signature=valid`` (either key alone too)."""
    value: object = text
    if "=" in text:
        pairs = [pair.partition("=") for pair in text.split(",")]
        value = {key.strip(): variant.strip() for key, _, variant in pairs}
    try:
        return parse_certificates(value)
    except ValidationError as exc:
        why = "; ".join(f"{'.'.join(map(str, e['loc'])) or text}: {e['msg']}" for e in exc.errors())
        raise argparse.ArgumentTypeError(why) from None


def add_parser(commands: Any) -> argparse.ArgumentParser:
    diagnose: argparse.ArgumentParser = commands.add_parser(
        "diagnose",
        help="ATSAM's diagnostic: reader, card, middleware, certificate, PIN, then Test SSL; ✔ or ✘ with the advice",
        description="Each check in order, ✔ or ✘ with the reason and the guide's advice. Against a world (default) "
        "with a virtual card, or against the PC/SC stack the environment points at (a real reader and card).",
    )
    diagnose.set_defaults(environment=False)
    where = diagnose.add_mutually_exclusive_group()
    where.add_argument(
        "--world", dest="environment", action="store_false",
        help="start a world with a virtual card and diagnose it (default)",
    )  # fmt: skip
    where.add_argument(
        "--environment", action="store_true",
        help="diagnose the PC/SC stack of $PCSCLITE_CSOCK_NAME (the system's pcscd if unset): a real reader, "
        "card and middleware; world-only checks are skipped",
    )  # fmt: skip
    diagnose.add_argument("--profile", default="pharmacist", help="world: the card profile (name or YAML path)")
    diagnose.add_argument("--no-card", action="store_true", help="world: leave the reader empty")
    diagnose.add_argument(
        "--card-fault", action="append", default=[], metavar="INS=SW",
        help='world: the card answers this status word, e.g. "INTERNAL AUTHENTICATE=6F00" (repeatable)',
    )  # fmt: skip
    diagnose.add_argument(
        "--certificates", type=certificates_option, metavar="VARIANT|authentication=V,signature=V",
        help=f"world: the card's certificates, one variant for both ({', '.join(v.value for v in CertVariant)}) "
        "or per certificate, an omitted one keeping the profile's (default: the profile's)",
    )  # fmt: skip
    diagnose.add_argument(
        "--pin-tries-left", type=int, choices=range(4), metavar="{0..3}", help="world: PIN tries left (0: blocked)"
    )
    diagnose.add_argument(
        "--tls-max", choices=["1.2", "1.3"],
        help="the highest TLS version Test SSL accepts (world: the site; environment: the loopback stand-in); "
        "1.3 shows the card's missing RSA-PSS",
    )  # fmt: skip
    diagnose.add_argument(
        "--no-middleware", action="store_true",
        help="world: the browser's NSS database without the middleware (ATSAM not set up in the browser)",
    )  # fmt: skip
    diagnose.add_argument(
        "--module", help="the PKCS#11 middleware to check (default: $PKCS11_MODULE_PATH, else OpenSC's module)"
    )
    diagnose.add_argument(
        "--nssdb", type=Path,
        help="the browser's NSS database to check (world default: a throwaway one; environment default: "
        "$HOME/.pki/nssdb)",
    )  # fmt: skip
    diagnose.add_argument("--pin", help="environment: the PIN for Test SSL ('-' asks; without it Test SSL is skipped)")
    diagnose.add_argument("--json", action="store_true", help="print the diagnosis as one JSON object")
    diagnose.add_argument("--html", type=Path, help="also write the trainer's page (French) to this file")
    return diagnose


def run(args: argparse.Namespace, console: Console) -> int:
    """0: every check that ran passed; 1: a check failed; 2: the arguments do not fit the mode."""
    from harness.diagnose import render
    from harness.diagnose.diagnosis import WorldOptions, default_module, diagnose_environment, diagnose_new_world

    module = args.module or default_module()
    secrets: list[str] = []
    if args.environment:
        defaults = {"profile": "pharmacist", "card_fault": []}
        misplaced = [
            "--" + name.replace("_", "-")
            for name in WORLD_ONLY_OPTIONS
            if getattr(args, name) not in (None, False, defaults.get(name))
        ]
        if misplaced:
            console.print(f"[red]✘[/] {', '.join(misplaced)}: world only (drop --environment)")
            return 2
        pin = getpass.getpass("PIN (code porteur): ") if args.pin == "-" else args.pin
        secrets = [pin] if pin else []  # masked on the trainer's page, should a tool's message quote it
        coroutine = diagnose_environment(module=module, nssdb=args.nssdb, pin=pin, tls_max=args.tls_max or "1.2")
    else:
        if args.pin is not None:
            console.print("[red]✘[/] --pin: environment only (the world's card has its profile's PIN)")
            return 2
        options = WorldOptions(
            profile=args.profile, card=not args.no_card, faults=tuple(args.card_fault),
            certificates=args.certificates,
            pin_tries_left=args.pin_tries_left, tls_max=args.tls_max, middleware=not args.no_middleware,
            nssdb=args.nssdb, module=module,
        )  # fmt: skip
        try:
            from harness.diagnose.diagnosis import parse_faults

            parse_faults(options.faults)
        except ValueError as exc:
            console.print(f"[red]✘[/] {escape(str(exc))}")
            return 2
        coroutine = diagnose_new_world(options)
    diagnosis = asyncio.run(coroutine)
    if args.json:
        print(render.to_json(diagnosis), flush=True)
    else:
        render.print_table(diagnosis, console)
    if args.html:
        path = render.write_html(diagnosis, args.html, secrets=secrets)
        if not args.json:
            console.print(f"trainer's page: {path}")
    return 0 if diagnosis.ok else 1
