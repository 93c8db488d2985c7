"""The admin API fed what the issue 19 probe fed it: a 4xx with a reason every time, never a 500, and
never a world that later requests fail on.

Before: deeply nested JSON was a 500 on every POST route; ``{"set": "9999-12-31T23:59:59+00:00"}``
was accepted and then every advance (and every site adding a lifetime to the time) failed; an
outbox delay of ``999999999d`` was accepted and every message sent after it was a 500; a card
profile that is not UTF-8 or nests too deeply was a 500; ``/admin/cards/-1/log`` answered 200.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from harness.pki import Pki
from harness.world.host import WorldHost
from simulators.web.admin.app import ROUTES

CAROLE = {"first_name": "CAROLE", "last_name": "PHARMACH0007512", "profession": "21", "rpps": "99700075122",
          "civility": "MME", "email": "carole@officine.test", "mobile": "+33600000001"}  # fmt: skip


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorldHost]:
    with WorldHost(pki=Pki(tmp_path_factory.mktemp("bad-input-pki")), cards=True, clock_runs=False) as world:
        world.add_professional(**CAROLE)
        yield world


def post(host: WorldHost, path: str, body: Any = None, *, raw: bytes | None = None) -> tuple[int, Any]:
    reply = httpx2.post(
        host.urls["admin"] + path,
        content=raw if raw is not None else json.dumps(body if body is not None else {}).encode(),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    return reply.status_code, reply.json()


def get(host: WorldHost, path: str) -> tuple[int, Any]:
    reply = httpx2.get(host.urls["admin"] + path, timeout=30)
    return reply.status_code, reply.json()


def wallet_sends_codes(host: WorldHost) -> int:
    """Carole starts an activation, so the wallet sends her codes (adding the outbox delay to the time)."""

    async def start() -> int:
        async with host.httpx_client(timeout=30, follow_redirects=True) as http:
            reply = await http.post(host.urls["wallet"] + "/activation", data={"identifiant": "899700075122"})
            return reply.status_code

    return host.run(start())


POST_ROUTES = [r.path for r in ROUTES if r.method == "POST"]
DEEP_BODIES = {
    "5,000 nested arrays (the JSON parser's own limit)": b"[" * 5000 + b"]" * 5000,
    "5,000 nested objects": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "100 nested objects (under the parser's limit)": b'{"a":' * 100 + b"1" + b"}" * 100,
}


READ_FIRST = ["/admin/clock", "/admin/directory", "/admin/ecps", "/admin/faults", "/admin/psc/clients",
              "/admin/psc/faults", "/admin/sidep/accounts", "/admin/testssl", "/admin/cards/0/insert"]  # fmt: skip
"""Routes that read their body before anything else (the others first look up what their path names)."""


@pytest.mark.parametrize("route", POST_ROUTES)
@pytest.mark.parametrize("body", DEEP_BODIES.values(), ids=DEEP_BODIES.keys())
def test_deeply_nested_json_is_never_a_500(host: WorldHost, route: str, body: bytes) -> None:
    path = re.sub(r"\{\w+\}", "x", route.replace("{reader}", "0"))
    status, answer = post(host, path, raw=body)
    assert status < 500, (route, status, answer)
    if status == 400:
        assert "nests deeper than 32 levels" in answer["error"]


@pytest.mark.parametrize("route", READ_FIRST)
def test_deeply_nested_json_is_a_400_that_says_so(host: WorldHost, route: str) -> None:
    for body in DEEP_BODIES.values():
        status, answer = post(host, route, raw=body)
        assert status == 400 and "nests deeper than 32 levels" in answer["error"], (route, status, answer)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"advance": "+99999999999h"}, "at most 36525 days"),
        ({"advance": "36526d"}, "at most 36525 days"),
        ({"advance": "9" * 5000 + "d"}, "at most 64 characters"),
        ({"set": "9999-12-31T23:59:59+00:00"}, "stays between 2000-01-01 and 2999-12-31"),
        ({"set": "1900-01-01T00:00:00+00:00"}, "stays between 2000-01-01 and 2999-12-31"),
        ({"set": "2999-12-31T23:00:00-02:00"}, "stays between 2000-01-01 and 2999-12-31"),
    ],
)
def test_the_clock_refuses_out_of_range_moves_and_stays_usable(host: WorldHost, body: Any, says: str) -> None:
    _, before = get(host, "/admin/clock")
    status, answer = post(host, "/admin/clock", body)
    assert status == 400 and says in answer["error"], answer
    assert get(host, "/admin/clock")[1] == before, "unchanged"
    status, moved = post(host, "/admin/clock", {"advance": "+1h"})
    assert status == 200 and moved["now"] > before["now"], "later advances still work"


def test_the_clock_moves_to_its_last_instant_and_no_further_and_the_world_still_answers(host: WorldHost) -> None:
    _, before = get(host, "/admin/clock")
    try:
        assert post(host, "/admin/clock", {"set": "2999-12-31T22:59:59+00:00"})[0] == 200
        assert post(host, "/admin/clock", {"advance": "+1h"}) == (200, {"now": "2999-12-31T23:59:59+00:00"})
        status, answer = post(host, "/admin/clock", {"advance": "1s"})
        assert status == 400 and "cannot move past 2999-12-31" in answer["error"]
        assert wallet_sends_codes(host) == 200, "the sites add lifetimes and delays to the last instant"
        status, card = post(host, "/admin/cards/1/insert", {"profile": "doctor"})
        assert status == 200 and card["present"], "a card's certificates are issued at the last instant"
    finally:
        post(host, "/admin/cards/1/remove")
        post(host, "/admin/clock", {"set": before["now"]})


@pytest.mark.parametrize(
    ("delay", "says"),
    [
        ("99999999999h", "at most 36525 days"),
        ("999999999d", "at most 36525 days"),
        ("x" * 65, "at most 64 characters"),
        ("-5", "expected a duration"),
    ],
)
def test_an_absurd_outbox_delay_is_refused_and_messages_still_go_out(host: WorldHost, delay: str, says: str) -> None:
    """``999999999d`` used to be accepted: the next message (``now`` + the delay) was a 500."""
    status, answer = post(host, "/admin/faults", {"outbox_delay": delay})
    assert status == 400 and says in answer["error"], answer
    assert host.world.state.outbox.faults.delay.days == 0, "unchanged"
    sent = len(host.world.state.outbox.sent)
    assert wallet_sends_codes(host) == 200
    assert len(host.world.state.outbox.sent) == sent + 2, "the e-mail and the SMS"


def test_the_longest_outbox_delay_is_accepted_and_messages_still_go_out(host: WorldHost) -> None:
    try:
        assert post(host, "/admin/faults", {"outbox_delay": "36525d"})[0] == 200
        assert wallet_sends_codes(host) == 200
    finally:
        assert post(host, "/admin/faults", {"outbox_delay": "0s"})[0] == 200


def profile_files(folder: Path) -> dict[str, tuple[Path, str]]:
    """Broken card profiles, and what the refusal must say of each."""
    broken = folder / "broken"
    broken.mkdir(exist_ok=True)
    not_utf8 = broken / "latin1.yaml"
    not_utf8.write_bytes("holder: {first_name: HÉLÈNE}\n".encode("latin-1"))
    deep = broken / "deep.yaml"
    deep.write_text("holder: " + "[" * 5000 + "]" * 5000 + "\n")
    bad_yaml = broken / "bad.yaml"
    bad_yaml.write_text("holder:\n  civility: M\n  first_name: [unclosed\n")
    bad_pin = broken / "pin.yaml"
    bad_pin.write_text("holder: {civility: M, first_name: A, last_name: B, profession: '10', rpps: '99700209812'}\n"
                       "pin: {value: '12'}\n")  # fmt: skip
    return {
        "not UTF-8": (not_utf8, f"{not_utf8}:1: not UTF-8"),
        "nested 5,000 deep": (deep, f"{deep}"),
        "not valid YAML": (bad_yaml, f"{bad_yaml}:4: not valid YAML"),
        "a 2-digit PIN": (bad_pin, f"{bad_pin}:2: pin: "),
        "a directory": (broken, f"{broken}:1: is a folder, not a card profile file"),
        "no such file": (broken / "none.yaml", f"no card profile '{broken / 'none.yaml'}'"),
    }


@pytest.mark.parametrize(
    "case", ["not UTF-8", "nested 5,000 deep", "not valid YAML", "a 2-digit PIN", "a directory", "no such file"]
)
def test_a_broken_profile_is_a_400_naming_the_file(host: WorldHost, tmp_path: Path, case: str) -> None:
    path, says = profile_files(tmp_path)[case]
    status, answer = post(host, "/admin/cards/1/insert", {"profile": str(path)})
    assert status == 400, answer
    assert answer["error"].startswith(says), answer
    assert get(host, "/admin/cards")[1][1]["present"] is False


def test_an_unknown_profile_name_lists_the_built_in_ones(host: WorldHost) -> None:
    status, answer = post(host, "/admin/cards/1/insert", {"profile": "pharmacien"})
    assert status == 400 and "no card profile 'pharmacien': did you mean 'pharmacist'?" in answer["error"]
    assert "doctor, nurse, pharmacist" in answer["error"]


@pytest.mark.parametrize("reader", ["-1", "-2", "+0", "1_0", "2", "٠", "99999999999999999999"])
def test_only_a_reader_number_names_a_reader(host: WorldHost, reader: str) -> None:
    """``-1`` used to be Python's last reader (200); ``٠`` (an Arabic-Indic zero) and ``1_0`` are
    numbers to ``int`` but no reader's."""
    reply = httpx2.get(f"{host.urls['admin']}/admin/cards/{reader}/log", timeout=30)
    assert reply.status_code == 404 and "readers 0-1" in reply.json()["error"]
    assert post(host, f"/admin/cards/{reader}/remove")[0] == 404


def test_a_card_fault_counter_out_of_range_is_refused(host: WorldHost) -> None:
    assert post(host, "/admin/cards/0/insert", {"profile": "pharmacist"})[0] == 200
    try:
        status, answer = post(host, "/admin/cards/0/faults", {"remove_after_apdus": 10**30})
        assert status == 400 and "remove_after_apdus" in answer["error"] and "1,000,000" in answer["error"]
        status, answer = post(host, "/admin/cards/0/faults", {"apdu_delay_ms": 3_600_000})
        assert status == 400 and "apdu_delay_ms" in answer["error"]
        assert post(host, "/admin/cards/0/faults", {"remove_after_apdus": 1_000_000})[0] == 200
    finally:
        post(host, "/admin/cards/0/remove")
