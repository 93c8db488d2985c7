"""What a person needs to use a running world, printed: each site's URL, the phone, mailboxes, CA, PC/SC."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.table import Table

from harness.world.assembly import World


def print_world(world: World, console: Console, phones: Iterable[str] = ()) -> None:
    """What a person needs to use a running world: each site's URL, the phones, mailboxes, CA, PC/SC, resolver.

    ``phones``: a scenario's phones (its personas' ``ecps_devices``), each with its page."""
    info = world.describe(phones)
    table = Table(title=f"cps-harness world (started in {world.started_in * 1000:.0f} ms)")
    table.add_column("site")
    table.add_column("URL", overflow="fold")
    for name, url in world.urls.items():
        table.add_row(name, url)
    for device, url in info["phones"].items():
        table.add_row(f"phone {device}", url)
    table.add_row("mailboxes", f"{world.urls['admin']}/boite/<address>")
    console.print(table)
    console.print(f"CA bundle: {info['ca_bundle']}", soft_wrap=True)
    if info["PCSCLITE_CSOCK_NAME"]:
        console.print(f"PC/SC: export PCSCLITE_CSOCK_NAME={info['PCSCLITE_CSOCK_NAME']}", soft_wrap=True)
    console.print(f'Chromium: --host-resolver-rules="{info["host_resolver_rules"]}"', soft_wrap=True)
    console.print(f"Other clients (curl -x, Apache's OIDCOutgoingProxy, Node's ProxyAgent): proxy {info['proxy']}",
                  soft_wrap=True)  # fmt: skip
    console.print(f"World clock: {info['clock']}")
