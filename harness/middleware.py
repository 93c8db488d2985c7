"""The card's middleware as a professional's PC has it: OpenSC's PKCS#11 module, the OpenSSL
configuration a CPS card needs for TLS, the browser's NSS database, and a client's environment.

Every piece of the harness that makes a client use the card (curl in the protocol driver,
Chromium, ``cps-harness diagnose``, the OpenSC tools of card steps, ``card run``) takes these
from here, so there is one answer to "which module, which settings".
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from harness.errors import SetupError
from harness.pcsc.stack import PcscStack

OPENSC_MODULE = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"
"""OpenSC's PKCS#11 module (Debian's opensc-pkcs11): the stand-in for ANS's Cryptolib CPS."""
PKCS1_ONLY = """openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
ClientSignatureAlgorithms = RSA+SHA256:RSA+SHA384:RSA+SHA512
"""
"""A TLS 1.2 client with a CPS card must offer PKCS#1 signatures only (the card has no RSA-PSS)."""
TOOL_TIMEOUT = 30.0
"""Seconds a set-up tool (certutil, modutil) may take."""


class MiddlewareError(SetupError):
    """A tool that sets the middleware up failed or is missing; the message says which and why."""


def client_env(stack: PcscStack) -> dict[str, str]:
    """What a client process needs: the private socket, and OpenSC's module for PKCS#11 users."""
    env = {**os.environ, **stack.env}
    if os.path.exists(OPENSC_MODULE):
        env.setdefault("PKCS11_MODULE_PATH", OPENSC_MODULE)
    return env


async def run_tool(*command: str, env: dict[str, str] | None = None) -> None:
    """Run a set-up tool to the end (bounded by ``TOOL_TIMEOUT``); its output is the error's message."""
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(process.communicate(), TOOL_TIMEOUT)
    except TimeoutError:
        process.kill()
        raise MiddlewareError(f"{command[0]} did not finish in {TOOL_TIMEOUT:.0f} s") from None
    if process.returncode != 0:
        raise MiddlewareError(f"{' '.join(command)} failed: {out.decode(errors='replace').strip()}")


async def make_nss_db(home: Path, ca_bundle: Path | None, module: Path | None, env: dict[str, str]) -> Path:
    """``home/.pki/nssdb`` trusting the world's TLS CA, with the card's middleware when given.

    ``modutil`` loads the module, which talks to pcscd: the caller's event loop must stay free
    (it serves the virtual card), hence subprocesses awaited, never run synchronously.
    """
    db = home / ".pki" / "nssdb"
    if db.exists():
        shutil.rmtree(db)
    db.mkdir(parents=True)
    await run_tool("certutil", "-N", "-d", f"sql:{db}", "--empty-password")
    if ca_bundle is not None:
        await run_tool(
            "certutil", "-A", "-d", f"sql:{db}", "-n", "cps-harness TLS CA", "-t", "C,,", "-i", str(ca_bundle)
        )
    if module is not None:
        await run_tool(
            "modutil", "-dbdir", f"sql:{db}", "-add", "CPS (OpenSC)", "-libfile", str(module), "-force", env=env
        )
    return db
