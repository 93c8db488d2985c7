"""Nobody but a local program drives a world (issue 19): CSRF and DNS rebinding against the admin API.

A world's admin API is plain HTTP on loopback without credentials. Before ``simulators/web/guard.py``
a ``text/plain`` POST with ``Origin: http://evil.example`` (what any web page can send) advanced the
clock and created a SI-DEP account, and a request under a rebound name (``Host: evil.example``) was
answered. Each attack below is sent byte for byte over a socket, as a browser would send it, and
the world is compared before and after: nothing may change, and each gets its 403 or 415.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest

from harness.pki import Pki
from harness.world.host import WorldHost

EVIL = "http://evil.example"
CLOCK_BODY = b'{"advance": "+48h"}'
ACCOUNT_BODY = b'{"login": "pirate", "password": "Motdepasse-1", "kind": "liberal"}'
FORM_ACCOUNT = b"login=pirate&password=Motdepasse-1&kind=liberal"
JSON = ("Content-Type", "application/json")
TEXT = ("Content-Type", "text/plain")
FORM = ("Content-Type", "application/x-www-form-urlencoded")


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorldHost]:
    """A world with cards, its clock frozen (so its state reads the same twice), a card in reader 0."""
    with WorldHost(pki=Pki(tmp_path_factory.mktemp("guard-pki")), cards=True, clock_runs=False) as world:
        world.insert_card("pharmacist", reader=0)
        yield world


def port_of(host: WorldHost) -> int:
    return host.world.sites["admin"].running.port


def send(
    port: int, method: str, path: str, headers: list[tuple[str, str]], body: bytes = b"", version: str = "1.1"
) -> tuple[int, Any]:
    """One request exactly as given (no Host added: the attacks choose theirs); (status, JSON body)."""
    lines = [f"{method} {path} HTTP/{version}", *(f"{k}: {v}" for k, v in headers)]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload.decode("latin-1")


def snapshot(host: WorldHost) -> dict[str, Any]:
    """What the attacks try to change: the clock and state, cards, Test SSL, SI-DEP accounts, PSC clients."""

    def get(path: str) -> Any:
        return httpx2.get(host.urls["admin"] + path, timeout=30).json()

    assert host.world.psc is not None
    return {
        "state": get("/admin/state"),
        "cards": [(r["present"], r.get("certificates")) for r in get("/admin/cards")],
        "testssl": get("/admin/testssl"),
        "sidep": sorted(host.world.sidep_accounts.by_login),
        "psc": sorted(host.world.psc.clients),
        "outbox_faults": repr(host.world.state.outbox.faults),
    }


@dataclass(frozen=True)
class Attack:
    what: str
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    answer: int
    """The status it must get."""
    version: str = "1.1"

    def send(self, port: int) -> tuple[int, Any]:
        return send(port, self.method, self.path, self.headers, self.body, self.version)


def attacks(port: int) -> list[Attack]:
    """Each attack and its answer. HTTP/1.1 without a Host, or with two, never reaches the guard:
    aiohttp's parser answers 400 itself; HTTP/1.0 may leave Host out, and the guard refuses it."""
    own = ("Host", f"127.0.0.1:{port}")
    rebound = ("Host", f"evil.example:{port}")
    rebound_origin = ("Origin", f"http://evil.example:{port}")
    evil = ("Origin", EVIL)
    multipart = b'--x\r\nContent-Disposition: form-data; name="tls_max"\r\n\r\n1.3\r\n--x--\r\n'
    return [
        Attack("CSRF: text/plain POST from another site", "POST", "/admin/clock", [own, evil, TEXT], CLOCK_BODY, 403),
        Attack("CSRF: form POST from another site", "POST", "/admin/sidep/accounts", [own, evil, FORM], FORM_ACCOUNT,
               403),
        Attack("CSRF: a text/plain account from another site", "POST", "/admin/sidep/accounts", [own, evil, TEXT],
               ACCOUNT_BODY, 403),
        Attack("CSRF: multipart form from another site", "POST", "/admin/testssl",
               [own, evil, ("Content-Type", "multipart/form-data; boundary=x")], multipart, 403),
        Attack("CSRF: body-less POST from another site", "POST", "/admin/cards/0/remove", [own, evil], b"", 403),
        Attack("another site's JSON (it would need a preflight)", "POST", "/admin/clock", [own, evil, JSON],
               CLOCK_BODY, 403),
        Attack("a sandboxed page (Origin: null)", "POST", "/admin/clock", [own, ("Origin", "null"), TEXT], CLOCK_BODY,
               403),
        Attack("another local port's page", "POST", "/admin/clock",
               [own, ("Origin", f"http://127.0.0.1:{port + 1}"), JSON], CLOCK_BODY, 403),
        Attack("the right authority over https", "POST", "/admin/clock",
               [own, ("Origin", f"https://127.0.0.1:{port}"), JSON], CLOCK_BODY, 403),
        Attack("CORS preflight from another site", "OPTIONS", "/admin/clock",
               [own, evil, ("Access-Control-Request-Method", "POST")], b"", 403),
        Attack("text/plain POST whose Origin was stripped", "POST", "/admin/clock", [own, TEXT], CLOCK_BODY, 415),
        Attack("form POST whose Origin was stripped", "POST", "/admin/sidep/accounts", [own, FORM], FORM_ACCOUNT, 415),
        Attack("body-less POST without a content type", "POST", "/admin/cards/0/remove", [own], b"", 415),
        Attack("DNS rebinding: a POST under the attacker's name", "POST", "/admin/clock",
               [rebound, rebound_origin, JSON], CLOCK_BODY, 403),
        Attack("DNS rebinding: an account under the attacker's name", "POST", "/admin/sidep/accounts",
               [rebound, rebound_origin, JSON], ACCOUNT_BODY, 403),
        Attack("DNS rebinding: reading the world", "GET", "/admin/state", [rebound], b"", 403),
        Attack("DNS rebinding: reading the card log", "GET", "/admin/cards/0/log", [rebound], b"", 403),
        Attack("DNS rebinding: a trainer's mailbox page", "GET", "/boite/carole@officine.test", [rebound], b"", 403),
        Attack("DNS rebinding to an unknown path", "GET", "/nope", [rebound], b"", 403),
        Attack("a foreign Host without an Origin", "POST", "/admin/clock", [("Host", "evil.example"), JSON],
               CLOCK_BODY, 403),
        Attack("the right address, another port", "POST", "/admin/clock", [("Host", f"127.0.0.1:{port + 1}"), JSON],
               CLOCK_BODY, 403),
        Attack("localhost without the port", "GET", "/admin/state", [("Host", "localhost")], b"", 403),
        Attack("no Host at all (HTTP/1.0)", "POST", "/admin/clock", [JSON], CLOCK_BODY, 403, "1.0"),
        Attack("no Host at all (HTTP/1.1)", "POST", "/admin/clock", [JSON], CLOCK_BODY, 400),
        Attack("two Host headers", "POST", "/admin/clock", [own, ("Host", "evil.example"), JSON], CLOCK_BODY, 400),
    ]  # fmt: skip


def test_no_attack_changes_the_world_and_each_gets_its_refusal(host: WorldHost) -> None:
    port = port_of(host)
    before = snapshot(host)
    answers = {attack.what: attack.send(port) for attack in attacks(port)}
    assert snapshot(host) == before, "an attack changed the world"
    for attack in attacks(port):
        status, body = answers[attack.what]
        assert status == attack.answer, f"{attack.what}: {status} {body}"
        if status in (403, 415):
            assert isinstance(body, dict) and body["error"], f"{attack.what}: a JSON error, not {body!r}"
    _, refused = answers["CSRF: text/plain POST from another site"]
    assert "Origin 'http://evil.example'" in refused["error"]
    _, rebound = answers["DNS rebinding: reading the world"]
    assert f"Host 'evil.example:{port}'" in rebound["error"] and f"127.0.0.1:{port}" in rebound["error"]
    _, plain = answers["text/plain POST whose Origin was stripped"]
    assert "Content-Type: application/json" in plain["error"]


def test_the_api_answers_its_own_names_and_origin(host: WorldHost) -> None:
    """What a local program sends (its Host, no Origin) and what a page of the API's own origin
    sends both work: the guard refuses others, not these."""
    port = port_of(host)
    own_origin = f"http://127.0.0.1:{port}"
    status, now = send(port, "GET", "/admin/clock", [("Host", f"localhost:{port}")])
    assert status == 200
    status, moved = send(
        port, "POST", "/admin/clock",
        [("Host", f"127.0.0.1:{port}"), ("Origin", own_origin), ("Content-Type", "application/json; charset=utf-8")],
        b'{"advance": "+1h"}',
    )  # fmt: skip
    assert status == 200 and moved["now"] > now["now"]
    status, _ = send(port, "POST", "/admin/sidep/accounts",
                           [("Host", f"LOCALHOST:{port}"), ("Origin", f"http://localhost:{port}"),
                      ("Content-Type", "application/json")], ACCOUNT_BODY)  # fmt: skip
    assert status == 201 and "pirate" in host.world.sidep_accounts.by_login
    status, mailbox = send(port, "GET", "/boite/carole@officine.test", [("Host", f"127.0.0.1:{port}")])
    assert status == 200 and 'data-screen="boite-reception"' in mailbox


def test_ordinary_clients_pass_the_guard(host: WorldHost) -> None:
    """httpx, aiohttp (the harness's own calls) and a body-less JSON POST reach the handlers."""
    admin = host.urls["admin"]
    assert httpx2.get(admin + "/admin/openapi.json", timeout=30).status_code == 200
    assert httpx2.post(admin + "/admin/testssl", json={"tls_max": "1.2"}, timeout=30).status_code == 200
    reset = httpx2.post(admin + "/admin/cards/0/reset", headers={"Content-Type": "application/json"}, timeout=30)
    assert reset.status_code == 200 and reset.json()["present"]
