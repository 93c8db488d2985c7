"""Runtime control of virtual cards over a Unix socket: what ``cps-harness card serve`` exposes.

``card serve`` keeps a private stack with its readers; ``card insert/remove/reset/status/fault``
talk to it. The same routes are plain aiohttp handlers over ``CardReader`` objects, so a world's
admin API can mount them as they are.

| method | path | body | answer |
|---|---|---|---|
| GET | /cards | | every reader's status (presence, certificate variants, PIN/PUK counters, APDU count, last removal) |
| POST | /cards/{reader}/insert | ``{"profile": name or path}`` | the reader's status |
| POST | /cards/{reader}/remove | | the reader's status |
| POST | /cards/{reader}/reset | | the reader's status |
| POST | /cards/{reader}/faults | fault fields of a profile (``mute``, ``status_words``…) | the reader's status |
| GET | /cards/{reader}/log | | the decoded, PIN-masked APDU log lines |

Only local programs may use it (``simulators/web/guard.py``): ``Host: localhost`` on the socket
(``127.0.0.1:<port>`` in a world), no foreign ``Origin``, and a POST sent as ``application/json``,
even without a body; ``request`` below does all three.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import ValidationError

from harness.card.profile import FaultsModel, load_profile, make_card
from harness.card.reader import CardReader, CardReaderError
from harness.pki import Pki
from harness.yamlfile import DataFileError
from simulators.card.cpx import CpxCard
from simulators.card.view import CardView
from simulators.web.guard import SAFE_METHODS, local_only
from simulators.web.jsonapi import error, read_object

READERS_KEY = web.AppKey("readers", list[CardReader])
PKI_KEY = web.AppKey("pki", Pki)
CLOCK_KEY: web.AppKey[Callable[[], dt.datetime]] = web.AppKey("card_clock")
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=30)


def default_control_path() -> Path:
    if explicit := os.environ.get("CPS_HARNESS_CONTROL"):
        return Path(explicit)
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/cps-harness-{os.getuid()}"
    return Path(runtime) / "cps-harness" / "card-control.sock"


def _reader(request: web.Request) -> CardReader:
    """The reader the path names by its number, from 0: ``-1`` (Python's last item), ``+1`` or ``1_0``
    (what ``int`` also reads) are no reader's number."""
    readers = request.app[READERS_KEY]
    named = request.match_info["reader"]
    if not re.fullmatch(r"[0-9]{1,6}", named) or int(named) >= len(readers):
        raise error(web.HTTPNotFound, f"no reader {named!r}; readers 0-{len(readers) - 1}")
    return readers[int(named)]


def _profile_problem(name: str, exc: BaseException) -> str:
    """What is wrong with the profile ``name``, as the loader says it (``file:line: field: why``)
    when it can, never a traceback: the trainer fixes the file and inserts again."""
    if isinstance(exc, UnicodeDecodeError):
        return f"{name}: not UTF-8 text (byte {exc.start + 1}: {exc.reason})"
    if isinstance(exc, RecursionError):
        return f"{name}: nested too deeply to read"
    if isinstance(exc, OSError) and exc.strerror is not None:
        return f"{exc.filename or name}: cannot read: {exc.strerror}"
    return str(exc) or f"{name}: {type(exc).__name__}"


async def list_cards(request: web.Request) -> web.Response:
    return web.json_response([r.status() for r in request.app[READERS_KEY]])


async def insert(request: web.Request) -> web.Response:
    reader = _reader(request)
    body = await read_object(request)
    name = str(body.get("profile", "pharmacist"))
    try:
        profile = load_profile(name)
    except (DataFileError, ValueError, OSError, RecursionError) as exc:  # DataFileError and UnicodeDecodeError
        raise error(web.HTTPBadRequest, _profile_problem(name, exc)) from None  # are ValueErrors; said apart
    try:
        profile.faults.faults().check()
    except ValueError as exc:
        raise error(web.HTTPBadRequest, f"{name}: faults: {exc}") from None
    now = request.app[CLOCK_KEY]()
    try:
        card, credentials = make_card(profile, request.app[PKI_KEY], now)
    except ValueError as exc:  # X.509 cannot hold ``now``: a clock outside simulators.world.clock.EARLIEST..LATEST
        raise error(web.HTTPConflict, f"no certificate can be issued at {now.isoformat()}: {exc}") from None
    try:
        await reader.insert(card, certificates=credentials.variants)
    except CardReaderError as exc:
        raise error(web.HTTPConflict, str(exc)) from None
    return web.json_response(reader.status())


async def remove(request: web.Request) -> web.Response:
    reader = _reader(request)
    await reader.remove()
    return web.json_response(reader.status())


async def reset(request: web.Request) -> web.Response:
    reader = _reader(request)
    try:
        reader.reset()
    except CardReaderError as exc:
        raise error(web.HTTPConflict, str(exc)) from None
    return web.json_response(reader.status())


async def set_faults(request: web.Request) -> web.Response:
    reader = _reader(request)
    if reader.card is None:
        raise error(web.HTTPConflict, f"{reader.name}: no card")
    try:
        faults = FaultsModel.model_validate(await read_object(request)).faults()
        faults.check()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
        raise error(web.HTTPBadRequest, problems) from None
    except ValueError as exc:
        raise error(web.HTTPBadRequest, str(exc)) from None
    reader.card.faults.replace_with(faults)
    return web.json_response(reader.status())


async def card_log(request: web.Request) -> web.Response:
    reader = _reader(request)
    lines = CardView(reader.card).lines() if isinstance(reader.card, CpxCard) else []
    return web.json_response(lines)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def add_routes(
    app: web.Application,
    readers: list[CardReader],
    pki: Pki,
    prefix: str = "",
    clock: Callable[[], dt.datetime] = _utc_now,
) -> None:
    """Mount the card routes on ``app`` (a world's admin API mounts them under ``/admin``).

    ``clock``: when inserted cards' certificates are issued from (a world's clock, whose time a
    scenario sets: an ``expired`` certificate is expired at that time, a valid one valid then).
    """
    app[READERS_KEY] = readers
    app[PKI_KEY] = pki
    app[CLOCK_KEY] = clock
    app.router.add_get(prefix + "/cards", list_cards)
    app.router.add_post(prefix + "/cards/{reader}/insert", insert)
    app.router.add_post(prefix + "/cards/{reader}/remove", remove)
    app.router.add_post(prefix + "/cards/{reader}/reset", reset)
    app.router.add_post(prefix + "/cards/{reader}/faults", set_faults)
    app.router.add_get(prefix + "/cards/{reader}/log", card_log)


def make_app(readers: list[CardReader], pki: Pki) -> web.Application:
    """``card serve``'s control app, guarded as a world's admin API is (``local_only``)."""
    app = web.Application(middlewares=[local_only])
    add_routes(app, readers, pki)
    return app


async def request(control: Path, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """Send one control request; (HTTP status, decoded JSON or text).

    As ``local_only`` wants it: ``Host: localhost`` (the socket's only name), and a POST is JSON
    even without a body (``{}``).
    """
    if not control.exists():
        raise FileNotFoundError(f"no card server at {control}: start one with `cps-harness card serve`")
    if body is None and method.upper() not in SAFE_METHODS:
        body = {}
    connector = aiohttp.UnixConnector(path=str(control))
    async with (
        aiohttp.ClientSession(connector=connector, timeout=REQUEST_TIMEOUT) as session,
        session.request(method, f"http://localhost{path}", json=body) as reply,
    ):
        if reply.content_type == "application/json":
            return reply.status, await reply.json()
        return reply.status, await reply.text()
