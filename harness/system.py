"""The Debian components cps-harness needs, and how to tell whether each is present.

Standard library only: ``bootstrap.sh`` runs ``python3 -m harness.system apt-missing`` with the
system Python before any virtual environment exists, and ``cps-harness doctor`` reuses the same
table, so there is one list of what the machine must have.
"""

from __future__ import annotations

import glob
import os
import sys
import sysconfig
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Component:
    """One Debian package and the files whose presence proves it is installed.

    Each entry of ``paths`` is a glob; every entry must match at least one file. Files are
    checked rather than the dpkg database so that the check also holds on machines where the
    package came from elsewhere (a container image, a source build).
    """

    package: str
    purpose: str
    paths: tuple[str, ...]

    def missing_paths(self) -> list[str]:
        return [pattern for pattern in self.paths if not glob.glob(pattern)]

    @property
    def present(self) -> bool:
        return not self.missing_paths()


VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
PCSCD = "/usr/sbin/pcscd"
CHROMIUM_FRENCH = "/usr/lib/chromium/locales/fr.pak"
"""Where Debian's chromium-l10n puts the French UI strings (``dpkg -L chromium-l10n``)."""
FIREFOX = "/usr/bin/firefox-esr"
FIREFOX_FRENCH = "/usr/lib/firefox-esr/browser/extensions/langpack-fr@firefox-esr.mozilla.org.xpi"
"""Where Debian's firefox-esr-l10n-fr puts Firefox's French language pack (``dpkg -L firefox-esr-l10n-fr``)."""

COMPONENTS: tuple[Component, ...] = (
    Component("pcscd", "the PC/SC daemon every client talks to", (PCSCD,)),
    Component(
        "libpcsclite-dev",
        "PC/SC headers and library (pyscard builds against them)",
        ("/usr/include/PCSC/winscard.h", "/usr/lib/*/libpcsclite.so.1"),
    ),
    Component("vsmartcard-vpcd", "the virtual reader driver the virtual card plugs into", (VPCD_DRIVER,)),
    Component(
        "opensc",
        "OpenSC tools and PKCS#11 module (the middleware clients use)",
        ("/usr/bin/pkcs15-tool", "/usr/bin/pkcs11-tool", "/usr/lib/*/opensc-pkcs11.so"),
    ),
    Component("openssl", "openssl, the independent verifier in the PKI tests", ("/usr/bin/openssl",)),
    Component("curl", "curl, the protocol client of TLS client authentication with the card", ("/usr/bin/curl",)),
    Component(
        "libengine-pkcs11-openssl",
        "OpenSSL's PKCS#11 engine: curl and openssl use the card's key through OpenSC",
        ("/usr/lib/*/engines-3/pkcs11.so",),
    ),
    Component("gcc", "C compiler (pyscard has no Linux wheel and builds from source)", ("/usr/bin/gcc",)),
    Component(
        "chromium",
        "the real browser of the Chromium driver (Debian's build, driven by Playwright)",
        ("/usr/bin/chromium",),
    ),
    Component(
        "chromium-l10n",
        "Chromium's French strings: its PIN dialog and error pages read as on a French workstation",
        (CHROMIUM_FRENCH,),
    ),
    Component(
        "firefox-esr",
        "the second real browser of the Firefox driver (Debian's ESR build, driven through Marionette)",
        (FIREFOX,),
    ),
    Component(
        "firefox-esr-l10n-fr",
        "Firefox's French language pack: its PIN dialog and error pages read as on a French workstation",
        (FIREFOX_FRENCH,),
    ),
    Component(
        "libnss3-tools",
        "certutil and modutil: the browser's NSS database (CA, OpenSC module)",
        (
            "/usr/bin/certutil",
            "/usr/bin/modutil",
        ),
    ),
    Component(
        "libp11-kit-dev",
        "PKCS#11 headers: the auto-login wrapper for headless Chromium is built here",
        ("/usr/include/p11-kit-1/p11-kit/pkcs11.h",),
    ),
    Component("xvfb", "a screen for headful Chromium (trainers: the real PIN dialog)", ("/usr/bin/Xvfb",)),
    Component("xdotool", "types the PIN into Chromium's dialog, as a person would", ("/usr/bin/xdotool",)),
    Component(
        "apache2",
        "Apache, a third-party relying party of PSC in the tests (with mod_auth_openidc)",
        ("/usr/sbin/apache2",),
    ),
    Component(
        "libapache2-mod-auth-openidc",
        "mod_auth_openidc: Apache as an OpenID Connect relying party (tests against PSC)",
        ("/usr/lib/apache2/modules/mod_auth_openidc.so",),
    ),
    Component("nodejs", "Node.js, for panva's openid-client: a relying party of PSC in the tests", ("/usr/bin/node",)),
    Component("npm", "npm, which installs openid-client from the tests' lockfile", ("/usr/bin/npm",)),
)


def python_components(executable: str = sys.executable) -> tuple[Component, ...]:
    """What the running Python needs to create a venv and build pyscard.

    Only Debian's own Python gets these from apt; another Python (pyenv, a container's
    /usr/local build) ships its headers and venv itself, and asking apt for them would be wrong.
    """
    if not executable.startswith("/usr/bin/"):
        return ()
    include = sysconfig.get_paths()["include"]
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return (
        Component("python3-dev", "Python headers (pyscard's build)", (os.path.join(include, "Python.h"),)),
        Component(
            "python3-venv",
            "venv with ensurepip (the project's virtual environment)",
            (f"/usr/lib/python{version}/ensurepip/__init__.py",),
        ),
    )


TEST_ONLY = frozenset({"apache2", "libapache2-mod-auth-openidc", "nodejs", "npm"})
"""Packages only cps-harness's own suite needs (its third-party relying parties), not its users."""


def use_components() -> tuple[Component, ...]:
    """What a user of the installed package needs: every component but the suite's own."""
    return tuple(c for c in all_components() if c.package not in TEST_ONLY)


def all_components() -> tuple[Component, ...]:
    return COMPONENTS + python_components()


def missing(components: Iterable[Component] | None = None) -> list[Component]:
    return [c for c in (all_components() if components is None else components) if not c.present]


def apt_command(packages: Sequence[str]) -> str:
    """The exact command a person runs to install ``packages`` (shown to non-root users)."""
    return "apt-get update && apt-get install -y --no-install-recommends " + " ".join(packages)


def main(argv: Sequence[str]) -> int:
    if list(argv) == ["apt-missing"]:
        print(" ".join(c.package for c in missing()))
        return 0
    if list(argv) == ["list"]:
        for c in all_components():
            print(f"{c.package}\t{'present' if c.present else 'MISSING'}\t{c.purpose}")
        return 0
    print("usage: python3 -m harness.system apt-missing|list", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
