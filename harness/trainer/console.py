"""The trainer console's web application: one French page and a JSON API under ``/api/``.

``make_app`` builds it around a ``Live`` session (``live.py``); ``cps-harness serve`` and
``cps-harness trainer`` run it on a loopback port. The page (``templates/console.html``, one script
and one stylesheet in ``static/``) lists the guide's paths by section; every button is a POST to the
API, whose answer is the whole state the page draws (``describe.state``).

Like a world's admin API, the console drives worlds with no credentials, so only local programs and
its own page may use it: the admin API's guard (``simulators/web/guard.py``: Host, Origin, JSON
POSTs) runs first, its refusals reworded in French for the page. A refused operation (another one
runs: 409) and bad input (400, 404) are JSON errors with a French message; nothing answers with a
traceback.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from jinja2 import Environment, PackageLoader, select_autoescape

from harness.trainer.describe import state
from harness.trainer.live import DRIVERS, Live
from harness.trainer.session import Op, Refused
from harness.world.sites import LOOPBACK, RunningSite, start_site
from simulators.web.guard import refusal

log = logging.getLogger(__name__)
LIVE = web.AppKey("live", Live)
STATIC = Path(__file__).with_name("static")
TEMPLATES = Environment(loader=PackageLoader("harness.trainer", "templates"), autoescape=select_autoescape())
REFUSALS = {
    403: "Seule la page de la console, ouverte sur ce poste, peut piloter le monde.",
    415: "Les requêtes de la console sont en JSON (Content-Type: application/json).",
}
"""The guard's refusals, in French (its English reason follows as ``detail``)."""
DRIVER_NAMES = {"protocol": "Protocole (rapide, sans navigateur)", "chromium": "Chromium (le vrai navigateur)"}


def french_error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


@web.middleware
async def guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The admin API's guard (Host, Origin, JSON POSTs), then French errors for whatever goes wrong."""
    refused = refusal(request)
    if refused is not None:
        detail = json.loads(refused.text or "{}").get("error", "")
        return french_error(refused.status, REFUSALS.get(refused.status, "Requête refusée."), detail=detail)
    try:
        return await handler(request)
    except Refused as exc:
        return french_error(exc.status, exc.message)
    except web.HTTPNotFound:
        return french_error(404, f"Adresse inconnue : {request.path}")
    except web.HTTPMethodNotAllowed as exc:
        return french_error(405, f"{request.method} n'est pas accepté ici ({', '.join(sorted(exc.allowed_methods))}).")
    except web.HTTPException:
        raise
    except Exception:  # a bug of the console itself: logged with its traceback, reported without
        log.exception("trainer console: %s %s", request.method, request.path)
        return french_error(
            500, "Erreur interne de la console (un défaut de cps-harness) : voir le journal du serveur."
        )


async def body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object (no body: ``{}``), or a French 400."""
    raw = await request.read()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Refused("Le corps de la requête n'est pas du JSON valide.", 400) from None
    if not isinstance(data, dict):
        raise Refused("Le corps de la requête doit être un objet JSON.", 400)
    return data


async def page(request: web.Request) -> web.Response:
    live = request.app[LIVE]
    chosen = request.query.get("parcours", "")
    html = TEMPLATES.get_template("console.html").render(
        sections=live.catalogue.sections(), drivers=DRIVER_NAMES,
        chosen=chosen if chosen in live.catalogue.scenarios else "",
    )  # fmt: skip
    return web.Response(text=html, content_type="text/html")


async def get_state(request: web.Request) -> web.Response:
    return web.json_response(state(request.app[LIVE]))


async def paths(request: web.Request) -> web.Response:
    sections = request.app[LIVE].catalogue.sections()
    return web.json_response(
        [
            {"guide": guide, "paths": [{"id": s.id, "title": s.title, "steps": len(s.steps)} for s in scenarios]}
            for guide, scenarios in sections.items()
        ]
    )


def operation(op: Op) -> Handler:
    """A POST that carries out ``op`` and answers with the new state."""

    async def handle(request: web.Request) -> web.StreamResponse:
        data, live = await body(request), request.app[LIVE]
        kwargs: dict[str, Any] = {}
        if op is Op.START:
            scenario, driver = data.get("scenario"), data.get("driver", "protocol")
            if not isinstance(scenario, str) or not scenario:
                raise Refused("Choisissez un parcours (champ « scenario »).", 400)
            if driver not in DRIVERS:
                raise Refused("Choisissez le navigateur : « protocol » ou « chromium ».", 400)
            kwargs = {"scenario": scenario, "driver": driver}
        elif op is Op.GOTO:
            target = data.get("step")
            if not isinstance(target, int) or isinstance(target, bool):
                raise Refused("Indiquez le numéro de l'étape (champ « step », un nombre).", 400)
            kwargs = {"target": target}
        elif op is Op.SWITCH:
            switch = data.get("switch")
            if not isinstance(switch, str):
                raise Refused("Indiquez la panne (champ « switch »).", 400)
            kwargs = {"switch": switch}
        await live.operate(op, **kwargs)
        return web.json_response(state(live))

    return handle


async def picture(request: web.Request) -> web.Response:
    """The professional's screen after a step (the last screenshot of that step)."""
    live = request.app[LIVE]
    try:
        number = int(request.match_info["number"])
    except ValueError:
        raise Refused("Image inconnue.", 404) from None
    if not 1 <= number <= len(live.shown) or not live.shown[number - 1].event.screenshots:
        raise Refused("Cette image n'existe plus (le parcours a été rejoué).", 404)
    return web.Response(
        body=live.shown[number - 1].event.screenshots[-1], content_type="image/png",
        headers={"Cache-Control": "no-store"},
    )  # fmt: skip


def make_app(live: Live) -> web.Application:
    """The console around ``live``; its ``on_cleanup`` stops the world held."""
    app = web.Application(middlewares=[guarded])
    app[LIVE] = live
    app.router.add_get("/", page)
    app.router.add_get("/api/state", get_state)
    app.router.add_get("/api/paths", paths)
    app.router.add_get(r"/api/view/{number}.png", picture)
    for op in Op:
        app.router.add_post(f"/api/{op.value}", operation(op))
    app.router.add_static("/static/", STATIC)

    async def stop(app: web.Application) -> None:
        await app[LIVE].close()

    app.on_cleanup.append(stop)
    return app


async def start_console(live: Live, *, port: int = 0) -> RunningSite:
    """The console on a loopback port (0: the kernel picks one); always loopback, whatever a world binds:
    it drives worlds without credentials."""
    return await start_site("trainer", make_app(live), host=LOOPBACK, port=port)


def console_url(site: RunningSite, scenario: str | None = None) -> str:
    return f"{site.url}/" + (f"?parcours={scenario}" if scenario else "")
