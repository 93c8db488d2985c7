"""The e-CPS push backend and the virtual phone (``push.esw.esante.gouv.fr``).

A trainer opens ``/telephone/<device>`` beside the browser, one page per phone, drawn as a
phone-sized view of the e-CPS app (``templates/phone.html``): it lists the device's pending pushes
(approve with the e-CPS code, or refuse) and its latest others with their state (expired, withdrawn
because another phone answered…), takes the wallet's QR code (its text typed by hand: the
scenarios' phone reads the image), and shows the code to type on the computer after a scan.
Scripts use the JSON API under ``/api``: ``GET /api/phones/<device>/pushes``,
``POST /api/pushes/<id>/approve {"password"}``, ``POST /api/pushes/<id>/refuse``,
``GET /api/pushes/<id>``, ``POST /api/phones/<device>/scan {"token"}`` (the token, or the QR code's whole text).
"""

from __future__ import annotations

from aiohttp import web

from simulators.web.forms import form_fields
from simulators.web.jsonapi import error, read_object
from simulators.web.page import render
from simulators.web.screens import Screen
from simulators.web.wallet.rules import WalletState, phone_scans, token_from_qr
from simulators.web.wording import Refusal
from simulators.world.ecps import EcpsError, PushStatus
from simulators.world.state import WorldState

WORLD_KEY = web.AppKey("world", WorldState)
WALLET_KEY = web.AppKey("wallet", WalletState)

STATUS_BY_CODE = {"unknown-push": 404, "wrong-password": 403, "locked": 423}


def _device(request: web.Request) -> str:
    device = request.match_info["device"]
    if not device.replace("-", "").isalnum() or len(device) > 64:
        raise error(web.HTTPBadRequest, "device: letters, digits and '-' only, 64 at most")
    return device


def _error(exc: EcpsError) -> web.Response:
    return web.json_response({"error": exc.code, "message": str(exc)}, status=STATUS_BY_CODE.get(exc.code, 409))


# -- JSON API ---------------------------------------------------------------------------------------
async def api_pending(request: web.Request) -> web.Response:
    world = request.app[WORLD_KEY]
    pushes = world.ecps.pending(_device(request), world.now())
    return web.json_response([push.as_json() for push in pushes])


async def api_push(request: web.Request) -> web.Response:
    world = request.app[WORLD_KEY]
    try:
        return web.json_response(world.ecps.push(request.match_info["push"], world.now()).as_json())
    except EcpsError as exc:
        return _error(exc)


async def api_approve(request: web.Request) -> web.Response:
    world = request.app[WORLD_KEY]
    password = (await read_object(request)).get("password")
    if not isinstance(password, str):
        raise error(web.HTTPBadRequest, "password: a string is required")
    try:
        return web.json_response(world.ecps.approve(request.match_info["push"], password, world.now()).as_json())
    except EcpsError as exc:
        return _error(exc)


async def api_refuse(request: web.Request) -> web.Response:
    world = request.app[WORLD_KEY]
    try:
        return web.json_response(world.ecps.refuse(request.match_info["push"], world.now()).as_json())
    except EcpsError as exc:
        return _error(exc)


async def api_scan(request: web.Request) -> web.Response:
    device = _device(request)
    token = (await read_object(request)).get("token")
    if not isinstance(token, str):
        raise error(web.HTTPBadRequest, "token: a string is required")
    try:
        activation = phone_scans(request.app[WORLD_KEY], request.app[WALLET_KEY], token_from_qr(token), device)
    except Refusal as refusal:
        return web.json_response({"error": refusal.screen, "message": refusal.message}, status=404)
    return web.json_response({"code": activation.confirmation_code, "national_id": activation.national_id})


# -- the phone's screen ---------------------------------------------------------------------------------
STATES = {
    PushStatus.APPROVED: "acceptée",
    PushStatus.REFUSED: "refusée",
    PushStatus.EXPIRED: "expirée",
    PushStatus.FAILED: "échouée (e-CPS bloquée)",
    PushStatus.WITHDRAWN: "retirée (traitée sur un autre appareil)",
}
"""How the phone names a push that no longer waits for an answer."""
HISTORY = 10
"""Answered, expired and withdrawn pushes the phone still lists (the latest ones)."""


async def phone(request: web.Request, message: str = "", css: str = "") -> web.Response:
    """One device's e-CPS app: its e-CPS, the pushes waiting for an answer, the latest others with their state,
    the code to type on the computer after a scan, the QR code scanner; ``message`` is an answer's result."""
    device = _device(request)
    world = request.app[WORLD_KEY]
    now = world.now()
    pushes = world.ecps.on_device(device, now)
    return render(
        "phone.html", Screen.TELEPHONE, title=f"Téléphone {device}", device=device, message=message, css=css,
        clock=now.strftime("%H:%M"), held=[e for e in world.ecps.all() if e.device == device],
        waiting=[push for push in pushes if push.status is PushStatus.PENDING],
        past=list(reversed([push for push in pushes if push.status is not PushStatus.PENDING][-HISTORY:])),
        code=request.app[WALLET_KEY].code_on_phone(device, now), states=STATES,
    )  # fmt: skip


async def phone_get(request: web.Request) -> web.Response:
    return await phone(request)


def _own_push(request: web.Request) -> str:
    """The push id of the URL, if it was sent to the URL's device (a phone answers its own pushes only)."""
    world, push_id = request.app[WORLD_KEY], request.match_info["push"]
    if world.ecps.push(push_id, world.now()).device != _device(request):
        raise EcpsError("unknown-push", f"demande {push_id!r} inconnue sur ce téléphone")
    return push_id


async def phone_approve(request: web.Request) -> web.Response:
    world = request.app[WORLD_KEY]
    fields = await form_fields(request, "code")
    try:
        world.ecps.approve(_own_push(request), fields["code"], world.now())
    except EcpsError as exc:
        return await phone(request, str(exc), "error")
    return await phone(request, "Connexion acceptée.", "ok")


async def phone_refuse(request: web.Request) -> web.Response:
    world = request.app[WORLD_KEY]
    try:
        world.ecps.refuse(_own_push(request), world.now())
    except EcpsError as exc:
        return await phone(request, str(exc), "error")
    return await phone(request, "Connexion refusée.", "ok")


async def phone_scan(request: web.Request) -> web.Response:
    device = _device(request)
    fields = await form_fields(request, "token")
    try:
        phone_scans(request.app[WORLD_KEY], request.app[WALLET_KEY], token_from_qr(fields["token"]), device)
    except Refusal as refusal:
        return await phone(request, refusal.message, "error")
    return await phone(request, "QR code scanné.", "ok")


def add_api_routes(app: web.Application, prefix: str) -> None:
    """The phone's JSON API (also mounted by the admin API, to act as the phone)."""
    app.router.add_get(prefix + "/phones/{device}/pushes", api_pending)
    app.router.add_post(prefix + "/phones/{device}/scan", api_scan)
    app.router.add_get(prefix + "/pushes/{push}", api_push)
    app.router.add_post(prefix + "/pushes/{push}/approve", api_approve)
    app.router.add_post(prefix + "/pushes/{push}/refuse", api_refuse)


def set_state(app: web.Application, world: WorldState, wallet: WalletState) -> None:
    app[WORLD_KEY] = world
    app[WALLET_KEY] = wallet


def make_app(world: WorldState, wallet: WalletState) -> web.Application:
    app = web.Application(client_max_size=4096)
    set_state(app, world, wallet)
    add_api_routes(app, "/api")
    app.router.add_get("/telephone/{device}", phone_get)
    app.router.add_post("/telephone/{device}/demandes/{push}/accepter", phone_approve)
    app.router.add_post("/telephone/{device}/demandes/{push}/refuser", phone_refuse)
    app.router.add_post("/telephone/{device}/scanner", phone_scan)
    return app
