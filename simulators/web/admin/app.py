"""The world's admin API (plain HTTP on loopback): what scenarios, tests and trainers drive.

| method | path | body | does |
|---|---|---|---|
| GET | /admin/state | | clock, directory (contacts held now), activated e-CPS, outbox addresses |
| GET | /admin/clock | | ``{"now": iso}`` |
| POST | /admin/clock | ``{"advance": "+48h"}`` or ``{"set": iso}`` | moves the world clock |
| POST | /admin/directory | a professional (below) | adds or replaces a directory record |
| POST | /admin/directory/{national_id}/order-update | ``{"email", "mobile"}`` | contacts updated at the order |
| GET | /admin/outbox | ``?to=<address>`` | messages delivered there by now (without ``to``: all sent) |
| POST | /admin/faults | ``{"outbox_drop": [addresses], "outbox_delay": "10min"}`` | switches the outbox faults |
| GET | /admin/phones/{device}/pushes | | the phone's pending pushes |
| POST | /admin/pushes/{id}/approve | ``{"password"}`` | answer as the phone |
| POST | /admin/pushes/{id}/refuse | | answer as the phone |
| POST | /admin/phones/{device}/scan | ``{"token"}`` | the phone scans a wallet QR code |
| GET | /admin/testssl | | ``{"tls_max": "1.2"}``: the highest TLS version Test SSL accepts |
| POST | /admin/testssl | ``{"tls_max": "1.3"}`` or ``"1.2"`` | the next handshakes obey it (1.3: guide path G6-06) |
| GET | /boite/{address} | | a trainer's view of a mailbox or SMS inbox (HTML) |

A professional: ``{"civility": "M"|"MME", "first_name", "last_name", "profession": "10",
"rpps": "…" | "adeli": "…", "email": null|"…", "mobile": null|"…"}``. An order update reaches the
directory 48 h (pharmacists) or 72 h (doctors) later. Errors are 4xx JSON
``{"error": "<what is wrong>"}``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simulators.web import page as p
from simulators.web.jsonapi import error, read_object
from simulators.web.push.app import add_api_routes, set_state
from simulators.web.wallet.rules import WalletState
from simulators.world.clock import parse_delta
from simulators.world.directory import Contacts, DirectoryError, Professional
from simulators.world.state import WorldState

STATE_KEY = web.AppKey("admin_world", WorldState)


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


class ClockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    advance: str | None = None
    set: dt.datetime | None = None


class FaultsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outbox_drop: list[str] = Field(default_factory=list)
    outbox_delay: str = "0s"


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
    rows = "".join(
        f"<tr><td>{p.text(m.sent_at.strftime('%d/%m/%Y %H:%M'))}</td><td>{p.text(m.channel.value)}</td>"
        f"<td>{p.text(m.subject)}</td><td>{p.text(m.body)}</td></tr>"
        for m in messages
    )
    body = (
        "<table><tr><th>Reçu le</th><th>Canal</th><th>Objet</th><th>Message</th></tr>" + rows + "</table>"
        if messages
        else p.paragraph("Aucun message reçu.")
    )
    return p.page("boite-reception", f"Messages reçus par {address}", body, site="Messagerie")


def make_app(world: WorldState, wallet: WalletState) -> web.Application:
    app = web.Application(client_max_size=64 * 1024)
    app[STATE_KEY] = world
    set_state(app, world, wallet)  # the phone's API, mounted under /admin
    app.router.add_get("/admin/state", state)
    app.router.add_get("/admin/clock", clock_get)
    app.router.add_post("/admin/clock", clock_post)
    app.router.add_post("/admin/directory", directory_add)
    app.router.add_post("/admin/directory/{national_id}/order-update", order_update)
    app.router.add_get("/admin/outbox", outbox)
    app.router.add_post("/admin/faults", faults)
    app.router.add_get("/boite/{address}", mailbox_page)
    add_api_routes(app, "/admin")
    return app
