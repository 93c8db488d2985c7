"""Chromium's managed policy that selects the test card's certificate without a dialog.

Standard library only: ``bootstrap.sh`` installs it with the system Python, as root, before any
virtual environment exists (``python3 -m harness.drivers.chromium_policy install``). The pattern
covers every site (the world's ports change per run) but the filter keeps it to certificates
issued by the test PKI's CA, whose name no real CPS card carries.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

POLICY_PATH = Path("/etc/chromium/policies/managed/cps-harness.json")
TEST_ISSUER_CN = "TEST AC IGC-SANTE FORT PERSONNES"


def policy() -> dict[str, list[str]]:
    rule = {"pattern": "*", "filter": {"ISSUER": {"CN": TEST_ISSUER_CN}}}
    return {"AutoSelectCertificateForUrls": [json.dumps(rule)]}


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
        print(f"Chromium policy written to {install()}")
        return 0
    if argv[:1] == ["check"]:
        return 0 if policy_installed() else 1
    print("usage: python3 -m harness.drivers.chromium_policy install|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
