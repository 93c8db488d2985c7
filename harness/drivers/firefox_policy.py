"""Firefox's enterprise policy that registers OpenSC, the way an administrator deploys the CPS middleware.

Standard library only: ``bootstrap.sh`` installs it with the system Python, as root, before any
virtual environment exists (``python3 -m harness.drivers.firefox_policy install``). Debian's
``firefox-esr`` reads ``/etc/firefox/policies/policies.json`` (measured, Firefox ESR 153: the
``SecurityDevices`` entry there makes OpenSC's slot appear in a new, empty profile). Every Firefox of
the machine then sees the readers; only the test PKI's cards are in them here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

POLICY_PATH = Path("/etc/firefox/policies/policies.json")
OPENSC_MODULE = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"
"""Same path as ``harness.middleware.OPENSC_MODULE`` (not imported: this module runs before the venv)."""
DEVICE_NAME = "CPS (OpenSC)"


def policy() -> dict[str, dict[str, dict[str, dict[str, str]]]]:
    return {"policies": {"SecurityDevices": {"Add": {DEVICE_NAME: OPENSC_MODULE}}}}


def policy_text() -> str:
    return json.dumps(policy(), indent=2) + "\n"


def policy_installed(path: Path = POLICY_PATH) -> bool:
    try:
        return path.read_text(encoding="utf-8") == policy_text()
    except OSError:
        return False


def install(path: Path = POLICY_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(policy_text(), encoding="utf-8")
    return path


def main(argv: list[str]) -> int:
    if argv[:1] == ["install"]:
        print(f"Firefox policy written to {install()}")
        return 0
    if argv[:1] == ["check"]:
        return 0 if policy_installed() else 1
    print("usage: python3 -m harness.drivers.firefox_policy install|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
