"""Eight worlds at once, as ``cps-harness run -j 8`` or eight pytest-xdist workers start them: each
has its own pcscd socket, vpcd ports and site ports, and a card inserted in one is seen by no other.

In one process with threads (the worlds' loops run in background threads anyway), so the test is
deterministic and needs no xdist; each world has its own ``Pki`` over one key cache, as workers do.
Presence is checked from outside: a pyscard client process per world (with that world's
``PCSCLITE_CSOCK_NAME``) and each world's admin API.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest

from harness.pki import Pki
from harness.world.host import WorldHost

WORLDS = 8
WITH_CARD = 3

PROBE = """
import json
from smartcard.System import readers
from smartcard.Exceptions import CardConnectionException, NoCardException
seen = {}
for reader in readers():
    connection = reader.createConnection()
    try:
        connection.connect()
        seen[str(reader)] = bytes(connection.getATR()).hex().upper()
        connection.disconnect()
    except (NoCardException, CardConnectionException):
        seen[str(reader)] = None
print(json.dumps(seen))
"""


def probe(env: dict[str, str]) -> dict[str, str | None]:
    """Reader name -> ATR (or None: no card), as a PC/SC client of this environment sees them."""
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60, check=True)
    seen: dict[str, str | None] = json.loads(out.stdout)
    return seen


@pytest.fixture
def worlds(pki_cache: Path) -> Iterator[list[WorldHost]]:
    """Eight worlds started at once; every one that started is stopped, whatever happens."""
    hosts: list[WorldHost] = []
    errors: list[BaseException] = []
    with ThreadPoolExecutor(WORLDS) as pool:
        futures = [pool.submit(lambda: WorldHost(pki=Pki(pki_cache), cards=True).start()) for _ in range(WORLDS)]
        for future in futures:
            try:
                hosts.append(future.result(timeout=120))
            except BaseException as exc:  # keep collecting: the others must be stopped
                errors.append(exc)
        try:
            if errors:
                raise errors[0]
            yield hosts
        finally:
            list(pool.map(lambda host: host.stop(), hosts))


@pytest.mark.slow
def test_eight_worlds_share_nothing_and_a_card_is_seen_in_its_world_only(worlds: list[WorldHost]) -> None:
    stacks = [host.world.stack for host in worlds]
    assert all(stack is not None for stack in stacks)
    sockets = {str(stack.socket_path) for stack in stacks if stack}
    vpcd_ports = {reader.port for stack in stacks if stack for reader in stack.readers}
    site_ports = {site.running.port for host in worlds for site in host.world.sites.values()}
    daemons = {stack.pids[0] for stack in stacks if stack}
    assert len(sockets) == WORLDS and len(daemons) == WORLDS
    assert len(vpcd_ports) == 2 * WORLDS, "every world has its own pair of vpcd ports"
    assert len(site_ports) == sum(len(host.world.sites) for host in worlds), "no site port is shared"
    assert not vpcd_ports & site_ports

    worlds[WITH_CARD].insert_card("pharmacist")
    with ThreadPoolExecutor(WORLDS) as pool:
        seen = list(pool.map(lambda host: probe(host.client_env()), worlds))
        admin = list(pool.map(lambda host: httpx2.get(host.urls["admin"] + "/admin/cards", timeout=30).json(), worlds))
    for index, readers in enumerate(seen):
        assert set(readers) == {"Virtual PCD 00 00", "Virtual PCD 00 01"}, readers
        assert readers["Virtual PCD 00 01"] is None
        if index == WITH_CARD:
            assert readers["Virtual PCD 00 00"] == "3BAC00402A001225006480000310009000", "the CPx ATR"
        else:
            assert readers["Virtual PCD 00 00"] is None, f"world {index} sees world {WITH_CARD}'s card"
        assert [r["present"] for r in admin[index]] == [index == WITH_CARD, False]
