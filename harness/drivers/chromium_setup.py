"""What a Chromium run needs around the browser: the PKCS#11 auto-login wrapper and the policy.

Chromium on Linux finds PKCS#11 modules and trusted CAs in ``$HOME/.pki/nssdb`` (NSS), and picks a
client certificate without asking only under the managed policy ``AutoSelectCertificateForUrls``
(no command-line switch does it; measured). The policy file is installed once by the project's
set-up (``python3 -m harness.drivers.chromium_policy install``, as root) and matches only
certificates issued by the test CA, so a real card is never chosen silently.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from harness.drivers.chromium_policy import POLICY_PATH, policy_installed
from harness.errors import SetupError
from harness.native import shared_library
from harness.system import CHROMIUM_FRENCH

CHROMIUM = "/usr/bin/chromium"
WRAPPER_SOURCE = Path(__file__).with_name("p11autologin.c")
P11KIT_INCLUDE = "/usr/include/p11-kit-1"

FRENCH = {"LANGUAGE": "fr", "LANG": "fr_FR.UTF-8"}
"""Chromium on Linux takes its UI language from the environment, not from ``--lang`` (measured,
Chromium 156: ``--lang=fr`` alone leaves it English; ``LANGUAGE=fr`` or ``LANG=fr_FR.UTF-8`` alone
makes it French, even without that glibc locale generated). Its Accept-Language then becomes
``fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7`` and navigator.languages ``fr-FR, fr, en-US, en``, as a French
Chromium's defaults; Playwright's ``locale="fr-FR"`` would only override those two (to a bare
``fr-FR``) and leave the error pages and the dialog English, so it is not used."""
OVERRIDING_LANG = ("LC_ALL", "LC_MESSAGES")
"""The caller's locale variables that outrank LANG (measured: ``LC_MESSAGES=en_US.UTF-8`` makes a
``LANG=fr_FR.UTF-8`` Chromium English; ``LANGUAGE`` outranks them all): dropped, so that nothing
in the caller's environment contradicts ``FRENCH``."""


def in_french(env: dict[str, str]) -> dict[str, str]:
    """``env`` for a Chromium whose screens read as on a French workstation (the driver's, the trainer's own)."""
    french = {name: value for name, value in env.items() if name not in OVERRIDING_LANG}
    return {**french, **FRENCH}


class ChromiumUnavailable(SetupError):
    """Something the Chromium driver needs is missing; the message says what and how to fix it."""


def check_prerequisites() -> None:
    missing = [tool for tool in (CHROMIUM, "/usr/bin/certutil", "/usr/bin/modutil") if not os.path.exists(tool)]
    if missing:
        raise ChromiumUnavailable(
            f"missing {', '.join(missing)}: run ./bootstrap.sh setup (Debian: chromium, libnss3-tools)"
        )
    if not os.path.exists(CHROMIUM_FRENCH):
        raise ChromiumUnavailable(
            f"missing {CHROMIUM_FRENCH}, Chromium's French UI (professionals see its PIN dialog and error pages "
            "in French): run ./bootstrap.sh setup (Debian: chromium-l10n)"
        )
    if not policy_installed():
        raise ChromiumUnavailable(
            f"Chromium's policy {POLICY_PATH} is missing (it lets Chromium pick the test card's certificate "
            "without a dialog): run, as root, python3 -m harness.drivers.chromium_policy install"
        )


async def autologin_module() -> Path:
    """The auto-login wrapper compiled for this machine, cached by the hash of its source.

    Built in a thread: the caller's event loop serves the virtual card meanwhile."""
    return await asyncio.to_thread(shared_library, WRAPPER_SOURCE, cflags=[f"-I{P11KIT_INCLUDE}"], libs=["-ldl"])
