"""Every route of every site of a running world, fed random and malformed input: never a 5xx.

Routes are read from the apps' routers, so a new endpoint is fuzzed without touching this file.
``CPS_FUZZ_EXAMPLES`` raises the example budget for long local runs.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.pki import Pki
from harness.world.host import WorldHost

T = TypeVar("T")
EXAMPLES = int(os.environ.get("CPS_FUZZ_EXAMPLES", "300"))
DELIBERATE_5XX = {"/admin/psc/faults"}
"""Switches PSC's ``server_error`` fault on, a 500 on purpose: tested in test_world_psc.py instead."""


class Running:
    """A world on a background event loop (WorldHost), driven from hypothesis' synchronous tests."""

    def __init__(self, pki: Pki) -> None:
        self.host = WorldHost(pki=pki, cards=False).start()
        self.world = self.host.world
        self.http = self.run(self._client())
        self.host.add_professional(
            first_name="CAROLE", last_name="PHARMACH0007512", profession="21", rpps="99700075122", civility="MME",
            email="c@test", mobile="+33600000001",
        )  # fmt: skip

    async def _client(self) -> Any:
        return self.world.client(timeout=None)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.host.run(coroutine)

    def routes(self) -> list[tuple[str, str, str]]:
        """(site, method, path template) for every route of every site."""
        found = []
        for name, site in self.world.sites.items():
            for route in site.running.runner.app.router.routes():
                info = route.resource.get_info() if route.resource else {}
                template = info.get("formatter") or info.get("path")
                if template in DELIBERATE_5XX:
                    continue
                if template and route.method in ("GET", "POST"):
                    found.append((name, route.method, template))
        return sorted(set(found))

    def close(self) -> None:
        self.run(self.http.close())
        self.host.stop()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    world = Running(Pki(tmp_path_factory.mktemp("fuzz-pki")))
    yield world
    world.close()


SEGMENT = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30),
    st.sampled_from(["telephone-1", "899700075122", "..", "%00", "a" * 200, "0"]),
).map(lambda s: s.replace("/", "_").replace("?", "_").replace("#", "_"))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
FIELDS = ["identifiant", "code_courriel", "code_sms", "code", "confirmation", "token", "password", "advance",
          "email", "mobile", "civility", "rpps", "set", "outbox_drop", "outbox_delay"]  # fmt: skip
BODIES = st.one_of(
    st.binary(max_size=300).map(lambda b: (b, "application/octet-stream")),
    JSON_VALUES.map(lambda v: (json.dumps(v).encode(), "application/json")),
    st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=5).map(
        lambda d: (json.dumps(d).encode(), "application/json")
    ),
    st.dictionaries(st.sampled_from(FIELDS), st.text(max_size=40), max_size=5).map(
        lambda d: ("&".join(f"{k}={v}" for k, v in d.items()).encode(errors="surrogatepass"),
                   "application/x-www-form-urlencoded")
    ),
    st.text(max_size=100).map(lambda t: (t.encode(errors="surrogatepass"), "multipart/form-data; boundary=x")),
)  # fmt: skip


def fill(template: str, values: list[str]) -> str:
    parts = iter(values)
    return re.sub(r"\{[^}]+\}", lambda _: next(parts, "x"), template)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_route_answers_5xx(running: Running, data: st.DataObject) -> None:
    site, method, template = data.draw(st.sampled_from(running.routes()), label="route")
    path = fill(template, data.draw(st.lists(SEGMENT, min_size=3, max_size=3), label="path params"))
    query = data.draw(st.dictionaries(st.sampled_from(["to", "appareil", "identifiant"]), SEGMENT, max_size=2))
    body, content_type = data.draw(BODIES, label="body")

    async def send() -> int:
        url = running.world.urls[site] + path
        async with running.http.request(
            method, url, params=query, data=body if method == "POST" else None, headers={"Content-Type": content_type}
        ) as reply:
            await reply.read()
            return reply.status

    try:
        status = running.run(send())
    except ValueError:
        return  # the client itself refused to build this request (e.g. an invalid URL): nothing was sent
    assert status < 500, f"{method} {site}{path} {query} {body[:80]!r} ({content_type}) -> {status}"


def test_every_site_is_fuzzed(running: Running) -> None:
    sites = {site for site, _, _ in running.routes()}
    assert sites == {"wallet", "wallet-card", "psc", "sidep", "push", "igc", "testssl", "admin"}
    assert len(running.routes()) >= 30
