"""panva's openid-client (Node, a certified relying-party library) against a served Pro Santé Connect.

As a Node developer would use it: discovery at PSC's path, code + PKCE S256 + nonce + state with
``client_secret_basic`` and a client id and secret full of ``-``, ``_``, ``.`` and ``~`` (RFC 6749
§2.3.1 form-urlencodes them), the id_token validated on the client's own clock, refresh, userinfo,
introspection, revocation, RP-initiated logout, and CIBA polled at the advertised interval in real
time. The world is then moved 10 minutes on, as a served world long past a token's lifetime: the
client, its clock set by the same offset, logs in again. The packages come from the lockfile
(``npm ci`` in ``./bootstrap.sh test``); the world is reached through its proxy.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.support.paths import REPO
from tests.support.served import NATIONAL_ID, ServedWorld

RP_DIR = REPO / "tests" / "relying_parties" / "openid_client"
CLIENT_ID, SECRET = "node-rp.test_1", "s3-cr_et.~x+y"
REDIRECT = "http://127.0.0.1:9/callback"
STEP_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def world() -> Iterator[ServedWorld]:
    with ServedWorld() as served:
        served.set_up_professional()
        served.register(CLIENT_ID, SECRET, REDIRECT)
        yield served


class NodeRp:
    """rp.mjs in a child process, one JSON line each way."""

    def __init__(self, world: ServedWorld, clock_skew: int) -> None:
        if shutil.which("node") is None or not (RP_DIR / "node_modules" / "openid-client").exists():
            pytest.fail(f"openid-client is not installed: run ./bootstrap.sh test (npm ci in {RP_DIR})")
        env = {
            **os.environ, "PSC_ISSUER": world.issuer, "RP_CLIENT_ID": CLIENT_ID, "RP_CLIENT_SECRET": SECRET,
            "RP_REDIRECT_URI": REDIRECT, "WORLD_PROXY": world.info["proxy"], "WORLD_CA": world.info["ca_bundle"],
            "RP_CLOCK_SKEW": str(clock_skew), "NATIONAL_ID": NATIONAL_ID,
        }  # fmt: skip
        self.last: dict[str, Any] = {}
        self.process = subprocess.Popen(
            ["node", str(RP_DIR / "rp.mjs")], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        # A thread reads the lines: two lines written at once land in one buffered read, and a select()
        # on the pipe would then wait for a third that never comes (seen under load).
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put("")

    def read(self) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=STEP_TIMEOUT)
        except queue.Empty:
            line = ""
        if not line:
            self.process.kill()
            assert self.process.stderr is not None
            raise AssertionError(
                f"openid-client said nothing within {STEP_TIMEOUT} s after {self.last}: {self.process.stderr.read()}"
            )
        answer: dict[str, Any] = json.loads(line)
        self.last = answer
        assert answer["step"] != "error", answer
        return answer

    def send(self, answer: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(answer) + "\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


def play(world: ServedWorld, clock_skew: int) -> dict[str, dict[str, Any]]:
    """Every step of rp.mjs, the professional acting where the script waits; the steps by name."""
    rp = NodeRp(world, clock_skew)
    steps: dict[str, dict[str, Any]] = {}
    try:
        while (step := rp.read())["step"] != "done":
            steps[step["step"]] = step
            if step["step"] == "authorize":
                status, location, _ = asyncio.run(world.login(step["url"]))
                assert status == 303 and location.startswith(REDIRECT), (status, location)
                rp.send({"callback": location})
            elif step["step"] == "end_session":
                steps["end_session"]["answer"] = world.follow(step["url"])
                rp.send({"ok": True})
            elif step["step"] == "ciba":
                # approve after more than two intervals: the client polls in real seconds meanwhile
                threading.Timer(2.2, world.approve_push).start()
        assert rp.process.wait(10) == 0
    finally:
        rp.stop()
    return steps


def test_openid_client_logs_in_refreshes_revokes_logs_out_and_polls_ciba(world: ServedWorld) -> None:
    steps = play(world, clock_skew=0)
    assert steps["discovery"]["issuer"] == world.issuer
    assert steps["tokens"]["sub"].endswith(":" + NATIONAL_ID) and steps["tokens"]["acr"] == "eidas1"
    assert steps["tokens"]["has_refresh"] and steps["tokens"]["expires_in"] == 120
    assert steps["refresh"] == {"step": "refresh", "rotated": True, "sub": steps["tokens"]["sub"]}
    assert steps["userinfo"]["SubjectNameID"] == NATIONAL_ID and steps["userinfo"]["given_name"] == "ALAIN"
    assert steps["introspection"]["active"] is True and steps["introspection"]["username"] == NATIONAL_ID
    assert steps["revocation"]["refresh_after"] == "invalid_grant"
    status, location = steps["end_session"]["answer"]
    assert status == 302 and location.startswith(REDIRECT) and parse_qs(urlparse(location).query)["state"] == ["bye"]
    assert steps["ciba"]["interval"] == 1 and steps["ciba_tokens"]["has_refresh"]
    assert steps["ciba_tokens"]["seconds"] < 5.5, "polled every second: no slow_down from a frozen clock"


def test_openid_client_accepts_the_tokens_of_a_world_moved_past_their_lifetime(world: ServedWorld) -> None:
    """10 minutes on (twice an id_token's life): the world keeps running from there, and a client whose
    clock says the same (clockSkew) validates iat/exp, refreshes and reads userinfo."""
    before = world.admin("GET", "/admin/clock")[1]["now"]
    status, after = world.admin("POST", "/admin/clock", {"advance": "+10min"})
    assert status == 200
    started = time.monotonic()
    steps = play(world, clock_skew=600)
    assert steps["tokens"]["sub"].endswith(":" + NATIONAL_ID) and steps["refresh"]["rotated"]
    assert steps["userinfo"]["SubjectNameID"] == NATIONAL_ID
    now = world.admin("GET", "/admin/clock")[1]["now"]
    assert before < after["now"] < now, "moved on, and still running"
    assert time.monotonic() - started < 60
