"""``cps-harness doctor``: is this machine able to run a world? Each check says ✔, or ✘ and the fix.

Checks never raise: whatever goes wrong becomes a ✘ line, so one broken part does not hide the
state of the others.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import ssl
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from harness.system import Component, all_components, apt_command

BOOTSTRAP_FIX = "run ./bootstrap.sh test (it creates .venv and installs the project)"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _guarded(name: str, fix: str, probe: Callable[[], Check]) -> Check:
    try:
        return probe()
    except Exception as exc:  # a doctor reports failures, it does not crash on them
        return Check(name, False, f"{type(exc).__name__}: {exc}", fix)


def check_components(components: Iterable[Component]) -> Iterator[Check]:
    for component in components:
        missing = component.missing_paths()
        if missing:
            yield Check(
                f"package {component.package}",
                False,
                f"missing {', '.join(missing)} ({component.purpose})",
                apt_command([component.package]),
            )
        else:
            yield Check(f"package {component.package}", True, component.purpose)


def check_pyscard() -> Check:
    def probe() -> Check:
        import smartcard

        return Check("pyscard", True, f"importable from {Path(smartcard.__file__).parent}")

    return _guarded("pyscard", BOOTSTRAP_FIX, probe)


def check_ports() -> Check:
    def probe() -> Check:
        from harness.pcsc.stack import PORT_RANGE, pick_port_pair

        port = pick_port_pair()
        return Check("vpcd ports", True, f"free pair {port}/{port + 1} (range {PORT_RANGE[0]}-{PORT_RANGE[1]})")

    return _guarded("vpcd ports", "free a port pair below 32768 (see `ss -ltnp`)", probe)


def check_vpcd_shims() -> Check:
    """vpcd's loopback shim and reader guard, built with gcc (or found in the cache): without them
    no private stack starts, so a failure here names the compiler's complaint before the stack's."""
    name = "vpcd shims"

    def probe() -> Check:
        from harness.pcsc.stack import vpcd_shims

        loopback, guard = vpcd_shims()
        return Check(name, True, f"built for this machine: {loopback.name}, {guard.name} (in {guard.parent})")

    return _guarded(name, apt_command(["gcc", "libpcsclite-dev"]) + " (then `cps-harness doctor` again)", probe)


def check_private_stack() -> list[Check]:
    """Start a private pcscd, count its readers through pyscard, then through OpenSC."""
    from harness.pcsc.stack import PcscStack

    name = "private pcscd"
    try:
        started = time.perf_counter()
        with PcscStack() as stack:
            elapsed = (time.perf_counter() - started) * 1000
            readers = ", ".join(f"{r.name} (port {r.port})" for r in stack.readers)
            checks = [Check(name, True, f"ready in {elapsed:.0f} ms on {stack.socket_path}: {readers}")]
            checks.append(check_opensc_sees(stack.env, len(stack.readers)))
            return checks
    except Exception as exc:
        return [Check(name, False, f"{type(exc).__name__}: {exc}", "see the message; then `cps-harness doctor`")]


def check_opensc_sees(env: dict[str, str], expected: int) -> Check:
    name = "OpenSC through the private stack"
    tool = shutil.which("opensc-tool")
    if tool is None:
        return Check(name, False, "opensc-tool not found", apt_command(["opensc"]))
    result = subprocess.run(
        [tool, "--list-readers"], env={**os.environ, **env}, capture_output=True, text=True, timeout=20
    )
    seen = result.stdout.count("Virtual PCD")
    if seen == expected:
        return Check(name, True, f"opensc-tool lists {seen} virtual readers")
    return Check(name, False, f"opensc-tool lists {seen} of {expected} readers: {result.stdout or result.stderr}")


def check_pki(cache_dir: Path | None = None) -> list[Check]:
    """Build the PKI from the cache, verify the card chain, and complete a TLS handshake in memory."""
    from harness.pki import Pki, Professional

    fix = "delete the cache directory to have the PKI made again"
    try:
        started = time.perf_counter()
        pki = Pki(cache_dir)
        elapsed = (time.perf_counter() - started) * 1000
    except Exception as exc:
        return [Check("PKI", False, f"{type(exc).__name__}: {exc}", fix)]
    checks = [Check("PKI material", True, f"loaded in {elapsed:.0f} ms from {pki.keys.directory}")]

    def chain() -> Check:
        sample = Professional("899700209812", "D0000020981", "ALAIN", "Médecin")
        card = pki.cards.issue(sample, dt.datetime.now(dt.UTC))
        root, personnes = pki.cards.root.certificate, pki.cards.personnes.certificate
        root.verify_directly_issued_by(root)
        personnes.verify_directly_issued_by(root)
        for issued in card:
            issued.certificate.verify_directly_issued_by(personnes)
        return Check("IGC-Santé test chain", True, "root → FORT PERSONNES → card certificates verify")

    def tls() -> Check:
        host = pki.server.hosts[0]
        version = tls_handshake(pki.server.client_context(), pki.server.server_context(host), host)
        return Check("TLS server CA", True, f"handshake with {host} verified ({version})")

    checks.append(_guarded("IGC-Santé test chain", fix, chain))
    checks.append(_guarded("TLS server CA", fix, tls))
    return checks


def tls_handshake(client_context: ssl.SSLContext, server_context: ssl.SSLContext, host: str) -> str:
    """Complete a TLS handshake between two in-memory endpoints (no socket, no thread).

    Returns the negotiated version; raises ``ssl.SSLError`` when verification fails.
    """
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_context.wrap_bio(c_in, c_out, server_hostname=host)
    server = server_context.wrap_bio(s_in, s_out, server_side=True)
    done: set[int] = set()
    for _ in range(10):
        for side in (client, server):
            if id(side) not in done:
                try:
                    side.do_handshake()
                    done.add(id(side))
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if len(done) == 2:
            return client.version() or "?"
    raise ssl.SSLError("TLS handshake did not complete in 10 flights")


def check_chromium_policy(path: Path | None = None) -> Check:
    """The Chromium driver needs the managed policy that picks the test card's certificate."""
    from harness.drivers.chromium_policy import POLICY_PATH, policy_installed

    target = path or POLICY_PATH
    if policy_installed(target):
        return Check("Chromium policy", True, f"{target} selects the test CA's card certificates")
    return Check(
        "Chromium policy", False, f"{target} is missing or differs (the Chromium driver would wait on a dialog)",
        "as root: python3 -m harness.drivers.chromium_policy install (./bootstrap.sh does it)",
    )  # fmt: skip


REINSTALL_FIX = "reinstall cps-harness from a wheel or a clone (pip install --force-reinstall cps-harness)"


def check_packaged_data(catalogue: Path | None = None) -> Check:
    """The files the package carries besides Python: the scenario catalogue and its personas and
    schema, the card profiles, the C sources of the Chromium helper and of vpcd's shims. A wheel
    built without them fails only later, at ``run``; here it is named."""
    from harness.card.profile import BUILTIN_DIR
    from harness.drivers.chromium_setup import WRAPPER_SOURCE
    from harness.pcsc.stack import GUARD_DRIVER, LOOPBACK_SHIM
    from harness.scenario.catalogue import catalogue_dir

    folder = catalogue or catalogue_dir()
    scenarios = list(folder.glob("*.yaml"))
    personas = list((folder / "personas").glob("*.yaml"))
    wanted = {
        "scenario files": bool(scenarios),
        "personas": bool(personas),
        "schema.json": (folder / "schema.json").is_file(),
        "card profiles": any(BUILTIN_DIR.glob("*.yaml")),
        "p11autologin.c": WRAPPER_SOURCE.is_file(),
        "vpcd_guard.c": GUARD_DRIVER.is_file(),
        "vpcd_loopback.c": LOOPBACK_SHIM.is_file(),
    }
    missing = [name for name, present in wanted.items() if not present]
    if missing:
        return Check("packaged data", False, f"missing from {folder.parent}: {', '.join(missing)}", REINSTALL_FIX)
    detail = f"{len(scenarios)} scenarios, {len(personas)} personas and the schema in {folder}"
    return Check("packaged data", True, detail)


def run_checks(components: Iterable[Component] | None = None, cache_dir: Path | None = None) -> list[Check]:
    checks = list(check_components(all_components() if components is None else components))
    checks.append(check_packaged_data())
    checks.append(check_pyscard())
    checks.append(check_ports())
    checks.append(check_vpcd_shims())
    checks.extend(check_private_stack())
    checks.extend(check_pki(cache_dir))
    checks.append(check_chromium_policy())
    return checks


def add_parser(commands: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        "doctor", help="check system components, ports, vpcd's shims, a private pcscd and the PKI"
    )
    return parser


def checks_table(title: str, checks: Sequence[Check]) -> Table:
    table = Table(title=title, show_lines=False)
    table.add_column("", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("result")
    for check in checks:
        mark = "[green]✔[/]" if check.ok else "[red]✘[/]"
        detail = (
            check.detail if check.ok else f"{check.detail}\n[bold]fix:[/] {check.fix}" if check.fix else check.detail
        )
        table.add_row(mark, check.name, detail)
    return table


def run(args: argparse.Namespace, console: Console) -> int:
    checks = run_checks()
    console.print(checks_table("cps-harness doctor", checks))
    failed = [c for c in checks if not c.ok]
    console.print(f"{len(checks) - len(failed)} ok, {len(failed)} failed")
    return 1 if failed else 0
