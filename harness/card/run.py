"""``cps-harness card run``: a private stack, a card in reader 0, the user's command, teardown.

This is how a developer tests their own tool against a CPS card in one line; the command
sees only ``PCSCLITE_CSOCK_NAME`` (and the OpenSC module path) and cannot tell a real card.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import TextIO

from harness.card.profile import load_profile, make_card
from harness.card.reader import readers_of
from harness.lifetime import dies_with_owner
from harness.middleware import client_env
from harness.pcsc.stack import PcscStack
from harness.pki import Pki


async def run_with_card(profile_name: str, command: Sequence[str], *, trace: bool, out: TextIO) -> int:
    """The command's exit code; a profile that cannot be used is ``DataFileError`` before anything
    starts (the command line prints it, exit code 2)."""
    profile = load_profile(profile_name)
    card, _ = make_card(profile, Pki())
    with PcscStack() as stack:
        reader = readers_of(stack)[0]
        await reader.insert(card)
        try:
            # killed, we take the card and its pcscd with us: the command goes too, not on without them
            process = await asyncio.create_subprocess_exec(*dies_with_owner(command), env=client_env(stack))
            code = await process.wait()
        except FileNotFoundError:
            print(f"cps-harness: command not found: {command[0]}", file=sys.stderr)
            code = 127
        finally:
            await reader.remove()
    if trace:
        for entry in card.log:
            print(entry.line(), file=out)
    return code
