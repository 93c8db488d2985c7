"""The world's admin API (plain HTTP on loopback): what scenarios, tests and trainers drive.

``ROUTES`` (below) is the route table: method, path, body and what each route does, for every
route a world's admin API serves, including those other modules mount on it (PSC, SI-DEP, Test
SSL, the phone, the cards). ``make_app`` registers this module's own routes from it, and
``docs/reference/admin-api.md`` is generated from it and from ``NOTES`` (``python -m harness.refdocs``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simulators.web.guard import local_only
from simulators.web.jsonapi import MAX_DEPTH, error, read_object
from simulators.web.page import render
from simulators.web.push.app import add_api_routes, set_state
from simulators.web.screens import Screen
from simulators.web.wallet.rules import WalletState
from simulators.world.clock import EARLIEST, LATEST, MAX_DURATION, parse_delta
from simulators.world.directory import Contacts, DirectoryError, Professional
from simulators.world.ecps import EcpsError
from simulators.world.state import DEFAULT_DEVICE, WorldState

STATE_KEY = web.AppKey("admin_world", WorldState)
NOTES = (
    """\
A professional: `{"civility": "M"|"MME", "first_name", "last_name", "profession": "10",
"rpps": "…" | "adeli": "…", "email": null|"…", "mobile": null|"…"}`. An order update reaches the
directory 48 h (pharmacists) or 72 h (doctors) later. Bodies are JSON objects (nested at most
"""
    f'{MAX_DEPTH} levels); errors are 4xx JSON `{{"error": "<what is wrong>"}}`.'
    """

Only local programs drive a world: a request whose `Host` is not the API's own address
(`127.0.0.1:<port>` or `localhost:<port>`; `localhost` on `card serve`'s socket) or whose `Origin`,
when sent, is not its own origin is refused with 403 (a web page cannot drive it, by CSRF or DNS
rebinding), and a POST needs `Content-Type: application/json`, even without a body (else 415):
`curl -s -X POST $ADMIN/admin/clock -H 'Content-Type: application/json' -d '{"advance": "+48h"}'`.
"""
    f"The clock stays between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} and moves at most {MAX_DURATION.days} days\n"
    f"at once; a delay is at most {MAX_DURATION.days} days too (400 beyond).\n"
)
"""What every route shares (Markdown), shown above the route table in the reference page."""
ERROR_SCHEMA: dict[str, Any] = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
"""The body of every refusal, for ``/admin/openapi.json``."""


class ProfessionalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    civility: Literal["M", "MME"]
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    profession: str = Field(min_length=2, max_length=2)
    rpps: str | None = None
    adeli: str | None = None
    email: str | None = Field(default=None, max_length=200)
    mobile: str | None = Field(default=None, max_length=30)


class ContactsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str | None = Field(default=None, max_length=200)
    mobile: str | None = Field(default=None, max_length=30)


class EcpsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    national_id: str = Field(max_length=20)
    password: str = Field(max_length=8)
    device: str = Field(default=DEFAULT_DEVICE, max_length=64, pattern=r"^[A-Za-z0-9-]+$")


class ClockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    advance: str | None = Field(default=None, max_length=64)
    set: dt.datetime | None = None


class FaultsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outbox_drop: list[str] = Field(default_factory=list)
    outbox_delay: str = Field(default="0s", max_length=64)


async def _body(request: web.Request, model: type[BaseModel]) -> Any:
    try:
        return model.model_validate(await read_object(request))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
        raise error(web.HTTPBadRequest, problems) from None


async def state(request: web.Request) -> web.Response:
    world = request.app[STATE_KEY]
    now = world.now()
    return web.json_response(
        {
            "now": now.isoformat(),
            "directory": world.directory.snapshot(now),
            "ecps": [
                {"national_id": e.national_id, "device": e.device, "method": e.method, "locked": e.locked}
                for e in world.ecps.all()
            ],
            "outbox": world.outbox.addresses(),
        }
    )


async def clock_get(request: web.Request) -> web.Response:
    return web.json_response({"now": request.app[STATE_KEY].now().isoformat()})


async def clock_post(request: web.Request) -> web.Response:
    world = request.app[STATE_KEY]
    body: ClockIn = await _body(request, ClockIn)
    try:
        if body.set is not None:
            world.clock.set(body.set)
        if body.advance is not None:
            world.clock.advance(body.advance)
    except ValueError as exc:
        raise error(web.HTTPBadRequest, str(exc)) from None
    return web.json_response({"now": world.now().isoformat()})


async def directory_add(request: web.Request) -> web.Response:
    body: ProfessionalIn = await _body(request, ProfessionalIn)
    try:
        professional = Professional(
            body.civility,
            body.first_name,
            body.last_name,
            body.profession,
            rpps=body.rpps,
            adeli=body.adeli,
            contacts=Contacts(body.email, body.mobile),
        )
    except DirectoryError as exc:
        raise error(web.HTTPBadRequest, str(exc)) from None
    request.app[STATE_KEY].directory.add(professional)
    return web.json_response({"national_id": professional.national_id}, status=201)


async def order_update(request: web.Request) -> web.Response:
    world = request.app[STATE_KEY]
    body: ContactsIn = await _body(request, ContactsIn)
    try:
        update = world.directory.order_update(
            request.match_info["national_id"], Contacts(body.email, body.mobile), world.now()
        )
    except DirectoryError as exc:
        raise error(web.HTTPNotFound, str(exc)) from None
    return web.json_response({"effective_at": update.effective_at.isoformat()}, status=202)


async def ecps_activate(request: web.Request) -> web.Response:
    """A professional who activated an e-CPS earlier (what a relying party's test needs to log in)."""
    world = request.app[STATE_KEY]
    body: EcpsIn = await _body(request, EcpsIn)
    if world.directory.find(body.national_id, world.now()) is None:
        raise error(web.HTTPNotFound, f"{body.national_id} is not in the directory (POST /admin/directory first)")
    try:
        world.ecps.activate(body.national_id, body.device, body.password, "admin", world.now())
    except EcpsError as exc:
        raise error(web.HTTPBadRequest, str(exc)) from None
    return web.json_response({"national_id": body.national_id, "device": body.device}, status=201)


async def outbox(request: web.Request) -> web.Response:
    world = request.app[STATE_KEY]
    address = request.query.get("to")
    messages = world.outbox.mailbox(address, world.now()) if address else world.outbox.sent
    return web.json_response([m.as_json() for m in messages])


async def faults(request: web.Request) -> web.Response:
    world = request.app[STATE_KEY]
    body: FaultsIn = await _body(request, FaultsIn)
    try:
        delay = parse_delta(body.outbox_delay)
    except ValueError as exc:
        raise error(web.HTTPBadRequest, str(exc)) from None
    world.outbox.faults.dropped = set(body.outbox_drop)
    world.outbox.faults.delay = delay
    return web.json_response({"outbox_drop": sorted(world.outbox.faults.dropped), "outbox_delay": body.outbox_delay})


async def mailbox_page(request: web.Request) -> web.Response:
    world = request.app[STATE_KEY]
    address = request.match_info["address"]
    messages = world.outbox.mailbox(address, world.now())
    return render(
        "mailbox.html", Screen.BOITE_RECEPTION, title=f"Messages reçus par {address}", address=address,
        messages=messages,
    )  # fmt: skip


async def openapi_handler(request: web.Request) -> web.Response:
    served = {(r.method, r.resource.canonical) for r in request.app.router.routes() if r.resource is not None}
    return web.json_response(openapi([r for r in ROUTES if (r.method, r.path) in served]))


def openapi(routes: list[Route]) -> dict[str, Any]:
    """An OpenAPI 3.1 description of ``routes`` (for schemathesis and API clients): path and query
    parameters are strings, bodies a route's model (JSON Schema by pydantic) or any JSON object."""
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, Any] = {}
    for route in routes:
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"\{(\w+)\}", route.path)
        ] + [
            {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
            for name in re.findall(r"query `\?(\w+)=", route.body)
        ]
        html = not route.path.startswith("/admin/")
        operation: dict[str, Any] = {
            "operationId": f"{route.method.lower()}{re.sub(r'[^A-Za-z0-9]+', '_', route.path)}",
            "summary": re.sub(r"[`*]", "", route.does),
            "parameters": parameters,
            "responses": {
                "default": {
                    "description": 'the answer; errors are 4xx `{"error": …}`',
                    "content": {"text/html" if html else "application/json": {"schema": {}}},
                },
                "403": {
                    "description": "Host is not this API's address, or Origin not its origin (simulators/web/guard.py)",
                    "content": {"application/json": {"schema": ERROR_SCHEMA}},
                },
            },
        }
        if route.method == "POST":
            schema: dict[str, Any] = {"type": "object"}
            if route.model is not None:
                schema = route.model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(schema.pop("$defs", {}))
            operation["requestBody"] = {"required": False, "content": {"application/json": {"schema": schema}}}
            operation["responses"]["415"] = {
                "description": "not sent as application/json (a POST needs it, even without a body)",
                "content": {"application/json": {"schema": ERROR_SCHEMA}},
            }
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "cps-harness world admin API", "version": "1"},
        "paths": paths,
        "components": {"schemas": components},
    }


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    """One route of a world's admin API: what the reference page shows, and what ``make_app`` mounts."""

    method: str
    path: str
    body: str
    """The request body or query (Markdown), empty if none."""
    does: str
    """What the route does and answers (Markdown)."""
    handler: Handler | None = None
    """This module's handler; None for a route another module mounts (``mounted_by``)."""
    mounted_by: str = ""
    model: type[BaseModel] | None = None
    """The JSON body's model, for ``/admin/openapi.json`` (otherwise any JSON object)."""


PUSH = "simulators/web/push/app.py"
PSC = "simulators/web/psc/app.py"
SIDEP = "simulators/web/sidep/app.py"
TESTSSL = "simulators/web/testssl/app.py"
CARDS = "harness/card/control.py (worlds with cards only)"

ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/admin/state",
        "",
        "clock, directory (contacts held now), activated e-CPS (one per phone: national id, device, method, "
        "locked), outbox addresses",
        state,
    ),
    Route("GET", "/admin/clock", "", 'the world clock: `{"now": iso}`', clock_get),
    Route(
        "POST",
        "/admin/clock",
        '`{"advance": "+48h"}` or `{"set": iso}`',
        'moves the world clock; answers `{"now": iso}`',
        clock_post,
        model=ClockIn,
    ),
    Route(
        "POST",
        "/admin/directory",
        "a professional (above)",
        'adds or replaces a directory record; answers `{"national_id"}` (201)',
        directory_add,
        model=ProfessionalIn,
    ),
    Route(
        "POST",
        "/admin/directory/{national_id}/order-update",
        '`{"email", "mobile"}`',
        "contacts updated at the order: the directory holds them 48 h (pharmacists) or 72 h (doctors) later; "
        'answers `{"effective_at"}` (202)',
        order_update,
        model=ContactsIn,
    ),
    Route(
        "POST",
        "/admin/ecps",
        '`{"national_id", "password", "device"}`',
        "an e-CPS already activated for a professional of the directory, on the phone `device` (default "
        "`telephone-1`), with this 4-digit password (201); again with another `device`: a second phone, and a "
        "login pushes to each (the first answer withdraws the others' push)",
        ecps_activate,
        model=EcpsIn,
    ),
    Route(
        "GET",
        "/admin/outbox",
        "query `?to=<address>`",
        "messages delivered to that address by now (without `to`: every message sent)",
        outbox,
    ),
    Route(
        "POST",
        "/admin/faults",
        '`{"outbox_drop": [addresses], "outbox_delay": "10min"}`',
        "replaces the outbox faults: messages to those addresses are lost; every message arrives that late",
        faults,
        model=FaultsIn,
    ),
    Route("GET", "/boite/{address}", "", "a trainer's view of a mailbox or SMS inbox (HTML)", mailbox_page),
    Route(
        "GET",
        "/admin/openapi.json",
        "",
        "this API as OpenAPI 3.1 (generated from this table: the routes this world serves)",
        openapi_handler,
    ),
    Route("GET", "/admin/phones/{device}/pushes", "", "the phone's pending pushes", mounted_by=PUSH),
    Route(
        "GET",
        "/admin/pushes/{push}",
        "",
        "one push: its phone (`device`), its login (`request`, shared by the pushes to each phone) and its "
        "`status`: pending, approved, refused, expired, failed or withdrawn (another phone answered first)",
        mounted_by=PUSH,
    ),
    Route(
        "POST",
        "/admin/pushes/{push}/approve",
        '`{"password"}`',
        "answers the push as the phone, with the e-CPS password",
        mounted_by=PUSH,
    ),
    Route("POST", "/admin/pushes/{push}/refuse", "", "refuses the push as the phone", mounted_by=PUSH),
    Route(
        "POST",
        "/admin/phones/{device}/scan",
        '`{"token"}`',
        'the phone scans a wallet QR code; answers `{"code", "national_id"}`: the code the phone shows',
        mounted_by=PUSH,
    ),
    Route(
        "POST",
        "/admin/psc/clients",
        '`{"client_id", "client_secret", "redirect_uris": [...], "name", "require_pkce", '
        '"post_logout_redirect_uris": [...], "grant_types": [...]}`',
        "registers a Pro Santé Connect client (201); grant_types default to every grant PSC answers "
        "(authorization_code, refresh_token, CIBA)",
        mounted_by=PSC,
    ),
    Route(
        "POST",
        "/admin/psc/faults",
        '`{"client_id": …, "faults": [names]}` or `{"national_id": …, "faults": [names]}`',
        "replaces PSC's named faults for a client or a user (e.g. `access_denied`, `id_token_expired`)",
        mounted_by=PSC,
    ),
    Route(
        "POST",
        "/admin/sidep/accounts",
        '`{"login", "password" (8+), "kind": "liberal"|"salarie", "national_id", "first_name", "last_name"}`',
        "the CIS (liberal) or SI-DEP support (salaried: pending the ARS) creates a login/password account (201)",
        mounted_by=SIDEP,
    ),
    Route(
        "POST",
        "/admin/sidep/accounts/{login}/validate",
        "",
        "the ARS validates a salaried account",
        mounted_by=SIDEP,
    ),
    Route(
        "GET",
        "/admin/testssl",
        "",
        '`{"tls_max": "1.2"}`: the highest TLS version Test SSL accepts',
        mounted_by=TESTSSL,
    ),
    Route(
        "POST",
        "/admin/testssl",
        '`{"tls_max": "1.3"}` or `"1.2"`',
        "the next handshakes obey it (1.3: guide path G6-06)",
        mounted_by=TESTSSL,
    ),
    Route(
        "GET",
        "/admin/cards",
        "",
        "every reader's status (presence, certificate variants, PIN/PUK counters, APDU count, last removal)",
        mounted_by=CARDS,
    ),
    Route(
        "POST",
        "/admin/cards/{reader}/insert",
        '`{"profile": name or path}`',
        "inserts a card of that profile; answers the reader's status",
        mounted_by=CARDS,
    ),
    Route(
        "POST", "/admin/cards/{reader}/remove", "", "removes the card; answers the reader's status", mounted_by=CARDS
    ),
    Route("POST", "/admin/cards/{reader}/reset", "", "resets the card; answers the reader's status", mounted_by=CARDS),
    Route(
        "POST",
        "/admin/cards/{reader}/faults",
        "the `faults` fields of a card profile (`mute`, `status_words`…)",
        "replaces the card's faults; answers the reader's status",
        mounted_by=CARDS,
    ),
    Route("GET", "/admin/cards/{reader}/log", "", "the decoded, PIN-masked APDU log lines", mounted_by=CARDS),
)


def make_app(world: WorldState, wallet: WalletState) -> web.Application:
    app = web.Application(client_max_size=64 * 1024, middlewares=[local_only])
    app[STATE_KEY] = world
    set_state(app, world, wallet)  # the phone's API, mounted under /admin
    for route in ROUTES:
        if route.handler is None:
            continue
        if route.method == "GET":
            app.router.add_get(route.path, route.handler)  # and HEAD, as before
        else:
            app.router.add_route(route.method, route.path, route.handler)
    add_api_routes(app, "/admin")
    return app
