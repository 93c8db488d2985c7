"""What a Chromium run needs around the browser: the PKCS#11 wrapper, the NSS database, the policy.

Chromium on Linux finds PKCS#11 modules and trusted CAs in ``$HOME/.pki/nssdb`` (NSS), and picks a
client certificate without asking only under the managed policy ``AutoSelectCertificateForUrls``
(no command-line switch does it; measured). The policy file is installed once by the project's
set-up (``python3 -m harness.drivers.chromium_policy install``, as root) and matches only
certificates issued by the test CA, so a real card is never chosen silently.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
from pathlib import Path

from harness.drivers.chromium_policy import POLICY_PATH, policy_installed
from harness.pki.keys import default_cache_dir

CHROMIUM = "/usr/bin/chromium"
OPENSC_MODULE = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"
WRAPPER_SOURCE = Path(__file__).with_name("p11autologin.c")
P11KIT_INCLUDE = "/usr/include/p11-kit-1"
TOOL_TIMEOUT = 30.0


class ChromiumUnavailable(RuntimeError):
    """Something the Chromium driver needs is missing; the message says what and how to fix it."""


def check_prerequisites() -> None:
    missing = [tool for tool in (CHROMIUM, "/usr/bin/certutil", "/usr/bin/modutil") if not os.path.exists(tool)]
    if missing:
        raise ChromiumUnavailable(
            f"missing {', '.join(missing)}: run ./bootstrap.sh setup (Debian: chromium, libnss3-tools)"
        )
    if not policy_installed():
        raise ChromiumUnavailable(
            f"Chromium's policy {POLICY_PATH} is missing (it lets Chromium pick the test card's certificate "
            "without a dialog): run, as root, python3 -m harness.drivers.chromium_policy install"
        )


async def _run(*command: str, env: dict[str, str] | None = None) -> None:
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(process.communicate(), TOOL_TIMEOUT)
    except TimeoutError:
        process.kill()
        raise ChromiumUnavailable(f"{command[0]} did not finish in {TOOL_TIMEOUT:.0f} s") from None
    if process.returncode != 0:
        raise ChromiumUnavailable(f"{' '.join(command)} failed: {out.decode(errors='replace').strip()}")


async def autologin_module() -> Path:
    """The auto-login wrapper compiled for this machine, cached by the hash of its source."""
    source = WRAPPER_SOURCE.read_bytes()
    directory = default_cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"p11autologin-{hashlib.sha256(source).hexdigest()[:12]}.so"
    if not target.exists():
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        await _run("gcc", "-shared", "-fPIC", "-O2", "-Wall", f"-I{P11KIT_INCLUDE}", "-o", str(partial),
                   str(WRAPPER_SOURCE), "-ldl")  # fmt: skip
        partial.replace(target)  # atomic: parallel runs never load a half-written library
    return target


async def make_nss_db(home: Path, ca_bundle: Path | None, module: Path | None, env: dict[str, str]) -> Path:
    """``home/.pki/nssdb`` trusting the world's TLS CA, with the card's middleware when given.

    ``modutil`` loads the module, which talks to pcscd: the caller's event loop must stay free
    (it serves the virtual card), hence subprocesses awaited, never run synchronously.
    """
    db = home / ".pki" / "nssdb"
    if db.exists():
        shutil.rmtree(db)
    db.mkdir(parents=True)
    await _run("certutil", "-N", "-d", f"sql:{db}", "--empty-password")
    if ca_bundle is not None:
        await _run("certutil", "-A", "-d", f"sql:{db}", "-n", "cps-harness TLS CA", "-t", "C,,", "-i", str(ca_bundle))
    if module is not None:
        await _run("modutil", "-dbdir", f"sql:{db}", "-add", "CPS (OpenSC)", "-libfile", str(module), "-force", env=env)
    return db
