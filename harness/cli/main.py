"""The ``cps-harness`` command: ``doctor`` checks the machine, ``run`` is the main job, ``diagnose`` checks
a card set-up as ATSAM's diagnostic does."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape

from harness import __version__
from harness.cli import card, check, demo, diagnose, doctor, load, report, run, serve, setup, trainer
from harness.errors import InputError, SetupError
from harness.lifetime import interrupt_on_termination, interrupted_by, interrupted_exit_code, sweep

COMMANDS = (setup, doctor, run, report, check, serve, load, trainer, demo, card, diagnose)
"""One module per command, in the order ``--help`` lists them: each has ``add_parser`` and ``run``."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cps-harness", description=__doc__)
    parser.add_argument("--version", action="version", version=f"cps-harness {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(commands).set_defaults(handler=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    interrupt_on_termination()  # SIGTERM and SIGHUP clean up like Ctrl-C, and say so by the exit code
    sweep()  # the private folders of commands that were killed outright
    # Into a file or a pipe, a line is never folded at 80 columns: a path cut in two cannot be copied.
    console = Console(highlight=False, soft_wrap=not sys.stdout.isatty())
    try:
        code: int = args.handler(args, console)
        return code
    except (SetupError, InputError) as exc:  # the machine or the request: the message says the fix
        for problem in getattr(exc, "problems", None) or [str(exc)]:  # a file's problems: one ✘ line each
            console.print(f"[red]✘[/] {escape(problem)}", highlight=False)  # "cps-harness[chromium]" is no markup
        return 2
    except KeyboardInterrupt:
        console.print(f"interrupted ({interrupted_by().name}); everything started was stopped")
        return interrupted_exit_code()


if __name__ == "__main__":
    sys.exit(main())
