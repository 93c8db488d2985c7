"""The trainer console's API against real worlds (aiohttp's test client, the protocol driver): a path
played forward, back, to a step, again; a live fault acting on the world; refusals in French."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from harness.trainer.console import make_app
from harness.trainer.live import Catalogue, Live
from simulators.world.ecps import PushStatus

pytestmark = pytest.mark.pcsc
Client = TestClient[web.Request, web.Application]
CATALOGUE = Catalogue.guide()


@pytest.fixture
async def console(aiohttp_client: Callable[[web.Application], Awaitable[Client]]) -> tuple[Client, Live]:
    live = Live(CATALOGUE)
    return await aiohttp_client(make_app(live)), live


async def post(client: Client, op: str, body: Any = None, status: int = 200, **kwargs: Any) -> dict[str, Any]:
    reply = await client.post(f"/api/{op}", json={} if body is None else body, **kwargs)
    data: dict[str, Any] = await reply.json()
    assert reply.status == status, data
    return data


async def tls_max(live: Live) -> str:
    """Test SSL's TLS cap, asked of the running world's admin API."""
    assert live.through is not None
    world = live.through.stage.world
    async with world.client() as http, http.get(world.urls["admin"] + "/admin/testssl") as reply:
        return str((await reply.json())["tls_max"])


async def test_g6_02_forward_back_goto_restart_and_a_live_fault(console: tuple[Client, Live]) -> None:
    client, live = console
    state = await post(client, "start", {"scenario": "G6-02", "driver": "protocol"})
    assert (state["state"], state["path"]["position"], state["path"]["total"]) == ("holding", 0, 3)
    assert state["path"]["guide"] == "Installation du package ATSAM – En cas d'échec"
    assert state["next"]["text"].startswith("Insérez votre carte CPS dans le lecteur.")
    for position in (1, 2, 3):
        state = await post(client, "next")
        assert (state["path"]["position"], state["last"]["step"], state["problem"]) == (position, position, None)
    last = state["last"]
    assert last["text"].startswith("En cas d'échec, vous obtiendrez l'écran suivant")
    assert (last["actor"], last["verdict"]["code"]) == ("Le navigateur", "expected-failure")
    assert "La connexion sécurisée a échoué : la carte n'a pas pu signer" in last["browser_error"]
    assert state["view"]["kind"] == "error" and "pas pu signer" in state["view"]["text"]
    assert state["next"] is None
    world_at_3 = live.through
    await post(client, "next", status=409)

    state = await post(client, "back")
    assert (state["path"]["position"], state["last"]["step"]) == (2, 2)
    assert live.through is not world_at_3, "back is a fresh world replayed"
    assert [s["played"] for s in state["path"]["steps"]] == [True, True, False]
    state = await post(client, "goto", {"step": 3})
    assert (state["path"]["position"], state["last"]["verdict"]["code"]) == (3, "expected-failure")

    assert await tls_max(live) == "1.2"
    state = await post(client, "switch", {"switch": "tls-1-3"})
    assert await tls_max(live) == "1.3", "the switch acts on the running world"
    assert state["applied"] == [{"after": 3, "label": "Test SSL en TLS 1.3"}]
    assert state["last"]["switch"] == "Test SSL en TLS 1.3"
    state = await post(client, "goto", {"step": 1})
    assert await tls_max(live) == "1.2" and state["applied"] == [], "a replay stopping before it forgets the fault"

    state = await post(client, "switch", {"switch": "tls-1-3"})  # after step 1: replays reaching 1 switch it again
    await post(client, "goto", {"step": 3})
    state = await post(client, "back")
    assert state["path"]["position"] == 2 and await tls_max(live) == "1.3"

    state = await post(client, "restart")
    assert (state["path"]["position"], state["last"], state["applied"]) == (0, None, [])
    state = await post(client, "stop")
    assert (state["state"], state["path"], live.through) == ("idle", None, None)


async def test_one_operation_at_a_time(console: tuple[Client, Live]) -> None:
    client, _ = console
    await post(client, "start", {"scenario": "G6-02", "driver": "protocol"})
    replies = await asyncio.gather(*(client.post("/api/next", json={}) for _ in range(2)))
    statuses = sorted(reply.status for reply in replies)
    assert statuses == [200, 409]
    refused = next(reply for reply in replies if reply.status == 409)
    assert (await refused.json())["error"].startswith("Une opération est en cours")
    state = await (await client.get("/api/state")).json()
    assert state["path"]["position"] == 1, "the refused click played nothing"


@pytest.mark.parametrize(
    ("op", "body", "status", "words"),
    [
        ("start", {"scenario": "G9-99", "driver": "protocol"}, 404, "Parcours inconnu"),
        ("start", {"scenario": "G6-02", "driver": "firefox"}, 400, "Choisissez le navigateur"),
        ("start", {}, 400, "Choisissez un parcours"),
        ("start", ["G6-02"], 400, "doit être un objet JSON"),
        ("next", {}, 409, "choisissez d'abord un parcours"),
    ],
)
async def test_bad_input_is_a_french_4xx(
    console: tuple[Client, Live], op: str, body: Any, status: int, words: str
) -> None:
    client, _ = console
    data = await post(client, op, body, status=status)
    assert words in data["error"]


async def test_bad_step_and_switch_once_a_path_runs(console: tuple[Client, Live]) -> None:
    client, _ = console
    await post(client, "start", {"scenario": "G6-02", "driver": "protocol"})
    assert "entre 0 et 3" in (await post(client, "goto", {"step": 9}, status=400))["error"]
    assert "un nombre" in (await post(client, "goto", {"step": "3"}, status=400))["error"]
    assert (
        "ne concerne pas ce parcours"
        in (await post(client, "switch", {"switch": "refuser-notification"}, 400))["error"]
    )
    reply = await client.post("/api/next", data=b"{", headers={"Content-Type": "application/json"})
    assert reply.status == 400 and "pas du JSON valide" in (await reply.json())["error"]
    reply = await client.get("/api/nope")
    assert reply.status == 404 and (await reply.json())["error"] == "Adresse inconnue : /api/nope"
    reply = await client.get("/api/view/1.png")
    assert reply.status == 404 and "Cette image n'existe plus" in (await reply.json())["error"]


async def test_other_origins_and_forms_are_refused(console: tuple[Client, Live]) -> None:
    client, live = console
    reply = await client.post("/api/start", json={"scenario": "G6-02"}, headers={"Origin": "https://evil.example"})
    assert reply.status == 403
    data = await reply.json()
    assert data["error"].startswith("Seule la page de la console") and "evil.example" in data["detail"]
    reply = await client.post("/api/start", data="scenario=G6-02", headers={"Content-Type": "text/plain"})
    assert reply.status == 415 and "JSON" in (await reply.json())["error"]
    reply = await client.get("/api/state", headers={"Host": "rebound.example:80"})
    assert reply.status == 403
    assert live.session.scenario is None, "nothing was started"
    own = str(client.make_url("")).rstrip("/")
    await post(client, "start", {"scenario": "G6-02", "driver": "protocol"}, headers={"Origin": own})


async def test_the_page_lists_the_guide_s_paths_by_section(console: tuple[Client, Live]) -> None:
    client, _ = console
    reply = await client.get("/?parcours=G6-02")
    html = await reply.text()
    assert reply.status == 200 and '<html lang="fr">' in html
    assert "Console du formateur" in html and "Étape suivante" in html
    assert "<summary>Installation du package ATSAM – En cas d&#39;échec</summary>" in html
    assert 'value="G6-02" checked' in html
    sections = await (await client.get("/api/paths")).json()
    assert sum(len(s["paths"]) for s in sections) == len(CATALOGUE.scenarios) == 41


async def run_command(argv: list[str], env: dict[str, str], timeout: float = 60) -> str:
    """Run a command to its end without blocking the loop (it serves the world the command talks to)."""
    process = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout)
    return out.decode(errors="replace")


def split_command(command: str) -> tuple[dict[str, str], list[str]]:
    """``env -u X A=1 B=2 chromium …`` → the environment it makes from ours, and the command."""
    words = shlex.split(command)
    assert words[0] == "env"
    env, rest = dict(os.environ), words[1:]
    while rest and rest[0] == "-u":
        env.pop(rest[1], None)
        rest = rest[2:]
    while rest and "=" in rest[0] and not rest[0].startswith("/"):
        name, value = rest.pop(0).split("=", 1)
        env[name] = value
    return env, rest


async def test_the_command_opens_the_world_in_the_trainer_s_chromium(
    console: tuple[Client, Live], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The printed command, run as printed (headless, to read the page): the site's real name, the CA."""
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    client, _ = console
    await post(client, "start", {"scenario": "G2-01", "driver": "protocol"})
    state = await post(client, "own-browser")
    own = state["own_browser"]
    assert own["can_launch"] is False and "Pas d'écran ici" in state["notice"]
    assert own["url"].startswith("https://wallet.esw.esante.gouv.fr:") and own["url"].endswith("/activation")
    env, argv = split_command(own["command"])
    assert env["LANGUAGE"] == "fr" and "-u LC_MESSAGES" in own["command"]
    assert any(a.startswith("--host-resolver-rules=") and "MAP wallet.esw.esante.gouv.fr 127.0.0.1" in a for a in argv)
    page = await run_command([*argv[:-1], "--headless", "--dump-dom", argv[-1]], env)
    assert 'data-screen="saisie-identifiant"' in page, page[:500]


async def test_the_trainer_s_chromium_has_the_card_s_middleware(console: tuple[Client, Live]) -> None:
    client, live = console
    await post(client, "start", {"scenario": "G6-02", "driver": "protocol"})
    await post(client, "next")
    own = (await post(client, "own-browser"))["own_browser"]
    env, _ = split_command(own["command"])
    assert live.through is not None and live.through.stage.world.stack is not None
    assert env["PCSCLITE_CSOCK_NAME"] == str(live.through.stage.world.stack.socket_path)
    db = f"sql:{env['HOME']}/.pki/nssdb"
    assert "cps-harness TLS CA" in await run_command(["certutil", "-L", "-d", db], env)
    modules = await run_command(["modutil", "-list", "-dbdir", db], env)
    assert "CPS (OpenSC)" in modules and "opensc-pkcs11.so" in modules
    assert "token: Code porteur de la carte CPS" in modules, "the world's card is seen through the module"


@pytest.mark.e2e
async def test_with_a_screen_the_button_launches_chromium_and_stop_closes_it(
    console: tuple[Client, Live], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a screen (a private Xvfb here) the trainer's Chromium starts on the page; it goes with the world."""
    read, write = os.pipe()
    xvfb = await asyncio.create_subprocess_exec(
        "Xvfb", "-displayfd", str(write), "-screen", "0", "1280x900x24", "-nolisten", "tcp",
        pass_fds=(write,), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    os.close(write)
    try:
        number = await asyncio.wait_for(asyncio.to_thread(os.read, read, 16), 30)
        monkeypatch.setenv("DISPLAY", f":{number.decode().strip()}")
        client, live = console
        await post(client, "start", {"scenario": "G2-01", "driver": "protocol"})
        state = await post(client, "own-browser")
        assert state["own_browser"]["can_launch"] is True
        assert state["notice"] == "Chromium s'ouvre sur la page du parcours."
        assert live.own is not None
        (chromium,) = live.own.launched
        windows = await run_command(
            ["xdotool", "search", "--sync", "--onlyvisible", "--class", "chromium"], dict(os.environ), 30
        )
        assert windows.split() and chromium.returncode is None, "Chromium's window is on the screen"
        await post(client, "stop")
        assert chromium.returncode is not None, "stopping the path closed it"
    finally:
        os.close(read)
        xvfb.terminate()
        await asyncio.wait_for(xvfb.wait(), 10)


async def test_a_wrong_pin_is_typed_by_the_next_card_step(console: tuple[Client, Live]) -> None:
    """The PIN switch does what the scenario files do to make a PIN wrong: the card step types another one."""
    client, live = console
    await post(client, "start", {"scenario": "G6-01", "driver": "protocol"})
    await post(client, "next")
    state = await post(client, "switch", {"switch": "code-faux"})
    assert state["notice"].startswith("Code porteur faux") and state["applied"][0]["after"] == 1
    state = await post(client, "next")
    last = state["last"]
    assert last["verdict"]["code"] == "failed"
    assert "la carte a refusé le code porteur (il reste 2 essai(s))" in last["browser_error"]
    assert live.through is not None
    card = live.through.stage.card_view(0)
    assert card is not None and card.pin.tries_left == 2
    state = await post(client, "goto", {"step": 2})  # a replay types the wrong PIN again
    assert state["last"]["verdict"]["code"] == "failed"


async def test_refusing_the_push_on_the_phone(console: tuple[Client, Live]) -> None:
    client, live = console
    await post(client, "start", {"scenario": "G5-01", "driver": "protocol"})
    await post(client, "goto", {"step": 2})
    refused = await post(client, "switch", {"switch": "refuser-notification"}, status=200)
    assert "n'a pas pu être déclenché" in refused["problem"], "no push yet: the world is unchanged"
    assert refused["state"] == "holding" and refused["applied"] == []
    await post(client, "next")  # the professional's identifier: the push goes to the phone
    state = await post(client, "switch", {"switch": "refuser-notification"})
    assert state["problem"] is None and state["applied"] == [{"after": 3, "label": "Refuser la notification"}]
    assert live.through is not None
    stage = live.through.stage
    (push,) = stage.world.state.ecps.on_device(stage.phone(None), stage.world.state.now())
    assert push.status is PushStatus.REFUSED, "the switch answered the push on the world's phone"


async def test_an_operation_past_its_deadline_stops_its_world_and_says_so(
    console: tuple[Client, Live], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, live = console
    await post(client, "start", {"scenario": "G6-02", "driver": "protocol"})
    monkeypatch.setattr(Live, "budget", lambda self, plan: 0.0)  # no operation can finish in no time
    state = await post(client, "next")
    assert state["state"] == "broken" and state["problem"].startswith("L'opération n'a pas abouti en 0 s")
    assert live.through is None, "its world was stopped"
    assert "rejouez le parcours" in (await post(client, "next", status=409))["error"]
    monkeypatch.undo()
    state = await post(client, "goto", {"step": 1})
    assert (state["state"], state["path"]["position"], state["problem"]) == ("holding", 1, None)


async def test_a_bug_of_the_harness_is_shown_not_a_500(
    console: tuple[Client, Live], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, live = console
    await post(client, "start", {"scenario": "G6-02", "driver": "protocol"})

    async def broken_step(self: Any, variant: Any = None) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("harness.scenario.player.Playthrough.step", broken_step)
    state = await post(client, "next")
    assert state["problem"] == "Erreur du harnais (un défaut de cps-harness, pas du parcours) : RuntimeError: a bug"
    assert "Traceback" not in json.dumps(state) and live.through is None


async def test_the_phone_beside_the_computer(console: tuple[Client, Live]) -> None:
    """A path with the e-CPS app shows the phone's own screen after each step: G3-01's QR code scanned,
    the phone shows the code the professional types; a path without a phone shows none."""
    client, _ = console
    state = await post(client, "start", {"scenario": "G3-01", "driver": "protocol"})
    assert state["phone"] is None  # nothing played yet
    while state["last"] is None or state["last"]["action"] != "phone.scan":
        state = await post(client, "next")
    phone = state["phone"]
    assert phone is not None and phone["device"] == "telephone-1"
    assert 'data-app-screen="code"' in phone["html"] and "data-code=" in phone["html"]
    assert "<link" not in phone["html"]  # self-contained: the frame runs no request of its own
    assert state["view"]["url"] == "https://wallet.esw.esante.gouv.fr/carte"  # the real name, not the port
    state = await post(client, "start", {"scenario": "G6-02", "driver": "protocol"})
    state = await post(client, "next")
    assert state["phone"] is None
